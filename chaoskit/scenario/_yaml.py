"""Reading a scenario file: the YAML nodes, ``${VAR}`` substituted in them, and the line of every field.

Scalars follow YAML 1.2's core schema, not PyYAML's 1.1 one, so ``22:00`` stays a string (1.1
reads it as the number 1320), ``no`` stays a string and ``010`` is ten. Variables are replaced
in the nodes before anything is built from them, so every line number stays that of the file;
a plain scalar that is one ``${VAR}`` takes the type of its value (``users: ${USERS:-10}`` is a
number), a quoted one stays a string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from ._problems import FieldPath, Problem, format_path

__all__ = ["Document", "read"]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core implicit types (no sexagesimals, dates or yes/no)."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _regexp, _first in (
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (_FLOAT, r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     "-+0123456789."),
    (_MERGE, r"^<<$", "<"),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_INNER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.S)


@dataclass
class Document:
    """A scenario file's data (plain YAML values), the line of each field, and what went wrong reading it."""

    file: str
    data: object = None
    lines: dict[FieldPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: FieldPath) -> int:
        """The line of ``path``'s key or item, or of the nearest field above it that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: FieldPath, message: str, suggestion: str | None = None) -> Problem:
        """A problem at ``path``, with its line."""
        return Problem(self.file, self.line(path), format_path(path), message, suggestion)


def read(text: str, file: str, env: Mapping[str, str]) -> Document:
    """The document in ``text`` with variables from ``env`` (then the file's ``variables``) replaced."""
    doc = Document(file)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or "invalid YAML"
        if exc.context and exc.context_mark is not None:
            message += f" ({exc.context} on line {exc.context_mark.line + 1})"
        line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        if "but got '{'" in message and "${" in line:
            message += "; inside [...] or {...}, quote a value that uses ${VAR}"
        doc.problems.append(Problem(file, mark.line + 1 if mark else 1, "", message))
        return doc
    except yaml.YAMLError as exc:  # a reader error: bytes that are not text
        doc.problems.append(Problem(file, 1, "", str(exc)))
        return doc
    if root is None:
        doc.problems.append(Problem(file, 1, "", "the file is empty; a scenario needs at least title, target and method"))
        return doc
    _Builder(doc, env).build(root)
    return doc


class _Builder:
    """Walks the node tree once: flattens merges, substitutes variables, records lines, builds values."""

    def __init__(self, doc: Document, env: Mapping[str, str]) -> None:
        self.doc = doc
        self.env = env
        self.declared: dict[str, str] = {}
        self.substituted: set[int] = set()  # an aliased node is one node: substitute it once
        self.own: dict[int, set[int]] = {}  # a mapping's own key nodes, before merging
        self.loader = _Loader("")

    def build(self, root: yaml.Node) -> None:
        self.doc.lines[()] = root.start_mark.line + 1
        if isinstance(root, yaml.MappingNode):
            self._flatten(root, ())
            for key, value in root.value:
                if isinstance(key, yaml.ScalarNode) and key.value == "variables" and isinstance(value, yaml.MappingNode):
                    self._declare(value)
        self.doc.data = self._value(root, (), set())

    def _declare(self, node: yaml.MappingNode) -> None:
        """The ``variables`` section's defaults; they may use the environment themselves."""
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode):
                path: FieldPath = ("variables", key.value)
                self.doc.lines[path] = key.start_mark.line + 1
                self._substitute(value, path)
                if value.tag != _NULL:
                    self.declared[key.value] = value.value

    def _flatten(self, node: yaml.MappingNode, path: FieldPath) -> None:
        """Merge ``<<`` keys in; the node's own keys are remembered, as they override merged ones."""
        if id(node) in self.own:
            return
        self.own[id(node)] = {id(k) for k, _ in node.value if k.tag != _MERGE}
        try:
            self.loader.flatten_mapping(node)
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark
            line = mark.line + 1 if mark else node.start_mark.line + 1
            self.doc.problems.append(Problem(self.doc.file, line, format_path(path), exc.problem or "bad merge key"))
            node.value = [(k, v) for k, v in node.value if k.tag != _MERGE]

    def _value(self, node: yaml.Node, path: FieldPath, stack: set[int]) -> object:
        if id(node) in stack:
            self.doc.problems.append(self.doc.problem(path, "an alias refers to a value that contains it"))
            return None
        if isinstance(node, yaml.ScalarNode):
            self._substitute(node, path)
            return self._scalar(node, path)
        stack = stack | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.doc.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self._value(item, (*path, index), stack))
            return items
        assert isinstance(node, yaml.MappingNode)
        self._flatten(node, path)
        out: dict[str, object] = {}
        firsts: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.doc.problems.append(Problem(
                    self.doc.file, key_node.start_mark.line + 1, format_path(path), "a key must be a plain name, not a list or mapping"))
                continue
            key = key_node.value
            where = (*path, key)
            if key in out and id(key_node) not in self.own[id(node)]:
                continue  # merged in, and overridden by the node's own key
            if key in out and id(firsts[key]) in self.own[id(node)]:
                self.doc.problems.append(Problem(
                    self.doc.file, key_node.start_mark.line + 1, format_path(where),
                    f"duplicate field {key!r} (first on line {self.doc.lines[where]})"))
                continue
            firsts[key] = key_node
            self.doc.lines[where] = key_node.start_mark.line + 1
            out[key] = self._value(value_node, where, stack)
        return out

    def _substitute(self, node: yaml.ScalarNode, path: FieldPath) -> None:
        if id(node) in self.substituted or "$" not in node.value:
            return
        self.substituted.add(id(node))
        whole = False
        parts: list[str] = []
        position = 0
        for m in _REFERENCE.finditer(node.value):
            parts.append(node.value[position:m.start()])
            position = m.end()
            if m.group() == "$${":
                parts.append("${")
                continue
            inner = m.group(1)
            found = _INNER.match(inner) if inner is not None else None
            if found is None or "${" in (found.group(2) or ""):
                shown = m.group() if inner is not None else node.value[m.start():]
                self.doc.problems.append(self.doc.problem(
                    path, f"bad variable reference {shown!r}: write ${{NAME}} or ${{NAME:-default}} (and $${{ for a literal ${{)"))
                return
            value = self._lookup(found.group(1), found.group(2))
            if value is None:
                self.doc.problems.append(self.doc.problem(
                    path, f"variable {found.group(1)!r} is not set and has no default: set it in the environment, "
                    f"give a default (${{{found.group(1)}:-value}}) or declare it under variables"))
                return
            parts.append(value)
            whole = m.span() == (0, len(node.value))
        parts.append(node.value[position:])
        node.value = "".join(parts)
        if whole and node.style is None and node.value:
            node.tag = self.loader.resolve(yaml.ScalarNode, node.value, (True, False))
        elif node.tag != _STR and node.style is None:
            node.tag = _STR

    def _lookup(self, name: str, default: str | None) -> str | None:
        """The environment (unless empty with a default given), then ``variables``, then the inline default."""
        value = self.env.get(name)
        if value is not None and (value != "" or default is None):
            return value
        if name in self.declared:
            return self.declared[name]
        return default if default is not None else value

    def _scalar(self, node: yaml.ScalarNode, path: FieldPath) -> object:
        text = node.value
        try:
            if node.tag == _STR:
                return text
            if node.tag == _NULL:
                return None
            if node.tag == _BOOL:
                if text.lower() not in ("true", "false"):
                    raise ValueError
                return text.lower() == "true"
            if node.tag == _INT:
                if text.startswith(("0x", "0o")):
                    return int(text[2:], 16 if text[1] == "x" else 8)
                return int(text)
            if node.tag == _FLOAT:
                lowered = text.lower().lstrip("+")
                if lowered in (".inf", "-.inf"):
                    return -math.inf if lowered.startswith("-") else math.inf
                return math.nan if lowered == ".nan" else float(text)
        except ValueError:
            self.doc.problems.append(self.doc.problem(path, f"{text!r} is not a valid {node.tag.rsplit(':', 1)[-1]}"))
            return text
        self.doc.problems.append(self.doc.problem(path, f"unsupported YAML tag {node.tag!r}"))
        return text

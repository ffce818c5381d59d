"""Structured output that parses and is wrong: valid JSON that breaks its own JSON Schema in one place.

``violate(schema, rng)`` makes an instance of ``schema`` (or takes the given one) and breaks it
one way: a required field missing, a value of the wrong JSON type, a value outside an ``enum``
(or ``const``), or a field the schema does not define. The kind and the place are drawn with the
session's seeded RNG unless ``kind=`` and ``path=`` say them, and the result says what was done,
so the journal can name it and a test can pin it.

Only what a schema says is used: ``type``, ``properties``, ``required``, ``items``, ``enum``,
``const``, ``anyOf`` / ``oneOf`` / ``allOf`` (the first branch), ``$ref`` into ``$defs`` /
``definitions``. Paths are dotted with list indexes: ``customer.email``, ``items[0].sku``.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ChaosConfigError

__all__ = ["KINDS", "Violation", "instance", "violate"]

#: The ways to break a schema, in the order they are documented.
KINDS: tuple[str, ...] = (
    "missing_required",  # a field the schema requires is not there
    "wrong_type",  # a value of a JSON type the schema does not allow ("3" for an integer)
    "enum_outside",  # a value the schema's enum (or const) does not list
    "extra_field",  # a field the schema does not define
)
#: Names an extra field may take, the first one the object does not define.
_EXTRA = ("confidence", "notes", "source", "extra")
_DEPTH = 12

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Violation:
    """What one violation did: the kind, where, and a one-line description for the journal."""

    kind: str
    path: str
    description: str


def _fmt(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "$"


class _Schema:
    """A schema with its root, so ``$ref`` resolves."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, node: Any, depth: int = 0) -> dict[str, Any]:
        """``node`` with ``$ref`` followed and the first branch of ``allOf`` / ``anyOf`` / ``oneOf`` merged in
        (a nullable ``anyOf`` gives its non-null branch)."""
        if not isinstance(node, Mapping) or depth > _DEPTH:
            return {}
        node = dict(node)
        ref = node.pop("$ref", None)
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, Mapping) else None
            node = {**self.resolve(target, depth + 1), **node}
        kind = node.get("type")  # Gemini's responseSchema spells types in capitals: OBJECT, STRING
        if isinstance(kind, str):
            node["type"] = kind.lower()
        elif isinstance(kind, list):
            node["type"] = [k.lower() if isinstance(k, str) else k for k in kind]
        for key in ("allOf", "anyOf", "oneOf"):
            branches = node.pop(key, None)
            if isinstance(branches, list) and branches:
                usable = [b for b in branches if self.resolve(b, depth + 1).get("type") != "null"] or branches
                node = {**self.resolve(usable[0], depth + 1), **node}
        return node

    def types(self, node: Any) -> set[str]:
        """The JSON types a value of ``node`` may have (every branch of a union counted); empty: any."""
        node_map = node if isinstance(node, Mapping) else {}
        out: set[str] = set()
        for key in ("anyOf", "oneOf"):
            for branch in node_map.get(key) or ():
                out |= self.types(branch)
        resolved = self.resolve({k: v for k, v in node_map.items() if k not in ("anyOf", "oneOf")})
        kind = resolved.get("type")
        if isinstance(kind, str):
            out.add(kind)
        elif isinstance(kind, list):
            out |= {k for k in kind if isinstance(k, str)}
        for value in resolved.get("enum") or ():
            out.add(_json_type(value))
        if "const" in resolved:
            out.add(_json_type(resolved["const"]))
        if "properties" in resolved and not out:
            out.add("object")
        return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


#: A value of each JSON type, for a value of the wrong type: the first one the schema does not allow.
_WRONG: tuple[tuple[str, Any], ...] = (
    ("string", "unknown"), ("integer", 3), ("boolean", True), ("array", []), ("object", {}), ("null", None),
)


def instance(schema: Mapping[str, Any]) -> Any:
    """A value that ``schema`` accepts: every property present, the first enum value, plain samples."""
    return _make(_Schema(schema), schema, "value", 0)


def _make(s: _Schema, node: Any, name: str, depth: int) -> Any:
    node = s.resolve(node)
    if depth > _DEPTH:
        return None
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in node else "array" if "items" in node else "string"
    if kind == "object":
        return {key: _make(s, child, key, depth + 1) for key, child in (node.get("properties") or {}).items()}
    if kind == "array":
        return [_make(s, node.get("items") or {}, name, depth + 1)]
    return {"string": f"{name} 1", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(str(kind), f"{name} 1")


def _sites(s: _Schema, node: Any, value: Any, path: Path, depth: int = 0) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """(kind, path, schema at path) for every place ``value`` can be broken, parents first."""
    if depth > _DEPTH:
        return
    resolved = s.resolve(node)
    if path and s.types(node):
        yield "wrong_type", path, dict(node)  # unresolved: every branch of a union counts
    if path and (resolved.get("enum") or "const" in resolved):
        yield "enum_outside", path, resolved
    if isinstance(value, dict):
        properties = resolved.get("properties") or {}
        if properties:
            yield "extra_field", path, resolved
        for key in resolved.get("required") or ():
            if key in value:
                yield "missing_required", (*path, key), resolved
        for key, child in value.items():
            if key in properties:
                yield from _sites(s, properties[key], child, (*path, key), depth + 1)
    elif isinstance(value, list) and value and isinstance(resolved.get("items"), Mapping):
        yield from _sites(s, resolved["items"], value[0], (*path, 0), depth + 1)


def violate(
    schema: Mapping[str, Any], rng: random.Random, *, value: Any = None, kind: str | None = None,
    path: str | None = None, where: str = "the answer",
) -> tuple[Any, Violation]:
    """``value`` (default: :func:`instance` of ``schema``) broken in one place; the kind and the path
    are drawn with ``rng`` among those the schema allows unless given.

    A kind or path the schema cannot break (no enum anywhere, no such field) is a
    :class:`ChaosConfigError` that names what can be broken.
    """
    if kind is not None and kind not in KINDS:
        raise ChaosConfigError(f"kind={kind!r} is not a schema violation; the kinds are {', '.join(KINDS)}")
    s = _Schema(schema)
    body = copy.deepcopy(value) if value is not None else instance(schema)
    sites = [site for site in _sites(s, schema, body, ()) if (kind is None or site[0] == kind)
             and (path is None or _fmt(site[1]) == path)]
    if not sites:
        possible = sorted({f"{k} at {_fmt(p)}" for k, p, _ in _sites(s, schema, body, ())})
        asked = " ".join(part for part in (f"kind={kind!r}" if kind else "", f"path={path!r}" if path else "") if part)
        raise ChaosConfigError(
            f"{where}: nothing to break{' for ' + asked if asked else ''}; its schema allows "
            + ("; ".join(possible) if possible else "no violation (it defines no fields, types or enums)")
        )
    if kind is None:  # the kind first, so a schema with many fields does not drown the rare kinds
        kind = rng.choice(sorted({k for k, _, _ in sites}, key=KINDS.index))
    chosen, at, node = rng.choice([site for site in sites if site[0] == kind])
    return _apply(s, body, chosen, at, node)


def _apply(s: _Schema, body: Any, kind: str, at: Path, node: dict[str, Any]) -> tuple[Any, Violation]:
    if kind == "missing_required":
        parent = _get(body, at[:-1])
        del parent[at[-1]]
        return body, Violation(kind, _fmt(at), f"missing_required: removed the required field {_fmt(at)}")
    if kind == "extra_field":
        parent = _get(body, at)
        name = next((n for n in _EXTRA if n not in (node.get("properties") or {}) and n not in parent),
                    f"extra_{len(parent)}")
        parent[name] = 0.42 if name == "confidence" else "added by the model"
        where = _fmt((*at, name))
        return body, Violation(kind, where, f"extra_field: added {where}, which the schema does not define")
    old = _get(body, at)
    if kind == "wrong_type":
        allowed = s.types(node)
        if "number" in allowed:
            allowed = allowed | {"integer"}
        new = next(v for t, v in _WRONG if t not in allowed)
        kind_of = _json_type(new)
        shown = f"{'an' if kind_of[0] in 'aeiou' else 'a'} {kind_of} ({_short(new)})"
        description = f"wrong_type: {_fmt(at)} is {shown} where the schema allows {' or '.join(sorted(allowed))}"
    else:
        listed = list(node.get("enum") or [node.get("const")])
        new = _outside(old, listed)
        description = f"enum_outside: {_fmt(at)} is {_short(new)}, not one of {', '.join(_short(v) for v in listed)}"
    body = _set(body, at, new)
    return body, Violation(kind, _fmt(at), description)


def _outside(old: Any, listed: list[Any]) -> Any:
    """A value like ``old`` that ``listed`` does not hold: a code-like string changed, a number moved."""
    if isinstance(old, str) or all(isinstance(v, str) for v in listed):
        base = str(old if old is not None else listed[0])
        for candidate in (base.upper(), base.replace("_", "-"), f"{base}_other", "unknown"):
            if candidate not in listed:
                return candidate
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        return max(v for v in listed if isinstance(v, (int, float)) and not isinstance(v, bool)) + 1
    return "unknown" if "unknown" not in listed else "unlisted"


def _short(value: Any) -> str:
    return repr(value) if not isinstance(value, (dict, list)) else ("{}" if isinstance(value, dict) else "[]")


def _get(body: Any, path: Path) -> Any:
    for part in path:
        body = body[part]
    return body


def _set(body: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    _get(body, path[:-1])[path[-1]] = new
    return body

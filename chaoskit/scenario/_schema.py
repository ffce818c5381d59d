"""The scenario JSON Schema: where it ships, and its errors turned into problems with lines and suggestions.

The schema (``scenarios/scenario.schema.json``, in the wheel ``chaoskit/scenarios/``) is the one
description of a scenario file's shape; editors complete from it and ``chaoskit validate``
checks with it. ``errorMessage`` (a keyword VS Code's YAML and JSON extensions also show)
gives a friendlier message for a pattern, a type or a set of alternatives.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._errors import ChaosConfigError
from ._problems import FieldPath, Problem, format_path
from ._yaml import Document

__all__ = ["schema", "schema_path", "schema_problems", "scenarios_dir", "shipped_scenarios"]

_YAML_TYPES = {
    "object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
    "integer": "a whole number", "boolean": "true or false", "null": "null",
}
#: Keywords whose message a schema's ``errorMessage`` replaces.
_CUSTOMIZABLE = {"type", "pattern", "minimum", "maximum", "exclusiveMinimum", "oneOf", "anyOf", "minProperties"}


def scenarios_dir() -> Path:
    """The shipped scenarios' folder: inside the installed package, else the source tree's ``scenarios/``."""
    from importlib import resources

    packaged = resources.files("chaoskit") / "scenarios"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent.parent / "scenarios"


def schema_path() -> Path:
    """The scenario JSON Schema file."""
    return scenarios_dir() / "scenario.schema.json"


def shipped_scenarios() -> list[Path]:
    """The ready scenario files that ship with chaoskit, sorted by name."""
    return sorted(scenarios_dir().glob("*.yaml"))


@functools.cache
def schema() -> Mapping[str, Any]:
    """The scenario JSON Schema (draft 2020-12), loaded once."""
    return json.loads(schema_path().read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@functools.cache
def _validator() -> Any:
    try:
        import jsonschema
    except ImportError:
        raise ChaosConfigError(
            "checking a scenario file needs jsonschema: pip install 'chaoskit[staging]'"
        ) from None
    return jsonschema.Draft202012Validator(schema())


def schema_problems(doc: Document) -> list[Problem]:
    """Every way ``doc.data`` breaks the schema, as problems (unknown fields with a "did you mean")."""
    validator = _validator()
    errors = list(validator.iter_errors(doc.data))
    bad_types = {tuple(e.absolute_path)[:-1] for e in errors if e.validator == "enum" and tuple(e.absolute_path)[-1:] == ("type",)}
    found: list[Problem] = []
    for error in errors:
        for problem in _translate(error, doc, validator):
            if problem not in found:
                found.append(problem)
    if bad_types:  # an unknown probe type: its other fields are not "unknown" too
        found = [p for p in found if not (p.message.startswith("unknown field") and _parent_in(p, bad_types))]
    return found


def _parent_in(problem: Problem, paths: set[FieldPath]) -> bool:
    return any(problem.field.startswith(format_path(p) + ".") for p in paths)


def _translate(error: Any, doc: Document, validator: Any) -> Iterator[Problem]:
    path: FieldPath = tuple(error.absolute_path)
    keyword = error.validator
    sub = error.schema if isinstance(error.schema, Mapping) else {}
    custom = sub.get("errorMessage") if keyword in _CUSTOMIZABLE else None
    instance = error.instance
    if keyword in ("oneOf", "anyOf"):
        branch = _likely_branch(error)
        if branch is not None:
            for inner in branch:
                yield from _translate(inner, doc, validator)
            return
        yield doc.problem(path, custom or f"{_show(instance)} does not fit any of the allowed forms")
    elif keyword in ("additionalProperties", "unevaluatedProperties"):
        if not isinstance(instance, dict):
            return
        allowed = sorted(_allowed(sub, instance, validator))
        for key in instance:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                yield doc.problem((*path, key), f"unknown field {key!r}", close[0] if close else None)
    elif "propertyNames" in error.schema_path:
        message = sub.get("errorMessage") or f"it must match {sub.get('pattern')}"
        yield doc.problem((*path, instance), f"{instance!r} is not a valid name: {message}")
    elif keyword == "required":
        for name in error.validator_value:
            if isinstance(instance, dict) and name not in instance:
                yield doc.problem(path, f"missing field {name!r}")
    elif custom:
        yield doc.problem(path, f"{_show(instance)}: {custom}" if keyword != "minProperties" else custom)
    elif keyword == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = [_YAML_TYPES[t] for t in expected]
        wanted = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        yield doc.problem(path, f"expected {wanted}, got {_show(instance)}")
    elif keyword == "enum":
        options = [str(o) for o in error.validator_value]
        close = difflib.get_close_matches(str(instance), options, n=1, cutoff=0.6)
        yield doc.problem(path, f"{_show(instance)} is not one of: {', '.join(options)}", close[0] if close else None)
    else:
        yield doc.problem(path, _message(keyword, error.validator_value, instance, error.message))


def _message(keyword: str, limit: Any, instance: Any, default: str) -> str:
    shown = _show(instance)
    return {
        "minimum": f"{shown} must be at least {limit}",
        "maximum": f"{shown} must be at most {limit}",
        "exclusiveMinimum": f"{shown} must be more than {limit}",
        "minLength": "must not be empty",
        "minItems": f"needs at least {limit} item{'s' if limit != 1 else ''}",
        "maxItems": f"takes at most {limit} item{'s' if limit != 1 else ''}",
        "uniqueItems": "has the same item twice",
        "minProperties": f"needs at least {limit} field{'s' if limit != 1 else ''}",
        "pattern": f"{shown} does not match {limit}",
    }.get(keyword, default)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _likely_branch(error: Any) -> list[Any] | None:
    """The errors of the one alternative that fits the value's type, if exactly one does."""
    by_branch: dict[int, list[Any]] = {}
    for inner in error.context or ():
        by_branch.setdefault(inner.schema_path[0], []).append(inner)
    fitting = [
        errors for errors in by_branch.values()
        if not any(e.validator == "type" and tuple(e.absolute_path) == tuple(error.absolute_path) for e in errors)
    ]
    return fitting[0] if len(fitting) == 1 and len(by_branch) > 1 else None


def _allowed(sub: Mapping[str, Any], instance: Mapping[str, Any], validator: Any) -> set[str]:
    """The field names ``sub`` knows for ``instance``: its properties, those of what it refers to,
    of its ``allOf`` parts, and of the ``then`` of each ``if`` the instance meets."""
    names = set(sub.get("properties", {}))
    if "$ref" in sub:
        names |= _allowed(_resolve(sub["$ref"]), instance, validator)
    for part in sub.get("allOf", ()):
        names |= _allowed(part, instance, validator)
    if "if" in sub and "then" in sub and validator.evolve(schema=sub["if"]).is_valid(instance):
        names |= _allowed(sub["then"], instance, validator)
    return names


def _resolve(ref: str) -> Mapping[str, Any]:
    """A local ``#/$defs/name`` reference."""
    node: Any = schema()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]

"""Schema drift: the ways a JSON API changes under its clients, applied to one body.

A drift is one change at one place: a field missing, renamed or ``null``, a number sent as
a string, an object sent as a list, an extra field, an enum value never seen, an empty or
reordered list, a date in another format, pagination that stops early. ``drift(body, rng)``
picks the variant and the place with the session's seeded RNG (or takes them from
``variant=`` and ``path=``) and says what it did, so the failing variant can be named in
the journal and pinned in a test.

Paths are dotted with list indexes: ``customer.email``, ``items[0].sku``; ``items[*].sku``
means that field in every element.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ._errors import ChaosConfigError

__all__ = ["VARIANTS", "Drift", "drift", "paths"]

#: Every drift variant, in the order they are documented.
VARIANTS: tuple[str, ...] = (
    "missing",  # the field is gone
    "renamed",  # the field has a new name (snake_case <-> camelCase, else a _v2 suffix)
    "null",  # the field is null
    "number_as_string",  # 42 -> "42"
    "object_as_list",  # {...} -> [{...}]
    "extra_field",  # an object gains a field nobody asked for
    "unknown_enum",  # a short code-like string gets a value the client never saw
    "empty_list",  # a non-empty list is empty
    "reordered_list",  # a list comes in reverse order
    "date_format",  # an ISO 8601 date or timestamp in another format
    "pagination_stops",  # a page says it is the last one (next: null, has_more: false)
)

_ENUM = re.compile(r"^[A-Za-z]+(?:[_-][A-Za-z]+)*$")  # shipped, ACTIVE, in_progress; not A100
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
#: Fields that say "there is another page", and the value that says "there is not".
_NEXT_PAGE = {
    "next": None, "next_page": None, "nextPage": None, "next_cursor": None, "nextCursor": None,
    "next_page_token": None, "nextPageToken": None, "next_url": None, "nextUrl": None,
    "has_more": False, "hasMore": False, "has_next": False, "hasNext": False, "more": False,
}
EXTRA_FIELD = "chaoskit_unexpected"
UNKNOWN_ENUM = "chaoskit_unexpected_value"


@dataclass(frozen=True)
class Drift:
    """What one drift did: the variant, where, and a one-line description for the journal."""

    variant: str
    path: str
    description: str


Path = tuple[str | int, ...]


def _fmt(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "$"


def _walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every node below the root, parents before children."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key), child
            yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield (*path, i), child
            yield from _walk(child, (*path, i))


def paths(body: Any) -> list[str]:
    """Every field path in ``body`` (list elements as ``[i]``), for error messages and tests."""
    return [_fmt(p) for p, _ in _walk(body) if isinstance(p[-1], str)]


def _is_id(path: Path) -> bool:
    key = next((k for k in reversed(path) if isinstance(k, str)), "")
    return key.lower() == "id" or key.endswith(("_id", "Id", "ID"))


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# Which nodes each variant can change: (path, value) -> bool. Field variants need a dict key.
def _field(path: Path, value: Any) -> bool:
    return isinstance(path[-1], str)


_APPLIES: dict[str, Callable[[Path, Any], bool]] = {
    "missing": _field,
    "renamed": _field,
    "null": lambda p, v: _field(p, v) and v is not None,
    "number_as_string": lambda p, v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "object_as_list": lambda p, v: isinstance(v, dict),
    "extra_field": lambda p, v: isinstance(v, dict),
    "unknown_enum": lambda p, v: isinstance(v, str) and len(v) <= 32 and bool(_ENUM.match(v)) and not _is_id(p),
    "empty_list": lambda p, v: isinstance(v, list) and bool(v),
    "reordered_list": lambda p, v: isinstance(v, list) and len(v) >= 2 and v != v[::-1],
    "date_format": lambda p, v: _is_date(v),
    "pagination_stops": lambda p, v: isinstance(v, dict) and any(
        k in v and v[k] != stop for k, stop in _NEXT_PAGE.items()
    ),
}
# The root object can gain a field, be paginated or be wrapped; the other variants need a field.
_ROOT_OK = frozenset({"object_as_list", "extra_field", "pagination_stops", "empty_list", "reordered_list"})

_WHAT = {
    "missing": "a field", "renamed": "a field", "null": "a non-null field",
    "number_as_string": "a number", "object_as_list": "an object", "extra_field": "an object",
    "unknown_enum": "a short code-like string (an enum value)", "empty_list": "a non-empty list",
    "reordered_list": "a list of two or more different items", "date_format": "an ISO 8601 date or timestamp",
    "pagination_stops": "an object with a next-page field (next, next_cursor, has_more, ...)",
}


def _renamed(name: str) -> str:
    if "_" in name.strip("_"):
        head, *rest = name.split("_")
        return head + "".join(w[:1].upper() + w[1:] for w in rest)
    camel = re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)
    return camel if camel != name else f"{name}_v2"


def _other_date(value: str) -> str:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if len(value) == 10:  # a date alone: US order
        return parsed.strftime("%m/%d/%Y")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.strftime("%a, %d %b %Y %H:%M:%S GMT")  # RFC 7231, as HTTP headers write it


def _candidates(body: Any, variant: str) -> list[Path]:
    return [p for p in [(), *(p for p, _ in _walk(body))] if _applies_at(body, variant, p)]


def _get(body: Any, path: Path) -> Any:
    for part in path:
        body = body[part]
    return body


def _expand(body: Any, spec: str) -> list[Path]:
    """The concrete paths ``spec`` names in ``body`` (``[*]`` expands to every element)."""
    if spec in ("", "$"):
        return [()]
    tokens: list[str | int | None] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\*|\d+)\]", spec.removeprefix("$.").removeprefix("$")):
        tokens.append(name if name else (None if index == "*" else int(index)))
    paths_: list[Path] = [()]
    for token in tokens:
        nxt: list[Path] = []
        for p in paths_:
            node = _get(body, p)
            if token is None:
                if isinstance(node, list):
                    nxt.extend((*p, i) for i in range(len(node)))
            elif isinstance(token, int):
                if isinstance(node, list) and token < len(node):
                    nxt.append((*p, token))
            elif isinstance(node, dict) and token in node:
                nxt.append((*p, token))
        paths_ = nxt
    return paths_


def _apply(body: Any, variant: str, path: Path) -> tuple[Any, str]:
    """Apply one variant at one path (in place where possible); returns (body, description)."""
    where = _fmt(path)
    parent = _get(body, path[:-1]) if path else None
    key = path[-1] if path else None
    value = _get(body, path)

    def put(new: Any) -> Any:
        if not path:
            return new
        parent[key] = new  # type: ignore[index]
        return body

    if variant == "missing":
        del parent[key]  # type: ignore[union-attr,arg-type]
        return body, f"missing {where}"
    if variant == "renamed":
        new_name = _renamed(str(key))
        if new_name in parent:  # type: ignore[operator]  # never overwrite a field that is there
            new_name = f"{key}_v2"
        items = [(new_name if k == key else k, v) for k, v in parent.items()]  # type: ignore[union-attr]
        parent.clear()  # type: ignore[union-attr]
        parent.update(items)  # type: ignore[union-attr]
        return body, f"renamed {where} -> {_fmt((*path[:-1], new_name))}"
    if variant == "null":
        return put(None), f"null {where}"
    if variant == "number_as_string":
        return put(str(value)), f"number_as_string {where} ({value!r} -> {str(value)!r})"
    if variant == "object_as_list":
        return put([value]), f"object_as_list {where}"
    if variant == "extra_field":
        value[EXTRA_FIELD] = {"added_by": "chaoskit", "note": "a field this client never saw"}
        return body, f"extra_field {_fmt((*path, EXTRA_FIELD))}"
    if variant == "unknown_enum":
        return put(UNKNOWN_ENUM), f"unknown_enum {where} ({value!r} -> {UNKNOWN_ENUM!r})"
    if variant == "empty_list":
        return put([]), f"empty_list {where} ({len(value)} items -> 0)"
    if variant == "reordered_list":
        return put(value[::-1]), f"reordered_list {where} (reversed {len(value)} items)"
    if variant == "date_format":
        new = _other_date(value)
        return put(new), f"date_format {where} ({value!r} -> {new!r})"
    if variant == "pagination_stops":
        changed = [k for k, stop in _NEXT_PAGE.items() if k in value and value[k] != stop]
        for k in changed:
            value[k] = _NEXT_PAGE[k]
        at = f" {where}" if path else ""
        return body, f"pagination_stops{at} ({', '.join(f'{k}={_NEXT_PAGE[k]!r}' for k in changed)})"
    raise AssertionError(variant)


def drift(body: Any, rng: random.Random, *, variant: str | None = None, path: str | None = None, where: str = "the body") -> tuple[Any, Drift]:
    """A drifted copy of the JSON value ``body`` and what changed.

    ``variant``: one of :data:`VARIANTS`; None lets ``rng`` choose among those that apply.
    ``path``: where (``items[*].sku`` changes it in every element); None lets ``rng``
    choose. A variant or path that cannot apply raises :class:`ChaosConfigError` naming
    what the body has, so a rule never silently does nothing. ``where`` names the body in
    messages (``"GET https://crm.internal/customers/7"``).
    """
    if variant is not None and variant not in VARIANTS:
        raise ChaosConfigError(f"schema drift variant={variant!r} is not one of: {', '.join(VARIANTS)}")
    if not isinstance(body, (dict, list)):
        raise ChaosConfigError(f"schema drift cannot apply to {where}: it is not a JSON object or list")
    body = copy.deepcopy(body)
    if path is not None:
        targets = _expand(body, path)
        if not targets:
            known = ", ".join(paths(body)[:12]) or "none"
            raise ChaosConfigError(
                f"schema drift path={path!r} names nothing in {where}; its fields: {known}"
            )
        variants = [variant] if variant else [v for v in VARIANTS if all(_applies_at(body, v, t) for t in targets)]
        if variant and not all(_applies_at(body, variant, t) for t in targets):
            raise ChaosConfigError(
                f"schema drift {variant!r} cannot apply to {path!r} in {where}: it needs {_WHAT[variant]}"
            )
        if not variants:
            raise ChaosConfigError(f"no schema drift variant applies to {path!r} in {where}")
        chosen = variants[0] if variant else rng.choice(variants)
        descriptions = []
        # Deepest and last first, so removing or renaming one element keeps the others' paths valid.
        for target in sorted(targets, key=lambda t: (len(t), t), reverse=True):
            body, text = _apply(body, chosen, target)
            descriptions.append(text)
        text = descriptions[0] if len(descriptions) == 1 else f"{chosen} {path} ({len(descriptions)} places)"
        return body, Drift(chosen, path, text)
    options = [variant] if variant else list(VARIANTS)
    usable = [(v, c) for v in options for c in [_candidates(body, v)] if c]
    if not usable:
        if variant:
            raise ChaosConfigError(
                f"schema drift {variant!r} cannot apply to {where}: it has no {_WHAT[variant].removeprefix('a ').removeprefix('an ')}"
            )
        raise ChaosConfigError(f"no schema drift variant applies to {where}")
    chosen, candidates = usable[0] if variant else rng.choice(usable)
    target = rng.choice(candidates)
    body, text = _apply(body, chosen, target)
    return body, Drift(chosen, _fmt(target), text)


def _applies_at(body: Any, variant: str, path: Path) -> bool:
    if not path and variant not in _ROOT_OK:
        return False
    return _APPLIES[variant](path, _get(body, path)) if path else _APPLIES[variant]((), body)

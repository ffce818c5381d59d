"""Small values of a scenario file: durations, status ranges, JSON paths and comparisons."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = ["COMPARATORS", "MISSING", "Comparison", "JsonValue", "StatusRanges", "json_path", "parse_duration", "read_path"]

JsonValue: TypeAlias = "None | bool | int | float | str | Sequence[JsonValue] | Mapping[str, JsonValue]"
"""JSON data as written in the file (request bodies, fault parameters, expected values)."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$")


def parse_duration(value: float | int | str) -> float:
    """Seconds from a number (seconds) or a string such as ``250ms``, ``30s``, ``5m``, ``1h`` (no unit: seconds)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        if value < 0 or math.isnan(value):
            raise ValueError(f"{value!r} is not a duration")
        return float(value)
    m = _DURATION.match(value)
    if m is None:
        raise ValueError(f"{value!r} is not a duration (seconds, or a string such as 250ms, 30s, 5m, 1h)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def format_seconds(seconds: float) -> str:
    """``90.0`` as ``90 s``, ``0.25`` as ``0.25 s``: how durations appear in messages."""
    return f"{seconds:g} s"


@dataclass(frozen=True)
class StatusRanges:
    """Accepted HTTP statuses, e.g. ``200-399;429``."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, value: int | str) -> StatusRanges:
        """From a status (``200``) or ranges and statuses separated by ``;`` (``200-399;429``)."""
        if isinstance(value, int):
            return cls(((value, value),))
        ranges = []
        for part in value.split(";"):
            low, _, high = part.partition("-")
            ranges.append((int(low), int(high or low)))
            if ranges[-1][0] > ranges[-1][1]:
                raise ValueError(f"{part!r} is an empty range: write the lower status first")
        return cls(tuple(ranges))

    def __contains__(self, status: object) -> bool:
        return isinstance(status, int) and any(low <= status <= high for low, high in self.ranges)

    def __str__(self) -> str:
        return ";".join(f"{low}" if low == high else f"{low}-{high}" for low, high in self.ranges)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What a JSON path finds where there is nothing."""

_STEP = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?[0-9]+)\]|\[(?:'([^']*)'|"([^"]*)")\]""")


def json_path(path: str) -> tuple[str | int, ...]:
    """The steps of ``$.a.b[0]`` (``$`` is the document; ``['a b']`` quotes a key; the ``$`` may be left out)."""
    text = path if path.startswith("$") else "$." + path
    steps: list[str | int] = []
    position = 1
    while position < len(text):
        m = _STEP.match(text, position)
        if m is None:
            raise ValueError(f"{path!r} is not a JSON path: cannot read {text[position:]!r} (write $.key, [0] or ['odd key'])")
        name, index, single, double = m.groups()
        steps.append(int(index) if index is not None else next(s for s in (name, single, double) if s is not None))
        position = m.end()
    return tuple(steps)


def read_path(document: object, path: str) -> object:
    """The value at ``path`` in ``document`` (parsed JSON), or :data:`MISSING`."""
    value = document
    for step in json_path(path):
        if isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return MISSING
    return value


#: The checks a comparison can make, in the order they are reported.
COMPARATORS = ("equals", "not_equals", "one_of", "contains", "matches", "gt", "ge", "lt", "le", "exists")
_ORDER = {"gt": (">", lambda a, b: a > b), "ge": (">=", lambda a, b: a >= b),
          "lt": ("<", lambda a, b: a < b), "le": ("<=", lambda a, b: a <= b)}


def _text(value: object) -> str:
    """A scalar as it would be written in YAML (``true``, ``null``, ``2``), for comparing with text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else format(value, "g") if isinstance(value, float) else str(value)


def _same(observed: object, expected: object) -> bool:
    if observed == expected and isinstance(observed, bool) == isinstance(expected, bool):
        return True
    # a header or a text body against a number written in YAML: compare as text
    return isinstance(observed, str) and not isinstance(expected, (str, list, dict)) and observed == _text(expected)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Comparison:
    """Checks on one observed value (``equals``, ``one_of``, ``lt``, ...); every one must hold."""

    checks: tuple[tuple[str, JsonValue], ...]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, JsonValue]) -> Comparison:
        """From the file's ``{equals: ok, lt: 5}`` (keys other than the comparators are ignored)."""
        return cls(tuple((name, raw[name]) for name in COMPARATORS if name in raw))

    def failure(self, observed: object) -> str | None:
        """Why ``observed`` fails the checks (``is 7, expected < 5``), or None when it passes."""
        shown = "missing" if observed is MISSING else repr(observed)
        for name, expected in self.checks:
            if name == "exists":
                if (observed is not MISSING) != expected:
                    return f"is {shown}, expected it to be {'there' if expected else 'absent'}"
                continue
            if observed is MISSING:
                return "is missing"
            if name == "equals" and not _same(observed, expected):
                return f"is {shown}, expected {expected!r}"
            if name == "not_equals" and _same(observed, expected):
                return f"is {shown}, expected anything else"
            if name == "one_of" and not any(_same(observed, e) for e in expected or ()):  # type: ignore[union-attr]
                return f"is {shown}, expected one of {list(expected or ())!r}"  # type: ignore[arg-type]
            if name == "contains" and not _contains(observed, expected):
                return f"is {_clip(shown)}, which does not contain {expected!r}"
            if name == "matches" and not re.search(str(expected), observed if isinstance(observed, str) else _text(observed)):
                return f"is {_clip(shown)}, which does not match {expected!r}"
            if name in _ORDER:
                symbol, holds = _ORDER[name]
                number = _number(observed)
                if number is None:
                    return f"is {_clip(shown)}, not a number (expected {symbol} {expected})"
                if not holds(number, expected):
                    return f"is {observed if not isinstance(observed, str) else shown}, expected {symbol} {expected}"
        return None

    def __str__(self) -> str:
        return ", ".join(f"{name} {value!r}" for name, value in self.checks)


def _contains(observed: object, expected: object) -> bool:
    if isinstance(observed, str):
        return str(expected) in observed
    if isinstance(observed, (list, dict)):
        return expected in observed
    return False


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

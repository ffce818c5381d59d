"""What a fault's parameters accept: types and ranges declared as data in ``faults/_params.yaml``.

A :class:`ParamType` is one parameter's declaration (``{type: number, min: 0}``); the catalog
checks each default against it when it loads, and :meth:`chaoskit.Fault.with_params` checks every
override, so a bad value fails where it is given, not deep inside the call it was meant to break.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ChaosConfigError
from ._fault import EFFECTS

__all__ = ["ParamType", "param_types"]

#: Type names, and how each is described in an error ("must be a number >= 0").
_TYPES = {
    "number": "a number", "integer": "a whole number", "string": "a string", "boolean": "True or False",
    "object": "a mapping", "list": "a list", "any": "anything", "null": "None",
}
_FIELDS = {"type", "min", "max", "choices"}


def _is(value: object, name: str) -> bool:
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return {
        "string": isinstance(value, str), "boolean": isinstance(value, bool), "object": isinstance(value, Mapping),
        "list": isinstance(value, (list, tuple)), "null": value is None, "any": True,
    }[name]


@dataclass(frozen=True)
class ParamType:
    """One parameter's declaration: its types, and a number's range or the allowed values."""

    types: tuple[str, ...]
    min: float | None = None
    max: float | None = None
    choices: tuple[object, ...] | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> ParamType:
        """A declaration from its data; ``where`` (``file: effects.x.y``) starts every error."""
        if not isinstance(data, Mapping):
            raise ChaosConfigError(f"{where}: must be a mapping such as {{type: number, min: 0}}")
        extra = sorted(set(data) - _FIELDS)
        if extra:
            raise ChaosConfigError(f"{where}: unknown field {extra[0]!r}; a parameter has {', '.join(sorted(_FIELDS))}")
        raw = data.get("type")
        names = tuple("null" if n is None else n for n in (raw if isinstance(raw, list) else [raw]))
        unknown = [n for n in names if n not in _TYPES]
        if not names or unknown:
            raise ChaosConfigError(f"{where}.type: {raw!r} is not one of {', '.join(_TYPES)}, or a list of them")
        for end in ("min", "max"):
            if end in data and not _is(data[end], "number"):
                raise ChaosConfigError(f"{where}.{end}: {data[end]!r} must be a number")
        choices = data.get("choices")
        if choices is not None and not isinstance(choices, list):
            raise ChaosConfigError(f"{where}.choices: must be a list of the allowed values")
        return cls(names, data.get("min"), data.get("max"), tuple(choices) if choices is not None else None)

    def allows(self, value: object) -> bool:
        """Whether ``value`` is one of the types, in the range and among the choices."""
        if value is None:
            return "null" in self.types or "any" in self.types
        if not any(_is(value, name) for name in self.types):
            return False
        if self.choices is not None:
            if isinstance(value, (list, tuple)) and "list" in self.types:  # a list of choices
                return all(isinstance(item, str | int | float) and item in self.choices for item in value)
            if value not in self.choices:
                return False
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
        return True

    def describe(self) -> str:
        """What is allowed, in words: ``a number from 0 to 1``, ``one of 'upstream', 'downstream'``."""
        if self.choices is not None:
            allowed = f"one of {', '.join(repr(c) for c in self.choices)}"
            if "list" in self.types:
                allowed = f"a list of {allowed}"
        else:
            allowed = " or ".join(_TYPES[n] for n in self.types if n != "null")
            if self.min is not None and self.max is not None:
                allowed += f" from {self.min:g} to {self.max:g}"
            elif self.min is not None:
                allowed += f" >= {self.min:g}"
            elif self.max is not None:
                allowed += f" <= {self.max:g}"
        if "null" in self.types:
            allowed = f"{allowed}, or None" if allowed else "None"
        return allowed

    def check(self, fault_id: str, name: str, value: object) -> None:
        """Raise :class:`ChaosConfigError` naming the fault, the parameter and the value if not allowed."""
        if not self.allows(value):
            raise ChaosConfigError(f"fault {fault_id!r}: {name}={value!r} must be {self.describe()}")


def param_types(path: Any) -> dict[str, dict[str, ParamType]]:
    """The declarations in a parameters file (``faults/_params.yaml``): effect -> name -> type."""
    import yaml  # the plugin must not pay for this at import time

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    effects = data.get("effects") if isinstance(data, Mapping) else None
    if not isinstance(effects, Mapping):
        raise ChaosConfigError(f"{path}: expected a mapping 'effects' of effect -> parameter -> declaration")
    out: dict[str, dict[str, ParamType]] = {}
    for effect, params in effects.items():
        if effect not in EFFECTS:
            raise ChaosConfigError(f"{path}: effects.{effect}: not an effect; the effects are {', '.join(sorted(EFFECTS))}")
        if not isinstance(params, Mapping):
            raise ChaosConfigError(f"{path}: effects.{effect}: must be a mapping of parameter -> declaration")
        out[effect] = {name: ParamType.parse(spec, f"{path}: effects.{effect}.{name}") for name, spec in params.items()}
    return out

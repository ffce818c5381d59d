"""The blast radius of an injection: which requests a fault may touch at all.

A fault's schedule says when it fires among the requests it may touch; a :class:`Blast` says
which those are: a percentage of requests, only those carrying given headers (synthetic traffic
marked ``x-chaos-target: synthetic``), only some models, only some routes. A request outside
the blast radius does not count toward the schedule's ``after``, ``times`` or ``sequence``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ChaosConfigError

__all__ = ["Blast"]


@dataclass(frozen=True, slots=True)
class Blast:
    """Which requests an injection may touch.

    ``percent``: the share of requests in scope, 0..100 (drawn per request from its own seeded
    RNG, so replicas agree). ``headers``: each must be present with this value (names in any
    case, values exact). ``models``: globs of the request's model (``gpt-4o*``); a request with
    no model is out when this is set. ``routes``: globs of the request path (``/v1/chat/*``).
    Empty fields match everything.
    """

    percent: float = 100.0
    headers: tuple[tuple[str, str], ...] = ()
    models: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        p = self.percent
        if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or not 0 <= p <= 100:
            raise ChaosConfigError(f"percent={p!r} must be a number from 0 to 100")
        object.__setattr__(self, "headers", tuple((str(k).lower(), str(v)) for k, v in self.headers))
        for name in ("models", "routes"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
                raise ChaosConfigError(f"{name}={value!r} must be a list of glob strings such as {_EXAMPLE[name]!r}")
            object.__setattr__(self, name, tuple(value))

    @classmethod
    def of(cls, value: Blast | Mapping[str, Any] | None) -> Blast | None:
        """A Blast from its JSON form (``{"percent": 50, "headers": {...}, ...}``), or as it is."""
        if value is None or isinstance(value, Blast):
            return value
        if not isinstance(value, Mapping):
            raise ChaosConfigError(f"match={value!r} must be a mapping with percent, headers, models or routes")
        unknown = sorted(set(value) - {"percent", "headers", "models", "routes"})
        if unknown:
            raise ChaosConfigError(f"match has unknown field {unknown[0]!r}; it takes percent, headers, models and routes")
        headers = value.get("headers") or {}
        if not isinstance(headers, Mapping):
            raise ChaosConfigError(f"match.headers={headers!r} must be a mapping of header name to value")
        return cls(percent=value.get("percent", 100.0), headers=tuple(headers.items()),
                   models=tuple(_strings(value.get("models"), "models")), routes=tuple(_strings(value.get("routes"), "routes")))

    @property
    def everything(self) -> bool:
        return self.percent >= 100 and not self.headers and not self.models and not self.routes

    def matches(self, headers: Mapping[str, str], model: str | None, path: str, draw: Callable[[], float]) -> bool:
        """Whether a request is in the blast radius; ``draw()`` is its RNG's next number in [0, 1)."""
        if self.headers:
            lower = {k.lower(): v for k, v in headers.items()}
            if any(lower.get(name) != value for name, value in self.headers):
                return False
        if self.models and (model is None or not any(fnmatch.fnmatchcase(model, g) for g in self.models)):
            return False
        if self.routes and not any(fnmatch.fnmatchcase(path, g) for g in self.routes):
            return False
        return self.percent >= 100 or (self.percent > 0 and draw() * 100 < self.percent)

    def to_dict(self) -> dict[str, Any]:
        return {"percent": self.percent, "headers": dict(self.headers), "models": list(self.models), "routes": list(self.routes)}


_EXAMPLE = {"models": "gpt-4o*", "routes": "/v1/chat/*"}


def _strings(value: Any, name: str) -> Iterable[Any]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise ChaosConfigError(f"match.{name}={value!r} must be a list of glob strings such as {_EXAMPLE[name]!r}")
    return value

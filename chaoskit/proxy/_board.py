"""The faults a proxy has on: each added through the control API with a time-to-live.

A controller that dies leaves nothing on for long: a fault not renewed within its TTL is
removed by the proxy itself. A fault's ``window`` counts from when it was added.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import ChaosConfigError
from .._fault import Fault
from .._match import Blast
from .._schedule import Schedule
from .._urls import UrlPattern
from ..engine import SCOPED, Engine, Injection
from ..seams._proxy import Upstream

__all__ = ["ActiveFault", "FaultBoard", "FaultLimit"]

#: The fields of a fault as the control API takes it.
FIELDS = ("fault", "params", "rate", "times", "after", "window", "sequence", "ttl", "upstream", "match", "label")


class FaultLimit(ChaosConfigError):
    """Adding a fault would pass the proxy's ``max_active_faults``."""


@dataclass
class ActiveFault:
    """One fault on the proxy: its id on this proxy, the injection the engine plays, and when it expires."""

    id: str
    injection: Injection
    upstream: str | None
    ttl: float
    expires: float  # on the board's clock
    added: float
    label: str = ""

    @property
    def fault(self) -> Fault:
        return self.injection.fault

    def to_dict(self, now: float) -> dict[str, Any]:
        schedule = self.injection.schedule
        return {
            "id": self.id, "fault": self.fault.id, "effect": self.fault.effect, "params": dict(self.fault.params),
            "upstream": self.upstream, "label": self.label, "ttl": self.ttl,
            "expires_in": round(max(self.expires - now, 0.0), 3), "fired": self.injection.fired,
            "rate": schedule.rate, "times": schedule.times, "after": schedule.after,
            "match": self.injection.blast.to_dict() if self.injection.blast else None,
        }


class FaultBoard:
    """Adds, renews, lists, removes and expires the proxy's faults (thread-safe)."""

    def __init__(self, engine: Engine, upstreams: Sequence[Upstream], *, max_active: int = 32,
                 default_ttl: float = 60.0, max_ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic,
                 resolve: Callable[[str, Mapping[str, Any]], Fault] | None = None) -> None:
        self.engine = engine
        self.upstreams = {u.name: u for u in upstreams}
        self.max_active = max_active
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.clock = clock
        self.resolve = resolve or _resolve
        self._faults: dict[str, ActiveFault] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.overflows = 0  # adds refused for the limit

    def add(self, spec: Mapping[str, Any]) -> ActiveFault:
        """Put a fault on, from its control-API form; raises ChaosConfigError saying what is wrong."""
        if not isinstance(spec, Mapping):
            raise ChaosConfigError('a fault must be a JSON object such as {"fault": "openai.rate_limit", "ttl": 60}')
        unknown = sorted(set(spec) - set(FIELDS))
        if unknown:
            raise ChaosConfigError(f"unknown field {unknown[0]!r}; a fault takes {', '.join(FIELDS)}")
        if not isinstance(spec.get("fault"), str):
            raise ChaosConfigError('"fault" must be a catalog id such as "openai.rate_limit" (chaoskit faults lists them)')
        params = spec.get("params") or {}
        if not isinstance(params, Mapping):
            raise ChaosConfigError(f"params={params!r} must be an object of the fault's parameters")
        fault = self.resolve(spec["fault"], params)
        upstream = self._upstream_for(fault, spec.get("upstream"))
        ttl = self._ttl(spec.get("ttl"))
        blast = Blast.of(spec.get("match"))
        with self._lock:
            now = self.clock()
            elapsed = self.engine.elapsed
            window = spec.get("window")
            if window is not None:
                window = _shifted(window, elapsed)
            schedule = Schedule(rate=spec.get("rate", 1.0), times=spec.get("times"), after=spec.get("after", 0),
                                window=window, sequence=spec.get("sequence"))
            if len(self._faults) >= self.max_active:
                self.overflows += 1
                raise FaultLimit(
                    f"the proxy already has {len(self._faults)} faults on (max_active_faults={self.max_active}); "
                    "remove one (DELETE /faults/ID) or start the proxy with a higher --max-active-faults"
                )
            url = UrlPattern(self.upstreams[upstream].url + "/*") if upstream is not None else None
            injection = Injection(fault, schedule, schedule.start(), url, None, blast)
            active = ActiveFault(f"f{next(self._ids)}", injection, upstream, ttl, now + ttl, now, str(spec.get("label") or ""))
            self._faults[active.id] = active
            self.engine.add(injection)
        return active

    def renew(self, fault_id: str, ttl: Any = None) -> ActiveFault:
        """Push a fault's expiry ``ttl`` seconds from now (default: its own TTL)."""
        with self._lock:
            active = self._faults.get(fault_id)
            if active is None:
                raise KeyError(fault_id)
            active.ttl = self._ttl(ttl) if ttl is not None else active.ttl
            active.expires = self.clock() + active.ttl
            return active

    def remove(self, fault_id: str) -> ActiveFault | None:
        with self._lock:
            active = self._faults.pop(fault_id, None)
            if active is not None:
                self.engine.remove(active.injection)
            return active

    def reset(self) -> list[ActiveFault]:
        """Remove every fault; returns them."""
        with self._lock:
            gone = list(self._faults.values())
            self._faults.clear()
            for active in gone:
                self.engine.remove(active.injection)
            return gone

    def sweep(self) -> list[ActiveFault]:
        """Remove the faults whose TTL has passed; returns them."""
        now = self.clock()
        with self._lock:
            expired = [a for a in self._faults.values() if a.expires <= now]
            for active in expired:
                del self._faults[active.id]
                self.engine.remove(active.injection)
            return expired

    def list(self) -> list[ActiveFault]:
        with self._lock:
            return list(self._faults.values())

    def __len__(self) -> int:
        return len(self._faults)

    def _ttl(self, value: Any) -> float:
        if value is None:
            return self.default_ttl
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 < value <= self.max_ttl:
            raise ChaosConfigError(f"ttl={value!r} must be seconds, more than 0 and at most {self.max_ttl:g} (the proxy's --max-ttl)")
        return float(value)

    def _upstream_for(self, fault: Fault, name: Any) -> str | None:
        """The upstream a fault is narrowed to: the one named, else any speaking its provider."""
        if name is not None:
            if name not in self.upstreams:
                raise ChaosConfigError(f"upstream={name!r} is not one of this proxy's: {', '.join(self.upstreams)}")
            upstream = self.upstreams[name]
            if fault.provider not in SCOPED and fault.provider != upstream.provider:
                raise ChaosConfigError(
                    f"{fault.id} is a {fault.provider} fault, but upstream {name!r} speaks {upstream.provider}; "
                    f"use a {upstream.provider}.* fault there"
                )
            return name
        if fault.provider in SCOPED:
            raise ChaosConfigError(f"{fault.id} acts on plain HTTP: say which upstream it is for (\"upstream\": NAME)")
        if not any(u.provider == fault.provider for u in self.upstreams.values()):
            speaks = ", ".join(f"{u.name} ({u.provider})" for u in self.upstreams.values())
            raise ChaosConfigError(f"{fault.id} is a {fault.provider} fault, and no upstream of this proxy speaks {fault.provider}: {speaks}")
        return None


def _resolve(fault_id: str, params: Mapping[str, Any]) -> Fault:
    from .. import faults

    return faults.get(fault_id, **params)


def _shifted(window: Any, by: float) -> tuple[float, float | None]:
    """A window counted from when the fault was added, on the engine's clock."""
    if not isinstance(window, (list, tuple)) or len(window) != 2:
        raise ChaosConfigError(f"window={window!r} must be [start, end] seconds after the fault is added (end may be null)")
    start, end = window
    checked = Schedule(window=(start, end)).window  # says what is wrong with it
    assert checked is not None
    return checked[0] + by, None if checked[1] is None else checked[1] + by

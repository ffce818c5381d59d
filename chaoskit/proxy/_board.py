"""The faults a proxy has on: each added through the control API with a time-to-live.

A controller that dies leaves nothing on for long: a fault not renewed within its TTL is
removed by the proxy itself. A fault's ``window`` counts from when it was added.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import ChaosConfigError
from .._fault import Fault
from .._match import Blast
from .._schedule import Counts, Schedule, ScheduleState
from .._urls import UrlPattern
from ..engine import SCOPED, Engine, Injection
from ..seams._proxy import Upstream
from ._state import RedisState, SharedFault

__all__ = ["ActiveFault", "FaultBoard", "FaultLimit"]

_log = logging.getLogger("chaoskit.proxy")

#: The fields of a fault as the control API takes it.
FIELDS = ("fault", "params", "rate", "times", "after", "window", "sequence", "ttl", "upstream", "match", "label")


@dataclass(frozen=True)
class _Checked:
    """A fault spec, checked: what the engine needs to play it."""

    fault: Fault
    upstream: str | None
    schedule: Schedule
    blast: Blast | None
    label: str


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
    """Adds, renews, lists, removes and expires the proxy's faults (thread-safe).

    With ``state`` (Redis), the faults, their TTLs and their counters are shared with the other
    replicas: an add on one is on all of them after their next sweep, and ``times`` counts across them.
    """

    def __init__(self, engine: Engine, upstreams: Sequence[Upstream], *, max_active: int = 32,
                 default_ttl: float = 60.0, max_ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic,
                 resolve: Callable[[str, Mapping[str, Any]], Fault] | None = None, state: RedisState | None = None) -> None:
        self.engine = engine
        self.upstreams = {u.name: u for u in upstreams}
        self.max_active = max_active
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.clock = clock
        self.resolve = resolve or _resolve
        self.state = state
        self._faults: dict[str, ActiveFault] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.overflows = 0  # adds refused for the limit

    def add(self, spec: Mapping[str, Any]) -> ActiveFault:
        """Put a fault on, from its control-API form; raises ChaosConfigError saying what is wrong."""
        checked = self._checked(spec)
        ttl = self._ttl(spec.get("ttl"))
        with self._lock:
            if self.state is not None:
                self._sync()
            if len(self._faults) >= self.max_active:
                self.overflows += 1
                raise FaultLimit(
                    f"the proxy already has {len(self._faults)} faults on (max_active_faults={self.max_active}); "
                    "remove one (DELETE /faults/ID) or start the proxy with a higher --max-active-faults"
                )
            if self.state is None:
                return self._install(f"f{next(self._ids)}", checked, ttl, self.clock(), 0.0, None)
            fault_id = self.state.new_id()
            wall = time.time()
            self.state.put(SharedFault(fault_id, {**spec, "ttl": ttl}, wall, wall + ttl))
            return self._install(fault_id, checked, ttl, self.clock(), 0.0, self.state.counts(fault_id))

    def _checked(self, spec: Mapping[str, Any]) -> _Checked:
        """A fault spec checked, with every error a clear ChaosConfigError."""
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
        window = spec.get("window")
        if window is not None:
            window = _shifted(window, 0.0)
        schedule = Schedule(rate=spec.get("rate", 1.0), times=spec.get("times"), after=spec.get("after", 0),
                            window=window, sequence=spec.get("sequence"))
        return _Checked(fault, upstream, schedule, Blast.of(spec.get("match")), str(spec.get("label") or ""))

    def _install(self, fault_id: str, checked: _Checked, ttl: float, added: float, age: float, counts: Counts | None) -> ActiveFault:
        """Hand a checked fault to the engine; ``age``: seconds since it was added (elsewhere), for its window."""
        schedule = checked.schedule
        if schedule.window is not None:  # counted from when the fault was added
            schedule = dataclasses.replace(schedule, window=_shifted(schedule.window, self.engine.elapsed - age))
        url = UrlPattern(self.upstreams[checked.upstream].url + "/*") if checked.upstream is not None else None
        injection = Injection(checked.fault, schedule, ScheduleState(schedule, counts), url, None, checked.blast)
        active = ActiveFault(fault_id, injection, checked.upstream, ttl, added + ttl, added, checked.label)
        self._faults[fault_id] = active
        self.engine.add(injection)
        return active

    def renew(self, fault_id: str, ttl: Any = None) -> ActiveFault:
        """Push a fault's expiry ``ttl`` seconds from now (default: its own TTL)."""
        with self._lock:
            if self.state is not None:
                self._sync()
            active = self._faults.get(fault_id)
            if active is None:
                raise KeyError(fault_id)
            active.ttl = self._ttl(ttl) if ttl is not None else active.ttl
            active.expires = self.clock() + active.ttl
            if self.state is not None:
                shared = next((f for f in self.state.faults() if f.id == fault_id), None)
                if shared is None:
                    self._drop(fault_id)
                    raise KeyError(fault_id)
                self.state.put(dataclasses.replace(shared, spec={**shared.spec, "ttl": active.ttl}, expires=time.time() + active.ttl))
            return active

    def remove(self, fault_id: str) -> ActiveFault | None:
        with self._lock:
            if self.state is not None:
                self._sync()
                self.state.delete(fault_id)
            return self._drop(fault_id)

    def reset(self) -> list[ActiveFault]:
        """Remove every fault (on every replica, with shared state); returns them."""
        with self._lock:
            if self.state is not None:
                self._sync()
                for shared in self.state.faults():
                    self.state.delete(shared.id)
            gone = list(self._faults.values())
            for active in gone:
                self._drop(active.id)
            return gone

    def forget(self) -> None:
        """Take every fault off this replica only (it is stopping); shared ones stay on the others."""
        with self._lock:
            for fault_id in list(self._faults):
                self._drop(fault_id)

    def sweep(self) -> list[ActiveFault]:
        """Remove the faults whose TTL has passed (and, with shared state, take on the faults
        other replicas added, and drop those removed there); returns the expired ones."""
        now = self.clock()
        with self._lock:
            expired = [a for a in self._faults.values() if a.expires <= now]
            for active in expired:
                self._drop(active.id)
            if self.state is not None:
                self._sync()
            return expired

    def _sync(self) -> None:
        """Make this replica's faults those in the shared state."""
        assert self.state is not None
        shared = {f.id: f for f in self.state.faults()}
        for fault_id in [i for i in self._faults if i not in shared]:
            self._drop(fault_id)  # removed or expired elsewhere
        wall, now = time.time(), self.clock()
        for fault_id, f in shared.items():
            active = self._faults.get(fault_id)
            if active is not None:
                active.expires = now + (f.expires - wall)
                active.ttl = float(f.spec.get("ttl", active.ttl))
                continue
            try:
                checked = self._checked({k: v for k, v in f.spec.items() if k != "ttl"})
            except ChaosConfigError as exc:  # added by a replica that knows more (a newer catalog)
                _log.warning("chaoskit proxy: cannot take on fault %s from the shared state: %s", fault_id, exc)
                continue
            ttl = float(f.spec.get("ttl", self.default_ttl))
            installed = self._install(fault_id, checked, ttl, now - (wall - f.added), wall - f.added, self.state.counts(fault_id))
            installed.expires = now + (f.expires - wall)

    def _drop(self, fault_id: str) -> ActiveFault | None:
        active = self._faults.pop(fault_id, None)
        if active is not None:
            self.engine.remove(active.injection)
        return active

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

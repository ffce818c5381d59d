"""A scenario as values: frozen dataclasses built by :func:`chaoskit.scenario.load` from a checked file.

Every duration is in seconds (a float), every relative URL is already joined to ``target.url``,
every default is filled in: a runner reads these fields and decides nothing about the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from ._values import Comparison, JsonValue, StatusRanges, format_seconds

if TYPE_CHECKING:
    from .._fault import Fault
    from .._schedule import Schedule
    from ..network import Toxic
    from ._window import ProbeWindow

__all__ = [
    "Blackout", "ConversationCheck", "FaultSpec", "HttpCheck", "HttpExpect", "JsonCheck", "LatencyBound", "Load",
    "Match", "Phase", "PrometheusCheck", "Probe", "ProbeMode", "ProbeType", "Proxy", "PythonCheck", "Report",
    "Safety", "Scenario", "StopCondition", "Target", "ToxicSpec", "Turn", "TurnExpect", "Upstream", "WindowCheck",
]

ProbeType = Literal["http", "conversation", "python", "prometheus"]
ProbeMode = Literal["before", "after", "both", "continuous", "during_fault"]
#: Environment names that mean production (compared lower-case).
PRODUCTION = frozenset({"production", "prod", "prd"})
#: What a fault's TTL adds to its phase's duration by default, so a slow controller does not cut it short.
TTL_MARGIN = 30.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Target:
    """The application under test: its base URL and the environment it runs in."""

    url: str
    environment: str = "staging"
    allow_production: bool = False

    @property
    def is_production(self) -> bool:
        """``environment`` names production (production, prod or prd, in any case)."""
        return self.environment.lower() in PRODUCTION


@dataclass(frozen=True)
class Upstream:
    """A place the proxy may forward to, and the provider whose faults apply to its traffic."""

    name: str
    url: str
    provider: str


@dataclass(frozen=True)
class Proxy:
    """The chaos proxy: addresses to start one on, or ``url`` of one already running; its upstreams."""

    listen: str = "127.0.0.1:8080"
    control: str = "127.0.0.1:8475"
    token: str | None = None
    upstreams: Mapping[str, Upstream] = field(default_factory=lambda: MappingProxyType({}))
    url: str | None = None

    @property
    def control_url(self) -> str:
        """The control API's base URL: ``url`` if given, else ``http://`` + ``control``."""
        return self.url or f"http://{self.control}"


@dataclass(frozen=True)
class Match:
    """A fault's blast radius: only requests that meet every condition are eligible."""

    percent: float = 100.0
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    models: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultSpec:
    """A catalog fault injected through the proxy during a phase; ``window`` is relative to the phase's start."""

    fault: str
    params: Mapping[str, JsonValue]
    rate: float
    times: int | None
    after: int
    window: tuple[float, float | None] | None
    sequence: tuple[bool, ...] | None
    ttl: float
    upstream: str | None
    match: Match

    def schedule(self) -> Schedule:
        """The schedule (rate, times, after, window, sequence) as the engine takes it."""
        from .._schedule import Schedule

        return Schedule(rate=self.rate, times=self.times, after=self.after, window=self.window, sequence=self.sequence)

    def resolve(self) -> Fault:
        """The catalog fault with ``params`` applied."""
        from .. import faults

        return faults.get(self.fault, **self.params)


@dataclass(frozen=True)
class ToxicSpec:
    """A Toxiproxy toxic during a phase, on the proxy ``name`` from ``listen`` to ``upstream``."""

    name: str
    listen: str
    upstream: str
    type: str
    attributes: Mapping[str, int]
    stream: Literal["downstream", "upstream"] = "downstream"
    toxicity: float = 1.0

    def toxic(self) -> Toxic:
        """The typed toxic for :class:`chaoskit.network.ToxiproxyClient`."""
        from ..network import TOXIC_TYPES

        return TOXIC_TYPES[self.type](**self.attributes, stream=self.stream, toxicity=self.toxicity)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Phase:
    """One step of the method: from ``start`` (seconds after the run starts) for ``duration``, then a pause."""

    name: str
    start: float
    duration: float
    pause_after: float
    faults: tuple[FaultSpec, ...]
    toxics: tuple[ToxicSpec, ...]

    @property
    def end(self) -> float:
        """When its faults come off, in seconds after the run starts."""
        return self.start + self.duration

    @property
    def injects(self) -> str:
        """What it puts on, in words: ``openai.server_error, toxic latency on redis`` or ``no fault``."""
        return ", ".join([f.fault for f in self.faults] + [f"toxic {t.type} on {t.name}" for t in self.toxics]) or "no fault"


# ---- probes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonCheck:
    """A check on the value at ``path`` in a JSON response."""

    path: str
    expect: Comparison


@dataclass(frozen=True)
class HttpExpect:
    """What an http probe's response must look like."""

    status: StatusRanges = field(default_factory=lambda: StatusRanges.parse("200-399"))
    json: tuple[JsonCheck, ...] = ()
    contains: str | None = None
    matches: str | None = None
    max_latency: float | None = None


@dataclass(frozen=True)
class HttpCheck:
    """An http probe: one request (``json`` None: no JSON body) and its expectations."""

    method: str
    url: str
    headers: Mapping[str, str]
    json: JsonValue
    body: str | None
    expect: HttpExpect


@dataclass(frozen=True)
class TurnExpect:
    """What one answer of a conversation must look like."""

    status: StatusRanges = field(default_factory=lambda: StatusRanges.parse("200-299"))
    graceful: bool = True
    contains: str | None = None
    handoff: bool | None = None
    headers: Mapping[str, Comparison] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Turn:
    """One user message of a conversation, and the checks on its answer."""

    user: str
    expect: TurnExpect


@dataclass(frozen=True)
class ConversationCheck:
    """A conversation probe: turns sent to ``url`` with the ``body`` template, the answer read at ``reply``."""

    url: str
    method: str
    headers: Mapping[str, str]
    body: Mapping[str, JsonValue]
    reply: str
    handoff_marker: str | None
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class PythonCheck:
    """A python probe: ``module:attribute`` called with ``arguments``; healthy when truthy (or ``expect`` holds)."""

    callable: str
    arguments: Mapping[str, JsonValue]
    expect: Comparison | None


@dataclass(frozen=True)
class PrometheusCheck:
    """A prometheus probe: ``metric`` (with ``labels``) from a /metrics page, or ``query`` to a Prometheus API."""

    url: str
    metric: str | None
    labels: Mapping[str, str]
    query: str | None
    aggregate: Literal["sum", "max", "min", "avg", "count"]
    expect: Comparison


@dataclass(frozen=True)
class LatencyBound:
    """``percentile`` of a window's durations must stay below ``below`` seconds."""

    percentile: float
    below: float


@dataclass(frozen=True)
class WindowCheck:
    """Checks over the results of the last ``span`` seconds of a repeated probe."""

    span: float = 30.0
    success_ratio: float | None = None
    latency_percentile: LatencyBound | None = None


@dataclass(frozen=True)
class Probe:
    """A check of the application's health; ``check`` holds what its ``type`` needs.

    ``attempts`` are made ``interval`` apart; ``eventually_within``, when set, replaces them:
    the probe is retried until it passes or that many seconds have passed.
    """

    name: str
    type: ProbeType
    check: HttpCheck | ConversationCheck | PythonCheck | PrometheusCheck
    mode: ProbeMode = "both"
    interval: float = 5.0
    timeout: float = 10.0
    attempts: int = 1
    eventually_within: float | None = None
    window: WindowCheck | None = None

    @property
    def before(self) -> bool:
        """Runs before the method (mode before or both)."""
        return self.mode in ("before", "both")

    @property
    def after(self) -> bool:
        """Runs after the method (mode after or both)."""
        return self.mode in ("after", "both")


@dataclass(frozen=True)
class StopCondition:
    """When to abort: probe ``probe`` failing, or a threshold over its window, held for ``held_for`` seconds."""

    probe: str
    success_ratio_below: float | None = None
    latency_above: float | None = None
    percentile: float = 95.0
    span: float = 30.0
    held_for: float = 0.0

    def breached(self, window: ProbeWindow, now: float) -> str | None:
        """Why the run must stop, or None; ``window`` holds the probe's results, ``now`` is monotonic time."""
        since = window.held_since(self._failing, now)
        if since is None or now - since < self.held_for:
            return None
        reason = self._failing(window, now)
        held = f", held for {format_seconds(now - since)}" if self.held_for else ""
        return f"stop condition on probe {self.probe!r}: {reason}{held}"

    def _failing(self, window: ProbeWindow, at: float) -> str | None:
        if self.success_ratio_below is None and self.latency_above is None:
            latest = window.latest(at)
            return None if latest is None or latest.ok else f"the probe failed: {latest.detail}"
        reasons = []
        if self.success_ratio_below is not None:
            ratio = window.success_ratio(at, self.span)
            if ratio is not None and ratio < self.success_ratio_below:
                reasons.append(f"success ratio {ratio:.2f} < {self.success_ratio_below:g} over the last {format_seconds(self.span)}")
        if self.latency_above is not None:
            latency = window.latency_percentile(self.percentile, at, self.span)
            if latency is not None and latency > self.latency_above:
                reasons.append(f"p{self.percentile:g} latency {latency:.3f} s > {format_seconds(self.latency_above)} "
                               f"over the last {format_seconds(self.span)}")
        return "; ".join(reasons) or None


# ---- safety, load, report, the scenario ----------------------------------------------------------


@dataclass(frozen=True)
class Blackout:
    """A time range (UTC) starting on ``days`` (0 is Monday); ``end`` before ``start`` runs into the next day."""

    days: tuple[int, ...]
    start: dt.time
    end: dt.time

    def covers(self, when: dt.datetime) -> bool:
        """``when`` (aware, or naive UTC) falls in the range."""
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        clock = when.time()
        if self.start <= self.end:
            return when.weekday() in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return when.weekday() in self.days
        return (when.weekday() - 1) % 7 in self.days and clock < self.end

    def __str__(self) -> str:
        days = ",".join(WEEKDAYS[d] for d in self.days) if len(self.days) < 7 else "every day"
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} UTC"


@dataclass(frozen=True)
class Safety:
    """Limits on a run: its longest duration, faults active at once, blackout times, a kill-switch file."""

    max_duration: float = 3600.0
    max_active_faults: int = 10
    blackout: tuple[Blackout, ...] = ()
    kill_switch: Path | None = None

    def blackout_at(self, when: dt.datetime) -> Blackout | None:
        """The blackout range ``when`` falls in, or None."""
        return next((b for b in self.blackout if b.covers(when)), None)

    def kill_switch_engaged(self) -> bool:
        """The kill-switch file exists: the run must not start, or must stop."""
        return self.kill_switch is not None and self.kill_switch.exists()


@dataclass(frozen=True)
class Load:
    """Traffic for the run (kept as data; Locust sends it to ``path`` on ``target.url``). ``conversations`` are
    lists of user messages, or they are in ``conversations_file``; with neither, the conversation probes' turns
    are used."""

    users: int
    spawn_rate: float
    duration: float
    workers: int = 0
    path: str = "/chat"
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: Mapping[str, JsonValue] | None = None
    conversations: tuple[tuple[str, ...], ...] = ()
    conversations_file: Path | None = None


@dataclass(frozen=True)
class Report:
    """Where the run's reports go, and which are written."""

    directory: Path = Path("chaoskit-reports")
    formats: tuple[Literal["json", "junit", "html"], ...] = ("json", "junit", "html")


@dataclass(frozen=True)
class Scenario:
    """A checked scenario file; ``file`` is where it was read from."""

    file: Path | None
    title: str
    target: Target
    method: tuple[Phase, ...]
    description: str = ""
    tags: tuple[str, ...] = ()
    seed: int | None = None
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    proxy: Proxy | None = None
    toxiproxy: str | None = None
    steady_state: tuple[Probe, ...] = ()
    stop_conditions: tuple[StopCondition, ...] = ()
    rollback: tuple[Probe, ...] = ()
    safety: Safety = field(default_factory=Safety)
    load: Load | None = None
    report: Report = field(default_factory=Report)

    @property
    def duration(self) -> float:
        """When the method ends (the last phase's end or pause), in seconds after the run starts."""
        return max((p.end + p.pause_after for p in self.method), default=0.0)

    @property
    def faults(self) -> tuple[FaultSpec, ...]:
        """Every fault of every phase, in order."""
        return tuple(f for p in self.method for f in p.faults)

    @property
    def toxics(self) -> tuple[ToxicSpec, ...]:
        """Every toxic of every phase, in order."""
        return tuple(t for p in self.method for t in p.toxics)

    def probe(self, name: str) -> Probe:
        """The steady-state probe called ``name`` (KeyError if there is none)."""
        for probe in self.steady_state:
            if probe.name == name:
                return probe
        raise KeyError(name)

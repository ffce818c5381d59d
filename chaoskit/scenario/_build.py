"""From a schema-checked document to a :class:`Scenario`, with the checks the schema cannot make.

Those checks: fault ids and their parameters against the catalog, schedules, upstreams, toxic
attributes, JSON paths and regular expressions, probe names, phases that start out of order
or inject the same fault at once, more active faults than allowed, a method longer than
``safety.max_duration``, and a production target. Parts the schema already rejected are
skipped, so every problem is reported once; the scenario is built only when there are none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from .. import faults
from .._errors import ChaosConfigError, UnknownFaultError
from .._schedule import Schedule
from ._model import (
    TTL_MARGIN,
    WEEKDAYS,
    Blackout,
    ConversationCheck,
    FaultSpec,
    HttpCheck,
    HttpExpect,
    JsonCheck,
    LatencyBound,
    Load,
    Match,
    Phase,
    Probe,
    PrometheusCheck,
    Proxy,
    PythonCheck,
    Report,
    Safety,
    Scenario,
    StopCondition,
    Target,
    ToxicSpec,
    Turn,
    TurnExpect,
    Upstream,
    WindowCheck,
)
from ._problems import FieldPath, Problem, format_path
from ._values import Comparison, StatusRanges, format_seconds, json_path, parse_duration
from ._yaml import Document

__all__ = ["build"]

#: Providers whose faults act inside a process, not on HTTP traffic: no proxy upstream serves them.
_IN_PROCESS = {"tool": "Python callables inside a process", "net": "TCP connections (put it under toxics)"}
_DEFAULT_BODY: Mapping[str, Any] = MappingProxyType({"message": "{{message}}", "conversation_id": "{{conversation_id}}"})
_TOXIC_FIELDS = {"stream", "toxicity", "name"}

Raw = Mapping[str, Any]


def build(doc: Document, prior: Sequence[Problem], file: Path | None) -> tuple[Scenario | None, list[Problem]]:
    """The scenario, or None, and the problems found beyond ``prior`` (the schema's)."""
    builder = _Builder(doc, prior, file)
    scenario = builder.scenario()
    return (scenario if not prior and not builder.problems else None), builder.problems


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def _seconds(value: Any, default: float | None = None) -> float:
    return default if value is None and default is not None else parse_duration(value)


class _Builder:
    def __init__(self, doc: Document, prior: Sequence[Problem], file: Path | None) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.broken = [p.field for p in prior]
        self.file = file
        self.target: Target | None = None
        self.proxy: Proxy | None = None
        self.fault_checked: dict[FieldPath, Any] = {}

    # -- helpers

    def bad(self, path: FieldPath) -> bool:
        """The schema found a problem at or under ``path``."""
        name = format_path(path)
        return any(f == name or f.startswith((name + ".", name + "[")) or not name for f in self.broken)

    def items(self, parent: FieldPath, items: object) -> tuple[list[tuple[FieldPath, Raw]], bool]:
        """The items of the list at ``parent`` that the schema found nothing wrong with, with their paths,
        and whether that is all of them."""
        if not isinstance(items, list) or self.at(parent):
            return [], False
        good = [((*parent, index), raw) for index, raw in enumerate(items) if not self.bad((*parent, index))]
        return good, len(good) == len(items)

    def at(self, path: FieldPath) -> bool:
        """The schema found a problem with ``path`` itself (a missing field, a wrong type)."""
        return format_path(path) in self.broken

    def add(self, path: FieldPath, message: str, suggestion: str | None = None) -> None:
        self.problems.append(self.doc.problem(path, message, suggestion))

    def url(self, path: FieldPath, value: str) -> str:
        """``value`` joined to ``target.url`` when it is a path."""
        if re.match(r"^https?://", value):
            return value
        if not value.startswith("/"):
            self.add(path, f"{value!r} must be a path that starts with / or an http:// or https:// URL")
        return (self.target.url.rstrip("/") if self.target else "") + value

    def compiled(self, path: FieldPath, pattern: str | None) -> None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.add(path, f"{pattern!r} is not a regular expression: {exc}")

    def comparison(self, path: FieldPath, raw: Raw) -> Comparison:
        self.compiled((*path, "matches"), raw.get("matches"))
        return Comparison.from_mapping(raw)

    def statuses(self, path: FieldPath, raw: Any, default: str) -> StatusRanges:
        try:
            return StatusRanges.parse(default if raw is None else raw)
        except ValueError as exc:
            self.add(path, str(exc))
            return StatusRanges.parse(default)

    # -- the scenario

    def scenario(self) -> Scenario | None:
        data = self.doc.data
        if not isinstance(data, Mapping):
            return None
        if not self.bad(("target",)) and isinstance(data.get("target"), Mapping):
            self.target = self._target(data["target"])
        if isinstance(data.get("proxy"), Mapping) and not self.bad(("proxy",)):
            self.proxy = self._proxy(data["proxy"])
        self._fault_ids(data.get("method"))
        safety = self._safety(data.get("safety") or {}) if not self.bad(("safety",)) else None
        probes = self._probes("steady_state", data.get("steady_state") or [])
        rollback = self._probes("rollback", data.get("rollback") or [], actions=True)
        method = self._method(data.get("method") or [], safety, has_proxy="proxy" in data)
        stops = self._stops(data.get("stop_conditions") or [], probes)
        load = self._load(data["load"], safety) if isinstance(data.get("load"), Mapping) and not self.bad(("load",)) else None
        report = self._report(data["report"]) if isinstance(data.get("report"), Mapping) and not self.bad(("report",)) else Report()
        if self.target is None or safety is None or method is None or probes is None or rollback is None or stops is None:
            return None
        return Scenario(
            file=self.file, title=data["title"], target=self.target, method=method,
            description=data.get("description", ""), tags=tuple(data.get("tags") or ()), seed=data.get("seed"),
            variables=_frozen({k: str(v) for k, v in (data.get("variables") or {}).items()}),
            proxy=self.proxy, toxiproxy=data.get("toxiproxy"), steady_state=probes, stop_conditions=stops,
            rollback=rollback, safety=safety, load=load, report=report,
        )

    def _target(self, raw: Raw) -> Target:
        target = Target(raw["url"].rstrip("/"), raw.get("environment", "staging"), raw.get("allow_production", False))
        if target.is_production and not target.allow_production:
            self.add(("target", "environment"), f"the target is {target.environment!r}: a scenario runs against production "
                     "only with target.allow_production: true (and --i-accept-production-risk on the command line)")
        return target

    def _proxy(self, raw: Raw) -> Proxy:
        providers = sorted({i.partition(".")[0] for i in faults.ids()} - set(_IN_PROCESS))
        upstreams = {}
        for name, value in (raw.get("upstreams") or {}).items():
            url, provider = (value, None) if isinstance(value, str) else (value["url"], value.get("provider"))
            if provider is None:
                provider = name if name in providers else "http"
            elif provider not in providers:
                close = difflib.get_close_matches(provider, providers, n=1)
                self.add(("proxy", "upstreams", name, "provider"),
                         f"unknown provider {provider!r}; the catalog's are: {', '.join(providers)}", close[0] if close else None)
            upstreams[name] = Upstream(name, url.rstrip("/"), provider)
        return Proxy(listen=raw.get("listen", Proxy.listen), control=raw.get("control", Proxy.control),
                     token=raw.get("token"), upstreams=MappingProxyType(upstreams), url=raw.get("url"))

    # -- probes

    def _probes(self, section: str, items: list[Raw], *, actions: bool = False) -> tuple[Probe, ...] | None:
        probes: list[Probe] = []
        first: dict[str, int] = {}
        good, ok = self.items((section,), items)
        for path, raw in good:
            name = raw["name"]
            if name in first:
                self.add((*path, "name"), f"probe name {name!r} is used twice (first on line {first[name]})")
            first.setdefault(name, self.doc.line((*path, "name")))
            if actions and raw["type"] not in ("http", "python"):
                self.add((*path, "type"), f"a rollback action is an http or python probe, not {raw['type']}")
            probes.append(self._probe(path, raw))
        return tuple(probes) if ok else None

    def _probe(self, path: FieldPath, raw: Raw) -> Probe:
        kind = raw["type"]
        check: HttpCheck | ConversationCheck | PythonCheck | PrometheusCheck
        if kind == "http":
            check = self._http(path, raw)
        elif kind == "conversation":
            check = self._conversation(path, raw)
        elif kind == "python":
            check = PythonCheck(raw["callable"], _frozen(raw.get("arguments")),
                                self.comparison((*path, "expect"), raw["expect"]) if "expect" in raw else None)
        else:
            check = PrometheusCheck(self.url((*path, "url"), raw["url"]), raw.get("metric"), _frozen(raw.get("labels")),
                                    raw.get("query"), raw.get("aggregate", "sum"), self.comparison((*path, "expect"), raw["expect"]))
        window = None
        mode = raw.get("mode", "both")
        if "window" in raw:
            w = raw["window"]
            bound = w.get("latency_percentile")
            window = WindowCheck(
                _seconds(w.get("span"), 30.0), w.get("success_ratio"),
                LatencyBound(bound.get("percentile", 95), parse_duration(bound["below"])) if bound else None)
            if mode not in ("continuous", "during_fault"):
                self.add((*path, "window"), f"a window is filled by repeated runs: it needs mode continuous or during_fault, not {mode}")
        eventually = raw.get("eventually_within")
        return Probe(
            name=raw["name"], type=kind, check=check, mode=mode, interval=_seconds(raw.get("interval"), 5.0),
            timeout=_seconds(raw.get("timeout"), 10.0), attempts=raw.get("attempts", 1),
            eventually_within=None if eventually is None else parse_duration(eventually), window=window,
        )

    def _http(self, path: FieldPath, raw: Raw) -> HttpCheck:
        expect = raw.get("expect") or {}
        checks = []
        for index, item in enumerate(expect.get("json") or []):
            where = (*path, "expect", "json", index)
            try:
                json_path(item["path"])
            except ValueError as exc:
                self.add((*where, "path"), str(exc))
            checks.append(JsonCheck(item["path"], self.comparison(where, item)))
        for key in ("matches",):
            self.compiled((*path, "expect", key), expect.get(key))
        if "json" in raw and "body" in raw:
            self.add((*path, "body"), "give json or body, not both")
        max_latency = expect.get("max_latency")
        return HttpCheck(
            raw.get("method", "GET"), self.url((*path, "url"), raw["url"]), _frozen(raw.get("headers")), raw.get("json"),
            raw.get("body"), HttpExpect(self.statuses((*path, "expect", "status"), expect.get("status"), "200-399"),
                                        tuple(checks), expect.get("contains"), expect.get("matches"),
                                        None if max_latency is None else parse_duration(max_latency)),
        )

    def _conversation(self, path: FieldPath, raw: Raw) -> ConversationCheck:
        reply = raw.get("reply", "$.text")
        try:
            json_path(reply)
        except ValueError as exc:
            self.add((*path, "reply"), str(exc))
        turns = []
        for index, turn in enumerate(raw["turns"]):
            expect = turn.get("expect") or {}
            where = (*path, "turns", index, "expect")
            if "handoff" in expect and "handoff_marker" not in raw:
                self.add((*where, "handoff"), "expect.handoff needs the probe's handoff_marker (the text that shows a person took over)")
            headers = {name: self.comparison((*where, "headers", name), c) for name, c in (expect.get("headers") or {}).items()}
            turns.append(Turn(turn["user"], TurnExpect(
                self.statuses((*where, "status"), expect.get("status"), "200-299"), expect.get("graceful", True),
                expect.get("contains"), expect.get("handoff"), MappingProxyType(headers))))
        return ConversationCheck(
            self.url((*path, "url"), raw.get("url", "/chat")), raw.get("method", "POST"), _frozen(raw.get("headers")),
            _frozen(raw.get("body", _DEFAULT_BODY)), reply, raw.get("handoff_marker"), tuple(turns))

    # -- the method

    def _method(self, items: list[Raw], safety: Safety | None, *, has_proxy: bool) -> tuple[Phase, ...] | None:
        phases: list[Phase] = []
        timeline = isinstance(items, list)
        items = items if timeline else []
        following = 0.0  # when a phase without start begins
        for index, raw in enumerate(items):
            path: FieldPath = ("method", index)
            if not isinstance(raw, Mapping) or self.at(path) or any(self.bad((*path, k)) for k in ("start", "duration", "pause_after")):
                timeline = False
                continue
            duration = parse_duration(raw["duration"])
            start = parse_duration(raw["start"]) if "start" in raw else following
            if phases and timeline and start < phases[-1].start:
                self.add((*path, "start"), f"starts at {format_seconds(start)}, before the phase listed before it "
                         f"({phases[-1].name!r}, at {format_seconds(phases[-1].start)}): list phases in the order they start")
            pause = _seconds(raw.get("pause_after"), 0.0)
            following = start + duration + pause
            fault_specs = self._faults(path, raw.get("faults") or [], duration, has_proxy)
            toxics = self._toxics(path, raw.get("toxics") or [])
            if fault_specs is None or toxics is None:
                timeline = False
                continue
            phases.append(Phase(raw["name"], start, duration, pause, fault_specs, toxics))
        if not timeline:
            return None
        self._overlaps(phases)
        self._toxic_proxies(phases)
        if safety is not None:
            self._limits(phases, safety)
        return tuple(phases)

    def _faults(self, phase: FieldPath, items: list[Raw], duration: float, has_proxy: bool) -> tuple[FaultSpec, ...] | None:
        specs = []
        good, ok = self.items((*phase, "faults"), items)
        for path, raw in good:
            fault_id = raw["fault"]
            fault = self.catalog_fault(path, raw)
            params = raw.get("params") or {}
            window = None
            if "window" in raw:
                start, end = raw["window"]
                window = (parse_duration(start), None if end is None else parse_duration(end))
                if window[0] >= duration:
                    self.add((*path, "window"), f"starts at {format_seconds(window[0])}, when the phase "
                             f"({format_seconds(duration)}) is over: the fault would never fire")
            sequence = tuple(item == "fail" for item in raw["sequence"]) if "sequence" in raw else None
            try:
                Schedule(rate=raw.get("rate", 1.0), times=raw.get("times"), after=raw.get("after", 0),
                         window=window, sequence=sequence)
            except ChaosConfigError as exc:
                self.add(path, str(exc))
            upstream = self._upstream(path, raw.get("upstream"), fault, has_proxy)
            m = raw.get("match") or {}
            specs.append(FaultSpec(
                fault=fault_id, params=_frozen(params), rate=float(raw.get("rate", 1.0)), times=raw.get("times"),
                after=raw.get("after", 0), window=window, sequence=sequence,
                ttl=parse_duration(raw["ttl"]) if "ttl" in raw else duration + TTL_MARGIN, upstream=upstream,
                match=Match(float(m.get("percent", 100)), _frozen(m.get("headers")), tuple(m.get("models") or ()),
                            tuple(m.get("routes") or ())),
            ))
        return tuple(specs) if ok else None

    def _fault_ids(self, items: object) -> None:
        """Every fault id and parameter that the schema let through, even in a phase it rejected."""
        for index, phase in enumerate(items if isinstance(items, list) else []):
            specs = phase.get("faults") if isinstance(phase, Mapping) else None
            for n, raw in enumerate(specs if isinstance(specs, list) else []):
                path = ("method", index, "faults", n)
                if isinstance(raw, Mapping) and isinstance(raw.get("fault"), str) and not self.bad((*path, "fault")):
                    self.fault_checked[path] = self._catalog_fault(path, raw)

    def catalog_fault(self, path: FieldPath, raw: Raw) -> Any:
        """The catalog fault of the spec at ``path`` (checked by :meth:`_fault_ids`), or None."""
        return self.fault_checked.get(path)

    def _catalog_fault(self, path: FieldPath, raw: Raw) -> Any:
        fault_id = raw["fault"]
        try:
            fault = faults.get(fault_id)
        except UnknownFaultError as exc:
            self.add((*path, "fault"), f"unknown fault id {fault_id!r}", exc.suggestions[0] if exc.suggestions else None)
            return None
        if fault.provider in _IN_PROCESS:
            self.add((*path, "fault"), f"{fault_id!r} acts on {_IN_PROCESS[fault.provider]}; "
                     "a scenario's faults act on HTTP traffic through the chaos proxy")
        params = raw.get("params")
        for key, value in (params if isinstance(params, Mapping) and not self.bad((*path, "params")) else {}).items():
            try:
                faults.get(fault_id, **{key: value})
            except ChaosConfigError as exc:
                close = difflib.get_close_matches(key, list(fault.params), n=1) if key not in fault.params else []
                self.add((*path, "params", key), str(exc), close[0] if close else None)
        return fault

    def _upstream(self, path: FieldPath, name: str | None, fault: Any, has_proxy: bool) -> str | None:
        proxy = self.proxy
        if proxy is None:
            if not has_proxy:
                self.add(path, "faults act through the chaos proxy: add a proxy section (upstreams to start one, "
                         "or url of one that is running)")
            return name
        upstreams = proxy.upstreams
        if name is not None:
            if upstreams and name not in upstreams:
                close = difflib.get_close_matches(name, list(upstreams), n=1)
                self.add((*path, "upstream"), f"no upstream {name!r} in proxy.upstreams ({', '.join(upstreams)})",
                         close[0] if close else None)
            elif upstreams and fault is not None and fault.provider not in ("http", upstreams[name].provider):
                self.add((*path, "upstream"), f"{fault.id!r} is a fault of {fault.provider}, but upstream {name!r} "
                         f"serves {upstreams[name].provider}")
            return name
        if not upstreams or fault is None or fault.provider in _IN_PROCESS:
            return None
        serving = [u.name for u in upstreams.values() if u.provider == fault.provider]
        if len(serving) == 1:
            return serving[0]
        if serving:
            self.add(path, f"upstreams {', '.join(serving)} all serve {fault.provider}: say which with upstream:")
        else:
            self.add(path, f"no upstream serves {fault.provider} for {fault.id!r}: add one to proxy.upstreams "
                     f"(e.g. {fault.provider}: URL, or provider: {fault.provider}), or name one with upstream:")
        return None

    def _toxics(self, phase: FieldPath, items: list[Raw]) -> tuple[ToxicSpec, ...] | None:
        from ..network import TOXIC_TYPES

        specs = []
        good, ok = self.items((*phase, "toxics"), items)
        for path, raw in good:
            kind = raw["type"]
            known = [f.name for f in dataclasses.fields(TOXIC_TYPES[kind]) if f.name not in _TOXIC_FIELDS]
            for key in raw.get("attributes") or {}:
                if key not in known:
                    close = difflib.get_close_matches(key, known, n=1)
                    self.add((*path, "attributes", key), f"toxic {kind!r} has no attribute {key!r}; its attributes are: "
                             f"{', '.join(known)}", close[0] if close else None)
            specs.append(ToxicSpec(raw["name"], raw["listen"], raw["upstream"], kind, _frozen(raw.get("attributes")),
                                   raw.get("stream", "downstream"), float(raw.get("toxicity", 1.0))))
        return tuple(specs) if ok else None

    def _overlaps(self, phases: list[Phase]) -> None:
        """The same fault on the same upstream and requests, or the same toxic, twice at once."""
        seen: list[tuple[object, Phase]] = []
        for index, phase in enumerate(phases):
            keys: list[tuple[FieldPath, object, str]] = [
                (("method", index, "faults", n, "fault"), ("fault", f.fault, f.upstream, f.match),
                 f"{f.fault!r}" + (f" on upstream {f.upstream!r}" if f.upstream else "")) for n, f in enumerate(phase.faults)
            ] + [
                (("method", index, "toxics", n, "type"), ("toxic", t.name, t.type, t.stream),
                 f"a {t.type} toxic ({t.stream}) on {t.name!r}") for n, t in enumerate(phase.toxics)
            ]
            mine: list[tuple[object, Phase]] = []
            for path, key, what in keys:
                for other_key, other in seen + mine:
                    if other_key == key and other.start < phase.end and phase.start < other.end:
                        if other is phase:
                            self.add(path, f"{what} is in this phase twice: one injection at a time")
                        else:
                            self.add(path, f"{what} is already injected by phase {other.name!r} ({format_seconds(other.start)}-"
                                     f"{format_seconds(other.end)}), which overlaps this one ({format_seconds(phase.start)}-"
                                     f"{format_seconds(phase.end)}): one injection at a time")
                        break
                mine.append((key, phase))
            seen += mine

    def _toxic_proxies(self, phases: list[Phase]) -> None:
        """One Toxiproxy proxy name means one listen and one upstream address."""
        declared: dict[str, tuple[str, str, int]] = {}
        for index, phase in enumerate(phases):
            for n, toxic in enumerate(phase.toxics):
                path = ("method", index, "toxics", n, "name")
                if toxic.name not in declared:
                    declared[toxic.name] = (toxic.listen, toxic.upstream, self.doc.line(path))
                elif declared[toxic.name][:2] != (toxic.listen, toxic.upstream):
                    listen, upstream, line = declared[toxic.name]
                    self.add(path, f"proxy {toxic.name!r} is {listen} -> {upstream} on line {line}, "
                             f"here {toxic.listen} -> {toxic.upstream}: give each address pair its own name")

    def _limits(self, phases: list[Phase], safety: Safety) -> None:
        events = sorted((t, delta, i) for i, p in enumerate(phases) if p.faults or p.toxics
                        for t, delta in ((p.start, len(p.faults) + len(p.toxics)), (p.end, -len(p.faults) - len(p.toxics))))
        active: dict[int, int] = {}
        reported = False
        for when, delta, index in events:  # ends sort before starts at the same time
            if delta < 0:
                active.pop(index, None)
                continue
            active[index] = delta
            total = sum(active.values())
            if total > safety.max_active_faults and not reported:
                names = ", ".join(repr(phases[i].name) for i in sorted(active))
                self.add(("method", index), f"{total} faults and toxics are active at {format_seconds(when)} "
                         f"(phases {names}), more than safety.max_active_faults ({safety.max_active_faults})")
                reported = True
        if phases:
            last = max(range(len(phases)), key=lambda i: phases[i].end + phases[i].pause_after)
            end = phases[last].end + phases[last].pause_after
            if end > safety.max_duration:
                self.add(("method", last), f"the method runs until {format_seconds(end)}, past safety.max_duration "
                         f"({format_seconds(safety.max_duration)})")

    # -- the rest

    def _stops(self, items: list[Raw], probes: tuple[Probe, ...] | None) -> tuple[StopCondition, ...] | None:
        stops = []
        by_name = {p.name: p for p in probes or ()}
        if not isinstance(items, list) or self.bad(("stop_conditions",)):
            return None
        for index, raw in enumerate(items):
            path: FieldPath = ("stop_conditions", index)
            if self.bad(path):
                return None
            probe = by_name.get(raw["probe"])
            if probe is None and probes is not None:
                close = difflib.get_close_matches(raw["probe"], list(by_name), n=1)
                self.add((*path, "probe"), f"no steady_state probe is called {raw['probe']!r}", close[0] if close else None)
            elif probe is not None and probe.mode not in ("continuous", "during_fault"):
                when = {"before": "before", "after": "after", "both": "before and after"}[probe.mode]
                self.add((*path, "probe"), f"probe {probe.name!r} runs only {when} the method (mode {probe.mode}): "
                         "a stop condition watches a probe with mode continuous or during_fault")
            if "success_ratio_below" not in raw and "latency_above" not in raw and "percentile" in raw:
                self.add((*path, "percentile"), "percentile goes with latency_above")
            default_span = probe.window.span if probe is not None and probe.window is not None else 30.0
            latency = raw.get("latency_above")
            stops.append(StopCondition(
                raw["probe"], raw.get("success_ratio_below"), None if latency is None else parse_duration(latency),
                raw.get("percentile", 95), _seconds(raw.get("span"), default_span), _seconds(raw.get("held_for"), 0.0)))
        return tuple(stops)

    def _safety(self, raw: Raw) -> Safety:
        blackouts = []
        for item in raw.get("blackout") or []:
            days = tuple(WEEKDAYS.index(d) for d in item.get("days", WEEKDAYS))
            blackouts.append(Blackout(days, dt.time.fromisoformat(item["start"]), dt.time.fromisoformat(item["end"])))
        switch = raw.get("kill_switch")
        return Safety(_seconds(raw.get("max_duration"), 3600.0), raw.get("max_active_faults", 10), tuple(blackouts),
                      None if switch is None else Path(switch))

    def _load(self, raw: Raw, safety: Safety | None) -> Load:
        duration = parse_duration(raw["duration"])
        if safety is not None and duration > safety.max_duration:
            self.add(("load", "duration"), f"{format_seconds(duration)} is past safety.max_duration "
                     f"({format_seconds(safety.max_duration)})")
        conversations = raw.get("conversations")
        file = None
        if isinstance(conversations, str):
            base = self.file.parent if self.file is not None else Path.cwd()
            file = base / conversations
            if not file.is_file():
                self.add(("load", "conversations"), f"no such file: {file}")
            conversations = None
        return Load(
            users=raw["users"], spawn_rate=float(raw.get("spawn_rate", raw["users"])), duration=duration,
            workers=raw.get("workers", 0), path=raw.get("path", "/chat"),
            headers=_frozen(raw.get("headers")), body=_frozen(raw["body"]) if "body" in raw else None,
            conversations=tuple(tuple(c) for c in conversations or ()), conversations_file=file,
        )

    def _report(self, raw: Raw) -> Report:
        return Report(Path(raw.get("directory", "chaoskit-reports")),
                      cast(Any, tuple(raw.get("formats", ("json", "junit", "html")))))

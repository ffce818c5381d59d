"""``chaoskit run``: one scenario's timeline against a deployed app, through a chaos proxy.

The order, Chaos Toolkit's shape with Litmus's probe modes: refuse what must not run (a
production target not accepted twice, a blackout, the kill switch); reach the proxy (start one,
or use the scenario's) and the target; check the steady state before; start the load; run the
phases, putting each phase's faults on the proxy with a short lease that is renewed while the
phase lasts (so a runner that dies leaves nothing on beyond the lease), while continuous and
during-fault probes run and stop conditions are watched; roll back, always; check the steady
state after; write the reports. Exit codes: :data:`EXIT_HELD`, :data:`EXIT_DEVIATED`,
:data:`EXIT_INVALID`, :data:`EXIT_INFRA`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx

from .._errors import ChaosError
from ._control import ControlError, ProxyControl
from ._events import EventLog, RunEvent
from ._proxyproc import InfrastructureError, ProxyProcess

if TYPE_CHECKING:
    from ..load import LoadResult
    from ..scenario import FaultSpec, Phase, Probe, ProbeResult, Scenario

__all__ = ["EXIT_DEVIATED", "EXIT_HELD", "EXIT_INFRA", "EXIT_INVALID", "RunOptions", "RunResult", "Runner", "Status"]

EXIT_HELD, EXIT_DEVIATED, EXIT_INVALID, EXIT_INFRA = 0, 1, 2, 3
#: ``held``: the steady state held; ``deviated``: it did not (a probe, a stop condition);
#: ``aborted``: stopped from outside (a signal, the kill switch, a safety limit) before the end;
#: ``invalid``: refused before anything was touched; ``infrastructure``: the proxy or the target
#: was not there.
Status = Literal["held", "deviated", "aborted", "invalid", "infrastructure"]
EXIT_CODES: dict[str, int] = {"held": EXIT_HELD, "deviated": EXIT_DEVIATED, "aborted": EXIT_DEVIATED,
                              "invalid": EXIT_INVALID, "infrastructure": EXIT_INFRA}
#: How often the guards look at the kill switch, the clock and the abort flag.
GUARD_SECONDS = 0.05
#: How often the guard asks the proxy whether its kill switch (POST /halt) was pulled.
HALT_POLL_SECONDS = 0.5


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RunOptions:
    """How to run: ``accept_production_risk`` (the CLI's ``--i-accept-production-risk``);
    ``report_dir`` overrides the scenario's; ``lease`` is the TTL a fault is put on with, renewed
    every third of it (a dead runner's faults expire within it); ``token`` for a proxy the
    scenario names by URL (else the scenario's, else ``$CHAOSKIT_PROXY_TOKEN``)."""

    accept_production_risk: bool = False
    report_dir: Path | None = None
    lease: float = 10.0
    token: str | None = None
    now: Callable[[], dt.datetime] = _utcnow


@dataclass
class RunResult:
    """How a run ended, and everything the reports show."""

    scenario: Scenario
    status: Status = "held"
    reasons: list[str] = field(default_factory=list)
    events: list[RunEvent] = field(default_factory=list)
    probes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    injections: list[dict[str, Any]] = field(default_factory=list)
    load: LoadResult | None = None
    started: str = ""
    duration: float = 0.0
    seed: int | None = None
    reports: dict[str, Path] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def deviate(self, reason: str, status: Status = "deviated") -> None:
        """Record why the steady state did not hold (the first non-held status wins)."""
        if reason not in self.reasons:
            self.reasons.append(reason)
        if self.status == "held":
            self.status = status


@dataclass
class _OnProxy:
    """A fault the run has on the proxy."""

    id: str
    spec: FaultSpec
    phase: str
    body: dict[str, Any]


class Runner:
    """Runs one scenario once; :meth:`abort` (from a signal handler) stops it early and cleanly."""

    def __init__(self, scenario: Scenario, options: RunOptions | None = None, log: EventLog | None = None) -> None:
        self.scenario = scenario
        self.options = options or RunOptions()
        self.log = log or EventLog()
        self.result = RunResult(scenario, seed=scenario.seed)
        self.on_proxy: dict[str, _OnProxy] = {}
        self.toxics: list[Any] = []
        self.control: ProxyControl | None = None
        self._abort: str | None = None
        self._stop_scope: anyio.CancelScope | None = None
        self._windows: dict[str, Any] = {}
        self._rolled_back = False
        self._faults_on = 0  # phases with faults on now: during_fault probes run while > 0
        self._journal_from = 0  # the proxy journal's index when the run began
        self._faults_off_at = 0.0  # when a phase last took its faults off
        self._calls: list[dict[str, Any]] = []

    # ---- from outside ------------------------------------------------------------------------
    def abort(self, reason: str) -> None:
        """Stop the run as soon as possible: faults off, rollback, reports (thread-safe enough for a signal handler)."""
        if self._abort is None:
            self._abort = reason

    def emergency_off(self) -> None:
        """Take this run's faults off at once, synchronously (a second Ctrl-C: no time for the rest)."""
        control = self.control
        if control is None:
            return
        for fault_id in list(self.on_proxy):
            try:
                httpx.delete(f"{control.url}/faults/{fault_id}", headers=control.headers, timeout=0.5, trust_env=False)
            except httpx.HTTPError:
                pass  # it expires by its lease

    # ---- the run -----------------------------------------------------------------------------
    async def run(self) -> RunResult:
        try:
            async with AsyncExitStack() as stack:
                app = await self._begin(stack)
                if app is None:
                    return self.result
                if not await self._steady(app, "before"):
                    self.result.deviate("the steady state did not hold before the method: no fault was put on")
                    return self.result
                load = await self._start_load(stack)
                try:
                    await self._method(app)
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._rollback(app)
                if self._abort is None and not await self._steady(app, "after"):
                    self.result.deviate("the steady state did not hold after the method")
                if load is not None:
                    self.result.load = await self._finish_load(load)
                await self._collect_injections()
        except (InfrastructureError, ControlError) as exc:
            self.result.deviate(str(exc), "infrastructure")
        finally:
            with anyio.CancelScope(shield=True):
                await self._rollback(None)
        return self.result

    async def _begin(self, stack: AsyncExitStack, kind: str = "", **data: Any) -> httpx.AsyncClient | None:
        """How every run starts (``kind`` names it on the timeline): the safety rules, the proxy,
        the target up. The app's client, or None when the rules refused the run (the reason is
        recorded, nothing was touched)."""
        s = self.scenario
        self.result.started = self.options.now().isoformat(timespec="seconds")
        self.log.emit("run.start", f"{kind}{s.title} (seed {s.seed})", target=s.target.url, seed=s.seed, **data)
        refusal = self._refusal()
        if refusal is not None:
            self.result.deviate(refusal, "invalid")
            return None
        await self._reach_proxy(stack)
        app = await stack.enter_async_context(httpx.AsyncClient(base_url=s.target.url, trust_env=False, timeout=30))
        await self._target_up(app)
        return app

    def _refusal(self) -> str | None:
        from ..scenario import production_refusal

        s = self.scenario
        refusal = production_refusal(s, self.options.accept_production_risk)
        if refusal is not None:
            return refusal
        blackout = s.safety.blackout_at(self.options.now())
        if blackout is not None:
            return f"refusing to run: now is in the scenario's blackout window ({blackout}); run it outside the window"
        if s.safety.kill_switch_engaged():
            return f"refusing to run: the kill-switch file {s.safety.kill_switch} exists; remove it to allow runs"
        if s.proxy is None and any(p.faults for p in s.method):
            return "the scenario has faults but no proxy section: say where the chaos proxy is or what it forwards to"
        return None

    def proxy_token(self) -> str | None:
        """The proxy's control token: ``options.token``, else the scenario's, else ``$CHAOSKIT_PROXY_TOKEN``."""
        import os

        proxy = self.scenario.proxy
        return self.options.token or (proxy.token if proxy else None) or os.environ.get("CHAOSKIT_PROXY_TOKEN")

    async def _reach_proxy(self, stack: AsyncExitStack) -> None:
        proxy = self.scenario.proxy
        if proxy is None:
            return
        token = self.proxy_token()
        if proxy.url is None:
            token = token or secrets.token_urlsafe(24)
            process = ProxyProcess(proxy, token=token, seed=self.scenario.seed or 0)
            url = await anyio.to_thread.run_sync(process.start)
            stack.callback(process.stop)
            # pid and control: what a clean-up after a killed run needs to stop this proxy (its token is not kept)
            self.log.emit("note", f"started a chaos proxy on {proxy.listen} (control {proxy.control})",
                          pid=process.process.pid if process.process else None, control=url)
        elif not token:
            raise InfrastructureError(f"the chaos proxy at {proxy.url} needs its control token: set proxy.token in the "
                                      "scenario (as ${CHAOSKIT_PROXY_TOKEN}) or CHAOSKIT_PROXY_TOKEN")
        else:
            url = proxy.url
        self.control = ProxyControl(url, token)
        stack.push_async_callback(self.control.aclose)
        health = await self.control.health()
        if self.scenario.seed is None:
            self.result.seed = health.get("seed")
        self._journal_from = int(health.get("requests", 0))

    async def _target_up(self, app: httpx.AsyncClient) -> None:
        url = self.scenario.target.url
        try:
            await app.get("/", timeout=5)
        except httpx.HTTPError as exc:
            raise InfrastructureError(f"the target {url} is down before the run ({type(exc).__name__}: {exc}); "
                                      "start the app, or fix target.url") from None

    # ---- probes ------------------------------------------------------------------------------
    async def _probe(self, probe: Probe, app: httpx.AsyncClient, when: str) -> ProbeResult:
        from ..scenario import run_probe

        result = await run_probe(probe, app)
        self._record(probe, result, when)
        return result

    def _record(self, probe: Probe, result: ProbeResult, when: str) -> None:
        from ..scenario import ProbeWindow

        entry = {"at": round(self.log.at(result.started), 3), "when": when, "ok": result.ok, "detail": result.detail,
                 "duration": round(result.duration, 4), "attempts": result.attempts}
        self.result.probes.setdefault(probe.name, []).append(entry)
        window = self._windows.setdefault(probe.name, ProbeWindow(probe.window.span if probe.window else 30.0))
        window.add(result)
        mark = "ok" if result.ok else "FAILED"
        self.log.emit("probe", f"{probe.name} ({when}): {mark}: {result.detail}", probe=probe.name, ok=result.ok, when=when)

    async def _steady(self, app: httpx.AsyncClient, when: Literal["before", "after"]) -> bool:
        probes = [p for p in self.scenario.steady_state if (p.before if when == "before" else p.after)]
        held = True
        for probe in probes:
            result = await self._probe(probe, app, when)
            if not result.ok:
                held = False
                self.result.deviate(f"probe {probe.name!r} failed {when} the method: {result.detail}")
        return held

    async def _watch(self, probe: Probe, app: httpx.AsyncClient) -> None:
        """A continuous or during-fault probe, every ``interval``, until the method ends. A
        during-fault check counts only if no fault came off while it ran."""
        from ..scenario import run_probe

        while True:
            if probe.mode == "during_fault" and self._faults_on == 0:
                await anyio.sleep(GUARD_SECONDS)
                continue
            started = time.monotonic()
            if probe.mode == "during_fault":
                result = await run_probe(probe, app)
                if self._faults_off_at > started:  # a fault came off while it ran: not a check of the fault
                    self.log.emit("note", f"{probe.name}: not counted, a fault came off while it ran ({result.detail})")
                    continue
                if not result.ok and self.control is not None and await self._halted() is not None:
                    self.log.emit("note", f"{probe.name}: not counted, the proxy was halted: its faults are off ({result.detail})")
                    continue
                self._record(probe, result, probe.mode)
            else:
                result = await self._probe(probe, app, probe.mode)
            self._judge(probe, result)
            await anyio.sleep(max(probe.interval - (time.monotonic() - started), 0.0))

    def _judge(self, probe: Probe, result: ProbeResult) -> None:
        """A result during the method: the probe's own tolerance, then the stop conditions on it."""
        window = self._windows[probe.name]
        now = result.finished
        if probe.window is not None:
            failing = window.check(probe.window, now) if now - self.log.started >= probe.window.span else None
            if failing is not None:
                self.result.deviate(f"probe {probe.name!r} ({probe.mode}) at {self.log.at(now):.1f} s: {failing}")
        elif not result.ok:
            self.result.deviate(f"probe {probe.name!r} ({probe.mode}) failed at {self.log.at(now):.1f} s: {result.detail}")
        for condition in self.scenario.stop_conditions:
            if condition.probe != probe.name:
                continue
            reason = condition.breached(window, now)
            if reason is not None:
                self._stop(reason, "deviated")

    def _stop(self, reason: str, status: Status) -> None:
        if self._stop_scope is not None and not self._stop_scope.cancel_called:
            self.result.deviate(reason, status)
            self.log.emit("stop", reason)
            self._stop_scope.cancel()

    # ---- the method --------------------------------------------------------------------------
    async def _method(self, app: httpx.AsyncClient) -> None:
        s = self.scenario

        async def timeline() -> None:
            async with anyio.create_task_group() as phases:
                for phase in s.method:
                    phases.start_soon(self._phase, phase)
                await anyio.sleep(s.duration)

        await self._watched(app, timeline)

    async def _watched(self, app: httpx.AsyncClient, body: Callable[[], Awaitable[None]]) -> bool:
        """``body`` with the guard and the continuous and during-fault probes running beside it;
        a stop (see :meth:`_stop`) cancels it. Whether it ran to its end."""
        watched = [p for p in self.scenario.steady_state if p.mode in ("continuous", "during_fault")]
        completed = False
        with anyio.CancelScope() as scope:
            self._stop_scope = scope
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._guard)
                for probe in watched:
                    tg.start_soon(self._watch, probe, app)
                await body()
                completed = True
                tg.cancel_scope.cancel()
        self._stop_scope = None
        return completed

    async def _guard(self) -> None:
        """The kill switch (its file, and the proxy's ``POST /halt`` every 0.5 s), the safety
        clock and the abort flag, looked at every few ms."""
        safety = self.scenario.safety
        next_health = 0.0
        while True:
            if self.control is not None and time.monotonic() >= next_health:
                next_health = time.monotonic() + HALT_POLL_SECONDS
                halted = await self._halted()
                if halted is not None:
                    self.abort(f"the proxy was halted: {halted}")
            if self._abort is not None:
                self._stop(f"stopped: {self._abort}", "aborted")
            elif safety.kill_switch_engaged():
                self._stop(f"stopped: the kill-switch file {safety.kill_switch} appeared", "aborted")
            elif time.monotonic() - self.log.started > safety.max_duration:
                self._stop(f"stopped: the run passed safety.max_duration ({safety.max_duration:g} s)", "aborted")
            await anyio.sleep(GUARD_SECONDS)

    async def _halted(self) -> str | None:
        """Why the proxy's kill switch was pulled, or None (also when the proxy does not answer:
        the faults' leases cover a proxy that is gone)."""
        assert self.control is not None
        try:
            health = await self.control.health()
        except ControlError:
            return None
        halted = health.get("halted")
        return str(halted) if halted else None

    async def _phase(self, phase: Phase) -> None:
        await anyio.sleep(max(phase.start - (time.monotonic() - self.log.started), 0.0))
        self.log.emit("phase.start", f"phase {phase.name} ({phase.duration:g} s)", phase=phase.name)
        mine: list[str] = []
        completed = False
        if phase.faults or phase.toxics:
            self._faults_on += 1
        try:
            for spec in phase.faults:
                mine.append(await self._put_on(spec, phase.name))
            for toxic in phase.toxics:
                await self._toxic_on(toxic, phase.name)
            await self._hold(mine, phase.end)
            completed = True
        finally:
            with anyio.CancelScope(shield=True):
                for fault_id in mine:
                    await self._take_off(fault_id)
                if phase.faults or phase.toxics:
                    self._faults_on -= 1
                    self._faults_off_at = time.monotonic()
                await self._toxics_off(phase.name)
            # completed: it ran its whole duration (a stop, an abort or an error cut it short otherwise)
            self.log.emit("phase.end", f"phase {phase.name} ended", phase=phase.name, completed=completed)

    async def _put_on(self, spec: FaultSpec, phase: str) -> str:
        assert self.control is not None
        limit = self.scenario.safety.max_active_faults
        if len(self.on_proxy) >= limit:
            self._stop(f"stopped: phase {phase} would pass safety.max_active_faults ({limit})", "aborted")
            await anyio.sleep_forever()
        body: dict[str, Any] = {
            "fault": spec.fault, "params": dict(spec.params), "rate": spec.rate, "times": spec.times, "after": spec.after,
            "window": list(spec.window) if spec.window else None, "sequence": ["fail" if x else "pass" for x in spec.sequence] if spec.sequence else None,
            "ttl": min(spec.ttl, self.options.lease), "upstream": spec.upstream, "label": f"{self.scenario.title}: {phase}",
        }
        match = spec.match
        if match.percent < 100 or match.headers or match.models or match.routes:
            body["match"] = {"percent": match.percent, "headers": dict(match.headers), "models": list(match.models),
                             "routes": list(match.routes)}
        with anyio.CancelScope(shield=True):  # an abort mid-add must still learn the id, to take it off
            added = await self.control.add(body)
            self.on_proxy[added["id"]] = _OnProxy(added["id"], spec, phase, body)
        self.log.emit("fault.on", f"{spec.fault} on ({added['id']}, phase {phase})", fault=spec.fault, id=added["id"], phase=phase)
        return str(added["id"])

    async def _hold(self, mine: list[str], until: float) -> None:
        """Renew this phase's faults every third of the lease until the phase ends."""
        assert self.control is not None or not mine
        every = self.options.lease / 3
        while (left := until - (time.monotonic() - self.log.started)) > 0:
            await anyio.sleep(min(every, left))
            for fault_id in list(mine):
                on = self.on_proxy.get(fault_id)
                if on is None or self.control is None:
                    continue
                ttl = min(on.spec.ttl, self.options.lease)
                try:
                    await self.control.renew(fault_id, ttl)
                except ControlError as exc:
                    if ": 404: " not in str(exc):
                        raise
                    if on.spec.ttl <= self.options.lease:
                        continue  # its own TTL has passed: it is meant to be off
                    added = await self.control.add(on.body)  # lapsed while the runner was held up: on again
                    del self.on_proxy[fault_id]
                    mine[mine.index(fault_id)] = added["id"]
                    self.on_proxy[added["id"]] = _OnProxy(added["id"], on.spec, on.phase, on.body)
                    self.log.emit("fault.on", f"{on.spec.fault} lapsed and was put on again ({added['id']})", fault=on.spec.fault,
                                  id=added["id"], phase=on.phase, replaces=fault_id)

    async def _take_off(self, fault_id: str) -> None:
        on = self.on_proxy.pop(fault_id, None)
        if on is None or self.control is None:
            return
        try:
            await self.control.remove(fault_id)
        except ControlError as exc:
            self.log.emit("note", f"could not take {on.spec.fault} ({fault_id}) off: {exc}; it expires by its TTL")
            return
        self.log.emit("fault.off", f"{on.spec.fault} off ({fault_id})", fault=on.spec.fault, id=fault_id, phase=on.phase)

    # ---- toxics (Toxiproxy) ------------------------------------------------------------------
    async def _toxic_on(self, toxic: Any, phase: str) -> None:
        from ..network import ToxiproxyClient

        url = self.scenario.toxiproxy
        if url is None:
            raise InfrastructureError(f"phase {phase} has toxics but the scenario names no toxiproxy server: set toxiproxy: URL")

        def on() -> Any:
            client = ToxiproxyClient(url)
            proxy = client.proxies().get(toxic.name) or client.create(toxic.name, toxic.upstream, listen=toxic.listen)
            attributes = dict(toxic.attributes)
            return proxy, proxy.add(toxic.type, stream=toxic.stream, toxicity=toxic.toxicity, **attributes)

        try:
            proxy, handle = await anyio.to_thread.run_sync(on)
        except ChaosError as exc:
            raise InfrastructureError(f"phase {phase}: the toxic {toxic.type} on {toxic.name} could not be added: {exc}") from None
        self.toxics.append((phase, proxy, handle, toxic))
        # name: the toxic's own name on the Toxiproxy server (proxy: the proxy's), what a clean-up removes
        self.log.emit("toxic.on", f"{toxic.type} on {toxic.name} (phase {phase})", toxic=toxic.type, proxy=toxic.name,
                      name=handle.name, phase=phase)

    async def _toxics_off(self, phase: str | None) -> None:
        keep = []
        for entry in self.toxics:
            on_phase, _proxy, handle, toxic = entry
            if phase is not None and on_phase != phase:
                keep.append(entry)
                continue
            try:
                await anyio.to_thread.run_sync(handle.remove)
                self.log.emit("toxic.off", f"{toxic.type} off {toxic.name}", toxic=toxic.type, proxy=toxic.name, name=handle.name,
                              phase=on_phase)
            except ChaosError as exc:
                self.log.emit("note", f"could not remove the toxic {toxic.type} on {toxic.name}: {exc}")
        self.toxics = keep

    # ---- rollback, load, injections ----------------------------------------------------------
    async def _rollback(self, app: httpx.AsyncClient | None) -> None:
        """Every fault and toxic off, then the scenario's rollback actions; runs once."""
        if self._rolled_back:
            return
        for fault_id in list(self.on_proxy):
            await self._take_off(fault_id)
        await self._toxics_off(None)
        if app is None:
            self._rolled_back = True
            return
        self._rolled_back = True
        self.log.emit("rollback", "every fault and toxic is off")
        for action in self.scenario.rollback:
            result = await self._probe(action, app, "rollback")
            if not result.ok:
                self.result.deviate(f"rollback action {action.name!r} failed: {result.detail}")

    async def _start_load(self, stack: AsyncExitStack) -> Any:
        load = self.scenario.load
        if load is None:
            return None
        from ..load import AsyncLoadRun

        run = AsyncLoadRun(_load_spec(self.scenario), self.scenario.target.url)
        await stack.enter_async_context(run)
        self.log.emit("load", f"load: {load.users} users for {load.duration:g} s" + (f", {load.workers} workers" if load.workers else ""))
        return run

    async def _finish_load(self, run: Any) -> LoadResult:
        await run.stop()
        result: LoadResult = run.result()
        self.log.emit("load", f"load: {result.requests} requests, {result.failures} failed, p95 {result.p95_ms:.0f} ms",
                      requests=result.requests, failures=result.failures)
        return result

    async def _collect_injections(self) -> None:
        if self.control is None:
            return
        entries = await self.control.journal(self._journal_from)
        self.result.injections = [e for e in entries if e.get("fault")]
        self._calls = entries

    def calls(self) -> list[dict[str, Any]]:
        """Every call the proxy journaled during the run (redacted)."""
        return list(self._calls)


def _load_spec(scenario: Scenario) -> Any:
    """The scenario's load section as a LoadSpec; conversations default to the conversation probes' turns."""
    from ..load import LoadSpec
    from ..scenario import ConversationCheck

    load = scenario.load
    assert load is not None
    conversations: Any = [list(c) for c in load.conversations] or None
    if conversations is None and load.conversations_file is not None:
        conversations = str(load.conversations_file)
    if conversations is None:
        conversations = [[t.user for t in p.check.turns] for p in scenario.steady_state if isinstance(p.check, ConversationCheck)]
    kwargs: dict[str, Any] = {"users": load.users, "spawn_rate": load.spawn_rate, "duration": load.duration,
                              "workers": load.workers, "path": load.path, "headers": dict(load.headers), "seed": scenario.seed or 0}
    if conversations:
        kwargs["conversations"] = conversations
    if load.body is not None:
        kwargs["body"] = _single_braces(load.body)
    return LoadSpec(**kwargs)


def _single_braces(value: Any) -> Any:
    """A body template in the scenario's ``{{message}}`` style, in the load's ``{message}`` style."""
    if isinstance(value, str):
        return value.replace("{{", "{").replace("}}", "}")
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _single_braces(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_single_braces(v) for v in value]
    return value


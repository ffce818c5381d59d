"""``chaoskit run``: one scenario's timeline against a deployed app, through a chaos proxy.

The order, Chaos Toolkit's shape with Litmus's probe modes: refuse what must not run (a
production target not accepted twice, a blackout, the kill switch); reach the proxy (start one,
or use the scenario's), claim it (refused when another run or game day holds it) and reach the
target; check the steady state before; start the load; run the
phases, putting each phase's faults on the proxy with a short lease that is renewed while the
phase lasts (so a runner that dies leaves nothing on beyond the lease), while continuous and
during-fault probes run and stop conditions are watched; roll back, always; check the steady
state after; write the reports. Exit codes: :data:`EXIT_HELD`, :data:`EXIT_DEVIATED`,
:data:`EXIT_INVALID`, :data:`EXIT_INFRA`.

For the run's whole life a task tends the proxy: its ``/health`` every
:data:`HALT_POLL_SECONDS` (the kill switch; and a proxy that misses :data:`PROXY_LOST_POLLS`
polls in a row is gone: the run stops, status ``infrastructure``) and the claim renewed every
third of the lease, between a game day's phases too.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio
import httpx

from .._errors import ChaosError
from ._control import ClaimRefused, ControlError, ControlUnreachable, ProxyControl
from ._events import EventLog, RunEvent
from ._proxyproc import InfrastructureError, ProxyProcess

if TYPE_CHECKING:
    from ..load import LoadResult
    from ..scenario import FaultSpec, Phase, Probe, ProbeResult, Scenario

__all__ = ["EXIT_DEVIATED", "EXIT_HELD", "EXIT_INFRA", "EXIT_INVALID", "RunOptions", "RunResult", "Runner", "Status"]

EXIT_HELD, EXIT_DEVIATED, EXIT_INVALID, EXIT_INFRA = 0, 1, 2, 3
#: ``held``: the steady state held; ``deviated``: it did not (a probe, a stop condition);
#: ``aborted``: stopped from outside (a signal, the kill switch, a safety limit) before the end;
#: ``invalid``: refused before anything was touched (the safety rules; the proxy in use by another
#: run or game day); ``infrastructure``: the proxy or the target was not there, or the proxy
#: stopped answering during the run (it wins over what the probes said: the experiment did not
#: run as planned).
Status = Literal["held", "deviated", "aborted", "invalid", "infrastructure"]
EXIT_CODES: dict[str, int] = {"held": EXIT_HELD, "deviated": EXIT_DEVIATED, "aborted": EXIT_DEVIATED,
                              "invalid": EXIT_INVALID, "infrastructure": EXIT_INFRA}
#: How often the guards look at the kill switch, the clock and the abort flag.
GUARD_SECONDS = 0.05
#: How often a run asks the proxy's /health whether its kill switch (POST /halt) was pulled, and
#: whether it still answers.
HALT_POLL_SECONDS = 0.5
#: Seconds one of those polls waits for the answer.
PROXY_ANSWER_SECONDS = 2.0
#: Polls in a row with no answer after which the proxy counts as gone: the run or game day stops
#: with status ``infrastructure`` (so about HALT_POLL_SECONDS after a dead proxy's first miss).
PROXY_LOST_POLLS = 2


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RunOptions:
    """How to run: ``accept_production_risk`` (the CLI's ``--i-accept-production-risk``);
    ``report_dir`` overrides the scenario's; ``lease`` is the TTL a fault is put on with, and the
    run's claim on the proxy, renewed every third of it (a dead runner's faults expire within it,
    and the next run may claim the proxy after it); ``token`` for a proxy the scenario names by
    URL (else the scenario's, else ``$CHAOSKIT_PROXY_TOKEN``)."""

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

    #: What the run claims the proxy as (``POST /claim``'s kind), and how messages name it.
    KIND: ClassVar[str] = "run"
    NAME: ClassVar[str] = "run"

    def __init__(self, scenario: Scenario, options: RunOptions | None = None, log: EventLog | None = None) -> None:
        self.scenario = scenario
        self.options = options or RunOptions()
        self.log = log or EventLog()
        self.result = RunResult(scenario, seed=scenario.seed)
        self.on_proxy: dict[str, _OnProxy] = {}
        self.toxics: list[Any] = []
        self.control: ProxyControl | None = None
        self._abort: str | None = None
        self._gave_up: str | None = None  # why the run could not go on (the proxy gone): status infrastructure
        self._proxy_gone = False  # the proxy stopped answering: nothing more is asked of it
        #: The run's id on the proxy's claim (``POST /claim``'s owner).
        self.owner = f"{self.KIND}-{secrets.token_hex(6)}"
        self._claimed = False
        self._tending: anyio.abc.TaskGroup | None = None
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
        """Take this run's faults off and let the proxy go at once, synchronously (a second Ctrl-C:
        no time for the rest)."""
        control = self.control
        if control is None:
            return
        paths = [f"/faults/{fault_id}" for fault_id in list(self.on_proxy)] + ([f"/claim/{self.owner}"] if self._claimed else [])
        for path in paths:
            try:
                httpx.delete(control.url + path, headers=control.headers, timeout=0.5, trust_env=False)
            except httpx.HTTPError:
                pass  # it expires by its lease

    # ---- the run -----------------------------------------------------------------------------
    async def run(self) -> RunResult:
        try:
            async with AsyncExitStack() as stack:
                await self._run(stack)
        except (InfrastructureError, ControlError) as exc:
            self._give_up(str(exc))
        finally:
            with anyio.CancelScope(shield=True):
                await self._rollback(None)
        return self.result

    async def _run(self, stack: AsyncExitStack) -> None:
        app = await self._begin(stack)
        if app is None:
            return
        if not await self._steady(app, "before"):
            self.result.deviate("the steady state did not hold before the method: no fault was put on")
            return
        load = await self._start_load(stack)
        try:
            await self._method(app)
        finally:
            with anyio.CancelScope(shield=True):
                await self._rollback(app)
        if self.stopped is None and not await self._steady(app, "after"):
            self.result.deviate("the steady state did not hold after the method")
        if load is not None:
            self.result.load = await self._finish_load(load)
        await self._collect_injections()

    @property
    def stopped(self) -> str | None:
        """Why the run stopped before its end (the proxy gone, an abort), or None."""
        return self._gave_up or self._abort

    def _give_up(self, reason: str) -> None:
        """The run cannot go on for a reason outside the experiment (the proxy gone, the target
        down): status ``infrastructure`` whatever the probes said, this reason first, and the
        method stopped. Faults still on are left to their leases if the proxy is gone."""
        if self._gave_up is not None:
            return
        self._gave_up = reason
        if reason in self.result.reasons:
            self.result.reasons.remove(reason)
        self.result.reasons.insert(0, reason)
        self.result.status = "infrastructure"
        self.log.emit("stop", reason)
        if self._stop_scope is not None:
            self._stop_scope.cancel()

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
        try:
            await self._reach_proxy(stack)
        except ClaimRefused as refused:
            self.result.deviate(self._in_use(refused.claim), "invalid")
            return None
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

    def secrets(self) -> list[str]:
        """The run's own secrets, for the reports to hide: the proxy's control token (also one made
        up for a proxy the run started)."""
        found = [self.proxy_token() or ""]
        if self.control is not None:
            found.append(self.control.headers["authorization"].removeprefix("Bearer "))
        return [s for s in dict.fromkeys(found) if s]

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
        await self._claim(stack)

    async def _claim(self, stack: AsyncExitStack) -> None:
        """Hold the proxy for the run's whole life (ClaimRefused when another run holds it), and
        start the task that tends it; both end with ``stack`` (the claim released after rollback),
        the task first (see :meth:`stop_tending`)."""
        control = self.control
        assert control is not None
        try:
            await control.claim(self.owner, title=self.scenario.title[:200], kind=self.KIND, ttl=self.options.lease)
        except ClaimRefused:
            raise
        except ControlError as exc:
            if exc.status != 404:
                raise
            self.log.emit("note", f"the chaos proxy at {control.url} takes no claims (an older chaoskit): "
                                  "another run or game day could use it at the same time")
        else:
            self._claimed = True
            stack.push_async_callback(self._release)
            self.log.emit("note", f"the chaos proxy at {control.url} is this {self.NAME}'s until it ends (claim {self.owner}, "
                                  f"renewed every {self.options.lease / 3:.1f} s)", claim=self.owner)
        self._tending = anyio.create_task_group()
        await self._tending.__aenter__()
        self._tending.start_soon(self._tend)
        stack.push_async_callback(self.stop_tending)

    async def stop_tending(self) -> None:
        """End the task that tends the proxy. Its task group's scope is the one the run's steps ran
        in: this must be awaited outside any cancel scope entered since (a game day calls it
        before the shielded rest of its clean-up)."""
        tending, self._tending = self._tending, None
        if tending is not None:
            tending.cancel_scope.cancel()
            await tending.__aexit__(None, None, None)

    def _in_use(self, claim: dict[str, Any]) -> str:
        """Why the run is refused, from the holder's claim as the proxy showed it."""
        assert self.control is not None
        kind = "game day" if claim.get("kind") == "gameday" else str(claim.get("kind", "run"))
        try:
            since = dt.datetime.fromisoformat(str(claim["since"])).strftime("%H:%M:%S UTC")
        except (KeyError, ValueError):
            since = "a while"
        left = math.ceil(float(claim.get("expires_in", 0)))
        return (f"the chaos proxy at {self.control.url} is in use by {kind} {claim.get('title', '')!r} (since {since}, "
                f"its lease ends in {left} s): wait for it to finish, or pull its kill switch with POST /halt")

    async def _release(self) -> None:
        """Let the proxy go (not asked of a proxy that is gone: the claim ends with its lease)."""
        if self.control is None or self._proxy_gone:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self.control.release(self.owner)
            except ControlError as exc:
                self.log.emit("note", f"could not release the claim on the proxy: {exc}; it ends with its lease")
                return
        self._claimed = False

    async def _tend(self) -> None:
        """For the run's whole life: the proxy's ``/health`` every HALT_POLL_SECONDS (its kill
        switch; PROXY_LOST_POLLS polls in a row with no answer and the proxy is gone) and the
        claim renewed every third of the lease, between a game day's phases as during them."""
        assert self.control is not None
        every = self.options.lease / 3
        next_poll = time.monotonic() + HALT_POLL_SECONDS
        renew_at = time.monotonic() + every if self._claimed else math.inf
        misses: list[tuple[float, str]] = []  # (when it was seen, why) for the polls in a row with no answer
        while self._gave_up is None:
            await anyio.sleep(max(min(next_poll, renew_at) - time.monotonic(), 0.0))
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + HALT_POLL_SECONDS
                try:
                    health = await self.control.health(timeout=PROXY_ANSWER_SECONDS)
                except ControlError as exc:
                    misses.append((time.monotonic(), exc.cause if isinstance(exc, ControlUnreachable) else str(exc)))
                    if len(misses) >= PROXY_LOST_POLLS:
                        self._proxy_gone = True
                        self._give_up(self._gone(*misses[0]))
                    continue
                misses.clear()
                if health.get("halted"):
                    self.abort(f"the proxy was halted: {health['halted']}")
            if time.monotonic() >= renew_at:
                renew_at = time.monotonic() + every
                await self._renew_claim()

    def _gone(self, since: float, cause: str) -> str:
        assert self.control is not None
        return (f"the chaos proxy at {self.control.url} stopped answering at {self.log.at(since):.1f} s ({cause}): its faults "
                f"end with their leases (at most {self.options.lease:g} s); the {self.NAME} stopped")

    async def _renew_claim(self) -> None:
        assert self.control is not None
        try:
            await self.control.claim(self.owner, title=self.scenario.title[:200], kind=self.KIND, ttl=self.options.lease)
        except ClaimRefused as refused:  # it lapsed (the runner was held up past the lease) and another took it
            self.abort(f"this {self.NAME}'s claim on the proxy lapsed and another took it ({self._in_use(refused.claim)}); "
                       "stopped, so that the two do not trample each other's faults")
        except ControlUnreachable:
            pass  # the health polls decide whether the proxy is gone
        except ControlError as exc:
            self.log.emit("note", f"could not renew the claim on the proxy: {exc}")

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
        a stop (see :meth:`_stop`) cancels it. Whether it ran to its end. A ControlError or
        InfrastructureError inside comes out as itself, not in an ExceptionGroup."""
        watched = [p for p in self.scenario.steady_state if p.mode in ("continuous", "during_fault")]
        completed = False
        try:
            with anyio.CancelScope() as scope:
                self._stop_scope = scope
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._guard)
                    for probe in watched:
                        tg.start_soon(self._watch, probe, app)
                    await body()
                    completed = True
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _unwrapped(group) from None
        finally:
            self._stop_scope = None
        return completed

    async def _guard(self) -> None:
        """The kill switch (its file, and the proxy's ``POST /halt`` as :meth:`_tend` sees it),
        the safety clock, the abort flag and a proxy gone, looked at every few ms."""
        safety = self.scenario.safety
        while True:
            if self._gave_up is not None:  # given up before this phase began (the stop is on the timeline)
                if self._stop_scope is not None:
                    self._stop_scope.cancel()
            elif self._abort is not None:
                self._stop(f"stopped: {self._abort}", "aborted")
            elif safety.kill_switch_engaged():
                self._stop(f"stopped: the kill-switch file {safety.kill_switch} appeared", "aborted")
            elif time.monotonic() - self.log.started > safety.max_duration:
                self._stop(f"stopped: the run passed safety.max_duration ({safety.max_duration:g} s)", "aborted")
            await anyio.sleep(GUARD_SECONDS)

    async def _halted(self) -> str | None:
        """Why the proxy's kill switch was pulled, or None (also when the proxy does not answer:
        :meth:`_tend` decides whether it is gone)."""
        assert self.control is not None
        if self._proxy_gone:
            return None
        try:
            health = await self.control.health(timeout=PROXY_ANSWER_SECONDS)
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
                except ControlUnreachable:
                    continue  # the health polls decide whether the proxy is gone; the lease covers a miss
                except ControlError as exc:
                    if exc.status != 404:
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
        if self._proxy_gone:
            self.log.emit("note", f"{on.spec.fault} ({fault_id}) is left to its lease: the proxy does not answer")
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
        self.log.emit("rollback", "every toxic is off; the faults on the proxy that stopped answering end with their leases"
                      if self._proxy_gone else "every fault and toxic is off")
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
        """The proxy's journal since the run began (a proxy that is gone took it with it; one that
        does not answer now is noted: the verdict stands)."""
        if self.control is None or self.result.status == "invalid":
            return
        if self._proxy_gone:
            self.log.emit("note", "the proxy's journal is gone with it: the report lists no injections")
            return
        try:
            entries = await self.control.journal(self._journal_from)
        except ControlError as exc:
            self.log.emit("note", f"could not read the proxy's journal: {exc}")
            return
        self.result.injections = [e for e in entries if e.get("fault")]
        self._calls = entries

    def calls(self) -> list[dict[str, Any]]:
        """Every call the proxy journaled during the run (redacted)."""
        return list(self._calls)


def _unwrapped(group: BaseExceptionGroup[Any]) -> BaseException:
    """The one ControlError or InfrastructureError a task group raised, else the group itself."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    if leaves and all(isinstance(e, (ControlError, InfrastructureError)) for e in leaves):
        return leaves[0]
    return group


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


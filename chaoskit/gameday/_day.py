"""A game day from a script: the scenario's phases run when the script says, with the probes,
notes and the kill switch in between, and the same journal, safety rules and reports as
``chaoskit run``.

    async with chaoskit.GameDay("scenarios/provider-outage.yaml") as day:
        await day.phase("openai-down")
        if not await day.probe("checkout"):
            await day.note("fallback failed, aborting")
            await day.abort()

Entering checks the safety rules (production, blackout, kill switch), reaches the proxy, claims
it (refused, status ``invalid``, when another run or game day holds it) and reaches the target,
and checks the steady state before; leaving takes every fault and toxic off, runs the rollback,
checks the steady state after (unless stopped), writes the reports and lets the proxy go. The
claim is renewed for the whole block, between phases too; a proxy that stops answering stops
the game day (status ``infrastructure``). Every event is also appended to ``journal.jsonl`` as
it happens, so a game day that dies can be cleaned up or resumed (``GameDay(..., resume=JOURNAL)``;
see :mod:`chaoskit.gameday._journal`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import anyio
import httpx

from .._errors import ChaosConfigError
from ..run._control import ControlError
from ..run._events import EventLog, RunEvent
from ..run._proxyproc import InfrastructureError
from ..run._runner import GUARD_SECONDS, Runner, RunOptions, RunResult
from ..scenario import Phase, Scenario
from ._journal import (
    JOURNAL_NAME,
    CleanupError,
    Journal,
    JournalError,
    JournalWriter,
    cleanup,
    header_for,
    read_journal,
)

__all__ = ["GameDay", "GameDayAborted", "PhaseOutcome", "SyncGameDay"]

T = TypeVar("T")


class GameDayAborted(ChaosConfigError):
    """The game day was aborted (the script, the kill switch, a signal, a stop condition): no
    phase runs after it. The reports are still written when the ``with`` block ends."""


@dataclasses.dataclass(frozen=True)
class PhaseOutcome:
    """How one phase went: whether it ran its whole duration, and the probe results during it."""

    name: str
    completed: bool
    seconds: float
    failed_probes: tuple[str, ...]
    skipped: bool = False  # the operator cut it short (GameDay.skip); the game day goes on
    resumed: bool = False  # not run again: it completed before the resume; the rest is the journal's record of it

    @property
    def held(self) -> bool:
        """Whether it ran to its end and no probe failed during it."""
        return self.completed and not self.failed_probes


class _StepRunner(Runner):
    """The run's own steps (proxy, faults, probes, load, rollback), taken one at a time; a phase
    can be paused (its faults off, its clock stopped), resumed and skipped while it runs."""

    def __init__(self, scenario: Scenario, options: RunOptions | None, log: EventLog, journal: JournalWriter,
                 resumed: Journal | None) -> None:
        super().__init__(scenario, options, log)
        self.journal = journal
        self.resumed = resumed
        self.current: Phase | None = None  # the phase running now
        self.phase_started = 0.0  # monotonic, when the current phase began
        self.phase_left = 0.0  # of the current phase, as of phase_started or the pause
        self.paused = False
        self._skip = False
        self._phase_scope: anyio.CancelScope | None = None
        self._load: Any = None

    KIND = "gameday"
    NAME = "game day"

    async def open(self, stack: AsyncExitStack) -> httpx.AsyncClient:
        extra: dict[str, Any] = {"segment": self.journal.segment, "started": self.options.now().isoformat(timespec="seconds")}
        if self.resumed is not None:
            extra["resumed_from"] = str(self.resumed.path)
        app = await self._begin(stack, "game day: ", gameday=True, **extra)
        if app is None:
            raise GameDayAborted(self.result.reasons[-1])
        if self.resumed is not None:
            last = self.resumed.last_completed()
            self.log.emit("note", f"resumed from {self.resumed.path} " + (f"after phase {last}" if last else "before any phase completed"),
                          resumed_from=str(self.resumed.path), after=last)
        await self._steady(app, "before")  # a failure is a verdict; the team decides whether to go on
        self._load = await self._start_load(stack)
        return app

    async def _reach_proxy(self, stack: AsyncExitStack) -> None:
        """Under a resume, first remove what the interrupted game day left on (its proxy's port
        and its toxics' names are needed again); then the proxy as usual."""
        self.journal.learn(self.proxy_token())
        if self.resumed is not None:
            report = await cleanup(self.resumed, token=self.proxy_token(), writer=self.journal)
            for line in report.text().splitlines():
                self.log.emit("note", f"clean-up before resuming: {line}")
            if not report.clean:
                raise CleanupError(f"could not clean up after the interrupted game day: {'; '.join(report.errors)}")
        await super()._reach_proxy(stack)
        if self.control is not None:  # a token made up for a proxy started here
            self.journal.learn(self.control.headers["authorization"].removeprefix("Bearer "))

    async def run_phase(self, phase: Phase, app: httpx.AsyncClient) -> PhaseOutcome:
        """``phase`` from now for its duration, watched by the continuous and during-fault probes
        and the guard (abort, kill switch, max duration); its faults off when it ends or stops,
        and while it is paused (the probes and the guard go on)."""
        began = time.monotonic()
        before = {name: len(results) for name, results in self.result.probes.items()}
        self.current, self._skip, self.paused, self.phase_left = phase, False, False, phase.duration

        async def body() -> None:
            while self.phase_left > 0 and not self._skip:
                self.phase_started = time.monotonic()
                with anyio.CancelScope() as scope:
                    self._phase_scope = scope
                    await self._phase(dataclasses.replace(phase, start=self.log.at(self.phase_started), duration=self.phase_left))
                self._phase_scope = None
                if not self.paused:
                    return
                while self.paused and not self._skip:  # the guard cancels this on an abort
                    await anyio.sleep(GUARD_SECONDS)

        try:
            completed = await self._watched(app, body)
        except (InfrastructureError, ControlError) as exc:
            self._give_up(str(exc))
            completed = False
        finally:
            self.current, self._phase_scope, self.paused = None, None, False
        failed = tuple(sorted({
            name for name, results in self.result.probes.items() for r in results[before.get(name, 0):] if not r["ok"]
        }))
        return PhaseOutcome(phase.name, completed and not self._skip, time.monotonic() - began, failed, skipped=self._skip)

    def pause(self) -> None:
        running = self._running("pause")
        if self.paused:
            raise ChaosConfigError(f"game day: phase {running.name!r} is already paused; resume it (r) or skip it (s)")
        self.paused = True
        self.phase_left -= time.monotonic() - self.phase_started
        self.log.emit("pause", f"phase {running.name} paused with {self.phase_left:.1f} s left: its faults come off until it resumes",
                      phase=running.name, left=round(self.phase_left, 3))
        if self._phase_scope is not None:
            self._phase_scope.cancel()

    def resume(self) -> None:
        running = self._running("resume")
        if not self.paused:
            raise ChaosConfigError(f"game day: phase {running.name!r} is not paused; nothing to resume")
        self.paused = False
        self.log.emit("resume", f"phase {running.name} resumed for its {self.phase_left:.1f} s left", phase=running.name,
                      left=round(self.phase_left, 3))

    def skip(self) -> None:
        running = self._running("skip")
        ran = running.duration - self.phase_left + (0.0 if self.paused else time.monotonic() - self.phase_started)
        self._skip = True
        self.log.emit("note", f"phase {running.name} skipped by the operator after {ran:.1f} s", phase=running.name)
        if self._phase_scope is not None:
            self._phase_scope.cancel()

    def left(self) -> float:
        """Seconds the current phase has left (its clock stands while it is paused)."""
        if self.current is None:
            return 0.0
        return self.phase_left if self.paused else max(self.phase_left - (time.monotonic() - self.phase_started), 0.0)

    def _running(self, verb: str) -> Phase:
        if self.current is None:
            raise ChaosConfigError(f"game day: no phase is running, so there is nothing to {verb}"
                                   + ("; to skip the next phase, answer s before it starts" if verb == "skip" else ""))
        return self.current

    async def check(self, name: str, app: httpx.AsyncClient) -> bool:
        probe = next((p for p in self.scenario.steady_state if p.name == name), None)
        if probe is None:
            known = ", ".join(p.name for p in self.scenario.steady_state) or "none"
            raise ChaosConfigError(f"game day: no probe named {name!r} in {self.scenario.title!r}; its probes: {known}")
        result = await self._probe(probe, app, "gameday")
        return result.ok

    async def close(self, app: httpx.AsyncClient | None, stopped: bool) -> None:
        with anyio.CancelScope(shield=True):
            await self._rollback(app)
            if app is not None and not stopped and not await self._steady(app, "after"):
                self.result.deviate("the steady state did not hold after the game day")
            if self._load is not None:
                self.result.load = await self._finish_load(self._load)
            await self._collect_injections()

    @property
    def aborted(self) -> str | None:
        return self._abort

    @property
    def gave_up(self) -> str | None:
        return self._gave_up


class GameDay:
    """A game day driven by a script (async). ``scenario``: a path or a loaded
    :class:`~chaoskit.scenario.Scenario`; ``options``: as ``chaoskit run``'s (``report_dir``,
    ``lease``, ``token``, ``accept_production_risk``); ``on_event``: hears every event as it happens
    (a renderer). The reports and ``journal.jsonl`` go to ``options.report_dir``, else the scenario's
    report directory.

    ``resume``: the journal of an interrupted game day of the same scenario (its title): entering
    first removes what it left on, then the game day appends to that journal as a new segment;
    :meth:`phase` skips the phases it shows as completed. :class:`JournalError` (at once) for a
    journal that is not one, another scenario's, or an unfinished one in the way of a new game day."""

    def __init__(self, scenario: str | os.PathLike[str] | Scenario, *, options: RunOptions | None = None,
                 on_event: Callable[[RunEvent], None] | None = None, resume: str | os.PathLike[str] | None = None) -> None:
        if not isinstance(scenario, Scenario):
            from ..scenario import load

            scenario = load(scenario)
        self.scenario = scenario
        self.log = EventLog()
        options = options or RunOptions()
        #: The interrupted game day's journal under a resume, else None.
        self.resumed: Journal | None = None
        if resume is not None:
            self.resumed = read_journal(resume)
            if self.resumed.title != scenario.title:
                raise JournalError(f"{resume}: the journal of {self.resumed.title!r} (scenario {self.resumed.header.get('scenario')}), "
                                   f"not of {scenario.title!r}: resume it with its own scenario")
            journal = JournalWriter(self.resumed.path, header=None, segment=self.resumed.segments + 1)
        else:
            path = (options.report_dir or Path(scenario.report.directory)) / JOURNAL_NAME
            _refuse_unfinished(path)
            journal = JournalWriter(path, header=header_for(scenario))
        #: Where this game day's journal is written (the resumed one's, under a resume).
        self.journal_path = journal.path
        self._journal = journal
        self.log.listen(journal)  # first: a renderer that fails must not cost the journal its line
        if on_event is not None:
            self.log.listen(on_event)
        self._runner = _StepRunner(scenario, options, self.log, journal, self.resumed)
        self._stack: AsyncExitStack | None = None
        self._app: httpx.AsyncClient | None = None
        self._lock = anyio.Lock()
        self._started = 0.0

    # ---- the block ---------------------------------------------------------------------------
    async def __aenter__(self) -> GameDay:
        self._started = time.monotonic()
        self._journal.open()
        self._stack = AsyncExitStack()
        try:
            self._app = await self._runner.open(self._stack)
        except (InfrastructureError, ControlError) as exc:
            self.result.deviate(str(exc), "infrastructure")
            await self._finish()
            raise GameDayAborted(f"game day {self.scenario.title!r} could not start: {exc}") from None
        except BaseException:
            await self._finish()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None and not isinstance(exc, GameDayAborted):
            self.abort(f"the game-day script raised {type(exc).__name__}: {exc}")
        await self._finish()

    async def _finish(self) -> None:
        runner = self._runner
        if runner.aborted is not None and not any(e.kind == "stop" for e in self.log.events):
            self.log.emit("stop", f"stopped: {runner.aborted}")  # aborted between phases: the moment, for the timeline
        try:
            await runner.close(self._app, runner.stopped is not None)
        finally:
            # not shielded: the tending task group's scope must be the current one when it ends
            # (a cancellation pending for the block is raised there, after the rest has run)
            try:
                await runner.stop_tending()
            finally:
                await self._wrap_up()

    async def _wrap_up(self) -> None:
        runner = self._runner
        if self._stack is not None:
            with anyio.CancelScope(shield=True):
                await self._stack.aclose()
            self._stack = None
        self._app = None
        if runner.aborted is not None and runner.gave_up is None:
            self.result.deviate(f"stopped: {runner.aborted}", "aborted")
        self.result.duration = time.monotonic() - self._started
        self.log.emit("run.end", f"game day {self.result.status}", status=self.result.status)
        self.result.events = list(self.log.events)
        if self.result.status == "invalid":  # refused, nothing touched: as chaoskit run, no report, no journal
            self._journal.discard()
        else:
            self._journal.close()
            self._write_reports()

    def _write_reports(self) -> None:
        from ..run._report import redacted_document, write_documents
        from ._postmortem import write_postmortem
        from ._summary import render_markdown

        report = self.scenario.report
        directory = self._runner.options.report_dir or Path(report.directory)
        doc = redacted_document(self.result, self._runner.secrets())
        self.result.reports = write_documents(doc, directory, tuple(report.formats))
        self.result.reports["markdown"] = directory / "gameday.md"
        self.result.reports["markdown"].write_text(render_markdown(doc))
        postmortem = write_postmortem(doc, directory)  # None without plotly: it warned with the install hint
        if postmortem is not None:
            self.result.reports["postmortem"] = postmortem

    # ---- steps -------------------------------------------------------------------------------
    async def phase(self, name: str, *, again: bool = False) -> PhaseOutcome:
        """Run the scenario's phase ``name`` now, for its duration; its faults are off when it returns.
        Under a resume, a phase the journal shows as completed is not run again (a note says so; its
        outcome is the journal's, ``resumed=True``) unless ``again``."""
        app = self._ready()
        phase = next((p for p in self.scenario.method if p.name == name), None)
        if phase is None:
            known = ", ".join(p.name for p in self.scenario.method) or "none"
            raise ChaosConfigError(f"game day: no phase named {name!r} in {self.scenario.title!r}; its phases: {known}")
        done = self.resumed.completed().get(name) if self.resumed is not None and not again else None
        if done is not None:
            self.log.emit("note", f"phase {name} not run again: it completed before the resume", phase=name)
            return PhaseOutcome(name, True, done.seconds, done.failed_probes, resumed=True)
        async with self._lock:
            outcome = await self._runner.run_phase(phase, app)
        if self._runner.stopped is not None or not (outcome.completed or outcome.skipped):
            raise GameDayAborted(f"game day stopped during phase {name!r}: {self._reason()}")
        return outcome

    def pause(self) -> None:
        """Hold the running phase: its faults come off and its clock stops; the probes and the
        kill switch go on. Call it from the game day's event loop (a renderer, another task)."""
        self._runner.pause()

    def resume(self) -> None:
        """Put the paused phase's faults back on for the time it had left."""
        self._runner.resume()

    def skip(self) -> None:
        """End the running phase now (its faults off); :meth:`phase` returns, the game day goes on."""
        self._runner.skip()

    @property
    def running(self) -> str | None:
        """The phase running now, or None between phases."""
        return self._runner.current.name if self._runner.current is not None else None

    @property
    def paused(self) -> bool:
        return self._runner.paused

    @property
    def current_phase(self) -> Phase | None:
        """The scenario's phase running now, or None between phases."""
        return self._runner.current

    async def proxy_faults(self) -> list[dict[str, Any]]:
        """The faults on the chaos proxy now, as its control API lists them (with ``expires_in``);
        empty without a proxy. Raises ControlError when the proxy does not answer."""
        control = self._runner.control
        return [] if control is None else await control.faults()

    def left(self) -> float:
        """Seconds the running phase has left (0 between phases)."""
        return self._runner.left()

    async def probe(self, name: str) -> bool:
        """Run the steady-state probe ``name`` once now: whether it passed (recorded in the report)."""
        return await self._runner.check(name, self._ready())

    async def note(self, text: str) -> None:
        """An observer's note, timestamped on the timeline and in the post-mortem."""
        self.log.emit("note", text, observer=True)

    def abort(self, reason: str = "aborted by the game-day script") -> None:
        """Stop: the phase running (if any) ends at once with its faults off; no phase runs after."""
        self._runner.abort(reason)

    def emergency_off(self) -> None:
        """Take this game day's faults off at once, synchronously (a second Ctrl-C: no time for the rest)."""
        self._runner.emergency_off()

    @property
    def result(self) -> RunResult:
        return self._runner.result

    @property
    def events(self) -> list[RunEvent]:
        return list(self.log.events)

    @property
    def stopped(self) -> str | None:
        """Why the game day cannot go on (the proxy stopped answering, an abort), or None."""
        return self._runner.stopped

    def _ready(self) -> httpx.AsyncClient:
        if self._runner.gave_up is not None:
            raise GameDayAborted(f"game day stopped ({self._runner.gave_up}): no step runs after it")
        if self._runner.aborted is not None:
            raise GameDayAborted(f"game day aborted ({self._runner.aborted}): no step runs after an abort")
        if self._app is None:
            raise ChaosConfigError("game day: not started; use it as `async with GameDay(...) as day:`")
        return self._app

    def _reason(self) -> str:
        return self._runner.stopped or (self.result.reasons[-1] if self.result.reasons else "stopped")


def _refuse_unfinished(path: Path) -> None:
    """A new game day must not overwrite the journal of one that died with things on."""
    try:
        old = read_journal(path)
    except JournalError:
        return  # none there, or not one: nothing to keep
    if old.unfinished():
        raise JournalError(f"{path}: the journal of an unfinished game day ({old.title!r}, run {old.header['run_id']}, started "
                           f"{old.header.get('started')}): resume it (`chaoskit gameday SCENARIO --resume {path}`), clean up after it "
                           f"(`chaoskit gameday --cleanup {path}`), or move it away")


class SyncGameDay:
    """:class:`GameDay` for synchronous scripts: the same steps, run on an event loop in a
    thread of its own. ``with chaoskit.SyncGameDay("scenario.yaml") as day: day.phase("x")``."""

    def __init__(self, scenario: str | os.PathLike[str] | Scenario, *, options: RunOptions | None = None,
                 on_event: Callable[[RunEvent], None] | None = None, resume: str | os.PathLike[str] | None = None) -> None:
        self._day = GameDay(scenario, options=options, on_event=on_event, resume=resume)
        self._portal: Any = None
        self._portal_cm: Any = None
        self._block: Any = None

    def __enter__(self) -> SyncGameDay:
        from anyio.from_thread import start_blocking_portal

        self._portal_cm = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        # one task enters and leaves the block: the task that tends the proxy lives in it
        self._block = self._portal.wrap_async_context_manager(self._day)
        try:
            self._block.__enter__()
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            self._portal = None
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self._block.__exit__(kind, exc, tb)
        finally:
            self._portal_cm.__exit__(None, None, None)
            self._portal = None

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._portal is None:
            raise ChaosConfigError("game day: not started; use it as `with SyncGameDay(...) as day:`")
        return self._portal.call(fn, *args)

    def phase(self, name: str, *, again: bool = False) -> PhaseOutcome:
        outcome: PhaseOutcome = self._call(lambda: self._day.phase(name, again=again))
        return outcome

    def probe(self, name: str) -> bool:
        return bool(self._call(self._day.probe, name))

    def note(self, text: str) -> None:
        self._call(self._day.note, text)

    def abort(self, reason: str = "aborted by the game-day script") -> None:
        """Thread-safe: a signal handler or another thread may call it while a phase runs."""
        self._day.abort(reason)

    def pause(self) -> None:
        """From another thread while :meth:`phase` runs: its faults off, its clock stopped."""
        self._call(self._day.pause)

    def resume(self) -> None:
        self._call(self._day.resume)

    def skip(self) -> None:
        self._call(self._day.skip)

    @property
    def result(self) -> RunResult:
        return self._day.result

    @property
    def events(self) -> list[RunEvent]:
        return self._day.events

    @property
    def stopped(self) -> str | None:
        """Why the game day cannot go on, or None (see :attr:`GameDay.stopped`)."""
        return self._day.stopped



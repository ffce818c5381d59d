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
the game day (status ``infrastructure``).
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
from ..run._runner import Runner, RunOptions, RunResult
from ..scenario import Phase, Scenario

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

    @property
    def held(self) -> bool:
        """Whether it ran to its end and no probe failed during it."""
        return self.completed and not self.failed_probes


class _StepRunner(Runner):
    """The run's own steps (proxy, faults, probes, rollback), taken one at a time."""

    KIND = "gameday"
    NAME = "game day"

    async def open(self, stack: AsyncExitStack) -> httpx.AsyncClient:
        app = await self._begin(stack, "game day: ", gameday=True)
        if app is None:
            raise GameDayAborted(self.result.reasons[-1])
        await self._steady(app, "before")  # a failure is a verdict; the team decides whether to go on
        return app

    async def run_phase(self, phase: Phase, app: httpx.AsyncClient) -> PhaseOutcome:
        """``phase`` from now for its duration, watched by the continuous and during-fault probes
        and the guard (abort, kill switch, max duration); its faults off when it ends or stops."""
        now = self.log.at(time.monotonic())
        shifted = dataclasses.replace(phase, start=now)
        before = {name: len(results) for name, results in self.result.probes.items()}
        try:
            completed = await self._watched(app, lambda: self._phase(shifted))
        except (InfrastructureError, ControlError) as exc:
            self._give_up(str(exc))
            completed = False
        failed = tuple(sorted({
            name for name, results in self.result.probes.items() for r in results[before.get(name, 0):] if not r["ok"]
        }))
        return PhaseOutcome(phase.name, completed, self.log.at(time.monotonic()) - now, failed)

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
    (a renderer). The reports go to ``options.report_dir``, else the scenario's report directory."""

    def __init__(self, scenario: str | os.PathLike[str] | Scenario, *, options: RunOptions | None = None,
                 on_event: Callable[[RunEvent], None] | None = None) -> None:
        if not isinstance(scenario, Scenario):
            from ..scenario import load

            scenario = load(scenario)
        self.scenario = scenario
        self.log = EventLog()
        if on_event is not None:
            self.log.listen(on_event)
        self._runner = _StepRunner(scenario, options, self.log)
        self._stack: AsyncExitStack | None = None
        self._app: httpx.AsyncClient | None = None
        self._lock = anyio.Lock()
        self._started = 0.0

    # ---- the block ---------------------------------------------------------------------------
    async def __aenter__(self) -> GameDay:
        self._started = time.monotonic()
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
        if self.result.status != "invalid":  # refused, nothing touched: as chaoskit run, no report
            self._write_reports()

    def _write_reports(self) -> None:
        from ..run._report import redacted_document, write_documents
        from ._summary import render_markdown

        report = self.scenario.report
        directory = self._runner.options.report_dir or Path(report.directory)
        doc = redacted_document(self.result)
        self.result.reports = write_documents(doc, directory, tuple(report.formats))
        self.result.reports["markdown"] = directory / "gameday.md"
        self.result.reports["markdown"].write_text(render_markdown(doc))

    # ---- steps -------------------------------------------------------------------------------
    async def phase(self, name: str) -> PhaseOutcome:
        """Run the scenario's phase ``name`` now, for its duration; its faults are off when it returns."""
        app = self._ready()
        phase = next((p for p in self.scenario.method if p.name == name), None)
        if phase is None:
            known = ", ".join(p.name for p in self.scenario.method) or "none"
            raise ChaosConfigError(f"game day: no phase named {name!r} in {self.scenario.title!r}; its phases: {known}")
        async with self._lock:
            outcome = await self._runner.run_phase(phase, app)
        if self._runner.stopped is not None or not outcome.completed:
            raise GameDayAborted(f"game day stopped during phase {name!r}: {self._reason()}")
        return outcome

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


class SyncGameDay:
    """:class:`GameDay` for synchronous scripts: the same steps, run on an event loop in a
    thread of its own. ``with chaoskit.SyncGameDay("scenario.yaml") as day: day.phase("x")``."""

    def __init__(self, scenario: str | os.PathLike[str] | Scenario, *, options: RunOptions | None = None,
                 on_event: Callable[[RunEvent], None] | None = None) -> None:
        self._day = GameDay(scenario, options=options, on_event=on_event)
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

    def phase(self, name: str) -> PhaseOutcome:
        outcome: PhaseOutcome = self._call(self._day.phase, name)
        return outcome

    def probe(self, name: str) -> bool:
        return bool(self._call(self._day.probe, name))

    def note(self, text: str) -> None:
        self._call(self._day.note, text)

    def abort(self, reason: str = "aborted by the game-day script") -> None:
        """Thread-safe: a signal handler or another thread may call it while a phase runs."""
        self._day.abort(reason)

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



"""The full-screen runbook (Textual): the game day runs in the app's own event loop while the
screen refreshes in place, and keys drive it: Enter runs the next phase, p pauses, r resumes,
s skips, n opens a note dialog (the game day goes on while you type), a aborts, q quits once
it has ended. It renders the game day's events and state; the steps are GameDay's."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, RichLog, Static

from .._errors import ChaosConfigError
from ..run._control import ControlError
from ._view import event_line, faults_table, phase_view, probes_table

if TYPE_CHECKING:
    from ..run._events import RunEvent
    from ..scenario import Phase
    from ._day import GameDay

__all__ = ["Runbook"]

#: How often the screen redraws, and how often it asks the proxy for its faults.
REFRESH_SECONDS, FAULTS_POLL_SECONDS = 0.25, 1.0


class NoteDialog(ModalScreen[str]):
    """A one-line observer's note; Enter saves it, Escape drops it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss('')", "cancel")]
    DEFAULT_CSS = """
    NoteDialog { align: center middle; }
    NoteDialog > Vertical { width: 80%; height: auto; border: thick $accent; padding: 1 2; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Observer's note (Enter saves, Escape cancels). The game day goes on meanwhile.")
            yield Input(placeholder="what you see…", id="note")

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        if self.is_active:  # a second Enter before the dialog has closed is not a second note
            self.dismiss(message.value.strip())


class Runbook(App[None]):
    """The game day ``day`` on a full screen; ``auto`` runs every phase without asking."""

    TITLE = "chaoskit game day"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "go", "run next phase"), Binding("p", "pause", "pause"), Binding("r", "resume", "resume"),
        Binding("s", "skip", "skip"), Binding("n", "note", "note"), Binding("a", "abort", "abort"),
        Binding("q", "quit_when_done", "quit"),
        Binding("ctrl+c", "abort_key", "abort", show=False, priority=True),
        Binding("ctrl+q", "quit_when_done", "quit", show=False, priority=True),
    ]
    DEFAULT_CSS = """
    #top { height: 7; border: round $primary; padding: 0 1; }
    #faults { height: auto; max-height: 25%; border: round $error; padding: 0 1; }
    #probes { height: auto; max-height: 35%; border: round $success; padding: 0 1; }
    #log { border: round $secondary; height: 1fr; min-height: 5; }
    """

    def __init__(self, day: GameDay, *, auto: bool = False) -> None:
        super().__init__()
        self.day = day
        self.auto = auto
        self.state = "starting"  # starting, waiting, running, paused, between, ending, done
        self.next_phase: Phase | None = None
        self._answer: asyncio.Future[str] | None = None
        self._faults: list[dict[str, Any]] = []
        self._polled = time.monotonic()
        self._pending: list[RunEvent] = []
        day.log.listen(self._pending.append)

    # ---- layout and refresh ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="faults")
        yield Static(id="probes")
        yield RichLog(id="log", wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        s = self.day.scenario
        self.sub_title = f"{s.title} · seed {s.seed} · target {s.target.url} ({s.target.environment})"
        self.query_one("#log", RichLog).border_title = "events"
        self.set_interval(REFRESH_SECONDS, self._refresh)
        self.set_interval(FAULTS_POLL_SECONDS, self._poll_faults)
        self.run_worker(self._run(), exclusive=True, name="game day")

    def _refresh(self) -> None:
        if self.day.stopped is not None:  # stopped while the screen waits for Enter (a signal, the proxy gone)
            self._reply("abort")
        log = self.query_one("#log", RichLog)
        pending, self._pending[:] = list(self._pending), []
        for event in pending:
            if not (event.kind == "probe" and event.data.get("ok")):  # passes are in the probes' history
                log.write(event_line(event))
        day = self.day
        running = day.current_phase
        state = ("paused" if day.paused else "running") if running is not None else self.state
        top = phase_view(state, running, day.left(), self.next_phase)
        if self.state == "done":
            r = day.result
            where = next(iter(r.reports.values()), None)
            top = (f"game day {r.status} (exit {r.exit_code})" + "".join(f"\n  {reason}" for reason in r.reasons[:2])
                   + (f"\nreports in {where.parent}" if where is not None else "") + "\nq quits")
        self.query_one("#top", Static).update(top)
        self.query_one("#faults", Static).update(faults_table(self._faults, time.monotonic() - self._polled))
        self.query_one("#probes", Static).update(probes_table(day.scenario, day.result.probes, day.log.at(time.monotonic())))

    async def _poll_faults(self) -> None:
        if self.state in ("starting", "done"):
            return
        try:
            self._faults = await self.day.proxy_faults()
            self._polled = time.monotonic()
        except ControlError:
            pass  # the last list stays; whether the proxy is gone is the guard's to judge

    def _say(self, text: str) -> None:
        self.day.log.emit("note", f"screen: {text}")

    # ---- the game day ------------------------------------------------------------------------
    async def _run(self) -> None:
        from ..run._terminal import on_signals
        from ._day import GameDayAborted
        from ._journal import remaining_phases

        day = self.day
        on_signals("gameday", day.abort, day.emergency_off)
        try:
            async with day:
                for phase in remaining_phases(day.scenario, day.resumed):
                    self.next_phase, self.state = phase, "waiting"
                    answer = "go" if self.auto else await self._ask()
                    if day.stopped is not None:
                        break
                    if answer == "abort":
                        day.abort("aborted from the screen")
                        break
                    if answer == "skip":
                        await day.note(f"phase {phase.name} skipped")
                        continue
                    self.next_phase, self.state = None, "running"
                    await day.phase(phase.name)
                    self.state = "between"
                self.state = "ending"
        except GameDayAborted:
            pass
        finally:
            self.state, self.next_phase = "done", None
            self._faults = []
            self._refresh()

    async def _ask(self) -> str:
        self._answer = asyncio.get_running_loop().create_future()
        try:
            return await self._answer
        finally:
            self._answer = None

    def _reply(self, answer: str) -> bool:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(answer)
            return True
        return False

    # ---- keys --------------------------------------------------------------------------------
    def action_go(self) -> None:
        if not self._reply("go"):
            self._say("Enter: nothing to confirm now" + (" (a phase is running)" if self.day.running else ""))

    def action_skip(self) -> None:
        if not self._reply("skip"):
            self._act(self.day.skip)

    def action_pause(self) -> None:
        self._act(self.day.pause)

    def action_resume(self) -> None:
        self._act(self.day.resume)

    def action_abort(self) -> None:
        if self.state == "done":
            self._say("the game day has ended: q quits")
            return
        self.day.abort("aborted from the screen (a)")
        self._reply("abort")

    def action_abort_key(self) -> None:
        """Ctrl-C: abort, also while the note dialog is open."""
        self.action_abort()

    def action_note(self) -> None:
        def save(text: str | None) -> None:
            if text:
                self.run_worker(self.day.note(text))

        self.push_screen(NoteDialog(), save)

    def action_quit_when_done(self) -> None:
        if self.state == "done":
            self.exit()
        else:
            self._say("the game day is still running: a aborts it (faults off, rollback, reports), then q quits")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the note dialog is open its letters are the note's, never a step (Ctrl-C still aborts)."""
        if isinstance(self.screen, NoteDialog) and action in ("go", "pause", "resume", "skip", "note", "abort", "quit_when_done"):
            return False
        return True

    def _act(self, step: Any) -> None:
        """A key's step on the game day; at the wrong moment, its reason in the event log."""
        try:
            step()
        except ChaosConfigError as exc:
            self._say(str(exc).removeprefix("game day: "))

"""``chaoskit gameday SCENARIO``: the runbook. On a terminal (stdin and stdout both), a full
screen (Textual, the ``gameday`` extra) that refreshes in place and takes keys; otherwise, or
with ``--plain``, or on a terminal too small for it, plain timestamped lines and a prompt per
phase: Enter (or ``y``) runs it, ``s`` skips it, ``a`` aborts, any other text is an observer's
note. ``--auto`` runs every phase without asking. SIGINT, SIGTERM and SIGHUP abort (faults off
within a second, rollback, reports); a second one takes the faults off and exits at once. A
game day that stops while the prompt waits (a signal, the proxy's kill switch, a proxy that
stopped answering) stops waiting. ``--resume JOURNAL`` goes on from an interrupted game day; ``--cleanup JOURNAL`` only removes what
it left on (see _journal). Exit codes as ``chaoskit run``'s."""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..run._terminal import add_run_options, on_signals, print_verdict, read_scenario

if TYPE_CHECKING:
    from ..scenario import Scenario
    from ._day import GameDay

__all__ = ["MIN_SIZE", "add_parser", "full_screen_refusal", "main"]

#: The smallest terminal the full screen is laid out for (columns, lines); smaller gets lines.
MIN_SIZE = (80, 24)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("gameday", help="run a scenario as a game day, phase by phase, with notes and a kill switch",
                       description="A game day from a scenario: the plan, then each phase after you confirm it, with the "
                                   "probes and the kill switch watching; rollback and the reports at the end. On a terminal "
                                   "a full screen (keys: Enter runs the next phase, p pause, r resume, s skip, n note, "
                                   "a abort, q quit at the end); piped, plain lines and a prompt (Enter runs, s skips, "
                                   "a aborts, other text is a note). Exit codes as chaoskit run's.")
    add_run_options(p, scenario_required=False)
    p.add_argument("--auto", action="store_true", help="run every phase without asking")
    p.add_argument("--plain", action="store_true", help="plain lines and a prompt even on a terminal")
    p.add_argument("--resume", metavar="JOURNAL", default=None,
                   help="go on from an interrupted game day: remove what it left on, skip the phases its journal "
                        "shows completed, append to that journal")
    p.add_argument("--cleanup", metavar="JOURNAL", default=None,
                   help="only remove what an interrupted game day left on the proxy and the Toxiproxy server (no SCENARIO needed)")
    p.add_argument("--token", default=None,
                   help="the proxy's control token (default: the scenario's, else $CHAOSKIT_PROXY_TOKEN, which is safer than this)")


class _Prompt:
    """Lines from stdin, read by one daemon thread (so a prompt the game day stopped waiting for
    never keeps the process alive); EOF is an abort, so a closed terminal never leaves a game
    day waiting."""

    def __init__(self) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        while True:
            try:
                line = sys.stdin.readline()
            except OSError:  # the terminal is gone (SIGHUP)
                line = ""
            self._lines.put("a" if line == "" else line.strip())
            if line == "":
                return

    async def ask(self, prompt: str, stopped: Callable[[], str | None]) -> str:
        """One answer; "a" when the game day stops while it waits."""
        import anyio

        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="chaoskit-gameday-stdin", daemon=True)
            self._reader.start()
        sys.stderr.write(prompt)
        sys.stderr.flush()
        while True:
            try:
                return self._lines.get_nowait()
            except queue.Empty:
                if stopped() is not None:
                    sys.stderr.write("\n")
                    return "a"
                await anyio.sleep(0.05)


def full_screen_refusal(plain: bool, size: tuple[int, int] | None = None) -> str | None:
    """Why the full screen is not used (None: use it): not a terminal, ``--plain``, Textual
    missing, or a terminal smaller than the screen's layout."""
    if plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return ""  # not a terminal, or asked for lines: nothing to explain
    try:
        import textual  # noqa: F401
    except ImportError:
        return "the full-screen runbook needs Textual (pip install 'chaoskit[gameday]'): plain lines instead"
    columns, lines = size or os.get_terminal_size(sys.stdout.fileno())  # the terminal itself, not $COLUMNS
    if columns < MIN_SIZE[0] or lines < MIN_SIZE[1]:
        return (f"the terminal is {columns}x{lines}, too small for the full-screen runbook (it needs at least "
                f"{MIN_SIZE[0]}x{MIN_SIZE[1]}): plain lines instead; widen it, or pass --plain to say so")
    return None


def main(ns: argparse.Namespace) -> int:
    from ..run._cli import plan
    from ..run._progress import Progress
    from ..run._runner import EXIT_INVALID, RunOptions
    from ._day import GameDay
    from ._journal import JournalError, cleanup_command

    if ns.cleanup is not None:
        return cleanup_command(ns.cleanup, token=ns.token, scenario=ns.scenario)
    if ns.scenario is None:
        print("chaoskit gameday: give the SCENARIO (or --cleanup JOURNAL alone)", file=sys.stderr)
        return EXIT_INVALID
    scenario = read_scenario("gameday", ns)
    if scenario is None:
        return EXIT_INVALID
    options = RunOptions(accept_production_risk=ns.accept_production, report_dir=ns.report_dir, lease=ns.lease, token=ns.token)
    refusal = full_screen_refusal(ns.plain)
    try:
        day = GameDay(scenario, options=options, on_event=None if refusal is None else Progress(), resume=ns.resume)
    except JournalError as exc:
        print(f"chaoskit gameday: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if refusal is None:
        from ._screen import Runbook

        Runbook(day, auto=ns.auto).run()
    else:
        if refusal:
            print(f"chaoskit gameday: {refusal}", file=sys.stderr)
        print(plan(scenario), file=sys.stderr)
        _lines(day, scenario, ns.auto)
    print_verdict("gameday", scenario.title, day.result)
    return day.result.exit_code


def _lines(day: GameDay, scenario: Scenario, auto: bool) -> None:
    """The runbook in plain lines: a prompt before each phase on stderr, answered on stdin."""
    import anyio

    from ._day import GameDayAborted
    from ._journal import remaining_phases

    prompt = _Prompt()

    async def go() -> None:
        on_signals("gameday", day.abort, day.emergency_off)
        try:
            async with day:
                for phase in remaining_phases(scenario, day.resumed):
                    while not auto:
                        answer = await prompt.ask(f"next: phase {phase.name} for {phase.duration:g} s: {phase.injects}. "
                                                  "Enter runs it, s skips, a aborts, or type a note: ", lambda: day.stopped)
                        if answer.lower() in ("", "y", "yes", "s", "skip", "a", "abort"):
                            break
                        await day.note(answer)
                    else:
                        answer = ""
                    if day.stopped is not None:
                        break
                    if answer.lower() in ("a", "abort"):
                        day.abort("aborted at the prompt")
                        break
                    if answer.lower() in ("s", "skip"):
                        await day.note(f"phase {phase.name} skipped")
                        continue
                    await day.phase(phase.name)
        except GameDayAborted:
            pass

    anyio.run(go)

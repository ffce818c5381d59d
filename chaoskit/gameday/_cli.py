"""``chaoskit gameday SCENARIO``: the runbook in plain lines. It prints the plan, then before each
phase what it will inject, and waits for a line on stdin: Enter (or ``y``) runs it, ``s`` skips
it, ``a`` aborts, any other text is an observer's note. ``--auto`` runs every phase without
asking. SIGINT and SIGTERM abort (faults off within a second, rollback, reports); a second one
takes the faults off and exits at once. A game day that stops while the prompt waits (a signal,
the proxy's kill switch, a proxy that stopped answering) stops waiting. Exit codes as
``chaoskit run``'s."""

from __future__ import annotations

import argparse
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..run._terminal import add_run_options, on_signals, print_verdict, read_scenario

__all__ = ["add_parser", "main"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("gameday", help="run a scenario as a game day, phase by phase, with notes and a kill switch",
                       description="A game day from a scenario: the plan, then each phase after you confirm it (Enter "
                                   "runs it, s skips it, a aborts, any other text is a note), with the probes and the "
                                   "kill switch watching; rollback and the reports at the end. Exit codes as chaoskit run's.")
    add_run_options(p)
    p.add_argument("--auto", action="store_true", help="run every phase without asking")


class _Prompt:
    """Lines from stdin, read by one daemon thread (so a prompt the game day stopped waiting for
    never keeps the process alive); EOF is an abort, so a closed terminal never leaves a game
    day waiting."""

    def __init__(self) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        while True:
            line = sys.stdin.readline()
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


def main(ns: argparse.Namespace) -> int:
    import anyio

    from ..run._cli import plan
    from ..run._progress import Progress
    from ..run._runner import EXIT_INVALID, RunOptions
    from ._day import GameDay, GameDayAborted

    scenario = read_scenario("gameday", ns)
    if scenario is None:
        return EXIT_INVALID
    print(plan(scenario), file=sys.stderr)
    day = GameDay(scenario, options=RunOptions(accept_production_risk=ns.accept_production, report_dir=ns.report_dir,
                                               lease=ns.lease), on_event=Progress())

    prompt = _Prompt()

    async def go() -> None:
        on_signals("gameday", day.abort, day.emergency_off)
        try:
            async with day:
                for phase in scenario.method:
                    what = ", ".join([f.fault for f in phase.faults] + [f"toxic {t.type} on {t.name}" for t in phase.toxics])
                    while not ns.auto:
                        answer = await prompt.ask(f"next: phase {phase.name} for {phase.duration:g} s: {what or 'no fault'}. "
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
    print_verdict("gameday", scenario.title, day.result)
    return day.result.exit_code

"""``chaoskit gameday SCENARIO``: the runbook in plain lines. It prints the plan, then before each
phase what it will inject, and waits for a line on stdin: Enter (or ``y``) runs it, ``s`` skips
it, ``a`` aborts, any other text is an observer's note. ``--auto`` runs every phase without
asking. SIGINT and SIGTERM abort (faults off within a second, rollback, reports); a second one
takes the faults off and exits at once. Exit codes as ``chaoskit run``'s."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "main"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("gameday", help="run a scenario as a game day, phase by phase, with notes and a kill switch",
                       description="A game day from a scenario: the plan, then each phase after you confirm it (Enter "
                                   "runs it, s skips it, a aborts, any other text is a note), with the probes and the "
                                   "kill switch watching; rollback and the reports at the end. Exit codes as chaoskit run's.")
    p.add_argument("scenario", help="the scenario file (YAML)")
    p.add_argument("--auto", action="store_true", help="run every phase without asking")
    p.add_argument("--i-accept-production-risk", action="store_true", dest="accept_production",
                   help="allow a target whose environment is production (the scenario must allow it too)")
    p.add_argument("--report-dir", type=Path, default=None, help="where the reports go (default: the scenario's report.directory)")
    p.add_argument("--lease", type=float, default=10.0,
                   help="seconds each fault is put on for, renewed while its phase lasts (default: 10)")


def _ask(prompt: str) -> str:
    """One line from stdin (EOF: abort, so a closed terminal never leaves a game day waiting)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return "a" if line == "" else line.strip()


def main(ns: argparse.Namespace) -> int:
    import anyio

    from ..run._cli import plan
    from ..run._progress import Progress
    from ..run._runner import EXIT_INVALID, RunOptions
    from ..run._terminal import on_signals, print_verdict
    from ..scenario import ScenarioError, load
    from ._day import GameDay, GameDayAborted

    try:
        scenario = load(ns.scenario)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"chaoskit gameday: {ns.scenario}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    if ns.lease <= 0:
        print(f"chaoskit gameday: --lease {ns.lease:g} must be more than 0 seconds", file=sys.stderr)
        return EXIT_INVALID
    print(plan(scenario), file=sys.stderr)
    day = GameDay(scenario, options=RunOptions(accept_production_risk=ns.accept_production, report_dir=ns.report_dir,
                                               lease=ns.lease), on_event=Progress())

    async def go() -> None:
        on_signals("gameday", day.abort, day.emergency_off)
        try:
            async with day:
                for phase in scenario.method:
                    what = ", ".join([f.fault for f in phase.faults] + [f"toxic {t.type} on {t.name}" for t in phase.toxics])
                    while not ns.auto:
                        answer = await anyio.to_thread.run_sync(
                            _ask, f"next: phase {phase.name} for {phase.duration:g} s: {what or 'no fault'}. "
                                  "Enter runs it, s skips, a aborts, or type a note: ", abandon_on_cancel=True)
                        if answer.lower() in ("", "y", "yes", "s", "skip", "a", "abort"):
                            break
                        await day.note(answer)
                    else:
                        answer = ""
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

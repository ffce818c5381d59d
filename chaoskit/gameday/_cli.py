"""``chaoskit gameday SCENARIO``: the runbook in plain lines. It prints the plan, then before each
phase what it will inject, and waits for a line on stdin: Enter (or ``y``) runs it, ``s`` skips
it, ``a`` aborts, any other text is an observer's note. ``--auto`` runs every phase without
asking. SIGINT, SIGTERM and SIGHUP abort (faults off within a second, rollback, reports); a second
one takes the faults off and exits at once. ``--resume JOURNAL`` goes on from an interrupted game
day; ``--cleanup JOURNAL`` only removes what it left on (see _journal). Exit codes as ``chaoskit run``'s."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..run._terminal import add_run_options, on_signals, print_verdict, read_scenario

__all__ = ["add_parser", "main"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("gameday", help="run a scenario as a game day, phase by phase, with notes and a kill switch",
                       description="A game day from a scenario: the plan, then each phase after you confirm it (Enter "
                                   "runs it, s skips it, a aborts, any other text is a note), with the probes and the "
                                   "kill switch watching; rollback and the reports at the end. Exit codes as chaoskit run's.")
    add_run_options(p, scenario_required=False)
    p.add_argument("--auto", action="store_true", help="run every phase without asking")
    p.add_argument("--resume", metavar="JOURNAL", default=None,
                   help="go on from an interrupted game day: remove what it left on, skip the phases its journal "
                        "shows completed, append to that journal")
    p.add_argument("--cleanup", metavar="JOURNAL", default=None,
                   help="only remove what an interrupted game day left on the proxy and the Toxiproxy server (no SCENARIO needed)")
    p.add_argument("--token", default=None,
                   help="the proxy's control token (default: the scenario's, else $CHAOSKIT_PROXY_TOKEN, which is safer than this)")


def _ask(prompt: str) -> str:
    """One line from stdin (EOF: abort, so a closed terminal never leaves a game day waiting)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        line = sys.stdin.readline()
    except OSError:  # the terminal is gone (SIGHUP)
        line = ""
    return "a" if line == "" else line.strip()


def main(ns: argparse.Namespace) -> int:
    import anyio

    from ..run._cli import plan
    from ..run._progress import Progress
    from ..run._runner import EXIT_INVALID, RunOptions
    from ._day import GameDay, GameDayAborted
    from ._journal import JournalError, cleanup_command, remaining_phases

    if ns.cleanup is not None:
        return cleanup_command(ns.cleanup, token=ns.token, scenario=ns.scenario)
    if ns.scenario is None:
        print("chaoskit gameday: give the SCENARIO (or --cleanup JOURNAL alone)", file=sys.stderr)
        return EXIT_INVALID
    scenario = read_scenario("gameday", ns)
    if scenario is None:
        return EXIT_INVALID
    print(plan(scenario), file=sys.stderr)
    try:
        day = GameDay(scenario, options=RunOptions(accept_production_risk=ns.accept_production, report_dir=ns.report_dir,
                                                   lease=ns.lease, token=ns.token), on_event=Progress(), resume=ns.resume)
    except JournalError as exc:
        print(f"chaoskit gameday: {exc}", file=sys.stderr)
        return EXIT_INVALID

    async def go() -> None:
        on_signals("gameday", day.abort, day.emergency_off)
        try:
            async with day:
                for phase in remaining_phases(scenario, day.resumed):
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

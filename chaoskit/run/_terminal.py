"""What ``chaoskit run`` and ``chaoskit gameday`` share in the terminal: their common options,
reading the scenario, the signals that stop them, and the verdict printed at the end."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the commands' parsers import this module: it stays light for ``chaoskit --help``
    from ..scenario import Scenario
    from ._runner import RunResult

__all__ = ["add_run_options", "on_signals", "print_verdict", "read_scenario"]


def add_run_options(p: Any, *, scenario_required: bool = True) -> None:
    """The options every run of a scenario takes: production consent, where reports go, the lease.
    ``scenario_required=False``: the scenario may be left out (a command that can do without it)."""
    p.add_argument("scenario", nargs=None if scenario_required else "?", help="the scenario file (YAML)")
    p.add_argument("--i-accept-production-risk", action="store_true", dest="accept_production",
                   help="allow a target whose environment is production (the scenario must allow it too)")
    p.add_argument("--report-dir", type=Path, default=None, help="where the reports go (default: the scenario's report.directory)")
    p.add_argument("--lease", type=float, default=10.0,
                   help="seconds each fault is put on for, renewed while its phase lasts, and the proxy is "
                        "claimed for, renewed while the run lasts (default: 10)")


def read_scenario(command: str, ns: argparse.Namespace) -> Scenario | None:
    """The scenario ``ns`` names, checked with the options; None after saying what is wrong."""
    from ..scenario import ScenarioError, load

    try:
        scenario = load(ns.scenario)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return None
    except OSError as exc:
        print(f"chaoskit {command}: {ns.scenario}: {exc.strerror or exc}", file=sys.stderr)
        return None
    if ns.lease <= 0:
        print(f"chaoskit {command}: --lease {ns.lease:g} must be more than 0 seconds", file=sys.stderr)
        return None
    return scenario


def on_signals(command: str, abort: Callable[[str], None], emergency_off: Callable[[], None]) -> None:
    """SIGINT/SIGTERM/SIGHUP on the running loop: the first aborts (faults off, rollback, reports);
    the second takes the faults off and exits at once (130). SIGHUP is a lost terminal (an SSH
    session dropped): from then on the output goes to /dev/null, so a write to the dead terminal
    cannot fail in the middle of taking the faults off."""
    import asyncio

    loop = asyncio.get_running_loop()
    count = [0]

    def on_signal(name: str) -> None:
        if name == "SIGHUP":
            _detach_terminal()
        count[0] += 1
        if count[0] == 1:
            abort(f"{name}; taking every fault off (again to exit at once)")
            return
        emergency_off()
        print(f"chaoskit {command}: {name} again: faults taken off, exiting without reports", file=sys.stderr, flush=True)
        os._exit(130)

    for sig in (signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])):
        loop.add_signal_handler(sig, on_signal, sig.name)


def _detach_terminal() -> None:
    """Point stdout and stderr at /dev/null (the terminal behind them is gone; a read from it ends)."""
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        try:
            os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)


def print_verdict(command: str, title: str, result: RunResult) -> None:
    """The verdict, why, and where the reports are; on stderr too, what stopped a run that could
    not go on (the proxy gone, the target down) or refused it (the proxy in use)."""
    if result.status in ("infrastructure", "invalid") and result.reasons:
        print(f"chaoskit {command}: {result.reasons[0]}", file=sys.stderr, flush=True)
    print(f"chaoskit {command}: {title}: {result.status} (exit {result.exit_code})")
    for reason in result.reasons:
        print(f"  - {reason}")
    for kind, path in result.reports.items():
        print(f"  {kind}: {path}")

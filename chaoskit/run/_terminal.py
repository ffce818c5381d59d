"""What ``chaoskit run`` and ``chaoskit gameday`` share in the terminal: the signals that stop
them, and the verdict printed at the end."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable

from ._runner import RunResult

__all__ = ["on_signals", "print_verdict"]


def on_signals(command: str, abort: Callable[[str], None], emergency_off: Callable[[], None]) -> None:
    """SIGINT/SIGTERM on the running loop: the first aborts (faults off, rollback, reports); the
    second takes the faults off and exits at once (130)."""
    loop = asyncio.get_running_loop()
    count = [0]

    def on_signal(name: str) -> None:
        count[0] += 1
        if count[0] == 1:
            abort(f"{name}; taking every fault off (again to exit at once)")
            return
        emergency_off()
        print(f"chaoskit {command}: {name} again: faults taken off, exiting without reports", file=sys.stderr, flush=True)
        os._exit(130)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)


def print_verdict(command: str, title: str, result: RunResult) -> None:
    """The verdict, why, and where the reports are."""
    print(f"chaoskit {command}: {title}: {result.status} (exit {result.exit_code})")
    for reason in result.reasons:
        print(f"  - {reason}")
    for kind, path in result.reports.items():
        print(f"  {kind}: {path}")

"""The run as it happens, in the terminal: one timestamped line per event, coloured on a terminal,
plain when piped (CI logs, files), so it reads the same over SSH and in a log."""

from __future__ import annotations

import sys
from typing import TextIO

from ._events import RunEvent

__all__ = ["Progress"]

_COLOURS = {
    "run.start": "1", "run.end": "1", "phase.start": "36", "phase.end": "36", "fault.on": "31", "fault.off": "32",
    "toxic.on": "31", "toxic.off": "32", "stop": "1;31", "rollback": "33", "load": "35", "note": "2", "pause": "33", "resume": "33",
}


class Progress:
    """Writes each event to ``stream`` (stderr by default) as ``[  12.3s] kind  text``."""

    def __init__(self, stream: TextIO | None = None, *, colour: bool | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.colour = self.stream.isatty() if colour is None else colour
        self.quiet = quiet

    def __call__(self, event: RunEvent) -> None:
        if self.quiet and event.kind == "probe" and event.data.get("ok"):
            return
        code = _COLOURS.get(event.kind)
        if event.kind == "probe":
            code = "32" if event.data.get("ok") else "31"
        kind = f"{event.kind:<11}"
        if self.colour and code:
            kind = f"\033[{code}m{kind}\033[0m"
        self.stream.write(f"[{event.at:7.1f}s] {kind} {event.text}\n")
        self.stream.flush()

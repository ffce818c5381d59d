"""What happens during a run, as events: the one record the terminal, the reports and (later)
game days read. A run emits; listeners render or keep."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["EventKind", "EventLog", "RunEvent"]

#: ``run.start``/``run.end``; ``phase.start``/``phase.end``; ``fault.on``/``fault.off`` (on the
#: proxy); ``toxic.on``/``toxic.off``; ``probe`` (a result); ``stop`` (a stop condition, the kill
#: switch, a signal, a safety limit); ``rollback``; ``load``; ``note``; ``pause``/``resume`` (a game
#: day's phase held by the operator, its faults off meanwhile).
EventKind = Literal[
    "run.start", "run.end", "phase.start", "phase.end", "fault.on", "fault.off", "toxic.on", "toxic.off",
    "probe", "stop", "rollback", "load", "note", "pause", "resume",
]


@dataclass(frozen=True)
class RunEvent:
    """One event, ``at`` seconds after the run started."""

    at: float
    kind: EventKind
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at": round(self.at, 3), "kind": self.kind, "text": self.text, "data": self.data}


Listener = Callable[[RunEvent], None]


class EventLog:
    """The run's events in order, and who hears them as they happen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.events: list[RunEvent] = []
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, kind: EventKind, text: str, **data: Any) -> RunEvent:
        event = RunEvent(self.clock() - self.started, kind, text, data)
        self.events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    def at(self, monotonic: float) -> float:
        """Seconds after the run started, of a monotonic time."""
        return monotonic - self.started

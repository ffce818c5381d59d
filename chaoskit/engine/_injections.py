"""What a session was told to inject: faults with their schedules, and explicit scripts."""

from __future__ import annotations

from dataclasses import dataclass

from .._fault import Fault
from .._match import Blast
from .._schedule import Schedule, ScheduleState
from .._urls import UrlPattern

__all__ = ["Injection", "Script"]


@dataclass
class Script:
    """An explicit fault per call: each call to one of ``providers`` takes the next step.

    A step is a Fault or None (the call passes). Calls past the last step pass. Made by
    ``chaos.script([...])``; hypothesis builds them with ``chaoskit.strategies.schedules()``.
    """

    steps: tuple[Fault | None, ...]
    providers: frozenset[str]
    position: int = 0

    def __repr__(self) -> str:
        return "Script([" + ", ".join(s.id if s else "pass" for s in self.steps) + "])"


@dataclass(frozen=True)
class Injection:
    """A fault injected into a session with its schedule; ``fired`` counts its injections.

    ``url``: the requests it is narrowed to (``http.*`` and ``mcp.*`` faults need one);
    ``target``: the callable a ``tool.*`` fault patches; ``blast``: the requests it may touch
    at all (None: all it applies to).
    """

    fault: Fault
    schedule: Schedule
    state: ScheduleState
    url: UrlPattern | None = None
    target: str | None = None
    blast: Blast | None = None

    @property
    def fired(self) -> int:
        return self.state.fired

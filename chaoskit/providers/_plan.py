"""What a seam delivers for one call: a transport-neutral plan of steps.

A plan is a list of steps played in order. ``Wait`` passes time; ``Respond`` sends the
status line and headers; ``Send`` sends body bytes; ``Break`` fails the connection. A
``Wait`` longer than the client's read timeout (counted since the last bytes arrived)
becomes the client library's own read timeout, so stalls and latency time out exactly as
they would on a socket. Seams (in-process transports, the proxy) only play plans; they
never need to know which provider or fault produced one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["Break", "Plan", "Respond", "Send", "Wait", "plan_status"]


@dataclass(frozen=True, slots=True)
class Wait:
    """Pass ``seconds`` (``math.inf``: never answer) before the next step."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Respond:
    """Send the status line and headers."""

    status: int
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Send:
    """Send body bytes (one chunk, one SSE event); ``text`` is the model text they carry."""

    data: bytes
    text: str = ""


BreakKind = Literal["connect_timeout", "connect_refused", "reset", "incomplete"]


@dataclass(frozen=True, slots=True)
class Break:
    """Fail the connection the way a network does.

    ``connect_timeout``: no connection within the client's connect timeout (or ``after``
    seconds if that is shorter). ``connect_refused``: nothing listening. ``reset``: TCP RST.
    ``incomplete``: the peer closed before the body was complete (incomplete chunked read).
    """

    kind: BreakKind
    after: float | None = None


Step = Wait | Respond | Send | Break
Plan = list[Step]

NEVER = math.inf


def plan_status(plan: Plan) -> int | None:
    """The status a plan sends, or None if it fails before responding."""
    for step in plan:
        if isinstance(step, Respond):
            return step.status
    return None

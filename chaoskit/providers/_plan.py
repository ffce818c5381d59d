"""What a seam delivers for one call: a transport-neutral plan of steps.

A plan is a list of steps played in order. ``Wait`` passes time; ``Respond`` sends the
status line and headers; ``Send`` sends body bytes; ``Break`` fails the connection;
``Forward`` fetches the real response and plays a plan made from it; ``Relay`` relays the real
response as it arrives, changed on the way (a stream cut after some events); ``Note`` says what a
fault chose (a drift variant) for the journal. A
``Wait`` longer than the client's read timeout (counted since the last bytes arrived)
becomes the client library's own read timeout, so stalls and latency time out exactly as
they would on a socket. Seams (in-process transports, the proxy) only play plans; they
never need to know which provider or fault produced one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, Protocol

__all__ = [
    "Break", "Forward", "Note", "Plan", "Relay", "Relayer", "Respond", "Send", "Upstream", "Wait", "plan_status",
    "reason_phrase", "respond_with",
    "response_head",
]


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


class Relayer(Protocol):
    """Turns a real response, as it arrives, into steps: made for one call by a :class:`Relay`."""

    #: Set once the response is over (the fault ended it, or the real one ended): the seam stops reading.
    done: bool
    #: Whether the fault broke the response (the client got less than the real service sent).
    broke: bool

    def head(self, status: int, headers: tuple[tuple[str, str], ...]) -> list[Step]:
        """The steps for the real status and headers (a ``Respond``)."""

    def feed(self, chunk: bytes) -> list[Step]:
        """The steps for the next chunk of the real body."""

    def end(self) -> list[Step]:
        """The steps once the real body has ended."""


@dataclass(frozen=True, slots=True)
class Relay:
    """Send the request on to the real service and relay its response as it arrives, through a
    new ``make()``: the first byte reaches the client when the real service sends it."""

    make: Callable[[], Relayer]


@dataclass(frozen=True, slots=True)
class Upstream:
    """A whole response from the real service (or a canned one): what ``Forward`` builds on."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Forward:
    """Send the request on to the real service, then play ``then(its response)`` instead.

    Used where a fault changes a real answer (schema drift, a cut body) or delays it. The
    seam reads the whole upstream body before ``then`` runs.
    """

    then: Callable[[Upstream], Plan]


@dataclass(frozen=True, slots=True)
class Note:
    """What the fault chose for this call (``renamed customer.email -> customer.emailAddress``);
    ``planted``: the values a hallucination fault planted (:class:`chaoskit._plant.Plant`), for the journal."""

    text: str
    planted: tuple[Any, ...] | None = None


Step = Wait | Respond | Send | Break | Forward | Relay | Note
Plan = list[Step]

NEVER = math.inf


def plan_status(plan: Plan) -> int | None:
    """The status a plan sends, or None if it fails before responding."""
    for step in plan:
        if isinstance(step, Respond):
            return step.status
    return None


def respond_with(upstream: Upstream) -> Plan:
    """The plan that delivers ``upstream`` as it is."""
    return [Respond(upstream.status, upstream.headers), Send(upstream.body)]


def reason_phrase(status: int) -> str:
    """The reason phrase sent with ``status``: Python's table, empty for unregistered codes (529).

    Every seam and the fidelity server send the same one, so a client that shows it (huggingface_hub's
    ``422 Unprocessable Entity``) reads the same text from chaoskit as from a socket.
    """
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def response_head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The status line and header block of an HTTP/1.1 response, as bytes on the wire."""
    head = f"HTTP/1.1 {status} {reason_phrase(status)}\r\n".encode("latin-1")
    return head + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n"

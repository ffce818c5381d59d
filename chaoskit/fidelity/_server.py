"""A real HTTP/1.1 server on loopback that plays plans over real sockets.

The in-process seams play a :mod:`plan <chaoskit.providers._plan>` by handing the client
library objects and exceptions; this server plays the same plan with bytes, pauses, FINs and
RSTs on a socket, so a client (an SDK) meets the failure exactly as a misbehaving provider
would deliver it. It is the "real" side of the fidelity oracle.

Framing follows the in-process player: a plan whose body is only ``Send`` steps goes out with
``content-length``; any other body is chunked, one chunk per ``Send``. Connect-phase failures
cannot be decided per request (the request comes after the connect), so they are separate
endpoints: :func:`blackhole` (connects hang) and :func:`closed_port` (connects are refused).
"""

from __future__ import annotations

import math
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..providers._plan import Break, Forward, Note, Plan, Respond, Send, Wait, response_head
from ..providers._profile import CallRequest

__all__ = ["PlanServer", "Received", "blackhole", "closed_port"]

#: The longest a "never answers" wait holds the connection when the client does not give up.
HOLD_LIMIT = 60.0
#: Pause between the last bytes and an RST, so the client reads what was sent before the reset
#: (an RST makes the peer's kernel drop data it has not yet handed to the reader).
DRAIN = 0.05

Planner = Callable[[CallRequest], Plan]


@dataclass(frozen=True, slots=True)
class Received:
    """One request the server read: when it arrived (``time.monotonic()``) and what it was."""

    at: float
    request: CallRequest


class _Closed(Exception):
    """The client went away; the connection is done."""


def _read_request(conn: socket.socket, buffer: bytearray, base: str) -> CallRequest | None:
    """The next request on ``conn`` (None when the client closed it between requests)."""
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data:
            return None
        buffer += data
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).decode("latin-1")
    del buffer[: end + 4]
    request_line, *lines = head.split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(conn, buffer)
    else:
        length = int(headers.get("content-length", "0") or 0)
        while len(buffer) < length:
            data = conn.recv(65536)
            if not data:
                return None
            buffer += data
        body = bytes(buffer[:length])
        del buffer[:length]
    return CallRequest(method, base + target, headers, body)


def _read_chunked(conn: socket.socket, buffer: bytearray) -> bytes:
    body = bytearray()

    def line() -> bytes:
        while b"\r\n" not in buffer:
            data = conn.recv(65536)
            if not data:
                raise _Closed
            buffer.extend(data)
        end = buffer.index(b"\r\n")
        out = bytes(buffer[:end])
        del buffer[: end + 2]
        return out

    while True:
        size = int(line().split(b";")[0], 16)
        if size == 0:
            while line():  # trailers, up to the empty line
                pass
            return bytes(body)
        while len(buffer) < size + 2:
            data = conn.recv(65536)
            if not data:
                raise _Closed
            buffer.extend(data)
        body += buffer[:size]
        del buffer[: size + 2]


def _reset(conn: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _hold(conn: socket.socket, seconds: float) -> None:
    """Stay silent for ``seconds`` (until the client closes, for ``inf``, at most HOLD_LIMIT)."""
    deadline = time.monotonic() + (HOLD_LIMIT if math.isinf(seconds) else seconds)
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([conn], [], [], left)
        if ready:
            try:
                if not conn.recv(65536, socket.MSG_PEEK):
                    raise _Closed  # the client gave up (its read timeout) and closed
            except OSError:
                raise _Closed from None
            time.sleep(min(left, 0.01))  # the client sent more (a pipelined request): keep silent
    if math.isinf(seconds):
        raise _Closed


def _check(plan: Plan) -> None:
    """Refuse a plan a server cannot play, before any byte of it is sent."""
    for step in plan:
        if isinstance(step, Break) and step.kind in ("connect_timeout", "connect_refused"):
            raise ValueError(f"a {step.kind} break happens before a request; serve it with blackhole() or closed_port()")
        if isinstance(step, Forward):
            raise ValueError("the fidelity server has no upstream to forward to")
    if not any(isinstance(step, (Respond, Break)) for step in plan):
        raise ValueError("a plan must respond or break")


def _play(conn: socket.socket, plan: Plan) -> None:
    """Play ``plan`` on ``conn``; a plan that breaks the connection raises ``_Closed``."""
    chunked = False
    for i, step in enumerate(plan):
        if isinstance(step, Note):
            continue
        if isinstance(step, Wait):
            _hold(conn, step.seconds)
        elif isinstance(step, Respond):
            rest = plan[i + 1 :]
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in step.headers]
            if all(isinstance(s, Send) for s in rest):
                body = b"".join(s.data for s in rest)  # type: ignore[union-attr]
                conn.sendall(response_head(step.status, [*headers, (b"content-length", b"%d" % len(body))]) + body)
                return
            chunked = True  # a body that is not only sends goes chunked, one chunk per send
            conn.sendall(response_head(step.status, [*headers, (b"transfer-encoding", b"chunked")]))
        elif isinstance(step, Send):
            if step.data:
                conn.sendall(b"%x\r\n%s\r\n" % (len(step.data), step.data))
        elif isinstance(step, Break):
            if step.kind == "reset":
                if chunked:  # the response began: let the client read what was sent first
                    time.sleep(DRAIN)
                _reset(conn)
            else:
                conn.close()  # a FIN: no response, or a chunked body without its last chunk
            raise _Closed
    if chunked:
        conn.sendall(b"0\r\n\r\n")


class PlanServer:
    """Serves every request on 127.0.0.1 with ``planner(request)``, one thread per connection.

    Use as a context manager; ``url`` is its base URL and ``received`` every request it read,
    in order of arrival.
    """

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.received: list[Received] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self.url = ""

    def __enter__(self) -> PlanServer:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        threading.Thread(target=self._accept, name="chaoskit-plan-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            try:
                conn.close()
            except OSError:
                pass

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = bytearray()
        try:
            while True:
                request = _read_request(conn, buffer, self.url)
                if request is None:
                    break
                with self._lock:
                    self.received.append(Received(time.monotonic(), request))
                try:
                    plan = self.planner(request)
                    _check(plan)
                except Exception as exc:  # a planner bug: answer 599 and keep it for the caller
                    self.errors.append(exc)
                    plan = [Respond(599, (("content-type", "text/plain"),)), Send(repr(exc).encode())]
                _play(conn, plan)
        except (_Closed, OSError):
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass


@contextmanager
def blackhole() -> Iterator[str]:
    """A base URL whose connects hang: the listener's accept queue is full and SYNs are dropped."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for s in (*fillers, listener):
            s.close()


def closed_port() -> str:
    """A base URL where nothing listens: connects are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


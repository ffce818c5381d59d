"""The aiohttp seam: every ``aiohttp.ClientSession`` request, answered by the chaos engine.

aiohttp sends through ``TCPConnector.connect``, whose ``_create_connection`` resolves the host,
opens the socket and does TLS; then it writes the request on the connection's protocol and
parses the response from the bytes the transport hands it. The seam answers at
``_create_connection``: the engine decides the call, the plan's connect phase plays there
(inside aiohttp's own ``connect``, ``sock_connect`` and ``total`` timers), and aiohttp gets a
connection whose transport is in memory. aiohttp writes its request to it and parses the
HTTP/1.1 bytes of the engine's answer with its own parser, so its timers, its retry of an
idempotent request on a dropped connection, its payload errors and its exception wrapping run
as on a socket. Requests the engine lets through get aiohttp's real connection.

Each connection carries one request (the engine decides at connect time), so aiohttp closes it
after the response instead of keeping it alive; nothing else of the exchange differs.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
from collections.abc import AsyncIterable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..providers._plan import response_head
from ..providers._profile import CallRequest
from ._patching import PatchingSeam
from ._player import Answer, Exchange, Kind, Phase
from ._requests import _copy_notes, _lift_notes

if TYPE_CHECKING:
    from ._player import Answerer

__all__ = ["AiohttpSeam"]

#: How long past a client deadline the seam waits for aiohttp's own timer to fire: aiohttp
#: rounds deadlines beyond its ``ceil_threshold`` up to the next whole second.
_CEIL_SLACK = 1.05


class AiohttpSeam(PatchingSeam):
    """Routes every request of ``aiohttp.TCPConnector`` (so every ClientSession) to ``router``."""

    def patch(self) -> None:
        import aiohttp

        self._patch(aiohttp.TCPConnector, "_create_connection", _answering_create_connection)
        self._patch(aiohttp.ClientSession, "_request", _noting_request)


def _noting_request(original: Callable[..., Any]) -> Callable[..., Any]:
    async def _request(session: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(session, *args, **kwargs)
        except Exception as exc:  # aiohttp wraps what the connector raised; keep chaoskit's note on it
            _lift_notes(exc)
            raise

    _request.__wrapped__ = original  # type: ignore[attr-defined]
    return _request


def _answering_create_connection(original: Callable[..., Any]) -> Callable[..., Any]:
    async def _create_connection(connector: Any, req: Any, traces: Any, timeout: Any) -> Any:
        if not AiohttpSeam.routers:
            return await original(connector, req, traces, timeout)
        from aiohttp.helpers import ceil_timeout

        call = _Call(AiohttpSeam.routers[-1], req, await _request(req), timeout)
        # aiohttp's own sock_connect timer, as around the socket it would open
        async with ceil_timeout(timeout.sock_connect, ceil_threshold=timeout.ceil_threshold):
            early = await call.connect()
        if early is _PASS:
            return await original(connector, req, traces, timeout)
        if early is not None:
            raise early
        return call.connection(connector._factory())  # noqa: SLF001 - aiohttp's connector makes the protocol

    _create_connection.__wrapped__ = original  # type: ignore[attr-defined]
    return _create_connection


# ---- the request the engine sees ----------------------------------------------------------------


def _connect_limit(timeout: Any) -> float | None:
    """The time aiohttp allows for a connection: the earliest of ``total``, ``connect``, ``sock_connect``."""
    limits = [t for t in (timeout.total, timeout.connect, timeout.sock_connect) if t]
    return min(limits) if limits else None


async def _request(req: Any) -> CallRequest:
    """The engine's view of aiohttp's ``ClientRequest``: its body is the payload's bytes (aiohttp's
    payloads keep them for the real send too), before ``compress`` or chunked framing."""
    body = req.body
    content = await body.as_bytes() if hasattr(body, "as_bytes") else bytes(body)
    return CallRequest(req.method, str(req.url), dict(req.headers.items()), content or b"")


class _SocketEvent(Exception):
    """This seam's failure table: a failure is delivered as the socket event it stands for, at
    connect (:func:`_connect_failure`) or on the open connection (:meth:`_Transport._fail`)."""

    def __init__(self, kind: Kind, phase: Phase) -> None:
        super().__init__(kind)
        self.kind = kind
        self.phase = phase


#: The connect phase's outcome when the engine lets the request through to the real network.
_PASS = object()


# ---- one call: the connect phase, then the connection -----------------------------------------------


class _Call:
    """The engine's answer to one request, from the connect phase on.

    The timeouts are what the engine's timers need: ``connect`` is the earliest of aiohttp's
    ``total``, ``connect`` and ``sock_connect``, the bound on getting a connection; ``read`` is
    ``sock_read``, the bound on each wait for bytes. ``total`` is a deadline on the whole
    exchange, which an idle-read timer cannot express: aiohttp's own timer enforces it, and a call
    it cuts short is journaled without an error, as under any outer deadline.
    """

    def __init__(self, router: Answerer, req: Any, request: CallRequest, timeout: Any) -> None:
        loop = asyncio.get_running_loop()
        self.req = req
        self.method = req.method
        self.limit = _connect_limit(timeout)
        self.started = loop.time()
        self.outcome: asyncio.Future[BaseException | None] = loop.create_future()
        exchange = Exchange(request, _SocketEvent, asynchronous=True, connect_timeout=self.limit,
                            read_timeout=timeout.sock_read or None, on_connect=self._connected)
        # a task, so the plan's waits and response play on while aiohttp uses the connection
        self.engine: asyncio.Task[Answer | None] = loop.create_task(router.answer_async(exchange))

    def _connected(self, failure: BaseException | None) -> None:
        if not self.outcome.done():
            self.outcome.set_result(failure)

    async def connect(self) -> Any:
        """Wait out the connect phase: None once connected, :data:`_PASS` to let the request
        through, else what to raise."""
        try:
            await asyncio.wait((self.engine, self.outcome), return_when=asyncio.FIRST_COMPLETED)
            if self.outcome.done() and self.outcome.result() is None:
                return None  # connected; the engine plays on
            await asyncio.wait((self.engine,))
            failure = self.engine.exception()
            if failure is None:
                return _PASS if self.engine.result() is None else None  # passed, or answered at once (a respx route)
            if isinstance(failure, _SocketEvent) and failure.kind == "connect_timeout" and failure.phase == "connect":
                await self._time_out()
            return _connect_failure(failure, self.req)
        except asyncio.CancelledError as cancel:
            # aiohttp's connect, sock_connect or total timer fired (or the caller gave up): the
            # engine journals the timeout it was playing, and its note goes on aiohttp's chain
            self.engine.cancel()
            await asyncio.wait((self.engine,))
            failure = self.outcome.result() if self.outcome.done() else None
            if failure is None and not self.engine.cancelled():
                failure = self.engine.exception()
            if failure is not None:
                _copy_notes(failure, cancel)
            raise

    async def _time_out(self) -> None:
        """The engine's connect timed out: let aiohttp's own timer end it if one is due.

        The engine waited the client's limit (its timers are aiohttp's own, due now), or the
        shorter time a fault set (``after``), after which the network gives up first.
        """
        loop = asyncio.get_running_loop()
        if self.limit is None or loop.time() < self.started + self.limit - 1e-3:
            return  # the network gave up first: ETIMEDOUT, below
        await asyncio.sleep(max(self.started + self.limit - loop.time(), 0.0) + _CEIL_SLACK)  # cancelled by aiohttp
        raise TimeoutError  # aiohttp's timers did not fire: what they raise, wrapped the same way

    def connection(self, protocol: Any) -> Any:
        """aiohttp's protocol on an in-memory transport that plays the rest of the plan."""
        transport = _Transport(self, protocol)
        protocol.connection_made(transport)
        protocol.force_close()  # one request per connection: the engine decides each at connect
        # The engine times sock_read (its clock counts since the last bytes, as aiohttp's timer
        # does, with the same limit) and calls aiohttp's own handler when it expires: see _fail.
        # aiohttp's call_later would race it and leave the journal without the timeout.
        protocol._reschedule_timeout = protocol._drop_timeout  # noqa: SLF001 - aiohttp's read timer, run by the seam
        transport.start()
        return protocol


def _connect_failure(failure: BaseException, req: Any) -> BaseException | None:
    """What ``_create_connection`` raises for a failure before a connection exists.

    ``None`` when the failure comes on the open connection instead (a reset, a close, a read
    timeout); anything not a socket event (``UnroutedRequestError``, a ``ChaosError``) is
    returned as it is.
    """
    from aiohttp import ClientConnectorError

    if not isinstance(failure, _SocketEvent):
        return failure
    if failure.phase != "connect" or failure.kind not in ("connect_timeout", "connect_refused"):
        return None
    host, port = req.url.raw_host, req.port
    if failure.kind == "connect_timeout":  # the kernel gave up on the handshake
        cause: OSError = TimeoutError(errno.ETIMEDOUT, f"Connect call failed ({host!r}, {port})")
    else:
        cause = ConnectionRefusedError(errno.ECONNREFUSED, f"Connect call failed ({host!r}, {port})")
    mapped = ClientConnectorError(req.connection_key, cause)
    mapped.__cause__ = cause
    _copy_notes(failure, mapped)
    return mapped


# ---- the in-memory connection --------------------------------------------------------------------
#
# After the connect phase, failures are delivered as the socket events they stand for, and
# aiohttp's protocol turns them into its own errors (checked against a loopback server):
#   read_timeout → aiohttp's own sock_read handler (``_on_read_timeout``) → SocketTimeoutError,
#                  before the headers and mid-body
#   reset        → connection lost with ECONNRESET → ClientOSError(104) ← ConnectionResetError;
#                  mid-body ClientPayloadError ← TransferEncodingError (ContentLengthError)
#   incomplete   → the peer's FIN → ServerDisconnectedError; mid-body ClientPayloadError
#   connect_timeout, connect_refused (a ``Forward`` whose service is unreachable, on a connection
#                  the client already has) → the peer's FIN, as a proxy closes the connection
# Anything else (a hang with no sock_read, a set-up error) is set on the protocol as it is.


class _Transport(asyncio.Transport):
    """Just enough of a socket transport for aiohttp: it takes the request and plays the answer."""

    def __init__(self, call: _Call, protocol: Any) -> None:
        super().__init__()
        self._call = call
        self._protocol = protocol
        self._written = _RequestBytes()
        self._sent = asyncio.Event()  # the whole request has been written
        self._reading = asyncio.Event()
        self._reading.set()
        self._closing = False
        self._lost = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve())

    # -- what aiohttp calls --
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing and self._written.feed(bytes(data)):
            self._sent.set()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._task is not None:
            self._task.cancel()
        if not self._lost:
            self._lost = True
            asyncio.get_running_loop().call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_reading(self) -> bool:
        return self._reading.is_set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return (self._call.req.url.raw_host, self._call.req.port)
        return default

    # -- playing the answer --
    async def _serve(self) -> None:
        body: Any = None
        failure: Exception | None = None
        try:
            await self._sent.wait()  # a server answers once it has read the request
            try:
                answer = await self._call.engine
            except Exception as exc:
                failure = exc
                return
            assert answer is not None  # a request let through never gets this connection
            status, headers, body = _parts(answer)
            await self._feed(response_head(status, headers))
            chunked = any(k.lower() == b"transfer-encoding" for k, _ in headers)
            silent = self._call.method == "HEAD"  # no body on the wire; the plan still plays out
            if isinstance(body, bytes):
                if body and not silent:
                    await self._feed(body)
                return
            try:
                pieces = body if isinstance(body, AsyncIterable) else _aiter(body)
                async for piece in pieces:
                    if piece and not silent:
                        await self._feed(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except Exception as exc:
                failure = exc
                return
            if chunked and not silent:
                await self._feed(b"0\r\n\r\n")
        finally:
            if failure is not None:
                self._fail(failure)  # outside the handler, so aiohttp's errors do not chain to the engine's
            engine = self._call.engine
            if not engine.done():
                engine.cancel()  # the client closed the connection while the answer was on its way
            elif not engine.cancelled():
                engine.exception()  # retrieved: a failure was delivered above, or the client left
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()  # ends the plan's generator, so the journal records the call's end

    async def _feed(self, data: bytes) -> None:
        """Hand aiohttp one socket read; its reader runs before the next, as bytes arrive apart."""
        await self._reading.wait()
        if not self._closing:
            self._protocol.data_received(data)
            await asyncio.sleep(0)

    def _fail(self, exc: Exception) -> None:
        """Deliver an engine error as the socket event it stands for (see the table above)."""
        if self._closing:
            return
        protocol = self._protocol
        payload = getattr(protocol, "_payload", None)  # the body being read, if the headers are in
        kind = exc.kind if isinstance(exc, _SocketEvent) else None
        if kind == "read_timeout":
            if protocol.exception() is None:
                protocol._on_read_timeout()  # noqa: SLF001 - aiohttp's own timeout handler
        elif kind == "reset":
            self._lose(ConnectionResetError(errno.ECONNRESET, os.strerror(errno.ECONNRESET)))
        elif kind is not None:
            self._lose(None)
        else:
            protocol.set_exception(exc)
            if payload is not None:
                payload.set_exception(exc)
        for raised in (protocol.exception(), payload.exception() if payload is not None else None):
            if raised is not None and raised is not exc:
                _copy_notes(exc, raised)

    def _lose(self, exc: OSError | None) -> None:
        self._closing = self._lost = True
        self._protocol.connection_lost(exc)


class _RequestBytes:
    """Tells when the client has written its whole request: the head, then the body it announced."""

    def __init__(self) -> None:
        self._data = b""
        self._length: int | None = None  # body bytes announced; None: chunked, or the head is not in
        self._chunked = False
        self._done = False

    def feed(self, data: bytes) -> bool:
        if self._done:
            return True
        self._data += data
        if self._length is None and not self._chunked:
            head, found, rest = self._data.partition(b"\r\n\r\n")
            if not found:
                return False
            head = head.lower()
            self._chunked = re.search(rb"\r\ntransfer-encoding:[^\r]*chunked", head) is not None
            length = re.search(rb"\r\ncontent-length: *(\d+)", head)
            self._length = None if self._chunked else int(length[1]) if length else 0
            self._data = rest
        if self._chunked:
            self._done = self._data == b"0\r\n\r\n" or self._data.endswith(b"\r\n0\r\n\r\n")
        else:
            self._done = len(self._data) >= (self._length or 0)
        if self._chunked:
            self._data = self._data[-7:]  # only the tail matters from here on
        return self._done


def _parts(answer: Answer) -> tuple[int, list[tuple[bytes, bytes]], Any]:
    """(status, raw headers with framing, body) of an answer."""
    status, headers, body = answer.status, list(answer.headers), answer.content
    names = {k.lower() for k, _ in headers}
    if b"content-length" not in names and b"transfer-encoding" not in names:
        if isinstance(body, bytes):
            headers.append((b"content-length", str(len(body)).encode()))
        else:
            headers.append((b"transfer-encoding", b"chunked"))
    return status, headers, body


async def _aiter(pieces: Iterable[bytes]) -> Any:
    for piece in pieces:
        yield piece


"""The in-process HTTP seam: every httpx and httpx2 client, sync and async, streaming.

Requests are caught below the client, at the connection pool of ``httpcore`` (used by
``httpx``) and ``httpcore2`` (used by ``httpx2``, which the current openai and anthropic
SDKs send through), through respx's mockers. So the SDK's own retry loop, timeouts and
exception mapping run exactly as in production: a fault raised here is raised as the
``httpcore``/``httpcore2`` error the real socket would produce, and the client maps it.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import importlib
import math
import ssl
from abc import ABC
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import httpx
from respx.mocks import HTTPCoreMocker, Mocker

from .._errors import ChaosError
from ..providers._plan import (
    Break,
    Forward,
    Note,
    Plan,
    Relay,
    Relayer,
    Respond,
    Send,
    Step,
    Upstream,
    Wait,
    reason_phrase,
)
from ._bypass import BYPASS, bypassing

if TYPE_CHECKING:
    from .._clock import Clock
    from .._journal import Call
    from ..engine import OnEnd
    from ..providers._usage import UsageMeter

__all__ = ["Answer", "HttpSeam", "ON_CONNECT", "Player", "bypassing", "connect_phase", "is_async", "upstream_of"]

_FAMILY = "chaoskit.family"
_ASYNC = "chaoskit.async"
#: How long an injected "never answers" waits when the client set no read timeout at all.
HANG_LIMIT = 600.0
#: Request extension for a seam whose client runs its own connect timers (aiohttp), so it must
#: know when the connection exists: a callable ``Player.play_async`` calls exactly once with the
#: outcome of the plan's connect phase (see ``connect_phase``). ``None``: connected, the rest of
#: the plan (waits, the response) follows. Else the transport error the connect fails with, with
#: chaoskit's note; it is raised right after the call, unless the client gave up first (its own
#: timer cancelled the wait), in which case it is only reported. Without the extension the connect
#: phase plays like any other step, as the httpx, httpx2 and requests seams expect.
ON_CONNECT = "chaoskit.on_connect"
#: Headers of a fetched response that describe its framing: the seam frames what it sends
#: itself, and httpx has already decoded the body.
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"content-encoding", b"connection", b"keep-alive"})


@dataclass(frozen=True, slots=True)
class Answer:
    """A response played from a plan, handed to the mockers without building an httpx.Response.

    ``content`` is bytes for a body sent at once, else an iterator (sync clients) or async
    iterator (async clients) that plays the rest of the plan as the client reads.
    """

    status: int
    headers: list[tuple[bytes, bytes]]
    content: Any


class _Core1Mocker(HTTPCoreMocker, ABC):
    """Patches httpcore (under httpx) and tags each request with its family.

    ``ABC`` in the bases keeps respx from putting it in its global registry by name (which
    would refuse a second import of this module); chaoskit registers its router directly.
    """

    name = "chaoskit.httpcore"
    family = "httpcore"
    targets = list(HTTPCoreMocker.targets)
    routers: ClassVar[list[Router]] = []  # type: ignore[assignment]  # duck-typed routers
    _patches: ClassVar[list[Any]] = []

    @classmethod
    def prepare_sync_request(cls, httpx_request: httpx.Request, **kwargs: Any) -> Any:
        httpx_request.extensions = {**httpx_request.extensions, _FAMILY: cls.family, _ASYNC: False}
        return super().prepare_sync_request(httpx_request, **kwargs)

    @classmethod
    async def prepare_async_request(cls, httpx_request: httpx.Request, **kwargs: Any) -> Any:
        httpx_request.extensions = {**httpx_request.extensions, _FAMILY: cls.family, _ASYNC: True}
        return await super().prepare_async_request(httpx_request, **kwargs)

    @classmethod
    def from_sync_httpx_response(cls, httpx_response: Any, target: Any, **kwargs: Any) -> Any:
        module = importlib.import_module(cls.family)
        if isinstance(httpx_response, Answer):
            return module.Response(
                status=httpx_response.status, headers=httpx_response.headers, content=httpx_response.content,
                extensions={"reason_phrase": reason_phrase(httpx_response.status).encode("ascii")},
            )
        return module.Response(  # a respx route's httpx.Response (chaos.router)
            status=httpx_response.status_code,
            headers=httpx_response.headers.raw,
            content=httpx_response.stream,
            extensions=httpx_response.extensions,
        )


class _Core2Mocker(_Core1Mocker, ABC):
    """Patches httpcore2 (under httpx2) and answers with httpcore2 responses."""

    name = "chaoskit.httpcore2"
    family = "httpcore2"
    targets = [t.replace("httpcore.", "httpcore2.", 1) for t in HTTPCoreMocker.targets]
    routers: ClassVar[list[Router]] = []  # type: ignore[assignment]
    _patches: ClassVar[list[Any]] = []


def _available(mocker: type[_Core1Mocker]) -> bool:
    try:
        __import__(mocker.family)
    except ImportError:
        return False
    return True


def _module(request: httpx.Request) -> ModuleType:
    return importlib.import_module(request.extensions.get(_FAMILY, "httpcore"))


class Router(Protocol):
    """What answers intercepted requests: a ``respx.Router``, or a chaos session.

    ``handler`` returns an ``httpx.Response`` or an ``Answer``, or raises ``PassThrough`` to let
    the request go to the network; ``async_handler`` is the same for async clients.
    """

    def handler(self, request: httpx.Request) -> Any: ...

    async def async_handler(self, request: httpx.Request) -> Any: ...


class HttpSeam:
    """Routes every httpx and httpx2 request to ``router`` for as long as it is entered."""

    _active: HttpSeam | None = None

    def __init__(self, router: Router) -> None:
        self.router = router
        self._mockers: list[type[Mocker]] = []

    def __enter__(self) -> HttpSeam:
        if HttpSeam._active is not None:
            raise ChaosError(
                "a chaos session is already active in this process; end it before starting another"
            )
        HttpSeam._active = self
        try:
            for mocker in (_Core1Mocker, _Core2Mocker):
                if _available(mocker):
                    mocker.register(self.router)  # type: ignore[arg-type]
                    self._mockers.append(mocker)
                    mocker.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        while self._mockers:
            mocker = self._mockers.pop()
            mocker.unregister(self.router)  # type: ignore[arg-type]
            mocker.stop()
        if HttpSeam._active is self:
            HttpSeam._active = None


# ---- playing a plan ----------------------------------------------------------------------


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    timeout = request.extensions.get("timeout") or {}
    return {k: timeout.get(k) for k in ("connect", "read")}


_CONNECT_KINDS = frozenset({"connect_timeout", "connect_refused"})


def connect_phase(plan: Plan) -> tuple[Plan, Plan]:
    """(the steps played before a connection exists, the rest of the plan).

    The connect phase is the plan's leading notes and connect failures (``connect_timeout``,
    ``connect_refused``). A ``Forward`` is not in it: the client is connected while the real
    service is fetched, so a slow upstream is a slow response, not a slow connect.
    """
    for i, step in enumerate(plan):
        if not (isinstance(step, Note) or (isinstance(step, Break) and step.kind in _CONNECT_KINDS)):
            return plan[:i], plan[i:]
    return list(plan), []


def _socket_failure(kind: str, asynchronous: bool) -> tuple[str, str | BaseException]:
    """(httpcore exception name, what it wraps) for the failure ``kind`` as a client meets it on a socket.

    What it wraps is the lower error httpcore builds it from (``to_exc(inner)``: its message is
    ``str(inner)``, and SDKs read the chain: anthropic names the last non-empty reason in it), or
    the message where httpcore raises the error itself. The asyncio (anyio) backend wraps errors
    whose text is empty where the sync one has the OS error's. Each compared with a real loopback
    server (tests/fidelity, tests/seams).
    """
    if kind == "reset":
        reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        if not asynchronous:
            return "ReadError", reset
        import anyio

        broken = anyio.BrokenResourceError()
        broken.__cause__ = reset
        return "ReadError", broken
    if kind in ("read_timeout", "connect_timeout"):
        name = "ReadTimeout" if kind == "read_timeout" else "ConnectTimeout"
        if not asynchronous:
            return name, TimeoutError("timed out")
        timeout = TimeoutError()  # anyio turns its cancel scope's deadline into a TimeoutError
        timeout.__context__ = asyncio.CancelledError("Cancelled via cancel scope; reason: deadline exceeded")
        return name, timeout
    if kind == "connect_refused":
        refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        if not asynchronous:
            return "ConnectError", refused
        failed = OSError("All connection attempts failed")
        failed.__cause__ = refused
        return "ConnectError", failed
    if kind == "incomplete_body":
        message = "peer closed connection without sending complete message body (incomplete chunked read)"
        try:
            import h11
        except ImportError:
            return "RemoteProtocolError", message
        return "RemoteProtocolError", h11.RemoteProtocolError(message)
    return "RemoteProtocolError", "Server disconnected without sending a response."


def _failure(kind: str, request: httpx.Request) -> tuple[str, str | BaseException]:
    return _socket_failure(kind, is_async(request))


def _transport_failure(module: ModuleType, name: str, wrapped: str | BaseException, *, mid_body: bool) -> Exception:
    """The httpcore/httpcore2 error ``name`` as a real connection raises it: a lower error is its
    argument and context, and its cause too while a body is read (the pool clears it before a response)."""
    exc: Exception = getattr(module, name)(wrapped)
    if isinstance(wrapped, BaseException):
        exc.__context__ = wrapped
        exc.__suppress_context__ = True
        exc.__cause__ = wrapped if mid_body else None
    return exc


def _break_before(step: Break, request: httpx.Request) -> tuple[float, str, str | BaseException]:
    """(seconds to wait, exception name, what it wraps) for a failure before any response."""
    wait = 0.0
    if step.kind == "connect_timeout":
        connect = _timeouts(request)["connect"]
        limit = HANG_LIMIT if connect is None else connect
        wait = limit if step.after is None else min(step.after, limit)
    return (wait, *_failure(step.kind, request))


def _break_mid_body(step: Break, request: httpx.Request) -> tuple[str, str | BaseException]:
    return _failure("reset" if step.kind == "reset" else "incomplete_body", request)


class _Timer:
    """Tracks time since bytes last arrived, as a socket's read timeout does."""

    __slots__ = ("read", "idle")

    def __init__(self, request: httpx.Request) -> None:
        self.read = _timeouts(request)["read"]
        self.idle = 0.0

    def wait(self, seconds: float) -> tuple[float, bool]:
        """(seconds to really wait, whether the read times out after them)."""
        if self.read is not None and self.idle + seconds >= self.read:
            return max(self.read - self.idle, 0.0), True
        if self.read is None and math.isinf(seconds):
            return HANG_LIMIT, True
        self.idle += seconds
        return seconds, False


def _forwarded(request: httpx.Request) -> tuple[httpx.Request, httpx.Timeout]:
    """A copy of ``request`` to send to the real service, with the client's own timeouts."""
    headers = [(k, v) for k, v in request.headers.raw if k.lower() not in (b"content-length", b"transfer-encoding")]
    timeout = request.extensions.get("timeout") or {}
    limits = httpx.Timeout(
        connect=timeout.get("connect"), read=timeout.get("read"), write=timeout.get("write"), pool=timeout.get("pool"),
    )
    return httpx.Request(request.method, request.url, headers=headers, content=request.content), limits


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every upstream client: building one loads the CA bundle (~20 ms),
    which a fresh context per forwarded call added to its time to first token."""
    return httpx.create_ssl_context()


def _upstream_client(timeout: httpx.Timeout, *, asynchronous: bool = False) -> Any:
    """A client for one forwarded call, with the caller's timeouts and no proxy from the environment."""
    kind = httpx.AsyncClient if asynchronous else httpx.Client
    return kind(timeout=timeout, trust_env=False, verify=_tls())


def upstream_of(response: httpx.Response) -> Upstream:
    """A read ``httpx.Response`` as a plan's upstream answer (its framing headers left out)."""
    headers = tuple(
        (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw if k.lower() not in _FRAMING
    )
    return Upstream(response.status_code, headers, response.content)


class Player:
    """Plays one call's plan, records its outcome in the journal, and ends it once."""

    __slots__ = ("request", "clock", "call", "on_end", "note", "give_back", "errors", "meter", "_ended", "_delivered")

    def __init__(
        self, request: httpx.Request, clock: Clock, call: Call, on_end: OnEnd, note: str,
        give_back: Callable[[], None] | None = None, errors: list[Exception] | None = None,
        meter: UsageMeter | None = None,
    ) -> None:
        self.request = request
        self.errors = errors  # where errors in a fault's set-up found while playing are kept
        self.clock = clock
        self.call = call
        self.on_end = on_end  # sets the call's duration; called at headers and at the end
        self.note = note
        self.give_back = give_back  # returns an unsent reply to its queue
        self.meter = meter  # reads the usage in the body sent (the call's on_end puts it in the journal)
        self._ended = False
        self._delivered: str | None = None  # model text sent so far; None before headers

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self.on_end(self.call)

    def _broke(self) -> None:
        """Record that the response broke: what text got through, and give back an unsent reply."""
        self.call.complete = False
        if self._delivered is None:
            self.call.text = None
            if self.give_back is not None:
                self.give_back()
        elif self.call.text is not None:
            self.call.text = self._delivered

    def _sent(self, step: Send) -> bytes:
        if step.text and self._delivered is not None:
            self._delivered += step.text
        if self.meter is not None:
            self.meter.feed(step.data)
        return step.data

    def fail(self, name: str, wrapped: str | BaseException) -> None:
        """Raise the transport error ``name`` of the request's family, as a socket would;
        ``wrapped`` is its message or the lower error it is built from."""
        raise self._failure(name, wrapped)

    def _failure(self, name: str, wrapped: str | BaseException) -> Exception:
        """Journal the failure ``name`` and return its transport error, noted, to raise."""
        mid_body = self._delivered is not None  # the response had begun: a body was being read
        self.call.error = name
        self._broke()
        self.end()
        exc = _transport_failure(_module(self.request), name, wrapped, mid_body=mid_body)
        exc.add_note(self.note)
        return exc

    def fetch_failed(self, exc: httpx.TransportError) -> None:
        """The real service could not be reached: the client sees the same transport error."""
        name = type(exc).__name__
        self.fail(name if hasattr(_module(self.request), name) else "ConnectError", str(exc) or name)

    def then(self, step: Forward, upstream: Upstream) -> Plan:
        """The plan a ``Forward`` step makes of the real response; set-up errors are kept."""
        try:
            return step.then(upstream)
        except ChaosError as exc:
            self.call.error = type(exc).__name__
            if self.errors is not None:
                self.errors.append(exc)
            self.end()
            raise

    def fetch_sync(self, step: Forward) -> Plan:
        request, timeout = _forwarded(self.request)
        token = BYPASS.set(True)
        try:
            with _upstream_client(timeout) as client:
                upstream = upstream_of(client.send(request))
        except httpx.TransportError as exc:
            self.fetch_failed(exc)
        finally:
            BYPASS.reset(token)
        return self.then(step, upstream)

    async def fetch_async(self, step: Forward) -> Plan:
        request, timeout = _forwarded(self.request)
        token = BYPASS.set(True)
        try:
            async with _upstream_client(timeout, asynchronous=True) as client:
                upstream = upstream_of(await client.send(request))
        except httpx.TransportError as exc:
            self.fetch_failed(exc)
        finally:
            BYPASS.reset(token)
        return self.then(step, upstream)

    def read_timed_out(self, timer: _Timer) -> None:
        if timer.read is None:
            self.call.error = "Hang"
            self._broke()
            self.end()
            raise ChaosError(
                f"chaoskit: {self.request.method} {self.request.url} never answered and the "
                f"client has no read timeout, so it waited {HANG_LIMIT:.0f} s; set a timeout "
                "on the client"
            )
        self.fail(*_failure("read_timeout", self.request))

    def response(self, step: Respond, rest: Plan, body: Any) -> Answer:
        self.call.status = step.status
        self._delivered = ""
        self.on_end(self.call, final=False)  # the duration so far: time to headers
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in step.headers]
        if all(isinstance(s, Send) for s in rest):
            data = b"".join(self._sent(s) for s in rest)  # type: ignore[arg-type]
            self.end()
            headers.append((b"content-length", str(len(data)).encode()))
            return Answer(step.status, headers, data)
        headers.append((b"transfer-encoding", b"chunked"))
        return Answer(step.status, headers, body(rest))

    # -- sync --
    def play_sync(self, plan: Plan) -> Answer:
        """Wait and fail here, or return the response; a streamed body plays as it is read."""
        timer = _Timer(self.request)
        for i, step in enumerate(plan):
            if isinstance(step, Wait):
                seconds, times_out = timer.wait(step.seconds)
                self.clock.sleep(seconds)
                if times_out:
                    self.read_timed_out(timer)
            elif isinstance(step, Break):
                seconds, name, wrapped = _break_before(step, self.request)
                self.clock.sleep(seconds)
                self.fail(name, wrapped)
            elif isinstance(step, Respond):
                return self.response(step, plan[i + 1 :], self._body_sync)
            elif isinstance(step, Note):
                self.call.detail = step.text
            elif isinstance(step, Forward):
                return self.play_sync(self.fetch_sync(step) + plan[i + 1 :])
            elif isinstance(step, Relay):
                return self._relay_sync(step)
        raise AssertionError("a plan must respond or break")

    def _body_sync(self, rest: Plan) -> Iterator[bytes]:
        timer = _Timer(self.request)
        try:
            for step in rest:
                yield from self._body_step_sync(step, timer)
        finally:
            self.end()

    def _body_step_sync(self, step: Step, timer: _Timer) -> Iterator[bytes]:
        if isinstance(step, Send):
            timer.idle = 0.0
            yield self._sent(step)
        elif isinstance(step, Wait):
            seconds, times_out = timer.wait(step.seconds)
            self.clock.sleep(seconds)
            if times_out:
                self.read_timed_out(timer)
        elif isinstance(step, Break):
            self.fail(*_break_mid_body(step, self.request))

    # -- relaying a real response as it arrives --
    def _relay_head(self, relayer: Relayer, response: httpx.Response) -> Answer:
        headers = tuple(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw if k.lower() not in _FRAMING
        )
        steps = relayer.head(response.status_code, headers)
        respond = next(s for s in steps if isinstance(s, Respond))
        self.call.status = respond.status
        self.call.text = ""  # the model text relayed, counted as it goes
        self._delivered = ""
        self.on_end(self.call, final=False)  # the duration so far: time to headers
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in respond.headers]
        return Answer(respond.status, [*raw, (b"transfer-encoding", b"chunked")], None)

    def _relay_sync(self, step: Relay) -> Answer:
        request, timeout = _forwarded(self.request)
        client = _upstream_client(timeout)
        token = BYPASS.set(True)
        try:
            response = client.send(request, stream=True)
        except httpx.TransportError as exc:
            client.close()
            self.fetch_failed(exc)
        finally:
            BYPASS.reset(token)
        relayer = step.make()
        head = self._relay_head(relayer, response)
        return Answer(head.status, head.headers, self._relayed_sync(relayer, response, client))

    def _relayed_sync(self, relayer: Relayer, response: httpx.Response, client: httpx.Client) -> Iterator[bytes]:
        timer = _Timer(self.request)
        try:
            try:
                for chunk in response.iter_bytes():
                    for step in relayer.feed(chunk):
                        yield from self._body_step_sync(step, timer)
                    if relayer.done:
                        break
            except httpx.TransportError as exc:  # the real server broke the stream itself
                self.fetch_failed(exc)
            for step in relayer.end():
                yield from self._body_step_sync(step, timer)
        finally:
            self.call.text = self._delivered  # what was relayed, however the reading ended
            if relayer.broke:
                self.call.complete = False
            response.close()
            client.close()
            self.end()

    # -- async --
    async def _asleep(self, seconds: float) -> None:
        """Wait in the event loop; a wait the caller cancels (its own deadline) is journaled."""
        try:
            await self.clock.asleep(seconds)
        except BaseException:
            if not self._ended:
                self.call.error = self.call.error or "Cancelled"
                self._broke()
                self.end()
            raise

    async def play_async(self, plan: Plan) -> Answer:
        """As play_sync, for async clients (asyncio or trio, through anyio).

        With the ``ON_CONNECT`` extension on the request, the connect phase is played first
        and its outcome reported, so the seam can hand the client a connection before the rest.
        """
        on_connect = self.request.extensions.get(ON_CONNECT)
        if on_connect is not None:
            plan = await self._connect_async(plan, on_connect)
        return await self._respond_async(plan)

    async def _connect_async(self, plan: Plan, on_connect: Callable[[Exception | None], None]) -> Plan:
        """Play the connect phase and report its outcome; return the rest of the plan."""
        head, rest = connect_phase(plan)
        for step in head:
            if isinstance(step, Note):
                self.call.detail = step.text
                continue
            assert isinstance(step, Break)
            seconds, name, wrapped = _break_before(step, self.request)
            try:
                await self._asleep(seconds)
            except BaseException:  # cancelled: the client's own connect timer fired first
                on_connect(self._failure(name, wrapped))
                raise
            exc = self._failure(name, wrapped)
            on_connect(exc)
            raise exc
        on_connect(None)
        return rest

    async def _respond_async(self, plan: Plan) -> Answer:
        timer = _Timer(self.request)
        for i, step in enumerate(plan):
            if isinstance(step, Wait):
                seconds, times_out = timer.wait(step.seconds)
                await self._asleep(seconds)
                if times_out:
                    self.read_timed_out(timer)
            elif isinstance(step, Break):
                seconds, name, wrapped = _break_before(step, self.request)
                await self._asleep(seconds)
                self.fail(name, wrapped)
            elif isinstance(step, Respond):
                return self.response(step, plan[i + 1 :], self._body_async)
            elif isinstance(step, Note):
                self.call.detail = step.text
            elif isinstance(step, Forward):
                return await self._respond_async(await self.fetch_async(step) + plan[i + 1 :])
            elif isinstance(step, Relay):
                return await self._relay_async(step)
        raise AssertionError("a plan must respond or break")

    async def _body_async(self, rest: Plan) -> AsyncIterator[bytes]:
        timer = _Timer(self.request)
        try:
            for step in rest:
                data = await self._body_step_async(step, timer)
                if data is not None:
                    yield data
        finally:
            self.end()

    async def _body_step_async(self, step: Step, timer: _Timer) -> bytes | None:
        if isinstance(step, Send):
            timer.idle = 0.0
            return self._sent(step)
        if isinstance(step, Wait):
            seconds, times_out = timer.wait(step.seconds)
            await self._asleep(seconds)
            if times_out:
                self.read_timed_out(timer)
        elif isinstance(step, Break):
            self.fail(*_break_mid_body(step, self.request))
        return None

    async def _relay_async(self, step: Relay) -> Answer:
        request, timeout = _forwarded(self.request)
        client = _upstream_client(timeout, asynchronous=True)
        token = BYPASS.set(True)
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as exc:
            await client.aclose()
            self.fetch_failed(exc)
        finally:
            BYPASS.reset(token)
        relayer = step.make()
        head = self._relay_head(relayer, response)
        return Answer(head.status, head.headers, self._relayed_async(relayer, response, client))

    async def _relayed_async(self, relayer: Relayer, response: httpx.Response, client: httpx.AsyncClient) -> AsyncIterator[bytes]:
        timer = _Timer(self.request)
        try:
            try:
                async for chunk in response.aiter_bytes():
                    for step in relayer.feed(chunk):
                        data = await self._body_step_async(step, timer)
                        if data is not None:
                            yield data
                    if relayer.done:
                        break
            except httpx.TransportError as exc:
                self.fetch_failed(exc)
            for step in relayer.end():
                data = await self._body_step_async(step, timer)
                if data is not None:
                    yield data
        finally:
            self.call.text = self._delivered  # what was relayed, however the reading ended
            if relayer.broke:
                self.call.complete = False
            await response.aclose()
            await client.aclose()
            self.end()


def is_async(request: httpx.Request) -> bool:
    """Whether the request came from an async client."""
    return bool(request.extensions.get(_ASYNC))

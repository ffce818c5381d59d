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
import importlib
from abc import ABC
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from respx.mocks import HTTPCoreMocker, Mocker

from .._errors import ChaosError
from ..providers._plan import reason_phrase
from ..providers._profile import CallRequest
from ._bypass import BYPASS
from ._player import Answer, Exchange, Failures, Kind, Phase

if TYPE_CHECKING:
    from .._journal import Call
    from ..engine import OnEnd
    from ..providers._usage import UsageMeter

__all__ = ["HttpSeam", "Incoming", "Watch", "exchange_of"]

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
    def to_httpx_request(cls, **kwargs: Any) -> Incoming:
        """The pool's request as chaoskit reads it: no ``httpx.Request`` is built for it (respx's
        conversion, through ``httpx.URL``, cost a quarter of the seam's time); one is made only
        for what is written against it (respx patterns and routes), see ``CallRequest.origin``."""
        return Incoming(kwargs["request"], cls.family)

    @classmethod
    def prepare_sync_request(cls, httpx_request: Incoming, **kwargs: Any) -> Any:  # respx names it so
        request = kwargs["request"]
        httpx_request.body = b"".join(request.stream)
        request.stream = _Body(httpx_request.body)  # read again if it goes on to the real pool
        return httpx_request, kwargs

    @classmethod
    async def prepare_async_request(cls, httpx_request: Incoming, **kwargs: Any) -> Any:  # respx names it so
        request = kwargs["request"]
        httpx_request.body = b"".join([chunk async for chunk in request.stream])
        httpx_request.asynchronous = True
        request.stream = _Body(httpx_request.body)
        return httpx_request, kwargs

    @classmethod
    def _send_sync_request(cls, httpx_request: Incoming, *, target_spec: Any, instance: Any, **kwargs: Any) -> Any:
        from respx.models import PassThrough

        try:
            answer = cls.handler(httpx_request)
        except PassThrough as passed:
            watch = getattr(passed, "watch", None)
            token = BYPASS.set(True)  # the pool hands it to a connection, patched too: decided once
            try:
                if watch is None:
                    return target_spec(instance, **kwargs)
                return watch.response(lambda: target_spec(instance, **kwargs))
            finally:
                BYPASS.reset(token)
        return cls.from_sync_httpx_response(answer, instance, **kwargs)

    @classmethod
    async def _send_async_request(cls, httpx_request: Incoming, *, target_spec: Any, instance: Any, **kwargs: Any) -> Any:
        from respx.models import PassThrough

        try:
            answer = await cls.async_handler(httpx_request)
        except PassThrough as passed:
            watch = getattr(passed, "watch", None)
            token = BYPASS.set(True)
            try:
                if watch is None:
                    return await target_spec(instance, **kwargs)
                return await watch.aresponse(lambda: target_spec(instance, **kwargs))
            finally:
                BYPASS.reset(token)
        return cls.from_sync_httpx_response(answer, instance, **kwargs)

    @classmethod
    def from_sync_httpx_response(cls, httpx_response: Any, target: Any, **kwargs: Any) -> Any:
        answer: Answer = httpx_response  # the router's answer (see DecidingRouter.handler)
        return importlib.import_module(cls.family).Response(
            status=answer.status, headers=answer.headers, content=answer.content,
            extensions={"reason_phrase": reason_phrase(answer.status).encode("ascii")},
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


class Router(Protocol):
    """What answers intercepted requests: a ``respx.Router``, or a chaos session.

    ``handler`` returns an ``Answer``, or raises ``PassThrough`` to let
    the request go to the network; ``async_handler`` is the same for async clients.
    """

    def handler(self, request: Incoming) -> Any: ...

    async def async_handler(self, request: Incoming) -> Any: ...


class HttpSeam:
    """Routes every httpx and httpx2 request to ``router`` for as long as it is entered."""

    _active: HttpSeam | None = None

    def __init__(self, router: Router) -> None:
        self.router = router
        self._mockers: list[type[Mocker]] = []

    @staticmethod
    def refuse_second() -> None:
        """Raise if a chaos session already intercepts in this process (one at a time)."""
        if HttpSeam._active is not None:
            raise ChaosError(
                "a chaos session is already active in this process; end it before starting another"
            )

    def __enter__(self) -> HttpSeam:
        HttpSeam.refuse_second()
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


# ---- a call passed through to a real server, recorded as it passes ---------------------------


class Watch:
    """Records the real answer of a call the engine passed through: its status, the time to its
    headers, its usage and how it ended, without touching what the client reads. The client's
    own connection pool sends it (its proxies, certificates and keep-alive), so nothing differs."""

    def __init__(self, call: Call, on_end: OnEnd, meter: UsageMeter | None) -> None:
        self.call = call
        self.on_end = on_end
        self.meter = meter

    def response(self, send: Callable[[], Any]) -> Any:
        try:
            response = send()
        except Exception as exc:
            self.failed(exc)
            raise
        return self._head(response)

    async def aresponse(self, send: Callable[[], Any]) -> Any:
        try:
            response = await send()
        except Exception as exc:
            self.failed(exc)
            raise
        return self._head(response)

    def failed(self, exc: BaseException) -> None:
        """The real server could not be reached, or broke the body: journaled, then raised as it is."""
        self.call.error = type(exc).__name__
        self.call.complete = False
        self.on_end(self.call)

    def _head(self, response: Any) -> Any:
        self.call.status = response.status
        self.on_end(self.call, final=False)  # the time to headers
        response.stream = _WatchedBody(response.stream, self)
        return response


class _WatchedBody:
    """A real response body as httpcore gives it (sync or async), fed to the usage meter as the
    client reads it; closing it ends the call."""

    def __init__(self, stream: Any, watch: Watch) -> None:
        self._stream = stream
        self._watch = watch

    def _seen(self, chunk: bytes) -> bytes:
        if self._watch.meter is not None:
            self._watch.meter.feed(chunk)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from map(self._seen, self._stream)
        except Exception as exc:
            self._watch.failed(exc)
            raise

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield self._seen(chunk)
        except Exception as exc:
            self._watch.failed(exc)
            raise

    def close(self) -> None:
        try:
            if hasattr(self._stream, "close"):
                self._stream.close()
        finally:
            self._watch.on_end(self._watch.call)

    async def aclose(self) -> None:
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            self._watch.on_end(self._watch.call)


# ---- the httpcore errors a socket gives ------------------------------------------------------


class Incoming:
    """One request as httpcore's (or httpcore2's) pool received it, with its body read."""

    __slots__ = ("request", "family", "body", "asynchronous")

    def __init__(self, request: Any, family: str) -> None:
        self.request = request
        self.family = family
        self.body = b""
        self.asynchronous = False


class _Body:
    """A request body read once, which the real pool can read again (sync or async)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


def exchange_of(incoming: Incoming) -> Exchange:
    """The player's view of a request from an httpx or httpx2 client."""
    request = incoming.request
    url = request.url
    host = url.host.decode("ascii")
    netloc = f"[{host}]" if ":" in host else host
    port = "" if url.port is None else f":{url.port}"
    target = url.target.decode("ascii")
    headers: dict[str, str] = {}
    for key, value in request.headers:
        name, text = key.decode("latin-1"), value.decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    call = CallRequest(
        request.method.decode("ascii"), f"{url.scheme.decode('ascii')}://{netloc}{port}{target}", headers, incoming.body,
        host=host, path=target.split("?", 1)[0],
    )
    timeout = request.extensions.get("timeout") or {}
    asynchronous = incoming.asynchronous
    return Exchange(
        call, httpcore_failures(importlib.import_module(incoming.family), asynchronous), asynchronous,
        connect_timeout=timeout.get("connect"), read_timeout=timeout.get("read"),
    )


def httpcore_failures(module: ModuleType, asynchronous: bool) -> Failures:
    """The httpcore (or httpcore2) table: each failure as the connection pool raises it on a socket."""

    def failure(kind: Kind, phase: Phase) -> BaseException:
        name, wrapped = _socket_failure(kind, phase, asynchronous)
        return _transport_failure(module, name, wrapped, mid_body=phase == "body")

    return failure


def _socket_failure(kind: Kind, phase: Phase, asynchronous: bool) -> tuple[str, str | BaseException]:
    """(httpcore exception name, what it wraps) for ``kind`` as a client meets it on a socket.

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
    if phase == "body":  # the peer closed mid-body
        message = "peer closed connection without sending complete message body (incomplete chunked read)"
        try:
            import h11
        except ImportError:
            return "RemoteProtocolError", message
        return "RemoteProtocolError", h11.RemoteProtocolError(message)
    return "RemoteProtocolError", "Server disconnected without sending a response."


def _transport_failure(module: ModuleType, name: str, wrapped: str | BaseException, *, mid_body: bool) -> Exception:
    """The httpcore/httpcore2 error ``name`` as a real connection raises it: a lower error is its
    argument and context, and its cause too while a body is read (the pool clears it before a response)."""
    exc: Exception = getattr(module, name)(wrapped)
    if isinstance(wrapped, BaseException):
        exc.__context__ = wrapped
        exc.__suppress_context__ = True
        exc.__cause__ = wrapped if mid_body else None
    return exc

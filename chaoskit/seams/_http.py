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
from types import ModuleType
from typing import Any, ClassVar, Protocol

import httpx
from respx.mocks import HTTPCoreMocker, Mocker

from .._errors import ChaosError
from ..providers._plan import reason_phrase
from ..providers._profile import CallRequest
from ._player import Answer, Exchange, Failures, Kind, Phase

__all__ = ["HttpSeam", "exchange_of", "is_async"]

_FAMILY = "chaoskit.family"
_ASYNC = "chaoskit.async"


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


def _module(request: httpx.Request) -> ModuleType:
    return importlib.import_module(request.extensions.get(_FAMILY, "httpcore"))


class Router(Protocol):
    """What answers intercepted requests: a ``respx.Router``, or a chaos session.

    ``handler`` returns an ``Answer``, or raises ``PassThrough`` to let
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


# ---- the httpcore errors a socket gives ------------------------------------------------------


def exchange_of(request: httpx.Request) -> Exchange:
    """The player's view of a request from an httpx or httpx2 client (its body read)."""
    timeout = request.extensions.get("timeout") or {}
    asynchronous = is_async(request)
    return Exchange(
        CallRequest.from_httpx(request), httpcore_failures(_module(request), asynchronous), asynchronous,
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


def is_async(request: httpx.Request) -> bool:
    """Whether the request came from an async client."""
    return bool(request.extensions.get(_ASYNC))

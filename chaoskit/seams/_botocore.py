"""The botocore seam: every ``bedrock-runtime`` call of boto3/botocore, answered by the chaos engine.

botocore sends through urllib3, not httpx, and it has its own hook for this: before each
attempt ``Endpoint._do_get_response`` emits ``before-send.bedrock-runtime.<Operation>`` with the
signed ``AWSPreparedRequest``, and a handler that returns an ``AWSResponse`` replaces the send.
Everything around that attempt is botocore's own: the standard retry mode's ``needs-retry``
handler (3 attempts, throttling and transient codes, the retry quota, ``time.sleep`` backoff),
the rest-json parser, ``client.exceptions.ThrottlingException`` and the event-stream reader.

Where the hook lives: each client gets a *copy* of its session's event emitter when it is
created, so a handler registered on a session, or on the clients created while chaoskit runs,
misses the client an app made at import time (``bedrock = boto3.client("bedrock-runtime")`` at
module level), and no registry can find the clients made before it existed. So the seam wraps
``botocore.hooks.HierarchicalEmitter.emit`` on the class, which every client's emitter (behind
its ``EventAliaser``) calls: for ``before-send.bedrock-runtime.*`` it runs the handlers the
client has, and only when none of them answered (a moto or Stubber-style responder wins) adds
chaoskit's answer, as a handler registered last would. Exit restores the original method, so
nothing of chaoskit is left on any emitter after a session, failed or not. Other services and
events pass through untouched; aiobotocore's async emitter is not covered. When botocore is not
imported yet at session start, the seam patches it right after its ``hooks`` module first runs
(a one-shot ``sys.meta_path`` finder), so a session costs nothing to a suite without boto3 and
still covers an app that imports it inside a test.

The answer is the engine's: the ``AWSPreparedRequest`` becomes an ``Exchange`` (the request, the
client's connect and read timeouts, and this seam's failure table) for the engine's router,
which routes it (``chaos.route``, allowed hosts, the Bedrock profile), journals it and plays its plan. Waits go through the
session clock; the response reaches botocore as a real ``urllib3.HTTPResponse`` over an
in-memory socket (the requests seam's), so streaming bodies, ``StreamingBody`` and
``EventStream`` read as from a socket and mid-body failures are urllib3's own. Failures before
a response are raised as the exceptions ``URLLib3Session.send`` raises for the same socket event
(``botocore/httpsession.py``), all retried by ``TransientRetryableChecker``:

    connect timeout → ConnectTimeoutError    ← urllib3 ConnectTimeoutError
    refused         → EndpointConnectionError ← urllib3 NewConnectionError
    read timeout    → ReadTimeoutError        ← urllib3 ReadTimeoutError
    reset / closed  → ConnectionClosedError   ← urllib3 ProtocolError("Connection aborted.", ...)

A request the session lets through (an allowed host) goes to the network as botocore sends it.
"""

from __future__ import annotations

import errno
import http.client
import importlib.abc
import os
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..providers._profile import CallRequest
from ._patching import PatchingSeam
from ._player import Exchange, Kind, Phase
from ._requests import (
    _body_bytes,
    _copy_notes,
    _lift_notes,
    _parts,
    _Socket,
    socket_read_failure,
    urllib3_supported,
)

__all__ = ["BotocoreSeam"]

_EVENT = "before-send.bedrock-runtime."
#: Headers whose values chaoskit must never hold (the journal redacts Authorization itself).
_DROP = frozenset({"x-amz-security-token"})


class BotocoreSeam(PatchingSeam):
    """Answers every ``bedrock-runtime`` request of every botocore client with ``router``.

    botocore is patched at once if it is imported, else the moment it is (an app that imports
    boto3 inside a test), so a session costs nothing to a suite that never uses it.
    """

    def patch(self) -> None:
        if "botocore.hooks" in sys.modules:
            self._install()
            return
        finder = _AfterImport("botocore.hooks", self._install)
        sys.meta_path.insert(0, finder)
        self._restore.append(finder.remove)

    def _install(self) -> None:
        from botocore.hooks import HierarchicalEmitter

        if not urllib3_supported("botocore", "its bedrock-runtime calls"):
            return
        self._patch(HierarchicalEmitter, "emit", _answering_emit)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``then`` right after module ``name`` is first executed; then leaves ``sys.meta_path``."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name = name
        self.then = then

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        self.remove()
        for finder in sys.meta_path:
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_patch(module: Any) -> None:
            exec_module(module)
            self.then()

        loader.exec_module = exec_then_patch  # type: ignore[method-assign]  # this spec's own loader instance
        return spec


def _answering_emit(original: Callable[..., Any]) -> Callable[..., Any]:
    def emit(emitter: Any, event_name: str, **kwargs: Any) -> Any:
        responses = original(emitter, event_name, **kwargs)
        if not event_name.startswith(_EVENT) or not BotocoreSeam.routers or not isinstance(responses, list):
            return responses
        if any(response is not None for _, response in responses):
            return responses  # a handler of the client's own answered: botocore uses the first
        answer = _answer(BotocoreSeam.routers[-1], kwargs["request"])
        return [*responses, (_answer, answer)] if answer is not None else responses

    emit.__wrapped__ = original  # type: ignore[attr-defined]
    return emit


def _answer(router: Any, aws_request: Any) -> Any:
    """The ``AWSResponse`` for one attempt, or None to let botocore send it itself."""
    answer = router.answer_sync(_exchange(aws_request))
    return None if answer is None else _response(aws_request, answer)


def _exchange(aws_request: Any) -> Exchange:
    context = getattr(aws_request, "context", None) or {}
    config = context.get("client_config")
    read = context.get("read_timeout") or getattr(config, "read_timeout", 60)
    connect = getattr(config, "connect_timeout", 60)
    headers = {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for name, value in aws_request.headers.items()
        if name.lower() not in _DROP
    }
    request = CallRequest(aws_request.method, aws_request.url, headers, _body_bytes(aws_request.body))
    return Exchange(request, botocore_failures(aws_request, connect, read), connect_timeout=connect, read_timeout=read)


def _response(aws_request: Any, answer: Any) -> Any:
    """An ``AWSResponse`` over a urllib3 response, read at once unless the operation streams."""
    from botocore.awsrequest import AWSResponse
    from urllib3._collections import HTTPHeaderDict
    from urllib3.response import HTTPResponse

    status, raw_headers, body = _parts(answer)
    url = aws_request.url
    wire = http.client.HTTPResponse(_Socket(status, raw_headers, body), method=aws_request.method, url=url)  # type: ignore[arg-type]
    wire.begin()
    raw = HTTPResponse(  # as URLLib3Session.send asks urlopen for it
        body=wire, headers=HTTPHeaderDict(wire.msg.items()), status=wire.status, version=wire.version,  # type: ignore[arg-type]
        reason=wire.reason, preload_content=False, decode_content=False, original_response=wire,
        enforce_content_length=False, request_method=aws_request.method, request_url=url,
    )
    response = AWSResponse(url, raw.status, raw.headers, raw)
    if not aws_request.stream_output:
        try:
            response.content  # noqa: B018  # as URLLib3Session.send does, so body errors map the same
        except Exception as exc:
            mapped = _while_reading(exc, aws_request)
            if mapped is None:
                raise
            raise mapped from exc
    return response


def botocore_failures(aws_request: Any, connect: float | None, read: float | None) -> Callable[[Kind, Phase], BaseException]:
    """The botocore table for one attempt: before a response, what ``URLLib3Session.send`` raises on
    a real socket; mid-body, what the socket read raises (botocore maps urllib3's wrapping of it
    with ``_while_reading`` when it reads a whole body)."""

    def failure(kind: Kind, phase: Phase) -> BaseException:
        if phase == "body":
            return socket_read_failure(kind)
        return _before_response(kind, aws_request, connect, read)

    return failure


def _before_response(kind: Kind, aws_request: Any, connect: float | None, read: float | None) -> BaseException:
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
    from urllib3.exceptions import ConnectTimeoutError as Urllib3ConnectTimeout
    from urllib3.exceptions import NewConnectionError, ProtocolError
    from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

    url = aws_request.url
    mapped: BaseException
    cause: BaseException
    if kind == "connect_timeout":
        host = urlsplit(url).hostname
        cause = Urllib3ConnectTimeout(None, f"Connection to {host} timed out. (connect timeout={connect})")
        cause.__cause__ = TimeoutError("timed out")
        mapped = ConnectTimeoutError(endpoint_url=url, error=cause)
    elif kind == "connect_refused":
        refused = ConnectionRefusedError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))
        cause = NewConnectionError(None, f"Failed to establish a new connection: {refused}")  # type: ignore[arg-type]
        cause.__cause__ = refused
        mapped = EndpointConnectionError(endpoint_url=url, error=cause)
    elif kind == "read_timeout":
        cause = Urllib3ReadTimeout(None, url, f"Read timed out. (read timeout={read})")  # type: ignore[arg-type]
        cause.__cause__ = TimeoutError("timed out")
        mapped = ReadTimeoutError(endpoint_url=url, error=cause)
    else:
        socket_error: BaseException = (
            ConnectionResetError(errno.ECONNRESET, os.strerror(errno.ECONNRESET)) if kind == "reset"
            else http.client.RemoteDisconnected("Remote end closed connection without response")
        )
        cause = ProtocolError("Connection aborted.", socket_error)
        cause.__cause__ = socket_error  # urllib3 raises it from the socket's error
        mapped = ConnectionClosedError(error=cause, request=aws_request, endpoint_url=url)
    mapped.__cause__ = cause
    mapped.__suppress_context__ = True
    return mapped


def _while_reading(exc: Exception, aws_request: Any) -> BaseException | None:
    """The botocore exception for a urllib3 error while reading a whole body (``httpsession.py``)."""
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

    url = aws_request.url
    mapped: BaseException
    if isinstance(exc, Urllib3ReadTimeout):
        mapped = ReadTimeoutError(endpoint_url=url, error=exc)
    elif isinstance(exc, ProtocolError):
        mapped = ConnectionClosedError(error=exc, request=aws_request, endpoint_url=url)
    else:
        return None
    _lift_notes(exc)
    _copy_notes(exc, mapped)
    return mapped

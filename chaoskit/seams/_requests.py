"""The requests seam: every ``requests`` call, answered by the chaos engine below urllib3.

requests sends through urllib3: ``HTTPAdapter.send`` → ``HTTPConnectionPool.urlopen`` (the
``Retry`` loop and error wrapping) → ``_make_request`` (one attempt on one connection). The
seam marks calls that enter ``HTTPAdapter.send`` and answers their ``_make_request``, so an
adapter's ``Retry`` (``status_forcelist``, ``Retry-After``, backoff), urllib3's and requests'
exception wrapping and requests' body reading all run as in production. Other urllib3 users
(botocore, pip) are left alone. A response reaches urllib3 as ``http.client`` parsed it from
the bytes a server would send, over an in-memory socket, so streams, chunked framing and
mid-body failures take the library's own paths.

Needs urllib3 2; with urllib3 1.x the seam warns and intercepts nothing.
"""

from __future__ import annotations

import contextvars
import errno
import http.client
import inspect
import io
import os
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._errors import ChaosWarning
from ..providers._plan import response_head
from ..providers._profile import CallRequest
from ._patching import PatchingSeam
from ._player import Exchange, Kind, Phase

if TYPE_CHECKING:
    from ._player import Answer, Answerer

__all__ = ["RequestsSeam"]

#: The router answering calls made inside ``HTTPAdapter.send`` on this thread or task.
_ROUTER: contextvars.ContextVar[Answerer | None] = contextvars.ContextVar("chaoskit_requests", default=None)


def urllib3_supported(client: str, calls: str) -> bool:
    """Whether the installed urllib3 is one the urllib3-based seams can intercept (2.x); else a
    ChaosWarning says that ``client``'s ``calls`` go to the network."""
    import urllib3

    if int(urllib3.__version__.split(".")[0]) >= 2:
        return True
    warnings.warn(
        ChaosWarning(
            f"chaoskit does not intercept {client} with urllib3 {urllib3.__version__}; "
            f"{calls} go to the network. Install urllib3>=2."
        ),
        stacklevel=4,
    )
    return False


class RequestsSeam(PatchingSeam):
    """Routes every request sent through ``requests.adapters.HTTPAdapter`` to ``router``."""

    def patch(self) -> None:
        import requests.adapters
        from urllib3.connectionpool import HTTPConnectionPool

        if not urllib3_supported("requests", "its calls"):
            return
        self._patch(requests.adapters.HTTPAdapter, "send", _marking_send)
        self._patch(HTTPConnectionPool, "_make_request", _answering_make_request)




def _marking_send(original: Callable[..., Any]) -> Callable[..., Any]:
    def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        token = _ROUTER.set(RequestsSeam.routers[-1] if RequestsSeam.routers else None)
        try:
            return original(adapter, request, *args, **kwargs)
        except Exception as exc:  # requests raises its own error; keep chaoskit's note on it
            _lift_notes(exc)
            raise
        finally:
            _ROUTER.reset(token)

    send.__wrapped__ = original  # type: ignore[attr-defined]
    return send


def _answering_make_request(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    def _make_request(pool: Any, conn: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        router = _ROUTER.get()
        if router is None:
            return original(pool, conn, method, url, *args, **kwargs)
        bound = signature.bind(pool, conn, method, url, *args, **kwargs)
        bound.apply_defaults()
        body, headers, timeout = bound.arguments["body"], bound.arguments["headers"], bound.arguments["timeout"]
        retries, response_conn = bound.arguments["retries"], bound.arguments["response_conn"]
        preload_content, decode_content = bound.arguments["preload_content"], bound.arguments["decode_content"]
        enforce_content_length = bound.arguments["enforce_content_length"]
        from urllib3.util.timeout import Timeout

        pool.num_requests += 1
        timeout_obj = pool._get_timeout(timeout)  # noqa: SLF001 - urllib3's timeouts, as its pool reads them
        timeout_obj.start_connect()
        conn.timeout = Timeout.resolve_default_timeout(timeout_obj.connect_timeout)
        read_timeout = Timeout.resolve_default_timeout(timeout_obj.read_timeout)
        content = _body_bytes(body)
        exchange = Exchange(
            CallRequest(method, _full_url(pool, url), dict((headers or {}).items()), content),
            urllib3_failures(pool, conn, url, read_timeout), connect_timeout=conn.timeout, read_timeout=read_timeout,
        )
        answer = router.answer_sync(exchange)
        if answer is None:
            bound.arguments["body"] = content  # a file or generator body was read above
            return original(*bound.args, **bound.kwargs)
        status, raw_headers, chunks = _parts(answer)
        wire = http.client.HTTPResponse(_Socket(status, raw_headers, chunks), method=method, url=url)  # type: ignore[arg-type]
        wire.begin()
        from urllib3._collections import HTTPHeaderDict
        from urllib3.response import HTTPResponse

        response = HTTPResponse(
            body=wire, headers=HTTPHeaderDict(wire.msg.items()), status=wire.status, version=wire.version, reason=wire.reason,  # type: ignore[arg-type]
            preload_content=preload_content, decode_content=decode_content, original_response=wire,
            enforce_content_length=enforce_content_length, request_method=method, request_url=url,
        )
        response.retries = retries
        response._connection = response_conn  # type: ignore[attr-defined]  # noqa: SLF001 - as urllib3 does
        response._pool = pool  # noqa: SLF001 - as urllib3 does
        return response

    _make_request.__wrapped__ = original  # type: ignore[attr-defined]
    return _make_request


# ---- the errors a socket gives --------------------------------------------------------------
#
# Before a response, each failure is what urllib3's _make_request raises for it on a real
# socket; urlopen and HTTPAdapter.send then wrap it as they always do. Checked against a
# loopback server:
#   connect_timeout → requests.ConnectTimeout ← MaxRetryError ← ConnectTimeoutError ← TimeoutError
#   connect_refused → requests.ConnectionError ← MaxRetryError ← NewConnectionError ← ConnectionRefusedError
#   read_timeout    → requests.ReadTimeout ← ReadTimeoutError ← TimeoutError
#   reset           → requests.ConnectionError ← ProtocolError("Connection aborted.") ← ConnectionResetError
#   incomplete      → requests.ConnectionError ← ProtocolError ← RemoteDisconnected
# Mid-body, the in-memory socket's read fails instead, and urllib3 and requests wrap that:
#   reset      → ChunkedEncodingError ← ProtocolError("Connection broken: …") ← ConnectionResetError
#   incomplete → end of stream → ChunkedEncodingError("Response ended prematurely")
#   read_timeout → requests.ConnectionError ← ReadTimeoutError("Read timed out.") ← TimeoutError


class PeerClosed(Exception):
    """Mid-body, the peer closed the connection: the socket reads end of stream, nothing is raised."""


def urllib3_failures(pool: Any, conn: Any, url: str, read_timeout: float | None) -> Callable[[Kind, Phase], BaseException]:
    """The urllib3 table for one attempt of ``pool`` on ``conn``."""

    def failure(kind: Kind, phase: Phase) -> BaseException:
        if phase == "body":
            return socket_read_failure(kind)
        from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError

        mapped: BaseException
        cause: BaseException | None = None
        if kind == "connect_timeout":
            cause = TimeoutError("timed out")
            mapped = ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})")
        elif kind == "connect_refused":
            cause = ConnectionRefusedError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))
            mapped = NewConnectionError(conn, f"Failed to establish a new connection: {cause}")
        elif kind == "read_timeout":
            cause = TimeoutError("timed out")
            mapped = ReadTimeoutError(pool, url, f"Read timed out. (read timeout={read_timeout})")
        elif kind == "reset":
            mapped = _reset()
        else:
            mapped = http.client.RemoteDisconnected("Remote end closed connection without response")
        mapped.__cause__ = cause
        mapped.__suppress_context__ = True
        return mapped

    return failure


def socket_read_failure(kind: Kind) -> BaseException:
    """What a socket read raises for ``kind`` mid-body (:class:`PeerClosed`: it reads end of stream)."""
    if kind == "reset":
        return _reset()
    if kind == "read_timeout":
        return TimeoutError("timed out")
    return PeerClosed()


def _reset() -> ConnectionResetError:
    return ConnectionResetError(errno.ECONNRESET, os.strerror(errno.ECONNRESET))


def _copy_notes(source: BaseException, target: BaseException) -> None:
    for note in getattr(source, "__notes__", ()):
        if note not in getattr(target, "__notes__", ()):
            target.add_note(note)


def _lift_notes(exc: BaseException) -> None:
    """Put chaoskit's notes from anywhere in ``exc``'s chain on ``exc`` itself."""
    link: BaseException | None = exc
    seen = 0
    while link is not None and seen < 16:
        if link is not exc:
            for note in getattr(link, "__notes__", ()):
                if note.startswith("chaoskit:") and note not in getattr(exc, "__notes__", ()):
                    exc.add_note(note)
        link = link.__cause__ or link.__context__
        seen += 1


# ---- a response as bytes on a socket --------------------------------------------------------


def _parts(answer: Answer) -> tuple[int, list[tuple[bytes, bytes]], bytes | Iterator[bytes]]:
    """(status, raw headers, body) of an answer."""
    return answer.status, list(answer.headers), answer.content


class _Socket:
    """Just enough of a socket for ``http.client.HTTPResponse``: it only calls ``makefile``."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes | Iterator[bytes]) -> None:
        self._wire = _Wire(status, headers, body)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self._wire)


class _Wire(io.RawIOBase):
    """The bytes of one HTTP/1.1 response; the body is pulled from the plan only as it is read."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes | Iterator[bytes]) -> None:
        names = {k.lower() for k, _ in headers}
        chunked = any(k.lower() == b"transfer-encoding" and b"chunked" in v.lower() for k, v in headers)
        if isinstance(body, bytes | bytearray):
            if b"content-length" not in names and not chunked:
                headers = [*headers, (b"content-length", str(len(body)).encode())]
            pieces: Iterator[bytes] = iter([bytes(body)] if body else [])
        else:
            if b"content-length" not in names and not chunked:
                headers, chunked = [*headers, (b"transfer-encoding", b"chunked")], True
            pieces = body
        self._pending = response_head(status, headers)
        self._body = body if not isinstance(body, bytes | bytearray) else None
        self._pieces = pieces
        self._chunked = chunked
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            self._pending = self._next()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _next(self) -> bytes:
        try:
            piece = next(self._pieces)
        except StopIteration:
            self._done = True
            return b"0\r\n\r\n" if self._chunked else b""
        except PeerClosed:
            self._done = True
            return b""
        except Exception as exc:
            self._done = True
            raise exc from None
        if self._chunked and piece:
            return b"%x\r\n%s\r\n" % (len(piece), piece)
        return piece

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()  # ends the plan's generator, so the journal records the call's end
        super().close()


def _body_bytes(body: Any) -> bytes:
    """The request body as bytes (urllib3 accepts bytes, str, a file or an iterable of them)."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in body)


def _full_url(pool: Any, url: str) -> str:
    """The absolute URL of ``url`` (a path, or already absolute when sent to a proxy)."""
    if "://" in url:
        return url
    default = {"http": 80, "https": 443}.get(pool.scheme)
    host = f"[{pool.host}]" if ":" in pool.host else pool.host
    port = "" if pool.port in (None, default) else f":{pool.port}"
    return f"{pool.scheme}://{host}{port}{url}"

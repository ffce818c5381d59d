"""The chaos proxy's seam: an app's HTTP request, decided by the engine, answered on the app's connection.

An app points a provider's base URL at the proxy (``http://127.0.0.1:8080/openai/v1``). Each
request's first path segment names an upstream of the allow-list; nothing is forwarded
anywhere else. The request becomes a :class:`CallRequest` on the upstream's URL and goes to
the same :class:`~chaoskit.engine.Engine` the in-process seams use, with the upstream as a real
route, so a fault is rendered by the upstream's provider profile and acts on the real answer.
Calls no fault takes are relayed as they stream, through one pooled aiohttp client.

Failures are made on the app's own connection, as the network would make them there:

=================== ===============================================================
kind                what the app's client meets
=================== ===============================================================
reset               a TCP RST on its connection (SO_LINGER 0), before or mid-body
incomplete          the connection closed (FIN) before the response, or mid-body
                    without the chunked body's last chunk
read_timeout        no bytes until the client's own read timeout (held up to
                    ``HANG_LIMIT``, then closed)
connect_timeout     as read_timeout: the app is already connected to the proxy, so
                    its client's read timeout fires where a connect timeout would
connect_refused     as reset before the response: a connection dropped at once
=================== ===============================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from .._errors import ChaosConfigError, ChaosError
from .._fault import Fault
from ..providers._profile import CallRequest
from ._player import Answer, Exchange, FetchFailed, Kind, Phase, Player

__all__ = ["CONTROL_HEADERS", "Observer", "PooledFetcher", "ProxyFailure", "ProxySeam", "Upstream"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The per-request control headers (Envoy's ``x-envoy-fault-*`` in spirit): never forwarded.
FAULT_HEADER, TOKEN_HEADER, PARAMS_HEADER = "x-chaoskit-fault", "x-chaoskit-token", "x-chaoskit-fault-params"
CONTROL_HEADERS = frozenset({FAULT_HEADER, TOKEN_HEADER, PARAMS_HEADER})
#: Hop-by-hop headers (RFC 9110 7.6.1) and the ones the proxy sets itself on each leg.
_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
#: Response headers that describe framing: the body is re-framed (and decoded) on the app's leg.
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"content-encoding", b"connection", b"keep-alive"})


@dataclass(frozen=True, slots=True)
class Upstream:
    """A real service of the allow-list: requests to ``/NAME/...`` go to ``URL/...``, and
    ``provider``'s profile renders its faults."""

    name: str
    url: str
    provider: str
    #: The URL's host, and its own path before the app's (``""`` for a bare host).
    host: str = field(init=False, repr=False, compare=False)
    path: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ChaosConfigError(
                f"upstream {self.name}={self.url!r} must be an http(s) URL such as https://api.openai.com, with no query"
            )
        if not self.name or "/" in self.name:
            raise ChaosConfigError(f"upstream name {self.name!r} must be one path segment, such as 'openai'")
        object.__setattr__(self, "url", self.url.rstrip("/"))

        object.__setattr__(self, "host", parts.hostname or "")
        object.__setattr__(self, "path", parts.path.rstrip("/"))


class ProxyFailure(Exception):
    """The proxy seam's failure table: the kind of failure to make on the app's connection."""

    def __init__(self, kind: Kind, phase: Phase) -> None:
        super().__init__(f"{kind} ({phase})")
        self.kind: Kind = kind
        self.phase: Phase = phase


def _failures(kind: Kind, phase: Phase) -> BaseException:
    return ProxyFailure(kind, phase)


class Observer(Protocol):
    """What the proxy reports as it goes (its metrics)."""

    def request(self, upstream: str) -> None: ...

    def answered(self, upstream: str, status: int | None, fault: Fault | None, upstream_seconds: float | None) -> None: ...

    def refused(self, reason: str) -> None: ...


class _Silent:
    def request(self, upstream: str) -> None:
        return None

    def answered(self, upstream: str, status: int | None, fault: Fault | None, upstream_seconds: float | None) -> None:
        return None

    def refused(self, reason: str) -> None:
        return None


# ---- the upstream leg ---------------------------------------------------------------------------


class _Fetched:
    """One real answer read from the pool: its head now, its body as it arrives."""

    __slots__ = ("status", "headers", "_response")

    def __init__(self, response: Any) -> None:
        self._response = response
        self.status: int = response.status
        self.headers: list[tuple[bytes, bytes]] = list(response.raw_headers)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:  # noqa: BLE001 - mapped to the neutral kind
            raise FetchFailed(_aiohttp_kind(exc, connected=True), str(exc)) from exc

    async def aclose(self) -> None:
        self._response.release()


class PooledFetcher:
    """The proxy's upstream client: one aiohttp session and its connection pool, shared by every
    call (made in the serving loop on first use). ``connect_timeout``/``read_timeout`` bound the
    upstream leg; the app's own timeouts bound its leg."""

    def __init__(self, *, connect_timeout: float | None = 30.0, read_timeout: float | None = None, limit: int = 0) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.limit = limit
        self._session: Any = None
        self._url: Any = None  # yarl.URL, imported with the pool (aiohttp's dependency)

    def _pool(self) -> Any:
        if self._session is None:
            import aiohttp
            import yarl

            self._url = yarl.URL

            connector = aiohttp.TCPConnector(limit=self.limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(  # no cookie jar: one app's cookies never reach another's calls
                connector=connector, auto_decompress=True, trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout, sock_read=self.read_timeout),
            )
        return self._session

    async def open(self, request: CallRequest, *, connect_timeout: float | None = None,
                   read_timeout: float | None = None) -> _Fetched:
        headers = [(k, v) for k, v in _items(request.headers) if k.lower() not in _HOP]
        pool = self._pool()
        try:
            response = await pool.request(  # the app's URL as it sent it: not quoted again
                request.method, self._url(request.url, encoded=True), headers=headers, data=request.body or None, allow_redirects=False,
                skip_auto_headers=("User-Agent", "Content-Type"),
            )
        except Exception as exc:  # noqa: BLE001 - mapped to the neutral kind
            raise FetchFailed(_aiohttp_kind(exc, connected=False), str(exc)) from exc
        return _Fetched(response)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _aiohttp_kind(exc: BaseException, *, connected: bool) -> Kind:
    """The neutral kind of an aiohttp error on the upstream leg."""
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect_timeout"
    if isinstance(exc, (aiohttp.SocketTimeoutError, asyncio.TimeoutError)):
        return "read_timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect_refused"
    if isinstance(exc, (ConnectionResetError, aiohttp.ClientConnectionResetError)) or isinstance(exc.__cause__, ConnectionResetError):
        return "reset"
    if isinstance(exc, aiohttp.ClientOSError) and not connected:
        return "connect_refused"
    return "incomplete"


def _items(headers: Any) -> Sequence[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


# ---- the app's leg ------------------------------------------------------------------------------


class ProxySeam:
    """The data plane as an ASGI app: routes by the first path segment, decides, answers.

    ``token``: the control token a request must carry in ``x-chaoskit-token`` for its
    ``x-chaoskit-fault`` header to be honoured (None: such headers are always refused).
    ``faults_of``: resolves a fault id (and parameters) named in that header.
    """

    def __init__(self, engine: Any, upstreams: Sequence[Upstream], fetcher: PooledFetcher, *,
                 token: str | None = None, observer: Observer | None = None,
                 faults_of: Callable[[str, Mapping[str, Any]], Fault] | None = None) -> None:
        from ..engine import Route

        self.engine = engine
        self.upstreams = {u.name: u for u in upstreams}
        self.fetcher = fetcher
        self.token = token
        self.observer: Observer = observer or _Silent()
        self.faults_of = faults_of
        self.stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._routes = {u.name: Route(prefix=u.url, provider=u.provider, real=True) for u in upstreams}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.fetcher)
            return
        if scope["type"] != "http":
            return
        task = asyncio.current_task()
        state = _Exchange(send)
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handle(scope, receive, send, state)
        except asyncio.CancelledError:
            if self.stopping and not state.finishing:
                _reset(send)  # the proxy is stopping: a held or relayed answer ends with an RST
            elif not state.gone:
                raise
        finally:
            if state.watcher is not None:
                state.watcher.cancel()
            self._tasks.discard(task)  # type: ignore[arg-type]

    def stop(self) -> int:
        """End every request in flight (their connections reset): the proxy is stopping. Returns how many."""
        self.stopping = True
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        return len(tasks)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, state: _Exchange) -> None:
        path: str = scope["path"]
        name, _, rest = path.lstrip("/").partition("/")
        upstream = self.upstreams.get(name)
        if upstream is None:
            self.observer.refused("unknown upstream")
            known = ", ".join(f"/{n}/" for n in self.upstreams) or "none"
            await _error(send, 404, f"chaoskit proxy: no upstream named {name!r} (the path {path!r} starts with it); "
                                    f"this proxy forwards only to its allow-list: {known}. Set the app's base URL to "
                                    f"http://PROXY/{next(iter(self.upstreams), 'NAME')}/... or add --upstream {name}=URL")
            return
        body = await _body(receive)
        if body is None:
            return  # the app went away while sending
        watch = lambda: _on_disconnect(receive, state, asyncio.current_task())  # noqa: E731 - started once the body is read
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string") or b""
        url = f"{upstream.url}/{rest}" + (f"?{query.decode('latin-1')}" if query else "")
        forced = None
        if FAULT_HEADER in headers:
            forced, refusal = self._asked_fault(headers)
            if refusal is not None:
                self.observer.refused("fault header without token")
                await _error(send, 403, refusal)
                return
        for name_ in CONTROL_HEADERS:
            headers.pop(name_, None)
        req = CallRequest(scope["method"], url, headers, body, host=upstream.host, path=upstream.path + "/" + rest)
        self.observer.request(upstream.name)
        try:
            decision = self.engine.decide(req, fault=forced, route=self._routes[upstream.name])
        except ChaosError as exc:
            await _error(send, 500, f"chaoskit proxy: the fault could not act on {scope['method']} {path}: {exc}")
            return
        if decision.action == "block":  # never for a routed upstream; kept for safety
            await _error(send, 502, f"chaoskit proxy: {decision.reason or 'refused'}")
            return
        if decision.action == "pass":
            if req.stream:  # a stream the app may leave: stop relaying it when it does
                state.watcher = asyncio.ensure_future(watch())
            await self._relay(req, upstream, decision, send, state)
            return
        state.watcher = asyncio.ensure_future(watch())  # an injected wait ends when the app leaves
        exchange = Exchange(req, _failures, asynchronous=True, fetcher=self.fetcher)
        player = Player(exchange, self.engine.clock, decision.call, decision.on_end, decision.note,
                        decision.give_back, self.engine.config_errors, decision.meter)
        started = time.perf_counter()
        try:
            answer = await player.play_async(decision.plan)
        except ProxyFailure as failure:
            self.observer.answered(upstream.name, None, decision.fault, None)
            await _drop(send, failure.kind, state)
            return
        except ChaosError:  # held past HANG_LIMIT with no client timeout: give up on the connection
            self.observer.answered(upstream.name, None, decision.fault, None)
            await _drop(send, "incomplete", state)
            return
        self.observer.answered(upstream.name, answer.status, decision.fault, time.perf_counter() - started)
        await _answer(send, answer, state)

    def _asked_fault(self, headers: Mapping[str, str]) -> tuple[Fault | None, str | None]:
        """The fault a request's ``x-chaoskit-fault`` header names, or why it is refused."""
        import hmac
        import json

        given = headers.get(TOKEN_HEADER, "")
        if self.token is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            return None, ("chaoskit proxy: x-chaoskit-fault is honoured only with the proxy's control token in "
                          "x-chaoskit-token; send it (or remove the header), or start the proxy with --token")
        params: dict[str, Any] = {}
        if headers.get(PARAMS_HEADER):
            try:
                params = json.loads(headers[PARAMS_HEADER])
            except ValueError as exc:
                return None, f"chaoskit proxy: x-chaoskit-fault-params is not JSON: {exc}"
            if not isinstance(params, dict):
                return None, "chaoskit proxy: x-chaoskit-fault-params must be a JSON object of fault parameters"
        try:
            assert self.faults_of is not None
            return self.faults_of(headers[FAULT_HEADER].strip(), params), None
        except ChaosError as exc:
            return None, f"chaoskit proxy: x-chaoskit-fault: {exc}"

    async def _relay(self, req: CallRequest, upstream: Upstream, decision: Any, send: Send, state: _Exchange) -> None:
        """No fault: the real answer, relayed as it streams in, journaled as it passes."""
        call, meter = decision.call, decision.meter
        started = time.perf_counter()
        try:
            fetched = await self.fetcher.open(req)
        except FetchFailed as exc:
            self.observer.answered(upstream.name, None, None, None)
            if call is not None:
                call.error, call.complete, call.detail = exc.kind, False, f"the real server failed: {exc}"
                decision.on_end(call)
            await _drop(send, exc.kind, state)
            return
        seconds = time.perf_counter() - started
        self.observer.answered(upstream.name, fetched.status, None, seconds)
        if call is not None:
            call.status = fetched.status
            decision.on_end(call, final=False)
        headers = [(k, v) for k, v in fetched.headers if k.lower() not in _FRAMING]
        left = _length(fetched.headers)  # a plain body of known length keeps it: its last piece ends the response
        if left is not None:
            headers.append((b"content-length", str(left).encode()))
        try:
            await send({"type": "http.response.start", "status": fetched.status, "headers": headers})
            async for chunk in fetched.chunks():
                if meter is not None:
                    meter.feed(chunk)
                if left is not None:
                    left -= len(chunk)
                    if left <= 0:
                        state.finishing = True
                await send({"type": "http.response.body", "body": chunk, "more_body": left is None or left > 0})
            if left is not None and left > 0:
                raise FetchFailed("incomplete", "the real server closed before the whole body")
            if left is None:
                state.finishing = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except FetchFailed as exc:
            if call is not None:
                call.error, call.complete = exc.kind, False
            await _drop(send, exc.kind, state)
        finally:
            await fetched.aclose()
            if call is not None:
                decision.on_end(call)


def _length(headers: Sequence[tuple[bytes, bytes]]) -> int | None:
    """The body's length when the real server gave one and no content encoding (which the pool decodes)."""
    length = None
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return None
        if lower == b"content-length" and value.strip().isdigit():
            length = int(value)
    return length


class _Exchange:
    """The state of one request on the app's leg: whether the app went away, whether the
    response is ending (its last message is being sent), and the send that reaches its socket."""

    __slots__ = ("send", "gone", "finishing", "watcher")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.gone = False
        self.finishing = False
        self.watcher: asyncio.Future[None] | None = None


async def _on_disconnect(receive: Receive, state: _Exchange, task: asyncio.Task[Any] | None) -> None:
    """Cancel the request's task when the app disconnects (an injected wait ends with it)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not state.finishing and task is not None and not task.done():
                state.gone = True
                task.cancel()
            return


async def _body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, answer: Answer, state: _Exchange) -> None:
    headers = [(k, v) for k, v in answer.headers if k.lower() != b"transfer-encoding"]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    if isinstance(answer.content, bytes):
        state.finishing = True
        await send({"type": "http.response.body", "body": answer.content, "more_body": False})
        return
    stream = answer.content
    try:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except ProxyFailure as failure:
        await _drop(send, failure.kind, state)
        return
    except ChaosError:
        await _drop(send, "incomplete", state)
        return
    finally:
        await stream.aclose()
    state.finishing = True
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _error(send: Send, status: int, message: str) -> None:
    import json

    body = json.dumps({"error": {"type": "chaoskit_proxy", "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"x-chaoskit-proxy", b"refused"),
    ]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _transport(send: Send) -> Any:
    """The app's connection under the ASGI server (uvicorn's request cycle holds it), or None."""
    return getattr(getattr(send, "__self__", None), "transport", None)


async def _drop(send: Send, kind: Kind, state: _Exchange) -> None:
    """Break the app's connection as ``kind`` says: an RST for a reset or a refused connect, a
    FIN otherwise (what was sent is flushed first)."""
    transport = _transport(send)
    if transport is None:
        raise ConnectionAbortedError(f"chaoskit proxy: injected {kind}")  # the server closes it
    if kind in ("reset", "connect_refused"):
        _reset(send)
    else:
        transport.close()
    state.finishing = True
    await asyncio.sleep(0)  # the server hears the connection is lost, so it logs no unfinished response


def _reset(send: Send) -> None:
    """An RST on the app's connection: linger 0, then abort."""
    transport = _transport(send)
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _lifespan(receive: Receive, send: Send, fetcher: PooledFetcher) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await fetcher.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return

"""chaoskit's Toxiproxy-compatible server: a TCP proxy with toxics, and Toxiproxy's HTTP control API.

No Debian, PyPI or npm package ships Toxiproxy's Go binary, so chaoskit carries its own. It speaks
Toxiproxy's API: the same routes, JSON shapes, status codes and ``{"error", "status"}`` bodies, so
toxiproxy-python and the other clients work against it unchanged.

Model: one anyio event loop (asyncio backend) runs the API and every proxy on raw non-blocking
sockets. A proxy owns a listening socket; each accepted connection has two links, ``upstream``
(client -> server) and ``downstream`` (server -> client). A link's reader task stamps and queues
what it reads; its processor passes each chunk through the proxy's *current* toxics of that
direction, in creation order, then writes it. So a toxic added, updated or removed acts on open
connections from their next chunk, as in Toxiproxy.

Seeds work. Every toxic run draws its toxicity roll and jitter from an RNG derived from
(seed, proxy, toxic, connection index, toxic generation), so one seed replays the same faults.
Toxiproxy's ``-seed`` has been a no-op since v2.9.0: it builds a seeded RNG, discards it, and the
toxics keep drawing from Go's global RNG.

Where this server differs from Toxiproxy, on purpose:

- a proxy created without ``listen`` binds ``127.0.0.1:0`` (loopback), not every interface;
- the end of the stream in one direction half-closes (shuts down) the other socket, instead of
  closing both, so a client that half-closes still gets its answer;
- ``reset_peer`` resets both sockets, so the client sees "connection reset by peer";
- a sleep a toxic has begun is not cut short when that toxic is removed or updated;
- an ``upstream`` that is not ``host:port`` (``"::::"``) is refused with 400 when the proxy is
  created or updated; Toxiproxy stores it and every connection then fails to dial;
- there is no ``/metrics`` and no 25 s handler timeout.

Where Toxiproxy is followed although another answer was possible:

- a ``listen`` that cannot be listened on (``garbage``, port ``99999``, an unknown host, a port
  in use) is a 500, as Toxiproxy answers whatever ``net.Listen`` returns; the message is Go's;
- JSON that Go's decoder refuses is a 400 ``bad request body``: ``NaN`` and ``Infinity`` (not
  JSON), a number out of range, nesting too deep;
- an empty proxy list in a ``/populate`` answer, error or not, is ``"proxies": null`` (Go's nil
  slice).

Creating, replacing, updating and deleting a proxy hold a lock on its name from the look-up to
the store, as Toxiproxy's ``ProxyCollection`` does, so concurrent requests for one name never
leave a listener that no proxy owns.
"""

from __future__ import annotations

import contextlib
import errno
import http
import itertools
import json
import logging
import math
import secrets
import signal
import socket
import struct
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import Any, final
from urllib.parse import unquote, urlsplit

import anyio
import anyio.from_thread
from anyio.abc import TaskGroup, TaskStatus

from .._rng import derive_rng
from ._toxics import Chunk, CloseConnection, Run, Toxic, parse_attributes, toxic_kinds

__all__ = ["API_VERSION", "ToxiproxyServer", "run"]

API_VERSION = "2.12.0"
"""The Toxiproxy release whose HTTP API this server follows."""

_log = logging.getLogger("chaoskit.network")

_READ_SIZE = 256 * 1024  # Toxiproxy reads 32 KiB; larger reads halve the per-byte cost in Python
_QUEUE_LIMIT = 1024  # chunks a link buffers between its reader and its toxics (Toxiproxy: 1024)
_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024
_STREAMS = ("upstream", "downstream")


# --- raw non-blocking sockets -------------------------------------------------------------------


async def _recv(sock: socket.socket, size: int) -> bytes:
    while True:
        try:
            return sock.recv(size)
        except (BlockingIOError, InterruptedError):
            await anyio.wait_readable(sock)


async def _sendall(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except (BlockingIOError, InterruptedError):
            await anyio.wait_writable(sock)


def _split_host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` to (host, port); ValueError says why not, in Go's words.

    An empty port is port 0, as for Go's ``net.Listen``.
    """
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {address}: too many colons in address")
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise ValueError(f"address {port}: invalid port")
    return host, int(port or 0)


def _format_address(sockname: tuple[Any, ...]) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind(address: str) -> socket.socket:
    """A non-blocking listening socket on ``address`` (port 0: an ephemeral port); OSError says why not."""
    try:
        host, port = _split_host_port(address)
    except ValueError as exc:
        raise OSError(f"listen tcp: {exc}") from None
    try:
        family, type_, proto, _, sockaddr = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise OSError(f"listen tcp: lookup {host}: {exc.strerror}") from None
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(f"listen tcp {address}: bind: {exc.strerror}") from None
    return sock


async def _accept(sock: socket.socket) -> socket.socket:
    while True:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            await anyio.wait_readable(sock)
            continue
        except OSError as exc:  # EMFILE and friends: back off, keep listening
            _log.warning("accept on %s: %s", sock.getsockname(), exc)
            await anyio.sleep(0.05)
            continue
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn


async def _connect(address: str) -> socket.socket:
    """A connected non-blocking socket to ``address``; OSError when no address answers."""
    try:
        host, port = _split_host_port(address)
    except ValueError as exc:
        raise OSError(f"dial tcp: {exc}") from None
    error = OSError(f"dial tcp {address}: no address")
    for family, type_, proto, _, sockaddr in await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, type_, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = sock.connect_ex(sockaddr)
            if code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
                await anyio.wait_writable(sock)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, f"dial tcp {address}: {errno.errorcode.get(code, code)}")
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error


def _close(sock: socket.socket | None, *, reset: bool = False) -> None:
    """Close ``sock``; with ``reset`` the peer gets an RST (SO_LINGER 0) instead of a FIN."""
    if sock is None or sock.fileno() == -1:
        return
    if reset:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    sock.close()


# --- proxies and links --------------------------------------------------------------------------


class _Signal(Enum):
    WAKE = "wake"  # the toxic chain changed
    TIMEOUT = "timeout"  # a toxic's deadline passed


class _Queue:
    """What a link has read and its toxics have not yet handled; ``None`` marks the end of the stream."""

    def __init__(self) -> None:
        self._items: deque[Chunk | None] = deque()
        self._ready = anyio.Event()
        self._space = anyio.Event()
        self._woken = False

    async def put(self, item: Chunk | None) -> None:
        while len(self._items) >= _QUEUE_LIMIT:
            self._space = anyio.Event()
            await self._space.wait()
        self._items.append(item)
        self._ready.set()

    def wake(self) -> None:
        self._woken = True
        self._ready.set()

    def empty(self) -> bool:
        return not self._items

    async def get(self, timeout: float) -> Chunk | None | _Signal:
        if not self._items and not self._woken:
            self._ready = anyio.Event()
            with anyio.move_on_after(max(timeout, 0)):
                await self._ready.wait()
        woken, self._woken = self._woken, False
        if self._items:
            self._space.set()
            return self._items.popleft()
        return _Signal.WAKE if woken else _Signal.TIMEOUT


@dataclass
class _ToxicSpec:
    """A toxic as the API sees it. ``generation`` counts updates; each one re-rolls the toxicity."""

    uid: int
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]
    kind: Toxic
    generation: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


class _Link:
    """One direction of one proxied connection: read from ``src``, run the toxics, write to ``dst``."""

    def __init__(self, conn: _Connection, stream: str, src: socket.socket, dst: socket.socket) -> None:
        self.conn = conn
        self.stream = stream
        self.src = src
        self.dst = dst
        self.queue = _Queue()
        self.runs: dict[int, Run] = {}
        self.busy = False  # the toxic chain holds a chunk: the reader must queue, not send

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._read)
            try:
                await self._process()
            except CloseConnection as exc:
                self.conn.abort(reset=exc.reset)
            tg.cancel_scope.cancel()

    async def _read(self) -> None:
        while True:
            try:
                data = await _recv(self.src, _READ_SIZE)
            except (OSError, anyio.ClosedResourceError):
                data = b""
            if not data:
                await self.queue.put(None)
                return
            if not self.busy and self.queue.empty() and not self.conn.proxy.toxics_of(self.stream):
                # The fast path: no toxic on this direction and nothing queued before this chunk,
                # so it can go straight on (a toxic added meanwhile acts from the next chunk).
                try:
                    await _sendall(self.dst, data)
                except (OSError, anyio.ClosedResourceError):
                    await self.queue.put(None)
                    return
                continue
            await self.queue.put(Chunk(data, anyio.current_time()))

    def _chain(self) -> list[tuple[_ToxicSpec, Run]]:
        chain = []
        for spec in self.conn.proxy.toxics_of(self.stream):
            run = self.runs.get(spec.uid)
            if run is None or run.generation != spec.generation:
                run = self._start(spec, run)
            if run.active:
                chain.append((spec, run))
        return chain

    def _start(self, spec: _ToxicSpec, previous: Run | None) -> Run:
        proxy = self.conn.proxy
        scope = f"toxiproxy:{proxy.name}:{spec.name}:{self.conn.index}:{spec.generation}"
        rng = derive_rng(proxy.app.seed, scope)
        run = Run(rng, anyio.current_time(), rng.random() < spec.toxicity, spec.generation)
        if previous is not None:
            run.state = previous.state
        self.runs[spec.uid] = run
        return run

    async def _process(self) -> None:
        while True:
            chain = self._chain()
            deadlines = (spec.kind.deadline(spec.attributes, run) for spec, run in chain)
            deadline = min((d for d in deadlines if d is not None), default=math.inf)
            item = await self.queue.get(deadline - anyio.current_time())
            if item is _Signal.WAKE:
                continue
            if item is _Signal.TIMEOUT:
                raise CloseConnection()
            self.busy = True
            try:
                await self._through(chain, 0, item)
            finally:
                self.busy = self.busy and not self.queue.empty()
            if item is None:
                return

    async def _through(self, chain: list[tuple[_ToxicSpec, Run]], index: int, item: Chunk | None) -> None:
        if index == len(chain):
            await self._deliver(item)
            return
        spec, run = chain[index]

        async def emit(next_item: Chunk | None) -> None:
            await self._through(chain, index + 1, next_item)

        await spec.kind.pipe(item, spec.attributes, run, emit)

    async def _deliver(self, item: Chunk | None) -> None:
        try:
            if item is None:
                self.dst.shutdown(socket.SHUT_WR)
            elif item.data:
                await _sendall(self.dst, item.data)
        except (OSError, anyio.ClosedResourceError):
            raise CloseConnection() from None


class _Connection:
    """One client connection and its upstream connection; owns (and in the end closes) both sockets."""

    def __init__(self, proxy: _Proxy, client: socket.socket, index: int) -> None:
        self.proxy = proxy
        self.client = client
        self.index = index
        self.upstream: socket.socket | None = None
        self.links: list[_Link] = []
        self._scope = anyio.CancelScope()
        self._reset = False

    async def run(self) -> None:
        try:
            with self._scope:
                try:
                    self.upstream = await _connect(self.proxy.upstream)
                except OSError as exc:
                    _log.info("proxy %s: upstream %s: %s", self.proxy.name, self.proxy.upstream, exc)
                    return
                self.links = [
                    _Link(self, "upstream", self.client, self.upstream),
                    _Link(self, "downstream", self.upstream, self.client),
                ]
                async with anyio.create_task_group() as tg:
                    for link in self.links:
                        tg.start_soon(link.run)
        finally:
            _close(self.client, reset=self._reset)
            _close(self.upstream, reset=self._reset)

    def abort(self, *, reset: bool) -> None:
        """End the connection now; both sockets close when its tasks have stopped."""
        self._reset = self._reset or reset
        self._scope.cancel()

    def wake(self) -> None:
        for link in self.links:
            link.queue.wake()


class _Proxy:
    """A named proxy: its listener when enabled, its open connections, and its toxics."""

    def __init__(self, app: _App, name: str, listen: str, upstream: str) -> None:
        self.app = app
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.toxics: dict[str, _ToxicSpec] = {}
        self.connections: set[_Connection] = set()
        self._scope: anyio.CancelScope | None = None
        self._stopped = anyio.Event()
        self._lock = anyio.Lock()
        self._next_index = itertools.count()

    @property
    def enabled(self) -> bool:
        return self._scope is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [toxic.to_json() for toxic in self.toxics.values()],
        }

    def toxics_of(self, stream: str) -> list[_ToxicSpec]:
        return [toxic for toxic in self.toxics.values() if toxic.stream == stream]

    def changed(self) -> None:
        """Tell every open connection to re-read the toxic chain."""
        for conn in self.connections:
            conn.wake()

    async def start(self) -> None:
        """Listen (again) on ``listen``; OSError when that address cannot be bound."""
        async with self._lock:
            if self._scope is not None:
                return
            sock = _bind(self.listen)
            self.listen = _format_address(sock.getsockname())
            self._scope = anyio.CancelScope()
            self._stopped = anyio.Event()
            self.app.task_group.start_soon(self._serve, sock, self._scope, self._stopped)

    async def stop(self) -> None:
        """Stop listening and close every connection; returns once all of them are closed."""
        async with self._lock:
            if self._scope is None:
                return
            self._scope.cancel()
            await self._stopped.wait()
            self._scope = None

    async def _serve(self, sock: socket.socket, scope: anyio.CancelScope, stopped: anyio.Event) -> None:
        try:
            with scope:
                async with anyio.create_task_group() as tg:
                    while True:
                        client = await _accept(sock)
                        tg.start_soon(self._handle, client, next(self._next_index))
        finally:
            sock.close()
            stopped.set()

    async def _handle(self, client: socket.socket, index: int) -> None:
        conn = _Connection(self, client, index)
        self.connections.add(conn)
        try:
            await conn.run()
        except Exception:  # one broken connection must never take the proxy down
            _log.exception("proxy %s: connection %d failed", self.name, index)
        finally:
            self.connections.discard(conn)


# --- the HTTP API -------------------------------------------------------------------------------


class _ApiError(Exception):
    """An error answered as Toxiproxy does: ``{"error": message, "status": status}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _bad_body(detail: str) -> _ApiError:
    return _ApiError(f"bad request body: {detail}", 400)


def _missing(name: str) -> _ApiError:
    return _ApiError(f"missing required field: {name}", 400)


_PROXY_NOT_FOUND = ("proxy not found", 404)
_TOXIC_NOT_FOUND = ("toxic not found", 404)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _decode(body: bytes, expect: type = dict) -> Any:
    """The request's JSON; what Go's decoder refuses (NaN, Infinity, 1e400, deep nesting) is a 400."""
    if not body.strip():
        raise _bad_body("EOF")
    try:
        value = json.loads(body, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_body(str(exc)) from None
    except RecursionError:
        raise _bad_body("exceeded max depth") from None
    if not isinstance(value, expect):
        raise _bad_body(f"expected a JSON {'object' if expect is dict else 'array'}")
    return value


_JSON_TYPES: dict[Any, str] = {str: "a string", bool: "a boolean", (int, float): "a number"}


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """``obj[key]`` checked against ``kind`` (absent or null: ``default``)."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise _bad_body(f"{key}: expected {_JSON_TYPES[kind]}, got {json.dumps(value)}")
    return value


def _toxicity(obj: dict[str, Any], default: float) -> float:
    value = _field(obj, "toxicity", (int, float), default)
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        raise _bad_body(f"toxicity: number {value} is out of range") from None


def _upstream(address: str, where: str = "") -> str:
    """``address`` when it is ``host:port``; 400 when it can never be dialled."""
    try:
        _split_host_port(address)
    except ValueError as exc:
        raise _bad_body(f"upstream{where}: {exc}") from None
    return address


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, value: object) -> _Response:
        return cls(status, json.dumps(value, allow_nan=False).encode() + b"\n")


Handler = Callable[..., Awaitable[_Response]]


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


class _HttpError(Exception):
    """A request that is not HTTP/1.x: answered with 400 and the connection closed."""


class _Reader:
    """Buffered reads from an HTTP connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    async def _fill(self) -> bool:
        data = await _recv(self.sock, 65536)
        self.buffer += data
        return bool(data)

    async def until(self, separator: bytes, limit: int) -> bytes | None:
        """Bytes up to ``separator`` (consumed, not returned); None on a clean end of stream."""
        while (index := self.buffer.find(separator)) < 0:
            if len(self.buffer) > limit:
                raise _HttpError("request head too large")
            if not await self._fill():
                if self.buffer:
                    raise _HttpError("incomplete request")
                return None
        out = bytes(self.buffer[:index])
        del self.buffer[: index + len(separator)]
        return out

    async def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not await self._fill():
                raise _HttpError("incomplete body")
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out


async def _read_request(reader: _Reader, sock: socket.socket) -> _Request | None:
    head = await reader.until(b"\r\n\r\n", _MAX_HEAD)
    if head is None:
        return None
    lines = head.decode("latin-1").lstrip("\r\n").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise _HttpError("malformed request line")
    request = _Request(parts[0].upper(), parts[1], parts[2])
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _HttpError("malformed header line")
        request.headers[name.lower()] = value.strip()
    if request.headers.get("expect", "").lower() == "100-continue":
        await _sendall(sock, b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in request.headers.get("transfer-encoding", "").lower():
        request.body = await _read_chunked(reader)
    elif "content-length" in request.headers:
        length = request.headers["content-length"]
        if not length.isdigit() or int(length) > _MAX_BODY:
            raise _HttpError("bad Content-Length")
        request.body = await reader.exactly(int(length))
    return request


async def _read_chunked(reader: _Reader) -> bytes:
    body = bytearray()
    while True:
        line = await reader.until(b"\r\n", 1024)
        try:
            size = int((line or b"").split(b";")[0].strip(), 16)
        except ValueError:
            raise _HttpError("bad chunk size") from None
        if size == 0:
            while await reader.until(b"\r\n", _MAX_HEAD):  # trailers, up to the empty line
                pass
            return bytes(body)
        if len(body) + size > _MAX_BODY:
            raise _HttpError("body too large")
        body += await reader.exactly(size)
        if await reader.exactly(2) != b"\r\n":
            raise _HttpError("bad chunk")


def _encode(response: _Response, *, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {http.HTTPStatus(response.status).phrase}"]
    if response.status != 204:
        lines += [f"Content-Type: {response.content_type}", f"Content-Length: {len(response.body)}"]
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if response.status == 204 else response.body)


class _NameLocks:
    """One lock per proxy name, held from a request's look-up of the name to its store or removal.

    Binding and stopping a listener await, so without it two creates of one name could both find
    it free and both bind, and the proxy stored first would be overwritten with its listener open.
    """

    def __init__(self) -> None:
        self._held: dict[str, tuple[anyio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        lock, users = self._held.get(name, (anyio.Lock(), 0))
        self._held[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._held[name]
            if users == 1:
                del self._held[name]
            else:
                self._held[name] = (lock, users - 1)


def _proxy_list(proxies: list[_Proxy]) -> list[dict[str, Any]] | None:
    """Proxies as ``/populate`` answers them: an empty list is ``null``, as Go marshals a nil slice."""
    return [proxy.to_json() for proxy in proxies] or None


class _App:
    """The server's state (proxies by name) and its HTTP API, all on one event loop."""

    def __init__(self, seed: int | None) -> None:
        self.seed = secrets.randbits(32) if seed is None else seed
        self.proxies: dict[str, _Proxy] = {}
        self.names = _NameLocks()
        self.task_group: TaskGroup
        self._stop: anyio.Event | None = None
        self._toxic_uids = itertools.count()
        self._routes: dict[tuple[str, str], Handler] = {
            ("proxies", "GET"): self._list_proxies,
            ("proxies", "POST"): self._create_proxy,
            ("populate", "POST"): self._populate,
            ("reset", "POST"): self._reset,
            ("version", "GET"): self._version,
            ("proxy", "GET"): self._get_proxy,
            ("proxy", "POST"): self._update_proxy,
            ("proxy", "PATCH"): self._update_proxy,
            ("proxy", "DELETE"): self._delete_proxy,
            ("toxics", "GET"): self._list_toxics,
            ("toxics", "POST"): self._create_toxic,
            ("toxic", "GET"): self._get_toxic,
            ("toxic", "POST"): self._update_toxic,
            ("toxic", "PATCH"): self._update_toxic,
            ("toxic", "DELETE"): self._delete_toxic,
        }

    # lifecycle

    async def serve(self, sock: socket.socket, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve the API on the listening ``sock`` until `shutdown`; then close every proxy and connection."""
        self._stop = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                self.task_group = tg
                tg.start_soon(self._accept_http, sock)
                task_status.started()
                await self._stop.wait()
                tg.cancel_scope.cancel()
        finally:
            sock.close()
            self.proxies.clear()  # their listeners and connections closed with the task group

    def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def _accept_http(self, sock: socket.socket) -> None:
        async with anyio.create_task_group() as tg:
            while True:
                tg.start_soon(self._serve_http, await _accept(sock))

    async def _serve_http(self, sock: socket.socket) -> None:
        reader = _Reader(sock)
        try:
            while True:
                try:
                    request = await _read_request(reader, sock)
                except _HttpError as exc:
                    await _sendall(sock, _encode(_Response.json(400, {"error": str(exc), "status": 400}), keep_alive=False))
                    return
                if request is None:
                    return
                response = await self.handle(request)
                await _sendall(sock, _encode(response, keep_alive=request.keep_alive))
                if not request.keep_alive:
                    return
        except (OSError, anyio.ClosedResourceError):
            return
        finally:
            sock.close()

    async def handle(self, request: _Request) -> _Response:
        """Answer one API request; never raises, so a bad request cannot stop the server."""
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            return _Response(403, b"User agent not allowed\n", "text/plain; charset=utf-8")
        segments = [unquote(part) for part in urlsplit(request.target).path.split("/")[1:]]
        route: str
        match segments:
            case ["proxies" | "populate" | "reset" | "version" as route]:
                args: tuple[str, ...] = ()
            case ["proxies", proxy] if proxy:
                route, args = "proxy", (proxy,)
            case ["proxies", proxy, "toxics"] if proxy:
                route, args = "toxics", (proxy,)
            case ["proxies", proxy, "toxics", toxic] if proxy and toxic:
                route, args = "toxic", (proxy, toxic)
            case _:
                return _Response.json(404, {"error": "not found", "status": 404})
        handler = self._routes.get((route, request.method))
        if handler is None:
            return _Response.json(405, {"error": "method not allowed", "status": 405})
        try:
            return await handler(request, *args)
        except _ApiError as exc:
            return _Response.json(exc.status, {"error": exc.message, "status": exc.status})
        except Exception as exc:
            _log.exception("%s %s failed", request.method, request.target)
            return _Response.json(500, {"error": str(exc), "status": 500})

    # lookups

    def _proxy(self, name: str) -> _Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise _ApiError(*_PROXY_NOT_FOUND) from None

    def _toxic(self, proxy: _Proxy, name: str) -> _ToxicSpec:
        try:
            return proxy.toxics[name]
        except KeyError:
            raise _ApiError(*_TOXIC_NOT_FOUND) from None

    @staticmethod
    async def _start(proxy: _Proxy) -> None:
        try:
            await proxy.start()
        except OSError as exc:
            raise _ApiError(str(exc), 500) from None

    # proxies

    async def _list_proxies(self, request: _Request) -> _Response:
        return _Response.json(200, {name: proxy.to_json() for name, proxy in self.proxies.items()})

    @staticmethod
    def _proxy_fields(obj: dict[str, Any], where: str = "") -> tuple[str, str, str, bool]:
        name = _field(obj, "name", str, "")
        upstream = _field(obj, "upstream", str, "")
        if not name:
            raise _missing(f"name{where}")
        if not upstream:
            raise _missing(f"upstream{where}")
        listen = _field(obj, "listen", str, "") or "127.0.0.1:0"
        return name, listen, _upstream(upstream, where), _field(obj, "enabled", bool, True)

    async def _create_proxy(self, request: _Request) -> _Response:
        name, listen, upstream, enabled = self._proxy_fields(_decode(request.body))
        async with self.names.hold(name):
            if name in self.proxies:
                raise _ApiError("proxy already exists", 409)
            proxy = _Proxy(self, name, listen, upstream)
            if enabled:
                await self._start(proxy)
            self.proxies[name] = proxy
        return _Response.json(201, proxy.to_json())

    async def _populate(self, request: _Request) -> _Response:
        done: list[_Proxy] = []
        try:
            entries = _decode(request.body, list)
            checked = []
            for number, entry in enumerate(entries, 1):
                if not isinstance(entry, dict):
                    raise _bad_body(f"proxy {number}: expected a JSON object")
                checked.append(self._proxy_fields(entry, f" at proxy {number}"))
            for name, listen, upstream, enabled in checked:
                async with self.names.hold(name):
                    done.append(await self._add_or_replace(name, listen, upstream, enabled))
        except _ApiError as exc:
            body = {"error": exc.message, "status": exc.status, "proxies": _proxy_list(done)}
            return _Response.json(exc.status, body)
        return _Response.json(201, {"proxies": _proxy_list(done)})

    async def _add_or_replace(self, name: str, listen: str, upstream: str, enabled: bool) -> _Proxy:
        """``name`` kept when its listen and upstream are the same, else made anew; hold its name lock."""
        existing = self.proxies.get(name)
        if existing is not None and (existing.listen, existing.upstream) == (listen, upstream):
            return existing
        if existing is not None:
            await existing.stop()
            del self.proxies[name]
        proxy = _Proxy(self, name, listen, upstream)
        if enabled:
            await self._start(proxy)
        self.proxies[name] = proxy
        return proxy

    async def _get_proxy(self, request: _Request, name: str) -> _Response:
        return _Response.json(200, self._proxy(name).to_json())

    async def _update_proxy(self, request: _Request, name: str) -> _Response:
        async with self.names.hold(name):
            proxy = self._proxy(name)
            obj = _decode(request.body)
            listen = _field(obj, "listen", str, proxy.listen)
            upstream = _upstream(_field(obj, "upstream", str, proxy.upstream))
            enabled = _field(obj, "enabled", bool, proxy.enabled)
            if (listen, upstream) != (proxy.listen, proxy.upstream):
                try:  # Toxiproxy resolves the new address before it stops the proxy
                    _split_host_port(listen)
                except ValueError as exc:
                    raise _ApiError(f"listen tcp: {exc}", 500) from None
                await proxy.stop()  # a new address or upstream restarts the proxy and drops its connections
                proxy.listen, proxy.upstream = listen, upstream
            if enabled:
                await self._start(proxy)
            else:
                await proxy.stop()
        return _Response.json(200, proxy.to_json())

    async def _delete_proxy(self, request: _Request, name: str) -> _Response:
        async with self.names.hold(name):
            await self._proxy(name).stop()
            del self.proxies[name]
        return _Response(204)

    async def _reset(self, request: _Request) -> _Response:
        for name in list(self.proxies):
            async with self.names.hold(name):
                proxy = self.proxies.get(name)
                if proxy is None:  # deleted while an earlier proxy was being started
                    continue
                await self._start(proxy)
                proxy.toxics.clear()
                proxy.changed()
        return _Response(204)

    async def _version(self, request: _Request) -> _Response:
        return _Response.json(200, {"version": API_VERSION})

    # toxics

    async def _list_toxics(self, request: _Request, name: str) -> _Response:
        return _Response.json(200, [toxic.to_json() for toxic in self._proxy(name).toxics.values()])

    async def _create_toxic(self, request: _Request, name: str) -> _Response:
        proxy = self._proxy(name)
        obj = _decode(request.body)
        stream = _field(obj, "stream", str, "downstream").lower()
        type_ = _field(obj, "type", str, "")
        toxicity = _toxicity(obj, 1.0)
        toxic_name = _field(obj, "name", str, "") or f"{type_}_{stream}"
        if stream not in _STREAMS:
            raise _ApiError("stream was invalid, can be either upstream or downstream", 400)
        kind = toxic_kinds().get(type_)
        if kind is None:
            raise _ApiError("invalid toxic type", 400)
        if toxic_name in proxy.toxics:
            raise _ApiError("toxic already exists", 409)
        try:
            attributes = parse_attributes(kind, obj.get("attributes"))
        except ValueError as exc:
            raise _bad_body(str(exc)) from None
        toxic = _ToxicSpec(next(self._toxic_uids), toxic_name, type_, stream, toxicity, attributes, kind)
        proxy.toxics[toxic_name] = toxic
        proxy.changed()
        return _Response.json(200, toxic.to_json())

    async def _get_toxic(self, request: _Request, name: str, toxic_name: str) -> _Response:
        return _Response.json(200, self._toxic(self._proxy(name), toxic_name).to_json())

    async def _update_toxic(self, request: _Request, name: str, toxic_name: str) -> _Response:
        proxy = self._proxy(name)
        toxic = self._toxic(proxy, toxic_name)
        obj = _decode(request.body)
        toxicity = _toxicity(obj, toxic.toxicity)
        try:
            attributes = parse_attributes(toxic.kind, obj.get("attributes"), toxic.attributes)
        except ValueError as exc:
            raise _bad_body(str(exc)) from None
        toxic.toxicity, toxic.attributes = toxicity, attributes
        toxic.generation += 1
        proxy.changed()
        return _Response.json(200, toxic.to_json())

    async def _delete_toxic(self, request: _Request, name: str, toxic_name: str) -> _Response:
        proxy = self._proxy(name)
        self._toxic(proxy, toxic_name)
        del proxy.toxics[toxic_name]
        proxy.changed()
        return _Response(204)


# --- ways to run it -----------------------------------------------------------------------------


def _url(sock: socket.socket) -> str:
    return f"http://{_format_address(sock.getsockname())}"


@final
class ToxiproxyServer:
    """chaoskit's Toxiproxy-compatible server in a background thread with its own event loop.

    Use it as a context manager; on exit every listener and connection is closed::

        with ToxiproxyServer(port=0, seed=7) as server:
            requests.post(f"{server.url}/proxies", json={"name": "db", "upstream": "127.0.0.1:5432"})

    ``port=0`` picks a free port (read it from `url`). ``seed`` fixes every toxicity roll and jitter;
    None picks a random seed, readable from `seed`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8474, seed: int | None = None) -> None:
        self._host = host
        self._port = port
        self._app = _App(seed)
        self._url: str | None = None
        self._portal_cm: AbstractContextManager[anyio.from_thread.BlockingPortal] | None = None
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._future: Future[None] | None = None

    @property
    def seed(self) -> int:
        """The seed every toxic run derives its RNG from."""
        return self._app.seed

    @property
    def url(self) -> str:
        """The API's base URL, e.g. ``http://127.0.0.1:8474``; RuntimeError before `start`."""
        if self._url is None:
            raise RuntimeError("ToxiproxyServer is not running; call start() or use it as a context manager")
        return self._url

    def start(self) -> ToxiproxyServer:
        """Bind the API and start serving; OSError when the address cannot be bound."""
        if self._portal is not None:
            raise RuntimeError("ToxiproxyServer is already running")
        sock = _bind(_format_address((self._host, self._port)))
        self._portal_cm = anyio.from_thread.start_blocking_portal("asyncio")
        self._portal = self._portal_cm.__enter__()
        try:
            self._future, _ = self._portal.start_task(self._app.serve, sock)
        except BaseException:
            sock.close()
            self._stop_portal()
            raise
        self._url = _url(sock)
        return self

    def stop(self) -> None:
        """Close every proxy, connection and the API, and stop the thread. Does nothing when stopped."""
        if self._portal is None:
            return
        try:
            self._portal.call(self._app.shutdown)
            if self._future is not None:
                self._future.result(timeout=10)
        finally:
            self._stop_portal()

    def _stop_portal(self) -> None:
        cm, self._portal_cm, self._portal, self._future, self._url = self._portal_cm, None, None, None, None
        if cm is not None:
            cm.__exit__(None, None, None)

    def __enter__(self) -> ToxiproxyServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run(host: str = "127.0.0.1", port: int = 8474, seed: int | None = None) -> int:
    """Serve in the foreground until SIGINT or SIGTERM (the ``chaoskit toxiproxy`` command). Returns an exit code."""
    try:
        sock = _bind(_format_address((host, port)))
    except OSError as exc:
        print(f"chaoskit toxiproxy: {exc}", file=sys.stderr)
        return 1
    app = _App(seed)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(app.serve, sock)
            print(f"chaoskit toxiproxy: API on {_url(sock)} (seed={app.seed})", flush=True)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    app.shutdown()
                    break

    anyio.run(main, backend="asyncio")
    return 0

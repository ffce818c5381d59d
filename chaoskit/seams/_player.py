"""Plays one call's plan on the session clock, for any client library.

The player knows nothing of the client it serves. A seam hands it an :class:`Exchange`: the
request (transport-neutral), the client's timeouts, and the seam's :data:`Failures` table, which
turns a neutral failure (a :data:`Kind` in a :data:`Phase`) into the exception that client meets
on a real socket, the way httpx maps httpcore's errors in one table. The player returns an
:class:`Answer` (status, headers, and a body played as it is read) or raises from that table.

Each step's logic is written once, as a generator that yields what it needs done (wait this long,
fetch the real answer, read the next chunk of it); a sync and an async driver carry those out.
chaoskit's own fetches of a real server's answer (``Forward``, ``Relay``) use a fresh httpx client,
unless the seam brings its own :class:`Fetcher` (the proxy's pooled upstream client).
"""

from __future__ import annotations

import functools
import math
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from types import GeneratorType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

from .._clock import WaitInterrupted
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
)
from ._bypass import BYPASS

if TYPE_CHECKING:
    from .._clock import Clock
    from .._journal import Call
    from ..engine import OnEnd
    from ..providers._profile import CallRequest
    from ..providers._usage import UsageMeter

__all__ = [
    "CONNECT_KINDS", "HANG_LIMIT", "JOURNAL_NAMES", "Answer", "Answerer", "Exchange", "FetchFailed", "Fetched", "Fetcher",
    "Failures", "Kind", "Phase", "Player",
    "connect_phase", "kind_of", "upstream_of",
]

#: A failure as the network makes it: no connection in time, nothing listening, a TCP RST, the
#: peer closing early (before the response: disconnected; mid-body: the body cut short), no
#: bytes within the client's read timeout.
Kind = Literal["connect_timeout", "connect_refused", "reset", "incomplete", "read_timeout"]
#: When it happens: before a connection exists, connected but before the response's head, or
#: while the body is read. Clients raise different errors for the same kind in each.
Phase = Literal["connect", "response", "body"]
CONNECT_KINDS = frozenset({"connect_timeout", "connect_refused"})
#: What the journal calls each kind (``Call.error``): the names httpx users know.
JOURNAL_NAMES: dict[str, str] = {
    "connect_timeout": "ConnectTimeout", "connect_refused": "ConnectError", "reset": "ReadError",
    "incomplete": "RemoteProtocolError", "read_timeout": "ReadTimeout",
}
#: How long an injected "never answers" waits when the client set no read timeout at all.
HANG_LIMIT = 600.0
#: Headers of a fetched response that describe its framing: the seam frames what it sends
#: itself, and httpx has already decoded the body.
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"content-encoding", b"connection", b"keep-alive"})


#: A seam's table: the exception its client meets for a kind of failure in a phase, on a real socket.
Failures = Callable[[Kind, Phase], BaseException]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request as a seam hands it to the player.

    ``on_connect`` is for a seam whose client runs its own connect timers (aiohttp): the player
    calls it once with the connect phase's outcome (None: connected; else the failure, raised
    right after unless the client gave up first), before it plays the rest. ``fetcher``: where an
    async seam fetches real answers (None: a fresh httpx client per call).
    """

    request: CallRequest
    failures: Failures
    asynchronous: bool = False
    connect_timeout: float | None = None
    read_timeout: float | None = None
    on_connect: Callable[[BaseException | None], None] | None = None
    fetcher: Fetcher | None = None


class FetchFailed(Exception):
    """A :class:`Fetcher` could not reach the real service, or it broke: the failure's kind."""

    def __init__(self, kind: Kind, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind: Kind = kind


class Fetched(Protocol):
    """A real answer being read: its head, and its body as it arrives (decoded, unframed)."""

    status: int
    headers: list[tuple[bytes, bytes]]

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Fetcher(Protocol):
    """Where an async seam with its own pooled client (the proxy) fetches real answers; raises
    :class:`FetchFailed`. Without one the player fetches with a fresh httpx client."""

    async def open(self, request: CallRequest, *, connect_timeout: float | None, read_timeout: float | None) -> Fetched: ...


class Answerer(Protocol):
    """What a seam hands its requests to (the engine's router): an answer, or None to send the
    request to the real network itself."""

    def answer_sync(self, exchange: Exchange) -> Answer | None: ...

    async def answer_async(self, exchange: Exchange) -> Answer | None: ...


@dataclass(frozen=True, slots=True)
class Answer:
    """A response played from a plan.

    ``content`` is bytes for a body sent at once, else an iterator (sync clients) or async
    iterator (async clients) that plays the rest of the plan as the client reads.
    """

    status: int
    headers: list[tuple[bytes, bytes]]
    content: Any


def connect_phase(plan: Plan) -> tuple[Plan, Plan]:
    """(the steps played before a connection exists, the rest of the plan).

    The connect phase is the plan's leading notes and connect failures. A ``Forward`` is not in
    it: the client is connected while the real service is fetched, so a slow upstream is a slow
    response, not a slow connect.
    """
    for i, step in enumerate(plan):
        if not (isinstance(step, Note) or (isinstance(step, Break) and step.kind in CONNECT_KINDS)):
            return plan[:i], plan[i:]
    return list(plan), []


#: httpx's and httpcore's transport errors (same names in both, and in httpx2/httpcore2) by kind.
_KINDS_BY_NAME: dict[str, Kind] = {
    "ConnectTimeout": "connect_timeout", "PoolTimeout": "connect_timeout", "ConnectError": "connect_refused",
    "ReadTimeout": "read_timeout", "WriteTimeout": "read_timeout", "ReadError": "reset", "WriteError": "reset",
    "RemoteProtocolError": "incomplete", "LocalProtocolError": "incomplete",
}
_TRANSPORT_MODULES = frozenset({"httpcore", "httpcore2", "httpx", "httpx2"})


def kind_of(exc: BaseException) -> Kind | None:
    """The kind of an httpx/httpcore transport error (chaoskit's fetch of a real answer, or a
    ``chaos.router`` route's side effect); None for anything else."""
    if type(exc).__module__.split(".")[0] not in _TRANSPORT_MODULES:
        return None
    return _KINDS_BY_NAME.get(type(exc).__name__)


# ---- what the step logic asks its driver to do -------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


class _Fetch:
    """Fetch the real answer whole; the driver sends back an :class:`Upstream`."""


class _Open:
    """Send the request to the real service and read its head; the driver sends back the response."""


class _Read:
    """The next chunk of the real body; the driver sends back bytes, or None at its end."""


@dataclass(frozen=True, slots=True)
class _Return:
    """What the steps returned: a driver's last item."""

    value: Any


_FETCH, _OPEN, _READ = _Fetch(), _Open(), _Read()
_Effect = _Sleep | _Fetch | _Open | _Read
_Steps = Generator[Any, Any, Any]


def _advance(steps: _Steps, value: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Resume ``steps`` with the last effect's value (or its error): (whether they returned,
    what they returned or ask next)."""
    try:
        return False, steps.throw(error) if error is not None else steps.send(value)
    except StopIteration as stop:
        return True, stop.value


def _returned(item: bytes | _Return) -> Any:
    if not isinstance(item, _Return):
        raise AssertionError("a plan sent body bytes before its response")
    return item.value


class _Timer:
    """Tracks time since bytes last arrived, as a socket's read timeout does."""

    __slots__ = ("read", "idle")

    def __init__(self, read: float | None) -> None:
        self.read = read
        self.idle = 0.0

    def wait(self, seconds: float) -> tuple[float, bool]:
        """(seconds to really wait, whether the read times out after them)."""
        if self.read is not None and self.idle + seconds >= self.read:
            return max(self.read - self.idle, 0.0), True
        if self.read is None and math.isinf(seconds):
            return HANG_LIMIT, True
        self.idle += seconds
        return seconds, False


class Player:
    """Plays one call's plan, records its outcome in the journal, and ends it once."""

    __slots__ = ("exchange", "clock", "call", "on_end", "note", "give_back", "errors", "meter", "_ended",
                 "_delivered", "_connected", "_upstream")

    def __init__(
        self, exchange: Exchange, clock: Clock, call: Call, on_end: OnEnd, note: str,
        give_back: Callable[[], None] | None = None, errors: list[Exception] | None = None,
        meter: UsageMeter | None = None,
    ) -> None:
        self.exchange = exchange
        self.errors = errors  # where errors in a fault's set-up found while playing are kept
        self.clock = clock
        self.call = call
        self.on_end = on_end  # sets the call's duration at headers (final=False); closes the call at its end
        self.meter = meter  # reads the token usage from the body as it is sent
        self.note = note
        self.give_back = give_back  # returns an unsent reply to its queue
        self._ended = False
        self._delivered: str | None = None  # model text sent so far; None before headers
        self._connected = False  # a connection exists (the connect phase is over)
        self._upstream: tuple[Any, Any] | None = None  # (what closes it, its chunks) for a relayed answer

    # ---- the journal -------------------------------------------------------------------------
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

    def _noted(self, step: Note) -> None:
        """Journal what the fault chose (and the values it planted)."""
        self.call.detail = step.text
        if step.planted is not None:
            self.call.planted = list(step.planted)

    def _sent(self, step: Send) -> bytes:
        if step.text and self._delivered is not None:
            self._delivered += step.text
        if self.meter is not None:
            self.meter.feed(step.data)
        return step.data

    def failure(self, kind: Kind) -> BaseException:
        """Journal the failure ``kind`` and return the client's error for it, noted, to raise."""
        phase: Phase = "body" if self._delivered is not None else "response" if self._connected else "connect"
        self.call.error = JOURNAL_NAMES[kind]
        self._broke()
        self.end()
        exc = self.exchange.failures(kind, phase)
        exc.add_note(self.note)
        return exc

    def _fetch_failed(self, exc: httpx.TransportError) -> BaseException:
        """The real service could not be reached, or broke: the client meets the same failure."""
        return self.failure(kind_of(exc) or "connect_refused")

    def _read_timed_out(self, timer: _Timer) -> BaseException:
        if timer.read is None:
            self.call.error = "Hang"
            self._broke()
            self.end()
            req = self.exchange.request
            return ChaosError(
                f"chaoskit: {req.method} {req.url} never answered and the client has no read timeout, so it "
                f"waited {HANG_LIMIT:.0f} s; set a timeout on the client"
            )
        return self.failure("read_timeout")

    def _break_before(self, step: Break) -> tuple[float, Kind]:
        """(seconds to wait, the failure) for a break before any response."""
        wait = 0.0
        if step.kind == "connect_timeout":
            connect = self.exchange.connect_timeout
            limit = HANG_LIMIT if connect is None else connect
            wait = limit if step.after is None else min(step.after, limit)
        return wait, step.kind

    def _then(self, step: Forward, upstream: Upstream) -> Plan:
        """The plan a ``Forward`` step makes of the real response; set-up errors are kept."""
        try:
            return step.then(upstream)
        except ChaosError as exc:
            self.call.error = type(exc).__name__
            if self.errors is not None:
                self.errors.append(exc)
            self.end()
            raise

    # ---- the steps, once for sync and async ----------------------------------------------------
    def _respond(self, plan: Plan) -> _Steps:
        """Play ``plan`` up to its response (returned) or failure (raised)."""
        timer = _Timer(self.exchange.read_timeout)
        i = 0
        while i < len(plan):
            step = plan[i]
            if not isinstance(step, Note) and not (isinstance(step, Break) and step.kind in CONNECT_KINDS):
                self._connected = True
            if isinstance(step, Wait):
                seconds, times_out = timer.wait(step.seconds)
                yield _Sleep(seconds)
                if times_out:
                    raise self._read_timed_out(timer)
            elif isinstance(step, Break):
                seconds, kind = self._break_before(step)
                yield _Sleep(seconds)
                raise self.failure(kind)
            elif isinstance(step, Respond):
                return self._response(step, plan[i + 1 :])
            elif isinstance(step, Note):
                self._noted(step)
            elif isinstance(step, Forward):
                plan, i = self._then(step, (yield _FETCH)) + plan[i + 1 :], 0
                continue
            elif isinstance(step, Relay):
                return self._relay_head(step.make(), (yield _OPEN))
            i += 1
        raise AssertionError("a plan must respond or break")

    def _response(self, step: Respond, rest: Plan) -> Answer:
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
        return Answer(step.status, headers, self._body(rest))

    def _body(self, rest: Plan) -> _Steps:
        timer = _Timer(self.exchange.read_timeout)
        try:
            for step in rest:
                yield from self._body_step(step, timer)
        finally:
            self.end()

    def _body_step(self, step: Step, timer: _Timer) -> _Steps:
        if isinstance(step, Send):
            timer.idle = 0.0
            yield self._sent(step)
        elif isinstance(step, Wait):
            seconds, times_out = timer.wait(step.seconds)
            yield _Sleep(seconds)
            if times_out:
                raise self._read_timed_out(timer)
        elif isinstance(step, Break):
            raise self.failure("reset" if step.kind == "reset" else "incomplete")

    # -- relaying a real response as it arrives --
    def _relay_head(self, relayer: Relayer, head: tuple[int, list[tuple[bytes, bytes]]]) -> Answer:
        status, raw_headers = head
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers if k.lower() not in _FRAMING)
        steps = relayer.head(status, headers)
        respond = next(s for s in steps if isinstance(s, Respond))
        self.call.status = respond.status
        self.call.text = ""  # the model text relayed, counted as it goes
        self._delivered = ""
        self.on_end(self.call, final=False)  # the duration so far: time to headers
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in respond.headers]
        return Answer(respond.status, [*raw, (b"transfer-encoding", b"chunked")], self._relayed(relayer))

    def _relayed(self, relayer: Relayer) -> _Steps:
        timer = _Timer(self.exchange.read_timeout)
        try:
            while not relayer.done:
                chunk = yield _READ
                if chunk is None:
                    break
                for step in relayer.feed(chunk):
                    yield from self._body_step(step, timer)
                    self._relayed_so_far(relayer)
            for step in relayer.end():
                yield from self._body_step(step, timer)
                self._relayed_so_far(relayer)
        finally:
            self.call.text = self._delivered  # what was relayed, however the reading ended
            if relayer.broke:
                self.call.complete = False
            self.end()

    def _relayed_so_far(self, relayer: Relayer) -> None:
        """The journal as each relayed piece goes out, so a client that stops reading after an
        error event (and keeps the stream open) still finds what it got."""
        self.call.text = self._delivered
        if relayer.broke:
            self.call.complete = False

    # ---- the sync driver ---------------------------------------------------------------------
    def play_sync(self, plan: Plan) -> Answer:
        """Wait and fail here, or return the response; a streamed body plays as it is read."""
        try:
            answer: Answer = self._run_sync(self._respond(plan))
        except BaseException:
            self._close_upstream_sync()
            raise
        if isinstance(answer.content, GeneratorType):
            return Answer(answer.status, answer.headers, self._stream_sync(answer.content))
        return answer

    def _drive_sync(self, steps: _Steps) -> Generator[bytes | _Return, None, None]:
        """Carry out what ``steps`` asks; yield the body bytes it sends, then what it returns."""
        value: Any = None
        error: BaseException | None = None
        while True:
            done, effect = _advance(steps, value, error)
            value, error = None, None
            if done or isinstance(effect, bytes):
                yield _Return(effect) if done else effect
                if done:
                    return
                continue
            try:
                value = self._do_sync(effect)
            except BaseException as exc:  # noqa: BLE001 - handed to the steps, which end the call
                error = exc

    def _run_sync(self, steps: _Steps) -> Any:
        driver = self._drive_sync(steps)
        try:
            return _returned(next(driver))
        finally:
            driver.close()

    def _stream_sync(self, steps: _Steps) -> Iterator[bytes]:
        try:
            for item in self._drive_sync(steps):
                if isinstance(item, bytes):
                    yield item
        finally:
            steps.close()
            self._close_upstream_sync()

    def _do_sync(self, effect: _Effect) -> Any:
        if isinstance(effect, _Sleep):
            try:
                self.clock.sleep(effect.seconds)
            except WaitInterrupted:
                self.call.detail = "the chaos session stopped during an injected wait"
                raise self.failure("reset") from None
            return None
        if isinstance(effect, _Read):
            assert self._upstream is not None
            try:
                return next(self._upstream[1], None)
            except httpx.TransportError as exc:  # the real server broke the stream itself
                raise self._fetch_failed(exc) from None
        request, timeout = _forwarded(self.exchange)
        client = _upstream_client(timeout)
        token = BYPASS.set(True)
        try:
            if isinstance(effect, _Fetch):
                with client:
                    return upstream_of(client.send(request))
            response = client.send(request, stream=True)
            self._upstream = (lambda: (response.close(), client.close()), response.iter_bytes())
            return response.status_code, list(response.headers.raw)
        except httpx.TransportError as exc:
            client.close()
            raise self._fetch_failed(exc) from None
        finally:
            BYPASS.reset(token)

    def _close_upstream_sync(self) -> None:
        if self._upstream is not None:
            close, _ = self._upstream
            self._upstream = None
            close()

    # ---- the async driver --------------------------------------------------------------------
    async def play_async(self, plan: Plan) -> Answer:
        """As play_sync, for async clients (asyncio or trio, through anyio)."""
        try:
            if self.exchange.on_connect is not None:
                plan = await self._connect_async(plan, self.exchange.on_connect)
            answer: Answer = await self._run_async(self._respond(plan))
        except BaseException:
            await self._close_upstream_async()
            raise
        if isinstance(answer.content, GeneratorType):
            return Answer(answer.status, answer.headers, self._stream_async(answer.content))
        return answer

    async def _connect_async(self, plan: Plan, on_connect: Callable[[BaseException | None], None]) -> Plan:
        """Play the connect phase and report its outcome; return the rest of the plan."""
        head, rest = connect_phase(plan)
        for step in head:
            if isinstance(step, Note):
                self._noted(step)
                continue
            assert isinstance(step, Break)
            seconds, kind = self._break_before(step)
            try:
                await self._asleep(seconds)
            except BaseException:  # cancelled: the client's own connect timer fired first
                on_connect(self.failure(kind))
                raise
            exc = self.failure(kind)
            on_connect(exc)
            raise exc
        self._connected = True
        on_connect(None)
        return rest

    async def _drive_async(self, steps: _Steps) -> AsyncGenerator[bytes | _Return, None]:
        """As :meth:`_drive_sync`, awaiting what ``steps`` asks."""
        value: Any = None
        error: BaseException | None = None
        while True:
            done, effect = _advance(steps, value, error)
            value, error = None, None
            if done or isinstance(effect, bytes):
                yield _Return(effect) if done else effect
                if done:
                    return
                continue
            try:
                value = await self._do_async(effect)
            except BaseException as exc:  # noqa: BLE001 - handed to the steps, which end the call
                error = exc

    async def _run_async(self, steps: _Steps) -> Any:
        driver = self._drive_async(steps)
        try:
            return _returned(await anext(driver))
        finally:
            await driver.aclose()

    async def _stream_async(self, steps: _Steps) -> AsyncIterator[bytes]:
        try:
            async for item in self._drive_async(steps):
                if isinstance(item, bytes):
                    yield item
        finally:
            steps.close()
            await self._close_upstream_async()

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

    async def _do_async(self, effect: _Effect) -> Any:
        if isinstance(effect, _Sleep):
            await self._asleep(effect.seconds)
            return None
        if isinstance(effect, _Read):
            assert self._upstream is not None
            try:
                return await anext(self._upstream[1], None)
            except httpx.TransportError as exc:
                raise self._fetch_failed(exc) from None
            except FetchFailed as exc:
                raise self.failure(exc.kind) from None
        if self.exchange.fetcher is not None:
            return await self._fetch_with(self.exchange.fetcher, effect)
        request, timeout = _forwarded(self.exchange)
        client = _upstream_client(timeout, asynchronous=True)
        token = BYPASS.set(True)
        try:
            if isinstance(effect, _Fetch):
                async with client:
                    return upstream_of(await client.send(request))
            response = await client.send(request, stream=True)

            async def close() -> None:
                await response.aclose()
                await client.aclose()

            self._upstream = (close, response.aiter_bytes())
            return response.status_code, list(response.headers.raw)
        except httpx.TransportError as exc:
            await client.aclose()
            raise self._fetch_failed(exc) from None
        finally:
            BYPASS.reset(token)

    async def _fetch_with(self, fetcher: Fetcher, effect: _Effect) -> Any:
        """Fetch the real answer through the seam's own client (the proxy's pool)."""
        req = self.exchange.request
        try:
            fetched = await fetcher.open(req, connect_timeout=self.exchange.connect_timeout,
                                         read_timeout=self.exchange.read_timeout)
        except FetchFailed as exc:
            raise self.failure(exc.kind) from None
        if isinstance(effect, _Fetch):
            try:
                body = b"".join([chunk async for chunk in fetched.chunks()])
            except FetchFailed as exc:
                raise self.failure(exc.kind) from None
            finally:
                await fetched.aclose()
            headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in fetched.headers if k.lower() not in _FRAMING)
            return Upstream(fetched.status, headers, body)
        self._upstream = (fetched.aclose, fetched.chunks())
        return fetched.status, fetched.headers

    async def _close_upstream_async(self) -> None:
        if self._upstream is not None:
            close, _ = self._upstream
            self._upstream = None
            await close()


# ---- chaoskit's own fetches of a real answer ----------------------------------------------------


def _forwarded(exchange: Exchange) -> tuple[httpx.Request, httpx.Timeout]:
    """The request to send to the real service, with the client's own timeouts."""
    req = exchange.request
    items = req.headers.multi_items() if hasattr(req.headers, "multi_items") else req.headers.items()
    headers = [(k, v) for k, v in items if k.lower() not in ("content-length", "transfer-encoding")]
    timeout = httpx.Timeout(connect=exchange.connect_timeout, read=exchange.read_timeout, write=None, pool=None)
    return httpx.Request(req.method, req.url, headers=headers, content=req.body), timeout


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

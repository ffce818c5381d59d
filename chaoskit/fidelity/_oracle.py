"""The differential oracle: does the real SDK react to an injected fault exactly as it reacts
to the same failure from a real server on a real socket?

Both sides make the same SDK call (same client settings, same base URL, same seed for the
SDK's retry jitter). On chaoskit's side the fault is injected in a :class:`~chaoskit.Chaos`
session (on the virtual clock for sync calls). On the real side a :class:`PlanServer` on
loopback renders the *reference* fault (the shipped catalog's) with the same provider profile
and plays it over the socket in real time; connect failures are a blackholed or closed port.
What the application would see is then compared: exception class and cause, status, the
error's fields and message, the value or stream items delivered (so the text before a break),
the number of attempts, the waits between them and the time to the outcome.

Delays are shortened on both sides alike (:func:`quick`), so the real side stays fast.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from .. import faults as _faults
from .._fault import Fault
from .._replies import DEFAULT_REPLY, ReplyQueue, tool_call
from ..providers._coldstart import ColdStarts
from ..providers._misbehave import NON_ANSWERS
from ..providers._plan import Break, Plan
from ..providers._profile import CallRequest, RenderContext, network_plan
from ._loop import VirtualEventLoop
from ._sdks import SDKS, Settings, async_call, call, supports_async, warm_up
from ._server import PlanServer, blackhole, closed_port

__all__ = ["Observation", "Served", "Verdict", "compare", "observe", "quick", "serve", "verify", "SETTINGS", "TOLERANCE"]

#: The oracle's client: short timeouts so timeout faults end quickly; one retry, so a retried
#: fault shows as two attempts at a fraction of the default's backoff.
SETTINGS = Settings(read_timeout=0.3, connect_timeout=0.2, max_retries=1, retry_delay=0.1)
#: How far apart two times may be (seconds, plus a share of the time) before they differ:
#: scheduling on a busy machine, a real connect, the pause before a real RST.
TOLERANCE = (0.2, 0.15)
#: How often the real side runs again when only times differ: the injected side runs on virtual
#: time, the real side on a machine that other work can slow down, so a time difference must
#: come back before it counts.
TIMING_RERUNS = 2
TIMING = ("time to the outcome", "waits between attempts")
#: The seed of the SDK's retry jitter (``random.random()``), the same on both sides.
JITTER_SEED = 20261204
#: The reply faults that change a tool call act on.
TOOL_REPLY = tool_call("lookup_order", {"order_id": "A100", "channel": "web"})


def quick(fault: Fault) -> dict[str, Any]:
    """Parameter overrides that shorten ``fault``'s delays without changing what it is.

    A retry-after stays a retry-after (only shorter), a stall with no end stays one, a load
    stays a load; jitter is removed so both sides draw nothing.
    """
    p = fault.params
    out: dict[str, Any] = {}
    if p.get("retry_after") is not None:
        out["retry_after"] = min(float(p["retry_after"]), 0.05)
    if p.get("retry_after_ms") is not None:
        out["retry_after_ms"] = min(int(p["retry_after_ms"]), 50)
    if p.get("seconds") is not None:  # a load; a delay per token adds up over the reply
        limit = {"latency.cold_start": 0.2, "latency.tokens": 0.005}.get(fault.effect, 0.1)
        out["seconds"] = min(float(p["seconds"]), limit)
    if p.get("warm"):
        out["warm"] = min(float(p["warm"]), 0.05)
    if p.get("jitter"):
        out["jitter"] = 0.0
    if fault.effect == "schema_drift":
        out.update(variant=p.get("variant") or "renamed", path=p.get("path") or "order_id")
    # What a model.* fault draws with the session's RNG, fixed: the real side's planner draws from its own.
    if fault.effect == "model.schema_violation":
        out.update(kind=p.get("kind") or "extra_field")
    if fault.effect == "model.non_answer":
        out.update(text=p.get("text") or NON_ANSWERS[0])
    if fault.effect == "model.wrong_language":
        out.update(language=p.get("language") or "de")
    return out


def _reply_for(fault: Fault) -> Any:
    return TOOL_REPLY if fault.effect == "schema_drift" else None


# ---- what the app saw --------------------------------------------------------------------


@dataclass
class Observation:
    """What one SDK call gave the application, and how the attempts went."""

    outcome: str  # module.Class of the exception, or "returned"
    cause: str | None
    status: int | None
    fields: dict[str, Any]
    message: str | None
    delivered: Any  # the returned value, or the stream's items, as plain data
    attempts: int | None  # None where the side cannot count them (a connect that never completes)
    gaps: list[float]
    elapsed: float
    base: str = ""

    def summary(self) -> str:
        status = "" if self.status is None else f" {self.status}"
        attempts = "" if self.attempts is None else f", {self.attempts} attempt{'s' * (self.attempts != 1)}"
        return f"{self.outcome}{status}{attempts}"


def _qualified(cls: type) -> str:
    return f"{cls.__module__.split('._')[0]}.{cls.__name__}"


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-like data (pydantic models dumped, objects by their public fields)."""
    if depth > 8:
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return _plain(dump(mode="json"), depth + 1)
        except Exception:  # noqa: BLE001 - a model that cannot dump itself is shown by repr
            return repr(value)
    return f"<{type(value).__name__}>"


#: Error attributes that are the transport's objects, not what the provider said.
_SKIP = {"response", "request", "args", "__notes__", "_response", "sdk_http_response", "headers"}


def chain_of(exc: BaseException) -> str | None:
    """The classes the exception was raised from, nearest first (``httpx2.ReadError <- builtins.ConnectionResetError``)."""
    names: list[str] = []
    seen = {id(exc)}
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while cause is not None and id(cause) not in seen and len(names) < 6:
        seen.add(id(cause))
        names.append(_qualified(type(cause)))
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    return " <- ".join(names) or None


def _fields(exc: BaseException) -> dict[str, Any]:
    out = {}
    for name, value in vars(exc).items():
        if name.startswith("_") or name in _SKIP:
            continue
        out[name] = _plain(value)
    return out


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an SDK's exception carries, however the SDK names it."""
    status = getattr(exc, "status_code", None)  # openai, anthropic
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore's ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    status = getattr(response, "status_code", None)  # huggingface_hub: the httpx2 response
    if isinstance(status, int):
        return status
    code = getattr(exc, "code", None)  # google-genai
    return code if isinstance(code, int) and 100 <= code < 600 else None


def _normal(text: Any, base: str) -> Any:
    """``text`` with the side's base URL and per-run values (ports, object ids) made neutral."""
    if isinstance(text, str):
        text = text.replace(base, "BASE")
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
        return re.sub(r" at 0x[0-9a-f]+", " at 0x", text)
    if isinstance(text, dict):
        return {k: _normal(v, base) for k, v in text.items() if k not in ("ResponseMetadata",)}
    if isinstance(text, list):
        return [_normal(v, base) for v in text]
    return text


def observe(value: Any, items: list[Any], error: BaseException | None, stream: bool, *, base: str,
            attempts: int | None, starts: list[float], elapsed: float) -> Observation:
    """An :class:`Observation` of one call's outcome, neutral to the side's base URL."""
    delivered = _normal(_plain(items if stream else value), base)
    gaps = [round(b - a, 3) for a, b in pairwise(starts)]
    if error is None:
        return Observation("returned", None, None, {}, None, delivered, attempts, gaps, elapsed, base)
    return Observation(
        _qualified(type(error)), chain_of(error), status_of(error),
        _normal(_fields(error), base), _normal(str(error), base), delivered, attempts, gaps, elapsed, base,
    )


def _close(a: float, b: float) -> bool:
    absolute, share = TOLERANCE
    return abs(a - b) <= absolute + share * max(a, b)


def compare(injected: Observation, real: Observation) -> list[str]:
    """The differences between what chaoskit's injection and the real server made the SDK do."""
    out = []
    for name in ("outcome", "cause", "status", "message"):
        a, b = getattr(injected, name), getattr(real, name)
        if a != b:
            out.append(f"{name}: chaoskit {_short(a)}, real {_short(b)}")
    for key in sorted(set(injected.fields) | set(real.fields)):
        a, b = injected.fields.get(key, "<missing>"), real.fields.get(key, "<missing>")
        if a != b:
            out.append(f"error.{key}: chaoskit {_short(a)}, real {_short(b)}")
    if injected.delivered != real.delivered:
        out.append(f"delivered: chaoskit {_short(injected.delivered)}, real {_short(real.delivered)}")
    if injected.attempts is not None and real.attempts is not None:
        if injected.attempts != real.attempts:
            out.append(f"attempts: chaoskit {injected.attempts}, real {real.attempts}")
        elif not all(_close(a, b) for a, b in zip(injected.gaps, real.gaps, strict=True)):
            out.append(f"waits between attempts: chaoskit {injected.gaps} s, real {real.gaps} s")
    if not _close(injected.elapsed, real.elapsed):
        out.append(f"time to the outcome: chaoskit {injected.elapsed:.2f} s, real {real.elapsed:.2f} s")
    return out


def _short(value: Any, limit: int = 240) -> str:
    """``repr(value)``, cut in the middle when long (where two long texts differ is usually near an end)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit // 2]} ... {text[-limit // 2 :]}"


# ---- the two sides -------------------------------------------------------------------------


class FaultPlanner:
    """The real server's side: ``fault`` on every model call, rendered by the provider's profile.

    Requests are numbered as a chaoskit session numbers its journal, so request ids match;
    a cold start's load is timed on the real clock.
    """

    def __init__(self, fault: Fault, seed: int, reply: Any = None) -> None:
        from ..providers import profile

        self.fault = fault
        self.profile = profile(fault.provider)
        self.rng = random.Random(seed)
        self.replies = ReplyQueue([reply] if reply is not None else [])
        self.cold = ColdStarts()
        self.index = 0
        self.last: float | None = None
        self.lock = threading.Lock()

    def __call__(self, req: CallRequest) -> Plan:
        with self.lock:
            index, self.index = self.index, self.index + 1
            now = time.monotonic()
            side = self.profile.side_request(req)
            idle = None if self.last is None else now - self.last
            if not side:
                self.last = now
            fault = self.fault
            fires = not side and self.profile.applies(fault, req, idle)
            phase = None
            if fires and fault.effect == "latency.cold_start":
                key = f"{fault.id} {self.profile.name}"
                phase = self.cold.peek(key, fault.params, now, idle)
                fires = phase is not None
                if phase is not None:
                    phase = self.cold.commit(key, phase, fault.params, now, self.rng)
            ctx = RenderContext(ident=f"chaoskit{index:05d}", rng_source=self.rng, idle=idle, take_reply=lambda: self.profile.settle(self.replies.take(), req), cold=phase)
            return self.profile.render(fault, req, ctx) if fires else self.profile.healthy(req, ctx)

    def model_calls(self, server: PlanServer) -> list[float]:
        """Arrival times of the model calls the server got (side requests left out)."""
        return [r.at for r in server.received if not self.profile.side_request(r.request)]


def _connect_break(fault: Fault) -> str | None:
    """``connect_timeout`` / ``connect_refused`` when the fault fails every connect, else None."""
    plan = network_plan(fault.effect, fault.params, random.Random(0), lambda: [])
    if plan and isinstance(plan[0], Break) and plan[0].kind in ("connect_timeout", "connect_refused"):
        return plan[0].kind
    return None


def _sdk_call(provider: str, base: str, stream: bool, asynchronous: bool, settings: Settings, api: str | None, loop: Any = None) -> Any:
    if asynchronous:
        return async_call(provider, base, stream=stream, settings=settings, loop_factory=None if loop is None else lambda: loop, api=api)
    return call(provider, base, stream=stream, settings=settings, api=api)


def seeded_jitter(run: Any) -> Any:
    """Run ``run()`` with the global RNG (the SDKs' retry jitter) seeded, then restore it."""
    state = random.getstate()
    random.seed(JITTER_SEED)
    try:
        return run()
    finally:
        random.setstate(state)


def _attempt(sdk: Any, items: list[Any], now: Callable[[], float]) -> tuple[Any, BaseException | None, float]:
    """(what the call returned, what it raised, seconds from the request to the outcome on ``now``)."""
    begun: list[float] = []
    try:
        value, error = sdk(items, lambda: begun.append(now())), None
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        value, error = None, exc
    return value, error, now() - (begun[0] if begun else now())


@dataclass
class Served:
    """A real server playing one fault: where to point the client, and what it was asked."""

    url: str
    server: PlanServer | None  # None for a connect failure: there is no server to ask
    planner: FaultPlanner

    @property
    def starts(self) -> list[float]:
        """When the model calls arrived (``time.monotonic()``); side requests left out."""
        return [] if self.server is None else self.planner.model_calls(self.server)

    @property
    def attempts(self) -> int | None:
        """The model calls the server got; None where nothing can count them (a connect that
        never completes or is refused)."""
        return None if self.server is None else len(self.starts)


@contextmanager
def serve(fault: Fault | str, *, reply: Any = None, seed: int = 1, **params: Any) -> Iterator[Served]:
    """A real misbehaving provider on loopback playing ``fault`` (with ``params``) on every model call.

    Point the SDK's base URL at ``served.url``. A fault that fails every connect gets a
    blackholed or closed port instead of a server. ``reply`` is the healthy reply the fault
    works on. A plan the server could not play is raised when the block ends.
    """
    fault = _faults.resolve(fault)
    if params:
        fault = fault.with_params(**params)
    planner = FaultPlanner(fault, seed=seed, reply=reply if reply is not None else _reply_for(fault))
    with ExitStack() as stack:
        kind = _connect_break(fault)
        server = None
        if kind == "connect_timeout":
            url = stack.enter_context(blackhole())
        elif kind == "connect_refused":
            url = closed_port()
        else:
            server = stack.enter_context(PlanServer(planner))
            url = server.url
        yield Served(url, server, planner)
        if server is not None and server.errors:
            raise server.errors[0]


_WARM: set[tuple[str, bool, bool, Settings, str | None]] = set()


def warm(provider: str, stream: bool, asynchronous: bool, settings: Settings, api: str | None) -> None:
    """Make one healthy call the way the oracle will, once per process and way of calling.

    The first call of a kind pays for lazy imports and model building in the SDK (the
    Responses API's stream types take ~0.3 s on a busy machine): real seconds the real side
    would count and the virtual side would not.
    """
    key = (provider, stream, asynchronous, settings, api)
    if key in _WARM:
        return
    _WARM.add(key)
    warm_up(provider)
    from ..providers import profile

    healthy = profile(provider)
    rng = random.Random(0)

    def planner(req: CallRequest) -> Plan:
        return healthy.healthy(req, RenderContext(ident="chaoskitwarm", rng_source=rng, idle=None, take_reply=lambda: DEFAULT_REPLY, cold=None))

    with PlanServer(planner) as server:
        _attempt(_sdk_call(provider, server.url, stream, asynchronous, settings, api), [], time.monotonic)


def run_real(fault: Fault, *, stream: bool, asynchronous: bool, settings: Settings = SETTINGS, api: str | None = None) -> Observation:
    """The SDK against the real misbehaving server playing ``fault`` over a socket (after a
    healthy call of the same kind, see :func:`warm`)."""
    warm(fault.provider, stream, asynchronous, settings, api)
    with serve(fault) as served:
        sdk = _sdk_call(fault.provider, served.url, stream, asynchronous, settings, api)
        items: list[Any] = []
        value, error, elapsed = seeded_jitter(lambda: _attempt(sdk, items, time.monotonic))
    return observe(value, items, error, stream, base=served.url, attempts=served.attempts, starts=served.starts, elapsed=elapsed)


def run_injected(fault: Fault, base: str, *, stream: bool, asynchronous: bool, settings: Settings = SETTINGS, api: str | None = None) -> Observation:
    """The SDK under a chaoskit session injecting ``fault`` on every call to ``base``, on virtual
    time: the sync virtual clock, or for async calls an event loop whose clock is virtual."""
    from .._session import Chaos
    from .._virtual import LoopClock, VirtualClock

    provider = fault.provider
    loop = VirtualEventLoop() if asynchronous else None
    with Chaos(seed=1, clock=LoopClock() if asynchronous else VirtualClock()) as chaos:
        chaos.route(base, provider=provider)
        chaos.inject(fault)
        reply = _reply_for(fault)
        if reply is not None:
            chaos.reply(provider, reply)
        sdk = _sdk_call(provider, base, stream, asynchronous, settings, api, loop)
        items: list[Any] = []
        now = loop.time if loop is not None else chaos.clock.now
        value, error, elapsed = seeded_jitter(lambda: _attempt(sdk, items, now))
        calls = [c for c in chaos.calls if c.provider == provider and c.endpoint != "hub"]
    return observe(value, items, error, stream, base=base, attempts=len(calls),
                   starts=[c.started for c in calls], elapsed=elapsed)


@dataclass(frozen=True)
class Verdict:
    """The comparison of one fault, one way of calling: where chaoskit and the real server differ."""

    fault: str
    sdk: str
    stream: bool
    asynchronous: bool
    injected: Observation
    real: Observation
    differences: list[str] = field(default_factory=list)
    api: str | None = None  # the SDK's way of calling, when not its default (see APIS)

    @property
    def agrees(self) -> bool:
        return not self.differences

    @property
    def call(self) -> str:
        way = "" if self.api is None else f" ({self.api})"
        return f"{'async' if self.asynchronous else 'sync'} {'stream' if self.stream else 'unary'}{way}"

    def describe(self) -> str:
        head = f"{self.fault} ({self.sdk}, {self.call})"
        if self.agrees:
            return f"{head}: agrees: {self.real.summary()}"
        return f"{head}: differs\n" + "\n".join(f"    {d}" for d in self.differences)


def verify(fault: Fault | str, *, stream: bool | None = None, asynchronous: bool = False,
           reference: Fault | None = None, settings: Settings = SETTINGS, api: str | None = None) -> Verdict:
    """Compare ``fault`` injected by chaoskit with ``reference`` (by default the shipped catalog's
    fault of the same id) played by a real server, through the fault's SDK.

    ``stream`` defaults to streaming for ``stream.*`` faults. Both sides use the same
    :func:`quick` parameters, computed from each side's own fault. ``api``: another of the SDK's
    ways of calling (:data:`~chaoskit.fidelity._sdks.APIS`): openai's ``"responses"``,
    anthropic's ``"stream"`` helper, boto3's ``"invoke"``.
    """
    fault = _faults.resolve(fault)
    if fault.provider not in SDKS:
        raise ValueError(f"the fidelity oracle covers model providers ({', '.join(SDKS)}), not {fault.id}")
    if asynchronous and not supports_async(fault.provider):
        raise ValueError(f"{SDKS[fault.provider]} has no async client to check {fault.id} with")
    if reference is None:
        from .._catalog import catalog

        reference = catalog().get(fault.id)
    if stream is None:
        stream = fault.effect.startswith("stream.")
    def real_run() -> Observation:
        return run_real(reference.with_params(**quick(reference)), stream=stream, asynchronous=asynchronous, settings=settings, api=api)

    real = real_run()
    injected = run_injected(fault.with_params(**quick(fault)), real.base, stream=stream, asynchronous=asynchronous, settings=settings, api=api)
    differences = compare(injected, real)
    for _ in range(TIMING_RERUNS):  # a machine busy elsewhere only ever makes the real side later
        if not differences or not all(d.startswith(TIMING) for d in differences):
            break
        real = real_run()
        differences = compare(injected, real)
    return Verdict(fault.id, SDKS[fault.provider], stream, asynchronous, injected, real, differences, api)


#: Effects of non-stream faults that act differently on a streaming call: an error status at
#: create(), a late first byte or slow chunks, so the oracle checks them streamed as well. A
#: connect timeout, or a reset or stall before any response byte, is the same on the socket and
#: in the SDK's retry loop whether or not the request streams: checked unary only.
STREAMED_TOO = ("status", "latency.")


#: Other ways of calling an SDK, checked where its own code between the socket and the app
#: differs: openai's Responses API and anthropic's ``messages.stream()`` helper read streams
#: their own way; boto3's InvokeModel frames an Anthropic body (and its stream's chunks) inside
#: Bedrock's. provider -> (the API, the effects checked through it).
OTHER_APIS = {
    "openai": ("responses", ("stream.",)),
    "anthropic": ("stream", ("stream.",)),
    "bedrock": ("invoke", ("stream.", "status")),
}


def modes(fault: Fault) -> list[tuple[bool, bool, str | None]]:
    """The (stream, asynchronous, api) calls the oracle makes for ``fault``.

    Its natural call (streamed for ``stream.*`` faults), sync and async where the SDK has an
    async client; a fault that acts differently on streams (a status, latency) is also checked
    on a sync streaming call; and through the SDK's other ways of calling (:data:`OTHER_APIS`).
    """
    stream = fault.effect.startswith("stream.")
    ways = [False, True] if supports_async(fault.provider) else [False]
    out: list[tuple[bool, bool, str | None]] = [(stream, asynchronous, None) for asynchronous in ways]
    if not stream and fault.effect.startswith(STREAMED_TOO):
        out.append((True, False, None))
    other = OTHER_APIS.get(fault.provider)
    if other is not None and fault.effect.startswith(other[1]):
        out += [(stream or other[0] == "stream", asynchronous, other[0]) for asynchronous in ways]
    return out

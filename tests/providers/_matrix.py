"""Shared pieces of the fault fidelity matrix: what a fault should do to a real SDK, and the check.

Each catalog fault gets an :class:`Expect` row in the provider's test file. A test injects the
fault in a fresh :class:`chaoskit.Chaos` session, makes one call through the real SDK (sync or
async, streamed or not) and :func:`verify` compares what the SDK really did with the row:
exception class (exact), status, error fields, request id, cause, and the number of attempts
the SDK made (= entries in ``chaos.calls``).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import httpx2

import chaoskit
from chaoskit import Call
from chaoskit._replies import DEFAULT_REPLY as DEFAULT_REPLY  # the simulated reply when a test sets none
from chaoskit.fidelity import Observation, chain_of

#: Small client timeouts so timeout faults end quickly: read 0.3 s, connect 0.2 s.
READ_TIMEOUT = 0.3
CONNECT_TIMEOUT = 0.2
TIMEOUT = httpx2.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
#: The SDKs' default: 2 retries, so a retried fault is seen 3 times.
MAX_RETRIES = 2
#: ``retry_after`` override for retried status faults: keeps the matrix fast without changing the
#: exception class or the attempt count (the SDK sleeps exactly this instead of its backoff).
FAST = {"retry_after": 0.01}
#: Tolerance for timing assertions (scheduling noise on a busy machine).
SLACK = 0.25


class _Real:
    """A row's ``raises`` that is not written down: whatever the installed SDK raises for the same
    failure from a real server on a loopback socket (the fidelity oracle's real side). Used where
    SDK releases differ (anthropic 2.17 wraps mid-stream transport errors, 2.16 did not)."""

    def __repr__(self) -> str:
        return "REAL"


REAL: Any = _Real()


def real_observation(
    fault: str, *, stream: bool, params: Mapping[str, Any], asynchronous: bool = False, api: str | None = None,
) -> Observation:
    """What the SDK did with ``fault`` (with ``params``) played by a real server, for a client with the
    matrix's timeouts and retries; made once per process for each set of arguments."""
    return _real(fault, stream, json.dumps(dict(params), sort_keys=True, default=repr), asynchronous, api)


@functools.cache
def _real(fault: str, stream: bool, params: str, asynchronous: bool, api: str | None) -> Observation:
    from chaoskit import faults, fidelity
    from chaoskit.fidelity._oracle import run_real

    settings = fidelity.Settings(read_timeout=READ_TIMEOUT, connect_timeout=CONNECT_TIMEOUT, max_retries=MAX_RETRIES)
    return run_real(faults.get(fault, **json.loads(params)), stream=stream, asynchronous=asynchronous, settings=settings, api=api)


def _family_neutral(chain: str | None) -> str | None:
    """A chain with httpx2/httpcore2 named as httpx/httpcore: which client family the test picked is
    its choice, not the SDK's behaviour (the real side's client is the SDK's default)."""
    return None if chain is None else re.sub(r"\b(httpx|httpcore)2\b", r"\1", chain)


def real_outcome(fault: str, *, stream: bool, params: Mapping[str, Any]) -> str:
    """``module.Class`` the SDK raises (or ``returned``) for ``fault`` played by a real server."""
    return real_observation(fault, stream=stream, params=params).outcome


@dataclass(frozen=True)
class RealCall:
    """A test's own SDK call made against a real server playing the fault: what it returned or
    raised, and how many model calls the server got (None for a connect that never completes)."""

    value: Any
    error: BaseException | None
    attempts: int | None


def against_real(fault: str, make: Callable[[str], Any], *, reply: Any = None, **params: Any) -> RealCall:
    """``make(base_url)``, the test's own SDK call with the client pointed at ``base_url``, against
    :func:`chaoskit.fidelity.serve` playing ``fault`` (with ``params``) over a loopback socket; the
    SDKs' retry jitter seeded as on the oracle's real side."""
    from chaoskit import faults, fidelity
    from chaoskit.fidelity._oracle import seeded_jitter

    def attempt() -> tuple[Any, BaseException | None]:
        try:
            return make(served.url), None
        except Exception as exc:  # noqa: BLE001 - what it raised is the answer
            return None, exc

    with fidelity.serve(faults.get(fault, **params), reply=reply) as served:
        value, error = seeded_jitter(attempt)
    return RealCall(value, error, served.attempts)


def caught(make: Callable[[], Any]) -> BaseException | None:
    """What ``make()`` raised (None when it returned)."""
    try:
        make()
    except Exception as exc:  # noqa: BLE001 - compared with a real server's by the caller
        return exc
    return None


def same_failure(fault: str, mine: BaseException | None, real: BaseException | RealCall | None) -> None:
    """Assert that chaoskit's fault made the SDK raise what a real server's made it raise: the
    class, and the classes it was raised from (client family folded, see :func:`_family_neutral`)."""
    theirs = real.error if isinstance(real, RealCall) else real
    got = "returned" if mine is None else qualified(type(mine))
    want = "returned" if theirs is None else qualified(type(theirs))
    assert got == want, f"{fault}: chaoskit's fault gives {mine!r}, a real server's {theirs!r}"
    if mine is not None and theirs is not None:
        a, b = _family_neutral(chain_of(mine)), _family_neutral(chain_of(theirs))
        assert a == b, f"{fault}: raised from {a}, a real server's from {b}"


def qualified(cls: type | None) -> str:
    return "returned" if cls is None else f"{cls.__module__.split('._')[0]}.{cls.__name__}"


@dataclass(frozen=True)
class Expect:
    """What the real SDK does when a fault is injected on every attempt.

    ``raises``: the exact exception class (None: the call returns normally). ``attempts``: the
    requests the SDK made (entries in ``chaos.calls``). ``status``: the exception's
    ``status_code``. ``attrs``: other exception attributes and their values (``code``, ``type``).
    ``cause``: the exact class of ``__cause__``. ``stream``: make a streaming call and iterate
    it. ``params``: fault parameter overrides. ``check``: more assertions on the outcome.
    ``min_seconds`` / ``max_seconds``: bounds on the call's wall time. ``reply``: the healthy
    reply the fault works on (a tool call, for faults that change one). With ``raises=REAL`` the
    class, what it was raised from and the attempts are a real server's, not written here.
    """

    raises: type[BaseException] | None = None
    attempts: int = 1
    status: int | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    cause: type[BaseException] | None = None
    stream: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[Outcome], None] | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None
    reply: Any = None
    api: str | None = None  # the SDK API the test calls (None: its default), so REAL asks a real server through the same one


@dataclass
class Outcome:
    """What happened on one SDK call under a fault."""

    fault: str
    value: Any  # what create() returned (the stream object for streams), None if it raised
    items: list[Any]  # the stream's items delivered before it ended or failed
    error: BaseException | None
    elapsed: float
    calls: list[Call]
    asynchronous: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)  # the fault's parameters as injected

    @property
    def durations(self) -> list[float]:
        return [c.duration for c in self.calls]

    @property
    def gaps(self) -> list[float]:
        """Seconds between the starts of consecutive attempts."""
        starts = [c.started for c in self.calls]
        return [b - a for a, b in pairwise(starts)]


def run(fault: str, expect: Expect, call: Callable[[], Any], **inject: Any) -> Outcome:
    """Inject ``fault`` (with ``expect.params``), make ``call()`` and record the outcome."""
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault, **{**expect.params, **inject})
        if expect.reply is not None:
            chaos.reply(fault.split(".", 1)[0], expect.reply)
        value: Any = None
        items: list[Any] = []
        error: BaseException | None = None
        start = time.monotonic()
        try:
            value = call()
            if expect.stream:
                assert isinstance(value, Iterable), f"a streaming call returned {value!r}"
                for item in value:
                    items.append(item)
        except Exception as exc:  # noqa: BLE001 - the outcome is checked by verify()
            error = exc
        elapsed = time.monotonic() - start
        return Outcome(fault, value, items, error, elapsed, list(chaos.calls), params={**expect.params, **inject})


async def arun(fault: str, expect: Expect, call: Callable[[], Awaitable[Any]], **inject: Any) -> Outcome:
    """As :func:`run`, for an async SDK call (run inside ``asyncio.run``)."""
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault, **{**expect.params, **inject})
        if expect.reply is not None:
            chaos.reply(fault.split(".", 1)[0], expect.reply)
        value: Any = None
        items: list[Any] = []
        error: BaseException | None = None
        start = time.monotonic()
        try:
            value = await call()
            if expect.stream:
                assert isinstance(value, AsyncIterable), f"a streaming call returned {value!r}"
                async for item in value:
                    items.append(item)
        except Exception as exc:  # noqa: BLE001
            error = exc
        elapsed = time.monotonic() - start
        return Outcome(fault, value, items, error, elapsed, list(chaos.calls), asynchronous=True, params={**expect.params, **inject})


def request_id(call: Call) -> str:
    """The request id chaoskit sends on the response to ``call``."""
    return f"req_chaoskit{call.index:05d}"


def verify(outcome: Outcome, expect: Expect, *, status_error: type[BaseException], request_id_header: str) -> None:
    """Assert that the SDK's real behaviour under the fault matches ``expect``.

    ``status_error``: the SDK's ``APIStatusError``; for those, ``request_id`` must be the id
    chaoskit sent on the last attempt.
    """
    error = outcome.error
    attempts: int | None = expect.attempts
    if expect.raises is REAL:
        stream = expect.stream or chaoskit.faults.get(outcome.fault).effect.startswith("stream.")
        real = real_observation(outcome.fault, stream=stream, params=outcome.params, asynchronous=outcome.asynchronous, api=expect.api)
        got = "returned" if error is None else qualified(type(error))
        assert got == real.outcome, f"{outcome.fault}: {error!r}, a real server gives {real.outcome}"
        if error is not None:
            mine, theirs = _family_neutral(chain_of(error)), _family_neutral(real.cause)
            assert mine == theirs, f"{outcome.fault}: raised from {mine}, a real server's from {theirs}"
        attempts = real.attempts  # None where a real server cannot count them (a connect that never completes)
    elif expect.raises is None:
        if error is not None:
            raise AssertionError(f"{outcome.fault}: expected no exception, got {error!r}") from error
    else:
        assert error is not None, f"{outcome.fault}: expected {expect.raises.__name__}, the call returned {outcome.value!r}"
        assert type(error) is expect.raises, (
            f"{outcome.fault}: expected exactly {expect.raises.__module__}.{expect.raises.__name__}, "
            f"got {type(error).__module__}.{type(error).__name__}: {error}"
        )
        if expect.cause is not None:
            assert type(error.__cause__) is expect.cause, f"{outcome.fault}: cause {error.__cause__!r}"
    if error is not None:  # what chaoskit sent: the status, the error's fields, the request id
        if expect.status is not None:
            assert error.status_code == expect.status  # type: ignore[attr-defined]
        for name, want in expect.attrs.items():
            got = getattr(error, name)
            assert got == want, f"{outcome.fault}: {name} is {got!r}, expected {want!r}"
        if isinstance(error, status_error):
            want_id = request_id(outcome.calls[-1])
            assert error.request_id == want_id  # type: ignore[attr-defined]
            assert error.response.headers[request_id_header] == want_id  # type: ignore[attr-defined]

    if attempts is not None:
        assert len(outcome.calls) == attempts, f"{outcome.fault}: {len(outcome.calls)} attempts, expected {attempts}"
    assert all(c.fault == outcome.fault for c in outcome.calls), [c.fault for c in outcome.calls]
    # The attempts are the SDK's own retries: it numbers them itself.
    retry_counts = [c.request_headers.get("x-stainless-retry-count") for c in outcome.calls]
    assert retry_counts == [str(i) for i in range(len(outcome.calls))]
    if expect.min_seconds is not None:
        assert outcome.elapsed >= expect.min_seconds, f"{outcome.fault}: took {outcome.elapsed:.3f} s"
    if expect.max_seconds is not None:
        assert outcome.elapsed <= expect.max_seconds, f"{outcome.fault}: took {outcome.elapsed:.3f} s"
    if expect.check is not None:
        expect.check(outcome)


def durations_about(seconds: float) -> Callable[[Outcome], None]:
    """A check: every attempt lasted about ``seconds`` (a timeout as the client sees it)."""

    def check(outcome: Outcome) -> None:
        for d in outcome.durations:
            assert seconds - 0.02 <= d <= seconds + SLACK, f"{outcome.fault}: attempt durations {outcome.durations}"

    return check


"""Assertions on a chaos session: did the app fall back, hand off, and answer gracefully?

Each failure message shows the part of the journal that matters, so a red test says what
the app did, not only what it did not do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ._errors import ChaosConfigError

if TYPE_CHECKING:
    from ._journal import Call
    from ._session import Chaos
    from ._watch import Watch

__all__ = [
    "assert_fallback", "assert_graceful", "assert_handoff", "assert_no_pii_sent", "deadline", "error_fragments", "graceful_problem",
    "pii_in",
]

_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \"[^\"]+\", line \d+", re.M)
_EXCEPTION_NAME = re.compile(r"\b(?:[A-Z][A-Za-z0-9]*(?:Error|Exception|Timeout)|JSONDecodeError|KeyError|StopIteration)\b")
_MODULE_PATH = re.compile(r"\b(?:openai|anthropic|httpx2?|httpcore2?|json)\.(?:_?[a-z_]+\.)*_?[A-Z]\w+")
_INTERNAL = re.compile(r"chaoskit|\breq_[A-Za-z0-9]{8,}|\[DONE\]|^\s*(?:data|event):", re.I | re.M)
_PROVIDER_TOKENS = re.compile(
    r"\b(?:rate_limit_exceeded|insufficient_quota|context_length_exceeded|invalid_request_error|"
    r"overloaded_error|rate_limit_error|api_error|server_error|authentication_error|"
    r"not_found_error|billing_error|content_policy_violation|invalid_api_key|model_not_found)\b"
    r"|\{\s*\"(?:error|type)\"\s*:"
)


def visible(text: str) -> str:
    """``text`` without whitespace and format (zero-width, bidi, BOM) characters.

    ``visible(x) == ""`` is what "blank" means for a message a user could send or see:
    ``visible("\\u200b\\u3000 ") == ""`` while ``"\\u200b".strip() == "\\u200b"``.
    Re-exported as ``chaoskit.inputs.visible``.
    """
    import unicodedata

    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")


def _fail(message: str, session: Chaos, calls: list[Call] | None = None) -> None:
    raise AssertionError(f"{message}\njournal (seed={session.seed}):\n{session.calls.format(calls)}")


def _failed(call: Call) -> bool:
    return call.fault is not None or call.error is not None or (call.status or 0) >= 400 or not call.complete


def _succeeded(call: Call) -> bool:
    return call.fault is None and call.error is None and call.status is not None and call.status < 400 and call.complete


def assert_fallback(session: Chaos, from_: str, to: str) -> None:
    """``from_`` failed under an injected fault, and ``to`` then answered successfully."""
    calls = list(session.calls)
    first_failure = next((c for c in calls if c.provider == from_ and c.fault is not None and _failed(c)), None)
    if first_failure is None:
        tried = [c for c in calls if c.provider == from_]
        why = "was never called" if not tried else "never failed under an injected fault"
        _fail(f"assert_fallback: no fallback from {from_!r} to {to!r}: {from_!r} {why}", session)
        return
    later = [c for c in calls if c.index > first_failure.index and c.provider == to]
    if not later:
        _fail(
            f"assert_fallback: {from_!r} failed (call #{first_failure.index}, {first_failure.fault}) "
            f"but {to!r} was never called after it",
            session,
        )
    if not any(_succeeded(c) for c in later):
        _fail(
            f"assert_fallback: {to!r} was called after {from_!r} failed but never answered successfully",
            session,
        )


def resolve_watch(session: Chaos, watch: Watch | str | None) -> Watch:
    """The watch meant: the object, the one watching that path, or the only watch."""
    from ._watch import Watch

    if isinstance(watch, Watch):
        return watch
    if isinstance(watch, str):
        for w in session.watches:
            if w.path == watch:
                return w
        raise ChaosConfigError(f"assert_handoff({watch!r}): nothing watches {watch!r}; call chaos.watch({watch!r}) first")
    if len(session.watches) == 1:
        return session.watches[0]
    handoffs = [w for w in session.watches if w.handoff]
    if len(handoffs) == 1:
        return handoffs[0]
    raise ChaosConfigError(
        "assert_handoff(): say which watch to check; "
        + ("no seam is watched: call chaos.watch('pkg.module:function') first" if not session.watches
           else f"watched: {', '.join(w.path for w in session.watches)}")
    )


def assert_handoff(session: Chaos, watch: Watch | str | None = None, *, times: int | None = None) -> Watch:
    """The watched handoff seam was called (exactly ``times`` times, if given)."""
    w = resolve_watch(session, watch)
    if not w.called or (times is not None and w.call_count != times):
        expected = "at least once" if times is None else f"{times} time(s)"
        _fail(f"assert_handoff: {w.path} was called {w.call_count} time(s), expected {expected}", session)
    return w


def _excerpt(text: str, start: int, end: int) -> str:
    left, right = max(0, start - 30), min(len(text), end + 30)
    return ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")


def error_fragments(calls: Iterable[Call]) -> Iterator[str]:
    """Raw provider error text the app received: messages and bodies of error responses."""
    for call in calls:
        if not call.response_body:
            continue
        yield call.response_body.strip()
        try:
            body = json.loads(call.response_body)
        except ValueError:
            title = re.search(r"<title>(.*?)</title>", call.response_body, re.I | re.S)
            if title:
                yield title.group(1).strip()
            continue
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            yield error["message"].strip()


def assert_graceful(session: Chaos, text: object) -> None:
    """``text`` is fit to show a user, judged by :func:`graceful_problem` with this session's provider
    errors, planted canaries and API keys."""
    if isinstance(text, str):
        session.user_texts.append(text)
    problem = graceful_problem(text, error_fragments=error_fragments(session.calls), canaries=session.canaries,
                               secrets=session.secrets)
    if problem is not None:
        _fail(f"assert_graceful: {problem}", session)


def graceful_problem(
    text: object, *, error_fragments: Iterable[str] = (), canaries: Iterable[str] = (), secrets: Iterable[str] = ()
) -> str | None:
    """Why ``text`` is not fit to show a user, or None when it is.

    Unfit: not text; blank or zero-width-only text; a traceback; an exception class name; a
    library path; a raw provider error code; chaoskit's own markers (``req_chaoskit…`` ids, SSE
    lines, ``[DONE]``); and, when given, a provider error message the app received
    (``error_fragments``), a planted canary or an API key the app sent.
    """
    if not isinstance(text, str):
        return f"the user would see {type(text).__name__} {text!r}, not text"
    if not visible(text):
        return f"the text is blank: {text!r}"
    for fragment in error_fragments:  # the most specific finding first
        needle = fragment if len(fragment) <= 60 else fragment[:60]
        if len(needle) >= 12 and needle in text:
            at = text.index(needle)
            return f"the text repeats a provider error message: {_excerpt(text, at, at + len(needle))!r}"
    checks = (
        (_TRACEBACK, "a traceback"),
        (_EXCEPTION_NAME, "an exception name"),
        (_MODULE_PATH, "a library path"),
        (_PROVIDER_TOKENS, "a raw provider error code"),
        (_INTERNAL, "an internal marker"),
    )
    for pattern, what in checks:
        m = pattern.search(text)
        if m:
            return f"the text shows {what} {m.group()!r}: {_excerpt(text, m.start(), m.end())!r}"
    for canary in canaries:
        if canary in text:
            return f"the text reveals the planted canary {canary!r}"
    if any(secret in text for secret in secrets):
        return "the text contains an API key the app sent to a provider"
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def assert_no_pii_sent(session: Chaos, *, ignore: Iterable[str] = ()) -> None:
    """No personal data (emails, phones, cards, IBANs, national ids) in any provider request.

    ``ignore``: values that may be sent (the company's own support address, say).
    """
    allowed = set(ignore)
    session.pii_allowed.update(allowed)
    found = pii_in([c for c in session.calls if c.provider is not None], allowed)
    if found:
        lines = [f"  call #{c.index} to {c.provider}: {m.kind} {m.masked}" for c, m in found[:20]]
        more = f"\n  ... and {len(found) - 20} more" if len(found) > 20 else ""
        _fail("assert_no_pii_sent: personal data went to a provider:\n" + "\n".join(lines) + more, session,
              [c for c, _ in found[:20]])


def pii_in(calls: Iterable[Call], allowed: Iterable[str] = ()) -> list[tuple[Call, Any]]:
    """(call, match) for each piece of personal data in the calls' request bodies, ``allowed`` values aside."""
    from ._pii import find_pii

    allowed = set(allowed)
    seen: dict[str, list[Any]] = {}  # a conversation is sent again with every request: each text is read once
    found: list[tuple[Call, Any]] = []
    for call in calls:
        for s in _strings(call.request_body):
            if s not in seen:
                seen[s] = [m for m in find_pii(s) if m.value not in allowed]
            found.extend((call, m) for m in seen[s])
    return found


@contextmanager
def deadline(session: Chaos, seconds: float) -> Iterator[None]:
    """Fail when the block takes longer than ``seconds`` on the session's clock."""
    if seconds <= 0:
        raise ChaosConfigError(f"deadline(seconds={seconds!r}) must be more than 0")
    start = session.clock.now()
    yield
    took = session.clock.now() - start
    if took > seconds:
        _fail(f"deadline: the block took {took:.2f} s, more than its {seconds:g} s deadline", session)

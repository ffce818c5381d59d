"""Verdicts on client behaviour, read from a session's journal after the test ran.

A verdict names a habit that hurts in production even when the test passed: retrying
sooner than the provider asked, retrying without end, retrying what cannot succeed,
waiting without a timeout, showing a cut answer, repeating a side effect, ignoring a
fallback. Each rule is precise: an app on the SDKs' defaults meets none of them, except
the two documented in ``VERDICTS`` (the openai SDK retries ``insufficient_quota``; the
SDKs' default read timeout is 600 s).

The model: the journal's calls are grouped into *requests*. Calls with one ``request_key``
(same method, URL and body) form one request's attempts as long as each attempt failed
and ended before the next one started; a success closes the request, so the same
question asked again later is a new request. An SDK retry (``retry_count`` n > 0)
continues only an attempt whose ``retry_count`` was n - 1.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

from . import faults as _faults
from ._errors import ChaosError
from ._journal import Call
from ._watch import Watch, WatchedCall

__all__ = ["VERDICTS", "Verdict", "VerdictConfig", "judge"]

VERDICTS: Mapping[str, str] = MappingProxyType(
    {
        "retry_after_ignored": "a retry started sooner than the failed response's retry-after asked",
        "retry_storm": "one request was attempted more than max_attempts times",
        "no_backoff": "a failed request was retried at once, without waiting min_backoff",
        "retried_non_retryable": (
            "a request was retried after an error retrying cannot fix (400/401/403/404/422, "
            "quota, context length); reported for the openai SDK's default retries of "
            "429 insufficient_quota too"
        ),
        "no_timeout": (
            "a call met a stalled or slow provider with no read timeout, or one above max_wait "
            "(the SDKs' default of 600 s is reported)"
        ),
        "truncated_stream_accepted": "the app showed the partial text of a stream that broke mid-way",
        "duplicate_side_effect": "a non-idempotent side effect ran twice with the same arguments across a fault",
        "fallback_not_used": "replies were set for a fallback provider that no call reached while a request failed",
        "hallucination_shown": (
            "a value a model.hallucination fault planted reached the user (chaos.shown, assert_graceful) or a "
            "later request: a tool or API call, a watched function, or a model call's own prompt"
        ),
        "refusal_shown": (
            "a model's refusal (model.refusal) reached the user as if it were the answer, or a watched "
            "seam took it as a result"
        ),
        "unbounded_loop": (
            "the app made more than max_model_calls model requests to answer one user message (a tool "
            "loop it did not bound, as model.tool_loop provokes); reported with the tokens they used"
        ),
        "ungraceful_shown": (
            "the app showed the user text unfit for them (assert_graceful's checks on every text given to "
            "chaos.shown): blank, a traceback, an exception name, a provider's error message, a planted canary, a key"
        ),
        "pii_sent": "personal data (an email, phone, card, IBAN, national id) went to a model provider in a request",
        "handoff_missed": (
            "every provider failed a user message and the handoff seam (chaos.watch(..., handoff=True)) was not "
            "called for it"
        ),
    }
)

# Effects under which the client waits on the provider: its read timeout is what ends the wait.
_STALL_EFFECTS = ("timeout.read", "stream.stall")
# Effects that spoil a 200 so the client cannot use it (the SDK raises, or the text is missing).
# A content filter, a bad tool call or a length stop are model output the app handles itself.
_SPOILED_200_EFFECTS = frozenset(
    {
        "malformed.truncated_json", "malformed.html", "malformed.missing_field", "malformed.null_content",
        "stream.error_event", "stream.invalid_event",
    }
)
# Statuses no retry can fix: the request itself, the key or the account is wrong.
_NON_RETRYABLE_STATUS = frozenset({400, 401, 402, 403, 404, 422})
_EPSILON = 1e-6  # seconds; float noise between ``started`` and ``started + duration``


@dataclass(frozen=True)
class Verdict:
    """One finding on client behaviour: which rule, what happened, how to fix it, which calls."""

    name: str
    message: str
    hint: str
    calls: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for reports."""
        data = asdict(self)
        data["calls"] = list(self.calls)
        return data


@dataclass(frozen=True)
class VerdictConfig:
    """Thresholds of the verdicts; the defaults pass the openai and anthropic SDKs' own retries."""

    max_attempts: int = 4  # retry_storm: more attempts than this for one request
    min_backoff: float = 0.05  # no_backoff: a retry sooner than this after a failure
    retry_after_slack: float = 0.05  # retry_after_ignored: tolerance (seconds) below the asked wait
    max_wait: float = 60.0  # no_timeout: a read timeout above this (or none) under a stall
    max_model_calls: int = 10  # unbounded_loop: more model requests than this for one user message

    def __post_init__(self) -> None:
        for name in ("max_attempts", "max_model_calls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a whole number, at least 1")
        for name in ("min_backoff", "retry_after_slack", "max_wait"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name}={value!r} must be a number of seconds, 0 or more")


def judge(
    calls: Sequence[Call],
    *,
    user_texts: Sequence[str] = (),
    watches: Sequence[Watch] = (),
    replies_configured: Iterable[str] = (),
    config: VerdictConfig = VerdictConfig(),  # noqa: B008 - frozen, so sharing it is safe
    canaries: Iterable[str] = (),
    secrets: Iterable[str] = (),
    pii_allowed: Iterable[str] = (),
) -> list[Verdict]:
    """The verdicts on a session's journal, ordered as ``VERDICTS`` then by first call.

    ``user_texts``: what the app showed its user; ``canaries`` and ``secrets``: values that must
    never be shown; ``pii_allowed``: values that may be sent (the shop's own address).
    """
    ordered = sorted(calls, key=lambda c: c.index)
    requests = _requests(ordered)
    found: list[Verdict] = [
        *_retry_after_ignored(requests, config),
        *_retry_storm(requests, config),
        *_no_backoff(requests, config),
        *_retried_non_retryable(requests),
        *_no_timeout(ordered, config),
        *_truncated_stream_accepted(ordered, [str(t) for t in user_texts]),
        *_duplicate_side_effect(ordered, watches),
        *_fallback_not_used(ordered, requests, set(replies_configured)),
        *_hallucination_shown(ordered, [str(t) for t in user_texts], watches),
        *_refusal_shown(ordered, [str(t) for t in user_texts], watches),
        *_unbounded_loop(requests, config),
        *_ungraceful_shown(ordered, [str(t) for t in user_texts], canaries, secrets),
        *_pii_sent(ordered, pii_allowed),
        *_handoff_missed(requests, watches),
    ]
    rank = {name: i for i, name in enumerate(VERDICTS)}
    return sorted(found, key=lambda v: (rank[v.name], v.calls[:1]))


# ---- the journal, read ------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _effect(fault_id: str | None) -> str | None:
    """The catalog effect of a fault id; None for no fault or an id the catalog lacks."""
    if fault_id is None:
        return None
    try:
        return _faults.get(fault_id).effect
    except ChaosError:
        return None


def _end(call: Call) -> float:
    return call.started + call.duration


def _errored(call: Call) -> bool:
    """The call ended in an error the client saw: an error status, or no response at all."""
    return call.error is not None or call.status is None or call.status >= 400


def _failed(call: Call) -> bool:
    """The call gave the client nothing usable: an error, a broken stream or a spoiled 200."""
    return _errored(call) or not call.complete or _effect(call.fault) in _SPOILED_200_EFFECTS


def _succeeded(call: Call) -> bool:
    return call.provider is not None and not _failed(call)


def _requests(calls: Sequence[Call]) -> list[list[Call]]:
    """The journal's calls as requests, each the list of its attempts (see the module docstring)."""
    requests: list[list[Call]] = []
    waiting: dict[str, list[list[Call]]] = {}  # key -> requests whose last attempt failed
    for call in calls:
        if call.provider is None or not call.request_key:
            continue  # blocked or unrouted: not a provider request
        pending = waiting.setdefault(call.request_key, [])
        request = _continued(pending, call)
        if request is None:
            request = [call]
            requests.append(request)
        else:
            pending[:] = [r for r in pending if r is not request]
            request.append(call)
        if _failed(call):
            pending.append(request)
    return requests


def _continued(pending: list[list[Call]], call: Call) -> list[Call] | None:
    """The waiting request ``call`` retries: the one whose failed attempt ended first."""
    fits = [
        r for r in pending
        if _end(r[-1]) <= call.started + _EPSILON
        and (not call.retry_count or r[-1].retry_count is None or r[-1].retry_count == call.retry_count - 1)
    ]
    return min(fits, key=lambda r: _end(r[-1]), default=None)


def _retries(request: list[Call]) -> Iterator[tuple[Call, Call]]:
    """(failed attempt, the attempt after it) for every retry in one request."""
    yield from zip(request, request[1:], strict=False)


def _gap(before: Call, after: Call) -> float:
    """Seconds between the end of one attempt and the start of the next."""
    return max(0.0, after.started - _end(before))


def _ids(indexes: Iterable[int]) -> str:
    """``#0-#7`` for a run of consecutive indexes, else ``#0, #3``."""
    items = sorted(set(indexes))
    if len(items) > 2 and items == list(range(items[0], items[-1] + 1)):
        return f"#{items[0]}-#{items[-1]}"
    return ", ".join(f"#{i}" for i in items)


def _what(call: Call) -> str:
    """How an attempt failed, for messages: ``429 (openai.rate_limit)``, ``ReadTimeout``."""
    how = call.error or (str(call.status) if call.status is not None else "no response")
    return f"{how} ({call.fault})" if call.fault else how


def _more(count: int) -> str:
    return f" (and {count} more)" if count else ""


# ---- one function per verdict -----------------------------------------------------------------


def _retry_after_ignored(requests: Sequence[list[Call]], config: VerdictConfig) -> Iterator[Verdict]:
    """A retry sooner than ``retry_after - slack`` after the response that asked for the wait."""
    for request in requests:
        early = [
            (before, after) for before, after in _retries(request)
            if before.retry_after is not None and before.retry_after > 0
            and _gap(before, after) < before.retry_after - config.retry_after_slack
        ]
        if not early:
            continue
        before, after = early[0]
        yield Verdict(
            "retry_after_ignored",
            f"call #{after.index} retried {_gap(before, after):.2f} s after call #{before.index} ended; "
            f"the {before.status} on call #{before.index} asked for {before.retry_after:.2f} s{_more(len(early) - 1)}",
            "honour Retry-After (the openai/anthropic SDKs do by default: don't wrap them in a retry "
            "loop of your own; leave max_retries at its default)",
            tuple(sorted({c.index for pair in early for c in pair})),
        )


def _retry_storm(requests: Sequence[list[Call]], config: VerdictConfig) -> Iterator[Verdict]:
    """More than ``max_attempts`` attempts of one request."""
    for request in requests:
        if len(request) <= config.max_attempts:
            continue
        first = request[0]
        sdk_retries = max((c.retry_count or 0) for c in request)
        hint = (
            f"lower the client's max_retries (the SDK made {sdk_retries + 1} attempts per call; "
            "the default, 2, makes 3)"
            if sdk_retries >= config.max_attempts
            else "cap your own retry loop, or drop it and let the SDK retry (max_retries=2: 3 attempts, "
            "with backoff); then fall back or tell the user"
        )
        yield Verdict(
            "retry_storm",
            f"{len(request)} attempts of one request ({first.method} {first.url}), calls {_ids(c.index for c in request)}; "
            f"max_attempts={config.max_attempts}",
            hint,
            tuple(c.index for c in request),
        )


def _no_backoff(requests: Sequence[list[Call]], config: VerdictConfig) -> Iterator[Verdict]:
    """A retry sooner than ``min_backoff`` after an error, unless the error asked for less."""
    for request in requests:
        quick = [
            (before, after) for before, after in _retries(request)
            if _errored(before)
            and _gap(before, after) < config.min_backoff
            and not (before.retry_after is not None and before.retry_after <= config.min_backoff)
        ]
        if not quick:
            continue
        before, after = quick[0]
        yield Verdict(
            "no_backoff",
            f"call #{after.index} retried {_gap(before, after):.3f} s after call #{before.index} failed with "
            f"{_what(before)}; min_backoff={config.min_backoff:g} s{_more(len(quick) - 1)}",
            "wait before retrying, longer each time (exponential backoff with jitter: the SDKs "
            "do it by default, from 0.5 s)",
            tuple(sorted({c.index for pair in quick for c in pair})),
        )


def _non_retryable(call: Call) -> str | None:
    """What makes retrying ``call``'s failure futile (``the 401 (openai.auth)``), or None."""
    fault = call.fault or ""
    if fault.endswith("insufficient_quota"):
        return f"the quota error {_what(call)}"
    if fault.endswith("context_length"):
        return f"the context-length error {_what(call)}"
    if call.error is None and call.status in _NON_RETRYABLE_STATUS:
        return f"the {_what(call)}"
    return None


def _retried_non_retryable(requests: Sequence[list[Call]]) -> Iterator[Verdict]:
    """A retry after 400/401/402/403/404/422 or a quota or context-length error."""
    for request in requests:
        futile = [(b, a, why) for b, a in _retries(request) if (why := _non_retryable(b))]
        if not futile:
            continue
        before, after, why = futile[0]
        quota = before.fault == "openai.insufficient_quota"
        hint = (
            "an empty account does not refill on retry, and the openai SDK retries 429 "
            "insufficient_quota by default: set max_retries=0 for that client, or catch "
            "openai.RateLimitError with code 'insufficient_quota' and fall back or tell the user"
            if quota
            else "don't retry client errors (400/401/402/403/404/422) or quota/context-length "
            "errors: fix the request (shorter context, right model or key), fall back, or tell the user"
        )
        yield Verdict(
            "retried_non_retryable",
            f"call #{after.index} retried the request after {why} on call #{before.index}, "
            f"which no retry can fix{_more(len(futile) - 1)}",
            hint,
            tuple(sorted({c.index for b, a, _ in futile for c in (b, a)})),
        )


def _is_stall(call: Call) -> bool:
    effect = _effect(call.fault) or ""
    return effect in _STALL_EFFECTS or effect.startswith("latency.")


def _no_timeout(calls: Sequence[Call], config: VerdictConfig) -> Iterator[Verdict]:
    """A stalled or slow call whose client read timeout is None or above ``max_wait``."""
    bad = [
        c for c in calls
        if _is_stall(c) and (c.read_timeout is None or c.read_timeout > config.max_wait)
    ]
    if not bad:
        return
    first = bad[0]
    timeout = "none" if first.read_timeout is None else f"{first.read_timeout:g} s"
    yield Verdict(
        "no_timeout",
        f"call #{first.index} met {first.fault} with a read timeout of {timeout} (max_wait={config.max_wait:g} s): "
        f"a stalled provider keeps the user waiting that long{_more(len(bad) - 1)}",
        "give the client a read timeout the user can wait out, e.g. "
        "openai.OpenAI(timeout=httpx.Timeout(30, connect=5)) (the SDKs' default is 600 s), "
        "then retry or fall back",
        tuple(c.index for c in bad),
    )


def _truncated_stream_accepted(calls: Sequence[Call], user_texts: Sequence[str]) -> Iterator[Verdict]:
    """A cut stream's partial text shown to the user with no complete answer after it."""
    for cut in calls:
        partial = (cut.text or "").strip()
        if cut.complete or cut.provider is None or len(partial) < 3:
            continue
        earlier = [c.text.strip() for c in calls if c.index < cut.index and _succeeded(c) and c.text and c.text.strip()]
        later = [c.text.strip() for c in calls if c.index > cut.index and _succeeded(c) and c.text and c.text.strip()]
        for n, shown in enumerate(user_texts):
            if partial not in _without(shown, earlier) or any(text in shown for text in later):
                continue
            yield Verdict(
                "truncated_stream_accepted",
                f"call #{cut.index}'s stream broke after {_clip(partial)} ({cut.fault or 'no fault'}) and "
                f"the app showed that partial text (user text #{n}) with no complete answer after it",
                "check that a stream finished (a finish_reason / stop_reason, message_stop) before "
                "using its text; on a cut, retry or fall back instead of showing the fragment",
                (cut.index,),
            )
            break


def _without(text: str, parts: Iterable[str]) -> str:
    """``text`` with every occurrence of ``parts`` masked, so they are not searched."""
    for part in sorted(parts, key=len, reverse=True):
        text = text.replace(part, "\0")
    return text


def _clip(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _same_args(a: WatchedCall, b: WatchedCall) -> bool:
    try:
        return bool(a.args == b.args and a.kwargs == b.kwargs)
    except Exception:  # an argument whose == raises or is ambiguous (arrays)
        return False


def _duplicate_side_effect(calls: Sequence[Call], watches: Sequence[Watch]) -> Iterator[Verdict]:
    """A non-idempotent watch called again with the same arguments after a faulted call."""
    for watch in watches:
        if watch.idempotent:
            continue
        for j, again in enumerate(watch.calls):
            first = next((w for w in reversed(watch.calls[:j]) if _same_args(w, again)), None)
            if first is None:
                continue
            faulted = [c for c in calls if c.fault is not None and first.started <= c.started <= again.started]
            if not faulted:
                continue
            yield Verdict(
                "duplicate_side_effect",
                f"{watch.path} ran again with the same arguments at {again.started:.2f} s (first at "
                f"{first.started:.2f} s) after {', '.join(sorted({c.fault or '' for c in faulted}))} "
                f"on call(s) {_ids(c.index for c in faulted)}",
                "make the side effect idempotent (an idempotency key per user request) or keep its "
                "result and retry only the step that failed",
                tuple(c.index for c in faulted),
            )


def _fallback_not_used(
    calls: Sequence[Call], requests: Sequence[list[Call]], configured: set[str]
) -> Iterator[Verdict]:
    """A provider with replies set that no call reached, while an injected fault failed a request."""
    reached = {c.provider for c in calls}
    unused = sorted(configured - reached)
    if not unused:
        return
    failed = [r for r in requests if _lost(r, calls)]
    if not failed:
        return
    shown = [c for r in failed for c in r if c.fault is not None]
    names = ", ".join(sorted({c.fault or "" for c in shown}))
    for provider in unused:
        yield Verdict(
            "fallback_not_used",
            f"replies were set for {provider} but no call reached it, while {names} failed "
            f"call(s) {_ids(c.index for c in shown)} and the request was not recovered",
            f"when the primary provider fails for good (after the SDK's retries), call {provider} "
            "(catch openai.APIError / anthropic.APIError around the primary call)",
            tuple(c.index for c in shown),
        )


def _lost(request: list[Call], calls: Sequence[Call]) -> bool:
    """The request's last attempt failed by an injected fault and its provider never answered after."""
    last = request[-1]
    if last.fault is None or not _failed(last):
        return False
    return not any(
        c.provider == last.provider and c.index > last.index and _succeeded(c) for c in calls
    )


# ---- planted values -------------------------------------------------------------------------------

#: Journal providers that are not model calls: what the app sends there, it acts on.
_ACTIONS = ("http", "tool", "mcp")
#: What a later model call echoes of the model's own turns and of tool results: not searched, since
#: sending the conversation back is not acting on a value (the tool that got it is watched instead).
_ECHO_ROLES = frozenset({"assistant", "model", "tool", "function"})
_ECHO_TYPES = frozenset({"tool_use", "tool_result", "function_call", "function_call_output"})
_ECHO_KEYS = ("functionCall", "functionResponse", "toolUse", "toolResult")  # Gemini parts; Bedrock Converse blocks


def _asked(value: Any) -> Any:
    """A model request's body without the model's own turns and the tool results: what the app wrote."""
    if isinstance(value, Mapping):
        if value.get("role") in _ECHO_ROLES or value.get("type") in _ECHO_TYPES or any(k in value for k in _ECHO_KEYS):
            return None
        return {k: _asked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_asked(v) for v in value]
    return value


def _plants(call: Call) -> list[tuple[str, str, str]]:
    """(planted, original, where) of each value planted in ``call`` (journal entries or their dicts)."""
    out = []
    for p in call.planted or ():
        get = p.get if isinstance(p, Mapping) else lambda name, p=p: getattr(p, name)
        out.append((str(get("planted")), str(get("original")), str(get("where"))))
    return out


def _dumped(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)


def _where_shown(planted: str, call: Call, calls: Sequence[Call], user_texts: Sequence[str],
                 watches: Sequence[Watch]) -> tuple[str, tuple[int, ...]] | None:
    """Where a planted value showed first: (how to say it, the later call it is in, if one)."""
    from ._plant import shows

    for n, text in enumerate(user_texts):
        if shows(planted, text):
            return f"the app showed it to the user (user text #{n})", ()
    for later in calls:
        if later.index <= call.index or later.provider is None:
            continue
        sent = [later.url, _dumped(later.request_body)] if later.provider in _ACTIONS else [_dumped(_asked(later.request_body))]
        if any(shows(planted, text) for text in sent):
            what = f"a {later.provider} call" if later.provider in _ACTIONS else "a later model call's prompt"
            return f"{what} sent it on (call #{later.index}, {later.method} {later.url})", (later.index,)
    for watch in watches:
        for seen in watch.calls:
            if seen.started + _EPSILON >= call.started and shows(planted, _dumped([list(seen.args), seen.kwargs])):
                return f"the app passed it to {watch.path} (at {seen.started:.2f} s)", ()
    return None


def _hallucination_shown(calls: Sequence[Call], user_texts: Sequence[str], watches: Sequence[Watch]) -> Iterator[Verdict]:
    """A planted value in a text shown to the user, a later request, or a watched call's arguments."""
    for call in calls:
        for planted, original, where in _plants(call):
            found = _where_shown(planted, call, calls, user_texts, watches)
            if found is None:
                continue
            place, later = found
            yield Verdict(
                "hallucination_shown",
                f"call #{call.index} ({call.fault}) planted {planted!r} in place of {original!r} (in {where}) "
                f"and {place}",
                "check the values a model states (order ids, amounts, dates, links) against their source (the "
                "tool's result, your database) before showing or acting on them; refuse or hand off when they differ",
                (call.index, *later),
            )


#: How a ``model.refusal`` call's journal detail starts; the refusal text follows.
REFUSED = "refused: "


def _refusal_shown(calls: Sequence[Call], user_texts: Sequence[str], watches: Sequence[Watch]) -> Iterator[Verdict]:
    """A refusal's text in what the user was shown, or in the arguments of a watched call."""
    for call in calls:
        detail = call.detail or ""
        if call.effect != "model.refusal" or not detail.startswith(REFUSED):
            continue
        refusal = detail[len(REFUSED):].strip()
        if len(refusal) < 3:
            continue
        shown = next((n for n, text in enumerate(user_texts) if refusal in text), None)
        taken = next((w.path for w in watches for c in w.calls if c.started >= call.started
                      and _mentions((c.args, c.kwargs), refusal)), None)
        if shown is None and taken is None:
            continue
        how = (f"the app showed it to the user (user text #{shown})" if shown is not None
               else f"the app passed it to {taken} as a result")
        yield Verdict(
            "refusal_shown",
            f"call #{call.index}'s model refused ({_clip(refusal)}, {call.fault}) and {how}",
            "check for a refusal before using an answer (OpenAI: message.refusal, parsed None; Anthropic: "
            "stop_reason 'refusal'; Gemini: finish_reason SAFETY) and fall back to another provider or hand "
            "off to a person; never show the refusal as the answer or use it as a structured result",
            (call.index,),
        )


def _mentions(value: Any, text: str, depth: int = 0) -> bool:
    """Whether ``text`` is in a string anywhere in ``value`` (containers and objects' fields walked)."""
    if depth > 6:
        return False
    if isinstance(value, str):
        return text in value
    if isinstance(value, Mapping):
        return any(_mentions(v, text, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_mentions(v, text, depth + 1) for v in value)
    fields = getattr(value, "__dict__", None)
    return isinstance(fields, dict) and any(_mentions(v, text, depth + 1) for v in fields.values())


# ---- tool loops -----------------------------------------------------------------------------------


def _turn(call: Call) -> tuple[str, int] | None:
    """(turn key, step) of a model call (a journal entry or its dict), or None."""
    turn = call.turn
    if turn is None:
        return None
    if isinstance(turn, Mapping):
        return str(turn.get("key")), int(turn.get("step") or 0)
    return turn.key, turn.step


def _turns(requests: Sequence[list[Call]]) -> list[list[list[Call]]]:
    """The model requests grouped by the user message they answer: a request at step 0 starts a
    turn, a later step joins the last turn with the same key (the same question asked afresh is a
    new turn; an SDK's retries are one request)."""
    turns: list[list[list[Call]]] = []
    latest: dict[str, list[list[Call]]] = {}
    for request in sorted(requests, key=lambda r: r[0].index):
        found = _turn(request[0])
        if found is None or request[0].provider in _ACTIONS:
            continue
        key, step = found
        if step == 0 or key not in latest:
            latest[key] = []
            turns.append(latest[key])
        latest[key].append(request)
    return turns


def _tokens(calls: Iterable[Call]) -> str:
    """What the calls' responses reported using: ``12,400 input + 900 output tokens`` (or that they did not say)."""
    used = [c.usage for c in calls if c.usage is not None]
    if not used:
        return "token use not reported"
    ins = sum(u.input_tokens or 0 for u in used)
    outs = sum(u.output_tokens or 0 for u in used)
    return f"{ins:,} input + {outs:,} output tokens"


def _unbounded_loop(requests: Sequence[list[Call]], config: VerdictConfig) -> Iterator[Verdict]:
    """One user message answered with more than ``max_model_calls`` model requests."""
    for turn in _turns(requests):
        if len(turn) <= config.max_model_calls:
            continue
        calls = [c for request in turn for c in request]
        looped = sorted({c.fault for c in calls if c.effect == "model.tool_loop" and c.fault})
        why = f" while {', '.join(looped)} kept the model calling tools" if looped else ""
        steps = max((_turn(r[0]) or ("", 0))[1] for r in turn)
        yield Verdict(
            "unbounded_loop",
            f"the app made {len(turn)} model requests to answer one user message (calls {_ids(c.index for c in calls)}, "
            f"{steps} rounds of tool calls){why}; max_model_calls={config.max_model_calls}; they used {_tokens(calls)}",
            "bound the agent loop: stop after a few rounds of tool calls (pydantic-ai UsageLimits(request_limit=...), "
            "LangGraph recursion_limit, LangChain AgentExecutor(max_iterations=...), openai-agents max_turns) and then "
            "answer from what you have or hand off to a person",
            tuple(c.index for c in calls),
        )


# ---- what the user saw, what went out, who took over ----------------------------------------------


def _ungraceful_shown(calls: Sequence[Call], user_texts: Sequence[str], canaries: Iterable[str],
                      secrets: Iterable[str]) -> Iterator[Verdict]:
    """A text the app showed its user that ``assert_graceful`` would refuse."""
    from ._assertions import error_fragments, graceful_problem

    fragments = list(error_fragments(calls))
    canaries, secrets = list(canaries), list(secrets)
    faulted = tuple(c.index for c in calls if c.fault is not None)
    for n, text in enumerate(user_texts):
        problem = graceful_problem(text, error_fragments=fragments, canaries=canaries, secrets=secrets)
        if problem is None:
            continue
        yield Verdict(
            "ungraceful_shown",
            f"user text #{n}: {problem}",
            "catch the failure where the app calls the provider and show a plain message (or the fallback's "
            "answer, or a handoff to a person); keep tracebacks, error names and provider messages in the logs",
            faulted,
        )


def _pii_sent(calls: Sequence[Call], allowed: Iterable[str]) -> Iterator[Verdict]:
    """Personal data in the body of a request to a model provider."""
    from ._assertions import pii_in

    found = pii_in([c for c in calls if c.provider is not None and c.provider not in _ACTIONS], allowed)
    if not found:
        return
    kinds = sorted({m.kind for _, m in found})
    first_call, first = found[0]
    indexes = sorted({c.index for c, _ in found})
    yield Verdict(
        "pii_sent",
        f"{len({(c.index, m.value) for c, m in found})} piece(s) of personal data ({', '.join(kinds)}) went to a model "
        f"provider in call(s) {_ids(indexes)}, the first: {first.kind} {first.masked} to {first_call.provider}",
        "redact personal data before the prompt leaves the app (replace it with a placeholder the app keeps, "
        "e.g. <EMAIL_1>), or send only what the model needs; allow your own addresses with "
        "chaos.assert_no_pii_sent(ignore=[...])",
        tuple(indexes),
    )


def _handoff_missed(requests: Sequence[list[Call]], watches: Sequence[Watch]) -> Iterator[Verdict]:
    """A user message every provider failed (injected faults, no success) with no call to the handoff seam."""
    handoffs = [w for w in watches if w.handoff]
    if not handoffs:
        return
    messages = _user_messages(requests)
    for n, message in enumerate(messages):
        calls = [c for request in message for c in request]
        if any(_succeeded(request[-1]) for request in message) or not any(c.fault for c in calls):
            continue
        start = calls[0].started
        end = messages[n + 1][0][0].started if n + 1 < len(messages) else float("inf")
        if any(start - _EPSILON <= seen.started < end for w in handoffs for seen in w.calls):
            continue
        providers = sorted({c.provider or "" for c in calls})
        yield Verdict(
            "handoff_missed",
            f"every provider failed one user message ({', '.join(providers)}: calls {_ids(c.index for c in calls)}, "
            f"{', '.join(sorted({c.fault for c in calls if c.fault}))}) and {' / '.join(w.path for w in handoffs)} was "
            "not called for it",
            "when the last provider fails, hand the user to a person (open a ticket, say someone will answer) "
            "instead of an error or silence",
            tuple(c.index for c in calls),
        )


def _user_messages(requests: Sequence[list[Call]]) -> list[list[list[Call]]]:
    """The model requests grouped by user message: consecutive requests that answer the same one
    (a tool loop's steps, a fallback that starts afresh), in the order they started."""
    messages: list[list[list[Call]]] = []
    last = None
    for request in sorted(requests, key=lambda r: r[0].index):
        found = _turn(request[0])
        if found is None or request[0].provider in _ACTIONS:
            continue
        if messages and found[0] == last:
            messages[-1].append(request)
        else:
            messages.append([request])
        last = found[0]
    return messages


"""Verdicts on client behaviour: each catches its bug in a small app on the real SDKs, and a
correct app under the same fault gets none (no false alarms). Then ``judge`` on hand-made
journals for the boundaries."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import anthropic
import httpx2
import openai
import pytest

import chaoskit
from chaoskit import Call, Watch, WatchedCall, tool_call
from chaoskit._verdicts import VERDICTS, Verdict, VerdictConfig, judge

TIMEOUT = httpx2.Timeout(0.3, connect=0.2)
MODEL = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
QUESTION: Any = [{"role": "user", "content": "Where is order A100?"}]
ANSWER = "The quick brown fox jumps over the lazy dog."
SORRY = "Sorry, we cannot answer right now. Please try again later."
CHAT = "https://api.openai.com/v1/chat/completions"


def gpt(**kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)


def claude(**kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)


def ask(client: openai.OpenAI) -> str:
    return client.chat.completions.create(model=MODEL, messages=QUESTION).choices[0].message.content or ""


def ask_claude(client: anthropic.Anthropic) -> str:
    message = client.messages.create(model=CLAUDE, max_tokens=200, messages=QUESTION)
    return "".join(b.text for b in message.content if b.type == "text")


def verdicts_of(chaos: chaoskit.Chaos, *shown: str, **config: Any) -> list[Verdict]:
    return judge(
        list(chaos.calls), user_texts=shown, watches=chaos.watches,
        replies_configured=chaos.configured_replies, config=VerdictConfig(**config),
    )


def names(verdicts: list[Verdict]) -> list[str]:
    return [v.name for v in verdicts]


# ---- retry_after_ignored and no_backoff ------------------------------------------------------------


def impatient_loop(client: openai.OpenAI) -> str:
    """Bug: its own retry loop around a max_retries=0 client, no sleep."""
    for _ in range(3):
        try:
            return ask(client)
        except openai.RateLimitError:
            continue
    return SORRY


def test_an_own_retry_loop_without_sleep_ignores_retry_after_and_does_not_back_off() -> None:
    # On the virtual clock the loop's retries are 0.00 s apart however busy the machine is.
    with chaoskit.Chaos(seed=1, clock=chaoskit.VirtualClock()) as chaos:
        chaos.inject("openai.rate_limit", retry_after=0.2)
        assert impatient_loop(gpt(max_retries=0)) == SORRY
    assert [c.retry_count for c in chaos.calls] == [0, 0, 0]
    verdicts = verdicts_of(chaos)
    assert names(verdicts) == ["retry_after_ignored", "no_backoff"]
    ignored, quick = verdicts
    assert ignored.calls == (0, 1, 2) and quick.calls == (0, 1, 2)
    assert ignored.message.startswith("call #1 retried 0.00 s after call #0 ended; the 429 on call #0 asked for 0.20 s")
    assert ignored.message.endswith("(and 1 more)")
    assert "honour Retry-After" in ignored.hint
    assert quick.message.startswith("call #1 retried 0.0")
    assert "after call #0 failed with 429 (openai.rate_limit); min_backoff=0.05 s (and 1 more)" in quick.message


def test_the_same_loop_on_anthropic() -> None:
    def loop(client: anthropic.Anthropic) -> str:
        for _ in range(2):
            try:
                return ask_claude(client)
            except anthropic.RateLimitError:
                continue
        return SORRY

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("anthropic.rate_limit", retry_after=0.2)
        assert loop(claude(max_retries=0)) == SORRY
    assert names(verdicts_of(chaos)) == ["retry_after_ignored", "no_backoff"]


def test_an_async_loop_is_judged_the_same() -> None:
    async def loop() -> str:
        client = openai.AsyncOpenAI(api_key="sk-test", timeout=TIMEOUT, max_retries=0)
        for _ in range(2):
            try:
                r = await client.chat.completions.create(model=MODEL, messages=QUESTION)
                return r.choices[0].message.content or ""
            except openai.RateLimitError:
                continue
        return SORRY

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.rate_limit", retry_after=0.2)
        assert asyncio.run(loop()) == SORRY
    assert names(verdicts_of(chaos)) == ["retry_after_ignored", "no_backoff"]


@pytest.mark.parametrize("fault", ["openai.rate_limit", "openai.rate_limit.tokens"])
def test_the_sdks_own_retries_honour_retry_after(fault: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault, times=2, retry_after=0.1)
        assert ask(gpt()) == chaoskit._replies.DEFAULT_REPLY
    assert [c.retry_count for c in chaos.calls] == [0, 1, 2]
    assert verdicts_of(chaos) == []


def test_anthropic_sdk_retries_honour_retry_after() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("anthropic.rate_limit", times=1, retry_after=0.1)
        ask_claude(claude())
    assert len(chaos.calls) == 2
    assert verdicts_of(chaos) == []


def test_a_retry_after_below_min_backoff_excuses_a_quick_retry() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.rate_limit", times=2, retry_after=0.01)
        ask(gpt())
    assert verdicts_of(chaos) == []


# ---- retry_storm -----------------------------------------------------------------------------------


def stubborn_loop(client: openai.OpenAI, attempts: int) -> str:
    """Bug: retries a failing provider 8 times (it does back off a little)."""
    for _ in range(attempts):
        try:
            return ask(client)
        except openai.InternalServerError:
            time.sleep(0.06)
    return SORRY


def test_eight_attempts_of_one_request_are_a_retry_storm() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error")
        assert stubborn_loop(gpt(max_retries=0), 8) == SORRY
    [storm] = verdicts_of(chaos)
    assert storm.name == "retry_storm"
    assert storm.calls == tuple(range(8))
    assert storm.message == f"8 attempts of one request (POST {CHAT}), calls #0-#7; max_attempts=4"
    assert storm.hint.startswith("cap your own retry loop")


def test_too_many_sdk_retries_are_a_retry_storm_with_the_max_retries_hint() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error", times=5, retry_after=0.06)  # the SDK waits 0.06 s, not its backoff
        ask(gpt(max_retries=5))
    [storm] = verdicts_of(chaos)
    assert storm.name == "retry_storm" and storm.calls == (0, 1, 2, 3, 4, 5)
    assert storm.hint.startswith("lower the client's max_retries (the SDK made 6 attempts per call")


def test_the_sdk_default_retries_are_no_storm() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("anthropic.overloaded", retry_after=0.06)
        with pytest.raises(anthropic.APIStatusError):
            ask_claude(claude())
    assert len(chaos.calls) == 3
    assert verdicts_of(chaos) == []


# ---- retried_non_retryable ---------------------------------------------------------------------------


def test_retrying_an_authentication_error() -> None:
    def app(client: openai.OpenAI) -> str:
        for _ in range(2):
            try:
                return ask(client)
            except openai.AuthenticationError:
                time.sleep(0.06)
        return SORRY

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.auth")
        assert app(gpt(max_retries=0)) == SORRY
    [verdict] = verdicts_of(chaos)
    assert verdict.name == "retried_non_retryable"
    assert verdict.calls == (0, 1)
    assert verdict.message == (
        "call #1 retried the request after the 401 (openai.auth) on call #0, which no retry can fix"
    )
    assert verdict.hint.startswith("don't retry client errors")


def test_a_correct_app_does_not_retry_an_authentication_error() -> None:
    def app(client: openai.OpenAI) -> str:
        try:
            return ask(client)
        except openai.AuthenticationError:
            return SORRY

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.auth")
        assert app(gpt()) == SORRY
    assert len(chaos.calls) == 1
    assert verdicts_of(chaos) == []


def test_the_openai_sdk_retries_insufficient_quota_by_default_and_that_is_reported() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.insufficient_quota", retry_after_ms=60)  # keeps the SDK's waits short
        with pytest.raises(openai.RateLimitError):
            ask(gpt())
    assert len(chaos.calls) == 3
    [verdict] = verdicts_of(chaos)
    assert verdict.name == "retried_non_retryable"
    assert verdict.calls == (0, 1, 2)
    assert "after the quota error 429 (openai.insufficient_quota) on call #0" in verdict.message
    assert "(and 1 more)" in verdict.message
    assert "set max_retries=0 for that client" in verdict.hint
    assert "catch openai.RateLimitError with code 'insufficient_quota'" in verdict.hint


def test_insufficient_quota_with_retries_off_passes() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.insufficient_quota")
        with pytest.raises(openai.RateLimitError):
            ask(gpt(max_retries=0))
    assert verdicts_of(chaos) == []


def test_the_anthropic_sdk_does_not_retry_a_billing_error() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("anthropic.insufficient_quota")
        with pytest.raises(anthropic.APIStatusError):
            ask_claude(claude())
    assert [c.status for c in chaos.calls] == [402]
    assert verdicts_of(chaos) == []


def test_retrying_a_context_length_error() -> None:
    def app(client: anthropic.Anthropic) -> str:
        for _ in range(2):
            try:
                return ask_claude(client)
            except anthropic.BadRequestError:
                time.sleep(0.06)
        return SORRY

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("anthropic.context_length")
        app(claude())
    assert names(verdicts_of(chaos)) == ["retried_non_retryable"]
    assert "after the context-length error 400 (anthropic.context_length) on call #0" in verdicts_of(chaos)[0].message


# ---- no_timeout --------------------------------------------------------------------------------------


def stream_answer(client: openai.OpenAI) -> str:
    stream = client.chat.completions.create(model=MODEL, messages=QUESTION, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_a_stall_under_a_two_minute_read_timeout() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.stream.stall", seconds=0.05)
        stream_answer(gpt(timeout=httpx2.Timeout(120)))
    [verdict] = verdicts_of(chaos)
    assert verdict.name == "no_timeout"
    assert verdict.calls == (0,)
    assert verdict.message == (
        "call #0 met openai.stream.stall with a read timeout of 120 s (max_wait=60 s): "
        "a stalled provider keeps the user waiting that long"
    )
    assert "timeout=httpx.Timeout(30, connect=5)" in verdict.hint


def test_latency_under_the_sdk_default_timeout_is_reported() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("anthropic.latency", seconds=0.02, jitter=0)
        ask_claude(anthropic.Anthropic(api_key="sk-ant-test"))
    [verdict] = verdicts_of(chaos)
    assert verdict.name == "no_timeout"
    assert "read timeout of 600 s" in verdict.message


def test_a_stall_under_a_short_read_timeout_passes() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.stream.stall", times=1)  # forever: the client's 0.3 s read timeout ends it
        with pytest.raises(openai.APITimeoutError):
            stream_answer(gpt())
        chaos.inject("openai.timeout.read", times=1)
        assert ask(gpt()) == chaoskit._replies.DEFAULT_REPLY  # the SDK's retry recovers
    assert [c.error for c in chaos.calls] == ["ReadTimeout", "ReadTimeout", None]
    assert verdicts_of(chaos) == []


# ---- truncated_stream_accepted -----------------------------------------------------------------------


def test_showing_a_cut_streams_partial_text() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.stream.cut")
        chaos.reply("openai", ANSWER)
        shown = stream_answer(gpt())
    assert shown == "The quick"
    [verdict] = verdicts_of(chaos, shown)
    assert verdict.name == "truncated_stream_accepted"
    assert verdict.calls == (0,)
    assert verdict.message == (
        "call #0's stream broke after 'The quick' (openai.stream.cut) and the app showed that "
        "partial text (user text #0) with no complete answer after it"
    )


def test_showing_a_cut_anthropic_streams_partial_text() -> None:
    def app(client: anthropic.Anthropic) -> str:
        with client.messages.stream(model=CLAUDE, max_tokens=200, messages=QUESTION) as stream:
            return "".join(stream.text_stream)

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("anthropic.stream.cut")
        chaos.reply("anthropic", ANSWER)
        shown = app(claude())
    assert shown and ANSWER.startswith(shown) and shown != ANSWER
    assert names(verdicts_of(chaos, shown)) == ["truncated_stream_accepted"]


def careful_stream(primary: openai.OpenAI, fallback: anthropic.Anthropic, *, keep_partial: bool) -> str:
    """Correct: uses a stream's text only when it finished; else falls back."""
    text, finished = "", False
    for chunk in primary.chat.completions.create(model=MODEL, messages=QUESTION, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finished = finished or chunk.choices[0].finish_reason is not None
    if finished:
        return text
    full = ask_claude(fallback)
    return f"{text} [the answer was cut off; here it is again:] {full}" if keep_partial else full


@pytest.mark.parametrize("keep_partial", [False, True])
def test_a_cut_stream_replaced_by_the_fallbacks_full_answer_passes(keep_partial: bool) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.stream.cut")
        chaos.reply("openai", ANSWER)
        chaos.reply("anthropic", "Order A100 shipped on Monday.")
        shown = careful_stream(gpt(), claude(), keep_partial=keep_partial)
    assert shown.endswith("Order A100 shipped on Monday.")
    assert ("The quick" in shown) is keep_partial
    assert verdicts_of(chaos, shown) == []


# ---- duplicate_side_effect ---------------------------------------------------------------------------

ORDERS: list[dict[str, Any]] = []
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "create_order",
            "description": "Place an order.",
            "parameters": {"type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]},
        },
    }
]


def create_order(item: str) -> str:
    """The side effect: places an order (watched with idempotent=False)."""
    ORDERS.append({"item": item})
    return f"order {len(ORDERS)} placed"


def order_turn(client: openai.OpenAI, state: dict[str, Any]) -> str:
    """One agent turn: ask, run the tool the model calls, answer; ``state`` keeps finished steps."""
    messages: list[Any] = [{"role": "user", "content": "Order me a book."}]
    if "asked" not in state:
        state["asked"] = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS).choices[0].message
    call = state["asked"].tool_calls[0]
    if "order" not in state:
        state["order"] = create_order(**json.loads(call.function.arguments))
    messages += [state["asked"].model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": state["order"]}]
    final = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    return final.choices[0].message.content or ""


def order_bot(client: openai.OpenAI, *, remember: bool) -> str:
    """Runs the turn again after a timeout (with a short backoff); ``remember=False`` is the bug: it
    starts over and orders again."""
    state: dict[str, Any] = {}
    for _ in range(2):
        try:
            return order_turn(client, state)
        except openai.APITimeoutError:
            if not remember:
                state.clear()
            time.sleep(0.06)
    return SORRY


ORDERED = "Your book is ordered."


def test_an_order_placed_again_after_a_timeout() -> None:
    ORDERS.clear()
    with chaoskit.Chaos(seed=1) as chaos:
        # a timed-out call gives its reply back, so the re-asked call #2 gets the tool call again
        chaos.reply("openai", tool_call("create_order", {"item": "book"}), tool_call("create_order", {"item": "book"}), ORDERED)
        chaos.script([None, "openai.timeout.read"])  # call #1, the answer after the tool ran, times out
        chaos.watch(f"{__name__}:create_order", idempotent=False)
        assert order_bot(gpt(max_retries=0), remember=False) == ORDERED
    assert ORDERS == [{"item": "book"}] * 2
    [verdict] = verdicts_of(chaos)
    assert verdict.name == "duplicate_side_effect"
    assert verdict.calls == (1,)
    assert verdict.message.startswith(f"{__name__}:create_order ran again with the same arguments at ")
    assert verdict.message.endswith("after openai.timeout.read on call(s) #1")


@pytest.mark.parametrize("max_retries", [0, 2])
def test_an_order_kept_across_a_retry_passes(max_retries: int) -> None:
    ORDERS.clear()
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", tool_call("create_order", {"item": "book"}), ORDERED)
        chaos.script([None, "openai.timeout.read"])
        chaos.watch(f"{__name__}:create_order", idempotent=False)
        assert order_bot(gpt(max_retries=max_retries), remember=True) == ORDERED  # the app's or the SDK's retry
    assert ORDERS == [{"item": "book"}]
    assert len(chaos.calls) == 3
    assert verdicts_of(chaos) == []


# ---- fallback_not_used -------------------------------------------------------------------------------


def primary_only(client: openai.OpenAI) -> str:
    """Bug: a fallback provider is configured for it, but it only apologises."""
    try:
        return ask(client)
    except openai.APIError:
        return SORRY


def with_fallback(client: openai.OpenAI, fallback: anthropic.Anthropic) -> str:
    try:
        return ask(client)
    except openai.APIError:
        return ask_claude(fallback)


def test_a_configured_fallback_never_called() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error")
        chaos.reply("anthropic", "Order A100 shipped.")
        assert primary_only(gpt(max_retries=0)) == SORRY
    [verdict] = verdicts_of(chaos)
    assert verdict.name == "fallback_not_used"
    assert verdict.calls == (0,)
    assert verdict.message == (
        "replies were set for anthropic but no call reached it, while openai.server_error failed "
        "call(s) #0 and the request was not recovered"
    )


def test_a_fallback_that_is_used_passes() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error", retry_after=0.06)
        chaos.reply("anthropic", "Order A100 shipped.")
        assert with_fallback(gpt(), claude()) == "Order A100 shipped."
    assert [c.provider for c in chaos.calls] == ["openai"] * 3 + ["anthropic"]
    assert verdicts_of(chaos) == []


def test_a_fallback_is_not_needed_when_the_sdk_recovers() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error", times=1, retry_after=0.06)
        chaos.reply("anthropic", "Order A100 shipped.")
        assert primary_only(gpt()) == chaoskit._replies.DEFAULT_REPLY
    assert verdicts_of(chaos) == []


# ---- judge on hand-made journals ---------------------------------------------------------------------


def call(index: int, started: float, *, key: str = "k", duration: float = 0.01, **fields: Any) -> Call:
    return Call(index=index, provider=fields.pop("provider", "openai"), method="POST", url=CHAT,
                request_body={}, started=started, duration=duration, request_key=key, **fields)


def limited(index: int, started: float, retry_after: float | None, **fields: Any) -> Call:
    return call(index, started, status=429, fault="openai.rate_limit", retry_after=retry_after, text=None, **fields)


def ok(index: int, started: float, **fields: Any) -> Call:
    return call(index, started, status=200, text=fields.pop("text", ANSWER), **fields)


@pytest.mark.parametrize(("after", "expected"), [(1.001, []), (0.999, ["retry_after_ignored"])])
def test_retry_after_tolerance_boundary(after: float, expected: list[str]) -> None:
    # 429 ends at 0.25 s asking for 1 s; slack 0.05 s: a retry from 1.2 s on is in time
    calls = [limited(0, 0.0, 1.0, duration=0.25), ok(1, 0.25 + after - 0.05)]
    assert names(judge(calls)) == expected


def test_no_backoff_boundary_and_its_excuse() -> None:
    fail = call(0, 0.0, status=500, fault="openai.server_error")
    assert names(judge([fail, ok(1, 0.01 + 0.051)])) == []
    assert names(judge([fail, ok(1, 0.01 + 0.049)])) == ["no_backoff"]
    # the response itself asked for (at most) min_backoff: a quick retry obeys it
    assert names(judge([limited(0, 0.0, 0.05), ok(1, 0.07)])) == []
    assert names(judge([limited(0, 0.0, 0.0), ok(1, 0.02)])) == []


def test_different_request_keys_are_not_grouped() -> None:
    calls = [limited(0, 0.0, 1.0, key="a"), limited(1, 0.02, 1.0, key="b"), ok(2, 0.04, key="c")]
    assert judge(calls) == []


def test_a_success_closes_a_request_so_asking_again_is_no_retry() -> None:
    calls = [ok(i, i * 0.02) for i in range(6)]  # the same question six times, each answered
    assert judge(calls) == []


def test_an_sdk_retry_continues_only_the_attempt_before_it() -> None:
    # two concurrent identical requests fail; each SDK retry (retry_count 1) continues one of them
    calls = [
        call(0, 0.0, status=500, retry_count=0), call(1, 0.0, status=500, retry_count=0),
        ok(2, 0.5, retry_count=1), ok(3, 0.5, retry_count=1),
    ]
    assert judge(calls) == []
    # a retry that started before the failed attempt ended is concurrent, not a retry
    assert judge([call(0, 0.0, status=500, duration=1.0), ok(1, 0.5)]) == []


def test_retry_storm_boundary() -> None:
    def storm(attempts: int) -> list[Call]:
        return [call(i, i * 0.1, status=503) for i in range(attempts)]

    assert judge(storm(4)) == []
    assert names(judge(storm(5))) == ["retry_storm"]
    assert judge(storm(5), config=VerdictConfig(max_attempts=5)) == []


def test_retried_non_retryable_statuses() -> None:
    for status in (400, 401, 402, 403, 404, 422):
        assert names(judge([call(0, 0.0, status=status), ok(1, 0.5)])) == ["retried_non_retryable"], status
    for status in (408, 409, 429, 500, 529):
        assert judge([call(0, 0.0, status=status), ok(1, 0.5)]) == [], status


def test_no_timeout_reads_the_effect_and_the_read_timeout() -> None:
    def stalled(fault: str, read_timeout: float | None) -> list[Call]:
        return [ok(0, 0.0, fault=fault, read_timeout=read_timeout)]

    assert names(judge(stalled("openai.timeout.read", None))) == ["no_timeout"]
    assert names(judge(stalled("anthropic.slow_tokens", 60.001))) == ["no_timeout"]
    assert judge(stalled("openai.slow_first_token", 60.0)) == []
    assert judge(stalled("openai.server_error", None)) == []  # not a stall
    assert judge(stalled("openai.timeout.read", 120), config=VerdictConfig(max_wait=120)) == []


def test_truncated_stream_rules() -> None:
    cut = call(1, 0.1, status=200, fault="openai.stream.cut", text="The quick", complete=False)
    assert names(judge([cut], user_texts=["The quick"])) == ["truncated_stream_accepted"]
    assert judge([cut], user_texts=["Sorry, try again."]) == []
    assert judge([call(0, 0.0, status=200, text="ab", complete=False)], user_texts=["ab"]) == []  # too short
    # an earlier, complete answer that contains the fragment is not the fragment shown
    assert judge([ok(0, 0.0, key="q1"), cut], user_texts=[ANSWER]) == []
    # a later complete answer shown too: the app recovered
    assert judge([cut, ok(2, 0.2, key="other", text="Shipped.")], user_texts=["The quick (cut) Shipped."]) == []
    # a later answer that was not shown does not excuse the fragment
    assert names(judge([cut, ok(2, 0.2, key="other", text="Shipped.")], user_texts=["The quick"])) == [
        "truncated_stream_accepted"
    ]


def test_duplicate_side_effect_needs_a_fault_in_between_and_equal_arguments() -> None:
    def watch(*calls: tuple[tuple[Any, ...], float], idempotent: bool = False) -> Watch:
        return Watch("shop:create_order", idempotent, [WatchedCall(args, {}, started) for args, started in calls])

    faulted = call(0, 0.5, status=None, error="ReadTimeout", fault="openai.timeout.read", read_timeout=0.3)
    assert names(judge([faulted], watches=[watch((("book",), 0.1), (("book",), 0.9))])) == ["duplicate_side_effect"]
    assert judge([faulted], watches=[watch((("book",), 0.1), (("pen",), 0.9))]) == []
    assert judge([faulted], watches=[watch((("book",), 0.6), (("book",), 0.9))]) == []  # fault before both
    assert judge([faulted], watches=[watch((("book",), 0.1), (("book",), 0.9), idempotent=True)]) == []


def test_fallback_not_used_needs_a_request_lost_to_a_fault() -> None:
    lost = [call(0, 0.0, status=500, fault="openai.server_error")]
    assert names(judge(lost, replies_configured={"anthropic"})) == ["fallback_not_used"]
    assert judge(lost, replies_configured={"openai"}) == []
    assert judge(lost) == []
    # a failure that is not injected (no fault) is not chaoskit's to judge
    assert judge([call(0, 0.0, status=500)], replies_configured={"anthropic"}) == []
    # a refusal or a bad tool call is model output for the app to handle, not a lost request
    refused = [ok(0, 0.0, fault="openai.content_filter", text=""), ok(1, 0.1, key="t", fault="openai.malformed.tool_args")]
    assert judge(refused, replies_configured={"anthropic"}) == []
    # the provider answered after the failure: the fallback was not needed
    assert judge([*lost, ok(1, 1.0, key="again")], replies_configured={"anthropic"}) == []


def test_blocked_calls_are_not_requests() -> None:
    blocked = [Call(index=i, provider=None, method="GET", url="https://x.test/", request_body=None,
                    error="Unrouted", started=i * 0.001) for i in range(6)]
    assert judge(blocked) == []


def test_verdicts_are_documented_and_serialise() -> None:
    assert list(VERDICTS) == [
        "retry_after_ignored", "retry_storm", "no_backoff", "retried_non_retryable", "no_timeout",
        "truncated_stream_accepted", "duplicate_side_effect", "fallback_not_used", "hallucination_shown",
        "refusal_shown", "unbounded_loop", "ungraceful_shown", "pii_sent", "handoff_missed",
    ]
    verdict = Verdict("no_backoff", "m", "h", (1, 2))
    assert verdict.to_dict() == {"name": "no_backoff", "message": "m", "hint": "h", "calls": [1, 2]}
    json.dumps(verdict.to_dict())


def test_config_rejects_bad_thresholds() -> None:
    with pytest.raises(ValueError, match=r"^max_attempts=0 must be a whole number, at least 1$"):
        VerdictConfig(max_attempts=0)
    with pytest.raises(ValueError, match=r"^min_backoff=-1 must be a number of seconds, 0 or more$"):
        VerdictConfig(min_backoff=-1)

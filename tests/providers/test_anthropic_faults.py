"""Fidelity matrix: every Anthropic catalog fault, through the real anthropic SDK (httpx2).

Each fault is injected below the SDK; the SDK's own retry loop, timeouts and exception mapping
run. The table ``ANTHROPIC`` holds what chaoskit sends for each fault (status, the error's fields)
and what the test checks of the outcome; what the SDK does with it (the exception class, what
it was raised from, the attempts) is not written down: ``REAL`` asks the same failure of a real
server on a loopback socket with the installed SDK (``_matrix.real_observation``), so an SDK
release changes no outcome here unless chaoskit really differs. A catalog fault without a row fails
``test_table_covers_the_catalog``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import anthropic
import pytest
from _matrix import (
    CONNECT_TIMEOUT,
    DEFAULT_REPLY,
    FAST,
    MAX_RETRIES,
    READ_TIMEOUT,
    REAL,
    SLACK,
    TIMEOUT,
    Expect,
    Outcome,
    arun,
    durations_about,
    request_id,
    run,
    verify,
)
from anthropic.types import Message

import chaoskit
from chaoskit.providers._misbehave import ANSWERS

MODEL = "claude-opus-4-6"
SYSTEM = "You are Acme's support assistant."  # for anthropic.model.prompt_leak to repeat
MESSAGES = [{"role": "user", "content": "Where is my order?"}]
TOOLS: list[dict[str, Any]] = [
    {
        "name": "lookup_order",
        "description": "Find an order.",
        "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
    }
]
OFFERED = {t["name"] for t in TOOLS}


# ---- what the SDK returns, for the checks ---------------------------------------------------


def event_text(items: list[Any]) -> str:
    return "".join(
        e.delta.text for e in items if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )


def stop_reasons(items: list[Any]) -> list[str | None]:
    return [e.delta.stop_reason for e in items if e.type == "message_delta"]


def partial_then_break(o: Outcome) -> None:
    """Events before the break were delivered, with some (not all) of the text, no message_stop."""
    text = event_text(o.items)
    assert text and DEFAULT_REPLY.startswith(text) and text != DEFAULT_REPLY, text
    types = [e.type for e in o.items]
    assert types[0] == "message_start"
    assert "message_delta" not in types and "message_stop" not in types


def stalled_after_read_timeout(o: Outcome) -> None:
    partial_then_break(o)
    assert READ_TIMEOUT - 0.02 <= o.elapsed <= READ_TIMEOUT + SLACK, o.elapsed
    assert o.calls[0].error == "ReadTimeout"


def overloaded_mid_stream(o: Outcome) -> None:
    partial_then_break(o)
    # A status error with the 200 of the stream: `except anthropic.OverloadedError` misses it.
    assert not isinstance(o.error, anthropic.InternalServerError)
    assert o.error.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}  # type: ignore[union-attr]


def cut_at_max_tokens(o: Outcome) -> None:
    assert stop_reasons(o.items) == ["max_tokens"]
    assert o.items[-1].type == "message_stop"
    text = event_text(o.items)
    assert text and DEFAULT_REPLY.startswith(text) and text != DEFAULT_REPLY


def message(o: Outcome) -> Message:
    assert isinstance(o.value, Message), type(o.value)
    return o.value


def healthy_text(o: Outcome) -> None:
    m = message(o)
    assert m.stop_reason == "end_turn" and m.content[0].text == DEFAULT_REPLY  # type: ignore[union-attr]


def refused(o: Outcome) -> None:
    m = message(o)
    assert m.stop_reason == "refusal"
    assert "".join(b.text for b in m.content if b.type == "text") == ""


def no_content(o: Outcome) -> None:
    m = message(o)
    assert m.content is None and m.stop_reason == "end_turn"
    with pytest.raises(TypeError):  # what user code meets: m.content[0]
        m.content[0]  # type: ignore[index]


def html_page(o: Outcome) -> None:
    assert type(o.value) is str and o.value.startswith("<!DOCTYPE html>")


def bad_tool_args(o: Outcome) -> None:
    """Non-streaming, the arguments that were not JSON come back as an empty input object."""
    m = message(o)
    assert m.stop_reason == "tool_use"
    (block,) = m.content
    assert block.type == "tool_use" and block.name in OFFERED
    assert block.input == {}  # the required order_id is missing


def unknown_tool(o: Outcome) -> None:
    m = message(o)
    (block,) = m.content
    assert block.type == "tool_use" and block.name == "chaoskit_unknown_tool" and block.name not in OFFERED


def drifted_tool_args(o: Outcome) -> None:
    """The input is a JSON object with the one field renamed; the journal names it."""
    (block,) = message(o).content
    assert block.type == "tool_use" and block.name == "lookup_order"
    assert block.input == {"orderId": "A100", "channel": "web"}
    assert [c.detail for c in o.calls] == ["lookup_order: renamed order_id -> orderId"]


def html_502(o: Outcome) -> None:
    assert isinstance(o.error, anthropic.APIStatusError)
    assert isinstance(o.error.body, str) and "502 Bad Gateway" in o.error.body
    assert "502 Bad Gateway" in str(o.error)


def answered(text: str, stop: str = "end_turn") -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        assert isinstance(o.value, Message)
        assert ("".join(b.text for b in o.value.content if b.type == "text"), o.value.stop_reason) == (text, stop)

    return check


def tool_called_again(o: Outcome) -> None:
    assert isinstance(o.value, Message)
    assert [(b.name, b.input) for b in o.value.content if b.type == "tool_use"] == [("lookup_order", {"order_id": "order_id 1"})]
    assert o.value.stop_reason == "tool_use"


def tool_input_missing_order_id(o: Outcome) -> None:
    assert isinstance(o.value, Message)
    assert [(b.name, b.input) for b in o.value.content if b.type == "tool_use"] == [("lookup_order", {})]


def leaked_system_prompt(o: Outcome) -> None:
    assert isinstance(o.value, Message)
    assert SYSTEM in "".join(b.text for b in o.value.content if b.type == "text")


def waited_at_least(seconds: float) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        healthy_text(o)
        assert o.calls[0].duration >= seconds - 0.01, o.calls[0].duration

    return check


# ---- the table ---------------------------------------------------------------------------------

E = Expect
ANTHROPIC: dict[str, Expect] = {
    # HTTP status faults: class by status (2.x subclasses), retried for 408/409/429/>=500 (§3.1, §3.2).
    "anthropic.rate_limit": E(REAL, status=429, attrs={"type": "rate_limit_error"}, params=FAST),
    "anthropic.rate_limit.tokens": E(REAL, status=429, attrs={"type": "rate_limit_error"}, params=FAST),
    "anthropic.insufficient_quota": E(REAL, status=402, attrs={"type": "billing_error"}),
    "anthropic.overloaded": E(REAL, status=529, attrs={"type": "overloaded_error"}, params=FAST),
    "anthropic.server_error": E(REAL, status=500, attrs={"type": "api_error"}, params=FAST),
    "anthropic.bad_gateway": E(REAL, status=502, attrs={"type": None}, params=FAST, check=html_502),
    "anthropic.unavailable": E(REAL, status=503, attrs={"type": "api_error"}, params=FAST),
    "anthropic.gateway_timeout": E(REAL, status=504, attrs={"type": "timeout_error"}, params=FAST),
    "anthropic.context_length": E(REAL, status=400, attrs={"type": "invalid_request_error"}),
    "anthropic.auth": E(REAL, status=401, attrs={"type": "authentication_error"}),
    "anthropic.model_not_found": E(REAL, status=404, attrs={"type": "not_found_error"}),
    # Transport faults: the SDK maps httpx2's errors and retries them.
    "anthropic.timeout.connect": E(REAL, check=durations_about(CONNECT_TIMEOUT)),
    "anthropic.timeout.read": E(REAL, check=durations_about(READ_TIMEOUT)),
    "anthropic.connection.reset": E(REAL, check=durations_about(0.0)),
    # 200s with something wrong in them: never retried.
    "anthropic.content_filter": E(REAL, check=refused),
    "anthropic.malformed.truncated_json": E(REAL),
    "anthropic.malformed.missing_content": E(REAL, check=no_content),
    "anthropic.malformed.null_content": E(REAL, check=no_content),
    "anthropic.malformed.html": E(REAL, check=html_page),
    "anthropic.malformed.tool_args": E(REAL, check=bad_tool_args),
    "anthropic.malformed.unknown_tool": E(REAL, check=unknown_tool),
    "anthropic.malformed.tool_args_drift": E(
        REAL, params={"variant": "renamed", "path": "order_id"},
        reply=chaoskit.tool_call("lookup_order", {"order_id": "A100", "channel": "web"}), check=drifted_tool_args,
    ),
    # Broken streams (§3.3): never retried. Whether a mid-stream transport error reaches the app raw
    # (anthropic <= 2.16) or wrapped (2.17) is the SDK's choice: REAL compares with a real server.
    "anthropic.stream.cut": E(REAL, stream=True, check=partial_then_break),
    "anthropic.stream.cut.unclean": E(REAL, stream=True, check=partial_then_break),
    "anthropic.stream.reset": E(REAL, stream=True, check=partial_then_break),
    "anthropic.stream.stall": E(REAL, stream=True, check=stalled_after_read_timeout),
    "anthropic.stream.error": E(REAL, stream=True, status=200, attrs={"type": "overloaded_error"}, check=overloaded_mid_stream),
    "anthropic.stream.invalid_event": E(REAL, stream=True, check=partial_then_break),
    "anthropic.stream.length": E(REAL, stream=True, check=cut_at_max_tokens),
    # Model misbehaviour: valid 200s the SDK accepts (a refusal is anthropic.content_filter).
    "anthropic.model.schema_violation": E(REAL, params={"kind": "missing_required"}, check=tool_input_missing_order_id),
    "anthropic.model.empty": E(REAL, check=answered("")),
    "anthropic.model.non_answer": E(REAL, params={"text": "I don't know."}, check=answered("I don't know.")),
    "anthropic.model.wrong_language": E(REAL, params={"language": "de"}, check=answered(ANSWERS["de"])),
    "anthropic.model.prompt_leak": E(REAL, check=leaked_system_prompt),
    "anthropic.model.max_tokens": E(REAL, check=answered(DEFAULT_REPLY[: len(DEFAULT_REPLY) // 2], "max_tokens")),
    "anthropic.model.tool_loop": E(REAL, check=tool_called_again),
    # Latency, shortened: the answer is healthy, only late.
    "anthropic.latency": E(REAL, params={"seconds": 0.1, "jitter": 0}, min_seconds=0.1, check=waited_at_least(0.1)),
    "anthropic.cold_start": E(REAL, params={"seconds": 0.1}, min_seconds=0.1, check=waited_at_least(0.1)),
    "anthropic.slow_first_token": E(REAL, params={"seconds": 0.1}, min_seconds=0.1, check=waited_at_least(0.1)),
    "anthropic.slow_tokens": E(REAL, params={"seconds": 0.01}, min_seconds=0.05, check=waited_at_least(0.05)),
    # ---- model misbehaviour: planted values ----
    # The default reply holds no value to plant: the answer passes as it is (planting: tests/test_hallucination.py).
    "anthropic.model.hallucination": E(REAL, check=healthy_text),
}


def test_table_covers_the_catalog() -> None:
    assert sorted(ANTHROPIC) == chaoskit.faults.ids("anthropic.*")


# ---- running calls -----------------------------------------------------------------------------


def client(max_retries: int = MAX_RETRIES) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-chaoskit-test", max_retries=max_retries, timeout=TIMEOUT)


def async_client() -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="sk-ant-chaoskit-test", max_retries=MAX_RETRIES, timeout=TIMEOUT)


def create(c: anthropic.Anthropic, *, stream: bool = False) -> Any:
    return c.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, messages=MESSAGES, tools=TOOLS, stream=stream)  # type: ignore[arg-type]


def check(outcome: Outcome, expect: Expect) -> None:
    verify(outcome, expect, status_error=anthropic.APIStatusError, request_id_header="request-id")
    error = outcome.error
    if isinstance(error, anthropic.APIStatusError) and error.status_code != 200 and not isinstance(error.body, str):
        # body: the whole JSON; api_message: error.message ({model} filled in).
        message = chaoskit.faults.get(outcome.fault).params["error"]["message"].replace("{model}", MODEL)
        want_body = {"type": "error", "error": {"type": error.type, "message": message}, "request_id": request_id(outcome.calls[-1])}
        assert error.body == want_body
        assert error.api_message == message
        # How str(error) words it is the SDK's (2.17 changed it); tests/fidelity compares it with a real server.
        assert message in str(error)


@pytest.mark.parametrize("fault", sorted(ANTHROPIC))
def test_fault_sync(fault: str) -> None:
    expect = ANTHROPIC[fault]
    with client() as c:
        outcome = run(fault, expect, lambda: create(c, stream=expect.stream))
    check(outcome, expect)


@pytest.mark.parametrize("fault", sorted(ANTHROPIC))
def test_fault_async(fault: str) -> None:
    expect = ANTHROPIC[fault]

    async def main() -> Outcome:
        async with async_client() as c:
            return await arun(
                fault, expect,
                lambda: c.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, messages=MESSAGES, tools=TOOLS, stream=expect.stream),  # type: ignore[arg-type]
            )

    check(asyncio.run(main()), expect)


# ---- streams: status at create(), the messages.stream() helper -------------------------------


def test_status_fault_on_a_stream_is_raised_at_create_and_retried() -> None:
    expect = E(REAL, status=529, attrs={"type": "overloaded_error"}, stream=True, params=FAST)
    with client() as c:
        outcome = run("anthropic.overloaded", expect, lambda: create(c, stream=True))
    check(outcome, expect)
    assert outcome.value is None and outcome.items == []


def final_partial(o: Outcome) -> None:
    """The helper's final message after a clean cut: partial text, stop_reason None, no error."""
    m = message(o)
    assert m.stop_reason is None
    text = m.content[0].text  # type: ignore[union-attr]
    assert text and DEFAULT_REPLY.startswith(text) and text != DEFAULT_REPLY


def final_max_tokens(o: Outcome) -> None:
    m = message(o)
    assert m.stop_reason == "max_tokens"
    assert DEFAULT_REPLY.startswith(m.content[0].text) and m.content[0].text != DEFAULT_REPLY  # type: ignore[union-attr]


def helper_partial(o: Outcome) -> None:
    text = "".join(e.text for e in o.items if e.type == "text")
    assert text and DEFAULT_REPLY.startswith(text) and text != DEFAULT_REPLY
    assert "message_stop" not in [e.type for e in o.items]


HELPER: dict[str, Expect] = {
    "anthropic.stream.cut": E(REAL, check=final_partial),
    "anthropic.stream.cut.unclean": E(REAL, check=helper_partial),
    "anthropic.stream.reset": E(REAL, check=helper_partial),
    "anthropic.stream.stall": E(REAL, check=helper_partial, min_seconds=READ_TIMEOUT - 0.02, max_seconds=READ_TIMEOUT + SLACK),
    "anthropic.stream.error": E(REAL, status=200, attrs={"type": "overloaded_error"}, check=helper_partial),
    "anthropic.stream.invalid_event": E(REAL, check=helper_partial),
    "anthropic.stream.length": E(REAL, check=final_max_tokens),
}


def run_helper(fault: str, expect: Expect) -> Outcome:
    """messages.stream(): iterate the events, then get_final_message()."""
    items: list[Any] = []

    def call(c: anthropic.Anthropic) -> Message:
        with c.messages.stream(model=MODEL, max_tokens=1024, messages=MESSAGES, tools=TOOLS) as s:  # type: ignore[arg-type]
            for event in s:
                items.append(event)
            return s.get_final_message()

    with client() as c:
        outcome = run(fault, expect, lambda: call(c))
    outcome.items = items
    return outcome


@pytest.mark.parametrize("fault", sorted(HELPER))
def test_stream_helper(fault: str) -> None:
    expect = HELPER[fault]
    check(run_helper(fault, expect), expect)


def test_stream_refusal() -> None:
    expect = E(REAL, stream=True)
    with client() as c:
        outcome = run("anthropic.content_filter", expect, lambda: create(c, stream=True))
    check(outcome, expect)
    assert stop_reasons(outcome.items) == ["refusal"] and event_text(outcome.items) == ""
    final = run_helper("anthropic.content_filter", E(REAL))
    check(final, E(REAL))
    assert message(final).stop_reason == "refusal"


def test_streamed_tool_input_is_not_json() -> None:
    expect = E(REAL, stream=True)
    with client() as c:
        outcome = run("anthropic.malformed.tool_args", expect, lambda: create(c, stream=True))
    check(outcome, expect)
    (start,) = [e for e in outcome.items if e.type == "content_block_start"]
    assert start.content_block.type == "tool_use" and start.content_block.name in OFFERED
    partial = "".join(
        e.delta.partial_json for e in outcome.items if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(partial)
    assert stop_reasons(outcome.items) == ["tool_use"]
    # The helper parses the buffer in partial mode: the unfinished string is dropped, no error.
    final = run_helper("anthropic.malformed.tool_args", E(REAL))
    check(final, E(REAL))
    (block,) = message(final).content
    assert block.type == "tool_use" and block.name == "lookup_order" and block.input == {}


def test_streamed_unknown_tool() -> None:
    final = run_helper("anthropic.malformed.unknown_tool", E(REAL))
    check(final, E(REAL))
    (block,) = message(final).content
    assert block.type == "tool_use" and block.name == "chaoskit_unknown_tool" and block.name not in OFFERED
    assert message(final).stop_reason == "tool_use"


# ---- retry-after and x-should-retry, measured --------------------------------------------------


def gaps_about(seconds: float) -> Callable[[Outcome], None]:
    def check_gaps(o: Outcome) -> None:
        assert len(o.gaps) == 2
        for gap in o.gaps:
            assert seconds <= gap <= seconds + SLACK, f"gaps {o.gaps}, expected about {seconds}"

    return check_gaps


RATE_LIMIT = {"type": "rate_limit_error"}


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        pytest.param({"retry_after": 0.3}, E(REAL, status=429, attrs=RATE_LIMIT, check=gaps_about(0.3)), id="retry_after=0.3"),
        pytest.param({"retry_after": 30, "retry_after_ms": 150}, E(REAL, status=429, attrs=RATE_LIMIT, check=gaps_about(0.15)), id="retry_after_ms_wins"),
        pytest.param({"should_retry": False}, E(REAL, status=429, attrs=RATE_LIMIT), id="should_retry=false"),
    ],
)
def test_retry_after_is_honoured(params: dict[str, Any], expect: Expect) -> None:
    with client() as c:
        outcome = run("anthropic.rate_limit", expect, lambda: create(c), **params)
    check(outcome, expect)


def test_should_retry_false_on_overloaded() -> None:
    expect = E(REAL, status=529, attrs={"type": "overloaded_error"})
    with client() as c:
        outcome = run("anthropic.overloaded", expect, lambda: create(c), should_retry=False)
    check(outcome, expect)


def test_should_retry_true_retries_a_400() -> None:
    expect = E(REAL, status=400, attrs={"type": "invalid_request_error"})
    with client() as c:
        outcome = run("anthropic.context_length", expect, lambda: create(c), should_retry=True, retry_after=0.01)
    check(outcome, expect)


def test_rate_limit_with_catalog_defaults() -> None:
    """The catalog's rate_limit unchanged: retry-after 1 s, so the SDK waits 1 s twice."""
    expect = E(REAL, status=429, attrs=RATE_LIMIT, check=gaps_about(1.0))
    with client() as c:
        outcome = run("anthropic.rate_limit", expect, lambda: create(c))
    check(outcome, expect)
    headers = outcome.error.response.headers  # type: ignore[union-attr]
    assert headers["retry-after"] == "1" and headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_async_retry_after_gaps() -> None:
    expect = E(REAL, status=529, attrs={"type": "overloaded_error"}, check=gaps_about(0.2))

    async def main() -> Outcome:
        async with async_client() as c:
            return await arun(
                "anthropic.overloaded", expect,
                lambda: c.messages.create(model=MODEL, max_tokens=1024, messages=MESSAGES),  # type: ignore[arg-type]
                retry_after=0.2,
            )

    check(asyncio.run(main()), expect)


# ---- schedules: recovery after N failures ------------------------------------------------------


def test_times_2_then_the_third_attempt_succeeds() -> None:
    with chaoskit.Chaos(seed=1) as chaos, client() as c:
        chaos.inject("anthropic.overloaded", times=2, retry_after=0.01)
        reply = create(c)
        assert reply.content[0].text == DEFAULT_REPLY
        assert [(call.fault, call.status) for call in chaos.calls] == [
            ("anthropic.overloaded", 529), ("anthropic.overloaded", 529), (None, 200),
        ]
        assert [call.request_headers["x-stainless-retry-count"] for call in chaos.calls] == ["0", "1", "2"]


def test_sequence_fail_pass_fail_without_retries() -> None:
    with chaoskit.Chaos(seed=1) as chaos, client(max_retries=0) as c:
        chaos.inject("anthropic.overloaded", sequence=("fail", "pass", "fail"))
        with pytest.raises(anthropic.OverloadedError):
            create(c)
        assert create(c).content[0].text == DEFAULT_REPLY
        with pytest.raises(anthropic.OverloadedError):
            create(c)
        assert create(c).content[0].text == DEFAULT_REPLY
        assert [call.status for call in chaos.calls] == [529, 200, 529, 200]


# ---- timeouts and latency as the client sees them ----------------------------------------------


def test_latency_longer_than_the_read_timeout_times_out_each_attempt() -> None:
    expect = E(REAL, check=durations_about(READ_TIMEOUT), max_seconds=3.5)
    with client() as c:
        outcome = run("anthropic.latency", expect, lambda: create(c), seconds=5, jitter=0)
    check(outcome, expect)
    assert [call.error for call in outcome.calls] == ["ReadTimeout"] * 3


def test_slow_first_token_on_a_stream_times_out_reading() -> None:
    expect = E(REAL, stream=True, max_seconds=READ_TIMEOUT + SLACK)
    with client() as c:
        outcome = run("anthropic.slow_first_token", expect, lambda: create(c, stream=True))
    check(outcome, expect)
    assert outcome.value is not None and outcome.items == []
    assert outcome.calls[0].status == 200 and outcome.calls[0].error == "ReadTimeout"


def test_slow_tokens_spaces_the_events() -> None:
    arrivals: list[float] = []

    def consume(c: anthropic.Anthropic) -> list[Any]:
        items = []
        for event in create(c, stream=True):
            arrivals.append(time.monotonic())
            items.append(event)
        return items

    with client() as c:
        streamed = E(REAL, stream=True)  # consume() streams: the real server is asked for a stream too
        outcome = run("anthropic.slow_tokens", streamed, lambda: consume(c), seconds=0.05)
    check(outcome, streamed)
    assert event_text(outcome.value) == DEFAULT_REPLY and stop_reasons(outcome.value) == ["end_turn"]
    gaps = [b - a for a, b in pairwise(arrivals)]
    assert gaps and all(0.04 <= g <= 0.05 + SLACK for g in gaps), gaps


def test_httpx_client_is_rejected_by_the_sdk() -> None:
    """anthropic 2.x only takes httpx2 clients; chaoskit's httpx2 seam is the one it uses."""
    import httpx

    with pytest.raises(TypeError, match="httpx2"):
        anthropic.Anthropic(api_key="sk-ant-chaoskit-test", http_client=httpx.Client())  # type: ignore[arg-type]

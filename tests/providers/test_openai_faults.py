"""Fidelity matrix: every OpenAI catalog fault, through the real openai SDK (httpx2 and httpx).

Each fault is injected below the SDK; the SDK's own retry loop, timeouts and exception mapping
run. The table ``OPENAI`` holds what chaoskit sends for each fault (status, the error's fields)
and what the test checks of the outcome; what the SDK does with it (the exception class, what
it was raised from, the attempts) is not written down: ``REAL`` asks the same failure of a real
server on a loopback socket with the installed SDK (``_matrix.real_observation``), so an SDK
release changes no outcome here unless chaoskit really differs. A catalog fault without a row fails
``test_table_covers_the_catalog``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import httpx
import openai
import pydantic
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
from openai.types.chat import ChatCompletion, ChatCompletionChunk

import chaoskit
from chaoskit.providers._misbehave import ANSWERS

MODEL = "gpt-4o-mini"
SYSTEM = "You are Acme's support assistant."  # for openai.model.prompt_leak to repeat
MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Where is my order?"}]
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Find an order.",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
        },
    }
]
OFFERED = {t["function"]["name"] for t in TOOLS}


# ---- what the SDK returns, for the checks ---------------------------------------------------


def chunk_text(items: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in items if c.choices)


def finish_reasons(items: list[ChatCompletionChunk]) -> list[str]:
    return [c.choices[0].finish_reason for c in items if c.choices and c.choices[0].finish_reason]


def partial_then_break(o: Outcome) -> None:
    """Chunks before the break were delivered, with some (not all) of the text, no finish_reason."""
    text = chunk_text(o.items)
    assert text and DEFAULT_REPLY.startswith(text) and text != DEFAULT_REPLY, text
    assert finish_reasons(o.items) == []


def stalled_after_read_timeout(o: Outcome) -> None:
    partial_then_break(o)
    assert READ_TIMEOUT - 0.02 <= o.elapsed <= READ_TIMEOUT + SLACK, o.elapsed
    assert o.calls[0].error == "ReadTimeout"


def stream_error_body(o: Outcome) -> None:
    partial_then_break(o)
    assert not isinstance(o.error, openai.APIStatusError)
    assert not hasattr(o.error, "status_code")
    assert o.error.body["type"] == "server_error"  # type: ignore[union-attr]
    assert str(o.error) == o.error.body["message"]  # type: ignore[union-attr]


def cut_length(o: Outcome) -> None:
    assert finish_reasons(o.items) == ["length"]
    text = chunk_text(o.items)
    assert text and DEFAULT_REPLY.startswith(text) and text != DEFAULT_REPLY


def first_choice(o: Outcome) -> Any:
    assert isinstance(o.value, ChatCompletion), type(o.value)
    return o.value.choices[0]


def healthy_text(o: Outcome) -> None:
    assert first_choice(o).message.content == DEFAULT_REPLY


def content_filtered(o: Outcome) -> None:
    choice = first_choice(o)
    assert choice.finish_reason == "content_filter"
    assert not choice.message.content


def missing_choices(o: Outcome) -> None:
    assert isinstance(o.value, ChatCompletion) and o.value.choices is None
    with pytest.raises(TypeError):  # what user code meets: o.value.choices[0]
        o.value.choices[0]  # type: ignore[index]


def null_content(o: Outcome) -> None:
    choice = first_choice(o)
    assert choice.message.content is None and choice.message.tool_calls is None
    assert choice.finish_reason == "stop"


def html_page(o: Outcome) -> None:
    assert type(o.value) is str and o.value.startswith("<!DOCTYPE html>")


def bad_tool_args(o: Outcome) -> None:
    choice = first_choice(o)
    assert choice.finish_reason == "tool_calls"
    (tc,) = choice.message.tool_calls
    assert tc.function.name in OFFERED
    with pytest.raises(json.JSONDecodeError):
        json.loads(tc.function.arguments)


def unknown_tool(o: Outcome) -> None:
    choice = first_choice(o)
    (tc,) = choice.message.tool_calls
    assert tc.function.name == "chaoskit_unknown_tool" and tc.function.name not in OFFERED
    assert json.loads(tc.function.arguments) == {}


def drifted_tool_args(o: Outcome) -> None:
    """The arguments are valid JSON, with the one field renamed; the journal names it."""
    (tc,) = first_choice(o).message.tool_calls
    assert tc.function.name == "lookup_order"
    assert json.loads(tc.function.arguments) == {"orderId": "A100", "channel": "web"}
    assert [c.detail for c in o.calls] == ["lookup_order: renamed order_id -> orderId"]


def answered(text: str, finish: str = "stop") -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        choice = first_choice(o)
        assert (choice.message.content, choice.finish_reason) == (text, finish)

    return check


def refused(o: Outcome) -> None:
    message = first_choice(o).message
    assert (message.content, message.refusal) == (None, o.params.get("text", chaoskit.faults.get(o.fault).params["text"]))


def tool_args_missing_order_id(o: Outcome) -> None:
    (tc,) = first_choice(o).message.tool_calls
    assert (tc.function.name, json.loads(tc.function.arguments)) == ("lookup_order", {})


def tool_called_again(o: Outcome) -> None:
    (tc,) = first_choice(o).message.tool_calls
    assert (tc.function.name, json.loads(tc.function.arguments), first_choice(o).finish_reason) == (
        "lookup_order", {"order_id": "order_id 1"}, "tool_calls")  # a value the tool's schema accepts


def leaked_system_prompt(o: Outcome) -> None:
    assert SYSTEM in (first_choice(o).message.content or "")


def html_502(o: Outcome) -> None:
    assert isinstance(o.error, openai.APIStatusError)
    assert str(o.error) == "Error code: 502"
    assert isinstance(o.error.body, str) and "502 Bad Gateway" in o.error.body


def waited_at_least(seconds: float) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        healthy_text(o)
        assert o.calls[0].duration >= seconds - 0.01, o.calls[0].duration

    return check


# ---- the table ---------------------------------------------------------------------------------

E = Expect
OPENAI: dict[str, Expect] = {
    # HTTP status faults: class by status, retried for 408/409/429/>=500 (§2.1, §2.2).
    "openai.rate_limit": E(REAL, status=429, attrs={"code": "rate_limit_exceeded", "type": "requests"}, params=FAST),
    "openai.rate_limit.tokens": E(REAL, status=429, attrs={"code": "rate_limit_exceeded", "type": "tokens"}, params=FAST),
    "openai.insufficient_quota": E(REAL, status=429, attrs={"code": "insufficient_quota", "type": "insufficient_quota"}, params=FAST),
    "openai.server_error": E(REAL, status=500, attrs={"code": None, "type": "server_error"}, params=FAST),
    "openai.bad_gateway": E(REAL, status=502, attrs={"code": None, "type": None}, params=FAST, check=html_502),
    "openai.unavailable": E(REAL, status=503, attrs={"code": None, "type": "server_error"}, params=FAST),
    "openai.gateway_timeout": E(REAL, status=504, attrs={"code": None, "type": "server_error"}, params=FAST),
    "openai.context_length": E(REAL, status=400, attrs={"code": "context_length_exceeded", "type": "invalid_request_error", "param": "messages"}),
    "openai.content_policy": E(REAL, status=400, attrs={"code": "content_policy_violation", "type": "invalid_request_error", "param": None}),
    "openai.auth": E(REAL, status=401, attrs={"code": "invalid_api_key", "type": "invalid_request_error"}),
    "openai.model_not_found": E(REAL, status=404, attrs={"code": "model_not_found", "type": "invalid_request_error"}),
    # Transport faults: the SDK maps httpx2's errors and retries them.
    "openai.timeout.connect": E(REAL, check=durations_about(CONNECT_TIMEOUT)),
    "openai.timeout.read": E(REAL, check=durations_about(READ_TIMEOUT)),
    "openai.connection.reset": E(REAL, check=durations_about(0.0)),
    # 200s with something wrong in them: never retried (§2.4).
    "openai.content_filter": E(REAL, check=content_filtered),
    "openai.malformed.truncated_json": E(REAL),
    "openai.malformed.missing_choices": E(REAL, check=missing_choices),
    "openai.malformed.null_content": E(REAL, check=null_content),
    "openai.malformed.html": E(REAL, check=html_page),
    "openai.malformed.tool_args": E(REAL, check=bad_tool_args),
    "openai.malformed.unknown_tool": E(REAL, check=unknown_tool),
    "openai.malformed.tool_args_drift": E(
        REAL, params={"variant": "renamed", "path": "order_id"},
        reply=chaoskit.tool_call("lookup_order", {"order_id": "A100", "channel": "web"}), check=drifted_tool_args,
    ),
    # Broken streams (§2.6): mid-stream faults are never retried; chunks before arrive first.
    "openai.stream.cut": E(REAL, stream=True, check=partial_then_break),
    "openai.stream.cut.unclean": E(REAL, stream=True, check=partial_then_break),
    "openai.stream.reset": E(REAL, stream=True, check=partial_then_break),
    "openai.stream.stall": E(REAL, stream=True, check=stalled_after_read_timeout),
    "openai.stream.error": E(REAL, stream=True, check=stream_error_body),
    "openai.stream.invalid_event": E(REAL, stream=True, check=partial_then_break),
    "openai.stream.length": E(REAL, stream=True, check=cut_length),
    # Model misbehaviour: valid 200s the SDK accepts; only the app's own checks catch them.
    "openai.model.refusal": E(REAL, check=refused),
    "openai.model.schema_violation": E(REAL, params={"kind": "missing_required"}, check=tool_args_missing_order_id),
    "openai.model.empty": E(REAL, check=answered("")),
    "openai.model.non_answer": E(REAL, params={"text": "I don't know."}, check=answered("I don't know.")),
    "openai.model.wrong_language": E(REAL, params={"language": "de"}, check=answered(ANSWERS["de"])),
    "openai.model.prompt_leak": E(REAL, check=leaked_system_prompt),
    "openai.model.max_tokens": E(REAL, check=answered(DEFAULT_REPLY[: len(DEFAULT_REPLY) // 2], "length")),
    "openai.model.tool_loop": E(REAL, check=tool_called_again),
    # Latency, shortened: the answer is healthy, only late.
    "openai.latency": E(REAL, params={"seconds": 0.1, "jitter": 0}, min_seconds=0.1, check=waited_at_least(0.1)),
    "openai.cold_start": E(REAL, params={"seconds": 0.1}, min_seconds=0.1, check=waited_at_least(0.1)),
    "openai.slow_first_token": E(REAL, params={"seconds": 0.1}, min_seconds=0.1, check=waited_at_least(0.1)),
    # A unary answer waits for every token: 0.01 s x about 10 tokens for the default reply.
    "openai.slow_tokens": E(REAL, params={"seconds": 0.01}, min_seconds=0.05, check=waited_at_least(0.05)),
    # ---- model misbehaviour: planted values ----
    # The default reply holds no value to plant: the answer passes as it is (planting: tests/test_hallucination.py).
    "openai.model.hallucination": E(REAL, check=healthy_text),
}


def test_table_covers_the_catalog() -> None:
    assert sorted(OPENAI) == chaoskit.faults.ids("openai.*")


# ---- running calls -----------------------------------------------------------------------------


def client(max_retries: int = MAX_RETRIES) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-chaoskit-test", max_retries=max_retries, timeout=TIMEOUT)


def async_client() -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-chaoskit-test", max_retries=MAX_RETRIES, timeout=TIMEOUT)


def chat(c: openai.OpenAI, *, stream: bool = False) -> Any:
    return c.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS, stream=stream)  # type: ignore[arg-type]


def check(outcome: Outcome, expect: Expect) -> None:
    verify(outcome, expect, status_error=openai.APIStatusError, request_id_header="x-request-id")
    error = outcome.error
    if isinstance(error, openai.APIStatusError) and not isinstance(error.body, str):
        # 3.x message: "Error code: <status> - <error.message>", {model} filled in.
        message = chaoskit.faults.get(outcome.fault).params["error"]["message"].replace("{model}", MODEL)
        assert str(error) == f"Error code: {error.status_code} - {message}"
        body: Any = error.body
        assert body == {"message": message, **{k: expect.attrs.get(k, body[k]) for k in ("type", "param", "code")}}


@pytest.mark.parametrize("fault", sorted(OPENAI))
def test_fault_sync(fault: str) -> None:
    expect = OPENAI[fault]
    with client() as c:
        outcome = run(fault, expect, lambda: chat(c, stream=expect.stream))
    check(outcome, expect)


@pytest.mark.parametrize("fault", sorted(OPENAI))
def test_fault_async(fault: str) -> None:
    expect = OPENAI[fault]

    async def main() -> Outcome:
        async with async_client() as c:
            return await arun(
                fault, expect,
                lambda: c.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS, stream=expect.stream),  # type: ignore[arg-type]
            )

    check(asyncio.run(main()), expect)


# ---- streams: status at create(), the Responses API, the helpers -------------------------------


def test_status_fault_on_a_stream_is_raised_at_create_and_retried() -> None:
    expect = E(REAL, status=429, attrs={"code": "rate_limit_exceeded"}, stream=True, params=FAST)
    with client() as c:
        outcome = run("openai.rate_limit", expect, lambda: chat(c, stream=True))
    check(outcome, expect)
    assert outcome.value is None and outcome.items == []


def test_stream_content_filter_is_a_normal_last_chunk() -> None:
    expect = E(REAL, stream=True)
    with client() as c:
        outcome = run("openai.content_filter", expect, lambda: chat(c, stream=True))
    check(outcome, expect)
    assert finish_reasons(outcome.items) == ["content_filter"]
    assert chunk_text(outcome.items) == ""


def test_streamed_tool_call_arguments_are_not_json() -> None:
    expect = E(REAL, stream=True)
    with client() as c:
        outcome = run("openai.malformed.tool_args", expect, lambda: chat(c, stream=True))
    check(outcome, expect)
    deltas = [tc for ch in outcome.items if ch.choices for tc in ch.choices[0].delta.tool_calls or ()]
    assert {d.function.name for d in deltas if d.function.name} == {"lookup_order"}
    arguments = "".join(d.function.arguments or "" for d in deltas)
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)
    assert finish_reasons(outcome.items) == ["tool_calls"]


def test_parse_helper_raises_on_content_filter() -> None:
    with chaoskit.Chaos(seed=1) as chaos, client() as c:
        chaos.inject("openai.content_filter")
        with pytest.raises(openai.ContentFilterFinishReasonError):
            c.chat.completions.parse(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        assert len(chaos.calls) == 1


class Order(pydantic.BaseModel):
    order_id: str


def test_stream_helper_with_a_response_format_raises_on_length() -> None:
    with chaoskit.Chaos(seed=1) as chaos, client() as c:
        chaos.inject("openai.stream.length")
        chaos.reply("openai", '{"order_id": "A100-shipped-yesterday-by-express-courier"}')
        with pytest.raises(openai.LengthFinishReasonError):
            with c.chat.completions.stream(model=MODEL, messages=MESSAGES, response_format=Order) as s:  # type: ignore[arg-type]
                for _ in s:
                    pass
        assert len(chaos.calls) == 1


def response_text(items: list[Any]) -> str:
    return "".join(e.delta for e in items if e.type == "response.output_text.delta")


def responses_partial(o: Outcome) -> None:
    text = response_text(o.items)
    assert text and DEFAULT_REPLY.startswith(text) and text != DEFAULT_REPLY
    types = [e.type for e in o.items]
    assert types[0] == "response.created"
    assert not {"response.completed", "response.incomplete", "response.failed"} & set(types)


def responses_incomplete(o: Outcome) -> None:
    last = o.items[-1]
    assert last.type == "response.incomplete"
    assert last.response.status == "incomplete"
    assert last.response.incomplete_details.reason == "max_output_tokens"


def responses_error_event(o: Outcome) -> None:
    """The Responses API sends a typed `error` event: the raw stream yields it, it does not raise."""
    *before, last = o.items
    responses_partial(dataclasses.replace(o, items=before))
    assert last.type == "error"
    assert last.code == "server_error" and last.message.startswith("The server had an error")
    assert last.sequence_number == len(before)


RESPONSES: dict[str, Expect] = {
    "openai.stream.cut": E(REAL, stream=True, api="responses", check=responses_partial),
    "openai.stream.cut.unclean": E(REAL, stream=True, api="responses", check=responses_partial),
    "openai.stream.reset": E(REAL, stream=True, api="responses", check=responses_partial),
    "openai.stream.stall": E(REAL, stream=True, api="responses", check=responses_partial,
                             min_seconds=READ_TIMEOUT - 0.02, max_seconds=READ_TIMEOUT + SLACK),
    "openai.stream.error": E(REAL, stream=True, api="responses", check=responses_error_event),
    "openai.stream.invalid_event": E(REAL, stream=True, api="responses", check=responses_partial),
    "openai.stream.length": E(REAL, stream=True, api="responses", check=responses_incomplete),
}


@pytest.mark.parametrize("fault", sorted(RESPONSES))
def test_responses_api_stream(fault: str) -> None:
    expect = RESPONSES[fault]
    with client() as c:
        outcome = run(fault, expect, lambda: c.responses.create(model=MODEL, input="Where is my order?", stream=True))
    check(outcome, expect)


def test_responses_stream_helper_after_a_cut_has_no_final_response() -> None:
    with chaoskit.Chaos(seed=1) as chaos, client() as c:
        chaos.inject("openai.stream.cut")
        with c.responses.stream(model=MODEL, input="Where is my order?") as s:
            for _ in s:
                pass
            with pytest.raises(RuntimeError, match="response.completed"):
                s.get_final_response()
        assert len(chaos.calls) == 1


# ---- retry-after and x-should-retry, measured --------------------------------------------------


def gaps_about(seconds: float) -> Callable[[Outcome], None]:
    def check_gaps(o: Outcome) -> None:
        assert len(o.gaps) == 2
        for gap in o.gaps:
            assert seconds <= gap <= seconds + SLACK, f"gaps {o.gaps}, expected about {seconds}"

    return check_gaps


RATE_LIMIT = {"code": "rate_limit_exceeded", "type": "requests"}


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        pytest.param({"retry_after": 0.3}, E(REAL, status=429, attrs=RATE_LIMIT, check=gaps_about(0.3)), id="retry_after=0.3"),
        pytest.param({"retry_after": 30, "retry_after_ms": 150}, E(REAL, status=429, attrs=RATE_LIMIT, check=gaps_about(0.15)), id="retry_after_ms_wins"),
        pytest.param({"should_retry": False}, E(REAL, status=429, attrs=RATE_LIMIT), id="should_retry=false"),
        # retry-after above 120 s: openai refuses to wait and does not retry at all (§2.2).
        pytest.param({"retry_after": 300}, E(REAL, status=429, attrs=RATE_LIMIT), id="retry_after=300_not_retried"),
    ],
)
def test_retry_after_is_honoured(params: dict[str, Any], expect: Expect) -> None:
    with client() as c:
        outcome = run("openai.rate_limit", expect, lambda: chat(c), **params)
    check(outcome, expect)


def test_should_retry_true_retries_a_400() -> None:
    expect = E(REAL, status=400, attrs={"code": "context_length_exceeded"})
    with client() as c:
        outcome = run("openai.context_length", expect, lambda: chat(c), should_retry=True, retry_after=0.01)
    check(outcome, expect)


def test_rate_limit_with_catalog_defaults() -> None:
    """The catalog's rate_limit unchanged: retry-after 1 s, so the SDK waits 1 s twice."""
    expect = E(REAL, status=429, attrs=RATE_LIMIT, check=gaps_about(1.0))
    with client() as c:
        outcome = run("openai.rate_limit", expect, lambda: chat(c))
    check(outcome, expect)
    assert outcome.error.response.headers["retry-after"] == "1"  # type: ignore[union-attr]
    assert outcome.error.response.headers["x-ratelimit-remaining-requests"] == "0"  # type: ignore[union-attr]


def test_async_retry_after_gaps() -> None:
    expect = E(REAL, status=429, attrs=RATE_LIMIT, check=gaps_about(0.2))

    async def main() -> Outcome:
        async with async_client() as c:
            return await arun(
                "openai.rate_limit", expect,
                lambda: c.chat.completions.create(model=MODEL, messages=MESSAGES),  # type: ignore[arg-type]
                retry_after=0.2,
            )

    check(asyncio.run(main()), expect)


# ---- schedules: recovery after N failures ------------------------------------------------------


def test_times_2_then_the_third_attempt_succeeds() -> None:
    with chaoskit.Chaos(seed=1) as chaos, client() as c:
        chaos.inject("openai.server_error", times=2, retry_after=0.01)
        completion = chat(c)
        assert completion.choices[0].message.content == DEFAULT_REPLY
        assert [(call.fault, call.status) for call in chaos.calls] == [
            ("openai.server_error", 500), ("openai.server_error", 500), (None, 200),
        ]
        assert [call.request_headers["x-stainless-retry-count"] for call in chaos.calls] == ["0", "1", "2"]
        assert completion.id == f"chatcmpl-{request_id(chaos.calls[2])[4:]}"


def test_sequence_fail_pass_fail_without_retries() -> None:
    with chaoskit.Chaos(seed=1) as chaos, client(max_retries=0) as c:
        chaos.inject("openai.server_error", sequence=("fail", "pass", "fail"))
        with pytest.raises(openai.InternalServerError):
            chat(c)
        assert chat(c).choices[0].message.content == DEFAULT_REPLY
        with pytest.raises(openai.InternalServerError):
            chat(c)
        assert chat(c).choices[0].message.content == DEFAULT_REPLY  # past the sequence: passes
        assert [call.status for call in chaos.calls] == [500, 200, 500, 200]


def test_sequence_fail_pass_fail_with_sdk_retries() -> None:
    """Each failure is absorbed by one SDK retry: two calls, four attempts."""
    with chaoskit.Chaos(seed=1) as chaos, client() as c:
        chaos.inject("openai.server_error", sequence=("fail", "pass", "fail"), retry_after=0.01)
        assert chat(c).choices[0].message.content == DEFAULT_REPLY
        assert chat(c).choices[0].message.content == DEFAULT_REPLY
        assert [call.status for call in chaos.calls] == [500, 200, 500, 200]
        assert [call.request_headers["x-stainless-retry-count"] for call in chaos.calls] == ["0", "1", "0", "1"]


# ---- timeouts and latency as the client sees them ----------------------------------------------


def test_latency_longer_than_the_read_timeout_times_out_each_attempt() -> None:
    expect = E(REAL, check=durations_about(READ_TIMEOUT), max_seconds=3.5)
    with client() as c:
        outcome = run("openai.latency", expect, lambda: chat(c), seconds=5, jitter=0)
    check(outcome, expect)
    assert [call.error for call in outcome.calls] == ["ReadTimeout"] * 3


def test_short_latency_succeeds_late() -> None:
    expect = E(REAL, min_seconds=0.1, check=waited_at_least(0.1), max_seconds=0.1 + SLACK)
    with client() as c:
        outcome = run("openai.latency", expect, lambda: chat(c), seconds=0.1, jitter=0)
    check(outcome, expect)


def test_a_cold_start_load_goes_on_while_the_sdk_retries() -> None:
    """The model takes 20 s to load: every attempt inside the load waits past the 0.3 s read timeout."""
    expect = E(REAL, check=durations_about(READ_TIMEOUT))
    with client() as c:
        outcome = run("openai.cold_start", expect, lambda: chat(c))
    check(outcome, expect)
    details = [call.detail for call in outcome.calls]
    assert details[0] == "cold start: loading began, 20.0 s left"
    assert all(d is not None and d.startswith("cold start: still loading") for d in details[1:])


def test_a_load_shorter_than_the_backoff_lets_the_retry_through_warm() -> None:
    """A 0.5 s load: the first attempt times out at 0.3 s; the retry (after >= 0.375 s of backoff) is warm."""
    with client() as c:
        outcome = run("openai.cold_start", E(REAL), lambda: chat(c), seconds=0.5)
    assert outcome.error is None
    assert [(call.fault, call.error) for call in outcome.calls] == [("openai.cold_start", "ReadTimeout"), (None, None)]
    assert READ_TIMEOUT - 0.02 <= outcome.calls[0].duration <= READ_TIMEOUT + SLACK
    healthy_text(outcome)


def test_warm_calls_have_their_own_latency() -> None:
    with client() as c:
        outcome = run("openai.cold_start", E(REAL), lambda: [chat(c), chat(c)], seconds=0.1, warm=0.05)
    assert outcome.error is None
    assert [call.fault for call in outcome.calls] == ["openai.cold_start"] * 2
    assert [call.detail for call in outcome.calls] == ["cold start: loading began, 0.1 s left", "cold start: warm, 0.05 s latency"]
    assert outcome.calls[0].duration >= 0.1 and 0.05 <= outcome.calls[1].duration < 0.1


def test_slow_first_token_unary_is_retried_stream_is_not() -> None:
    unary = E(REAL, check=durations_about(READ_TIMEOUT))
    with client() as c:
        outcome = run("openai.slow_first_token", unary, lambda: chat(c))
    check(outcome, unary)
    # A stream's headers arrived, so the SDK's retry loop is over: the stall surfaces while iterating.
    stream = E(REAL, stream=True, max_seconds=READ_TIMEOUT * 4)  # attempts=1 shows no retry; this only rules out a hang (0.71 s seen under load)
    with client() as c:
        outcome = run("openai.slow_first_token", stream, lambda: chat(c, stream=True))
    check(outcome, stream)
    assert outcome.value is not None and chunk_text(outcome.items) == ""
    assert outcome.calls[0].status == 200 and outcome.calls[0].error == "ReadTimeout"


def test_slow_tokens_spaces_the_chunks() -> None:
    arrivals: list[float] = []

    def consume(c: openai.OpenAI) -> list[Any]:
        items = []
        for chunk in chat(c, stream=True):
            arrivals.append(time.monotonic())
            items.append(chunk)
        return items

    with client() as c:
        streamed = E(REAL, stream=True)  # consume() streams: the real server is asked for a stream too
        outcome = run("openai.slow_tokens", streamed, lambda: consume(c), seconds=0.05)
    check(outcome, streamed)
    assert chunk_text(outcome.value) == DEFAULT_REPLY and finish_reasons(outcome.value) == ["stop"]
    gaps = [b - a for a, b in pairwise(arrivals)]
    assert gaps and all(0.04 <= g <= 0.05 + SLACK for g in gaps), gaps


# ---- a legacy httpx client (not httpx2) gets the same faults ----------------------------------


def legacy_client() -> openai.OpenAI:
    http = httpx.Client(timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT))
    return openai.OpenAI(api_key="sk-chaoskit-test", max_retries=MAX_RETRIES, http_client=http)  # type: ignore[arg-type]


LEGACY: dict[str, Expect] = {
    "openai.rate_limit": E(REAL, status=429, attrs=RATE_LIMIT, params=FAST),
    "openai.timeout.read": E(REAL, check=durations_about(READ_TIMEOUT)),
    "openai.stream.cut.unclean": E(REAL, stream=True, check=partial_then_break),
}


@pytest.mark.parametrize("fault", sorted(LEGACY))
def test_legacy_httpx_client(fault: str) -> None:
    expect = LEGACY[fault]
    with legacy_client() as c:
        assert isinstance(c._client, httpx.Client)
        outcome = run(fault, expect, lambda: chat(c, stream=expect.stream))
    check(outcome, expect)
    assert all(call.request_headers.get("x-stainless-read-timeout") == str(READ_TIMEOUT) for call in outcome.calls)

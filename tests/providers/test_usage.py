"""Token usage in the journal: read from the body each real SDK received, and equal to what the
SDK itself parsed from it (unary and streamed, for every provider that reports usage)."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import anthropic
import boto3
import openai
import pytest
from google import genai

import chaoskit
from chaoskit import Usage
from chaoskit.providers._eventstream import encode_event
from chaoskit.providers._usage import JSON_LIMIT, UsageFields, UsageMeter

REPLY = "Order A100 shipped on Monday and should arrive by Thursday."
MESSAGES = [{"role": "user", "content": "Where is order A100? It has been a week."}]
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def session() -> chaoskit.Chaos:
    chaos = chaoskit.Chaos(seed=1)
    for provider in ("openai", "anthropic", "gemini", "bedrock"):
        chaos.reply(provider, REPLY)
    return chaos


def only_call(chaos: chaoskit.Chaos) -> chaoskit.Call:
    [call] = list(chaos.calls)
    return call


# ---- OpenAI ---------------------------------------------------------------------------------


def test_openai_chat_unary_usage_is_what_the_sdk_parsed() -> None:
    with session() as chaos:
        answer = openai.OpenAI(api_key="sk-test").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    call = only_call(chaos)
    assert answer.usage is not None and answer.usage.prompt_tokens_details is not None
    assert call.usage == Usage(answer.usage.prompt_tokens, answer.usage.completion_tokens,
                               answer.usage.prompt_tokens_details.cached_tokens)
    assert call.model == "gpt-4o-mini" and call.effect is None


def test_openai_chat_streamed_usage_with_include_usage() -> None:
    with session() as chaos:
        stream = openai.OpenAI(api_key="sk-test").chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        usage = [chunk.usage for chunk in stream if chunk.usage is not None]
    [last] = usage
    assert last.prompt_tokens_details is not None
    assert only_call(chaos).usage == Usage(last.prompt_tokens, last.completion_tokens, last.prompt_tokens_details.cached_tokens)


def test_openai_chat_stream_without_include_usage_reports_none() -> None:
    with session() as chaos:
        stream = openai.OpenAI(api_key="sk-test").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        assert all(chunk.usage is None for chunk in stream)
    assert only_call(chaos).usage is None


def test_openai_responses_streamed_usage_from_response_completed() -> None:
    with session() as chaos:
        stream = openai.OpenAI(api_key="sk-test").responses.create(model="gpt-4.1", input="Where is A100?", stream=True)
        [completed] = [event.response for event in stream if event.type == "response.completed"]
    usage = completed.usage
    assert usage is not None
    assert only_call(chaos).usage == Usage(usage.input_tokens, usage.output_tokens, usage.input_tokens_details.cached_tokens)


def test_a_fault_sets_the_effect_and_an_error_body_reports_no_usage() -> None:
    with session() as chaos:
        chaos.inject("openai.rate_limit", times=1)
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    faulted, healthy = chaos.calls
    assert (faulted.effect, faulted.usage, faulted.model) == ("status", None, "gpt-4o-mini")
    assert answer.usage is not None and healthy.usage is not None
    assert (healthy.effect, healthy.usage.output_tokens) == (None, answer.usage.completion_tokens)


def test_a_stream_cut_before_its_usage_reports_none() -> None:
    with session() as chaos:
        chaos.inject("openai.stream.cut", after_events=1)
        stream = openai.OpenAI(api_key="sk-test").chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        assert all(chunk.usage is None for chunk in stream)
    call = only_call(chaos)
    assert (call.effect, call.usage, call.complete) == ("stream.cut", None, False)


# ---- Anthropic ------------------------------------------------------------------------------


def test_anthropic_unary_usage_is_what_the_sdk_parsed() -> None:
    with session() as chaos:
        message = anthropic.Anthropic(api_key="sk-ant-test").messages.create(
            model="claude-sonnet-4-6", max_tokens=200, messages=MESSAGES)
    u = message.usage
    call = only_call(chaos)
    assert call.usage == Usage(u.input_tokens, u.output_tokens, u.cache_read_input_tokens)
    assert call.model == "claude-sonnet-4-6"


def test_anthropic_streamed_usage_merges_message_start_and_message_delta() -> None:
    async def run() -> Any:
        client = anthropic.AsyncAnthropic(api_key="sk-ant-test")
        async with client.messages.stream(model="claude-sonnet-4-6", max_tokens=200, messages=MESSAGES) as stream:
            return await stream.get_final_message()  # the SDK merges the events' usage as well

    with session() as chaos:
        message = asyncio.run(run())
    u = message.usage
    assert only_call(chaos).usage == Usage(u.input_tokens, u.output_tokens, u.cache_read_input_tokens)
    assert u.output_tokens > 1  # message_start says 1; the final count came from message_delta


# ---- Gemini ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_usage_metadata_is_what_the_sdk_parsed(stream: bool) -> None:
    client = genai.Client(api_key="gm-test")
    with session() as chaos:
        if stream:
            chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Where is A100?"))
            metadata = chunks[-1].usage_metadata
        else:
            metadata = client.models.generate_content(model="gemini-2.5-flash", contents="Where is A100?").usage_metadata
    assert metadata is not None
    call = only_call(chaos)
    assert call.usage == Usage(metadata.prompt_token_count, metadata.candidates_token_count, metadata.cached_content_token_count)
    assert call.model == "gemini-2.5-flash"  # from the path: models/gemini-2.5-flash:generateContent


# ---- Bedrock --------------------------------------------------------------------------------


def bedrock() -> Any:
    return boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="AKIDCHAOSKITTEST",
                        aws_secret_access_key="chaoskit-test-secret")


def test_bedrock_converse_usage_is_what_botocore_parsed() -> None:
    client = bedrock()
    with session() as chaos:
        answer = client.converse(modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "Where is A100?"}]}])
    u = answer["usage"]
    call = only_call(chaos)
    assert call.usage == Usage(u["inputTokens"], u["outputTokens"], u.get("cacheReadInputTokens"))
    assert call.model == BEDROCK_MODEL  # from the path: /model/{modelId}/converse


def test_bedrock_converse_stream_usage_from_the_metadata_event() -> None:
    client = bedrock()
    with session() as chaos:
        response = client.converse_stream(modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "Where is A100?"}]}])
        [u] = [event["metadata"]["usage"] for event in response["stream"] if "metadata" in event]
    assert only_call(chaos).usage == Usage(u["inputTokens"], u["outputTokens"], u.get("cacheReadInputTokens"))


# ---- the meter on its own ----------------------------------------------------------------------

CHAT = UsageFields(at=(("usage",),), input=("prompt_tokens",), output=("completion_tokens",),
                   cached=("prompt_tokens_details", "cached_tokens"))


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\r\n\r\n".encode() for e in events)


@pytest.mark.parametrize("size", [1, 3, 7, 64])
def test_an_sse_meter_reads_events_split_anywhere(size: int) -> None:
    body = sse({"usage": None, "choices": [{"delta": {"content": "hi"}}]},
               {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 2}}})
    meter = UsageMeter(CHAT, "sse")
    for at in range(0, len(body), size):
        meter.feed(body[at : at + size])
    assert meter.usage() == Usage(11, 4, 2)


def test_an_sse_meter_reads_a_last_event_without_its_blank_line() -> None:
    meter = UsageMeter(CHAT, "sse")
    meter.feed(b'data: {"usage": {"prompt_tokens": 3}}')
    assert meter.usage() == Usage(3, None, None)


def test_a_json_meter_gives_up_past_its_limit() -> None:
    body = json.dumps({"usage": {"prompt_tokens": 1}, "pad": "x" * JSON_LIMIT}).encode()
    meter = UsageMeter(CHAT, "json")
    meter.feed(body[:100])
    meter.feed(body[100:])
    assert meter.usage() is None
    small = UsageMeter(CHAT, "json")
    small.feed(b'{"usage": {"prompt_tokens": 1}, "pad": "' + b"x" * 1000 + b'"}')
    assert small.usage() == Usage(1, None, None)


def test_an_eventstream_meter_reads_frames_split_anywhere() -> None:
    fields = UsageFields(at=(("usage",),), input=("inputTokens",), output=("outputTokens",), cached=("cacheReadInputTokens",))
    body = encode_event("contentBlockDelta", {"delta": {"text": "hi"}}) + encode_event(
        "metadata", {"usage": {"inputTokens": 9, "outputTokens": 5}, "metrics": {"latencyMs": 1}})
    assert struct.unpack_from(">I", body)[0] < len(body)
    meter = UsageMeter(fields, "eventstream")
    for at in range(0, len(body), 5):
        meter.feed(body[at : at + 5])
    assert meter.usage() == Usage(9, 5, None)

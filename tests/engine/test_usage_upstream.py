"""Usage from a real server's answer: a fault that relays the real stream, or fetches and changes
the real body, journals the usage the real server reported and the client received."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

import chaoskit
from chaoskit import Usage

from ._upstream import model_server

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server() as base:
        yield base


def test_a_relayed_openai_stream_journals_the_real_usage_chunk(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.stream.cut", after_events=100)  # past the stream's end: all of it is relayed
        stream = openai.OpenAI(api_key="sk-test", base_url=upstream + "/v1", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        [usage] = [chunk.usage for chunk in stream if chunk.usage is not None]
    [call] = chaos.calls
    assert usage.prompt_tokens_details is not None
    assert call.usage == Usage(usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details.cached_tokens)
    assert (call.model, call.effect, call.fault) == ("gpt-4o-mini", "stream.cut", "openai.stream.cut")


def test_a_relayed_anthropic_stream_merges_the_real_events_usage(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="anthropic", real=True)
        chaos.inject("anthropic.stream.cut", after_events=100)
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=upstream, max_retries=0)
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES) as stream:
            message = stream.get_final_message()
    [call] = chaos.calls
    u = message.usage
    assert call.usage == Usage(u.input_tokens, u.output_tokens, u.cache_read_input_tokens)
    assert call.usage.output_tokens != 0  # message_start said 0: the count is message_delta's


def test_a_real_stream_cut_before_its_usage_journals_none(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.stream.cut", after_events=2)
        stream = openai.OpenAI(api_key="sk-test", base_url=upstream + "/v1", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        assert all(chunk.usage is None for chunk in stream)
    assert chaos.calls[0].usage is None


@pytest.mark.parametrize("fault", ["openai.malformed.null_content", "openai.latency"])
def test_a_real_unary_answer_journals_its_usage(upstream: str, fault: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject(fault, seconds=0.01, jitter=0.0) if fault == "openai.latency" else chaos.inject(fault)
        answer = openai.OpenAI(api_key="sk-test", base_url=upstream + "/v1", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES)
    [call] = chaos.calls
    assert answer.usage is not None
    assert call.usage == Usage(answer.usage.prompt_tokens, answer.usage.completion_tokens, None)
    assert call.effect == chaoskit.faults.get(fault).effect


# ---- healthy calls passed through to the real server --------------------------------------------
def test_a_healthy_call_passed_to_the_real_server_is_journaled_with_its_real_answer(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="anthropic", real=True)
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=upstream, max_retries=0)
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES) as stream:
            streamed = stream.get_final_message()
        unary = client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES)
    first, second = chaos.calls
    for call, message, is_stream in ((first, streamed, True), (second, unary, False)):
        u = message.usage
        assert (call.fault, call.status, call.error, call.complete, call.stream) == (None, 200, None, True, is_stream)
        assert call.usage == Usage(u.input_tokens, u.output_tokens, u.cache_read_input_tokens)
        assert call.model == "claude-sonnet-4-6" and call.detail == "passed through to the real server"
        assert "sk-ant-test" not in repr(call.request_headers)  # redacted, as on every other call


def test_an_async_call_passed_through_closes_when_its_stream_is_read(upstream: str) -> None:
    import asyncio

    closed: list[chaoskit.Call] = []

    async def main() -> str:
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=upstream + "/v1", max_retries=0)
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        assert closed == []  # open while the client reads the real stream
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        await client.close()
        return text

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.calls.subscribe(lambda event: closed.append(event.call) if event.kind == "closed" else None)
        text = asyncio.run(main())
    [call] = closed
    assert text and call.status == 200 and call.usage is not None and call.usage.output_tokens
    assert call.duration > 0


def test_a_real_server_that_refuses_the_passed_call_is_journaled_as_refused() -> None:
    from chaoskit.fidelity import closed_port  # a port nothing listens on

    base = closed_port()
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(base, provider="openai", real=True)
        with pytest.raises(openai.APIConnectionError):
            openai.OpenAI(api_key="sk-test", base_url=base + "/v1", max_retries=0).chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES)
    [call] = chaos.calls
    assert (call.status, call.error, call.complete) == (None, "ConnectError", False)

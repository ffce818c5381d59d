"""Faults on live upstream traffic, end to end: the real openai, anthropic, google-genai and
huggingface_hub SDKs (TGI's native route), a real model server on loopback (uvicorn, SSE with real pauses), reached through ``chaos.route(..., real=True)``.

For each fault the SDK must do on the real server's answer what it does on chaoskit's simulated
one: the same exception class, status and attempts; a stream broken after the same number of
events, carrying the real server's words before the break; an answer ended with the same finish
reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from google import genai
from google.genai import types
from huggingface_hub import InferenceClient

import chaoskit

from ._upstream import ARGUMENTS, FINISHED, TEXT, model_server

STREAM_FAULTS = ["stream.cut", "stream.cut.unclean", "stream.stall", "stream.error"]
#: Each provider's faults compared on both paths (TGI's catalog has one stream fault).
FAULTS = {
    "openai": ["rate_limit", "server_error", "timeout.read", "latency", "malformed.null_content", "malformed.truncated_json", *STREAM_FAULTS],
    "anthropic": ["rate_limit", "server_error", "timeout.read", "latency", "malformed.null_content", "malformed.truncated_json", *STREAM_FAULTS],
    "gemini": ["rate_limit", "server_error", "timeout.read", "latency", "malformed.empty_content", "malformed.truncated_json", *STREAM_FAULTS],
    "tgi": ["overloaded", "server_error", "validation", "timeout.read", "latency", "stream.error"],
}
#: Where the simulated path sends a provider without hosts of its own (routed, not real).
SIMULATED_TGI = "http://tgi.invalid:8080"
#: Faults that end the answer early with a finish reason: (fault, streamed, params).
FINISHES = [
    ("stream.length", True, {"after_events": 2}),
    ("stream.length", True, {"after_events": 9}),  # past the real answer's end: its own ending is replaced
    ("content_filter", True, {"after_events": 2}),
    ("content_filter", True, {}),
    ("content_filter", False, {}),
]
#: Short delays, the same on both paths, so a case takes a fraction of a second.
QUICK = {"retry_after": 0.01, "seconds": 0.05, "jitter": 0.0}
TIMEOUT = httpx2.Timeout(0.4, connect=0.4)
#: The first two words the real server streams, before a fault after two events breaks it.
REAL_WORDS = TEXT.split(" ")[0] + " " + TEXT.split(" ")[1]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server() as base:
        yield base


def call(provider: str, base: str | None, stream: bool) -> tuple[str | None, str]:
    """One call through the provider's SDK: (the finish reason it saw, the model text it delivered)."""
    delivered: list[str] = []
    finish: str | None = None
    if provider == "gemini":
        return gemini_call(base, stream)
    if provider == "tgi":
        tgi = InferenceClient(base_url=base or SIMULATED_TGI, timeout=TIMEOUT.read)
        return None, "".join(tgi.text_generation("hi", stream=True) if stream else [tgi.text_generation("hi")])
    if provider == "openai":
        client = openai.OpenAI(api_key="sk-test", base_url=None if base is None else base + "/v1", max_retries=1, timeout=TIMEOUT)
        out: Any = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=stream)
        if not stream:
            return out.choices[0].finish_reason, out.choices[0].message.content or ""
        for chunk in out:
            delivered += [c.delta.content or "" for c in chunk.choices]
            finish = next((c.finish_reason for c in chunk.choices if c.finish_reason), finish)
        return finish, "".join(delivered)
    claude = anthropic.Anthropic(api_key="sk-ant-test", base_url=base, max_retries=1, timeout=TIMEOUT)
    message: Any = claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}], stream=stream)
    if not stream:
        return message.stop_reason, "".join(getattr(b, "text", "") for b in message.content or ())
    for event in message:
        if event.type == "content_block_delta":
            delivered.append(event.delta.text)
        elif event.type == "message_delta":
            finish = event.delta.stop_reason
    return finish, "".join(delivered)


def gemini_call(base: str | None, stream: bool) -> tuple[str | None, str]:
    """One generate_content call through google-genai (one attempt, as its default is)."""
    timeout = int((TIMEOUT.read or 0) * 1000)
    client = genai.Client(api_key="gemini-key-test", http_options=types.HttpOptions(base_url=base, timeout=timeout))
    args: dict[str, Any] = {"model": "gemini-2.5-flash", "contents": "hi"}
    answers = list(client.models.generate_content_stream(**args)) if stream else [client.models.generate_content(**args)]
    reasons = [c.finish_reason for a in answers for c in a.candidates or () if c.finish_reason]
    return (reasons[-1].value if reasons else None), "".join(a.text or "" for a in answers)


def status_of(error: BaseException) -> int | None:
    """The HTTP status an SDK's error carries: openai's and anthropic's ``status_code``, google-genai's
    ``code``, huggingface_hub's ``response.status_code``."""
    response = getattr(error, "response", None)
    status = getattr(error, "status_code", None) or getattr(error, "code", None) or getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def outcome(provider: str, fault: str, base: str | None, stream: bool | None = None, **params: Any) -> dict[str, Any]:
    """What the app sees under ``fault`` (with ``params`` and short delays): on the simulated path
    (``base`` None) or on the real server. ``stream`` defaults to whether it is a stream fault."""
    stream = fault.startswith("stream.") if stream is None else stream
    fid = f"{provider}.{fault}"
    params = {**{k: v for k, v in QUICK.items() if k in chaoskit.faults.get(fid).params}, **params}
    if fault == "stream.stall":
        params.pop("seconds", None)  # a stall that never ends: the client's read timeout ends it
    delivered: list[str] = []
    finish: str | None = None
    with chaoskit.Chaos(seed=1) as chaos:
        if base is not None:
            chaos.route(base, provider=provider, real=True)
        else:
            chaos.reply(provider, TEXT)
            if provider == "tgi":
                chaos.route(SIMULATED_TGI, provider="tgi")
        chaos.inject(fid, **params)
        raised: tuple[str | None, int | None] = (None, None)
        try:
            finish, text = call(provider, base, stream)
            delivered.append(text)
        except Exception as exc:  # noqa: BLE001 - compared across the two paths
            # kept as text: the exception's traceback would keep a stream the SDK leaves open on an
            # error (huggingface_hub's) from closing, and so its journal entry from ending
            raised = (f"{type(exc).__module__.split('.')[0]}.{type(exc).__name__}", status_of(exc))
    calls = list(chaos.calls)
    assert [c.fault for c in calls] == [fid] * len(calls), [(c.method, c.url, c.provider, c.status, c.detail) for c in calls]
    return {
        "raises": raised[0],
        "status": raised[1],
        "attempts": len(calls),
        "journal": [(c.status, c.complete) for c in calls],
        "text": [c.text for c in calls],
        "delivered": delivered,
        "finish": finish,
        "duration": [c.duration for c in calls],
    }


@pytest.mark.parametrize(("provider", "fault"), [(p, f) for p, faults in FAULTS.items() for f in faults])
def test_a_fault_on_the_real_server_acts_as_on_the_simulated_reply(upstream: str, provider: str, fault: str) -> None:
    simulated, real = outcome(provider, fault, None), outcome(provider, fault, upstream)
    assert {k: real[k] for k in ("raises", "status", "attempts")} == {k: simulated[k] for k in ("raises", "status", "attempts")}
    assert real["journal"] == simulated["journal"]
    if fault.startswith("stream."):
        # the same text on both paths: the real server and the simulated reply say the same words
        assert real["text"] == simulated["text"]
    if fault in ("stream.cut", "stream.cut.unclean", "stream.stall", "stream.error"):
        assert real["text"] == [REAL_WORDS]  # the real server's words, up to the break


@pytest.mark.parametrize(("fault", "stream", "params"), FINISHES)
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_finish_fault_ends_the_real_answer_as_it_ends_the_simulated_one(
    upstream: str, provider: str, fault: str, stream: bool, params: dict[str, Any],
) -> None:
    simulated, real = outcome(provider, fault, None, stream, **params), outcome(provider, fault, upstream, stream, **params)
    assert real["raises"] is None
    # the journal's text of a unary answer: chaoskit does not read a real one (None)
    same = ("raises", "status", "attempts", "journal", "delivered", "finish", *(("text",) if stream else ()))
    assert {k: real[k] for k in same} == {k: simulated[k] for k in same}
    assert real["finish"] not in (None, FINISHED[provider])  # the fault's reason, not the real server's
    assert real["delivered"] == [" ".join(TEXT.split(" ")[: params.get("after_events") or 0])]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_stream_length_on_a_real_stream_cuts_after_two_events_where_the_simulated_reply_keeps_half(upstream: str, provider: str) -> None:
    simulated, real = outcome(provider, "stream.length", None), outcome(provider, "stream.length", upstream)
    assert real["finish"] == simulated["finish"]
    assert real["journal"] == simulated["journal"] == [(200, True)]
    assert real["delivered"] == [REAL_WORDS]
    assert simulated["delivered"] == [TEXT[: len(TEXT) // 2]]


#: The tool the app declares, in each provider's request shape.
TOOLS = {
    "openai": [{"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object", "properties": {}}}}],
    "anthropic": [{"name": "lookup_order", "input_schema": {"type": "object", "properties": {}}}],
}


def tool_answer(provider: str, base: str | None, fault: str | None, offer: bool = True) -> tuple[str | None, list[tuple[str, Any]]]:
    """A unary call (offering the tool, or not) under ``fault``: (the finish reason, the tool calls
    the SDK returned as (name, arguments)), on the simulated reply (``base`` None) or the real server."""
    tools = TOOLS[provider] if offer else []
    with chaoskit.Chaos(seed=1) as chaos:
        if base is not None:
            chaos.route(base, provider=provider, real=True)
        else:
            chaos.reply(provider, TEXT)
        if fault is not None:
            chaos.inject(f"{provider}.{fault}")
        if provider == "openai":
            client = openai.OpenAI(api_key="sk-test", base_url=None if base is None else base + "/v1", max_retries=0, timeout=TIMEOUT)
            out: Any = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], tools=tools)
            choice = out.choices[0]
            return choice.finish_reason, [(c.function.name, c.function.arguments) for c in choice.message.tool_calls or ()]
        claude = anthropic.Anthropic(api_key="sk-ant-test", base_url=base, max_retries=0, timeout=TIMEOUT)
        message: Any = claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}], tools=tools)
        return message.stop_reason, [(b.name, b.input) for b in message.content if b.type == "tool_use"]


@pytest.mark.parametrize("offer", [True, False], ids=["real-tool-call", "real-text"])
@pytest.mark.parametrize("fault", ["malformed.tool_args", "malformed.unknown_tool"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_tool_call_fault_rewrites_the_real_answer_as_the_simulated_one(upstream: str, provider: str, fault: str, offer: bool) -> None:
    # Whether the real answer called a tool or answered in text, the bad call replaces it, as it
    # replaces the simulated reply (a text here too).
    real = tool_answer(provider, upstream, fault, offer)
    assert real == tool_answer(provider, None, fault, offer)
    healthy = tool_answer(provider, upstream, None, offer)
    assert real != healthy
    assert healthy[1] == ([("lookup_order", ARGUMENTS if provider == "anthropic" else json.dumps(ARGUMENTS))] if offer else [])


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_slow_tokens_delay_a_real_unary_answer_as_much_as_a_simulated_one(upstream: str, provider: str) -> None:
    simulated = outcome(provider, "slow_tokens", None, False, seconds=0.03)
    real = outcome(provider, "slow_tokens", upstream, False, seconds=0.03)
    same = ("raises", "status", "attempts", "journal", "delivered", "finish")
    assert {k: real[k] for k in same} == {k: simulated[k] for k in same}
    assert real["delivered"] == [TEXT]
    # the same words, so the same delay (a few 0.03 s tokens), plus the real server's own time
    assert real["duration"][0] >= 0.95 * simulated["duration"][0] > 0.1


def test_tgi_s_openai_compatible_chat_route_breaks_as_its_native_route_does(upstream: str) -> None:
    def chat(base: str | None) -> tuple[str | None, list[str], list[tuple[int | None, bool]]]:
        tokens: list[str] = []
        with chaoskit.Chaos(seed=1) as chaos:
            if base is None:
                chaos.reply("tgi", TEXT)
            chaos.route(base or SIMULATED_TGI, provider="tgi", real=base is not None)
            chaos.inject("tgi.stream.error")
            client = InferenceClient(base_url=base or SIMULATED_TGI, timeout=TIMEOUT.read)
            raised = None
            try:
                for chunk in client.chat_completion([{"role": "user", "content": "hi"}], stream=True):
                    tokens += [c.delta.content or "" for c in chunk.choices]
            except Exception as exc:  # noqa: BLE001 - compared across the two paths
                raised = type(exc).__name__
        return raised, tokens, [(c.status, c.complete) for c in chaos.calls]

    simulated, real = chat(None), chat(upstream)
    assert real == simulated
    assert real[0] is not None and "".join(real[1]) == REAL_WORDS


def test_healthy_calls_reach_the_real_server_streamed_as_it_streams(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="anthropic", real=True)
        _, text = call("anthropic", upstream, stream=True)
    assert text == TEXT
    [passed] = chaos.calls  # journaled as it passed, untouched
    assert (passed.fault, passed.status, passed.complete) == (None, 200, True)


def test_a_fault_the_real_path_cannot_apply_says_which_and_what_to_do(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.malformed.tool_args")
        with pytest.raises(chaoskit.ChaosConfigError) as info:
            call("openai", upstream, stream=True)
    assert str(info.value).startswith(f"openai.malformed.tool_args cannot act on {upstream}/v1/chat/completions, a real server")
    assert "inject it where chaoskit simulates the model" in str(info.value)


def test_the_journal_follows_a_relayed_stream_while_the_client_still_holds_it(upstream: str) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.stream.error", after_events=2)
        with httpx2.Client() as client, client.stream("POST", upstream + "/v1/chat/completions", json=body) as response:
            chunks = response.iter_raw()  # held: the client stops at the error event, the stream stays open
            while b'"error"' not in next(chunks):
                pass
            call = chaos.calls[0]
            assert (call.text, call.complete) == (REAL_WORDS, False)
            chunks.close()

"""``model.*`` faults on a real server's unary answers (``chaos.route(..., real=True)``): the real
answer is rewritten into what the simulated path answers, with the same journal note; a real
stream passes as it is, and the session says why the fault never applied."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

import chaoskit

from ._upstream import ARGUMENTS, TEXT, model_server

TIMEOUT = httpx2.Timeout(2.0, connect=1.0)
SYSTEM = "You are Acme's support assistant."
TOOLS: Any = [{"type": "function", "function": {
    "name": "lookup_order", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
#: Faults, with the draws pinned (the two paths' calls have different URLs, so different seeded draws).
OPENAI = {
    "model.refusal": {}, "model.empty": {}, "model.non_answer": {"text": "I don't know."}, "model.max_tokens": {},
    "model.wrong_language": {"language": "fr"}, "model.prompt_leak": {}, "model.schema_violation": {"kind": "wrong_type"},
    "model.tool_loop": {},
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server() as base:
        yield base


def ask_openai(base: str | None, fault: str, params: dict[str, Any], *, stream: bool = False) -> tuple[Any, list[Any]]:
    with chaoskit.Chaos(seed=1) as chaos:
        tooled = fault in ("model.schema_violation", "model.tool_loop")
        if base is None:  # what the real server answers: a call to the first tool offered, else TEXT
            chaos.reply("openai", chaoskit.tool_call("lookup_order", ARGUMENTS) if tooled else TEXT)
        else:
            chaos.route(base, provider="openai", real=True)
        chaos.inject(f"openai.{fault}", **params)
        client = openai.OpenAI(api_key="sk-test", base_url=None if base is None else base + "/v1", max_retries=0, timeout=TIMEOUT)
        tools = TOOLS if tooled else openai.omit
        out: Any = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"}],
            tools=tools, stream=stream)
        if stream:
            list(out)
            return None, []
        message = out.choices[0].message
        calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or ()]
    return (message.content, message.refusal, calls, out.choices[0].finish_reason), [(c.fault, c.status, c.detail) for c in chaos.calls]


@pytest.mark.parametrize("fault", sorted(OPENAI))
def test_a_real_openai_answer_misbehaves_as_a_simulated_one(upstream: str, fault: str) -> None:
    real, simulated = ask_openai(upstream, fault, OPENAI[fault]), ask_openai(None, fault, OPENAI[fault])
    assert real == simulated
    if fault != "model.tool_loop":  # its first step calls the tool the real answer calls (next test)
        assert real[0][0] != TEXT and real[0][2] != [("lookup_order", json.dumps(ARGUMENTS))]  # the real answer was changed
    [(injected, status, detail)] = real[1]
    assert (injected, status) == (f"openai.{fault}", 200) and detail and detail != "passed through to the real server"


def test_a_real_anthropic_answer_is_cut_at_max_tokens_as_a_simulated_one(upstream: str) -> None:
    def ask(base: str | None) -> tuple[str, str | None, list[Any]]:
        with chaoskit.Chaos(seed=1) as chaos:
            if base is None:
                chaos.reply("anthropic", TEXT)
            else:
                chaos.route(base, provider="anthropic", real=True)
            chaos.inject("anthropic.model.max_tokens")
            message = anthropic.Anthropic(api_key="sk-ant-test", base_url=base, max_retries=0, timeout=TIMEOUT).messages.create(
                model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
        return "".join(getattr(b, "text", "") for b in message.content), message.stop_reason, [c.detail for c in chaos.calls]

    real = ask(upstream)
    assert real == ask(None)
    assert real[:2] == (TEXT[: len(TEXT) // 2], "max_tokens")


@pytest.mark.parametrize("fault", sorted(OPENAI))
def test_a_real_stream_passes_as_it_is_and_the_session_says_why(upstream: str, fault: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject(f"openai.{fault}", **OPENAI[fault])
        client = openai.OpenAI(api_key="sk-test", base_url=upstream + "/v1", max_retries=0, timeout=TIMEOUT)
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"}],
            tools=TOOLS, stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == TEXT
    assert [(c.fault, c.detail) for c in chaos.calls] == [(None, "passed through to the real server")]
    [(injection, why)] = chaos.unapplied()
    assert injection.fault.id == f"openai.{fault}"
    assert why.endswith("(on a real server, it acts only on answers that are not streamed)")


def test_a_real_model_that_would_answer_keeps_calling_the_tool_under_a_loop(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.model.tool_loop", limit=3)
        client = openai.OpenAI(api_key="sk-test", base_url=upstream + "/v1", max_retries=0, timeout=TIMEOUT)
        messages: list[Any] = [{"role": "user", "content": "Where is A100?"}]
        for _ in range(5):
            message = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS).choices[0].message
            if not message.tool_calls:
                break
            messages.append(message.model_dump(exclude_none=True))
            messages += [{"role": "tool", "tool_call_id": c.id, "content": "shipped"} for c in message.tool_calls]
    # the real server answers in text once it has a tool result; the loop calls the tool instead, 3 times
    assert message.content == TEXT
    assert [(c.fault, c.turn.step if c.turn else None) for c in chaos.calls] == [
        ("openai.model.tool_loop", 0), ("openai.model.tool_loop", 1), ("openai.model.tool_loop", 2), (None, 3)]
    assert [c.detail for c in chaos.calls][1] == "tool loop step 2: calls lookup_order with the same arguments"
    assert [m["tool_calls"][0]["function"]["arguments"] for m in messages if m.get("tool_calls")] == ['{"order_id":"A100"}'] * 3

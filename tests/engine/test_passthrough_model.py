"""``model.*`` faults on a real server's unary answers (``chaos.route(..., real=True)``): the real
answer is rewritten into what the simulated path answers, with the same journal note; a real
stream is refused with a message that says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

import chaoskit

from ._upstream import TEXT, model_server

TIMEOUT = httpx2.Timeout(2.0, connect=1.0)
SYSTEM = "You are Acme's support assistant."
TOOLS: Any = [{"type": "function", "function": {
    "name": "lookup_order", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
#: Faults, with the draws pinned (the two paths' calls have different URLs, so different seeded draws).
OPENAI = {
    "model.refusal": {}, "model.empty": {}, "model.non_answer": {"text": "I don't know."}, "model.max_tokens": {},
    "model.wrong_language": {"language": "fr"}, "model.prompt_leak": {}, "model.schema_violation": {"kind": "wrong_type"},
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server() as base:
        yield base


def ask_openai(base: str | None, fault: str, params: dict[str, Any], *, stream: bool = False) -> tuple[Any, list[Any]]:
    with chaoskit.Chaos(seed=1) as chaos:
        if base is None:
            chaos.reply("openai", TEXT)
        else:
            chaos.route(base, provider="openai", real=True)
        chaos.inject(f"openai.{fault}", **params)
        client = openai.OpenAI(api_key="sk-test", base_url=None if base is None else base + "/v1", max_retries=0, timeout=TIMEOUT)
        tools = TOOLS if fault == "model.schema_violation" else openai.omit
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
    assert real[0][0] != TEXT  # the real words were replaced
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


def test_a_real_stream_is_refused_with_the_reason(upstream: str) -> None:
    with pytest.raises(chaoskit.ChaosConfigError) as info:
        ask_openai(upstream, "model.refusal", {}, stream=True)
    assert str(info.value).startswith(f"openai.model.refusal cannot act on {upstream}/v1/chat/completions, a real server")
    assert "cannot yet apply to a real one" in str(info.value)

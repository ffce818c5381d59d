"""``PROVIDER.model.hallucination`` on a real server's answer (``chaos.route(..., real=True)``): a
unary answer's tool-call arguments (or text) get the planted value, its ids and usage stay the
real ones; an answer with nothing to plant passes as it is, and the journal says so; a real
stream is not one it applies to (a value can be split across events): it passes untouched, and
``chaos.unapplied()`` says why."""

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
OPENAI_TOOLS: Any = [{"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object"}}}]
ANTHROPIC_TOOLS: Any = [{"name": "lookup_order", "input_schema": {"type": "object"}}]
QUESTION: Any = [{"role": "user", "content": "Where is order A100?"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server() as base:
        yield base


def gpt(base: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=base + "/v1", max_retries=0, timeout=TIMEOUT)


def test_openai_a_real_tool_calls_argument_is_planted_and_the_real_ids_stay(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.model.hallucination")
        out = gpt(upstream).chat.completions.create(model="gpt-4o-mini", messages=QUESTION, tools=OPENAI_TOOLS)
    [p] = chaos.calls[0].planted or []
    call = out.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (p.original, p.where) == (ARGUMENTS["order_id"], "lookup_order.order_id")
    assert json.loads(call.function.arguments) == {"order_id": p.planted}  # type: ignore[union-attr]
    assert (out.id, call.id, out.usage.total_tokens) == ("chatcmpl-upstream", "call_upstream", 10)  # type: ignore[union-attr]


def test_anthropic_a_real_tool_use_input_is_planted(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="anthropic", real=True)
        chaos.inject("anthropic.model.hallucination")
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=upstream, max_retries=0, timeout=TIMEOUT)
        message = client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=QUESTION, tools=ANTHROPIC_TOOLS)
    [p] = chaos.calls[0].planted or []
    [use] = [b for b in message.content if b.type == "tool_use"]
    assert use.input == {"order_id": p.planted} and p.planted != "A100"
    assert (message.id, use.id, message.stop_reason) == ("msg_upstream", "toolu_upstream", "tool_use")


def test_a_real_answer_with_nothing_to_plant_passes_and_the_journal_says_so(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.model.hallucination")
        out = gpt(upstream).chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert out.choices[0].message.content == TEXT
    assert chaos.calls[0].planted == [] and (chaos.calls[0].detail or "").startswith("planted nothing: no url, date")


def test_a_real_stream_is_left_alone_and_the_injection_says_why(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        injection = chaos.inject("openai.model.hallucination")
        chunks = gpt(upstream).chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert [c.fault for c in chaos.calls] == [None]
    assert chaos.unapplied() == [(injection, "no call to openai reached it with an answer to change (on a real "
                                             "server, it acts only on answers that are not streamed)")]


def test_a_real_stream_the_fault_is_forced_on_is_refused_with_the_reason(upstream: str) -> None:
    from chaoskit.providers import profile
    from chaoskit.providers._profile import CallRequest, RenderContext, UpstreamAnswer

    req = CallRequest("POST", upstream + "/v1/chat/completions", {}, json.dumps({"stream": True}).encode())
    ctx = RenderContext(ident="x", rng_source=lambda: __import__("random").Random(1), idle=None, take_reply=lambda: "", upstream=True)
    with pytest.raises(UpstreamAnswer, match="on a real stream a value can be split across events"):
        profile("openai").render(chaoskit.faults.get("openai.model.hallucination"), req, ctx)


REAL_BODIES = {
    ("openai", "chat"): ({"id": "chatcmpl-real", "usage": {"total_tokens": 9},
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Order A100 is late."}}]},
                         lambda b: b["choices"][0]["message"]["content"]),
    ("openai", "responses"): ({"id": "resp_real", "output": [{"type": "message", "content": [
                                  {"type": "output_text", "text": "Order A100 is late."}]}]},
                              lambda b: b["output"][0]["content"][0]["text"]),
    ("anthropic", "messages"): ({"id": "msg_real", "content": [{"type": "text", "text": "Order A100 is late."}]},
                                lambda b: b["content"][0]["text"]),
    ("gemini", "generate"): ({"responseId": "real", "candidates": [{"content": {"parts": [{"text": "Order A100 is late."}]}}]},
                             lambda b: b["candidates"][0]["content"]["parts"][0]["text"]),
}


@pytest.mark.parametrize(("provider", "endpoint"), sorted(REAL_BODIES))
def test_each_profile_plants_in_a_real_answers_text_and_keeps_the_rest(provider: str, endpoint: str) -> None:
    import random

    from chaoskit.providers import profile
    from chaoskit.providers._plan import Note, Send, Upstream
    from chaoskit.providers._profile import RenderContext

    body, text_of = REAL_BODIES[(provider, endpoint)]
    ctx = RenderContext(ident="x", rng_source=random.Random(1), idle=None, take_reply=lambda: "", upstream=True)
    fault = chaoskit.faults.get(f"{provider}.model.hallucination")
    plan = profile(provider)._hallucinated_real(endpoint, Upstream(200, (), json.dumps(body).encode()), fault.params, ctx)
    note, sent = plan[0], json.loads(plan[-1].data)  # type: ignore[union-attr]
    assert isinstance(note, Note) and isinstance(plan[-1], Send)
    [p] = note.planted or ()
    assert (p.original, text_of(sent)) == ("A100", f"Order {p.planted} is late.")
    assert {k: v for k, v in sent.items() if k not in ("choices", "output", "content", "candidates")} == \
        {k: v for k, v in body.items() if k not in ("choices", "output", "content", "candidates")}

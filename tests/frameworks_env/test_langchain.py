"""LangChain: structured output as JSON text or a tool call, with_retry, with_fallbacks to Claude, a cut stream."""

from __future__ import annotations

from typing import Any, Literal

import pydantic
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI

import chaoskit


class Triage(pydantic.BaseModel):
    intent: Literal["order_status", "refund", "complaint", "other"]
    urgent: bool


TRIAGED = Triage(intent="refund", urgent=True)
MESSAGE = "I was charged twice. Refund me now!"


def gpt(timeout: float = 10.0) -> ChatOpenAI:
    return ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", timeout=timeout, max_retries=1)


def triage_chain(timeout: float = 10.0) -> Any:
    """The app: GPT (JSON text, the json_schema method); Claude (a forced tool call) when GPT fails."""
    claude = ChatAnthropic(model="claude-haiku-4-5", api_key="sk-ant-test", timeout=timeout, max_retries=1)
    return gpt(timeout).with_structured_output(Triage).with_fallbacks([claude.with_structured_output(Triage)])


@pytest.mark.parametrize(("method", "asked"), [("json_schema", "response_format"), ("function_calling", "tool_choice")])
def test_one_structured_reply_serves_either_method(chaos: chaoskit.Chaos, method: str, asked: str) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))  # JSON text, or a call to the tool "Triage"
    assert gpt().with_structured_output(Triage, method=method).invoke(MESSAGE) == TRIAGED
    assert asked in chaos.calls[0].request_body


@pytest.mark.chaos("openai.model.schema_violation", kind="enum_outside", times=1)  # "intent": "REFUND", once
def test_with_retry_asks_again_after_a_schema_violation(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    chain = gpt().with_structured_output(Triage).with_retry(
        retry_if_exception_type=(pydantic.ValidationError,), stop_after_attempt=2, wait_exponential_jitter=False)
    assert chain.invoke(MESSAGE) == TRIAGED
    assert [c.fault for c in chaos.calls] == ["openai.model.schema_violation", None]


@pytest.mark.chaos("openai.server_error", virtual_time=True)  # the SDK's retry waits: no real time
def test_claude_answers_when_openai_keeps_failing(chaos: chaoskit.Chaos) -> None:
    chaos.reply("anthropic", chaoskit.structured_reply(TRIAGED))  # a tool_use block for the forced tool
    assert triage_chain().invoke(MESSAGE) == TRIAGED
    assert [(c.provider, c.status) for c in chaos.calls] == [("openai", 500), ("openai", 500), ("anthropic", 200)]


@pytest.mark.chaos("openai.timeout.read", virtual_time=True)
def test_a_read_timeout_is_retried_then_claude_answers(chaos: chaoskit.Chaos) -> None:
    chaos.reply("anthropic", chaoskit.structured_reply(TRIAGED))
    assert triage_chain(timeout=0.1).invoke(MESSAGE) == TRIAGED  # each OpenAI attempt ends after 0.1 s
    assert [(c.provider, c.error) for c in chaos.calls] == [("openai", "ReadTimeout")] * 2 + [("anthropic", None)]


@pytest.mark.chaos("openai.stream.cut", after_events=4)
def test_a_cut_stream_is_handed_over_without_a_finish_reason(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", "Your refund is on its way: expect it within five working days.")
    message = None
    for chunk in gpt().stream(MESSAGE):
        message = chunk if message is None else message + chunk
    assert message is not None and message.content == "Your refund is on"  # no error
    assert "finish_reason" not in message.response_metadata  # what tells a cut answer from a whole one

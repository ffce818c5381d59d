"""instructor: a response model as a forced tool call, its reask on bad output, and a fallback to Claude."""

from __future__ import annotations

from typing import Literal

import anthropic
import instructor
import openai
import pydantic
import pytest
from instructor.core import InstructorRetryException

import chaoskit


class Triage(pydantic.BaseModel):
    intent: Literal["order_status", "refund", "complaint", "other"]
    urgent: bool


TRIAGED = Triage(intent="refund", urgent=True)
MESSAGES = [{"role": "user", "content": "I was charged twice. Refund me now!"}]


def triage(timeout: float = 10.0) -> Triage:
    """The app: GPT first; Claude when GPT still fails after the SDK's and instructor's retries."""
    gpt = instructor.from_openai(openai.OpenAI(api_key="sk-test", timeout=timeout, max_retries=1))
    try:
        return gpt.chat.completions.create(model="gpt-4o-mini", response_model=Triage, messages=MESSAGES, max_retries=1)
    except InstructorRetryException:
        claude = instructor.from_anthropic(anthropic.Anthropic(api_key="sk-ant-test", timeout=timeout, max_retries=1))
        return claude.messages.create(model="claude-haiku-4-5", max_tokens=512, response_model=Triage, messages=MESSAGES)


def test_the_response_model_comes_back_as_the_forced_tool_call(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))  # a call to the tool "Triage" with these arguments
    assert triage().model_dump() == TRIAGED.model_dump()
    [call] = chaos.calls
    assert call.request_body["tool_choice"] == {"type": "function", "function": {"name": "Triage"}}


@pytest.mark.chaos("openai.malformed.tool_args", times=1)  # arguments that are not JSON, once
def test_instructor_sends_the_validation_error_back_and_asks_again(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    assert triage().model_dump() == TRIAGED.model_dump()
    first, second = chaos.calls
    assert (first.fault, second.fault) == ("openai.malformed.tool_args", None)
    assert second.request_body["messages"][-1]["content"].startswith("Validation Error found")


@pytest.mark.chaos("openai.server_error", virtual_time=True)  # the SDK's retry waits: no real time
def test_claude_answers_when_openai_keeps_failing(chaos: chaoskit.Chaos) -> None:
    chaos.reply("anthropic", chaoskit.structured_reply(TRIAGED))  # a forced tool_use block for Claude
    assert triage().model_dump() == TRIAGED.model_dump()
    assert [(c.provider, c.status) for c in chaos.calls] == [("openai", 500), ("openai", 500), ("anthropic", 200)]


@pytest.mark.chaos("openai.timeout.read", virtual_time=True)
def test_a_read_timeout_is_retried_then_falls_back(chaos: chaoskit.Chaos) -> None:
    chaos.reply("anthropic", chaoskit.structured_reply(TRIAGED))
    assert triage(timeout=0.1).model_dump() == TRIAGED.model_dump()  # each OpenAI attempt ends after 0.1 s
    assert [(c.provider, c.error) for c in chaos.calls] == [("openai", "ReadTimeout")] * 2 + [("anthropic", None)]


@pytest.mark.chaos("openai.stream.cut", after_events=6)  # the stream stops cleanly after "intent"
def test_a_cut_stream_ends_the_partials_quietly_with_a_field_missing(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))  # streamed, to the tool "PartialTriage"
    gpt = instructor.from_openai(openai.OpenAI(api_key="sk-test"))
    *_, last = gpt.chat.completions.create_partial(model="gpt-4o-mini", response_model=Triage, messages=MESSAGES)
    assert (last.intent, last.urgent) == ("refund", None)  # no error: check that the last partial is whole
    with pytest.raises(pydantic.ValidationError):
        Triage.model_validate(last.model_dump())

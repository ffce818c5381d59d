"""pydantic-ai: structured output as the final_result tool, its output retry, FallbackModel, a cut stream."""

from __future__ import annotations

from typing import Literal

import anthropic
import openai
import pydantic
import pytest
from pydantic_ai import Agent
from pydantic_ai.exceptions import UnexpectedModelBehavior
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

import chaoskit


class Triage(pydantic.BaseModel):
    intent: Literal["order_status", "refund", "complaint", "other"]
    urgent: bool


TRIAGED = Triage(intent="refund", urgent=True)
MESSAGE = "I was charged twice. Refund me now!"


def triage_agent(timeout: float = 10.0) -> Agent[None, Triage]:
    """The app: GPT, then Claude (FallbackModel), each SDK retrying once on its own."""
    gpt = openai.AsyncOpenAI(api_key="sk-test", timeout=timeout, max_retries=1)
    claude = anthropic.AsyncAnthropic(api_key="sk-ant-test", timeout=timeout, max_retries=1)
    model = FallbackModel(
        OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(openai_client=gpt)),
        AnthropicModel("claude-haiku-4-5", provider=AnthropicProvider(anthropic_client=claude)),
    )
    return Agent(model, output_type=Triage, instructions="Classify the customer's message.")


def test_the_output_comes_back_as_a_call_to_final_result(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))  # the one tool the request offers: final_result
    assert triage_agent().run_sync(MESSAGE).output == TRIAGED
    [call] = chaos.calls
    assert call.request_body["tools"][0]["function"]["name"] == "final_result"


@pytest.mark.chaos("openai.malformed.tool_args", times=1)  # arguments that are not JSON, once
def test_pydantic_ai_sends_the_validation_error_back_and_asks_again(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    assert triage_agent().run_sync(MESSAGE).output == TRIAGED
    first, second = chaos.calls
    assert (first.fault, second.fault) == ("openai.malformed.tool_args", None)
    assert "json_invalid" in second.request_body["messages"][-1]["content"]  # the tool result it sent back


@pytest.mark.chaos("openai.server_error")
def test_the_fallback_model_moves_to_claude(chaos: chaoskit.Chaos) -> None:
    chaos.reply("anthropic", chaoskit.structured_reply(TRIAGED))  # a tool_use block for final_result
    assert triage_agent().run_sync(MESSAGE).output == TRIAGED
    assert [(c.provider, c.status) for c in chaos.calls] == [("openai", 500), ("openai", 500), ("anthropic", 200)]


@pytest.mark.chaos("openai.timeout.read")
def test_a_read_timeout_is_retried_then_claude_answers(chaos: chaoskit.Chaos) -> None:
    chaos.reply("anthropic", chaoskit.structured_reply(TRIAGED))
    assert triage_agent(timeout=0.1).run_sync(MESSAGE).output == TRIAGED  # each OpenAI attempt ends after 0.1 s
    assert [(c.provider, c.error) for c in chaos.calls] == [("openai", "ReadTimeout")] * 2 + [("anthropic", None)]


@pytest.mark.anyio
@pytest.mark.chaos("openai.stream.cut", after_events=6)  # the stream stops cleanly inside the arguments
async def test_a_cut_stream_fails_the_output_validation(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    with pytest.raises(UnexpectedModelBehavior, match="Output validation failed during streaming"):
        async with triage_agent().run_stream(MESSAGE) as result:
            await result.get_output()
    assert chaos.calls[0].complete is False

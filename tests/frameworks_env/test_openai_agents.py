"""openai-agents: output types as Responses API JSON, a tool error fed back to the model, a backup model."""

from __future__ import annotations

import json
from typing import Literal

import openai
import pydantic
import pytest
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_export_api_key,
)
from agents.exceptions import ModelBehaviorError

import chaoskit

set_tracing_export_api_key("sk-test")  # traces are exported, as with OPENAI_API_KEY set; chaoskit answers them


class Triage(pydantic.BaseModel):
    intent: Literal["order_status", "refund", "complaint", "other"]
    urgent: bool


TRIAGED = Triage(intent="refund", urgent=True)
MESSAGE = "I was charged twice for order A100. Refund me now!"
BACKUP = "https://llm-backup.internal/v1"  # an OpenAI-compatible deployment of your own


@function_tool
def lookup_order(order_id: str) -> str:
    """Find an order by its id."""
    return json.dumps({"order_id": order_id, "state": "charged twice"})


def agent(timeout: float = 10.0, base: str | None = None) -> Agent[None]:
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=base, timeout=timeout, max_retries=1)
    model = OpenAIChatCompletionsModel("gpt-4o-mini", client) if base else OpenAIResponsesModel("gpt-4o-mini", client)
    return Agent(name="triage", instructions="Classify the message.", output_type=Triage, tools=[lookup_order], model=model)


def triage(timeout: float = 10.0) -> Triage:
    """The app: the Responses API; the backup deployment's Chat Completions when it still fails."""
    try:
        return Runner.run_sync(agent(timeout), MESSAGE).final_output_as(Triage)
    except openai.APIError:
        return Runner.run_sync(agent(timeout, base=BACKUP), MESSAGE).final_output_as(Triage)


def test_the_output_type_comes_back_as_json_text(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))  # JSON text, as text.format asks
    assert triage() == TRIAGED
    [call] = chaos.calls
    assert call.request_body["text"]["format"]["name"] == "final_output"


@pytest.mark.chaos("openai.malformed.tool_args", times=1)  # the first tool call's arguments are not JSON
def test_a_broken_tool_call_goes_back_to_the_model_as_a_tool_error(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.tool_call("lookup_order", {"order_id": "A100"}), chaoskit.structured_reply(TRIAGED))
    assert triage() == TRIAGED
    broken, again, answer = chaos.calls
    assert (broken.fault, again.fault, answer.fault) == ("openai.malformed.tool_args", None, None)
    assert again.request_body["input"][-1]["output"] == "An error occurred while running the tool. Please try again."


@pytest.mark.chaos("openai.server_error", url="https://api.openai.com/*")  # OpenAI only, not the backup
def test_the_backup_deployment_answers_when_openai_keeps_failing(chaos: chaoskit.Chaos) -> None:
    chaos.route(BACKUP, provider="openai")  # chaoskit simulates it as OpenAI
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))  # JSON text on Chat Completions too
    assert triage() == TRIAGED
    assert [(c.endpoint, c.status) for c in chaos.calls] == [("responses", 500), ("responses", 500), ("chat", 200)]


@pytest.mark.chaos("openai.timeout.read", url="https://api.openai.com/*")
def test_a_read_timeout_is_retried_then_the_backup_answers(chaos: chaoskit.Chaos) -> None:
    chaos.route(BACKUP, provider="openai")
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    assert triage(timeout=0.1) == TRIAGED  # each attempt on OpenAI ends after 0.1 s
    assert [c.error for c in chaos.calls] == ["ReadTimeout", "ReadTimeout", None]


@pytest.mark.anyio
@pytest.mark.chaos("openai.stream.cut", after_events=6)  # the stream stops cleanly inside the JSON
async def test_a_cut_stream_ends_the_run_with_model_behavior_error(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    result = Runner.run_streamed(agent(), MESSAGE)
    with pytest.raises(ModelBehaviorError, match="did not produce a final response"):
        async for _ in result.stream_events():
            pass
    assert chaos.calls[0].text == '{"intent":"refund","urgent'  # what the stream delivered before it stopped

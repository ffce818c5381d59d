"""llama-index: structured output as JSON text, a workflow step's retry, a backup deployment, and retries twice over."""

from __future__ import annotations

from typing import Literal

import openai
import pydantic
import pytest
from llama_index.core.prompts import PromptTemplate
from llama_index.core.workflow import StartEvent, StopEvent, Workflow, step
from llama_index.llms.openai import OpenAI
from workflows.retry_policy import retry_if_exception_type, retry_policy, stop_after_attempt, wait_fixed

import chaoskit


class Triage(pydantic.BaseModel):
    intent: Literal["order_status", "refund", "complaint", "other"]
    urgent: bool


TRIAGED = Triage(intent="refund", urgent=True)
PROMPT = PromptTemplate("Classify this customer message: {message}")
MESSAGE = "I was charged twice. Refund me now!"
BACKUP = "https://llm-backup.internal/v1"  # an OpenAI-compatible deployment of your own


def gpt(timeout: float = 10.0, max_retries: int = 1, base: str | None = None) -> OpenAI:
    """``max_retries`` goes to the SDK and to llama-index's own retry (1: the SDK's alone)."""
    return OpenAI(model="gpt-4o-mini", api_key="sk-test", api_base=base, timeout=timeout, max_retries=max_retries)


def triage(timeout: float = 10.0) -> Triage:
    """The app: OpenAI; the backup deployment when OpenAI still fails after the SDK's retry."""
    try:
        return gpt(timeout).structured_predict(Triage, PROMPT, message=MESSAGE)
    except openai.APIError:
        return gpt(timeout, base=BACKUP).structured_predict(Triage, PROMPT, message=MESSAGE)


def test_structured_predict_asks_for_json_text_and_parses_it(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))  # JSON text, as response_format asks
    assert triage() == TRIAGED
    [call] = chaos.calls
    assert call.request_body["response_format"]["json_schema"]["name"] == "Triage"


class TriageFlow(Workflow):
    """A workflow whose step runs again, once, when the model's output breaks the schema."""

    @step(retry_policy=retry_policy(retry=retry_if_exception_type(pydantic.ValidationError), wait=wait_fixed(0), stop=stop_after_attempt(2)))
    async def classify(self, ev: StartEvent) -> StopEvent:
        return StopEvent(result=await gpt().astructured_predict(Triage, PROMPT, message=ev.message))


@pytest.mark.anyio
@pytest.mark.chaos("openai.model.schema_violation", kind="enum_outside", times=1)  # "intent": "REFUND", once
async def test_the_workflow_step_runs_again_on_a_schema_violation(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    assert await TriageFlow(timeout=10).run(message=MESSAGE) == TRIAGED
    assert [c.fault for c in chaos.calls] == ["openai.model.schema_violation", None]


@pytest.mark.chaos("openai.server_error", url="https://api.openai.com/*", virtual_time=True)  # not the backup
def test_the_backup_deployment_answers_when_openai_keeps_failing(chaos: chaoskit.Chaos) -> None:
    chaos.route(BACKUP, provider="openai")  # chaoskit simulates it as OpenAI
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    assert triage() == TRIAGED
    assert [(c.url.split("/v1")[0], c.status) for c in chaos.calls] == [
        ("https://api.openai.com", 500), ("https://api.openai.com", 500), ("https://llm-backup.internal", 200)]


@pytest.mark.chaos("openai.timeout.read", url="https://api.openai.com/*", virtual_time=True)
def test_a_read_timeout_is_retried_then_the_backup_answers(chaos: chaoskit.Chaos) -> None:
    chaos.route(BACKUP, provider="openai")
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    assert triage(timeout=0.1) == TRIAGED  # each OpenAI attempt ends after 0.1 s
    assert [c.error for c in chaos.calls] == ["ReadTimeout", "ReadTimeout", None]


@pytest.mark.chaos("openai.stream.cut", after_events=4)  # the stream stops cleanly at {"intent":"refund
def test_a_cut_stream_ends_on_a_partial_object(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))  # streamed JSON text
    *_, last = gpt().stream_structured_predict(Triage, PROMPT, message=MESSAGE)
    assert not isinstance(last, Triage)  # no error: a partial FlexibleTriage is the last thing yielded
    assert (last.intent, last.urgent) == ("refund", None)


@pytest.mark.chaos("openai.server_error", times=5, virtual_time=True)  # the retries' waits cost no real time
def test_llama_index_retries_what_the_sdk_already_retried(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", chaoskit.structured_reply(TRIAGED))
    assert gpt(max_retries=2).structured_predict(Triage, PROMPT, message=MESSAGE) == TRIAGED
    # 2 llama-index attempts (tenacity, 1-20 s apart) of 3 SDK attempts each: 6 requests for one answer
    assert [c.retry_count for c in chaos.calls] == [0, 1, 2, 0, 1, 2]
    assert [v.name for v in chaos.verdicts()] == ["retry_storm"]

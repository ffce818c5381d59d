"""The support assistant again, this time as a pydantic-ai ``Agent``: OpenAI, then Anthropic, then a person.

``SupportAgent.answer`` runs an agent on gpt-4o-mini with one tool, ``lookup_order``; pydantic-ai's
``FallbackModel`` moves to Claude when OpenAI fails or refuses, and when the run still ends without
an answer a person gets the question (``handoff.escalate``). ``SupportAgent.triage`` classifies a
message into a ``Triage`` (structured output); when the model's output keeps breaking the schema
after pydantic-ai's own retries, the message is left unsorted with a ticket for a person.

The guards a careful team adds on top of pydantic-ai, each a module-level name a test can swap:

- ``only_looked_up_order_ids``: an output validator; an answer that names an order id
  ``lookup_order`` did not return in this run is sent back to the model (``ModelRetry``), and
  after pydantic-ai's retries a person answers instead. A made-up order id is never shown.
- ``FALLBACK_ON``: refusals too, not only API errors. pydantic-ai turns OpenAI's ``message.refusal``
  into a response with no parts and ``finish_reason='content_filter'``, which ends the run with
  ``ContentFilterError`` unless the ``FallbackModel`` is told to move on from it.
- ``reply_on_failure``: a run that ends in an error becomes a ticket and a holding answer; the
  error's text (a ``ContentFilterError`` carries the refusal's words) is never shown.
- ``TRIAGE_ERRORS``: a triage whose output broke the schema past the retries is left for a person.
- ``REQUEST_LIMIT``: the most model requests one run may make (``UsageLimits``), so a model that
  keeps calling tools is stopped instead of paid for without end.

Run it against the real APIs (keys from ``OPENAI_API_KEY`` and ``ANTHROPIC_API_KEY``)::

    cd examples && python -m support_agent.app "Where is my order A100?"
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, Literal

import anthropic
import openai
import pydantic
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.exceptions import AgentRunError, ContentFilterError, FallbackExceptionGroup, ModelAPIError
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import UsageLimits
from support_bot import handoff

from .orders import ORDER_ID, lookup_order

__all__ = ["Reply", "SupportAgent", "Triage", "UNSORTED"]

log = logging.getLogger(__name__)

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"
MAX_TOKENS = 1024

SYSTEM_PROMPT = (
    "You are the customer-support assistant of Acme Store. Answer briefly and politely. "
    "To tell a customer where an order is, call lookup_order; never guess an order's status."
)
HANDOFF_TEXT = (
    "I've passed your question to a member of our team; they will get back to you by email "
    "shortly. Sorry for the wait!"
)
TRIAGE_PROMPT = "Classify the customer's message for the support team's queue."

Provider = Literal["openai", "anthropic", "human"]


@dataclass(frozen=True)
class Reply:
    """What the customer gets: the text, who answered, and the ticket when a person took over."""

    text: str
    provider: Provider
    handed_off: bool = False
    ticket: str | None = None


# ---- guards ----------------------------------------------------------------------------------

#: What moves a request from OpenAI to Anthropic: any API error left after the SDK's own retries, and a
#: refusal (``ContentFilterError`` stands for a response with ``finish_reason='content_filter'``; the
#: ``FallbackModel`` default, ``(ModelAPIError,)``, would end the run on it instead).
FALLBACK_ON: tuple[type[Exception], ...] = (ModelAPIError, ContentFilterError)

#: The most model requests one run may make, tool rounds and output retries included.
REQUEST_LIMIT: int | None = 6


def looked_up_order_ids(messages: list[ModelMessage]) -> set[str]:
    """The order ids ``lookup_order`` found in this run, read from its results in the conversation."""
    found = set()
    for message in messages:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            result = part.content if isinstance(part, ToolReturnPart) and part.tool_name == "lookup_order" else None
            if isinstance(result, dict) and "error" not in result:
                found.add(str(result.get("order_id")))
    return found


def only_looked_up_order_ids(ctx: RunContext[Any], text: str) -> str:
    """``text``, if every order id it names came back from ``lookup_order`` in this run.

    Otherwise the model is asked again (``ModelRetry``); the feedback does not repeat the id, as a
    made-up value is not sent anywhere, the model included.
    """
    if set(ORDER_ID.findall(text)) - looked_up_order_ids(ctx.messages):
        raise ModelRetry(
            "Your answer names an order id that lookup_order did not return in this conversation. "
            "Call lookup_order for every order you mention, and state only what it returned."
        )
    return text


def reply_on_failure(question: str, error: BaseException) -> Reply:
    """The customer's answer when the run ended without one: a ticket for a person, and a holding text.

    The reason (error classes only) is for the team; the error's own text never reaches the customer.
    """
    ticket = handoff.escalate(question, _reason(error))
    return Reply(HANDOFF_TEXT, "human", handed_off=True, ticket=ticket.id)


def _reason(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_reason(inner) for inner in error.exceptions)
    return type(error).__name__


# ---- triage: structured output ----------------------------------------------------------------


class Triage(pydantic.BaseModel):
    """Where a message goes in the support queue: its intent, and whether it is urgent."""

    model_config = pydantic.ConfigDict(extra="forbid")  # a field we did not ask for is a bad answer too

    intent: Literal["order_status", "refund", "complaint", "other"]
    urgent: bool


#: The triage of a message the model could not classify: a person reads it.
UNSORTED = Triage(intent="other", urgent=False)

#: What leaves a triage to a person: the run ended without a valid ``Triage`` (``UnexpectedModelBehavior``
#: once pydantic-ai's output retries are spent, ``ModelAPIError``, ``UsageLimitExceeded``) or every model failed.
TRIAGE_ERRORS: tuple[type[BaseException], ...] = (AgentRunError, FallbackExceptionGroup)

# ---- the agent ------------------------------------------------------------------------------------


def _openai_key() -> str:
    return os.environ.get("OPENAI_API_KEY", "sk-demo")


def _anthropic_key() -> str:
    return os.environ.get("ANTHROPIC_API_KEY", "sk-ant-demo")


class SupportAgent:
    """Answers and triages customer messages with pydantic-ai; never raises for a model failure.

    ``timeout`` (seconds per request, default 10), ``connect_timeout`` (5) and ``max_retries`` (2, the
    SDKs' own retries of 408, 409, 429, 5xx and connection errors) go to the SDK clients.
    ``FALLBACK_ON`` and ``only_looked_up_order_ids`` are read from this module when the agent is built;
    ``REQUEST_LIMIT``, ``reply_on_failure`` and ``TRIAGE_ERRORS`` at each call.
    """

    def __init__(self, *, timeout: float = 10.0, connect_timeout: float = 5.0, max_retries: int = 2) -> None:
        self.openai = openai.AsyncOpenAI(
            api_key=_openai_key(), timeout=openai.Timeout(timeout, connect=connect_timeout), max_retries=max_retries,
        )
        self.anthropic = anthropic.AsyncAnthropic(
            api_key=_anthropic_key(), timeout=anthropic.Timeout(timeout, connect=connect_timeout), max_retries=max_retries,
        )
        model = FallbackModel(
            OpenAIChatModel(OPENAI_MODEL, provider=OpenAIProvider(openai_client=self.openai)),
            AnthropicModel(ANTHROPIC_MODEL, provider=AnthropicProvider(anthropic_client=self.anthropic)),
            fallback_on=FALLBACK_ON,
        )
        settings = ModelSettings(max_tokens=MAX_TOKENS)
        self.agent = Agent(model, instructions=SYSTEM_PROMPT, tools=[lookup_order], model_settings=settings)
        self.agent.output_validator(only_looked_up_order_ids)
        self.triage_agent = Agent(model, instructions=TRIAGE_PROMPT, output_type=Triage, model_settings=settings)

    def answer(self, question: str) -> Reply:
        """Answer with OpenAI, else Anthropic, else open a ticket for a person (blocking)."""
        try:
            result = self.agent.run_sync(question, usage_limits=UsageLimits(request_limit=REQUEST_LIMIT))
        except (AgentRunError, FallbackExceptionGroup) as exc:
            log.warning("the agent ended without an answer (%s); handing off to a person", _reason(exc))
            return reply_on_failure(question, exc)
        return Reply(result.output, _provider(result.response.provider_name))

    async def answer_async(self, question: str) -> Reply:
        """``answer`` for asyncio apps."""
        try:
            result = await self.agent.run(question, usage_limits=UsageLimits(request_limit=REQUEST_LIMIT))
        except (AgentRunError, FallbackExceptionGroup) as exc:
            log.warning("the agent ended without an answer (%s); handing off to a person", _reason(exc))
            return reply_on_failure(question, exc)
        return Reply(result.output, _provider(result.response.provider_name))

    def triage(self, message: str) -> Triage:
        """Classify ``message``; ``UNSORTED``, with a ticket for a person, when no model gives a valid one."""
        try:
            return self.triage_agent.run_sync(message, usage_limits=UsageLimits(request_limit=REQUEST_LIMIT)).output
        except TRIAGE_ERRORS as exc:
            log.warning("triage failed (%s); leaving the message for a person", _reason(exc))
            handoff.escalate(message, f"triage: {_reason(exc)}")
            return UNSORTED

    async def aclose(self) -> None:
        """Close both SDK clients (the providers leave clients they were given to their owner)."""
        await self.openai.close()
        await self.anthropic.close()

    async def __aenter__(self) -> SupportAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _provider(name: str | None) -> Provider:
    return "anthropic" if name == "anthropic" else "openai"


async def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    question = " ".join(argv) or "Where is my order A100?"
    async with SupportAgent() as agent:
        reply = await agent.answer_async(question)
    print(f"[{reply.provider}] {reply.text}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))

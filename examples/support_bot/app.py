"""A customer-support assistant: OpenAI first, Anthropic as the fallback, then a person.

``SupportBot.answer`` asks gpt-4o-mini (with one tool, ``lookup_order``). If OpenAI fails
— an API error after the SDK's own retries, a timeout, a reply we cannot use — it asks
Claude the same question; if that fails too, it opens a ticket for the support team
(``handoff.escalate``) and tells the customer so. The customer never sees an error, nor a
model's refusal, an answer cut at the token limit, a made-up order id, a non-answer, an answer in
another language or our own instructions; a model that keeps calling tools is cut off after
``MAX_TOOL_ROUNDS``. ``SupportBot.triage`` classifies a message
with a structured-output call; a refusal or JSON that breaks the schema leaves it for a person.

Run it against the real APIs (keys from ``OPENAI_API_KEY`` and ``ANTHROPIC_API_KEY``)::

    cd examples && python -m support_bot.app "Where is my order A100?"
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import anthropic
import openai
import pydantic
from openai.types.chat import ChatCompletion

from . import handoff

__all__ = ["Answer", "AnswerStream", "AsyncSupportBot", "SupportBot", "ToolRun", "Triage", "lookup_order"]

log = logging.getLogger(__name__)

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"
MAX_TOKENS = 1024
MAX_TOOL_ROUNDS = 3

SYSTEM_PROMPT = (
    "You are the customer-support assistant of Acme Store. Answer briefly and politely. "
    "To tell a customer where an order is, call lookup_order; never guess an order's status."
)
HANDOFF_TEXT = (
    "I've passed your question to a member of our team; they will get back to you by email "
    "shortly. Sorry for the wait!"
)
STREAM_BROKEN_TEXT = "\n\n(Sorry, that answer was cut off. Here it is in full:)\n\n"

Provider = Literal["openai", "anthropic", "human"]


# ---- the tool ---------------------------------------------------------------------------

ORDERS: dict[str, dict[str, str]] = {
    "A100": {"status": "shipped", "carrier": "DHL", "eta": "2026-11-14"},
    "A101": {"status": "processing", "eta": "2026-11-18"},
    "A102": {"status": "delivered", "delivered_on": "2026-11-02"},
}


def lookup_order(order_id: str) -> dict[str, str]:
    """The status of an order, from the order system (a dict in this example)."""
    order = ORDERS.get(order_id.strip().upper())
    if order is None:
        return {"order_id": order_id, "error": "no order with this id"}
    return {"order_id": order_id, **order}


TOOLS: dict[str, Callable[..., dict[str, str]]] = {"lookup_order": lookup_order}
_ORDER_ID_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "description": "The order id, e.g. A100."}},
    "required": ["order_id"],
}
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up the status of a customer's order.",
            "parameters": _ORDER_ID_SCHEMA,
        },
    }
]
ANTHROPIC_TOOLS = [
    {
        "name": "lookup_order",
        "description": "Look up the status of a customer's order.",
        "input_schema": _ORDER_ID_SCHEMA,
    }
]


# ---- answers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolRun:
    """One tool call the model asked for, and what the tool returned."""

    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """What the customer gets: the text, who answered, and whether a person took over."""

    text: str
    provider: Provider
    handed_off: bool = False
    tool_calls: tuple[ToolRun, ...] = ()
    ticket: str | None = None


class UnusableReply(Exception):
    """The provider answered, but with nothing we can show or act on."""


#: What makes us give up on a provider and try the next one. JSONDecodeError: a body
#: that is not JSON (the SDK parses it lazily and lets the error through).
OPENAI_ERRORS = (openai.OpenAIError, json.JSONDecodeError, UnusableReply)
ANTHROPIC_ERRORS = (anthropic.AnthropicError, json.JSONDecodeError, UnusableReply)


def _run_tool(name: str, arguments: object) -> ToolRun:
    """Run a tool the model asked for; a call we cannot run makes the reply unusable."""
    tool = TOOLS.get(name)
    if tool is None:
        raise UnusableReply(f"the model called an unknown tool {name!r}")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise UnusableReply(f"{name}: arguments are not JSON") from exc
    if not isinstance(arguments, dict):
        raise UnusableReply(f"{name}: arguments are not an object")
    try:
        result = tool(**arguments)
    except (TypeError, AttributeError) as exc:  # missing, extra or mistyped arguments
        raise UnusableReply(f"{name}: bad arguments") from exc
    return ToolRun(name, arguments, result)


# ---- guardrail: order ids the model states are checked against the order system --------------

#: How an order id looks in an answer (A100).
ORDER_ID = re.compile(r"\b[A-Z]\d{3,}\b")


def unknown_order_ids(text: str) -> list[str]:
    """The order ids ``text`` names that the order system does not know: the model made them up."""
    return [found for found in ORDER_ID.findall(text) if "error" in lookup_order(found)]


def checked_order_ids(text: str) -> str:
    """``text``, if every order id it names is a real order; else the reply is unusable (the
    next provider, or a person, answers instead of showing a made-up order)."""
    unknown = unknown_order_ids(text)
    if unknown:
        raise UnusableReply(f"the answer names order ids we do not have: {', '.join(unknown)}")
    return text


def _usable_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise UnusableReply("the reply has no text")
    return text


# ---- guards on what the model said (a valid response can still be no answer) -------------


class Refused(UnusableReply):
    """The model declined to answer: OpenAI's ``message.refusal``, Anthropic's stop_reason "refusal"."""


def _not_leaking(text: str) -> str:
    """``text``, unless it repeats our instructions (a prompt leak): a long enough piece of the system
    prompt in an answer is never shown."""
    pieces = [SYSTEM_PROMPT[i : i + 40] for i in range(0, max(1, len(SYSTEM_PROMPT) - 39), 20)]
    if any(piece in text for piece in pieces):
        raise UnusableReply("the answer repeats the system prompt")
    return text


#: What an answer that answers nothing says: a customer is not left with one of these.
NON_ANSWER = re.compile(
    r"\b(i'?m not sure|i (do not|don'?t) know|i can'?t say|(do not|don'?t) have enough information|"
    r"unable to help|can'?t help with that)\b", re.I,
)
#: Short English words; an English question answered with none of them was answered in another language.
_ENGLISH = frozenset("the a an is are was were your you we our it its has have will be to of and in on for with "
                     "this that my where when what how please thank thanks order i me not no can can't don't do "
                     "know sure help sorry".split())


def answers_something(text: str) -> str:
    """``text``, unless it is a non-answer ("I'm not sure I can help with that."): then the next
    provider, or a person, answers instead of closing the question as answered."""
    if NON_ANSWER.search(text) and len(text) < 200:
        raise UnusableReply("the answer says nothing")
    return text


def _english(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return bool(words) and sum(w in _ENGLISH for w in words) * 8 >= len(words)


def in_the_customers_language(question: str, text: str) -> str:
    """``text``, if it is in the question's language (this shop answers English questions in English)."""
    if _english(question) and re.search(r"[^\W\d_]", text) and not _english(text):  # (a blank answer is checked elsewhere)
        raise UnusableReply("the answer is not in the customer's language")
    return text


def _openai_reply_text(message: Any, finish_reason: str | None) -> str:
    """The text of an OpenAI answer we can show: not a refusal (the fallback answers instead; the
    refusal's wording is never shown), not cut at the token limit, not blank, not our instructions."""
    if getattr(message, "refusal", None):
        raise Refused("openai refused")
    if finish_reason == "length":
        raise UnusableReply("the answer stopped at the token limit")
    return _not_leaking(_usable_text(message.content))


def _anthropic_reply_text(message: Any) -> str:
    """The text of an Anthropic answer we can show (see ``_openai_reply_text``)."""
    if message.stop_reason == "refusal":
        raise Refused("anthropic refused")
    if message.stop_reason == "max_tokens":
        raise UnusableReply("the answer stopped at the token limit")
    return _not_leaking(_usable_text("".join(b.text for b in message.content if b.type == "text")))


class _OpenAIChat:
    """One conversation with Chat Completions, tool loop included, without the I/O.

    ``request()`` gives the arguments of the next call; ``feed(completion)`` takes its
    result and returns the final text, or None when tool results were added and the
    model must be called again.
    """

    def __init__(self, question: str) -> None:
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question},
        ]
        self.runs: list[ToolRun] = []
        self.rounds = 0

    def request(self) -> dict[str, Any]:
        return {"model": OPENAI_MODEL, "messages": self.messages, "tools": OPENAI_TOOLS}

    def feed(self, completion: object) -> str | None:
        # With a proxy or a gateway in the way, a 200 can carry anything: the SDK hands us a
        # str for an HTML page and a ChatCompletion with choices=None for a body without them.
        if not isinstance(completion, ChatCompletion) or not completion.choices:
            raise UnusableReply("the reply has no choices")
        choice = completion.choices[0]
        message = choice.message
        if message is None or choice.finish_reason == "content_filter":
            raise UnusableReply("the reply has no message")
        if not message.tool_calls:
            return _openai_reply_text(message, choice.finish_reason)
        self.rounds += 1
        if self.rounds > MAX_TOOL_ROUNDS:
            raise UnusableReply("too many tool rounds")
        calls = [
            (c.id, c.function.name, c.function.arguments)
            for c in message.tool_calls
            if getattr(c, "function", None) is not None
        ]
        if len(calls) != len(message.tool_calls):
            raise UnusableReply("the model called a tool that is not a function")
        self.messages.append(
            {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}
                    for id_, name, args in calls
                ],
            }
        )
        for id_, name, args in calls:
            run = _run_tool(name, args)
            self.runs.append(run)
            self.messages.append({"role": "tool", "tool_call_id": id_, "content": json.dumps(run.result)})
        return None


class _AnthropicChat:
    """The same conversation with the Messages API (see ``_OpenAIChat``)."""

    def __init__(self, question: str) -> None:
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        self.runs: list[ToolRun] = []
        self.rounds = 0

    def request(self) -> dict[str, Any]:
        return {
            "model": ANTHROPIC_MODEL,
            "max_tokens": MAX_TOKENS,
            "system": SYSTEM_PROMPT,
            "messages": self.messages,
            "tools": ANTHROPIC_TOOLS,
        }

    def feed(self, message: object) -> str | None:
        if not isinstance(message, anthropic.types.Message) or not message.content:
            raise UnusableReply("the reply has no content")
        blocks = message.content
        uses = [b for b in blocks if b.type == "tool_use"]
        if not uses:
            return _anthropic_reply_text(message)
        self.rounds += 1
        if self.rounds > MAX_TOOL_ROUNDS:
            raise UnusableReply("too many tool rounds")
        self.messages.append({"role": "assistant", "content": blocks})
        results = []
        for use in uses:
            run = _run_tool(use.name, use.input)
            self.runs.append(run)
            results.append({"type": "tool_result", "tool_use_id": use.id, "content": json.dumps(run.result)})
        self.messages.append({"role": "user", "content": results})
        return None


def _checked_answer(question: str, text: str, *, check_order_ids: bool) -> str:
    """``text`` if the customer may see it: it answers something, in their language, naming only real
    orders; else ``UnusableReply`` (the next provider, or a person, answers)."""
    text = in_the_customers_language(question, answers_something(text))
    return checked_order_ids(text) if check_order_ids else text


def _kind(exc: BaseException) -> str:
    """An error's class for logs and tickets (never for the customer)."""
    return type(exc).__name__


def _hand_off(question: str, openai_error: BaseException, anthropic_error: BaseException) -> Answer:
    reason = f"openai: {_kind(openai_error)}; anthropic: {_kind(anthropic_error)}"
    ticket = handoff.escalate(question, reason)
    return Answer(HANDOFF_TEXT, "human", handed_off=True, ticket=ticket.id)


# ---- triage: a structured call -------------------------------------------------------------

TRIAGE_PROMPT = "Classify the customer's message for the support team's queue."


class Triage(pydantic.BaseModel):
    """Where a message goes in the support queue: its intent, and whether it is urgent."""

    model_config = pydantic.ConfigDict(extra="forbid")  # a field we did not ask for is a bad answer too

    intent: Literal["order_status", "refund", "complaint", "other"]
    urgent: bool


#: The triage of a message the model could not classify: a person reads it.
UNSORTED = Triage(intent="other", urgent=False)


def _triage_request(question: str) -> dict[str, Any]:
    return {
        "model": OPENAI_MODEL,
        "messages": [{"role": "system", "content": TRIAGE_PROMPT}, {"role": "user", "content": question}],
        "response_format": Triage,
    }


def _checked_triage(completion: Any) -> Triage:
    """The parsed triage, or ``UNSORTED`` when the model refused (``parsed`` is None then) or gave none."""
    choice = completion.choices[0] if completion.choices else None
    message = choice.message if choice is not None else None
    if message is None or message.refusal or not isinstance(message.parsed, Triage):
        log.warning("triage: no usable classification (%s)", "refused" if message is not None and message.refusal else "none")
        return UNSORTED
    return message.parsed


#: What makes a triage call unusable: the SDK's errors (LengthFinishReasonError and
#: ContentFilterFinishReasonError among them) and JSON that breaks the schema (ValidationError).
TRIAGE_ERRORS = (openai.OpenAIError, pydantic.ValidationError, json.JSONDecodeError)


# ---- the bots ---------------------------------------------------------------------------


class _Settings:
    """Timeouts and retries shared by both bots. Defaults: 10 s per request, 5 s to connect,
    2 retries (the SDKs' own retry logic: 408, 409, 429, 5xx and connection errors)."""

    def __init__(self, timeout: float, connect_timeout: float, max_retries: int) -> None:
        self.openai_timeout = openai.Timeout(timeout, connect=connect_timeout)
        self.anthropic_timeout = anthropic.Timeout(timeout, connect=connect_timeout)
        self.max_retries = max_retries


def _openai_key() -> str:
    return os.environ.get("OPENAI_API_KEY", "sk-demo")


def _anthropic_key() -> str:
    return os.environ.get("ANTHROPIC_API_KEY", "sk-ant-demo")


class SupportBot:
    """Answers customer questions; never raises for a provider failure."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        check_order_ids: bool = True,
    ) -> None:
        s = _Settings(timeout, connect_timeout, max_retries)
        #: Check the order ids an answer names before showing it (False: the unguarded variant).
        self.check_order_ids = check_order_ids
        self.openai = openai.OpenAI(
            api_key=_openai_key(), timeout=s.openai_timeout, max_retries=s.max_retries
        )
        self.anthropic = anthropic.Anthropic(
            api_key=_anthropic_key(), timeout=s.anthropic_timeout, max_retries=s.max_retries
        )

    def answer(self, question: str) -> Answer:
        """Answer with OpenAI, else Anthropic, else open a ticket for a person."""
        try:
            return self._ask_openai(question)
        except OPENAI_ERRORS as exc:
            log.warning("openai failed (%s); falling back to anthropic", _kind(exc))
            return self._fallback(question, exc)

    def triage(self, question: str) -> Triage:
        """Classify ``question`` with a structured-output call; ``UNSORTED`` (a person reads it) when
        the model refuses, answers JSON that breaks the schema, or OpenAI fails."""
        try:
            return _checked_triage(self.openai.chat.completions.parse(**_triage_request(question)))
        except TRIAGE_ERRORS as exc:
            log.warning("triage failed (%s); leaving the message unsorted", _kind(exc))
            return UNSORTED

    def stream_answer(self, question: str) -> AnswerStream:
        """Stream the answer from OpenAI, chunk by chunk (no tools on this path).

        If the stream fails before it finishes, the customer gets a short note and then
        the full answer from the fallback (Anthropic, not streamed, or a person).
        ``AnswerStream.answer`` tells who answered once the iteration is over.
        """
        return AnswerStream(self._stream(question))

    def close(self) -> None:
        self.openai.close()
        self.anthropic.close()

    def __enter__(self) -> SupportBot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ask_openai(self, question: str) -> Answer:
        chat = _OpenAIChat(question)
        while (text := chat.feed(self.openai.chat.completions.create(**chat.request()))) is None:
            pass
        return Answer(self._shown(question, text), "openai", tool_calls=tuple(chat.runs))

    def _ask_anthropic(self, question: str) -> Answer:
        chat = _AnthropicChat(question)
        while (text := chat.feed(self.anthropic.messages.create(**chat.request()))) is None:
            pass
        return Answer(self._shown(question, text), "anthropic", tool_calls=tuple(chat.runs))

    def _shown(self, question: str, text: str) -> str:
        return _checked_answer(question, text, check_order_ids=self.check_order_ids)

    def _fallback(self, question: str, openai_error: BaseException) -> Answer:
        try:
            return self._ask_anthropic(question)
        except ANTHROPIC_ERRORS as exc:
            log.warning("anthropic failed too (%s); handing off to a person", _kind(exc))
            return _hand_off(question, openai_error, exc)

    def _stream(self, question: str) -> Generator[str, None, Answer]:
        sent: list[str] = []
        try:
            stream = self.openai.chat.completions.create(
                model=OPENAI_MODEL,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": question},
                ],
                stream=True,
            )
            finish = None
            with stream:
                for chunk in stream:
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    delta = choice.delta.content if choice.delta is not None else None
                    if delta:
                        sent.append(delta)
                        yield delta
                    finish = choice.finish_reason or finish
            # A stream can also end cleanly in the middle (a proxy closing it): no finish_reason.
            if finish in (None, "content_filter", "length"):
                raise UnusableReply(f"the stream ended without a usable finish ({finish})")
            return Answer(_usable_text("".join(sent)), "openai")
        except OPENAI_ERRORS as exc:
            log.warning("openai stream failed after %d chunk(s) (%s); falling back", len(sent), _kind(exc))
            error = exc
        if sent:
            yield STREAM_BROKEN_TEXT
        answer = self._fallback(question, error)
        yield answer.text
        return answer


class AnswerStream:
    """The chunks of a streamed answer as they arrive; ``answer`` is set when they end."""

    def __init__(self, chunks: Generator[str, None, Answer]) -> None:
        self._chunks = chunks
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            return next(self._chunks)
        except StopIteration as stop:
            self.answer = stop.value
            raise

    def close(self) -> None:
        self._chunks.close()


class AsyncSupportBot:
    """``SupportBot`` for asyncio and trio apps, on ``AsyncOpenAI`` and ``AsyncAnthropic``."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        check_order_ids: bool = True,
    ) -> None:
        s = _Settings(timeout, connect_timeout, max_retries)
        #: Check the order ids an answer names before showing it (False: the unguarded variant).
        self.check_order_ids = check_order_ids
        self.openai = openai.AsyncOpenAI(
            api_key=_openai_key(), timeout=s.openai_timeout, max_retries=s.max_retries
        )
        self.anthropic = anthropic.AsyncAnthropic(
            api_key=_anthropic_key(), timeout=s.anthropic_timeout, max_retries=s.max_retries
        )

    async def answer(self, question: str) -> Answer:
        """Answer with OpenAI, else Anthropic, else open a ticket for a person."""
        try:
            chat = _OpenAIChat(question)
            while (text := chat.feed(await self.openai.chat.completions.create(**chat.request()))) is None:
                pass
            return Answer(_checked_answer(question, text, check_order_ids=self.check_order_ids), "openai",
                          tool_calls=tuple(chat.runs))
        except OPENAI_ERRORS as exc:
            log.warning("openai failed (%s); falling back to anthropic", _kind(exc))
            openai_error = exc
        try:
            fallback = _AnthropicChat(question)
            while (text := fallback.feed(await self.anthropic.messages.create(**fallback.request()))) is None:
                pass
            return Answer(_checked_answer(question, text, check_order_ids=self.check_order_ids), "anthropic",
                          tool_calls=tuple(fallback.runs))
        except ANTHROPIC_ERRORS as exc:
            log.warning("anthropic failed too (%s); handing off to a person", _kind(exc))
            return _hand_off(question, openai_error, exc)

    async def aclose(self) -> None:
        await self.openai.close()
        await self.anthropic.close()

    async def __aenter__(self) -> AsyncSupportBot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    question = " ".join(argv) or "Where is my order A100?"
    with SupportBot() as bot:
        answer = bot.answer(question)
    print(f"[{answer.provider}] {answer.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

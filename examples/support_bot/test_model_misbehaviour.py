"""The support bot against a model that misbehaves with a valid response (issue 21, points 3-5).

A refusal, structured output that breaks its schema, an empty answer, an answer cut at the token
limit: each is a 200 the SDK accepts, so only the bot's own checks stand between it and the
customer. Each test runs the guarded bot, then a variant without the guard (the guard function
swapped out with ``monkeypatch``), where the fault gets through: the ``refusal_shown`` verdict
fires, or the bad value reaches the caller.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

import chaoskit
from support_bot import AsyncSupportBot, SupportBot, app
from support_bot.app import HANDOFF_TEXT, UNSORTED, Triage

QUESTION = "Where is my order A100?"
SHIPPED = "Your order A100 has shipped with DHL and should arrive on November 14."
REFUSAL = chaoskit.faults.get("openai.model.refusal").params["text"]


def verdict_names(chaos: chaoskit.Chaos) -> list[str]:
    return [v.name for v in chaos.verdicts()]


def careless_text(message: Any, finish_reason: str | None) -> str:
    """What the bot would do without its guard: take whatever text the message has."""
    return message.content or message.refusal or ""


# ---- refusals -------------------------------------------------------------------------------------


@pytest.mark.chaos("openai.model.refusal")
def test_a_refusal_falls_back_to_anthropic_and_is_never_shown(chaos: chaoskit.Chaos, bot: SupportBot) -> None:
    chaos.reply("anthropic", SHIPPED)
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text) == ("anthropic", SHIPPED)
    chaos.assert_graceful(reply.text)
    chaos.assert_fallback(from_="openai", to="anthropic")
    assert verdict_names(chaos) == []


@pytest.mark.chaos("openai.model.refusal")
def test_without_the_guard_the_refusal_is_the_answer_and_the_verdict_fires(
    chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "_openai_reply_text", careless_text)
    chaos.reply("anthropic", SHIPPED)
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text) == ("openai", REFUSAL)
    chaos.assert_graceful(reply.text)  # polite, no error text: only the verdict can tell
    assert verdict_names(chaos) == ["refusal_shown"]


@pytest.mark.anyio
@pytest.mark.chaos("openai.model.refusal")
async def test_the_async_bot_falls_back_on_a_refusal_too(chaos: chaoskit.Chaos, async_bot: AsyncSupportBot) -> None:
    chaos.reply("anthropic", SHIPPED)
    reply = await async_bot.answer(QUESTION)
    assert (reply.provider, reply.text) == ("anthropic", SHIPPED)
    assert verdict_names(chaos) == []


def test_both_providers_refusing_hands_off_to_a_person(chaos: chaoskit.Chaos, bot: SupportBot, tickets: list[Any]) -> None:
    chaos.inject("openai.model.refusal")
    chaos.inject("anthropic.content_filter")  # Anthropic's refusal: stop_reason "refusal"
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text, reply.handed_off) == ("human", HANDOFF_TEXT, True)
    assert len(tickets) == 1
    assert verdict_names(chaos) == []


@pytest.mark.chaos("openai.model.refusal")
def test_a_refused_triage_is_left_for_a_person(chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch) -> None:
    assert bot.triage(QUESTION) == UNSORTED
    assert chaos.calls[0].request_body["response_format"]["type"] == "json_schema"
    # without the check, the refusal's parsed=None is the result, and the caller trips on it
    monkeypatch.setattr(app, "_checked_triage", lambda completion: completion.choices[0].message.parsed)
    assert bot.triage(QUESTION) is None


# ---- structured output that breaks its schema ------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing_required", "wrong_type", "enum_outside", "extra_field"])
def test_a_triage_that_breaks_the_schema_is_left_for_a_person(
    chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch, kind: str,
) -> None:
    chaos.inject("openai.model.schema_violation", kind=kind)
    assert bot.triage(QUESTION) == UNSORTED
    assert (chaos.calls[0].detail or "").startswith(f"the response format 'Triage': {kind}: ")
    # without catching pydantic's error, the 200 the SDK accepted blows up in the caller
    monkeypatch.setattr(app, "TRIAGE_ERRORS", ())
    with pytest.raises(pydantic.ValidationError):
        bot.triage(QUESTION)


def test_a_healthy_triage_is_parsed(chaos: chaoskit.Chaos, bot: SupportBot) -> None:
    chaos.reply("openai", '{"intent": "order_status", "urgent": false}')
    assert bot.triage(QUESTION) == Triage(intent="order_status", urgent=False)


@pytest.mark.chaos("openai.model.schema_violation")
def test_tool_arguments_that_break_the_tool_schema_fall_back(chaos: chaoskit.Chaos, bot: SupportBot) -> None:
    chaos.reply("anthropic", SHIPPED)
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text) == ("anthropic", SHIPPED)
    assert (chaos.calls[0].detail or "").startswith("tool lookup_order: ")


# ---- degraded answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["openai.model.empty", "openai.model.max_tokens"])
def test_an_empty_or_cut_answer_falls_back(chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    chaos.inject(fault)
    chaos.reply("openai", SHIPPED)
    chaos.reply("anthropic", SHIPPED)
    assert bot.answer(QUESTION).provider == "anthropic"
    monkeypatch.setattr(app, "_openai_reply_text", careless_text)
    unguarded = bot.answer(QUESTION)
    assert unguarded.provider == "openai" and unguarded.text == ("" if fault.endswith("empty") else SHIPPED[: len(SHIPPED) // 2])


def test_an_answer_that_repeats_the_system_prompt_is_never_shown(
    chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "SYSTEM_PROMPT", f"{app.SYSTEM_PROMPT} Internal reference: {chaos.canary()}.")
    chaos.inject("openai.model.prompt_leak")
    chaos.reply("anthropic", SHIPPED)
    reply = bot.answer(QUESTION)
    assert reply.provider == "anthropic"
    chaos.assert_graceful(reply.text)
    # without the filter the instructions, canary and all, reach the customer
    monkeypatch.setattr(app, "_openai_reply_text", careless_text)
    leaked = bot.answer(QUESTION)
    assert leaked.provider == "openai" and app.SYSTEM_PROMPT in leaked.text
    with pytest.raises(AssertionError, match="canary"):
        chaos.assert_graceful(leaked.text)


@pytest.mark.chaos("openai.model.max_tokens")
def test_a_streamed_answer_cut_at_the_token_limit_is_replaced(chaos: chaoskit.Chaos, bot: SupportBot) -> None:
    chaos.reply("openai", SHIPPED)
    chaos.reply("anthropic", SHIPPED)
    stream = bot.stream_answer(QUESTION)
    text = "".join(stream)
    assert stream.answer is not None and stream.answer.provider == "anthropic"
    assert text.endswith(SHIPPED)


@pytest.mark.parametrize(("fault", "guard"), [
    ("openai.model.non_answer", "answers_something"),
    ("openai.model.wrong_language", "in_the_customers_language"),
])
def test_a_non_answer_or_an_answer_in_another_language_falls_back(
    chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch, fault: str, guard: str,
) -> None:
    chaos.inject(fault)
    chaos.reply("anthropic", SHIPPED)
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text) == ("anthropic", SHIPPED)
    # without the guard, the customer gets a polite answer that answers nothing, or one they cannot read
    monkeypatch.setattr(app, guard, lambda *args: args[-1])
    unguarded = bot.answer(QUESTION)
    assert unguarded.provider == "openai"
    said = chaos.calls[-1].detail or ""  # what the fault chose for this answer (each call draws its own)
    if fault.endswith("non_answer"):
        assert said == f"non-answer: {unguarded.text!r}"
    else:
        assert said.startswith("answered in ") and said.endswith("; the question is in en") and unguarded.text != SHIPPED
    chaos.assert_graceful(unguarded.text)  # polite and free of errors: only the app's own check tells


@pytest.mark.parametrize("fault", ["openai.model.non_answer", "openai.model.wrong_language"])
def test_both_providers_saying_nothing_useful_hands_off_to_a_person(
    chaos: chaoskit.Chaos, bot: SupportBot, tickets: list[Any], fault: str,
) -> None:
    chaos.inject(fault)
    chaos.inject(fault.replace("openai.", "anthropic."))
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text, len(tickets)) == ("human", HANDOFF_TEXT, 1)

"""Verdicts with no assertion written (issue 18, point 6): the test only shows the bot's answer.

The conftest marks the helpdesk as the handoff seam. The bot as written hands off when both
providers fail and shows a polite text: no verdict. A variant whose last resort shows the error
instead of opening a ticket gets ``handoff_missed`` and ``ungraceful_shown``; one that sends the
customer's email address to the model gets ``pii_sent``.
"""

from __future__ import annotations

from typing import Any

import pytest

import chaoskit
from support_bot import SupportBot, app
from support_bot.app import Answer

QUESTION = "Where is my order A100?"


def careless_hand_off(question: str, openai_error: BaseException, anthropic_error: BaseException) -> Answer:
    """No ticket; the last error is the answer."""
    return Answer(f"Sorry, something went wrong: {anthropic_error}", "human")


def names(chaos: chaoskit.Chaos) -> list[str]:
    return [v.name for v in chaos.verdicts()]


@pytest.mark.chaos("openai.auth", "anthropic.auth")  # not retried: no backoff to wait out
def test_the_bot_as_written_meets_no_verdict(chaos: chaoskit.Chaos, bot: SupportBot, tickets: list[Any]) -> None:
    chaos.shown(bot.answer(QUESTION).text)
    assert (names(chaos), len(tickets)) == ([], 1)


@pytest.mark.chaos("openai.auth", "anthropic.auth")  # not retried: no backoff to wait out
def test_a_last_resort_that_shows_the_error_is_named_without_an_assertion(
    chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "_hand_off", careless_hand_off)
    chaos.shown(bot.answer(QUESTION).text)
    assert names(chaos) == ["ungraceful_shown", "handoff_missed"]


def test_an_email_in_the_question_is_pii_sent(chaos: chaoskit.Chaos, bot: SupportBot) -> None:
    bot.answer("Where is my order A100? Mail me at jane.doe@example.com")
    [verdict] = chaos.verdicts()
    assert verdict.name == "pii_sent" and "email" in verdict.message

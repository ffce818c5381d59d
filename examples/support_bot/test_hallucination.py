"""The support bot under a model that answers with a made-up order id (``PROVIDER.model.hallucination``).

The answer is a valid 200 that the real SDKs parse as any other; only the order id in it is wrong.
The bot checks every order id an answer names against its order system before showing it, so a
made-up one is never shown: the next provider answers, or a person. The same bot without that
check shows it, and the ``hallucination_shown`` verdict names the planted id.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import chaoskit
from support_bot import AsyncSupportBot, SupportBot
from support_bot.app import HANDOFF_TEXT
from support_bot.conftest import FAST

QUESTION = "Where is my order A100?"
SHIPPED = "Your order A100 has shipped with DHL and should arrive on November 14."


@pytest.fixture
def unguarded() -> Iterator[SupportBot]:
    with SupportBot(**FAST, check_order_ids=False) as bot:
        yield bot


def arrange(chaos: chaoskit.Chaos, provider: str) -> None:
    """The fault on ``provider``'s answers (order ids only); for anthropic, OpenAI fails first."""
    if provider == "anthropic":
        chaos.inject("openai.auth")  # a 401, not retried: the bot goes straight to Claude
    chaos.inject(f"{provider}.model.hallucination", kinds=["id"])
    chaos.reply("openai", SHIPPED)
    chaos.reply("anthropic", SHIPPED)


def planted(chaos: chaoskit.Chaos) -> list[str]:
    return [p.planted for c in chaos.calls for p in c.planted or ()]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_bot_never_shows_a_made_up_order_id(chaos, bot, provider, tickets):
    arrange(chaos, provider)

    reply = bot.answer(QUESTION)

    chaos.assert_graceful(reply.text)
    [fake] = planted(chaos)
    assert fake not in reply.text
    if provider == "openai":  # Claude's answer, checked too, is shown instead
        assert (reply.provider, reply.text) == ("anthropic", SHIPPED)
    else:  # nobody left to ask: a person takes over
        assert (reply.text, len(tickets)) == (HANDOFF_TEXT, 1)
    assert chaos.verdicts() == []


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_without_the_check_the_made_up_id_is_shown_and_the_verdict_says_so(chaos, unguarded, provider):
    arrange(chaos, provider)

    reply = unguarded.answer(QUESTION)

    chaos.assert_graceful(reply.text)  # it reads well: that is what makes it dangerous
    [fake] = planted(chaos)
    assert reply.provider == provider and reply.text == SHIPPED.replace("A100", fake)
    [verdict] = chaos.verdicts()
    assert verdict.name == "hallucination_shown"
    assert f"planted {fake!r} in place of 'A100'" in verdict.message
    assert verdict.message.endswith("the app showed it to the user (user text #0)")


@pytest.mark.anyio
async def test_the_async_bot_checks_order_ids_too(chaos: chaoskit.Chaos) -> None:
    arrange(chaos, "openai")
    async with AsyncSupportBot(**FAST) as guarded:
        reply = await guarded.answer(QUESTION)
    assert (reply.provider, reply.text) == ("anthropic", SHIPPED)
    assert chaos.verdicts() == []
    async with AsyncSupportBot(**FAST, check_order_ids=False) as unguarded:
        shown = await unguarded.answer(QUESTION)
    chaos.shown(shown.text)
    assert [v.name for v in chaos.verdicts()] == ["hallucination_shown"]

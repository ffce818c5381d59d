"""The support bot against a model stuck in a tool loop (issue 21, point 2).

``openai.model.tool_loop`` makes the model call ``lookup_order`` again at every step, for as long
as the bot asks. The bot bounds its loop (``MAX_TOOL_ROUNDS``, 3): past it the reply is unusable,
so it falls back to the other provider, then a person. Without the bound (the constant raised
with ``monkeypatch``) the bot asks until the model gives up (the fault's ``limit``, 25 rounds), and
the ``unbounded_loop`` verdict reports the requests and the tokens one question cost.
"""

from __future__ import annotations

from typing import Any

import pytest

import chaoskit
from support_bot import AsyncSupportBot, SupportBot, app
from support_bot.app import HANDOFF_TEXT

QUESTION = "Where is my order A100?"
SHIPPED = "Your order A100 has shipped with DHL and should arrive on November 14."
LOOPING = chaoskit.tool_call("lookup_order", {"order_id": "A100"})
UNBOUNDED = 10**6


def requests_to(chaos: chaoskit.Chaos, provider: str) -> int:
    return sum(1 for c in chaos.calls if c.provider == provider)


@pytest.mark.chaos("openai.model.tool_loop")
def test_a_looping_model_is_cut_off_and_the_bot_falls_back(chaos: chaoskit.Chaos, bot: SupportBot) -> None:
    chaos.reply("openai", LOOPING)
    chaos.reply("anthropic", SHIPPED)
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text) == ("anthropic", SHIPPED)
    assert requests_to(chaos, "openai") == app.MAX_TOOL_ROUNDS + 1  # the request whose tool call went past the bound
    chaos.assert_fallback(from_="openai", to="anthropic")
    assert chaos.verdicts() == []


@pytest.mark.chaos("openai.model.tool_loop")
def test_without_the_bound_the_bot_loops_until_the_model_stops_and_the_verdict_fires(
    chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "MAX_TOOL_ROUNDS", UNBOUNDED)
    chaos.reply("openai", LOOPING, SHIPPED)
    reply = bot.answer(QUESTION)
    limit = chaoskit.faults.get("openai.model.tool_loop").params["limit"]
    assert (reply.provider, reply.text, len(reply.tool_calls)) == ("openai", SHIPPED, limit)
    chaos.assert_graceful(reply.text)  # a good answer in the end: only the verdict tells what it cost
    [verdict] = chaos.verdicts()
    assert verdict.name == "unbounded_loop"
    assert verdict.message.startswith(
        f"the app made {limit + 1} model requests to answer one user message (calls #0-#{limit}, {limit} rounds of tool "
        "calls) while openai.model.tool_loop kept the model calling tools; max_model_calls=10; they used "
    )


def test_both_providers_looping_hands_off_to_a_person(chaos: chaoskit.Chaos, bot: SupportBot, tickets: list[Any]) -> None:
    chaos.inject("openai.model.tool_loop")
    chaos.inject("anthropic.model.tool_loop")
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text, reply.handed_off) == ("human", HANDOFF_TEXT, True)
    assert (requests_to(chaos, "openai"), requests_to(chaos, "anthropic")) == (app.MAX_TOOL_ROUNDS + 1,) * 2
    assert len(tickets) == 1
    assert chaos.verdicts() == []


def test_an_unbounded_fallback_loops_on_anthropic_too(
    chaos: chaoskit.Chaos, bot: SupportBot, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "MAX_TOOL_ROUNDS", UNBOUNDED)
    chaos.inject("openai.auth")  # not retried: straight to the fallback
    chaos.inject("anthropic.model.tool_loop", limit=12)
    chaos.reply("anthropic", SHIPPED)
    reply = bot.answer(QUESTION)
    assert (reply.provider, reply.text, len(reply.tool_calls)) == ("anthropic", SHIPPED, 12)
    [verdict] = chaos.verdicts()
    assert verdict.name == "unbounded_loop"
    assert "13 model requests" in verdict.message and "anthropic.model.tool_loop" in verdict.message


@pytest.mark.anyio
@pytest.mark.chaos("openai.model.tool_loop")
async def test_the_async_bot_bounds_its_loop_too(chaos: chaoskit.Chaos, async_bot: AsyncSupportBot) -> None:
    chaos.reply("anthropic", SHIPPED)
    reply = await async_bot.answer(QUESTION)
    assert (reply.provider, reply.text) == ("anthropic", SHIPPED)
    assert requests_to(chaos, "openai") == app.MAX_TOOL_ROUNDS + 1
    assert chaos.verdicts() == []

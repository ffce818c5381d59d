"""One invariant over the whole OpenAI catalog: whatever OpenAI does, the customer gets a
readable answer, on the unary path and on the streaming path.

``chaos_sweep`` makes one test case per catalog fault (``test_...[openai.rate_limit]``);
a fault that cannot apply to what the bot called is reported as not exercised, not passed.
Run with ``--chaos-html reports/sweep.html`` for the resilience matrix.
"""

from __future__ import annotations

import pytest

import chaoskit
from support_bot import SupportBot

QUESTION = "Where is my order A100?"
SHIPPED = "Your order A100 has shipped with DHL and should arrive on November 14."


@pytest.mark.chaos_sweep("openai.*")
def test_every_openai_fault_gets_a_graceful_answer(chaos: chaoskit.Chaos, bot: SupportBot) -> None:
    chaos.reply("anthropic", SHIPPED)

    answer = bot.answer(QUESTION)
    chaos.assert_graceful(answer.text)

    streamed = "".join(bot.stream_answer(QUESTION))
    chaos.assert_graceful(streamed)

"""The pydantic-ai support agent against a model that misbehaves with a valid response (issue 21).

The same faults as ``support_bot/test_model_misbehaviour.py`` and ``test_hallucination.py``, under
one framework: pydantic-ai's ``Agent`` drives the real openai and anthropic SDKs, and chaoskit
answers their HTTP. Each guard is shown twice: the guarded agent answers gracefully with no verdict,
and a variant without the guard (swapped out with ``monkeypatch``) lets the fault through, so the
verdict fires or the bad value reaches the caller.

What pydantic-ai does by itself, seen here for real: it retries a structured output that broke its
schema and an answer an output validator rejected (one more model call each), and it never returns
a refusal as output (it ends the run with ``ContentFilterError``, whose message quotes the refusal).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior

import chaoskit
from support_agent import UNSORTED, Reply, SupportAgent, Triage, app
from support_agent.app import HANDOFF_TEXT
from support_agent.conftest import FAST

QUESTION = "Where is my order A100?"
SHIPPED = "Your order A100 has shipped with DHL and should arrive on November 14."
LOOKUP = chaoskit.tool_call("lookup_order", {"order_id": "A100"})
TRIAGED = chaoskit.tool_call("final_result", {"intent": "order_status", "urgent": False})
REFUSAL = chaoskit.faults.get("openai.model.refusal").params["text"]


def verdict_names(chaos: chaoskit.Chaos) -> list[str]:
    return [v.name for v in chaos.verdicts()]


def planted(chaos: chaoskit.Chaos) -> list[str]:
    return [p.planted for c in chaos.calls for p in c.planted or ()]


def on(chaos: chaoskit.Chaos, provider: str) -> list[Any]:
    return [c for c in chaos.calls if c.provider == provider]


def test_a_healthy_run_answers_from_the_order_it_looked_up(chaos: chaoskit.Chaos, agent: SupportAgent) -> None:
    chaos.reply("openai", LOOKUP, SHIPPED)
    assert agent.answer(QUESTION) == Reply(SHIPPED, "openai")
    assert len(chaos.calls) == 2  # the tool call, then the answer: the output validator let it through


# ---- a made-up order id (PROVIDER.model.hallucination) ----------------------------------------------


def arrange_hallucination(chaos: chaoskit.Chaos, provider: str, **schedule: Any) -> None:
    """The model looks A100 up, then names a made-up id in its answer; for anthropic, OpenAI fails first."""
    if provider == "anthropic":
        chaos.inject("openai.auth")  # a 401, not retried: every request moves on to Claude
    chaos.inject(f"{provider}.model.hallucination", kinds=["id"], in_tools=False, **schedule)
    chaos.reply("openai", LOOKUP, SHIPPED)
    chaos.reply("anthropic", LOOKUP, SHIPPED)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_made_up_order_id_is_sent_back_and_the_corrected_answer_is_shown(
    chaos: chaoskit.Chaos, agent: SupportAgent, provider: str,
) -> None:
    arrange_hallucination(chaos, provider, after=1, times=1)  # the first answer only, after the lookup

    reply = agent.answer(QUESTION)

    chaos.shown(reply.text)
    [fake] = planted(chaos)
    assert reply == Reply(SHIPPED, provider)
    # pydantic-ai's own retry, for real: the lookup, the made-up answer, the answer asked for again
    calls = on(chaos, provider)
    assert [c.fault for c in calls] == [None, f"{provider}.model.hallucination", None]
    assert "lookup_order did not return" in json.dumps(calls[2].request_body)  # the validator's feedback
    assert verdict_names(chaos) == []


def test_a_model_that_keeps_making_up_ids_is_replaced_by_a_person(
    chaos: chaoskit.Chaos, agent: SupportAgent, tickets: list[Any],
) -> None:
    arrange_hallucination(chaos, "openai")

    reply = agent.answer(QUESTION)

    chaos.assert_graceful(reply.text)
    assert (reply.text, reply.handed_off, len(tickets)) == (HANDOFF_TEXT, True, 1)
    assert not any(fake in reply.text for fake in planted(chaos))
    assert verdict_names(chaos) == []


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_without_the_check_the_made_up_id_is_shown_and_the_verdict_says_so(
    chaos: chaoskit.Chaos, monkeypatch: pytest.MonkeyPatch, provider: str,
) -> None:
    monkeypatch.setattr(app, "only_looked_up_order_ids", lambda ctx, text: text)
    arrange_hallucination(chaos, provider, after=1, times=1)

    reply = SupportAgent(**FAST).answer(QUESTION)

    chaos.assert_graceful(reply.text)  # it reads well: that is what makes it dangerous
    [fake] = planted(chaos)
    assert reply == Reply(SHIPPED.replace("A100", fake), provider)
    [verdict] = chaos.verdicts()
    assert verdict.name == "hallucination_shown"
    assert f"planted {fake!r} in place of 'A100'" in verdict.message


# ---- a refusal (openai.model.refusal) ----------------------------------------------------------------


@pytest.mark.chaos("openai.model.refusal")
def test_a_refusal_falls_back_to_claude_and_is_never_shown(chaos: chaoskit.Chaos, agent: SupportAgent) -> None:
    chaos.reply("anthropic", LOOKUP, SHIPPED)
    reply = agent.answer(QUESTION)
    assert reply == Reply(SHIPPED, "anthropic")
    chaos.assert_graceful(reply.text)
    assert verdict_names(chaos) == []


@pytest.mark.anyio
@pytest.mark.chaos("openai.model.refusal")
async def test_the_async_entry_point_falls_back_on_a_refusal_too(chaos: chaoskit.Chaos) -> None:
    chaos.reply("anthropic", LOOKUP, SHIPPED)
    async with SupportAgent(**FAST) as agent:
        reply = await agent.answer_async(QUESTION)
    assert reply == Reply(SHIPPED, "anthropic")
    assert verdict_names(chaos) == []


@pytest.mark.chaos("openai.model.refusal")
def test_without_falling_back_on_refusals_the_refusal_ends_the_run(
    chaos: chaoskit.Chaos, monkeypatch: pytest.MonkeyPatch, tickets: list[Any],
) -> None:
    # FallbackModel's default: API errors only. Claude is never asked; the error path hands off.
    monkeypatch.setattr(app, "FALLBACK_ON", (ModelAPIError,))
    reply = SupportAgent(**FAST).answer(QUESTION)
    assert (reply.text, reply.handed_off) == (HANDOFF_TEXT, True)
    assert [c.provider for c in chaos.calls] == ["openai"]
    assert tickets[0].reason == "ContentFilterError"


@pytest.mark.chaos("openai.model.refusal")
def test_an_error_path_that_shows_the_error_shows_the_refusal_and_the_verdict_fires(
    chaos: chaoskit.Chaos, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def careless(question: str, error: BaseException) -> Reply:
        return Reply(f"Sorry, I could not answer: {getattr(error, 'message', error)}", "openai")

    monkeypatch.setattr(app, "FALLBACK_ON", (ModelAPIError,))
    monkeypatch.setattr(app, "reply_on_failure", careless)
    reply = SupportAgent(**FAST).answer(QUESTION)
    chaos.assert_graceful(reply.text)  # polite, no status code, no traceback: only the verdict can tell
    assert REFUSAL in reply.text  # ContentFilterError's message quotes the refusal
    assert verdict_names(chaos) == ["refusal_shown"]


def test_both_providers_refusing_hands_off_to_a_person(
    chaos: chaoskit.Chaos, agent: SupportAgent, tickets: list[Any],
) -> None:
    chaos.inject("openai.model.refusal")
    chaos.inject("anthropic.content_filter")  # Anthropic's refusal: stop_reason "refusal"
    reply = agent.answer(QUESTION)
    assert (reply.text, reply.handed_off) == (HANDOFF_TEXT, True)
    assert [c.provider for c in chaos.calls] == ["openai", "anthropic"]
    assert tickets[0].reason == "ResponseRejected"  # FallbackModel's word for responses fallback_on refused
    assert verdict_names(chaos) == []


# ---- structured output that breaks its schema (openai.model.schema_violation) -------------------------


def test_pydantic_ai_retries_a_triage_that_broke_the_schema(chaos: chaoskit.Chaos, agent: SupportAgent) -> None:
    chaos.inject("openai.model.schema_violation", kind="enum_outside", times=1)
    chaos.reply("openai", TRIAGED)

    assert agent.triage(QUESTION) == Triage(intent="order_status", urgent=False)

    broken, healthy = chaos.calls
    assert (broken.detail or "").startswith("tool final_result: enum_outside: intent is 'ORDER_STATUS'")
    assert healthy.fault is None
    # the second request is pydantic-ai's retry: it sends the validation error back to the model
    [retry] = [m for m in healthy.request_body["messages"] if m["role"] == "tool"]
    assert "literal_error" in retry["content"] and "ORDER_STATUS" in retry["content"]


@pytest.mark.parametrize("kind", ["missing_required", "wrong_type", "enum_outside", "extra_field"])
def test_a_triage_that_keeps_breaking_the_schema_is_left_for_a_person(
    chaos: chaoskit.Chaos, agent: SupportAgent, monkeypatch: pytest.MonkeyPatch, tickets: list[Any], kind: str,
) -> None:
    chaos.inject("openai.model.schema_violation", kind=kind)
    chaos.reply("openai", TRIAGED)

    assert agent.triage(QUESTION) == UNSORTED
    assert len(chaos.calls) == 2  # the answer and pydantic-ai's one retry, both broken
    assert [t.reason for t in tickets] == ["triage: UnexpectedModelBehavior"]
    # without the ticket path, the run's error reaches the caller
    monkeypatch.setattr(app, "TRIAGE_ERRORS", ())
    with pytest.raises(UnexpectedModelBehavior, match=r"^Exceeded maximum output retries \(1\)$"):
        agent.triage(QUESTION)


# ---- a model stuck in a tool loop (PROVIDER.model.tool_loop) ---------------------------------------


@pytest.mark.chaos("openai.model.tool_loop")
def test_the_request_limit_stops_a_tool_loop_and_a_person_answers(chaos: chaoskit.Chaos, agent: SupportAgent, tickets: list[Any]) -> None:
    chaos.reply("openai", LOOKUP, SHIPPED)
    reply = agent.answer(QUESTION)
    assert (reply.text, reply.handed_off) == (HANDOFF_TEXT, True)
    assert len(on(chaos, "openai")) == app.REQUEST_LIMIT  # then pydantic-ai's UsageLimits ends the run
    assert [t.reason for t in tickets] == ["UsageLimitExceeded"]
    assert verdict_names(chaos) == []


@pytest.mark.chaos("openai.model.tool_loop")
def test_without_the_limit_the_agent_loops_until_the_model_stops_and_the_verdict_fires(
    chaos: chaoskit.Chaos, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "REQUEST_LIMIT", None)  # UsageLimits(request_limit=None): no bound
    chaos.reply("openai", LOOKUP, SHIPPED)
    reply = SupportAgent(**FAST).answer(QUESTION)
    limit = chaoskit.faults.get("openai.model.tool_loop").params["limit"]
    assert reply == Reply(SHIPPED, "openai")  # a good answer in the end: only the verdict tells what it cost
    assert len(chaos.calls) == limit + 1
    [verdict] = chaos.verdicts()
    assert verdict.name == "unbounded_loop"
    assert verdict.message.startswith(f"the app made {limit + 1} model requests to answer one user message")

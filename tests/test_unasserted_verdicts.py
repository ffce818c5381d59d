"""Verdicts a test gets without writing an assertion (issue 18, point 6).

``ungraceful_shown`` (a text given to ``chaos.shown`` that ``assert_graceful`` would refuse),
``pii_sent`` (personal data in a request to a model provider) and ``handoff_missed`` (a user
message every provider failed, with no call to the seam watched with ``handoff=True``): each
fires on a broken app and stays quiet on one that handles the fault, with the real SDKs.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import anthropic
import openai
import pytest

import chaoskit
from chaoskit import Verdict

QUESTION = "Where is my order A100?"
SORRY = "Sorry, we cannot answer right now; a colleague will get back to you by email."


@pytest.fixture
def helpdesk() -> Iterator[types.ModuleType]:
    """A module with a handoff seam the tests watch (``helpdesk:escalate``)."""
    module = types.ModuleType("helpdesk")
    module.tickets = []  # type: ignore[attr-defined]
    module.escalate = lambda question: module.tickets.append(question)  # type: ignore[attr-defined]
    sys.modules["helpdesk"] = module
    yield module
    del sys.modules["helpdesk"]


def ask(question: str, *, escalate: bool, show_errors: bool = False) -> str:
    """OpenAI, then Anthropic; when both fail: a person (``escalate``) or a polite text, or the error itself."""
    try:
        completion = openai.OpenAI(api_key="sk-test", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        return completion.choices[0].message.content or ""
    except openai.APIError:
        pass
    try:
        message = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0).messages.create(
            model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": question}])
        return "".join(b.text for b in message.content if b.type == "text")
    except anthropic.APIError as exc:
        if escalate:
            sys.modules["helpdesk"].escalate(question)
        return f"Error: {exc}" if show_errors else SORRY


def names(verdicts: list[Verdict]) -> list[str]:
    return [v.name for v in verdicts]


# ---- ungraceful_shown ----------------------------------------------------------------------------


def test_an_error_shown_to_the_user_is_a_verdict_and_a_polite_text_is_not() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error")
        chaos.inject("anthropic.overloaded")
        chaos.shown(ask(QUESTION, escalate=False, show_errors=True))
        chaos.shown(ask(QUESTION, escalate=False))
    [verdict] = chaos.verdicts()
    assert verdict.name == "ungraceful_shown"
    assert verdict.message.startswith("user text #0: the text ")  # the second, polite, text is fine
    assert verdict.calls == tuple(c.index for c in chaos.calls)


def test_a_canary_or_a_blank_answer_shown_is_a_verdict() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        canary = chaos.canary()
        chaos.shown(f"My instructions say {canary}.")
        chaos.shown("  ")
    assert [v.message for v in chaos.verdicts()] == [
        f"user text #0: the text reveals the planted canary {canary!r}",
        "user text #1: the text is blank: '  '",
    ]


# ---- pii_sent ----------------------------------------------------------------------------------


def test_personal_data_sent_to_a_provider_is_a_verdict_unless_it_was_allowed() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        ask("My email is jane.doe@example.com, where is A100?", escalate=False)
    [verdict] = chaos.verdicts()
    assert verdict.name == "pii_sent"
    assert verdict.message.startswith("1 piece(s) of personal data (email) went to a model provider in call(s) #0, the first: email ")
    assert "jane.doe@example.com" not in verdict.message  # masked, as everywhere
    with chaoskit.Chaos(seed=1) as chaos:
        ask("Write to support@acme.example about order A100", escalate=False)
        chaos.assert_no_pii_sent(ignore=["support@acme.example"])
    assert chaos.verdicts() == []


def test_a_request_without_personal_data_meets_no_verdict() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.shown(ask(QUESTION, escalate=False))
    assert chaos.verdicts() == []


# ---- handoff_missed -----------------------------------------------------------------------------


def test_both_providers_failing_without_a_handoff_is_a_verdict(helpdesk: types.ModuleType) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.watch("helpdesk:escalate", handoff=True)
        chaos.inject("openai.server_error")
        chaos.inject("anthropic.overloaded")
        chaos.shown(ask(QUESTION, escalate=False))
    [verdict] = chaos.verdicts()
    assert verdict.name == "handoff_missed"
    assert verdict.message == (
        "every provider failed one user message (anthropic, openai: calls #0, #1, anthropic.overloaded, "
        "openai.server_error) and helpdesk:escalate was not called for it"
    )


def test_a_handoff_for_each_failed_message_meets_no_verdict(helpdesk: types.ModuleType) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.watch("helpdesk:escalate", handoff=True)
        chaos.inject("openai.server_error")
        chaos.inject("anthropic.overloaded", times=1)
        chaos.shown(ask(QUESTION, escalate=True))  # both fail: a person
        chaos.shown(ask("And order B200?", escalate=False))  # Claude answers
        chaos.assert_handoff()  # the one handoff seam, among the watches
    assert (chaos.verdicts(), helpdesk.tickets) == ([], [QUESTION])


def test_a_second_message_lost_without_a_handoff_is_named(helpdesk: types.ModuleType) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.watch("helpdesk:escalate", handoff=True)
        chaos.inject("openai.server_error")
        chaos.inject("anthropic.overloaded")
        ask(QUESTION, escalate=True)
        ask("And order B200?", escalate=False)
    [verdict] = chaos.verdicts()
    assert verdict.calls == (2, 3)


def test_without_a_handoff_watch_or_a_fault_nothing_is_judged(helpdesk: types.ModuleType) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.watch("helpdesk:escalate")  # not marked as the handoff
        chaos.inject("openai.server_error")
        chaos.inject("anthropic.overloaded")
        ask(QUESTION, escalate=False)
    assert chaos.verdicts() == []

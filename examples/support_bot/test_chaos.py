"""The support bot's chaos suite: every provider failure ends in an answer the customer can read.

Each test's faults reach the real openai and anthropic SDKs at their HTTP transport, so the
SDKs' own retries, timeouts and exception classes are what the bot meets. No network, no
API key: calls without a fault get a healthy simulated reply.
"""

from __future__ import annotations

import json
import re

import pytest

import chaoskit
from support_bot import AsyncSupportBot, SupportBot, handoff
from support_bot.app import HANDOFF_TEXT, STREAM_BROKEN_TEXT

QUESTION = "Where is my order A100?"
SHIPPED = "Your order A100 has shipped with DHL and should arrive on November 14."


# What must never reach a customer: tracebacks, exception names, raw provider errors,
# HTML error pages, API keys.
LEAKS = re.compile(
    r"Traceback|\b[A-Z]\w*(Error|Exception)\b|\berror\b|status code|\b[45]\d\d\b|<html|<!DOCTYPE"
    r"|sk-[\w-]+|request[_-]id|api\.(openai|anthropic)\.com",
    re.IGNORECASE,
)


def assert_graceful(text: str) -> None:
    """The text is something we can show a customer: not empty, and nothing leaked."""
    assert text.strip(), "the customer got an empty answer"
    leak = LEAKS.search(text)
    assert leak is None, f"the customer saw {leak.group()!r} in {text!r}"


def trace(chaos: chaoskit.Chaos) -> list[tuple[str | None, str | None]]:
    """The journal as (provider, fault) pairs, in call order."""
    return [(c.provider, c.fault) for c in chaos.calls]


# ---- the healthy path -------------------------------------------------------------------


def test_healthy_answer_comes_from_openai(chaos, bot, tickets):
    chaos.reply("openai", SHIPPED)

    reply = bot.answer(QUESTION)

    assert reply.provider == "openai"
    assert reply.text == SHIPPED
    assert not reply.handed_off and tickets == []
    [call] = chaos.calls
    assert (call.provider, call.fault, call.status) == ("openai", None, 200)
    assert call.request_body["model"] == "gpt-4o-mini"
    assert call.request_body["messages"][-1] == {"role": "user", "content": QUESTION}
    assert call.request_headers["authorization"] == "<redacted>"  # keys never reach the journal


# ---- provider errors: OpenAI fails after its SDK's retries, Anthropic answers -----------


@pytest.mark.chaos("openai.rate_limit")  # catalog defaults: retry-after 1 s, so ~2 s of SDK waits
def test_rate_limit_falls_back_to_anthropic(chaos, bot):
    chaos.reply("anthropic", SHIPPED)

    reply = bot.answer(QUESTION)

    assert reply.provider == "anthropic"
    assert reply.text == SHIPPED
    # The openai SDK tried three times (max_retries=2), honouring retry-after; then one Claude call.
    assert trace(chaos) == [("openai", "openai.rate_limit")] * 3 + [("anthropic", None)]
    assert [c.status for c in chaos.calls] == [429, 429, 429, 200]
    first, second = chaos.calls[0], chaos.calls[1]
    assert second.started - first.started >= 1.0  # the SDK waited the 1 s retry-after


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("openai.server_error", 500, None),
        ("openai.unavailable", 503, None),
        ("openai.timeout.read", None, "ReadTimeout"),
        ("openai.connection.reset", None, "ReadError"),
    ],
)
def test_retried_failures_fall_back_to_anthropic(chaos, bot, fault, status, error):
    chaos.inject(fault)
    chaos.reply("anthropic", SHIPPED)

    reply = bot.answer(QUESTION)

    assert reply.provider == "anthropic"
    assert_graceful(reply.text)
    openai_calls = chaos.calls.where(provider="openai")
    assert [(c.fault, c.status, c.error) for c in openai_calls] == [(fault, status, error)] * 3
    assert trace(chaos)[-1] == ("anthropic", None)
    if fault == "openai.timeout.read":
        # The client's own read timeout (0.5 s in conftest) ended each attempt, not the fault.
        assert all(0.4 <= c.duration < 1.5 for c in openai_calls)


def test_client_error_is_not_retried(chaos, bot):
    chaos.inject("openai.auth")  # a 401: the SDK does not retry it, so we fall back at once
    chaos.reply("anthropic", SHIPPED)

    reply = bot.answer(QUESTION)

    assert reply.provider == "anthropic"
    assert trace(chaos) == [("openai", "openai.auth"), ("anthropic", None)]


@pytest.mark.chaos("openai.server_error", times=2)
def test_recovers_on_the_sdks_third_attempt(chaos, bot, tickets):
    chaos.reply("openai", SHIPPED)

    reply = bot.answer(QUESTION)

    # Two 500s, then the SDK's own third attempt succeeds: no fallback was needed.
    assert reply.provider == "openai"
    assert reply.text == SHIPPED
    assert trace(chaos) == [("openai", "openai.server_error")] * 2 + [("openai", None)]
    assert tickets == []


# ---- malformed replies: a 200 the bot cannot use is a failure too -----------------------


@pytest.mark.parametrize(
    "fault",
    [
        "openai.malformed.truncated_json",  # the body stops half-way: JSONDecodeError
        "openai.malformed.missing_choices",  # no "choices": the SDK returns it as is
        "openai.malformed.null_content",  # "content": null
        "openai.malformed.html",  # a captive portal's page: the SDK returns a str
        "openai.malformed.tool_args",  # lookup_order called with arguments that are not JSON
        "openai.malformed.unknown_tool",  # a tool we never offered
        "openai.content_filter",  # finish_reason content_filter, no text
    ],
)
def test_malformed_reply_falls_back_to_anthropic(chaos, bot, fault):
    chaos.inject(fault)
    chaos.reply("anthropic", SHIPPED)

    reply = bot.answer(QUESTION)

    assert reply.provider == "anthropic"
    assert reply.text == SHIPPED
    assert reply.tool_calls == ()  # no tool ran on a broken tool call
    # A 200 is not retried by the SDK: one OpenAI call, then the fallback.
    assert trace(chaos) == [("openai", fault), ("anthropic", None)]


# ---- both providers down: a person takes over ------------------------------------------


def test_both_providers_down_hands_off_to_a_person(chaos, bot, tickets):
    chaos.inject("openai.rate_limit", retry_after=0.05)
    chaos.inject("anthropic.overloaded")

    reply = bot.answer(QUESTION)

    assert reply.provider == "human"
    assert reply.handed_off
    assert reply.text == HANDOFF_TEXT
    assert_graceful(reply.text)
    assert "RateLimitError" not in reply.text and "Overloaded" not in reply.text
    [ticket] = tickets
    assert ticket.id == reply.ticket
    assert ticket.question == QUESTION
    assert ticket.reason == "openai: RateLimitError; anthropic: OverloadedError"  # for the team only
    assert trace(chaos) == [("openai", "openai.rate_limit")] * 3 + [("anthropic", "anthropic.overloaded")] * 3
    assert [c.status for c in chaos.calls.where(provider="anthropic")] == [529] * 3


def test_handoff_seam_can_be_observed(chaos, bot, monkeypatch):
    escalated = []
    real_escalate = handoff.escalate

    def spy(question, reason):
        escalated.append((question, reason))
        return real_escalate(question, reason)

    monkeypatch.setattr(handoff, "escalate", spy)
    chaos.inject("openai.malformed.truncated_json")
    chaos.inject("anthropic.malformed.html")

    reply = bot.answer(QUESTION)

    assert reply.handed_off
    assert escalated == [(QUESTION, "openai: JSONDecodeError; anthropic: UnusableReply")]


# ---- the tool loop ----------------------------------------------------------------------


def test_tool_loop(chaos, bot):
    chaos.reply(
        "openai", chaoskit.tool_call("lookup_order", {"order_id": "A100"}), "Your order A100 has shipped."
    )

    reply = bot.answer(QUESTION)

    assert reply.provider == "openai"
    assert reply.text == "Your order A100 has shipped."
    [run] = reply.tool_calls
    assert (run.name, run.arguments, run.result["status"]) == (
        "lookup_order",
        {"order_id": "A100"},
        "shipped",
    )
    first, second = chaos.calls
    assert first.request_body["tools"][0]["function"]["name"] == "lookup_order"
    # The second call carries the model's tool call and our tool's result.
    assistant, tool = second.request_body["messages"][-2:]
    assert assistant["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert tool["role"] == "tool" and json.loads(tool["content"])["status"] == "shipped"


def test_tool_loop_on_the_fallback(chaos, bot):
    chaos.inject("openai.unavailable", retry_after=0.05)
    chaos.reply(
        "anthropic", chaoskit.tool_call("lookup_order", {"order_id": "A101"}), "A101 is being packed."
    )

    reply = bot.answer("And order A101?")

    assert reply.provider == "anthropic"
    assert [r.result["status"] for r in reply.tool_calls] == ["processing"]
    last = chaos.calls.where(provider="anthropic")[-1]
    [result] = last.request_body["messages"][-1]["content"]
    assert result["type"] == "tool_result"


# ---- streaming --------------------------------------------------------------------------


def test_stream_healthy(chaos, bot):
    chaos.reply("openai", SHIPPED)

    stream = bot.stream_answer(QUESTION)
    chunks = list(stream)

    assert len(chunks) > 1 and "".join(chunks) == SHIPPED
    assert stream.answer.provider == "openai"
    [call] = chaos.calls
    assert call.stream


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("openai.stream.cut.unclean", "RemoteProtocolError"),  # peer closes mid-stream
        ("openai.stream.stall", "ReadTimeout"),  # no more chunks: the client's read timeout ends it
        ("openai.stream.cut", None),  # ends cleanly with no finish_reason: nothing raises
    ],
)
def test_broken_stream_falls_back_mid_way(chaos, bot, fault, error):
    chaos.reply("openai", SHIPPED)
    chaos.reply("anthropic", "Order A100 shipped with DHL.")
    chaos.inject(fault)

    stream = bot.stream_answer(QUESTION)
    chunks = list(stream)

    # The customer saw the start of the OpenAI answer, a note, then Claude's full answer.
    cut = chunks.index(STREAM_BROKEN_TEXT)
    assert cut > 0 and SHIPPED.startswith("".join(chunks[:cut]))
    assert chunks[cut + 1 :] == ["Order A100 shipped with DHL."]
    assert_graceful("".join(chunks))
    assert stream.answer.provider == "anthropic"
    stream_call, fallback_call = chaos.calls
    assert (stream_call.fault, stream_call.status, stream_call.error) == (fault, 200, error)
    assert stream_call.stream and not fallback_call.stream  # mid-stream failures are not retried


def test_stream_that_never_starts_falls_back_without_a_note(chaos, bot):
    chaos.inject("openai.rate_limit", retry_after=0.05)
    chaos.reply("anthropic", SHIPPED)

    stream = bot.stream_answer(QUESTION)

    assert list(stream) == [SHIPPED]  # nothing was shown yet, so no "cut off" note
    assert stream.answer.provider == "anthropic"
    assert trace(chaos) == [("openai", "openai.rate_limit")] * 3 + [("anthropic", None)]


# ---- async ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_read_timeout_is_retried(chaos, async_bot: AsyncSupportBot):
    chaos.inject("openai.timeout.read", times=1)
    chaos.reply("openai", SHIPPED)

    reply = await async_bot.answer(QUESTION)

    # The async client's own 0.5 s read timeout ended the first attempt; its retry answered.
    assert reply.provider == "openai" and reply.text == SHIPPED
    first, second = chaos.calls
    assert (first.error, second.error, second.status) == ("ReadTimeout", None, 200)
    assert 0.4 <= first.duration < 1.5


@pytest.mark.anyio
async def test_async_handoff(chaos, async_bot: AsyncSupportBot, tickets):
    chaos.inject("openai.connection.reset")
    chaos.inject("anthropic.rate_limit", retry_after=0.05)

    reply = await async_bot.answer(QUESTION)

    assert reply.handed_off and len(tickets) == 1
    assert_graceful(reply.text)


# ---- random faults, fixed seed ----------------------------------------------------------


@pytest.mark.chaos("openai.connection.reset", "anthropic.overloaded", rate=0.5, seed=20261114)
def test_always_graceful_under_random_faults(chaos, bot: SupportBot, tickets):
    questions = [QUESTION, "Can I return a sweater?", "Where is A102?", "Do you ship to Norway?", "hi"]

    replies = [bot.answer(q) for q in questions]

    for reply in replies:
        assert_graceful(reply.text)
        assert reply.provider in {"openai", "anthropic", "human"}
    assert len(tickets) == sum(r.handed_off for r in replies)
    assert any(c.fault for c in chaos.calls), "the seed should inject at least one fault"

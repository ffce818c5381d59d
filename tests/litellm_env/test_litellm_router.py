"""A LiteLLM Router falling back from a failing deployment to a healthy one, for real.

The primary deployment fails at the transport (chaoskit answers its requests with the
provider's error), the Router retries it with its own policy, and then sends to the fallback,
which chaoskit answers with the simulated reply. The journal (``chaos.calls``) holds both: the
primary's failed attempts, in order, then the fallback's healthy call.

The Router turns the SDK's retries off (``max_retries=0`` on every deployment) and retries
itself (``num_retries`` defaults to 2), so each request to the primary is a first attempt to
the SDK (``x-stainless-retry-count: 0``). Its backoff between retries is about a second; the
tests run on chaoskit's virtual clock, so those waits take no real time.
"""

from __future__ import annotations

from typing import Any

import litellm
import pytest

import chaoskit

EAST = "https://east.llm-gateway.test/v1"  # two gateways serving the same model
WEST = "https://west.llm-gateway.test/v1"
MESSAGES = [{"role": "user", "content": "Where is my order?"}]
REPLY = "Your order has shipped."


def deployment(name: str, model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": name, "litellm_params": {"model": model, "api_key": f"sk-{name}", **params}}


def gateways(chaos: chaoskit.Chaos) -> None:
    """Serve both gateways as OpenAI, so openai.* faults and replies apply to them."""
    chaos.route(EAST, provider="openai")
    chaos.route(WEST, provider="openai")


@pytest.mark.chaos(virtual_time=True)
def test_router_falls_back_from_a_rate_limited_deployment(chaos: chaoskit.Chaos) -> None:
    gateways(chaos)
    chaos.inject("openai.rate_limit", url=f"{EAST}/*")  # only the primary's gateway is rate limited
    chaos.reply("openai", REPLY)
    router = litellm.Router(
        model_list=[
            deployment("primary", "openai/gpt-4o-mini", api_base=EAST),
            deployment("backup", "openai/gpt-4o-mini", api_base=WEST),
        ],
        fallbacks=[{"primary": ["backup"]}],
    )

    answer = router.completion(model="primary", messages=MESSAGES)

    assert answer.choices[0].message.content == REPLY
    journal = [(c.url, c.fault, c.status, c.retry_count) for c in chaos.calls]
    assert journal == [
        (f"{EAST}/chat/completions", "openai.rate_limit", 429, 0),  # the Router's first try
        (f"{EAST}/chat/completions", "openai.rate_limit", 429, 0),  # and its two retries
        (f"{EAST}/chat/completions", "openai.rate_limit", 429, 0),
        (f"{WEST}/chat/completions", None, 200, 0),  # then the fallback, which answers
    ]
    assert chaos.calls[-1].text == REPLY
    gaps = [b.started - a.started for a, b in zip(chaos.calls, chaos.calls[1:], strict=False)]
    assert all(gap >= 0.5 for gap in gaps[:2])  # the Router's backoff, on the virtual clock


@pytest.mark.chaos(virtual_time=True)
def test_router_falls_back_across_providers(chaos: chaoskit.Chaos) -> None:
    chaos.inject("openai.unavailable")
    chaos.reply("anthropic", REPLY)
    router = litellm.Router(
        model_list=[
            deployment("gpt", "openai/gpt-4o-mini"),
            deployment("claude", "anthropic/claude-sonnet-4-5"),
        ],
        fallbacks=[{"gpt": ["claude"]}],
    )

    answer = router.completion(model="gpt", messages=MESSAGES)

    assert answer.choices[0].message.content == REPLY
    assert [(c.provider, c.fault, c.status) for c in chaos.calls] == [
        *[("openai", "openai.unavailable", 503)] * 3,
        ("anthropic", None, 200),
    ]
    chaos.assert_fallback("openai", "anthropic")


@pytest.mark.chaos(virtual_time=True)
def test_a_context_window_error_goes_to_the_context_window_fallback_at_once(chaos: chaoskit.Chaos) -> None:
    """LiteLLM's mapping decides the route: ContextWindowExceededError is not retried and goes
    to ``context_window_fallbacks``, not to the generic ``fallbacks``."""
    gateways(chaos)
    chaos.inject("openai.context_length", url=f"{EAST}/*")
    chaos.reply("openai", REPLY)
    router = litellm.Router(
        model_list=[
            deployment("short", "openai/gpt-4o-mini", api_base=EAST),
            deployment("long", "openai/gpt-4.1", api_base=WEST),
            deployment("other", "anthropic/claude-sonnet-4-5"),
        ],
        fallbacks=[{"short": ["other"]}],
        context_window_fallbacks=[{"short": ["long"]}],
    )

    answer = router.completion(model="short", messages=MESSAGES)

    assert answer.choices[0].message.content == REPLY
    assert [(c.url, c.fault, c.status) for c in chaos.calls] == [
        (f"{EAST}/chat/completions", "openai.context_length", 400),
        (f"{WEST}/chat/completions", None, 200),
    ]
    assert chaos.calls[-1].request_body["model"] == "gpt-4.1"


@pytest.mark.chaos(virtual_time=True)
def test_without_a_fallback_the_router_raises_the_mapped_error(chaos: chaoskit.Chaos) -> None:
    chaos.inject("openai.rate_limit")
    router = litellm.Router(model_list=[deployment("primary", "openai/gpt-4o-mini")])
    with pytest.raises(litellm.RateLimitError) as info:
        router.completion(model="primary", messages=MESSAGES)
    assert type(info.value) is litellm.RateLimitError
    assert info.value.status_code == 429
    assert len(chaos.calls) == 3 and {c.retry_count for c in chaos.calls} == {0}


def test_a_stream_cut_after_content_reaches_the_caller_by_default(chaos: chaoskit.Chaos) -> None:
    """Once a stream has sent content, the Router does not fall back: the caller gets the
    provider's error (APIConnectionError, not the MidStreamFallbackError LiteLLM raised inside)
    after the chunks before the cut, and the fallback is never called."""
    gateways(chaos)
    chaos.inject("openai.stream.cut.unclean", url=f"{EAST}/*")
    chaos.reply("openai", "Your order has shipped and arrives on Tuesday.")
    router = litellm.Router(
        model_list=[
            deployment("primary", "openai/gpt-4o-mini", api_base=EAST),
            deployment("backup", "openai/gpt-4o-mini", api_base=WEST),
        ],
        fallbacks=[{"primary": ["backup"]}],
    )
    pieces: list[str] = []
    with pytest.raises(litellm.APIConnectionError) as info:
        for chunk in router.completion(model="primary", messages=MESSAGES, stream=True):
            pieces.append(chunk.choices[0].delta.content or "")
    assert type(info.value) is litellm.APIConnectionError
    assert "".join(pieces) == chaos.calls[0].text == "Your order"
    assert [(c.url, c.fault, c.complete) for c in chaos.calls] == [
        (f"{EAST}/chat/completions", "openai.stream.cut.unclean", False),
    ]


def test_mid_stream_continuation_finishes_the_answer_on_the_fallback(chaos: chaoskit.Chaos) -> None:
    """With ``enable_mid_stream_fallback_continuation`` the async Router sends the text streamed
    so far to the fallback as an assistant prefill and splices its stream onto the first one."""
    import asyncio

    chaos.inject("openai.stream.cut.unclean")
    chaos.reply("openai", "Your order has shipped and arrives on Tuesday.")
    chaos.reply("anthropic", " has shipped.")
    router = litellm.Router(
        model_list=[deployment("gpt", "openai/gpt-4o-mini"), deployment("claude", "anthropic/claude-sonnet-4-5")],
        fallbacks=[{"gpt": ["claude"]}],
        enable_mid_stream_fallback_continuation=True,
    )

    async def stream() -> str:
        pieces = [chunk.choices[0].delta.content or "" async for chunk in await router.acompletion(model="gpt", messages=MESSAGES, stream=True)]
        return "".join(pieces)

    assert asyncio.run(stream()) == "Your order has shipped."
    cut, finish = chaos.calls
    assert (cut.provider, cut.fault, cut.text, cut.complete) == ("openai", "openai.stream.cut.unclean", "Your order", False)
    assert (finish.provider, finish.fault, finish.status, finish.stream) == ("anthropic", None, 200, True)
    assert finish.request_body["messages"][-1] == {"role": "assistant", "content": [{"type": "text", "text": "Your order"}]}
    chaos.assert_fallback("openai", "anthropic")

"""LiteLLM under injected provider faults: its exception mapping, run for real.

The faults are played at the transport, below LiteLLM, not with its ``mock_response``: for
``openai/...`` models LiteLLM calls the openai SDK with an ``httpx.Client`` of its own (sync)
or an ``httpx.AsyncClient`` on its aiohttp transport (async), and for ``anthropic/...`` models
it sends with its own HTTP handler. chaoskit answers the httpx client at httpcore and the
aiohttp one at ``TCPConnector``, so the openai SDK parses the error, retries it, and LiteLLM's
``exception_mapping_utils`` turns the result into its own exception, as against the real API.

Each case asserts the exact LiteLLM class, its ``status_code``, and the attempts (one journal
entry per request): three for the openai SDK's default two retries, one on LiteLLM's
anthropic path, which does not retry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import litellm
import pytest
from litellm.exceptions import MidStreamFallbackError
from litellm.llms.custom_httpx.aiohttp_transport import LiteLLMAiohttpTransport

import chaoskit

GPT = "openai/gpt-4o-mini"
CLAUDE = "anthropic/claude-sonnet-4-5"
MESSAGES = [{"role": "user", "content": "Where is my order?"}]

# fault -> (LiteLLM exception, status_code, attempts)
OPENAI = {
    "openai.rate_limit": (litellm.RateLimitError, 429, 3),
    "openai.rate_limit.tokens": (litellm.RateLimitError, 429, 3),
    "openai.insufficient_quota": (litellm.RateLimitError, 429, 3),
    "openai.context_length": (litellm.ContextWindowExceededError, 400, 1),
    "openai.auth": (litellm.AuthenticationError, 401, 1),
    "openai.model_not_found": (litellm.NotFoundError, 404, 1),
    "openai.server_error": (litellm.InternalServerError, 500, 3),
    "openai.bad_gateway": (litellm.BadGatewayError, 502, 3),
    "openai.unavailable": (litellm.ServiceUnavailableError, 503, 3),
    "openai.gateway_timeout": (litellm.Timeout, 504, 3),
    "openai.connection.reset": (litellm.InternalServerError, 500, 3),  # "Connection error." maps to 500
    "openai.malformed.truncated_json": (litellm.InternalServerError, 500, 1),
}
ANTHROPIC = {
    "anthropic.overloaded": (litellm.InternalServerError, 500, 1),  # 529 overloaded_error reported as 500
    "anthropic.rate_limit": (litellm.RateLimitError, 429, 1),
    "anthropic.server_error": (litellm.InternalServerError, 500, 1),
    "anthropic.unavailable": (litellm.ServiceUnavailableError, 503, 1),
    "anthropic.gateway_timeout": (litellm.Timeout, 408, 1),  # a 504 reported as 408
    "anthropic.context_length": (litellm.ContextWindowExceededError, 400, 1),
    "anthropic.insufficient_quota": (litellm.PaymentRequiredError, 402, 1),
    "anthropic.auth": (litellm.AuthenticationError, 401, 1),
    "anthropic.model_not_found": (litellm.NotFoundError, 404, 1),
}


def fast(fault: str) -> dict[str, Any]:
    """Shorten the SDK's waits between retries through the fault's retry-after (never its count)."""
    return {"retry_after": 0.01} if "retry_after" in chaoskit.faults.get(fault).params else {}


def ask(model: str, **kwargs: Any) -> Any:
    return litellm.completion(model=model, api_key="sk-test", messages=MESSAGES, **kwargs)


@pytest.mark.parametrize("fault", sorted(OPENAI) + sorted(ANTHROPIC))
def test_litellm_maps_each_provider_error(fault: str, chaos: chaoskit.Chaos) -> None:
    raises, status, attempts = {**OPENAI, **ANTHROPIC}[fault]
    provider = fault.split(".", 1)[0]
    chaos.inject(fault, **fast(fault))
    with pytest.raises(raises) as info:
        ask(GPT if provider == "openai" else CLAUDE)
    assert type(info.value) is raises
    assert info.value.status_code == status
    assert info.value.llm_provider == provider
    assert len(chaos.calls) == attempts
    assert [c.fault for c in chaos.calls] == [fault] * attempts
    if provider == "openai":  # the openai SDK's own retries: x-stainless-retry-count 0, 1, 2
        assert [c.retry_count for c in chaos.calls] == list(range(attempts))


def test_a_rate_limit_keeps_the_providers_message_and_headers(chaos: chaoskit.Chaos) -> None:
    chaos.inject("openai.rate_limit", retry_after=0.01)
    with pytest.raises(litellm.RateLimitError) as info:
        ask(GPT)
    error = info.value
    assert "Rate limit reached for gpt-4o-mini" in error.message
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.response.headers["retry-after"] == "0.01"


def test_content_policy_is_a_plain_bad_request_under_openai_3(chaos: chaoskit.Chaos) -> None:
    """openai 3.x puts only the error message in ``str(error)``; LiteLLM looks for
    ``invalid_request_error`` and ``content_policy_violation`` in that string, so the refusal
    comes out as BadRequestError, not ContentPolicyViolationError (with openai 2.x it was one),
    and a Router's ``content_policy_fallbacks`` would not see it."""
    import openai

    chaos.inject("openai.content_policy")
    with pytest.raises(litellm.BadRequestError) as info:
        ask(GPT)
    assert type(info.value) is litellm.BadRequestError
    assert info.value.status_code == 400
    assert len(chaos.calls) == 1
    assert openai.__version__.startswith("3."), "with openai 2.x this is ContentPolicyViolationError: recheck"


@pytest.mark.chaos(virtual_time=True)
@pytest.mark.parametrize("fault", ["openai.timeout.read", "openai.timeout.connect"])
def test_a_timeout_is_litellm_timeout_after_the_sdk_retries(fault: str, chaos: chaoskit.Chaos) -> None:
    chaos.inject(fault)
    with pytest.raises(litellm.Timeout) as info:
        ask(GPT, timeout=5)
    assert type(info.value) is litellm.Timeout
    assert info.value.status_code == 408
    assert len(chaos.calls) == 3


@pytest.mark.parametrize("fault", ["openai.stream.cut", "openai.stream.cut.unclean", "openai.stream.reset", "openai.stream.error"])
def test_a_broken_stream_is_a_midstream_fallback_error(fault: str, chaos: chaoskit.Chaos) -> None:
    """A stream that breaks after some chunks (even one that just ends without a finish_reason)
    raises MidStreamFallbackError while iterating, after the chunks before the break."""
    chaos.inject(fault)
    chaos.reply("openai", "Your order has shipped and arrives on Tuesday.")
    pieces: list[str] = []
    with pytest.raises(MidStreamFallbackError) as info:
        for chunk in ask(GPT, stream=True):
            pieces.append(chunk.choices[0].delta.content or "")
    error = info.value
    assert type(error) is MidStreamFallbackError
    assert error.status_code == 500
    assert type(error.original_exception) is litellm.APIConnectionError
    assert pieces and "".join(pieces) == error.generated_content == chaos.calls[0].text
    assert "Your order has shipped and arrives on Tuesday.".startswith(error.generated_content)
    assert len(chaos.calls) == 1 and chaos.calls[0].fault == fault  # a stream is never retried


def test_async_calls_go_through_litellms_aiohttp_transport(chaos: chaoskit.Chaos, monkeypatch: pytest.MonkeyPatch) -> None:
    """``acompletion`` sends on LiteLLM's aiohttp transport; chaoskit's aiohttp seam answers it
    and the openai SDK's async retries and LiteLLM's mapping run as on the sync path."""
    sent: list[str] = []
    original = LiteLLMAiohttpTransport.handle_async_request

    async def spy(self: LiteLLMAiohttpTransport, request: Any) -> Any:
        sent.append(str(request.url))
        return await original(self, request)

    monkeypatch.setattr(LiteLLMAiohttpTransport, "handle_async_request", spy)
    chaos.inject("openai.rate_limit", retry_after=0.01)
    chaos.inject("anthropic.overloaded")

    async def both() -> list[BaseException]:
        errors: list[BaseException] = []
        for model in (GPT, CLAUDE):
            try:
                await litellm.acompletion(model=model, api_key="sk-test", messages=MESSAGES)
            except Exception as exc:
                errors.append(exc)
        return errors

    rate_limited, overloaded = asyncio.run(both())
    assert type(rate_limited) is litellm.RateLimitError and rate_limited.status_code == 429
    assert type(overloaded) is litellm.InternalServerError and overloaded.status_code == 500
    assert [c.fault for c in chaos.calls] == ["openai.rate_limit"] * 3 + ["anthropic.overloaded"]
    assert [c.request_headers.get("x-stainless-async") for c in chaos.calls[:3]] == ["async:asyncio"] * 3
    assert sent == [c.url for c in chaos.calls]  # every request went through the aiohttp transport


def test_a_healthy_reply_comes_back_as_a_model_response(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", "Your order has shipped.")
    chaos.reply("anthropic", "It arrives on Tuesday.")
    assert ask(GPT).choices[0].message.content == "Your order has shipped."
    assert ask(CLAUDE).choices[0].message.content == "It arrives on Tuesday."
    assert [(c.provider, c.status) for c in chaos.calls] == [("openai", 200), ("anthropic", 200)]

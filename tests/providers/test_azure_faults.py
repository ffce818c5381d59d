"""Azure OpenAI faults against the real ``openai.AzureOpenAI`` client: exception class,
status, code, the innererror body, attempts and retry-after-ms gaps."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import httpx2
import openai
import pytest

import chaoskit

ENDPOINT = "https://chaoskit-test.openai.azure.com"
MESSAGES = [{"role": "user", "content": "Where is my order?"}]


def azure(max_retries: int = 2) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        api_key="azure-key-test", api_version="2024-10-21", azure_endpoint=ENDPOINT,
        max_retries=max_retries, timeout=httpx2.Timeout(0.3, connect=0.2),
    )


def chat(client: openai.AzureOpenAI, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o-orders", messages=MESSAGES, **kwargs)  # type: ignore[arg-type]


def test_a_healthy_reply_on_the_deployment_url() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("azure", "It has shipped.")
        answer = chat(azure())
    assert answer.choices[0].message.content == "It has shipped."
    (call,) = chaos.calls
    assert call.provider == "azure"
    assert call.url == f"{ENDPOINT}/openai/deployments/gpt-4o-orders/chat/completions?api-version=2024-10-21"
    assert call.request_headers["api-key"] == "<redacted>"


def test_rate_limit_is_retried_after_retry_after_ms() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("azure.rate_limit", retry_after_ms=150)
        with pytest.raises(openai.RateLimitError) as info:
            chat(azure())
    error = info.value
    assert (error.status_code, error.code, error.type) == (429, "429", None)
    assert error.response.headers["x-ms-region"] == "East US"
    assert len(chaos.calls) == 3
    assert all(0.14 <= gap < 0.5 for gap in (b.started - a.started for a, b in pairwise(chaos.calls)))


def test_content_filter_on_the_prompt_is_a_bad_request_with_innererror() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("azure.content_filter.prompt")
        with pytest.raises(openai.BadRequestError) as info:
            chat(azure())
    error = info.value
    assert (error.status_code, error.code, error.param) == (400, "content_filter", "prompt")
    assert error.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"  # type: ignore[index]
    assert error.body["innererror"]["content_filter_result"]["hate"] == {"filtered": True, "severity": "high"}  # type: ignore[index]
    assert len(chaos.calls) == 1


def test_content_filter_on_the_answer_unary_and_streamed() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("azure", "Part of an answer that the filter stops.")
        chaos.inject("azure.content_filter")
        unary = chat(azure())
        chunks = list(chat(azure(), stream=True))
    assert unary.choices[0].finish_reason == "content_filter"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
    assert len(chaos.calls) == 2


@pytest.mark.parametrize(
    ("fault", "raises", "status", "attempts"),
    [
        ("azure.server_error", openai.InternalServerError, 500, 3),
        ("azure.unavailable", openai.InternalServerError, 503, 3),
        ("azure.deployment_not_found", openai.NotFoundError, 404, 1),
        ("azure.timeout.read", openai.APITimeoutError, None, 3),
        ("azure.connection.reset", openai.APIConnectionError, None, 3),
    ],
)
def test_status_and_network_faults(fault: str, raises: type[Exception], status: int | None, attempts: int) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        with pytest.raises(raises) as info:
            chat(azure())
    assert type(info.value) is raises
    assert getattr(info.value, "status_code", None) == status
    assert len(chaos.calls) == attempts
    assert [c.request_headers.get("x-stainless-retry-count") for c in chaos.calls] == [str(i) for i in range(attempts)]


def test_a_stream_cut_mid_body() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("azure", "one two three four five six")
        chaos.inject("azure.stream.cut.unclean")
        seen = []
        with pytest.raises(openai.APIConnectionError):
            for chunk in chat(azure(), stream=True):
                seen.append(chunk)
    assert seen and len(chaos.calls) == 1


def test_latency_within_the_timeout_is_only_late() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("azure.latency", seconds=0.1, jitter=0)
        assert chat(azure()).choices[0].message.content
    assert chaos.calls[0].duration >= 0.1


def test_every_azure_fault_is_tested_here() -> None:
    tested = {"azure.rate_limit", "azure.content_filter.prompt", "azure.content_filter", "azure.server_error",
              "azure.unavailable", "azure.deployment_not_found", "azure.timeout.read", "azure.connection.reset",
              "azure.stream.cut.unclean", "azure.latency"}
    assert sorted(tested) == chaoskit.faults.ids("azure.*")

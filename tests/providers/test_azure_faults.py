"""Azure OpenAI faults against the real ``openai.AzureOpenAI`` client: status, code, the
innererror body and retry-after-ms gaps (what chaoskit sends); the exception class and the
attempts are a real server's: the same call against ``fidelity.serve`` playing the fault."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import httpx2
import openai
import pytest
from _matrix import against_real, caught, same_failure

import chaoskit

ENDPOINT = "https://chaoskit-test.openai.azure.com"
MESSAGES = [{"role": "user", "content": "Where is my order?"}]


def azure(max_retries: int = 2, base: str | None = None) -> openai.AzureOpenAI:
    """The Azure client (``base``: a real server's URL as the resource endpoint)."""
    return openai.AzureOpenAI(
        api_key="azure-key-test", api_version="2024-10-21", azure_endpoint=base or ENDPOINT,
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
    real = against_real("azure.rate_limit", lambda base: chat(azure(base=base)), retry_after_ms=150)
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("azure.rate_limit", retry_after_ms=150)
        error = caught(lambda: chat(azure()))
    same_failure("azure.rate_limit", error, real)
    assert isinstance(error, openai.APIStatusError)
    assert (error.status_code, error.code, error.type) == (429, "429", None)
    assert error.response.headers["x-ms-region"] == "East US"
    assert len(chaos.calls) == real.attempts
    assert all(0.14 <= gap < 0.5 for gap in (b.started - a.started for a, b in pairwise(chaos.calls)))


def test_content_filter_on_the_prompt_is_a_bad_request_with_innererror() -> None:
    real = against_real("azure.content_filter.prompt", lambda base: chat(azure(base=base)))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("azure.content_filter.prompt")
        error = caught(lambda: chat(azure()))
    same_failure("azure.content_filter.prompt", error, real)
    assert isinstance(error, openai.APIStatusError)
    assert (error.status_code, error.code, error.param) == (400, "content_filter", "prompt")
    assert error.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"  # type: ignore[index]
    assert error.body["innererror"]["content_filter_result"]["hate"] == {"filtered": True, "severity": "high"}  # type: ignore[index]
    assert len(chaos.calls) == real.attempts


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
    ("fault", "status"),
    [
        ("azure.server_error", 500),
        ("azure.unavailable", 503),
        ("azure.deployment_not_found", 404),
        ("azure.timeout.read", None),
        ("azure.connection.reset", None),
    ],
)
def test_status_and_network_faults(fault: str, status: int | None) -> None:
    real = against_real(fault, lambda base: chat(azure(base=base)))
    with chaoskit.Chaos(seed=1, clock=chaoskit.VirtualClock()) as chaos:  # the SDK's backoff, virtual
        chaos.inject(fault)
        error = caught(lambda: chat(azure()))
    same_failure(fault, error, real)
    assert getattr(error, "status_code", None) == status
    attempts = real.attempts
    assert attempts is not None and len(chaos.calls) == attempts
    assert [c.request_headers.get("x-stainless-retry-count") for c in chaos.calls] == [str(i) for i in range(attempts)]


def test_a_stream_cut_mid_body() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("azure", "one two three four five six")
        chaos.inject("azure.stream.cut.unclean")
        seen: list[Any] = []
        error = caught(lambda: seen.extend(chat(azure(), stream=True)))
    real_seen: list[Any] = []
    real = against_real("azure.stream.cut.unclean", lambda base: real_seen.extend(chat(azure(base=base), stream=True)),
                        reply="one two three four five six")
    same_failure("azure.stream.cut.unclean", error, real)
    assert error is not None
    assert [c.choices[0].delta.content for c in seen if c.choices] == [c.choices[0].delta.content for c in real_seen if c.choices]
    assert seen and len(chaos.calls) == 1


def test_latency_within_the_timeout_is_only_late() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("azure.latency", seconds=0.1, jitter=0)
        assert chat(azure()).choices[0].message.content
    assert chaos.calls[0].duration >= 0.1


def test_a_planted_order_id_reads_as_a_normal_answer() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("azure", "Order A100 has shipped.")
        chaos.inject("azure.model.hallucination")
        answer = chat(azure())
    [p] = chaos.calls[0].planted or []
    assert answer.choices[0].message.content == f"Order {p.planted} has shipped."


def test_a_tool_loop_calls_the_tool_again() -> None:
    tools: Any = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("azure.model.tool_loop")
        answer = chat(azure(), tools=tools)
    [call] = answer.choices[0].message.tool_calls or []
    assert (call.function.name, call.function.arguments, answer.choices[0].finish_reason) == (
        "lookup_order", '{"order_id":"order_id 1"}', "tool_calls")


def test_every_azure_fault_is_tested_here() -> None:
    tested = {"azure.rate_limit", "azure.content_filter.prompt", "azure.content_filter", "azure.server_error",
              "azure.unavailable", "azure.deployment_not_found", "azure.timeout.read", "azure.connection.reset",
              "azure.stream.cut.unclean", "azure.latency"}
    # model.*: in test_openai_compatible_model_faults.py
    assert sorted(tested) == [i for i in chaoskit.faults.ids("azure.*") if ".model." not in i]

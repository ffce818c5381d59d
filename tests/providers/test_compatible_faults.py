"""OpenAI-compatible servers through the real openai SDK (``base_url``): vLLM and Ollama routed
to their profiles, Groq and Mistral on their own hosts. Status, code and type as the SDK reads
each server's own error body (what chaoskit sends); the exception class and the attempts the SDK
makes are a real server's: the same call against ``fidelity.serve`` playing the fault."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest
from _matrix import against_real, caught, same_failure

import chaoskit
from chaoskit.fidelity._sdks import BASE_PATHS

FAST = {"retry_after": 0.01}
BASES = {
    "vllm": "http://127.0.0.1:8000/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "mistral": "https://api.mistral.ai/v1",
    "groq": "https://api.groq.com/openai/v1",
}

# fault -> (status, code, type): what each server's error body says
CASES = {
    "vllm.overloaded": (503, "503", "ServiceUnavailableError"),
    "vllm.server_error": (500, "500", "InternalServerError"),
    "vllm.context_length": (400, "400", "BadRequestError"),
    "vllm.model_not_found": (404, "404", "NotFoundError"),
    "ollama.model_not_found": (404, None, "not_found_error"),
    "ollama.server_error": (500, None, "api_error"),
    "mistral.rate_limit": (429, "1300", "rate_limited"),
    "mistral.server_error": (500, "3000", "internal_server_error"),
    "groq.rate_limit": (429, "rate_limit_exceeded", "tokens"),
    "groq.capacity": (498, "capacity_exceeded", "capacity_exceeded"),
    "groq.cancelled": (499, "cancelled", "cancelled"),
}


def client(provider: str, base: str | None = None) -> openai.OpenAI:
    """The SDK for ``provider``'s server (``base``: a real server's URL, with the server's path)."""
    url = BASES[provider] if base is None else base + BASE_PATHS[provider]
    return openai.OpenAI(api_key="sk-test", base_url=url, max_retries=2, timeout=httpx2.Timeout(0.3, connect=0.2))


def ask(sdk: openai.OpenAI) -> Any:
    return sdk.chat.completions.create(model="llama-3.1-8b", messages=[{"role": "user", "content": "hi"}])


def session(provider: str) -> chaoskit.Chaos:
    chaos = chaoskit.Chaos(seed=1)
    if provider in ("vllm", "ollama"):  # self-hosted: the test says which server is behind the URL
        chaos.route(BASES[provider].removesuffix("/v1"), provider=provider)
    return chaos


@pytest.mark.parametrize("fault", sorted(CASES))
def test_the_sdk_reads_each_servers_error(fault: str) -> None:
    status, code, kind = CASES[fault]
    provider = fault.split(".", 1)[0]
    params = FAST if "retry_after" in chaoskit.faults.get(fault).params else {}
    real = against_real(fault, lambda base: ask(client(provider, base)), **params)
    with session(provider) as chaos:
        chaos.inject(fault, **params)
        error = caught(lambda: ask(client(provider)))
    same_failure(fault, error, real)
    assert isinstance(error, openai.APIStatusError)
    assert (error.status_code, error.code, error.type) == (status, code, kind)
    assert len(chaos.calls) == real.attempts and {c.provider for c in chaos.calls} == {provider}
    if fault == "vllm.model_not_found":
        assert str(error) == "Error code: 404 - The model `llama-3.1-8b` does not exist."


@pytest.mark.parametrize("provider", sorted(BASES))
def test_healthy_replies(provider: str) -> None:
    with session(provider) as chaos:
        chaos.reply(provider, f"hello from {provider}")
        answer = client(provider).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == f"hello from {provider}"
    assert chaos.calls[0].provider == provider


def test_ollama_cold_start_loads_the_model_once() -> None:
    with session("ollama") as chaos:
        chaos.inject("ollama.cold_start", seconds=0.2)
        c = openai.OpenAI(api_key="x", base_url=BASES["ollama"], timeout=5)
        for _ in range(2):
            c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert [c.fault for c in chaos.calls] == ["ollama.cold_start", None]
    assert chaos.calls[0].duration >= 0.2


@pytest.mark.parametrize("provider", sorted(BASES))
def test_a_planted_order_id_reads_as_a_normal_answer(provider: str) -> None:
    with session(provider) as chaos:
        chaos.reply(provider, "Order A100 has shipped.")
        chaos.inject(f"{provider}.model.hallucination")
        answer = ask(client(provider))
    [p] = chaos.calls[0].planted or []
    assert (p.original, answer.choices[0].message.content) == ("A100", f"Order {p.planted} has shipped.")


@pytest.mark.parametrize("provider", sorted(BASES))
def test_a_tool_loop_calls_the_tool_again_with_the_scripted_arguments(provider: str) -> None:
    tools: Any = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
    with session(provider) as chaos:
        chaos.reply(provider, chaoskit.tool_call("lookup_order", {"order_id": "A100"}))
        chaos.inject(f"{provider}.model.tool_loop")
        answer = client(provider).chat.completions.create(
            model="llama-3.1-8b", messages=[{"role": "user", "content": "Where is A100?"}], tools=tools)
    [call] = answer.choices[0].message.tool_calls or []
    assert (call.function.name, call.function.arguments, chaos.calls[0].detail) == (
        "lookup_order", '{"order_id":"A100"}', "tool loop step 1: calls lookup_order")


def test_every_compatible_fault_is_tested_here() -> None:
    ids = [i for p in ("groq", "mistral", "ollama", "vllm") for i in chaoskit.faults.ids(f"{p}.*") if ".model." not in i]
    assert sorted(ids) == sorted([*CASES, "ollama.cold_start"])  # model.*: test_openai_compatible_model_faults.py

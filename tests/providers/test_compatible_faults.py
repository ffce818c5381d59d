"""OpenAI-compatible servers through the real openai SDK (``base_url``): vLLM and Ollama routed
to their profiles, Groq and Mistral on their own hosts. Exception class, status, code and type
as the SDK reads each server's own error body, and the attempts it makes."""

from __future__ import annotations

import httpx2
import openai
import pytest

import chaoskit

FAST = {"retry_after": 0.01}
BASES = {
    "vllm": "http://127.0.0.1:8000/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "mistral": "https://api.mistral.ai/v1",
    "groq": "https://api.groq.com/openai/v1",
}

# fault -> (exception, status, code, type, attempts)
CASES = {
    "vllm.overloaded": (openai.InternalServerError, 503, "503", "ServiceUnavailableError", 3),
    "vllm.server_error": (openai.InternalServerError, 500, "500", "InternalServerError", 3),
    "vllm.context_length": (openai.BadRequestError, 400, "400", "BadRequestError", 1),
    "vllm.model_not_found": (openai.NotFoundError, 404, "404", "NotFoundError", 1),
    "ollama.model_not_found": (openai.NotFoundError, 404, None, "not_found_error", 1),
    "ollama.server_error": (openai.InternalServerError, 500, None, "api_error", 3),
    "mistral.rate_limit": (openai.RateLimitError, 429, "1300", "rate_limited", 3),
    "mistral.server_error": (openai.InternalServerError, 500, "3000", "internal_server_error", 3),
    "groq.rate_limit": (openai.RateLimitError, 429, "rate_limit_exceeded", "tokens", 3),
    "groq.capacity": (openai.APIStatusError, 498, "capacity_exceeded", "capacity_exceeded", 1),
    "groq.cancelled": (openai.APIStatusError, 499, "cancelled", "cancelled", 1),
}


def client(provider: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=BASES[provider], max_retries=2, timeout=httpx2.Timeout(0.3, connect=0.2))


def session(provider: str) -> chaoskit.Chaos:
    chaos = chaoskit.Chaos(seed=1)
    if provider in ("vllm", "ollama"):  # self-hosted: the test says which server is behind the URL
        chaos.route(BASES[provider].removesuffix("/v1"), provider=provider)
    return chaos


@pytest.mark.parametrize("fault", sorted(CASES))
def test_the_sdk_reads_each_servers_error(fault: str) -> None:
    raises, status, code, kind, attempts = CASES[fault]
    provider = fault.split(".", 1)[0]
    params = FAST if "retry_after" in chaoskit.faults.get(fault).params else {}
    with session(provider) as chaos:
        chaos.inject(fault, **params)
        with pytest.raises(raises) as info:
            client(provider).chat.completions.create(model="llama-3.1-8b", messages=[{"role": "user", "content": "hi"}])
    error = info.value
    assert type(error) is raises
    assert (error.status_code, error.code, error.type) == (status, code, kind)  # type: ignore[attr-defined]
    assert len(chaos.calls) == attempts and {c.provider for c in chaos.calls} == {provider}
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


def test_every_compatible_fault_is_tested_here() -> None:
    ids = [i for p in ("groq", "mistral", "ollama", "vllm") for i in chaoskit.faults.ids(f"{p}.*")]
    assert sorted(ids) == sorted([*CASES, "ollama.cold_start"])

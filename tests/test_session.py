"""The chaos session's own API: replies, injections, errors for bad arguments."""

from __future__ import annotations

import re
import time

import httpx2
import pytest

import chaoskit
from chaoskit import ChaosConfigError, faults, tool_call

CHAT = "https://api.openai.com/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def text_of(response: httpx2.Response) -> str | None:
    return response.json()["choices"][0]["message"]["content"]


def test_replies_are_used_in_order_and_the_last_repeats() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "one", "two")
        assert [text_of(httpx2.post(CHAT, json=BODY)) for _ in range(3)] == ["one", "two", "two"]


def test_a_failed_call_does_not_use_up_a_reply() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "first", "second")
        chaos.inject("openai.server_error", sequence=("fail", "pass"))
        assert httpx2.post(CHAT, json=BODY).status_code == 500
        assert text_of(httpx2.post(CHAT, json=BODY)) == "first"


def test_tool_call_replies() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", tool_call("lookup_order", {"order_id": "A100"}))
        message = httpx2.post(CHAT, json=BODY).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"] == {"name": "lookup_order", "arguments": '{"order_id":"A100"}'}


def test_inject_returns_a_live_injection_with_overridden_params() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        injection = chaos.inject("openai.rate_limit", times=1, retry_after=0.25)
        response = httpx2.post(CHAT, json=BODY)
        httpx2.post(CHAT, json=BODY)
    assert injection.fired == 1
    assert injection.fault == faults.get("openai.rate_limit", retry_after=0.25)
    assert response.headers["retry-after"] == "0.25"
    assert response.headers["x-request-id"] == "req_chaoskit00000"


def test_the_first_fault_that_fires_wins() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.auth", times=1)
        chaos.inject("openai.server_error", times=1)
        statuses = [httpx2.post(CHAT, json=BODY).status_code for _ in range(3)]
    assert statuses == [401, 500, 200]


def test_unknown_provider_is_named() -> None:
    chaos = chaoskit.Chaos(seed=1)
    with pytest.raises(ChaosConfigError) as info:
        chaos.reply("cohere", "hi")
    assert str(info.value) == (
        "unknown provider 'cohere'; chaoskit simulates: anthropic, azure, bedrock, gemini, groq, huggingface, mistral, ollama, openai, tgi, vllm"
    )


def test_reply_needs_replies_of_a_known_shape() -> None:
    chaos = chaoskit.Chaos(seed=1)
    with pytest.raises(ChaosConfigError, match=r"^chaos.reply\('openai'\) needs at least one reply$"):
        chaos.reply("openai")
    with pytest.raises(TypeError, match=r"^a reply must be a str, a chaoskit.tool_call\(...\), a list of tool calls or a chaoskit.structured_reply\(...\), not 42$"):
        chaos.reply("openai", 42)


def test_inject_rejects_what_is_not_a_fault() -> None:
    chaos = chaoskit.Chaos(seed=1)
    with pytest.raises(ChaosConfigError, match=r"^a fault must be a catalog id or a Fault, not 3$"):
        chaos.inject(3)  # type: ignore[arg-type]
    with pytest.raises(ChaosConfigError, match=r"^rate=1.5 must be a number from 0 to 1$"):
        chaos.inject("openai.rate_limit", rate=1.5)


def test_same_seed_and_scope_same_faults() -> None:
    def statuses(seed: int, scope: str) -> list[int]:
        with chaoskit.Chaos(seed=seed, scope=scope) as chaos:
            chaos.inject("openai.server_error", rate=0.5)
            return [httpx2.post(CHAT, json=BODY).status_code for _ in range(30)]

    assert statuses(5, "t::a") == statuses(5, "t::a")
    assert statuses(5, "t::a") != statuses(5, "t::b")


def test_cold_start_applies_to_the_first_call_and_after_idle() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.cold_start", seconds=0.05, idle=0.2)
        for _ in range(2):
            httpx2.post(CHAT, json=BODY)
        time.sleep(0.25)
        httpx2.post(CHAT, json=BODY)
    assert [c.fault for c in chaos.calls] == ["openai.cold_start", None, "openai.cold_start"]
    assert chaos.calls[0].duration >= 0.05


def test_journal_records_what_verdicts_need() -> None:
    import openai

    client = openai.OpenAI(api_key="sk-journal-key", max_retries=1, timeout=httpx2.Timeout(0.4, connect=0.2))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "The quick brown fox jumps over the lazy dog")
        chaos.inject("openai.rate_limit", times=1, retry_after_ms=20)
        chaos.inject("openai.stream.cut", times=1)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "b"}], stream=True))
    limited, retried, cut = chaos.calls
    assert (limited.retry_after, limited.retry_count, limited.text) == (0.02, 0, None)
    assert (retried.retry_count, retried.text, retried.complete) == (1, "The quick brown fox jumps over the lazy dog", True)
    assert limited.request_key == retried.request_key != cut.request_key
    assert limited.read_timeout == 0.4 and limited.endpoint == "chat"
    assert cut.complete is False and cut.text == "The quick"
    assert "sk-journal-key" in chaos.secrets and "sk-journal-key" not in str(chaos.calls.to_list())


def test_a_timed_out_call_gives_its_reply_back_and_a_stall_records_what_got_through() -> None:
    import openai

    client = openai.OpenAI(api_key="sk-test", max_retries=0, timeout=httpx2.Timeout(0.1, connect=0.1))
    messages = [{"role": "user", "content": "q"}]
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "first answer here", "second")
        chaos.script(["openai.timeout.read", "openai.stream.stall"])
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="m", messages=messages)
        with pytest.raises(openai.APITimeoutError):
            list(client.chat.completions.create(model="m", messages=messages, stream=True))
        assert client.chat.completions.create(model="m", messages=messages).choices[0].message.content == "second"
    timed_out, stalled, ok = chaos.calls
    assert (timed_out.text, timed_out.complete) == (None, False)
    assert (stalled.text, stalled.complete, stalled.error) == ("first answer", False, "ReadTimeout")
    assert stalled.duration >= 0.1 and ok.complete


def test_a_provider_fault_on_a_url_another_provider_serves_is_an_error() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        with pytest.raises(chaoskit.ChaosConfigError) as info:
            chaos.inject("anthropic.overloaded", url="https://api.openai.com/v1/*")
        assert str(info.value) == (
            "anthropic.overloaded cannot act on https://api.openai.com/v1/*: the openai profile serves "
            "api.openai.com, so anthropic faults never meet its calls; use openai.* faults there, or serve "
            "the URL as anthropic with chaos.route(URL, provider='anthropic')"
        )
        with pytest.raises(chaoskit.ChaosConfigError, match=r"^openai\.rate_limit cannot act on https://res\.openai\.azure\.com/\*: the azure profile serves"):
            chaos.inject("openai.rate_limit", url="https://res.openai.azure.com/*")
        for fault, url, serving in [
            ("anthropic.overloaded", "https://generativelanguage.googleapis.com/*", "gemini"),
            ("gemini.rate_limit", "https://bedrock-runtime.eu-west-1.amazonaws.com/*", "bedrock"),
            ("bedrock.throttling", "https://x1.us-east-1.aws.endpoints.huggingface.cloud/*", "huggingface"),
        ]:
            with pytest.raises(chaoskit.ChaosConfigError, match=rf"^{re.escape(fault)} cannot act on .*: the {serving} profile serves"):
                chaos.inject(fault, url=url)
        chaos.inject("openai.rate_limit", url="https://api.openai.com/v1/embeddings")  # its own host is fine
        chaos.route("https://gateway.internal/anthropic", provider="anthropic")
        chaos.inject("anthropic.overloaded", url="https://gateway.internal/anthropic/*")  # a routed gateway too

"""Faults on live upstream traffic, end to end: the real openai and anthropic SDKs, a real model
server on loopback (uvicorn, SSE with real pauses), reached through ``chaos.route(..., real=True)``.

For each fault the SDK must do on the real server's answer what it does on chaoskit's simulated
one: the same exception class, status and attempts; a stream broken after the same number of
events, carrying the real server's words before the break.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

import chaoskit

from ._upstream import TEXT, model_server

FAULTS = [
    "rate_limit", "server_error", "timeout.read", "latency", "malformed.null_content", "malformed.truncated_json",
    "stream.cut", "stream.cut.unclean", "stream.stall", "stream.error",
]
#: Short delays, the same on both paths, so a case takes a fraction of a second.
QUICK = {"retry_after": 0.01, "seconds": 0.05, "jitter": 0.0}
TIMEOUT = httpx2.Timeout(0.4, connect=0.4)
#: The first two words the real server streams, before a fault after two events breaks it.
REAL_WORDS = TEXT.split(" ")[0] + " " + TEXT.split(" ")[1]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server() as base:
        yield base


def call(provider: str, base: str | None, stream: bool) -> tuple[Any, str]:
    """One call through the provider's SDK: (what it returned, the model text it delivered)."""
    delivered: list[str] = []
    if provider == "openai":
        client = openai.OpenAI(api_key="sk-test", base_url=None if base is None else base + "/v1", max_retries=1, timeout=TIMEOUT)
        out: Any = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=stream)
        if not stream:
            return out, out.choices[0].message.content or ""
        for chunk in out:
            delivered += [c.delta.content or "" for c in chunk.choices]
        return out, "".join(delivered)
    claude = anthropic.Anthropic(api_key="sk-ant-test", base_url=base, max_retries=1, timeout=TIMEOUT)
    message: Any = claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}], stream=stream)
    if not stream:
        return message, "".join(getattr(b, "text", "") for b in message.content or ())
    for event in message:
        if event.type == "content_block_delta":
            delivered.append(event.delta.text)
    return message, "".join(delivered)


def outcome(provider: str, fault: str, base: str | None) -> dict[str, Any]:
    """What the app sees under ``fault``: on the simulated path (``base`` None) or on the real server."""
    stream = fault.startswith("stream.")
    fid = f"{provider}.{fault}"
    params = {k: v for k, v in QUICK.items() if k in chaoskit.faults.get(fid).params}
    if fault == "stream.stall":
        params.pop("seconds", None)  # a stall that never ends: the client's read timeout ends it
    delivered: list[str] = []
    with chaoskit.Chaos(seed=1) as chaos:
        if base is not None:
            chaos.route(base, provider=provider, real=True)
        else:
            chaos.reply(provider, TEXT)
        chaos.inject(fid, **params)
        try:
            _, text = call(provider, base, stream)
            delivered.append(text)
            error: BaseException | None = None
        except Exception as exc:  # noqa: BLE001 - compared across the two paths
            error = exc
    calls = list(chaos.calls)
    assert [c.fault for c in calls] == [fid] * len(calls)
    return {
        "raises": None if error is None else f"{type(error).__module__.split('.')[0]}.{type(error).__name__}",
        "status": getattr(error, "status_code", None),
        "attempts": len(calls),
        "journal": [(c.status, c.complete) for c in calls],
        "text": [c.text for c in calls],
        "delivered": delivered,
    }


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_fault_on_the_real_server_acts_as_on_the_simulated_reply(upstream: str, provider: str, fault: str) -> None:
    simulated, real = outcome(provider, fault, None), outcome(provider, fault, upstream)
    assert {k: real[k] for k in ("raises", "status", "attempts")} == {k: simulated[k] for k in ("raises", "status", "attempts")}
    assert real["journal"] == simulated["journal"]
    if fault.startswith("stream."):
        # the same text on both paths: the real server and the simulated reply say the same words
        assert real["text"] == simulated["text"]
    if fault in ("stream.cut", "stream.cut.unclean", "stream.stall", "stream.error"):
        assert real["text"] == [REAL_WORDS]  # the real server's words, up to the break


def test_healthy_calls_reach_the_real_server_streamed_as_it_streams(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="anthropic", real=True)
        _, text = call("anthropic", upstream, stream=True)
    assert text == TEXT
    assert len(chaos.calls) == 0  # passed through untouched


def test_a_fault_the_real_path_cannot_apply_says_which_and_what_to_do(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.content_filter")
        with pytest.raises(chaoskit.ChaosConfigError) as info:
            call("openai", upstream, stream=False)
    assert str(info.value).startswith(f"openai.content_filter cannot act on {upstream}/v1/chat/completions, a real server")
    assert "inject it where chaoskit simulates the model" in str(info.value)

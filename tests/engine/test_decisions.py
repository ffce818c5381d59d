"""The decision core: where the four fault-choosing loops used to disagree, and the decisions
that pass-through traffic and concurrent traffic get."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from respx.patterns import M

import chaoskit
from chaoskit import ChaosConfigError

from ._upstream import TEXT, model_server

CHAT = [{"role": "user", "content": "Where is order A100?"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server() as base:
        yield base


def ask(client: openai.OpenAI, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=CHAT, **kwargs)  # type: ignore[arg-type]


def caught(make: Any) -> BaseException | None:
    try:
        make()
    except Exception as exc:  # noqa: BLE001 - compared by the caller
        return exc
    return None


# ---- one loop, one request: patterns ---------------------------------------------------------


def test_a_provider_fault_narrowed_with_a_respx_pattern_fires() -> None:
    client = openai.OpenAI(api_key="sk-test", max_retries=0)
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.rate_limit", url=M(path__startswith="/v1/chat"))
        error = caught(lambda: ask(client))
        client.embeddings.create(model="text-embedding-3-small", input="hello")  # not /v1/chat: healthy
    assert isinstance(error, openai.APIStatusError) and error.status_code == 429
    assert [(c.endpoint, c.fault) for c in chaos.calls] == [("chat", "openai.rate_limit"), ("embeddings", None)]
    assert chaos.unmatched() == []  # the pattern met its requests: nothing to blame


def test_a_respx_pattern_on_a_method_and_json_body_narrows_a_provider_fault() -> None:
    client = openai.OpenAI(api_key="sk-test", max_retries=0)
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error", url=M(method="POST", json__model="gpt-4o"))
        ask(client)  # gpt-4o-mini: healthy
        error = caught(lambda: client.chat.completions.create(model="gpt-4o", messages=CHAT))  # type: ignore[arg-type]
    assert isinstance(error, openai.APIStatusError) and error.status_code == 500
    assert [c.fault for c in chaos.calls] == [None, "openai.server_error"]


# ---- chaos.router ------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
def test_router_answers_are_journaled_and_an_http_fault_on_their_url_fires(asynchronous: bool) -> None:
    url = "https://tools.internal/stock"

    def get() -> httpx2.Response:
        if not asynchronous:
            return httpx2.get(url)

        async def main() -> httpx2.Response:
            async with httpx2.AsyncClient() as client:
                return await client.get(url)

        return asyncio.run(main())

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.router.get(url).respond(200, json={"sku": "A100", "in_stock": 3})
        first = get()
        chaos.inject("http.server_error", url=url, times=1)
        faulted = get()
        after = get()
    assert first.json() == after.json() == {"sku": "A100", "in_stock": 3}
    assert faulted.status_code == 500
    assert [(c.provider, c.url, c.fault, c.status) for c in chaos.calls] == [
        ("http", url, None, 200), ("http", url, "http.server_error", 500), ("http", url, None, 200),
    ]
    assert chaos.unmatched() == []


def test_schema_drift_acts_on_a_router_answer() -> None:
    url = "https://tools.internal/order/A100"
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.router.get(url).respond(200, json={"order_id": "A100", "status": "shipped"})
        chaos.inject("http.schema_drift", url=url, variant="missing", path="status")
        body = httpx2.get(url).json()
    assert body == {"order_id": "A100"}
    assert chaos.calls[0].fault == "http.schema_drift"


# ---- faults on pass-through traffic ------------------------------------------------------------


def test_an_allowed_provider_host_still_gets_that_providers_faults() -> None:
    """api.openai.com let through: the fault replaces the answer, so no real request is made."""
    client = openai.OpenAI(api_key="sk-test", max_retries=0)
    with chaoskit.Chaos(seed=1, allow_hosts=["api.openai.com"]) as chaos:
        chaos.inject("openai.rate_limit")
        error = caught(lambda: ask(client))
    assert isinstance(error, openai.APIStatusError) and error.status_code == 429
    assert [(c.provider, c.fault) for c in chaos.calls] == [("openai", "openai.rate_limit")]


def real_client(base: str, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=base + "/v1", **kwargs)


def test_a_real_route_passes_healthy_calls_to_the_real_server(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        unary = ask(real_client(upstream))
        streamed = "".join(c.choices[0].delta.content or "" for c in ask(real_client(upstream), stream=True) if c.choices)
    assert unary.choices[0].message.content == streamed == TEXT  # the real server's words, not a simulation
    assert unary.id == "chatcmpl-upstream"


@pytest.mark.parametrize("fault", ["openai.rate_limit", "openai.server_error", "openai.timeout.read", "openai.connection.reset"])
def test_a_fault_that_replaces_the_answer_acts_as_on_the_simulated_path(upstream: str, fault: str) -> None:
    params: dict[str, Any] = {"retry_after": 0.01} if "retry_after" in chaoskit.faults.get(fault).params else {}

    def outcome(real: bool) -> tuple[str, int | None, int]:
        with chaoskit.Chaos(seed=1) as chaos:
            if real:
                chaos.route(upstream, provider="openai", real=True)
            chaos.inject(fault, **params)
            client = real_client(upstream, max_retries=1, timeout=httpx2.Timeout(0.2, connect=0.2)) if real else \
                openai.OpenAI(api_key="sk-test", max_retries=1, timeout=httpx2.Timeout(0.2, connect=0.2))
            error = caught(lambda: ask(client))
        assert error is not None
        assert [c.fault for c in chaos.calls] == [fault] * len(chaos.calls)
        return type(error).__name__, getattr(error, "status_code", None), len(chaos.calls)

    assert outcome(real=True) == outcome(real=False)


def test_latency_delays_the_real_answer(upstream: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider="openai", real=True)
        chaos.inject("openai.latency", seconds=0.2, jitter=0.0, times=1)
        answer = ask(real_client(upstream))
    assert answer.choices[0].message.content == TEXT
    (call,) = chaos.calls
    assert (call.fault, call.status) == ("openai.latency", 200)
    assert call.duration is not None and call.duration >= 0.2


def test_a_route_needs_a_url() -> None:
    with pytest.raises(ChaosConfigError, match=r"^route\('api.internal'\): give the URL the requests start with"):
        chaoskit.Chaos().route("api.internal", provider="openai")


# ---- concurrent traffic -----------------------------------------------------------------------


def decisions(seed: int, *, threads: bool) -> dict[str, str | None]:
    """Each call's fault, by the call's key, for 200 concurrent async calls or 8 threads x 25."""
    questions = [f"question {i}" for i in range(200)]
    with chaoskit.Chaos(seed=seed) as chaos:
        chaos.inject("openai.server_error", rate=0.3)
        if threads:
            client = openai.OpenAI(api_key="sk-test", max_retries=0)

            def worker(mine: list[str]) -> None:
                for q in mine:
                    caught(lambda q=q: client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}]))

            pool = [threading.Thread(target=worker, args=(questions[i::8],)) for i in range(8)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
        else:
            async def main() -> None:
                async with openai.AsyncOpenAI(api_key="sk-test", max_retries=0) as client:
                    async def one(q: str) -> None:
                        try:
                            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}])
                        except openai.APIStatusError:
                            pass

                    await asyncio.gather(*(one(q) for q in questions))

            asyncio.run(main())
    calls = list(chaos.calls)
    assert len(calls) == 200  # exactly one entry per call
    keyed = {c.request_key: c.fault for c in calls}
    assert len(keyed) == 200 and all(k is not None for k in keyed)
    return keyed  # type: ignore[return-value]


@pytest.mark.parametrize("threads", [False, True], ids=["200-async", "8-threads"])
def test_one_seed_makes_the_same_decision_for_each_call_however_they_interleave(threads: bool) -> None:
    first, second = decisions(7, threads=threads), decisions(7, threads=threads)
    assert first == second
    assert 30 <= sum(f is not None for f in first.values()) <= 90  # about 0.3 of 200
    assert decisions(8, threads=threads) != first  # the seed decides

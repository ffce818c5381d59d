"""The in-process HTTP seam: httpx and httpx2, sync and async, routing, rollback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpcore
import httpcore2
import httpx
import httpx2
import pytest

import chaoskit
from chaoskit import ChaosError, UnroutedRequestError
from chaoskit.seams import _player

CHAT = "https://api.openai.com/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
PATCHED = [
    (httpcore2.ConnectionPool, "handle_request"),
    (httpcore2.AsyncConnectionPool, "handle_async_request"),
    (httpcore.ConnectionPool, "handle_request"),
    (httpcore.AsyncConnectionPool, "handle_async_request"),
]


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"hello from a real socket"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def originals() -> list[object]:
    return [getattr(cls, name) for cls, name in PATCHED]


@pytest.mark.parametrize("client_cls", [httpx.Client, httpx2.Client], ids=["httpx", "httpx2"])
def test_sync_clients_of_both_families_are_intercepted(client_cls: type) -> None:
    with chaoskit.Chaos(seed=1) as chaos, client_cls() as client:
        chaos.reply("openai", "intercepted")
        response = client.post(CHAT, json=BODY)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "intercepted"
    assert [(c.provider, c.status, c.fault) for c in chaos.calls] == [("openai", 200, None)]


@pytest.mark.parametrize("client_cls", [httpx.AsyncClient, httpx2.AsyncClient], ids=["httpx", "httpx2"])
def test_async_clients_of_both_families_are_intercepted(client_cls: type) -> None:
    async def main() -> int:
        async with client_cls() as client:
            response = await client.post(CHAT, json=BODY)
            return response.status_code

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error")
        assert asyncio.run(main()) == 500
    assert chaos.calls[0].fault == "openai.server_error"


def test_async_streaming_body_arrives_in_chunks() -> None:
    async def main() -> list[bytes]:
        async with httpx2.AsyncClient() as client:
            async with client.stream("POST", CHAT, json={**BODY, "stream": True}) as response:
                return [chunk async for chunk in response.aiter_raw()]

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "one two three")
        chaos.inject("openai.slow_tokens", seconds=0.01)
        chunks = asyncio.run(main())
    assert len(chunks) > 3 and chunks[-1] == b"data: [DONE]\n\n"


def test_loopback_goes_to_the_real_server(local_server: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        assert httpx2.get(local_server).text == "hello from a real socket"
        assert httpx.get(local_server).text == "hello from a real socket"
    assert len(chaos.calls) == 0


def test_route_serves_a_gateway_url_as_a_provider(local_server: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(f"{local_server}/openai", provider="openai")
        chaos.inject("openai.rate_limit")
        response = httpx2.post(f"{local_server}/openai/v1/chat/completions", json=BODY)
        assert httpx2.get(local_server).status_code == 200  # the rest of the host is untouched
    assert response.status_code == 429
    assert chaos.calls[0].provider == "openai"


def test_an_unknown_host_is_blocked_with_a_clear_error() -> None:
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(UnroutedRequestError) as info:
        httpx2.get("https://tools.example.com/v1/search?q=x")
    assert str(info.value) == (
        "chaoskit blocked GET https://tools.example.com/v1/search?q=x: no provider profile serves "
        "this host and it is not allowed through. Allow it with chaos.allow_host(HOST) or "
        "`--chaos-allow-host HOST`, give it a canned reply with chaos.reply_http(URL, json=...), "
        "or serve it with chaos.route(URL, provider=NAME)."
    )
    assert [c.error for c in chaos.blocked] == ["Unrouted"]


def test_an_endpoint_the_simulator_does_not_serve_is_named() -> None:
    with chaoskit.Chaos(seed=1), pytest.raises(UnroutedRequestError) as info:
        httpx2.get("https://api.openai.com/v1/models")
    assert str(info.value) == (
        "chaoskit does not simulate GET /v1/models for openai; inject a fault for it, or allow "
        "the host through with chaos.allow_host(HOST)"
    )


def test_everything_is_restored_on_exit_even_after_an_error(local_server: str) -> None:
    before = originals()
    with pytest.raises(RuntimeError), chaoskit.Chaos(seed=1):
        assert originals() != before
        raise RuntimeError("the test failed")
    assert originals() == before
    assert httpx2.get(local_server).text == "hello from a real socket"


def test_two_sessions_at_once_are_refused() -> None:
    with chaoskit.Chaos(seed=1), pytest.raises(ChaosError, match="already active"):
        chaoskit.Chaos(seed=2).start()
    with chaoskit.Chaos(seed=3):  # and the first one ending frees the seam
        pass


def test_secrets_never_reach_the_journal() -> None:
    headers = {"Authorization": "Bearer sk-live-123", "api-key": "az-456", "x-api-key": "ant-789"}
    with chaoskit.Chaos(seed=1) as chaos:
        httpx2.post(CHAT, json={**BODY, "api_key": "sk-in-body"}, headers=headers)
    call = chaos.calls[0]
    dumped = json.dumps(call.to_dict())
    for secret in ("sk-live-123", "az-456", "ant-789", "sk-in-body"):
        assert secret not in dumped
    assert call.request_headers["authorization"] == "<redacted>"
    assert call.request_body["messages"][0]["content"] == "hi"


def test_latency_past_the_read_timeout_is_the_clients_own_timeout() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.latency", seconds=30, jitter=0)
        started = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout) as info:
            httpx2.post(CHAT, json=BODY, timeout=httpx2.Timeout(0.2))
        elapsed = time.monotonic() - started
    assert 0.18 < elapsed < 1.0
    assert chaos.calls[0].error == "ReadTimeout"
    assert any("chaoskit: injected openai.latency on POST" in n for n in getattr(info.value.__cause__, "__notes__", []))


def test_connect_timeout_uses_the_connect_timeout() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.timeout.connect")
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout):
            httpx.post(CHAT, json=BODY, timeout=httpx.Timeout(5, connect=0.15))
        assert 0.13 < time.monotonic() - started < 1.0


def test_a_client_with_no_read_timeout_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_player, "HANG_LIMIT", 0.05)
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.timeout.read")
        with pytest.raises(ChaosError, match=r"never answered and the client has no read timeout"):
            httpx2.post(CHAT, json=BODY, timeout=None)


def test_chaos_off_injects_nothing_but_still_simulates() -> None:
    with chaoskit.Chaos(seed=1, enabled=False) as chaos:
        chaos.inject("openai.rate_limit")
        assert httpx2.post(CHAT, json=BODY).status_code == 200
    assert chaos.calls[0].fault is None

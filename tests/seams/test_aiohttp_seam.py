"""The aiohttp seam: simulated replies, injected faults that match real sockets, timers, rollback."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp
import httpcore
import httpx
import pytest

import chaoskit
import chaoskit.faults
from chaoskit import UnroutedRequestError
from chaoskit.providers._plan import Break, Forward, Note, Respond, Send, Wait, respond_with
from chaoskit.seams._player import connect_phase

from ._loopback import blackhole, closed_port

CHAT = "https://api.openai.com/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
ROUTE = "/openai"  # the prefix chaos.route serves as openai on the loopback server
PATCHED = [(aiohttp.TCPConnector, "_create_connection"), (aiohttp.ClientSession, "_request")]


def originals() -> list[object]:
    return [cls.__dict__[name] for cls, name in PATCHED]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def post(url: str, timeout: aiohttp.ClientTimeout, *, stream: bool = False, **kwargs: Any) -> tuple[int, Any, list[bytes]]:
    """(status, headers, body lines) of a POST to ``url``, the body read line by line."""
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(url, json={**BODY, "stream": True} if stream else BODY, **kwargs) as response:
            return response.status, response.headers, [line async for line in response.content]


def failure(url: str, timeout: aiohttp.ClientTimeout, *, stream: bool = False) -> tuple[BaseException, list[bytes]]:
    """The exception a POST to ``url`` raises, and the body lines that arrived before it."""
    lines: list[bytes] = []

    async def main() -> None:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, json={**BODY, "stream": True} if stream else BODY) as response:
                async for line in response.content:
                    lines.append(line)

    with pytest.raises((aiohttp.ClientError, TimeoutError)) as info:
        run(main())
    return info.value, lines


def shape(exc: BaseException | None) -> list[tuple[type, str]]:
    """The exception chain as (class, message), without the URL of a connection timeout."""
    links = []
    while exc is not None:
        links.append((type(exc), re.sub(r"Connection timeout to host \S+", "Connection timeout to host URL", str(exc))))
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return links


# ---- simulated replies --------------------------------------------------------------------------


def test_a_post_gets_the_simulated_reply_and_is_journaled() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "hi")
        status, headers, lines = run(post(CHAT, aiohttp.ClientTimeout(total=1), headers={"Authorization": "Bearer sk-live-1"}))
    assert status == 200 and headers["content-type"] == "application/json"
    assert b'"content":"hi"' in b"".join(lines)
    call = chaos.calls[0]
    assert (call.provider, call.method, call.url, call.status, call.fault, call.error) == ("openai", "POST", CHAT, 200, None, None)
    assert call.request_body["messages"][0]["content"] == "hi"
    assert call.request_headers["authorization"] == "<redacted>"
    assert call.read_timeout is None


def test_a_stream_arrives_event_by_event() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "one two three")
        status, _, lines = run(post(CHAT, aiohttp.ClientTimeout(total=1), stream=True))
    events = [line for line in lines if line.startswith(b"data: ")]
    assert status == 200 and events[-1] == b"data: [DONE]\n" and len(events) > 3
    assert (chaos.calls[0].complete, chaos.calls[0].text) == (True, "one two three")


def test_rate_limit_is_a_429_with_retry_after() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.rate_limit")
        status, headers, lines = run(post(CHAT, aiohttp.ClientTimeout(total=1)))
    assert (status, headers["retry-after"]) == (429, "1")
    assert b'"code":"rate_limit_exceeded"' in b"".join(lines)
    assert chaos.calls[0].fault == "openai.rate_limit"


# ---- each injected failure raises what a real socket makes aiohttp raise ----------------------------

SOCKET_CASES = {
    # fault id: (real server path, stream, timeout)
    "openai.timeout.read": ("/sleep", False, aiohttp.ClientTimeout(sock_read=0.2)),
    "openai.connection.reset": ("/reset", False, aiohttp.ClientTimeout(total=1)),
    "openai.stream.reset": ("/body-reset", True, aiohttp.ClientTimeout(total=1)),
    "openai.stream.cut.unclean": ("/body-close", True, aiohttp.ClientTimeout(total=1)),
    "openai.stream.stall": ("/body-sleep", True, aiohttp.ClientTimeout(sock_read=0.2)),
}
JOURNALED = {
    "openai.timeout.read": "ReadTimeout", "openai.connection.reset": "ReadError", "openai.stream.reset": "ReadError",
    "openai.stream.cut.unclean": "RemoteProtocolError", "openai.stream.stall": "ReadTimeout",
}


@pytest.mark.parametrize("fault", list(SOCKET_CASES))
def test_an_injected_failure_matches_the_real_socket(server: str, fault: str) -> None:
    path, stream, timeout = SOCKET_CASES[fault]
    with chaoskit.Chaos(seed=1) as chaos:
        real, real_lines = failure(server + path, timeout, stream=stream)  # loopback: the real server
        chaos.route(server + ROUTE, provider="openai")
        chaos.inject(fault)
        injected, lines = failure(f"{server}{ROUTE}/v1/chat/completions", timeout, stream=stream)
    assert shape(injected) == shape(real)
    assert bool(lines) == bool(real_lines) == stream  # a stream fails after its first events, not before
    assert injected.__notes__ == [f"chaoskit: injected {fault} on POST {server}{ROUTE}/v1/chat/completions [seed=1]"]
    assert (chaos.calls[-1].fault, chaos.calls[-1].error) == (fault, JOURNALED[fault])


@pytest.mark.parametrize(
    "timeout",
    [aiohttp.ClientTimeout(connect=0.2), aiohttp.ClientTimeout(sock_connect=0.2), aiohttp.ClientTimeout(total=0.2)],
    ids=["connect", "sock_connect", "total"],
)
def test_a_connect_timeout_is_aiohttps_own_timer(timeout: aiohttp.ClientTimeout) -> None:
    with blackhole() as base, chaoskit.Chaos(seed=1) as chaos:
        real, _ = failure(f"{base}/x", timeout)
        chaos.route(base + ROUTE, provider="openai")
        chaos.inject("openai.timeout.connect")
        started = time.monotonic()
        injected, _ = failure(f"{base}{ROUTE}/v1/chat/completions", timeout)
        elapsed = time.monotonic() - started
    assert 0.18 < elapsed < 0.5
    assert shape(injected) == shape(real)
    expected = aiohttp.ConnectionTimeoutError if timeout.total is None else TimeoutError
    assert type(injected) is expected
    assert injected.__notes__ == [f"chaoskit: injected openai.timeout.connect on POST {base}{ROUTE}/v1/chat/completions [seed=1]"]
    assert (chaos.calls[-1].error, chaos.calls[-1].status) == ("ConnectTimeout", None)


def test_a_connect_timeout_shorter_than_the_clients_is_the_kernels() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(chaoskit.faults.get("openai.timeout.connect", after=0.05))  # the network gives up first
        injected, _ = failure(CHAT, aiohttp.ClientTimeout(connect=0.5))
    assert shape(injected) == [
        (aiohttp.ClientConnectorError, "Cannot connect to host api.openai.com:443 ssl:default [Connect call failed ('api.openai.com', 443)]"),
        (TimeoutError, "[Errno 110] Connect call failed ('api.openai.com', 443)"),
    ]
    assert chaos.calls[0].error == "ConnectTimeout"


def test_a_route_refusing_the_connection_matches_the_real_socket(server: str) -> None:
    refused = closed_port()
    with chaoskit.Chaos(seed=1) as chaos:
        real, _ = failure(f"{refused}/x", aiohttp.ClientTimeout(total=1))
        chaos.router.post(f"{server}{ROUTE}/v1/chat/completions").mock(side_effect=httpcore.ConnectError("refused"))
        injected, _ = failure(f"{server}{ROUTE}/v1/chat/completions", aiohttp.ClientTimeout(total=1))
    real_port, port = refused.rsplit(":", 1)[1], server.rsplit(":", 1)[1]
    assert shape(injected) == [(t, m.replace(real_port, port)) for t, m in shape(real)]
    assert type(injected) is aiohttp.ClientConnectorError


def test_a_route_closing_the_connection_matches_the_real_socket(server: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        real, _ = failure(f"{server}/close", aiohttp.ClientTimeout(total=1))
        chaos.router.post(f"{server}{ROUTE}/v1/chat/completions").mock(side_effect=httpcore.RemoteProtocolError("gone"))
        injected, _ = failure(f"{server}{ROUTE}/v1/chat/completions", aiohttp.ClientTimeout(total=1))
    assert shape(injected) == shape(real) == [(aiohttp.ServerDisconnectedError, "Server disconnected")]


def test_aiohttp_retries_an_idempotent_request_on_a_reset_itself() -> None:
    async def main() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.get("https://tools.internal/stock") as response:
            return response.status, await response.json()

    with chaoskit.Chaos(seed=1) as chaos:
        route = chaos.router.get("https://tools.internal/stock").mock(
            side_effect=[httpcore.ReadError("reset"), httpx.Response(200, json={"stock": 3})]
        )
        assert run(main()) == (200, {"stock": 3})
    assert route.call_count == 2  # aiohttp's own retry of a GET on a dropped connection


def test_concurrent_requests_each_get_their_own_answer() -> None:
    async def main() -> list[int]:
        async with aiohttp.ClientSession() as session:
            async def one() -> int:
                async with session.post(CHAT, json=BODY) as response:
                    await response.read()
                    return response.status
            return list(await asyncio.gather(*(one() for _ in range(6))))

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.rate_limit", times=2)
        statuses = run(main())
    assert sorted(statuses) == [200, 200, 200, 200, 429, 429]
    assert sorted(c.status for c in chaos.calls) == sorted(statuses)


def test_the_connect_phase_is_the_leading_notes_and_connect_failures() -> None:
    forward = Forward(respond_with)
    assert connect_phase([Note("n"), Break("connect_timeout"), Respond(200, ())]) == ([Note("n"), Break("connect_timeout")], [Respond(200, ())])
    assert connect_phase([Break("connect_refused")]) == ([Break("connect_refused")], [])
    assert connect_phase([Wait(1.0), Respond(200, ()), Send(b"x")]) == ([], [Wait(1.0), Respond(200, ()), Send(b"x")])
    assert connect_phase([Break("reset")]) == ([], [Break("reset")])  # a reset comes on a connection
    assert connect_phase([forward, Break("connect_timeout")]) == ([], [forward, Break("connect_timeout")])


# ---- latency and aiohttp's timers -----------------------------------------------------------------


def test_latency_shorter_than_sock_read_passes() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.latency", seconds=0.1, jitter=0)
        started = time.monotonic()
        status, _, _ = run(post(CHAT, aiohttp.ClientTimeout(sock_read=0.3)))
        elapsed = time.monotonic() - started
    assert status == 200 and 0.09 < elapsed < 0.3
    assert (chaos.calls[0].fault, chaos.calls[0].error, chaos.calls[0].read_timeout) == ("openai.latency", None, 0.3)


def test_latency_longer_than_sock_read_times_out_after_sock_read() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.latency", seconds=5, jitter=0)
        started = time.monotonic()
        injected, _ = failure(CHAT, aiohttp.ClientTimeout(sock_read=0.2))
        elapsed = time.monotonic() - started
    assert 0.18 < elapsed < 0.5
    assert shape(injected) == [(aiohttp.SocketTimeoutError, "Timeout on reading data from socket")]
    assert chaos.calls[0].error == "ReadTimeout"


def test_a_total_timeout_matches_the_real_socket(server: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        real, _ = failure(f"{server}/sleep", aiohttp.ClientTimeout(total=0.2))
        chaos.route(server + ROUTE, provider="openai")
        chaos.inject("openai.latency", seconds=5, jitter=0)
        started = time.monotonic()
        injected, _ = failure(f"{server}{ROUTE}/v1/chat/completions", aiohttp.ClientTimeout(total=0.2))
        elapsed = time.monotonic() - started
    assert 0.18 < elapsed < 0.5
    assert shape(injected) == shape(real)
    assert type(injected) is TimeoutError


# ---- any HTTP API, routing and rollback -------------------------------------------------------------


def test_http_unavailable_then_the_canned_reply() -> None:
    async def main() -> list[tuple[int, str | None, Any]]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
            answers = []
            for _ in range(2):
                async with session.get("https://crm.internal/customers/7") as response:
                    answers.append((response.status, response.headers.get("retry-after"), await response.json()))
            return answers

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.unavailable", url="https://crm.internal/*", times=1)
        chaos.reply_http("https://crm.internal/*", json={"customer": {"id": 7}})
        answers = run(main())
    assert answers == [(503, "1", {"error": {"status": 503, "message": "Service Unavailable"}}), (200, None, {"customer": {"id": 7}})]
    assert [(c.provider, c.fault, c.status) for c in chaos.calls] == [("http", "http.unavailable", 503), ("http", None, 200)]


def test_a_fault_on_the_real_service_forwards_to_it(server: str) -> None:
    async def main() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.get(f"{server}/ok") as response:
            return response.status, await response.read()

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.latency", url=f"{server}/*", seconds=0.05)
        started = time.monotonic()
        answer = run(main())
        elapsed = time.monotonic() - started
    assert answer == (200, b"ok") and 0.05 < elapsed < 0.5
    assert [(c.fault, c.status) for c in chaos.calls] == [("http.latency", 200)]


def test_loopback_goes_to_the_real_server_untouched(server: str) -> None:
    async def main() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.get(f"{server}/ok") as response:
            return response.status, await response.read()

    with chaoskit.Chaos(seed=1) as chaos:
        assert run(main()) == (200, b"ok")
    assert len(chaos.calls) == 0


def test_a_respx_route_answers_other_apis() -> None:
    async def main() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.get("https://tools.internal/stock") as response:
            return response.status, await response.json()

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.router.get("https://tools.internal/stock").respond(503, json={"error": "down"})
        assert run(main()) == (503, {"error": "down"})


def test_an_unknown_host_is_blocked() -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as session, session.get("https://tools.example.com/v1/search?q=x"):
            pass

    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(UnroutedRequestError, match=r"^chaoskit blocked GET https://tools\.example\.com/v1/search\?q=x: "):
        run(main())
    assert [c.error for c in chaos.blocked] == ["Unrouted"]


def test_every_patch_is_removed_after_the_session() -> None:
    before = originals()
    with chaoskit.Chaos(seed=1):
        assert all(a is not b for a, b in zip(originals(), before, strict=True))
    assert originals() == before


def test_every_patch_is_removed_when_the_body_raised() -> None:
    before = originals()
    with pytest.raises(RuntimeError, match=r"^the test failed$"), chaoskit.Chaos(seed=1):
        raise RuntimeError("the test failed")
    assert originals() == before
    refused, _ = failure(f"{closed_port()}/x", aiohttp.ClientTimeout(total=1))  # really on the network again
    assert type(refused) is aiohttp.ClientConnectorError and isinstance(refused.__cause__, ConnectionRefusedError)

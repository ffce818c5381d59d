"""Blast radius and per-request faults on the proxy: only synthetic traffic, some models, some
routes, a percentage that replicas agree on; ``x-chaoskit-fault`` only with the token; streams
relayed as they arrive."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from engine._upstream import PAUSE, TEXT

from ._proxy import TOKEN, journal, proxy_for, put_on


@pytest.fixture
def proxy(upstream: str) -> Iterator[tuple[Any, httpx.Client]]:
    with proxy_for(f"openai={upstream}", seed=7) as running:
        yield running


def ask(proxy: Any, model: str = "gpt-4o", **headers: str) -> str:
    """The answer's text, or the name of the error the SDK raised."""
    client = openai.OpenAI(base_url=f"{proxy.url}/openai/v1", api_key="sk-test", max_retries=0, timeout=5,
                           default_headers=headers or None)
    try:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}]).choices[0].message.content or ""
    except openai.APIError as exc:
        return type(exc).__name__


def test_a_header_match_touches_only_synthetic_traffic(proxy: Any) -> None:
    server, control = proxy
    put_on(control, "openai.server_error", match={"headers": {"X-Chaos-Target": "synthetic"}})
    assert ask(server) == TEXT
    assert ask(server, **{"x-chaos-target": "real-user"}) == TEXT
    assert ask(server, **{"x-chaos-target": "synthetic"}) == "InternalServerError"


def test_a_model_match_takes_globs(proxy: Any) -> None:
    server, control = proxy
    put_on(control, "openai.rate_limit", match={"models": ["gpt-4o-mini*"]})
    assert ask(server, model="gpt-4o") == TEXT
    assert ask(server, model="gpt-4o-mini-2024") == "RateLimitError"


def test_a_route_match_takes_path_globs(proxy: Any) -> None:
    server, control = proxy
    put_on(control, "openai.rate_limit", match={"routes": ["/v1/embeddings"]})
    assert ask(server) == TEXT
    put_on(control, "openai.server_error", match={"routes": ["/v1/chat/*"]})
    assert ask(server) == "InternalServerError"


def test_requests_outside_the_blast_radius_do_not_count_toward_times(proxy: Any) -> None:
    server, control = proxy
    put_on(control, "openai.server_error", times=1, match={"headers": {"x-chaos-target": "synthetic"}})
    assert [ask(server) for _ in range(3)] == [TEXT] * 3
    assert ask(server, **{"x-chaos-target": "synthetic"}) == "InternalServerError"


def test_a_percentage_is_the_same_on_two_replicas_with_one_seed(upstream: str) -> None:
    """Replicas need no coordination for a percentage: each request's draw comes from the seed and the request."""
    outcomes = []
    for _ in range(2):
        with proxy_for(f"openai={upstream}", seed=11) as (server, control):
            put_on(control, "openai.server_error", match={"percent": 50})
            outcomes.append([ask(server, model=f"m{i}") for i in range(40)])
    assert outcomes[0] == outcomes[1]
    hit = outcomes[0].count("InternalServerError")
    assert 10 <= hit <= 30, hit  # about half, and not all or nothing
    with proxy_for(f"openai={upstream}", seed=12) as (server, control):
        put_on(control, "openai.server_error", match={"percent": 50})
        assert [ask(server, model=f"m{i}") for i in range(40)] != outcomes[0]  # another seed, other draws


def test_a_fault_header_with_the_token_fails_that_request_only(proxy: Any) -> None:
    server, control = proxy
    assert ask(server, **{"x-chaoskit-fault": "openai.rate_limit", "x-chaoskit-token": TOKEN}) == "RateLimitError"
    assert ask(server) == TEXT
    entries = journal(control)
    assert [e["fault"] for e in entries] == ["openai.rate_limit", None]
    assert all("x-chaoskit-token" not in e["request_headers"] for e in entries)  # never forwarded, never journaled


def test_fault_parameters_ride_in_their_own_header(proxy: Any) -> None:
    server, _ = proxy
    headers = {"x-chaoskit-fault": "openai.latency", "x-chaoskit-fault-params": '{"seconds": 0.3, "jitter": 0}', "x-chaoskit-token": TOKEN}
    started = time.monotonic()
    assert ask(server, **headers) == TEXT
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(("headers", "error"), [
    ({"x-chaoskit-fault": "openai.rate_limit"},
     "chaoskit proxy: x-chaoskit-fault is honoured only with the proxy's control token in x-chaoskit-token; send it "
     "(or remove the header), or start the proxy with --token"),
    ({"x-chaoskit-fault": "openai.rate_limit", "x-chaoskit-token": "not-the-token-0123456789"},
     "chaoskit proxy: x-chaoskit-fault is honoured only with the proxy's control token in x-chaoskit-token; send it "
     "(or remove the header), or start the proxy with --token"),
    ({"x-chaoskit-fault": "openai.rate_limt", "x-chaoskit-token": TOKEN},
     "chaoskit proxy: x-chaoskit-fault: unknown fault id 'openai.rate_limt'. Did you mean: openai.rate_limit, "
     "openai.rate_limit.tokens, anthropic.rate_limit? Run `chaoskit faults` to list the catalog."),
    ({"x-chaoskit-fault": "openai.latency", "x-chaoskit-fault-params": "{", "x-chaoskit-token": TOKEN},
     "chaoskit proxy: x-chaoskit-fault-params is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
])
def test_a_fault_header_without_the_token_or_with_a_bad_id_is_refused(proxy: Any, headers: dict[str, str], error: str) -> None:
    server, control = proxy
    response = httpx.post(f"{server.url}/openai/v1/chat/completions", headers=headers,
                          json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 403
    assert response.json() == {"error": {"type": "chaoskit_proxy", "message": error}}
    assert journal(control) == []  # it never reached the upstream


def test_an_upstream_off_the_allow_list_is_never_forwarded(proxy: Any) -> None:
    server, control = proxy
    for path in ("/api.openai.com/v1/models", "/v1/chat/completions", "/", "/http:/evil.example/x"):
        response = httpx.get(server.url + path)
        assert response.status_code == 404
        assert "this proxy forwards only to its allow-list: /openai/" in response.json()["error"]["message"]
    assert journal(control) == []
    assert 'chaoskit_proxy_refused_total{reason="unknown upstream"} 4.0' in control.get("/metrics").text


def test_a_stream_is_relayed_as_it_arrives_not_buffered(proxy: Any) -> None:
    """The first event reaches the app long before the real server has sent the last one."""
    server, _ = proxy
    client = openai.OpenAI(base_url=f"{server.url}/openai/v1", api_key="sk-test", max_retries=0)
    started = time.monotonic()
    arrivals = []
    for chunk in client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
    words = len(TEXT.split(" "))
    assert len(arrivals) == words
    assert arrivals[-1] - arrivals[0] >= (words - 1) * PAUSE * 0.8  # spread out as the server paced them


def _raw(server: Any, fault: str) -> tuple[bytes, BaseException | None]:
    """What a raw socket reads from the proxy for one request under ``fault``: (bytes, the error that ended it)."""
    import socket

    host, port = server.url.removeprefix("http://").split(":")
    body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
    request = (f"POST /openai/v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
               f"x-chaoskit-fault: {fault}\r\nx-chaoskit-token: {TOKEN}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
    got = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                got += chunk
                if got.endswith(b"\r\n0\r\n\r\n"):  # the chunked body's end: the connection stays open (keep-alive)
                    break
        except OSError as exc:
            return got, exc
    return got, None


def test_a_reset_is_a_tcp_rst_and_an_unclean_cut_a_fin_on_the_apps_connection(proxy: Any) -> None:
    server, _ = proxy
    got, error = _raw(server, "openai.connection.reset")
    assert (got, type(error)) == (b"", ConnectionResetError)
    got, error = _raw(server, "openai.stream.reset")
    assert got.startswith(b"HTTP/1.1 200") and isinstance(error, ConnectionResetError)
    got, error = _raw(server, "openai.stream.cut.unclean")
    assert got.startswith(b"HTTP/1.1 200") and error is None  # closed (FIN) ...
    assert not got.endswith(b"0\r\n\r\n")  # ... without the chunked body's last chunk
    got, error = _raw(server, "openai.stream.cut")
    assert got.endswith(b"0\r\n\r\n") and error is None  # a clean end: the last chunk is there

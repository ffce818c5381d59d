"""``http.*`` faults on any HTTP API: URL patterns, canned replies, the real service behind them.

The service is a real ``http.server`` on loopback. Each fault is checked through httpx and
httpx2 clients, sync and async, and the transport faults against what the same client raises
when a real server misbehaves in the same way.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import httpx2
import pytest
import requests
from respx.patterns import M

import chaoskit
from chaoskit import ChaosConfigError
from chaoskit._drift import VARIANTS

CUSTOMER = {"customer": {"id": 7, "email": "ada@example.com", "tier": "gold", "since": "2026-01-05"}, "orders": [1, 2]}
SERVED: list[str] = []  # paths the real service answered: whether a request reached it


class _Crm(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        SERVED.append(self.path)
        if self.path == "/truncate":  # a real server that dies half-way through its body
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"10\r\n" + b'{"customer": {"i' + b"\r\n")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = json.dumps(CUSTOMER).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("x-crm", "real")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def crm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Crm)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _clear() -> None:
    SERVED.clear()


CLIENTS = [httpx2.Client, httpx.Client]
TIMEOUT = {"timeout": 0.3}


def get(client_cls: type, url: str, **kwargs: Any) -> Any:
    with client_cls(**kwargs) as client:
        return client.get(url)


def failure(fn: Callable[[], Any]) -> BaseException:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("no exception")


# ---- the canned reply and the real service -------------------------------------------------


@pytest.mark.parametrize("client_cls", CLIENTS)
def test_status_faults_replace_the_answer_and_the_rest_reach_the_service(crm: str, client_cls: type) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.unavailable", url=f"{crm}/customers/*", times=1)
        failed = get(client_cls, f"{crm}/customers/7")
        healthy = get(client_cls, f"{crm}/customers/7")
    assert (failed.status_code, failed.headers["retry-after"]) == (503, "1")
    assert failed.json() == {"error": {"status": 503, "message": "Service Unavailable"}}
    assert healthy.json() == CUSTOMER and healthy.headers["x-crm"] == "real"
    assert SERVED == ["/customers/7"]  # the faulted call never reached the service
    assert [(c.provider, c.fault, c.status) for c in chaos.calls] == [("http", "http.unavailable", 503)]


@pytest.mark.parametrize(
    ("fault", "status", "content_type", "check"),
    [
        ("http.server_error", 500, "application/json", lambda r: r.json()["error"]["status"] == 500),
        ("http.bad_gateway", 502, "text/html", lambda r: "<h1>502 Bad Gateway</h1>" in r.text and r.headers["server"] == "nginx"),
        ("http.gateway_timeout", 504, "text/html", lambda r: "504 Gateway Time-out" in r.text),
        ("http.rate_limit", 429, "application/json", lambda r: r.headers["retry-after"] == "1"),
        ("http.malformed.html", 200, "text/html; charset=utf-8", lambda r: r.text.startswith("<!DOCTYPE html>")),
    ],
)
def test_error_pages(fault: str, status: int, content_type: str, check: Callable[[Any], bool]) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault, url="https://crm.internal")
        response = httpx2.get("https://crm.internal/customers/7")
    assert response.status_code == status and response.headers["content-type"] == content_type
    assert check(response)
    assert chaos.calls[0].fault == fault


def test_http_status_takes_any_status_body_and_headers() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.status", url="https://crm.internal/*", status=409, json={"conflict": True}, headers={"etag": "v2"})
        response = httpx2.put("https://crm.internal/customers/7", json={"tier": "gold"})
    assert (response.status_code, response.json(), response.headers["etag"]) == (409, {"conflict": True}, "v2")
    assert chaos.calls[0].request_body == {"tier": "gold"}


def test_a_canned_reply_answers_without_a_service() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply_http("https://crm.internal/customers/*", json=CUSTOMER, headers={"x-crm": "canned"})
        chaos.reply_http("https://crm.internal/health", text="ok", method="GET")
        customer = httpx2.get("https://crm.internal/customers/7")
        health = httpx.get("https://crm.internal/health")
        with pytest.raises(chaoskit.UnroutedRequestError):  # POST /health has no reply
            httpx2.post("https://crm.internal/health")
    assert customer.json() == CUSTOMER and customer.headers["x-crm"] == "canned"
    assert (health.text, health.headers["content-type"]) == ("ok", "text/plain; charset=utf-8")
    assert [(c.fault, c.status) for c in chaos.calls[:2]] == [(None, 200), (None, 200)]


def test_the_latest_canned_reply_wins() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply_http("https://crm.internal/*", json={"v": 1})
        chaos.reply_http("https://crm.internal/*", json={"v": 2})
        assert httpx2.get("https://crm.internal/x").json() == {"v": 2}


# ---- transport faults look like a real misbehaving server -----------------------------------


@pytest.mark.parametrize("client_cls", CLIENTS)
def test_truncated_body_raises_what_a_real_cut_raises(crm: str, client_cls: type) -> None:
    real = failure(lambda: get(client_cls, f"{crm}/truncate"))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.truncated", url=f"{crm}/customers/*")
        injected = failure(lambda: get(client_cls, f"{crm}/customers/7"))
    assert type(injected) is type(real)
    assert type(injected).__module__ == client_cls.__module__.split(".")[0]
    assert chaos.calls[0].error == "RemoteProtocolError" and SERVED == ["/truncate", "/customers/7"]


@pytest.mark.parametrize("client_cls", CLIENTS)
def test_timeouts_and_resets(client_cls: type) -> None:
    module = __import__(client_cls.__module__.split(".")[0])
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.timeout.read", url="https://crm.internal/slow")
        chaos.inject("http.timeout.connect", url="https://crm.internal/down")
        chaos.inject("http.reset", url="https://crm.internal/reset")
        start = time.monotonic()
        assert type(failure(lambda: get(client_cls, "https://crm.internal/slow", **TIMEOUT))) is module.ReadTimeout
        assert 0.29 <= time.monotonic() - start < 1
        assert type(failure(lambda: get(client_cls, "https://crm.internal/down", **TIMEOUT))) is module.ConnectTimeout
        assert type(failure(lambda: get(client_cls, "https://crm.internal/reset"))) is module.ReadError
    assert [c.error for c in chaos.calls] == ["ReadTimeout", "ConnectTimeout", "ReadError"]


def test_latency_and_cold_start_delay_the_real_answer(crm: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.cold_start", url=f"{crm}/*", seconds=0.2)
        start = time.monotonic()
        first = httpx2.get(f"{crm}/a")
        cold = time.monotonic() - start
        start = time.monotonic()
        second = httpx2.get(f"{crm}/b")
        warm = time.monotonic() - start
    assert first.json() == second.json() == CUSTOMER
    assert cold >= 0.2 and warm < 0.15
    assert [c.fault for c in chaos.calls] == ["http.cold_start"]
    assert SERVED == ["/a", "/b"]


def test_latency_past_the_clients_timeout_is_a_read_timeout(crm: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.latency", url=f"{crm}/*", seconds=5)
        start = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout):
            httpx2.get(f"{crm}/a", timeout=0.2)
    assert time.monotonic() - start < 1
    assert chaos.calls[0].error == "ReadTimeout" and SERVED == []


def test_malformed_json_and_content_type_on_the_real_body(crm: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.malformed", url=f"{crm}/*", times=1)
        chaos.inject("http.malformed.content_type", url=f"{crm}/*", times=1)
        broken = httpx2.get(f"{crm}/a")
        retyped = httpx2.get(f"{crm}/a")
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert json.dumps(CUSTOMER).startswith(broken.text) and len(broken.text) < len(json.dumps(CUSTOMER))
    assert retyped.headers["content-type"] == "text/html; charset=utf-8" and retyped.json() == CUSTOMER
    assert retyped.headers["x-crm"] == "real"
    assert [c.fault for c in chaos.calls] == ["http.malformed", "http.malformed.content_type"]


# ---- schema drift -------------------------------------------------------------------------


def test_schema_drift_on_the_real_body_is_named_in_the_journal(crm: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.schema_drift", url=f"{crm}/*", variant="renamed", path="customer.email")
        drifted = httpx2.get(f"{crm}/customers/7").json()
    assert drifted["customer"] == {"id": 7, "email_v2": "ada@example.com", "tier": "gold", "since": "2026-01-05"}
    assert chaos.calls[0].detail == "renamed customer.email -> customer.email_v2"
    assert "[renamed customer.email -> customer.email_v2]" in chaos.calls.format()


def test_schema_drift_chosen_by_the_seed_repeats_with_the_seed() -> None:
    def run(seed: int) -> list[str | None]:
        with chaoskit.Chaos(seed=seed, scope="test_x") as chaos:
            chaos.reply_http("https://crm.internal/*", json=CUSTOMER)
            chaos.inject("http.schema_drift", url="https://crm.internal/*")
            for _ in range(4):
                httpx2.get("https://crm.internal/customers/7")
        return [c.detail for c in chaos.calls]

    assert run(1) == run(1)
    assert len({tuple(run(seed)) for seed in range(6)}) > 1


def test_schema_drift_that_cannot_apply_is_an_error_the_test_sees() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply_http("https://crm.internal/*", json=CUSTOMER)
        chaos.inject("http.schema_drift", url="https://crm.internal/*", variant="null", path="customer.phone")
        with pytest.raises(ChaosConfigError, match=r"^schema drift path='customer.phone' names nothing in GET https://crm.internal/customers/7; its fields: customer, customer.id,"):
            httpx2.get("https://crm.internal/customers/7")
    assert len(chaos.config_errors) == 1


def test_schema_drift_on_a_body_that_is_not_json(crm: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply_http("https://crm.internal/*", text="plain words")
        chaos.inject("http.schema_drift", url="https://crm.internal/*")
        with pytest.raises(ChaosConfigError, match=r"^schema drift cannot apply to GET https://crm.internal/x: its body is not JSON$"):
            httpx2.get("https://crm.internal/x")
    assert chaos.calls[0].error == "ChaosConfigError"


# ---- async clients, requests, patterns -----------------------------------------------------


@pytest.mark.parametrize("client_cls", [httpx2.AsyncClient, httpx.AsyncClient])
def test_async_clients(crm: str, client_cls: type) -> None:
    async def main() -> list[Any]:
        async with client_cls(timeout=0.3) as client:
            drifted = (await client.get(f"{crm}/a")).json()
            try:
                await client.get(f"{crm}/b")
            except Exception as exc:  # noqa: BLE001
                return [drifted, exc]
        raise AssertionError("no timeout")

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.schema_drift", url=f"{crm}/*", times=1, variant="empty_list", path="orders")
        chaos.inject("http.timeout.read", url=f"{crm}/*", times=1)
        drifted, exc = asyncio.run(main())
    assert drifted["orders"] == [] and type(exc).__name__ == "ReadTimeout"
    assert [c.fault for c in chaos.calls] == ["http.schema_drift", "http.timeout.read"]


def test_requests_meets_the_same_faults(crm: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.unavailable", url=f"{crm}/*", times=1)
        chaos.inject("http.schema_drift", url=f"{crm}/*", times=1, variant="null", path="customer.tier")
        failed = requests.get(f"{crm}/a", timeout=1)
        drifted = requests.get(f"{crm}/a", timeout=1)
        healthy = requests.get(f"{crm}/a", timeout=1)
    assert failed.status_code == 503
    assert drifted.json()["customer"]["tier"] is None
    assert healthy.json() == CUSTOMER
    assert [c.fault for c in chaos.calls] == ["http.unavailable", "http.schema_drift"]


@pytest.mark.parametrize(
    ("url", "method", "hits"),
    [
        ("https://crm.internal/customers*", None, ["GET /customers/7", "POST /customers"]),
        ("https://crm.internal/customers/7", None, ["GET /customers/7"]),
        ("https://crm.internal", "POST", ["POST /customers"]),
        ("https://crm.internal/search?q=*", None, ["GET /search?q=ada"]),
        (re.compile(r"/customers(/\d+)?$"), "get", ["GET /customers/7"]),
        (M(host="crm.internal", path__startswith="/search"), None, ["GET /search?q=ada"]),
    ],
)
def test_url_patterns(url: Any, method: str | None, hits: list[str]) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply_http("https://crm.internal/*", json={})
        chaos.inject("http.server_error", url=url, method=method)
        with httpx2.Client(base_url="https://crm.internal") as client:
            client.get("/customers/7")
            client.post("/customers", json={})
            client.get("/search", params={"q": "ada"})
            client.get("/other")
    faulted = [f"{c.method} {c.url.removeprefix('https://crm.internal')}" for c in chaos.calls if c.fault]
    assert faulted == hits


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.inject("http.unavailable"),
         "http.unavailable needs url=: the requests it is for, such as url='https://crm.internal/*'"),
        (lambda c: c.inject("http.unavailable", url="crm.internal/*"),
         "url='crm.internal/*' must be a full URL pattern with a scheme, such as 'https://crm.internal/*'"),
        (lambda c: c.inject("http.unavailable", url=42),
         "url=42 must be a URL glob such as 'https://crm.internal/*', a compiled regular expression, or a respx pattern"),
        (lambda c: c.inject("http.unavailable", url="https://crm.internal/*", method="GET /x"),
         "method='GET /x' must be an HTTP method such as 'GET' or 'POST'"),
        (lambda c: c.inject("http.unavailable", url="https://crm.internal/*", target="app:f"),
         "target= is for tool.* faults; http.unavailable acts on HTTP requests (narrow it with url=)"),
        (lambda c: c.inject("openai.rate_limit", method="POST"), "method='POST' needs url= as well"),
        (lambda c: c.reply_http("https://crm.internal/*", json={}, text="x"),
         "reply_http('https://crm.internal/*'): give one of json=, text= or content=, not json and text"),
        (lambda c: c.inject("http.unavailable", url="https://crm.internal/*", code=3),
         "fault 'http.unavailable' has no parameter 'code'; its parameters are: body, content_type, headers, json, retry_after, status"),
    ],
)
def test_bad_scopes_are_clear_errors(call: Callable[[chaoskit.Chaos], Any], message: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(ChaosConfigError, match=f"^{re.escape(message)}$"):
        call(chaos)


def test_a_provider_fault_narrowed_to_one_url() -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error", url="https://api.openai.com/v1/embeddings")
        chat = httpx2.post("https://api.openai.com/v1/chat/completions", json=body)
        embedding = httpx2.post("https://api.openai.com/v1/embeddings", json={"model": "text-embedding-3-small", "input": "hi"})
    assert (chat.status_code, embedding.status_code) == (200, 500)


def test_an_unfired_fault_on_a_host_nobody_serves_is_blocked() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.unavailable", url="https://crm.internal/*", times=1)
        assert httpx2.get("https://crm.internal/a").status_code == 503
        with pytest.raises(chaoskit.UnroutedRequestError, match=r"chaos\.reply_http\(URL"):
            httpx2.get("https://crm.internal/a")
    assert [c.error for c in chaos.blocked] == ["Unrouted"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_drift_variant_through_the_seam_is_named_in_the_journal(variant: str) -> None:
    from tests.test_drift import BODY

    with chaoskit.Chaos(seed=2) as chaos:
        chaos.reply_http("https://crm.internal/*", json=BODY)
        chaos.inject("http.schema_drift", url="https://crm.internal/*", variant=variant)
        drifted = httpx2.get("https://crm.internal/customers/7").json()
    assert drifted != BODY
    (call,) = chaos.calls
    assert call.fault == "http.schema_drift" and call.detail is not None and call.detail.startswith(variant)

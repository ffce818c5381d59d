"""The proxy's control API, over real sockets: the token, faults with TTLs, bad input, reset,
the journal without secrets, and the metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from engine._upstream import TEXT

from ._proxy import TOKEN, journal, proxy_for, put_on


@pytest.fixture
def proxy(upstream: str) -> Iterator[tuple[Any, httpx.Client]]:
    with proxy_for(f"openai={upstream}", max_active_faults=3) as running:
        yield running


def ask(proxy: Any, **headers: str) -> Any:
    client = openai.OpenAI(base_url=f"{proxy.url}/openai/v1", api_key="sk-proj-SECRETKEY0123456789abcdef", max_retries=0,
                           timeout=5, default_headers=headers or None)
    return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_every_route_but_health_and_metrics_needs_the_token(proxy: Any) -> None:
    server, control = proxy
    anonymous = httpx.Client(base_url=server.control_url)
    assert anonymous.get("/health").json()["status"] == "ok"
    assert anonymous.get("/metrics").status_code == 200
    for method, path in [("GET", "/faults"), ("POST", "/faults"), ("DELETE", "/faults/f1"), ("POST", "/reset"), ("GET", "/journal")]:
        for headers in ({}, {"authorization": "Bearer wrong-token-0123456789"}, {"authorization": TOKEN}):
            response = anonymous.request(method, path, headers=headers, json={"fault": "openai.rate_limit"})
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer realm="chaoskit"'
            assert response.json() == {"error": "the control API needs the proxy's token: send 'Authorization: Bearer TOKEN' "
                                                "(the token the proxy was started with, --token or CHAOSKIT_PROXY_TOKEN)"}
    assert control.get("/faults").json() == {"faults": []}  # nothing was put on


def test_a_fault_is_on_until_removed_and_lists_with_its_time_left(proxy: Any) -> None:
    server, control = proxy
    added = put_on(control, "openai.rate_limit", ttl=30, times=1, label="phase one")
    assert (added["id"], added["fault"], added["ttl"], added["times"], added["label"]) == ("f1", "openai.rate_limit", 30.0, 1, "phase one")
    assert 29 < control.get("/faults").json()["faults"][0]["expires_in"] <= 30
    with pytest.raises(openai.RateLimitError):
        ask(server)
    assert control.get("/faults/f1").json()["fired"] == 1
    assert ask(server).choices[0].message.content == TEXT  # times=1: spent
    assert control.delete("/faults/f1").json()["removed"]["id"] == "f1"
    assert control.delete("/faults/f1").status_code == 404
    assert control.get("/faults").json() == {"faults": []}


def test_a_fault_not_renewed_expires_by_itself(proxy: Any) -> None:
    server, control = proxy
    put_on(control, "openai.server_error", ttl=0.5)
    renewed = put_on(control, "openai.rate_limit", ttl=0.5, upstream="openai")
    with pytest.raises(openai.InternalServerError):
        ask(server)
    deadline = time.monotonic() + 0.45
    while time.monotonic() < deadline:
        assert control.patch(f"/faults/{renewed['id']}", json={"ttl": 0.5}).status_code == 200
        time.sleep(0.1)
    time.sleep(0.3)  # past the first one's TTL and the sweep
    assert [f["id"] for f in control.get("/faults").json()["faults"]] == [renewed["id"]]
    with pytest.raises(openai.RateLimitError):
        ask(server)
    time.sleep(0.75)
    assert control.get("/faults").json() == {"faults": []}
    assert ask(server).choices[0].message.content == TEXT
    assert "chaoskit_proxy_faults_expired_total 2.0" in control.get("/metrics").text


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"fault": "openai.rate_limt"}, 400, "POST /faults: unknown fault id 'openai.rate_limt'. Did you mean: openai.rate_limit, "
                                       "openai.rate_limit.tokens, anthropic.rate_limit? Run `chaoskit faults` to list the catalog."),
    ({"fault": "openai.latency", "params": {"seconds": -1}}, 400, None),
    ({"fault": "openai.rate_limit", "rate": 2}, 400, "POST /faults: rate=2 must be a number from 0 to 1"),
    ({"fault": "openai.rate_limit", "ttl": 0}, 400, "POST /faults: ttl=0 must be seconds, more than 0 and at most 3600 (the proxy's --max-ttl)"),
    ({"fault": "openai.rate_limit", "ttl": 7200}, 400, None),
    ({"fault": "openai.rate_limit", "upstream": "anthropic"}, 400, "POST /faults: upstream='anthropic' is not one of this proxy's: openai"),
    ({"fault": "anthropic.overloaded"}, 400, "POST /faults: anthropic.overloaded is a anthropic fault, and no upstream of this proxy speaks anthropic: openai (openai)"),
    ({"fault": "http.reset"}, 400, "POST /faults: http.reset acts on plain HTTP: say which upstream it is for (\"upstream\": NAME)"),
    ({"fault": "openai.rate_limit", "tll": 5}, 400, None),
    ({"fault": "openai.rate_limit", "match": {"percent": 120}}, 400, "POST /faults: percent=120 must be a number from 0 to 100"),
    ({"fault": "openai.rate_limit", "window": [5]}, 400, None),
    ({"fault": 3}, 400, None),
])
def test_a_bad_fault_is_refused_with_what_to_do_and_nothing_is_put_on(proxy: Any, body: dict[str, Any], status: int, message: str | None) -> None:
    _, control = proxy
    response = control.post("/faults", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error.startswith("POST /faults: ")
    if message is not None:
        assert error == message
    assert control.get("/faults").json() == {"faults": []}


def test_an_unknown_field_names_the_fields_there_are(proxy: Any) -> None:
    assert proxy[1].post("/faults", json={"fault": "openai.rate_limit", "tll": 5}).json()["error"] == (
        "POST /faults: unknown field 'tll'; a fault takes fault, params, rate, times, after, window, sequence, ttl, upstream, match, label"
    )


@pytest.mark.parametrize(("method", "path", "content", "status", "error"), [
    ("POST", "/faults", b"{not json", 400, "the request body is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("POST", "/faults", b"[1]", 400, "the request body must be a JSON object"),
    ("PUT", "/faults", b"", 405, "PUT /faults is not supported; use GET or POST"),
    ("GET", "/nowhere", b"", 404, "no route GET /nowhere; the control API has GET /health, GET /metrics, GET|POST /faults, "
                                  "GET|PATCH|DELETE /faults/ID, POST /reset, POST /halt, POST /resume, GET /journal, "
                                  "GET|POST /claim, DELETE /claim/OWNER"),
    ("POST", "/reset", b'{"seed": "x"}', 400, "POST /reset: seed='x' must be a whole number"),
    ("GET", "/journal?since=x", b"", 400, "GET /journal: since must be a journal index (a whole number)"),
    ("PATCH", "/faults/f9", b"{}", 404, "no fault 'f9' is on (it may have expired); put it on again"),
])
def test_a_malformed_control_request_gets_a_clear_error(proxy: Any, method: str, path: str, content: bytes, status: int, error: str) -> None:
    response = proxy[1].request(method, path, content=content)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_past_max_active_faults_an_add_is_refused_and_counted(proxy: Any) -> None:
    _, control = proxy
    for _ in range(3):
        put_on(control, "openai.latency", ttl=30)
    response = control.post("/faults", json={"fault": "openai.latency"})
    assert response.status_code == 409
    assert response.json()["error"] == ("the proxy already has 3 faults on (max_active_faults=3); remove one "
                                        "(DELETE /faults/ID) or start the proxy with a higher --max-active-faults")
    metrics = control.get("/metrics").text
    assert "chaoskit_proxy_faults_overflow_total 1.0" in metrics
    assert "chaoskit_proxy_active_faults 3.0" in metrics


def test_reset_takes_every_fault_off_and_can_reseed(proxy: Any) -> None:
    server, control = proxy
    ids = [put_on(control, "openai.server_error", ttl=30)["id"] for _ in range(2)]
    assert control.post("/reset", json={"seed": 42}).json() == {"removed": ids, "seed": 42}
    assert control.get("/health").json()["seed"] == 42
    assert ask(server).choices[0].message.content == TEXT


def test_the_journal_and_metrics_never_hold_a_secret(proxy: Any) -> None:
    server, control = proxy
    put_on(control, "openai.rate_limit", times=1)
    secrets = {"authorization": "Bearer sk-proj-SECRETKEY0123456789abcdef", "api-key": "azure-key-abcdef0123456789abcd",
               "x-api-key": "sk-ant-api03-SECRET0123456789"}
    with pytest.raises(openai.RateLimitError):
        ask(server, **{"api-key": secrets["api-key"], "x-api-key": secrets["x-api-key"]})
    ask(server, **{"api-key": secrets["api-key"]})
    text = control.get("/journal").text
    entries = journal(control)
    assert [e["fault"] for e in entries] == ["openai.rate_limit", None]
    assert {e["request_headers"]["authorization"] for e in entries} == {"<redacted>"}
    assert entries[0]["request_headers"]["x-api-key"] == "<redacted>"
    exposed = text + control.get("/metrics").text + control.get("/faults").text + control.get("/health").text
    for value in (*secrets.values(), "SECRETKEY0123456789", "SECRET0123456789"):
        assert value not in exposed


def test_journal_since_gives_the_entries_from_an_index(proxy: Any) -> None:
    server, control = proxy
    for _ in range(3):
        ask(server)
    assert [e["index"] for e in journal(control)] == [0, 1, 2]
    assert [int(line.split(",")[0].split(":")[1]) for line in control.get("/journal?since=2").text.splitlines()] == [2]


def test_metrics_count_requests_injections_and_upstream_latency(proxy: Any) -> None:
    server, control = proxy
    put_on(control, "openai.server_error", times=1)
    put_on(control, "openai.latency", params={"seconds": 0.01, "jitter": 0}, times=1)
    for _ in range(3):
        try:
            ask(server)
        except openai.InternalServerError:
            pass
    metrics = control.get("/metrics").text
    for line in [
        'chaoskit_proxy_requests_total{upstream="openai"} 3.0',
        'chaoskit_proxy_faults_injected_total{fault="openai.server_error",upstream="openai"} 1.0',
        'chaoskit_proxy_faults_injected_total{fault="openai.latency",upstream="openai"} 1.0',
        'chaoskit_proxy_aborts_injected_total{upstream="openai"} 1.0',
        'chaoskit_proxy_delays_injected_total{upstream="openai"} 1.0',
        'chaoskit_proxy_responses_total{class="2xx",upstream="openai"} 2.0',
        'chaoskit_proxy_responses_total{class="5xx",upstream="openai"} 1.0',
        'chaoskit_proxy_upstream_latency_seconds_count{upstream="openai"} 1.0',
    ]:
        assert line in metrics


def test_halt_takes_every_fault_off_and_refuses_new_ones_until_resume(proxy: Any) -> None:
    _, control = proxy
    put_on(control, "openai.rate_limit")
    halted = control.post("/halt", json={"reason": "incident INC-42 declared"})
    assert halted.status_code == 200 and halted.json()["halted"] == "incident INC-42 declared"
    assert len(halted.json()["removed"]) == 1
    assert control.get("/faults").json()["faults"] == []
    assert httpx.get(control.base_url.join("/health")).json()["halted"] == "incident INC-42 declared"  # no token needed
    refused = control.post("/faults", json={"fault": "openai.rate_limit"})
    assert refused.status_code == 409
    assert refused.json()["error"] == ("the proxy is halted (incident INC-42 declared): it puts no fault on; "
                                       "POST /resume when it is safe to go on")
    assert control.post("/resume").json() == {"resumed": True}
    assert httpx.get(control.base_url.join("/health")).json()["halted"] is None
    put_on(control, "openai.rate_limit")


def test_halt_and_resume_need_the_token(proxy: Any) -> None:
    _, control = proxy
    for path in ("/halt", "/resume"):
        assert httpx.post(control.base_url.join(path)).status_code == 401

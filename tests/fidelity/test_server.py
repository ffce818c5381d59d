"""PlanServer plays plans over a real socket: framing as the in-process player frames them,
FINs and RSTs where a plan breaks, silence where it waits, and the requests it read."""

from __future__ import annotations

import math
import time

import httpx2
import pytest

from chaoskit.fidelity import PlanServer, blackhole, closed_port
from chaoskit.providers._plan import Break, Note, Plan, Respond, Send, Wait

HEADERS = (("content-type", "text/event-stream"),)


def serve(plan: Plan) -> PlanServer:
    return PlanServer(lambda request: list(plan))


def test_a_whole_body_goes_with_content_length_and_the_connection_is_kept() -> None:
    with serve([Note("a note is not sent"), Respond(529, HEADERS), Send(b"one"), Send(b"two")]) as server, httpx2.Client() as client:
        first = client.post(server.url + "/v1/x", json={"a": 1})
        second = client.get(server.url + "/again")
    assert (first.status_code, first.reason_phrase, first.content) == (529, "", b"onetwo")
    assert first.headers["content-length"] == "6" and "transfer-encoding" not in first.headers
    assert [(r.request.method, r.request.path, r.request.json) for r in server.received] == [
        ("POST", "/v1/x", {"a": 1}), ("GET", "/again", None),
    ]
    assert second.status_code == 529
    assert server.received[0].request.url == server.url + "/v1/x"


def test_a_body_with_a_pause_is_chunked_and_paused() -> None:
    with serve([Respond(200, HEADERS), Send(b"one"), Wait(0.2), Send(b"two")]) as server, httpx2.Client() as client:
        with client.stream("GET", server.url) as response:
            assert response.headers["transfer-encoding"] == "chunked"
            arrivals = []
            for chunk in response.iter_raw():
                arrivals.append((chunk, time.monotonic()))
    assert [c for c, _ in arrivals] == [b"one", b"two"]
    assert arrivals[1][1] - arrivals[0][1] >= 0.19


@pytest.mark.parametrize(("kind", "error", "message"), [
    ("reset", httpx2.ReadError, "[Errno 104] Connection reset by peer"),
    ("incomplete", httpx2.RemoteProtocolError, "peer closed connection without sending complete message body (incomplete chunked read)"),
])
def test_a_break_mid_body_after_the_chunks_before_it(kind: str, error: type[Exception], message: str) -> None:
    got = []
    with serve([Respond(200, HEADERS), Send(b"one"), Break(kind)]) as server, httpx2.Client() as client:  # type: ignore[arg-type]
        with pytest.raises(error) as raised, client.stream("GET", server.url) as response:
            for chunk in response.iter_raw():
                got.append(chunk)
    assert got == [b"one"] and str(raised.value) == message


def test_a_break_before_the_response() -> None:
    with serve([Break("incomplete")]) as server, httpx2.Client() as client:
        with pytest.raises(httpx2.RemoteProtocolError, match="^Server disconnected without sending a response.$"):
            client.get(server.url)
    with serve([Break("reset")]) as server, httpx2.Client() as client:
        with pytest.raises(httpx2.ReadError):
            client.get(server.url)


def test_a_wait_without_end_holds_until_the_client_gives_up() -> None:
    with serve([Wait(math.inf), Respond(200, HEADERS)]) as server, httpx2.Client(timeout=0.3) as client:
        start = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout):
            client.get(server.url)
        assert 0.29 <= time.monotonic() - start < 2
    assert len(server.received) == 1


def test_a_planner_that_fails_is_answered_599_and_kept() -> None:
    def planner(request: object) -> Plan:
        raise KeyError("no plan")

    with PlanServer(planner) as server, httpx2.Client() as client:
        assert client.get(server.url).status_code == 599
    assert [type(e) for e in server.errors] == [KeyError]


def test_connect_breaks_are_endpoints_not_plans() -> None:
    with serve([Break("connect_timeout")]) as server, httpx2.Client() as client:
        assert client.get(server.url).status_code == 599
    assert "blackhole() or closed_port()" in str(server.errors[0])
    with blackhole() as base, pytest.raises(httpx2.ConnectTimeout):
        httpx2.get(base, timeout=0.2)
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(closed_port(), timeout=0.2)

"""The proxy's claim, over real sockets: one run or game day holds the proxy at a time, on a
lease; another owner is refused with who holds it; the owner renews and releases it; a claim
not renewed ends by itself; ``/health`` shows it without the owner; bad input says what to do."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ._proxy import proxy_for, put_on

OURS = {"owner": "gameday-0a1b2c3d4e5f", "title": "OpenAI outage", "kind": "gameday", "ttl": 30}


@pytest.fixture
def proxy(upstream: str) -> Iterator[tuple[Any, httpx.Client]]:
    with proxy_for(f"openai={upstream}", max_ttl=600) as running:
        yield running


def test_a_free_proxy_is_claimed_and_health_shows_the_claim_but_not_its_owner(proxy: Any) -> None:
    server, control = proxy
    assert httpx.get(server.control_url + "/health").json()["claim"] is None
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    taken = control.post("/claim", json=OURS)
    assert taken.status_code == 200, taken.text
    claim = taken.json()["claim"]
    assert taken.json()["renewed"] is False
    assert {k: claim[k] for k in ("owner", "title", "kind", "ttl")} == {**OURS, "ttl": 30.0}
    assert 29 < claim["expires_in"] <= 30
    assert before <= dt.datetime.fromisoformat(claim["since"]) <= dt.datetime.now(dt.UTC)
    health = httpx.get(server.control_url + "/health")  # no token
    shown = health.json()["claim"]
    assert sorted(shown) == ["expires_in", "kind", "since", "title", "ttl"]
    assert [shown[k] for k in ("title", "kind", "since", "ttl")] == [claim[k] for k in ("title", "kind", "since", "ttl")]
    assert OURS["owner"] not in health.text
    assert control.get("/claim").json()["claim"]["owner"] == OURS["owner"]


def test_another_owner_is_refused_with_who_holds_it_and_for_how_long(proxy: Any) -> None:
    _, control = proxy
    control.post("/claim", json=OURS).raise_for_status()
    refused = control.post("/claim", json={"owner": "run-ffffffffffff", "title": "nightly", "kind": "run", "ttl": 10})
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == ("the proxy is in use by game day 'OpenAI outage' (its lease ends in 30 s); wait for it to finish, "
                             "or pull its kill switch with POST /halt")
    assert sorted(body["claim"]) == ["expires_in", "kind", "since", "title", "ttl"]  # no owner: nothing to release it with
    assert (body["claim"]["title"], body["claim"]["kind"]) == ("OpenAI outage", "gameday")
    assert control.get("/claim").json()["claim"]["owner"] == OURS["owner"]  # still ours


def test_the_owner_renews_its_claim_and_keeps_its_since(proxy: Any) -> None:
    _, control = proxy
    first = control.post("/claim", json={**OURS, "ttl": 1}).json()["claim"]
    time.sleep(0.6)
    renewed = control.post("/claim", json={**OURS, "ttl": 1})
    assert renewed.json()["renewed"] is True
    assert renewed.json()["claim"]["since"] == first["since"]
    assert renewed.json()["claim"]["expires_in"] > 0.9
    time.sleep(0.6)  # past the first lease: the renewal kept it
    assert control.get("/claim").json()["claim"]["owner"] == OURS["owner"]


def test_the_owner_releases_it_and_no_one_else_can(proxy: Any) -> None:
    _, control = proxy
    control.post("/claim", json=OURS).raise_for_status()
    other = control.delete("/claim/run-ffffffffffff")
    assert (other.status_code, other.json()) == (404, {"error": "'run-ffffffffffff' holds no claim on this proxy (it may have "
                                                                "expired); GET /claim shows who does"})
    assert control.get("/claim").json()["claim"]["owner"] == OURS["owner"]
    released = control.delete(f"/claim/{OURS['owner']}")
    assert released.status_code == 200 and released.json()["released"]["owner"] == OURS["owner"]
    assert control.get("/claim").json() == {"claim": None}
    assert control.post("/claim", json={"owner": "run-ffffffffffff", "kind": "run"}).status_code == 200


def test_a_claim_not_renewed_ends_by_itself(proxy: Any) -> None:
    server, control = proxy
    control.post("/claim", json={**OURS, "ttl": 0.5}).raise_for_status()
    assert control.post("/claim", json={"owner": "run-ffffffffffff"}).status_code == 409
    time.sleep(0.6)
    assert httpx.get(server.control_url + "/health").json()["claim"] is None
    taken = control.post("/claim", json={"owner": "run-ffffffffffff"})
    assert (taken.status_code, taken.json()["renewed"]) == (200, False)
    assert taken.json()["claim"]["ttl"] == 10.0  # the default lease


def test_faults_put_on_by_hand_are_not_checked_against_the_claim(proxy: Any) -> None:
    _, control = proxy
    control.post("/claim", json=OURS).raise_for_status()
    put_on(control, "openai.rate_limit", ttl=30)  # the claim keeps runners apart; people with the token act as before


def test_claims_need_the_token(proxy: Any) -> None:
    server, _ = proxy
    anonymous = httpx.Client(base_url=server.control_url)
    for method, path in [("GET", "/claim"), ("POST", "/claim"), ("DELETE", f"/claim/{OURS['owner']}")]:
        assert anonymous.request(method, path, json=OURS).status_code == 401
    assert anonymous.get("/health").json()["claim"] is None


@pytest.mark.parametrize(("body", "error"), [
    ({"title": "x"}, "POST /claim: owner=None must be 1 to 100 letters, digits or . _ : @ - (the run's id, the same on every renewal)"),
    ({"owner": "a b/c"}, "POST /claim: owner='a b/c' must be 1 to 100 letters, digits or . _ : @ - (the run's id, the same on every renewal)"),
    ({"owner": "r1", "kind": "drill"}, "POST /claim: kind='drill' must be one of run, gameday"),
    ({"owner": "r1", "ttl": 0}, "POST /claim: ttl=0 must be seconds, more than 0 and at most 600 (the proxy's --max-ttl)"),
    ({"owner": "r1", "ttl": 601}, "POST /claim: ttl=601 must be seconds, more than 0 and at most 600 (the proxy's --max-ttl)"),
    ({"owner": "r1", "ttl": "10"}, "POST /claim: ttl='10' must be seconds, more than 0 and at most 600 (the proxy's --max-ttl)"),
    ({"owner": "r1", "title": 3}, "POST /claim: title=3 must be text of at most 200 characters (the scenario's title)"),
    ({"owner": "r1", "tll": 5}, "POST /claim: unknown field 'tll'; a claim takes owner, title, kind, ttl"),
])
def test_a_bad_claim_is_refused_with_what_to_do_and_nothing_is_claimed(proxy: Any, body: dict[str, Any], error: str) -> None:
    _, control = proxy
    response = control.post("/claim", json=body)
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert control.get("/claim").json() == {"claim": None}


@pytest.mark.parametrize(("method", "path", "status", "error"), [
    ("PUT", "/claim", 405, "PUT /claim is not supported; use GET or POST"),
    ("GET", "/claim/r1", 405, "GET /claim/OWNER is not supported; use DELETE"),
])
def test_a_wrong_method_on_claim_says_which_there_are(proxy: Any, method: str, path: str, status: int, error: str) -> None:
    response = proxy[1].request(method, path)
    assert (response.status_code, response.json()) == (status, {"error": error})


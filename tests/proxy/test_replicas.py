"""Two chaos proxy processes sharing one real Redis (``--state``): faults added on one are on
both, ``times`` counts across them, a removal on one reaches the other, and Redis expires a
fault by its TTL with no proxy left to do it."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from engine._upstream import TEXT
from network._dbservers import redis_server

from ._proxy import TOKEN
from .test_proxy_cli import start

AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def replicas(upstream: str) -> Iterator[list[tuple[str, str]]]:
    with redis_server() as redis:
        state = f"redis://{redis.host}:{redis.port}/0"
        started = [start("--upstream", f"openai={upstream}", "--state", state, "--seed", "3") for _ in range(2)]
        try:
            yield [(url, control) for _, url, control in started]
        finally:
            for process, _, _ in started:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=10)


def ask(url: str) -> str:
    client = openai.OpenAI(base_url=f"{url}/openai/v1", api_key="sk-test", max_retries=0, timeout=5)
    try:
        return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content or ""
    except openai.APIError as exc:
        return type(exc).__name__


def listed(control: str) -> list[str]:
    return [f["id"] for f in httpx.get(control + "/faults", headers=AUTH).json()["faults"]]


def eventually(check: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the replicas did not agree in time"
        time.sleep(0.02)


def test_times_counts_across_replicas(replicas: list[tuple[str, str]]) -> None:
    (a_url, a_control), (b_url, b_control) = replicas
    added = httpx.post(a_control + "/faults", headers=AUTH, json={"fault": "openai.server_error", "times": 5, "ttl": 60}).json()
    eventually(lambda: listed(b_control) == [added["id"]])
    answers = [ask(url) for _ in range(8) for url in (a_url, b_url)]
    assert answers.count("InternalServerError") == 5
    assert answers.count(TEXT) == 11
    assert httpx.get(b_control + "/faults/" + added["id"], headers=AUTH).json()["fired"] == 5


def test_a_removal_on_one_replica_reaches_the_other(replicas: list[tuple[str, str]]) -> None:
    (a_url, a_control), (_, b_control) = replicas
    added = httpx.post(b_control + "/faults", headers=AUTH, json={"fault": "openai.rate_limit", "ttl": 60}).json()
    eventually(lambda: listed(a_control) == [added["id"]])
    assert ask(a_url) == "RateLimitError"
    assert httpx.delete(b_control + "/faults/" + added["id"], headers=AUTH).status_code == 200
    eventually(lambda: listed(a_control) == [])
    assert ask(a_url) == TEXT


def test_ids_are_unique_across_replicas_and_reset_clears_both(replicas: list[tuple[str, str]]) -> None:
    (_, a_control), (_, b_control) = replicas
    ids = [httpx.post(c + "/faults", headers=AUTH, json={"fault": "openai.latency"}).json()["id"] for c in (a_control, b_control, a_control)]
    assert len(set(ids)) == 3
    eventually(lambda: sorted(listed(a_control)) == sorted(listed(b_control)) == sorted(ids))
    assert sorted(httpx.post(b_control + "/reset", headers=AUTH).json()["removed"]) == sorted(ids)
    eventually(lambda: listed(a_control) == [])


def test_redis_expires_a_fault_when_no_proxy_is_left(upstream: str) -> None:
    from chaoskit.proxy._state import RedisState

    with redis_server() as redis:
        state = f"redis://{redis.host}:{redis.port}/0"
        process, url, control = start("--upstream", f"openai={upstream}", "--state", state)
        httpx.post(control + "/faults", headers=AUTH, json={"fault": "openai.server_error", "ttl": 1}).raise_for_status()
        process.kill()  # kill -9: no clean-up at all
        process.communicate(timeout=10)
        shared = RedisState(state)
        assert [f.spec["fault"] for f in shared.faults()] == ["openai.server_error"]
        time.sleep(1.2)
        assert shared.faults() == []
        assert shared.client.keys("chaoskit:proxy:fault:*") == []


def test_a_redis_that_is_not_there_is_a_clear_error(upstream: str) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "proxy", "--upstream", f"openai={upstream}",
                           "--state", f"redis://:hunter2secret@127.0.0.1:{port}/0", "--token", TOKEN],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"chaoskit proxy: --state redis://:<redacted>@127.0.0.1:{port}/0: cannot reach Redis: ")
    assert done.stderr.strip().endswith("start it, or run without --state (one proxy alone keeps its state in memory)")
    assert "hunter2secret" not in done.stderr


#: While the model loads, a call gets this at once (so the test reads the phase without waiting).
LOADING = {"status": 503, "json": {"error": {"message": "model loading, {remaining} s left", "type": "loading"}}, "headers": {}}


def test_a_cold_start_begun_on_one_replica_is_loading_on_the_other(replicas: list[tuple[str, str]]) -> None:
    (a_url, a_control), (b_url, b_control) = replicas
    added = httpx.post(a_control + "/faults", headers=AUTH, json={
        "fault": "openai.cold_start", "ttl": 60, "params": {"seconds": 1.5, "idle": None, "loading": LOADING},
    }).json()
    eventually(lambda: listed(b_control) == [added["id"]])
    assert ask(b_url) == "InternalServerError"  # the first call anywhere begins the load (a 503)
    assert ask(a_url) == "InternalServerError"  # the other replica's model is the same one, still loading
    time.sleep(1.6)
    assert [ask(url) for url in (a_url, b_url)] == [TEXT, TEXT]  # loaded, for both
    journal = [json.loads(line) for c in (a_control, b_control) for line in httpx.get(c + "/journal", headers=AUTH).text.splitlines()]
    details = sorted(e["detail"] for e in journal if e["fault"] == "openai.cold_start")
    assert [d.split(",")[0] for d in details] == ["cold start: loading began", "cold start: still loading"], details


def test_the_claim_is_one_for_every_replica(replicas: list[tuple[str, str]]) -> None:
    (_, a_control), (_, b_control) = replicas
    ours = {"owner": "gameday-1", "title": "outage", "kind": "gameday", "ttl": 30}
    assert httpx.post(a_control + "/claim", headers=AUTH, json=ours).status_code == 200
    refused = httpx.post(b_control + "/claim", headers=AUTH, json={"owner": "run-2", "kind": "run"})
    assert refused.status_code == 409 and refused.json()["claim"]["title"] == "outage"
    assert httpx.get(b_control + "/health").json()["claim"]["kind"] == "gameday"
    renewed = httpx.post(b_control + "/claim", headers=AUTH, json=ours).json()  # its owner renews it through any replica
    assert renewed["renewed"] is True
    assert httpx.delete(b_control + "/claim/gameday-1", headers=AUTH).status_code == 200
    assert httpx.get(a_control + "/claim", headers=AUTH).json() == {"claim": None}
    httpx.post(a_control + "/claim", headers=AUTH, json={**ours, "ttl": 0.5}).raise_for_status()
    time.sleep(0.6)  # Redis ends it: no replica sweeps claims
    taken = httpx.post(b_control + "/claim", headers=AUTH, json={"owner": "run-2", "kind": "run"}).json()
    assert taken["renewed"] is False and taken["claim"]["owner"] == "run-2"


def test_runners_claiming_through_both_replicas_at_once_get_one_claim(replicas: list[tuple[str, str]]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    controls = [control for _, control in replicas]

    def claim(i: int) -> int:
        return httpx.post(controls[i % 2] + "/claim", headers=AUTH, json={"owner": f"run-{i}", "kind": "run"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(claim, range(16)))
    assert sorted(statuses) == [200] + [409] * 15

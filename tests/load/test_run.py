"""Locust against a real chat app on loopback: its counts equal the server's, one process or a master and two workers."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from chaoskit.load import AsyncLoadRun, LoadError, LoadResult, LoadRun, LoadSpec

from ._chat_app import ChatApp, every, plans
from .conftest import CONVERSATIONS, alive, children, serve, until

#: Every 4th answer is a 500, every 7th an HTML page, every 9th empty: three reasons to fail.
FAILING = plans(every(4, 500), every(7, 200, b"<html>oops</html>"), every(9, 200, b""))
HEADERS = {"x-chaos-target": "synthetic"}
FAST = {"spawn_rate": 50, "think_time": (0.02, 0.06), "conversations": CONVERSATIONS, "headers": HEADERS}


@dataclass
class Ran:
    app: ChatApp
    result: LoadResult
    seconds: float


def run(spec: LoadSpec, app: ChatApp) -> Ran:
    with serve(app) as base:
        start = time.monotonic()
        result = LoadRun(spec, base).start().wait()
        return Ran(app, result, time.monotonic() - start)


@pytest.fixture(scope="module")
def local() -> Ran:
    """Three users for two seconds, one Locust process."""
    return run(LoadSpec(users=3, duration=2, **FAST), ChatApp(FAILING))


@pytest.fixture(scope="module")
def distributed() -> Ran:
    """Four users for two seconds, a Locust master and two workers."""
    return run(LoadSpec(users=4, duration=2, workers=2, **FAST), ChatApp(FAILING))


def check_counts(ran: Ran) -> None:
    result, app = ran.result, ran.app
    assert app.requests > 20  # enough traffic for every failure kind to show
    assert result.requests == app.requests
    assert result.failures == sum(app.failed.values())
    assert {(e.method, e.name, e.error): e.occurrences for e in result.errors} == {
        ("POST", "/chat", reason): n for reason, n in app.failed.items()
    }
    assert set(app.failed) == {"HTTP 500", "body is not JSON", "empty body"}
    assert result.failure_ratio == pytest.approx(result.failures / result.requests)
    [endpoint] = result.endpoints
    assert (endpoint.method, endpoint.name, endpoint.requests, endpoint.failures) == (
        "POST", "/chat", app.requests, result.failures)
    assert app.paths == Counter({"POST /chat": app.requests})


def test_counts_match_the_server(local: Ran) -> None:
    check_counts(local)
    assert local.result.workers == 0 and not local.result.stopped_early


def test_latencies_and_series(local: Ran) -> None:
    result = local.result
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.p99_ms <= result.max_ms + 1 and result.max_ms < 2000
    assert result.rps > 5 and result.avg_ms > 0
    assert result.series and result.series[0].t == 0
    assert [p.t for p in result.series] == sorted(p.t for p in result.series)
    assert 0 < result.series[-1].requests <= result.requests
    assert max(p.users for p in result.series) == 3
    assert result.to_json()["endpoints"][0]["name"] == "/chat"


def test_headers_reach_the_server(local: Ran) -> None:
    assert len(local.app.headers) == local.app.requests
    assert all(h["x-chaos-target"] == "synthetic" for h in local.app.headers)
    assert all(h["content-type"] == "application/json" for h in local.app.headers)


def test_each_conversation_keeps_its_id_across_turns(local: Ran) -> None:
    """Every conversation id got the turns of one conversation, in order; users start round robin."""
    turns = local.app.turns
    for cid, messages in turns.items():
        assert re.fullmatch(r"load-[0-9a-f]{6}-w0-u\d-c\d+", cid), cid
        assert any(c[: len(messages)] == messages for c in CONVERSATIONS), (cid, messages)
    assert sum(map(len, turns.values())) == local.app.requests
    assert any(messages in CONVERSATIONS for messages in turns.values() if len(messages) > 1)
    firsts = {cid.split("-")[3]: messages[0] for cid, messages in turns.items() if cid.endswith("-c0")}
    assert firsts == {f"u{n}": CONVERSATIONS[n][0] for n in range(3)}


def test_random_order_is_seeded() -> None:
    """order='random' plays conversations drawn from the seed: the same seed, the same first choices."""
    def first_turns(seed: int) -> list[str]:
        ran = run(LoadSpec(users=1, duration=1, order="random", seed=seed, **FAST), ChatApp())
        return [m[0] for cid, m in sorted(ran.app.turns.items(), key=lambda kv: int(kv[0].rsplit("c", 1)[1]))][:6]

    drawn = first_turns(3)
    assert drawn == first_turns(3)
    assert drawn != [CONVERSATIONS[n % 3][0] for n in range(6)]  # not the round robin order


def test_master_and_two_workers_count_every_request(distributed: Ran) -> None:
    check_counts(distributed)
    assert distributed.result.workers == 2
    workers = {cid.split("-")[2] for cid in distributed.app.turns}
    assert workers == {"w0", "w1"}  # both workers sent conversations
    assert children() == []


def test_target_that_fails_everything_is_a_result() -> None:
    """A reachable app that answers only 503s is what the run measures: a 100% failure result, not an error."""
    ran = run(LoadSpec(users=2, duration=1, **FAST), ChatApp(every(1, 503)))
    assert ran.result.failures == ran.result.requests == ran.app.requests > 0
    assert ran.result.failure_ratio == 1.0
    assert [(e.error, e.occurrences) for e in ran.result.errors] == [("HTTP 503", ran.app.requests)]


def test_a_target_that_goes_down_during_the_run_is_counted_as_failures() -> None:
    """Reachable at the start, gone a second later: the turns after that fail with no response; still a result."""
    app = ChatApp()
    with serve(app) as base:
        load = LoadRun(LoadSpec(users=2, duration=4, **FAST), base).start()
        until(lambda: app.requests >= 5)
    result = load.wait()
    assert result.requests - result.failures == app.requests > 0
    assert [e.error for e in result.errors] == ["no response: ConnectionError"]
    assert result.failures > 0 and 0 < result.failure_ratio < 1


def test_path_and_body_templates_and_the_request_timeout() -> None:
    """``{conversation_id}`` in the path, a body of the app's own shape, and a timeout shorter than the app."""
    app = ChatApp(delay=0.3)
    spec = LoadSpec(users=2, duration=1, timeout=0.1, path="/conversations/{conversation_id}/messages",
                    body={"input": {"text": "{message}"}, "session": "{conversation_id}", "n": 1}, **FAST)
    ran = run(spec, app)
    assert ran.result.requests == app.requests > 0
    assert [(e.name, e.error, e.occurrences) for e in ran.result.errors] == [
        ("/conversations/{conversation_id}/messages", "no response: ReadTimeout", app.requests)]
    assert [e.name for e in ran.result.endpoints] == ["/conversations/{conversation_id}/messages"]
    turns = [turn for conversation in CONVERSATIONS for turn in conversation]
    for body in app.bodies:
        assert set(body) == {"input", "session", "n"} and body["n"] == 1 and body["input"]["text"] in turns
    sessions = {body["session"] for body in app.bodies}
    assert set(app.paths) == {f"POST /conversations/{cid}/messages" for cid in sessions}


def test_stop_ends_the_run_early_and_leaves_no_process() -> None:
    app = ChatApp(delay=0.2)  # requests in flight when it stops: they finish and are counted
    with serve(app) as base:
        spec = LoadSpec(users=3, duration=60, **FAST)
        with LoadRun(spec, base) as load:
            pids = load.pids
            until(lambda: app.requests >= 6)
            assert load.running and alive(pids) == pids
            start = time.monotonic()
            load.stop()
            stopped_in = time.monotonic() - start
        assert alive(pids) == [] and children() == []
        assert stopped_in < 3
        result = load.result()
    assert result.stopped_early
    assert result.requests == app.requests > 0


def test_an_error_in_the_with_block_stops_the_run() -> None:
    app = ChatApp()
    with serve(app) as base, pytest.raises(RuntimeError, match="^the test failed$"):
        with LoadRun(LoadSpec(users=2, duration=60, **FAST), base) as load:
            pids = load.pids
            until(lambda: app.requests >= 3)
            raise RuntimeError("the test failed")
    assert alive(pids) == [] and children() == []
    assert load.result().requests == app.requests


def test_wait_with_a_timeout_stops_the_run() -> None:
    app = ChatApp()
    with serve(app) as base:
        start = time.monotonic()
        result = LoadRun(LoadSpec(users=2, duration=60, **FAST), base).start().wait(timeout=2)
        assert time.monotonic() - start < 6
    assert result.stopped_early and result.requests == app.requests > 0
    assert children() == []


def test_a_locust_that_hangs_is_killed_at_its_deadline() -> None:
    """A Locust that stops answering (SIGSTOP here) past its run's deadline is killed, with a clear error."""
    app = ChatApp()
    with serve(app) as base:
        load = LoadRun(LoadSpec(users=1, duration=30, **FAST), base).start()
        until(lambda: app.requests > 0)
        os.kill(load.pids[0], signal.SIGSTOP)
        load._launch.deadline = time.monotonic()  # instead of waiting out duration + stop_timeout + 30 s
        with pytest.raises(LoadError, match=r"^Locust was still running \d+ s after it started, past the end of its "
                                            r"30 s run and 10 s to stop; it was killed\. The end of its stderr:\n"):
            load.wait()
    assert alive(load.pids) == [] and children() == []


@pytest.mark.anyio
async def test_async_run_waits_and_stops_on_cancel() -> None:
    """``await wait()`` returns the result; a cancelled wait stops the run and leaves no process."""
    app = ChatApp()
    with serve(app) as base:
        async with AsyncLoadRun(LoadSpec(users=2, duration=1, **FAST), base) as load:
            result = await load.wait()
        assert result.requests == app.requests > 0 and not result.stopped_early

        long = AsyncLoadRun(LoadSpec(users=2, duration=60, **FAST), base)
        await long.start()
        with anyio.CancelScope() as scope:
            async def cancel_after_some_turns() -> None:
                while app.requests < result.requests + 3:
                    await anyio.sleep(0.02)
                scope.cancel()

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(cancel_after_some_turns)
                await long.wait()
        assert scope.cancelled_caught
        assert alive(long.pids) == [] and children() == []
        assert long.result().stopped_early and long.result().requests == app.requests - result.requests


def test_locust_stops_when_its_parent_is_killed(tmp_path: Any) -> None:
    """kill -9 of the process that started Locust (no chance to clean up): Locust stops itself."""
    import subprocess

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from chaoskit.load import LoadRun, LoadSpec\n"
        "run = LoadRun(LoadSpec(users=2, duration=60, think_time=0.1, workers=int(sys.argv[2])), sys.argv[1],\n"
        "              workdir=sys.argv[3]).start()\n"
        "print(*run.pids, flush=True)\n"
        "time.sleep(60)\n"
    )
    with serve(ChatApp()) as base:
        for workers in (0, 2):
            parent = subprocess.Popen([sys.executable, str(script), base, str(workers), str(tmp_path / f"w{workers}")], stdout=subprocess.PIPE, text=True)
            assert parent.stdout is not None
            pids = [int(pid) for pid in parent.stdout.readline().split()]
            assert len(pids) == 1 + workers and alive(pids) == pids
            parent.kill()
            parent.wait()
            assert alive(pids, wait=10) == []

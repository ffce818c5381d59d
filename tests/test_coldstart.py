"""Cold start as one model shared by every provider: a load, the calls made during it, warm calls,
and going cold again after idle. Driven through the real seams (httpx for an HTTP service, the
openai SDK for a model), on the virtual clock where the load is long."""

from __future__ import annotations

import random
import threading
import time

import httpx
import openai
import pytest

import chaoskit
from chaoskit import VirtualClock
from chaoskit.providers._coldstart import ColdStarts, Phase, cold_start_plan
from chaoskit.providers._plan import Note, Wait

MODEL = "https://model.internal/predict"
LOADING = {"status": 503, "json": {"error": "Model m is currently loading", "estimated_time": "{remaining}"}, "headers": {}}


def test_calls_during_a_load_get_the_loading_error_with_the_time_left_then_the_model_is_warm() -> None:
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.reply_http(MODEL, json={"label": "ok"})
        chaos.inject("http.cold_start", url=MODEL, seconds=10.0, idle=60.0, loading=LOADING)
        seen = []
        for wait in (0, 4, 5, 2, 1, 61):
            time.sleep(wait)
            r = httpx.post(MODEL, json={})
            seen.append((r.status_code, r.json().get("estimated_time")))
    # 0 s: the load begins (10 s); 4 s: 6 left; 9 s: 1 left; 11 s: warm; 12 s: warm; 73 s: idle 61 s > 60 s, cold again
    assert seen == [(503, 10.0), (503, 6.0), (503, 1.0), (200, None), (200, None), (503, 10.0)]
    assert [c.fault for c in chaos.calls] == ["http.cold_start"] * 3 + [None, None, "http.cold_start"]
    assert [c.detail for c in chaos.calls][:3] == [
        "cold start: loading began, 10.0 s left", "cold start: still loading, 6.0 s left", "cold start: still loading, 1.0 s left",
    ]


def test_calls_that_arrive_during_a_load_wait_for_the_same_load_not_their_own() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply_http(MODEL, json={"label": "ok"})
        chaos.inject("http.cold_start", url=MODEL, seconds=0.4)
        start = time.monotonic()
        done: list[float] = []

        def call(delay: float) -> None:
            time.sleep(delay)
            httpx.post(MODEL, json={})
            done.append(time.monotonic() - start)

        threads = [threading.Thread(target=call, args=(d,)) for d in (0.0, 0.1, 0.2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # All three are answered when the one load ends (0.4 s), not 0.4 s after each arrived.
    assert all(0.38 <= d < 0.55 for d in done), done
    assert sorted(c.fault for c in chaos.calls) == ["http.cold_start"] * 3


def test_the_openai_sdk_retries_through_a_load_and_then_finds_the_model_warm() -> None:
    """A 1 s load on the virtual clock: attempts time out at 0.3 s and back off until one comes
    less than 0.3 s before the load ends (it waits for it) or after it; the next call is warm."""
    client = openai.OpenAI(api_key="sk-test", timeout=0.3)
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.inject("openai.cold_start", seconds=1.0, warm=0.2)
        first = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        second = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert first.choices[0].message.content and second.choices[0].message.content
    *timed_out, answered, warm = chaos.calls
    assert timed_out and {(c.fault, c.error) for c in timed_out} == {("openai.cold_start", "ReadTimeout")}
    assert answered.error is None
    # The SDK's backoff has random jitter: its answered attempt comes either less than 0.3 s
    # before the load ends (and waits for it) or after it (and is warm).
    if answered.started < 1.0:
        assert answered.started + answered.duration == pytest.approx(1.0, abs=0.01)
        assert answered.detail is not None and answered.detail.startswith("cold start: still loading")
    else:
        assert (answered.detail, answered.duration) == ("cold start: warm, 0.2 s latency", pytest.approx(0.2, abs=0.01))
    assert (warm.fault, warm.detail) == ("openai.cold_start", "cold start: warm, 0.2 s latency")
    assert warm.duration == pytest.approx(0.2, abs=0.01)


def test_a_warm_model_without_warm_latency_is_not_a_fault() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply_http(MODEL, json={})
        chaos.inject("http.cold_start", url=MODEL, seconds=0.0, idle=None)
        for _ in range(3):
            httpx.post(MODEL, json={})
    assert [c.fault for c in chaos.calls] == ["http.cold_start", None, None]


def test_jitter_varies_the_load_but_one_seed_gives_one_load() -> None:
    def load(seed: int) -> float:
        starts = ColdStarts()
        p = {"seconds": 10.0, "jitter": 5.0, "idle": None}
        phase = starts.peek("m", p, 0.0, None)
        assert phase == Phase(True, 10.0, began=True)
        return starts.commit("m", phase, p, 0.0, random.Random(seed)).seconds

    assert load(3) == load(3)
    assert len({load(s) for s in range(5)}) == 5 and all(5.0 <= load(s) <= 15.0 for s in range(5))


def test_remaining_is_a_number_in_place_and_text_inside_a_string() -> None:
    plans: list[object] = []
    loading = {"status": 503, "json": {"estimated_time": "{remaining}", "message": "ready in {remaining} s"}}
    plan = cold_start_plan({"seconds": 5.0, "loading": loading}, Phase(True, 2.345), lambda: [], lambda q: [q])  # type: ignore[list-item]
    assert plan[0] == Note("cold start: still loading, 2.3 s left")
    plans.append(plan[1])
    assert plans == [{"status": 503, "json": {"estimated_time": 2.3, "message": "ready in 2.3 s"}}]
    # Without `loading` the call waits for the load; outside a session (no phase) a call is cold.
    assert cold_start_plan({"seconds": 5.0}, None, lambda: [], lambda q: []) == [Note("cold start: loading began, 5.0 s left"), Wait(5.0)]


def test_an_unknown_cold_start_parameter_names_the_known_ones() -> None:
    with pytest.raises(chaoskit.ChaosConfigError, match="its parameters are: idle, loading, seconds, warm"):
        chaoskit.faults.get("openai.cold_start", warmup=1)

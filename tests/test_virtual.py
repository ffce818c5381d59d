"""Virtual time: the sync clock, the loop clock under trio's MockClock and looptime, the real
SDKs' retries and timeouts on it, the safety rail, and the plugin's marker, option and report."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest

import chaoskit
from chaoskit import ChaosError, RealNetworkError, VirtualClock

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "hi"}]


def ask(client: openai.OpenAI) -> str:
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content or ""  # type: ignore[arg-type]


# ---- the clock itself -----------------------------------------------------------------------


def test_sleep_is_instant_and_every_time_function_reads_the_clock() -> None:
    clock = VirtualClock()
    real_monotonic = time.monotonic
    clock.install()
    try:
        mono, perf, wall = time.monotonic(), time.perf_counter(), time.time()
        started = real_monotonic()
        time.sleep(3600)
        assert real_monotonic() - started < 0.5
        assert time.monotonic() - mono == pytest.approx(3600)
        assert time.perf_counter() - perf == pytest.approx(3600)
        assert time.time() - wall == pytest.approx(3600)
        assert time.monotonic_ns() - int(mono * 1e9) == pytest.approx(3600e9, rel=1e-9)
        assert clock.now() == 3600
    finally:
        clock.uninstall()
    assert time.monotonic is real_monotonic and time.sleep.__module__ == "time"


def test_threads_started_under_the_clock_sleep_together() -> None:
    # The main thread blocks on the pool's futures (a lock, not the clock), so it counts as awake
    # and the clock jumps after ``autojump`` real seconds: give a loaded machine 0.2 s to start
    # the pool's four threads, instead of the default 5 ms.
    clock = VirtualClock(autojump=0.2)
    with chaoskit.Chaos(seed=1, clock=clock):
        with ThreadPoolExecutor(4) as pool:
            ends = list(pool.map(lambda s: (time.sleep(s), time.monotonic())[1], [5, 5, 5, 2]))
    assert clock.now() == pytest.approx(5)  # four sleeps at once, not one after another
    assert sorted(round(e - min(ends), 3) for e in ends) == [0, 3, 3, 3]


def test_a_thread_running_before_the_clock_keeps_real_time() -> None:
    slept = threading.Event()
    go = threading.Event()

    def poller() -> None:
        go.wait()
        time.sleep(0.05)  # under the patch, but this thread predates the clock
        slept.set()

    thread = threading.Thread(target=poller)
    thread.start()
    clock = VirtualClock()
    with chaoskit.Chaos(seed=1, clock=clock):
        go.set()
        assert slept.wait(2)
        assert clock.now() == 0  # its sleep did not move virtual time
    thread.join()


def test_from_imports_are_rebound_when_their_module_is_named() -> None:
    import types

    module = types.ModuleType("app_clock")
    exec("from time import monotonic, sleep\ndef waited(s):\n    t = monotonic(); sleep(s); return monotonic() - t", module.__dict__)
    with chaoskit.Chaos(seed=1, clock=VirtualClock(modules=[module])):
        assert module.waited(120) == pytest.approx(120)
    assert module.monotonic is time.monotonic


def test_the_sync_clock_is_refused_inside_an_event_loop() -> None:
    import asyncio

    async def main() -> None:
        with pytest.raises(ChaosError, match=r"^chaoskit: the sync virtual clock cannot run inside an event loop"):
            VirtualClock().install()

    asyncio.run(main())


# ---- the SDKs on the clock --------------------------------------------------------------------


def test_retry_after_twenty_twice_is_forty_virtual_seconds_in_no_real_time() -> None:
    real_start = time.perf_counter()
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.inject("openai.rate_limit", retry_after=20, times=2)
        chaos.reply("openai", "finally")
        start = time.monotonic()
        assert ask(openai.OpenAI(api_key="sk-test", max_retries=2)) == "finally"
        waited = time.monotonic() - start
    assert waited == pytest.approx(40, abs=0.01)
    assert [round(c.started, 3) for c in chaos.calls] == [0, 20, 40]
    assert time.perf_counter() - real_start < 1


def test_a_ten_second_deadline_against_a_thirty_second_stall() -> None:
    real_start = time.perf_counter()
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.inject("openai.latency", seconds=30, jitter=0)
        client = openai.OpenAI(api_key="sk-test", max_retries=0, timeout=10)
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(client)
        assert time.monotonic() - start == pytest.approx(10, abs=0.01)
        # An app without its own timeout is caught by the test's deadline, on the same clock.
        slow = openai.OpenAI(api_key="sk-test", max_retries=0, timeout=120)
        with pytest.raises(AssertionError, match=r"^deadline: the block took 30\.\d\d s, more than its 10(\.0)? s deadline"):
            with chaos.deadline(10):
                ask(slow)
    assert [c.error for c in chaos.calls] == ["ReadTimeout", None]
    assert time.perf_counter() - real_start < 1


def test_anthropic_backoff_runs_on_the_clock() -> None:
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.inject("anthropic.overloaded", times=2)
        client = anthropic.Anthropic(api_key="sk-test", max_retries=2)
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
    gaps = [b.started - a.started for a, b in zip(chaos.calls, chaos.calls[1:], strict=False)]
    assert len(chaos.calls) == 3 and all(0.1 < g < 10 for g in gaps)  # the SDK's own jittered backoff


def test_the_async_path_on_trios_mock_clock() -> None:
    import anyio
    import trio.testing

    async def main() -> tuple[float, list[tuple[float, float, str | None]]]:
        with chaoskit.Chaos(seed=1, clock=chaoskit.LoopClock()) as chaos:
            chaos.inject("openai.timeout.read", times=2)
            async with openai.AsyncOpenAI(api_key="sk-test", max_retries=2, timeout=10) as client:
                start = anyio.current_time()
                await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
                took = anyio.current_time() - start
                with pytest.raises(TimeoutError), anyio.fail_after(10):
                    chaos.inject("openai.latency", seconds=30)
                    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
            return took, [(c.started, c.duration, c.error) for c in chaos.calls]

    real_start = time.perf_counter()
    took, calls = anyio.run(main, backend="trio", backend_options={"clock": trio.testing.MockClock(autojump_threshold=0.01)})
    assert time.perf_counter() - real_start < 5
    assert 20 < took < 25  # two 10 s read timeouts and the SDK's backoff between them
    (s0, d0, e0), (s1, d1, e1), (s2, _, e2) = calls[:3]
    assert (e0, e1, e2) == ("ReadTimeout", "ReadTimeout", None)
    assert d0 == pytest.approx(10) and d1 == pytest.approx(10)  # each attempt timed out at the SDK's 10 s
    assert 10 < s1 - s0 < 11.5 and 10 < s2 - s1 < 11.5  # ... then waited its backoff, under a second
    assert calls[3][1:] == (pytest.approx(10), "Cancelled")  # the 30 s latency, cut by fail_after(10)


def test_the_async_path_on_asyncio_with_looptime() -> None:
    """looptime's pytest plugins need pytest-asyncio, so it lives beside the venv and runs here."""
    extra = Path(sys.prefix) / "looptime"
    if not (extra / "looptime").is_dir():
        pytest.fail(f"looptime is not installed in {extra}: run `make test` (it installs it there)")
    code = """
import json, time, anyio, looptime, openai, chaoskit
async def main():
    with chaoskit.Chaos(seed=1, clock=chaoskit.LoopClock()) as chaos:
        chaos.inject("openai.timeout.read", times=2)
        async with openai.AsyncOpenAI(api_key="sk-test", max_retries=2, timeout=10) as client:
            start = anyio.current_time()
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            took = anyio.current_time() - start
            fired = None
            chaos.inject("openai.latency", seconds=30)
            try:
                with anyio.fail_after(10):
                    await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            except TimeoutError:
                fired = anyio.current_time() - start - took
    return {"took": took, "fired": fired, "errors": [c.error for c in chaos.calls]}
real = time.perf_counter()
out = anyio.run(main, backend_options={"loop_factory": looptime.new_event_loop})
out["real"] = time.perf_counter() - real
print(json.dumps(out))
"""
    env = {"PYTHONPATH": str(extra), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert 20 < out["took"] < 25 and out["fired"] == pytest.approx(10, abs=0.05)
    assert out["errors"][:2] == ["ReadTimeout", "ReadTimeout"]
    assert out["real"] < 5


# ---- the safety rail ----------------------------------------------------------------------------


def test_a_real_connection_under_virtual_time_is_refused() -> None:
    message = (
        "chaoskit: GET http://127.0.0.1:9/health would open a real network connection under virtual time, "
        "where its timeouts are false. Answer it in-process (chaos.reply_http, a provider profile, "
        "chaos.router), or run this test on real time (virtual_time=False), or let real I/O through "
        "with a warning (virtual_time='warn')."
    )
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        with pytest.raises(RealNetworkError) as info:
            httpx2.get("http://127.0.0.1:9/health")
        assert str(info.value) == message
        with pytest.raises(RealNetworkError, match=r"^chaoskit: a socket to 127\.0\.0\.1:9 would open"):
            socket.create_connection(("127.0.0.1", 9), timeout=1)
        chaos.reply_http("http://127.0.0.1:9/*", json={"ok": True})  # in-process answers are fine
        assert httpx2.get("http://127.0.0.1:9/health").json() == {"ok": True}
    assert chaos.refused_io == ["GET http://127.0.0.1:9/health", "a socket to 127.0.0.1:9"]
    with socket.socket() as sock:  # the guard is gone with the session
        assert sock.connect_ex(("127.0.0.1", 9)) != 0


def test_warn_lets_real_io_through_and_falls_back_to_real_time() -> None:
    clock = VirtualClock()
    with chaoskit.Chaos(seed=1, clock=clock, real_io="warn") as chaos:
        time.sleep(100)
        with pytest.warns(chaoskit.ChaosWarning, match="opens a real network connection under virtual time; the test goes on in real time"):
            with socket.socket() as sock:
                sock.connect_ex(("127.0.0.1", 9))
        assert clock.fell_back and time.sleep.__module__ == "time"
        before = time.perf_counter()
        time.sleep(0.05)  # a real sleep now
        assert time.perf_counter() - before >= 0.05
        assert 100.05 <= clock.now() < 101
    assert chaos.refused_io == ["a socket to 127.0.0.1:9"]


# ---- the plugin: the same suite on both clocks ------------------------------------------------------

SUITE = """
import time, openai, pytest
from chaoskit import faults

# One client, made at import: making one (its TLS context) takes real time that only the real
# clock would count, so the journals' start times would differ by it on a loaded machine.
CLIENT = openai.OpenAI(api_key="sk-test")

def ask(client):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

@pytest.mark.chaos(faults.get("openai.rate_limit", retry_after=0.3), times=2)
def test_retry_after(chaos):
    ask(CLIENT.with_options(max_retries=2))

@pytest.mark.chaos(faults.get("openai.latency", seconds=0.6, jitter=0))
def test_stall_past_the_timeout(chaos):
    with pytest.raises(openai.APITimeoutError):
        ask(CLIENT.with_options(max_retries=1, timeout=0.25))

@pytest.mark.chaos(faults.get("openai.cold_start", seconds=0.4))
def test_cold_start(chaos):
    start = time.monotonic()
    ask(CLIENT)
    ask(CLIENT)
    assert time.monotonic() - start >= 0.4 - 1e-6

@pytest.mark.chaos(virtual_time=False)
def test_opted_out(chaos):
    time.sleep(0.05)
    assert not chaos.virtual
"""


def run_suite(pytester: pytest.Pytester, *args: str) -> dict[str, dict]:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--chaos-seed=3", f"--chaos-report={report}", *args)
    result.assert_outcomes(passed=4)
    return {t["nodeid"].split("::")[1]: t for t in json.loads(report.read_text())["tests"]}


def test_the_same_suite_passes_on_both_clocks_with_the_same_journals(pytester: pytest.Pytester) -> None:
    real = run_suite(pytester)
    virtual = run_suite(pytester, "--chaos-virtual-time")
    for name in real:
        shape = [[(c["provider"], c["fault"], c["status"], c["error"]) for c in t["calls"]] for t in (real[name], virtual[name])]
        assert shape[0] == shape[1], name
        starts = [[c["started"] for c in t["calls"]] for t in (real[name], virtual[name])]
        for r, v in zip(*starts, strict=True):
            assert v == pytest.approx(r, abs=0.15), (name, starts)  # virtual times are the real ones, scaled 1:1
    assert not real["test_retry_after"]["clock"]["virtual"]
    assert virtual["test_retry_after"]["clock"]["virtual"] and virtual["test_retry_after"]["clock"]["elapsed"] >= 0.6
    assert virtual["test_retry_after"]["clock"]["real"] < 0.3
    assert not virtual["test_opted_out"]["clock"]["virtual"]


def test_the_marker_turns_it_on_and_the_summary_shows_both_clocks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="""
import openai, pytest
from chaoskit import faults

@pytest.mark.chaos(faults.get("openai.rate_limit", retry_after=30), times=2, virtual_time=True)
def test_long_wait(chaos):
    openai.OpenAI(api_key="sk-test", max_retries=2).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert chaos.virtual and chaos.elapsed >= 60

@pytest.mark.chaos(virtual_time="sometimes")
def test_bad(chaos):
    pass
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*@pytest.mark.chaos: virtual_time='sometimes' must be True, False or 'warn'",
        "virtual time: 1 test covered 60.0 s of virtual time in 0.* s of real time",
    ])


def test_a_swallowed_refusal_still_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="""
import httpx2, pytest

@pytest.mark.chaos(virtual_time=True)
def test_swallowed(chaos):
    try:
        httpx2.get("http://127.0.0.1:9/")
    except Exception:
        pass
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*chaoskit refused real network connections under virtual time*",
        "*  - GET http://127.0.0.1:9/",
    ])


def test_an_async_test_on_trios_mock_clock_through_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_async="""
import anyio, openai, pytest, trio.testing
from chaoskit import faults

@pytest.fixture
def anyio_backend():
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0.01)})

@pytest.mark.anyio
@pytest.mark.chaos(faults.get("openai.latency", seconds=30, jitter=0), virtual_time=True)
async def test_deadline(chaos):
    assert type(chaos.clock).__name__ == "LoopClock"
    async with openai.AsyncOpenAI(api_key="sk-test", max_retries=0, timeout=120) as client:
        start = anyio.current_time()
        with pytest.raises(TimeoutError):
            with anyio.fail_after(10):
                await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert anyio.current_time() - start == pytest.approx(10, abs=0.05)
    assert chaos.calls[0].error == "Cancelled"
""")
    start = time.perf_counter()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert time.perf_counter() - start < 10

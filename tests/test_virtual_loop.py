"""Event loops on virtual time: loops started under the sync clock (asyncio.run, anyio.run,
pydantic-ai's run_sync, a loop in a worker thread) wait in it; async tests run on chaoskit's
loop with anyio's plugin alone; chaoskit.virtual_event_loop() on its own; nothing is left
patched afterwards."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import anyio
import openai
import pytest

import chaoskit
from chaoskit import ChaosError, VirtualClock
from chaoskit._virtual_loop import clock_of

#: Real time, bound before any clock patches the ``time`` module.
real_time = time.perf_counter
ORIGINAL_RUN_FOREVER = asyncio.base_events.BaseEventLoop.run_forever
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextmanager
def hang_guard(seconds: float = 60) -> Iterator[None]:
    """Fail, instead of hanging the suite, when a wait that should be virtual is real."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still waiting after {seconds} real seconds: the wait was not virtual")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# ---- loops started under the sync clock ----------------------------------------------------


def test_asyncio_run_sleeps_thirty_virtual_seconds_at_once() -> None:
    started = real_time()
    with hang_guard(), chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        asyncio.run(asyncio.sleep(30))
        assert chaos.elapsed == 30
    assert chaos.clock.now() == 30
    assert real_time() - started < 10


def test_wait_for_times_out_at_virtual_five_seconds() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), 5)  # an event nothing sets
        return loop.time() - start

    clock = VirtualClock()
    with hang_guard(), chaoskit.Chaos(seed=1, clock=clock):
        mono = time.monotonic()
        assert asyncio.run(main()) == pytest.approx(5, abs=1e-6)
        assert time.monotonic() - mono == pytest.approx(5, abs=1e-6)  # the loop and the time module agree
    assert clock.now() == pytest.approx(5, abs=1e-6)


def test_anyio_fail_after_fires_at_its_virtual_deadline() -> None:
    async def main() -> float:
        start = anyio.current_time()
        with pytest.raises(TimeoutError), anyio.fail_after(5):
            await anyio.sleep(3600)
        return anyio.current_time() - start

    clock = VirtualClock()
    with hang_guard(), chaoskit.Chaos(seed=1, clock=clock):
        assert anyio.run(main) == pytest.approx(5, abs=1e-6)
    assert clock.now() == pytest.approx(5, abs=1e-6)


def test_a_thread_pool_beside_the_loop_shares_one_virtual_now() -> None:
    # A pool thread sleeps 8 s beside the loop; the loop sleeps 3 s and waits for its executor's
    # 5 s sleep. A busy thread delays a jump by ``autojump``: 0.25 s, so that a loaded machine
    # starting threads does not look like a wait.
    clock = VirtualClock(autojump=0.25)

    def sleeps(seconds: float) -> float:
        time.sleep(seconds)
        return time.monotonic()

    async def main(pool: ThreadPoolExecutor) -> tuple[float, float, float]:
        beside = pool.submit(sleeps, 8)
        in_executor = asyncio.get_running_loop().run_in_executor(None, sleeps, 5)
        await asyncio.sleep(3)
        return time.monotonic(), await in_executor, await asyncio.wrap_future(beside)

    with hang_guard(), chaoskit.Chaos(seed=1, clock=clock):
        start = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            ends = asyncio.run(main(pool))
    assert [round(end - start, 6) for end in ends] == [3, 5, 8]
    assert clock.now() == pytest.approx(8)  # the three waits overlapped: 8 s, not 16


def test_a_loop_in_a_thread_started_under_the_clock_runs_on_it() -> None:
    clock = VirtualClock(autojump=0.25)
    took: list[float] = []

    def worker() -> None:
        start = time.monotonic()
        asyncio.run(asyncio.sleep(10))
        took.append(time.monotonic() - start)

    with hang_guard(), chaoskit.Chaos(seed=1, clock=clock):
        thread = threading.Thread(target=worker)
        thread.start()
        time.sleep(4)  # the main thread and the loop's wait together
        assert clock.now() == pytest.approx(4)
        thread.join()
    assert took == [pytest.approx(10)] and clock.now() == pytest.approx(10)


def test_a_loop_running_before_the_clock_keeps_real_time() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        clock = VirtualClock()
        with hang_guard(), chaoskit.Chaos(seed=1, clock=clock):
            started = real_time()
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(timeout=10)
            assert real_time() - started >= 0.05  # a real wait
            assert clock.now() == 0 and clock_of(loop) is None
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_a_thread_sleeping_less_than_the_main_thread_does_not_stall_the_clock() -> None:
    # Once the shorter sleeper was due, the longer one used to spin on the lock the other needed.
    clock = VirtualClock()
    with hang_guard(), chaoskit.Chaos(seed=1, clock=clock):
        thread = threading.Thread(target=time.sleep, args=(2,))
        thread.start()
        time.sleep(5)
        thread.join()
    assert clock.now() == pytest.approx(5)


def test_a_wait_from_a_loop_not_on_the_clock_is_refused() -> None:
    import trio

    clock = VirtualClock()

    async def main() -> None:
        await clock.asleep(1)

    with chaoskit.Chaos(seed=1, clock=clock):
        with pytest.raises(ChaosError, match=(
            r"^chaoskit: an async client waited on the sync virtual clock from an event loop that does not run "
            r"on it \(a trio loop or another library's\); start the loop while the clock is installed "
            r"\(asyncio\.run, anyio\.run, chaoskit\.virtual_event_loop\(\)\), or for trio and looptime use "
            r"chaoskit\.LoopClock$"
        )):
            trio.run(main)


# ---- the SDKs and frameworks inside such loops ---------------------------------------------


@pytest.mark.chaos("openai.latency", seconds=30, jitter=0, virtual_time=True)
def test_pydantic_ai_run_sync_waits_a_thirty_second_latency_on_the_virtual_clock(chaos: chaoskit.Chaos) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    chaos.reply("openai", "Your order has shipped.")
    client = openai.AsyncOpenAI(api_key="sk-test", max_retries=0, timeout=60)
    agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(openai_client=client)))
    started = real_time()
    with hang_guard():
        result = agent.run_sync("Where is my order?")
    assert real_time() - started < 10
    assert result.output == "Your order has shipped."
    [call] = chaos.calls
    assert (call.fault, call.started, call.duration) == ("openai.latency", 0, 30)
    assert chaos.elapsed == 30


def test_a_loop_kept_between_runs_is_taken_by_each_sessions_clock() -> None:
    """pydantic-ai keeps one loop per thread across run_sync calls: each session's clock takes it
    for the runs made under it, and it is given back (selector, time) after each."""
    loop = asyncio.new_event_loop()
    selector = loop._selector  # type: ignore[attr-defined]
    fds = open_fds()
    try:
        for _ in range(2):
            clock = VirtualClock()
            with hang_guard(), chaoskit.Chaos(seed=1, clock=clock) as chaos:
                chaos.inject("openai.rate_limit", retry_after=20, times=1)
                client = openai.AsyncOpenAI(api_key="sk-test", max_retries=1)
                loop.run_until_complete(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES))  # type: ignore[arg-type]
                loop.run_until_complete(client.close())
            assert [c.started for c in chaos.calls] == [0, 20]
            assert loop._selector is selector and "time" not in vars(loop)  # type: ignore[attr-defined]
        assert open_fds() == fds  # the wake-up pipes are closed
    finally:
        loop.close()


# ---- async tests: chaoskit's loop, with anyio's plugin alone ------------------------------------


@pytest.mark.anyio
@pytest.mark.chaos("openai.rate_limit", retry_after=20, times=1, virtual_time=True)
async def test_an_async_test_runs_on_chaoskits_loop_without_looptime(chaos: chaoskit.Chaos) -> None:
    assert isinstance(chaos.clock, VirtualClock) and clock_of(asyncio.get_running_loop()) is chaos.clock
    assert "looptime" not in sys.modules and "pytest_asyncio" not in sys.modules
    chaos.reply("openai", "finally")
    started = real_time()
    async with openai.AsyncOpenAI(api_key="sk-test", max_retries=2) as client:
        start = anyio.current_time()
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        took = anyio.current_time() - start
    assert reply.choices[0].message.content == "finally"
    assert took == pytest.approx(20, abs=1e-6)  # the SDK honoured retry-after: 20, on the loop's clock
    assert [(c.fault, c.started) for c in chaos.calls] == [("openai.rate_limit", 0), (None, 20)]
    assert real_time() - started < 10


def test_async_fixtures_and_chaoskits_loop_factory_run_on_the_tests_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_async="""
import anyio, pytest, chaoskit

@pytest.fixture(params=[{}, {"loop_factory": chaoskit.virtual_event_loop}], ids=["default", "factory"])
def anyio_backend(request):
    return ("asyncio", request.param)

@pytest.fixture
async def warmed_up():
    await anyio.sleep(3)
    yield
    await anyio.sleep(2)

@pytest.mark.anyio
@pytest.mark.chaos(virtual_time=True)
async def test_waits(warmed_up, chaos):  # warmed_up comes first, and still waits on the test's clock
    assert type(chaos.clock).__name__ == "VirtualClock"
    await anyio.sleep(1)
    assert chaos.elapsed == 4
""")
    started = real_time()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["virtual time: 2 tests covered 12.0 s of virtual time in * s of real time"])
    assert real_time() - started < 10  # 12 s of waiting, none of it real


def test_virtual_event_loop_on_its_own_with_the_loop_clock() -> None:
    async def main() -> tuple[float, list[float]]:
        with chaoskit.Chaos(seed=1, clock=chaoskit.LoopClock()) as chaos:
            chaos.inject("openai.rate_limit", retry_after=20, times=2)
            async with openai.AsyncOpenAI(api_key="sk-test", max_retries=2) as client:
                start = anyio.current_time()
                await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
                took = anyio.current_time() - start
        return took, [c.started for c in chaos.calls]

    started = real_time()
    with hang_guard():
        took, starts = anyio.run(main, backend_options={"loop_factory": chaoskit.virtual_event_loop})
    assert took == pytest.approx(40, abs=1e-6) and starts == [pytest.approx(s, abs=1e-6) for s in (0, 20, 40)]
    assert real_time() - started < 10
    assert time.monotonic is not None and time.sleep.__module__ == "time"  # nothing of the time module patched


# ---- nothing left behind ------------------------------------------------------------------------


def test_nothing_is_left_patched_when_the_loop_raised_and_the_session_failed() -> None:
    loop = asyncio.new_event_loop()
    selector = loop._selector  # type: ignore[attr-defined]
    fds = open_fds()

    async def fails() -> None:
        await asyncio.sleep(10)
        raise RuntimeError("the app broke")

    try:
        with pytest.raises(RuntimeError, match="^the app broke$"):
            with hang_guard(), chaoskit.Chaos(seed=1, clock=VirtualClock()):
                assert asyncio.base_events.BaseEventLoop.run_forever is not ORIGINAL_RUN_FOREVER
                loop.run_until_complete(fails())
        assert asyncio.base_events.BaseEventLoop.run_forever is ORIGINAL_RUN_FOREVER
        assert time.monotonic.__module__ == "time" and time.sleep.__module__ == "time"
        assert loop._selector is selector and isinstance(selector, selectors.DefaultSelector)  # type: ignore[attr-defined]
        assert "time" not in vars(loop) and clock_of(loop) is None
        assert open_fds() == fds
        started = real_time()
        loop.run_until_complete(asyncio.sleep(0.05))  # real time again
        assert real_time() - started >= 0.05
    finally:
        loop.close()


def test_a_failing_virtual_test_leaves_the_next_test_real_time(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_two="""
import asyncio, time, pytest

@pytest.mark.chaos(virtual_time=True)
def test_fails_inside_the_loop():
    async def main():
        await asyncio.sleep(30)
        raise RuntimeError("inside the loop")
    asyncio.run(main())

def test_after_it():
    assert asyncio.base_events.BaseEventLoop.run_forever.__qualname__ == "BaseEventLoop.run_forever"
    start = time.perf_counter()
    asyncio.run(asyncio.sleep(0.05))
    assert time.perf_counter() - start >= 0.05
""")
    with hang_guard():
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: inside the loop"])

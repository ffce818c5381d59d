"""Nothing stays patched after a set-up that fails half-way (issue 15, "Leaks")."""

from __future__ import annotations

import socket
import time

import pytest

import chaoskit


def test_a_marker_whose_second_fault_is_wrong_leaves_no_tool_patched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        tools="""
        def lookup_order(order_id):
            return {"id": order_id, "status": "shipped"}
        """,
        test_marker="""
        import pytest
        import tools

        ORIGINAL = tools.lookup_order

        @pytest.mark.chaos("tool.raise", "openai.no_such_fault", target="tools:lookup_order")
        def test_wrong(chaos):
            pass

        def test_after():
            assert tools.lookup_order is ORIGINAL  # the first fault's patch was undone
            assert tools.lookup_order("A1") == {"id": "A1", "status": "shipped"}
        """,
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*openai.no_such_fault*"])


def test_a_refused_second_virtual_session_leaves_time_and_sockets_alone() -> None:
    real = (time.monotonic, time.sleep, time.time, socket.socket.connect)
    with chaoskit.Chaos(seed=1):
        second = chaoskit.Chaos(seed=2, clock=chaoskit.VirtualClock())
        with pytest.raises(chaoskit.ChaosError, match="already active"):
            second.start()
        assert (time.monotonic, time.sleep, time.time, socket.socket.connect) == real
    assert (time.monotonic, time.sleep, time.time, socket.socket.connect) == real


def test_a_thread_running_before_a_virtual_session_keeps_real_time_for_every_clock_it_reads() -> None:
    import threading

    started = threading.Event()
    go = threading.Event()
    seen: dict[str, float] = {}

    def worker() -> None:  # polls a deadline, as a pre-existing pool worker or heartbeat does
        started.set()
        go.wait(5)
        real_start = time.perf_counter()
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            time.sleep(0.01)
        seen["wall"] = time.perf_counter() - real_start
        seen["time_gap"] = abs(time.time() - time.time_ns() / 1e9)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    started.wait(5)
    with chaoskit.Chaos(seed=1, clock=chaoskit.VirtualClock()) as chaos:
        chaos.clock.advance(1000.0)  # virtual time far from real time
        go.set()
        thread.join(3)
        assert not thread.is_alive(), "the worker polled a virtual clock that did not move for it"
    assert 0.25 < seen["wall"] < 2.0  # it waited its 0.3 s in real time
    assert seen["time_gap"] < 1.0  # time.time and time.time_ns agree: both real for it

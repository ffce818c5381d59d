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

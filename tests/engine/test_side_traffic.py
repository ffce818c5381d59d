"""Side traffic from background threads (issue 18, point 7): answered, never faulted, never journaled.

openai-agents' trace exporter posts to ``api.openai.com/v1/traces/ingest`` from a daemon thread
and at exit. Here a stand-in for it (a fake ``agents.tracing`` module) shows the session sending
what it queued before the seams come off; tests/frameworks_env/test_side_traffic.py runs the real
openai-agents in a subprocess and checks that nothing is printed at exit.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import httpx2
import pytest

import chaoskit

TRACES = "https://api.openai.com/v1/traces/ingest"


def post_traces() -> httpx2.Response:
    return httpx2.post(TRACES, json={"data": [{"object": "trace.span"}]}, headers={"authorization": "Bearer sk-test"})


def test_a_trace_post_is_answered_and_kept_out_of_the_journal_and_the_faults() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.server_error")  # every model call fails; the trace post is not one
        assert post_traces().status_code == 204
    assert list(chaos.calls) == []
    assert chaos.engine.side_traffic == {"openai POST /v1/traces/ingest": 1}


class FakeTraceProvider:
    """What the session calls of openai-agents: ``get_trace_provider().force_flush()`` posts the queue."""

    def __init__(self, fail: bool = False) -> None:
        self.queued = 2
        self.answers: list[int] = []
        self.fail = fail

    def force_flush(self) -> None:
        if self.fail:
            raise RuntimeError("the exporter changed")
        while self.queued:
            self.answers.append(post_traces().status_code)
            self.queued -= 1


@pytest.fixture
def trace_provider(monkeypatch: pytest.MonkeyPatch) -> FakeTraceProvider:
    provider = FakeTraceProvider()
    module: Any = types.ModuleType("agents.tracing")
    module.get_trace_provider = lambda: provider
    monkeypatch.setitem(sys.modules, "agents", types.ModuleType("agents"))
    monkeypatch.setitem(sys.modules, "agents.tracing", module)
    return provider


def test_the_queued_traces_go_out_while_the_session_still_answers_them(trace_provider: FakeTraceProvider) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        assert trace_provider.answers == []  # queued: the exporter's thread has not sent them yet
    assert (trace_provider.queued, trace_provider.answers) == (0, [204, 204])
    assert chaos.engine.side_traffic == {"openai POST /v1/traces/ingest": 2}


def test_a_flush_that_fails_does_not_break_the_session_end(trace_provider: FakeTraceProvider) -> None:
    trace_provider.fail = True
    with chaoskit.Chaos(seed=1):
        pass
    with chaoskit.Chaos(seed=1) as chaos:  # the first session's patches came off: a second one starts
        trace_provider.fail = False
    assert chaos.engine.side_traffic == {"openai POST /v1/traces/ingest": 2}

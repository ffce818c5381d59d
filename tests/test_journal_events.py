"""Journal events: subscribers hear each call opened, injected (when a fault fires) and closed,
exactly once and in that order, with the call's outcome final when it closes; whatever the
seam (HTTP, streamed or not, blocked, a fault that cannot apply, a patched callable), and under
concurrent calls. A subscriber that raises does not break the call."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from typing import Any

import httpx2
import openai
import pytest

import chaoskit
from chaoskit import JournalEvent

MESSAGES = [{"role": "user", "content": "Where is order A100?"}]


class Recorder:
    """A subscriber that keeps each event with a copy of the call as it was when it heard it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, event: JournalEvent) -> None:
        with self.lock:
            self.events.append((event.kind, event.call.index, event.call.to_dict()))

    def kinds(self, index: int) -> list[str]:
        return [kind for kind, i, _ in self.events if i == index]

    def closed(self, index: int) -> dict[str, Any]:
        [seen] = [call for kind, i, call in self.events if kind == "closed" and i == index]
        return seen


def lookup_order(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "shipped"}


def test_a_healthy_call_opens_then_closes_with_its_outcome_final() -> None:
    recorder = Recorder()
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.calls.subscribe(recorder)
        chaos.reply("openai", "It shipped.")
        openai.OpenAI(api_key="sk-test").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert recorder.kinds(0) == ["opened", "closed"]
    [call] = chaos.calls
    assert recorder.closed(0) == call.to_dict()  # nothing changed after it closed
    assert call.status == 200 and call.usage is not None and call.duration > 0


def test_a_faulted_call_is_injected_right_after_it_opens() -> None:
    recorder = Recorder()
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.calls.subscribe(recorder)
        chaos.inject("openai.rate_limit", times=1)
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert recorder.kinds(0) == ["opened", "injected", "closed"]
    assert recorder.closed(0)["status"] == 429 and recorder.closed(0)["effect"] == "status"


def test_a_broken_stream_closes_once_with_its_error_and_the_text_before_the_break() -> None:
    recorder = Recorder()
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.calls.subscribe(recorder)
        chaos.reply("openai", "Order A100 shipped on Monday.")
        chaos.inject("openai.stream.cut.unclean", after_events=2)
        stream = openai.OpenAI(api_key="sk-test", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIConnectionError):
            for _ in stream:
                pass
    assert recorder.kinds(0) == ["opened", "injected", "closed"]
    closed = recorder.closed(0)
    assert closed == chaos.calls[0].to_dict()
    assert closed["complete"] is False and closed["error"] == "RemoteProtocolError" and closed["text"]


def test_a_blocked_request_and_a_fault_that_cannot_apply_close_at_once() -> None:
    recorder = Recorder()
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.calls.subscribe(recorder)
        with pytest.raises(chaoskit.UnroutedRequestError):
            httpx2.get("https://search.example.com/")
        chaos.route("http://127.0.0.1:9", provider="openai", real=True)
        chaos.inject("openai.malformed.tool_args")  # rewrites a real unary answer, but not a real stream
        with pytest.raises(chaoskit.ChaosConfigError):
            openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0).chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True)
        assert [(k, i) for k, i, _ in recorder.events] == [
            ("opened", 0), ("closed", 0), ("opened", 1), ("injected", 1), ("closed", 1),
        ]  # both closed before the session ended
    assert recorder.closed(0)["error"] == "Unrouted" and recorder.closed(1)["error"] == "ChaosConfigError"


def test_a_patched_callable_closes_through_the_engine_with_its_duration() -> None:
    recorder = Recorder()
    with chaoskit.Chaos(seed=1, clock=chaoskit.VirtualClock()) as chaos:
        chaos.calls.subscribe(recorder)
        chaos.inject("tool.latency", target=f"{__name__}:lookup_order", seconds=2.0)
        assert lookup_order("A100")["status"] == "shipped"
    assert recorder.kinds(0) == ["opened", "injected", "closed"]
    closed = recorder.closed(0)
    assert closed["duration"] == pytest.approx(2.0) and closed["side_effect"] is True
    assert closed["effect"] == chaoskit.faults.get("tool.latency").effect


def test_a_stream_nobody_read_to_its_end_closes_with_the_session() -> None:
    recorder = Recorder()
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.calls.subscribe(recorder)
        chaos.inject("openai.slow_first_token", seconds=0.01)  # a wait in the body: it plays as it is read
        client = httpx2.Client()
        request = client.build_request("POST", "https://api.openai.com/v1/chat/completions",
                                       json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True})
        response = client.send(request, stream=True)  # headers only: the body is never read nor closed
        assert recorder.kinds(0) == ["opened", "injected"]
    assert recorder.kinds(0) == ["opened", "injected", "closed"]
    response.close()
    client.close()


def test_a_listener_that_raises_does_not_break_the_call(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()

    def broken(event: JournalEvent) -> None:
        raise RuntimeError(f"subscriber bug on {event.kind}")

    with chaoskit.Chaos(seed=1) as chaos, caplog.at_level(logging.ERROR, logger="chaoskit.journal"):
        chaos.calls.subscribe(broken)
        chaos.calls.subscribe(recorder)  # later subscribers still hear every event
        chaos.reply("openai", "It shipped.")
        answer = openai.OpenAI(api_key="sk-test").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert answer.choices[0].message.content == "It shipped."
    assert recorder.kinds(0) == ["opened", "closed"]
    assert [str(e) for e in chaos.calls.listener_errors] == ["subscriber bug on opened", "subscriber bug on closed"]
    assert "journal listener" in caplog.text and "failed on opened of call #0" in caplog.text


def test_unsubscribe_stops_the_events() -> None:
    recorder = Recorder()
    with chaoskit.Chaos(seed=1) as chaos:
        unsubscribe = chaos.calls.subscribe(recorder)
        client = openai.OpenAI(api_key="sk-test")
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        unsubscribe()
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert [i for _, i, _ in recorder.events] == [0, 0]


def test_fifty_concurrent_calls_each_open_inject_and_close_once_in_order() -> None:
    recorder = Recorder()

    async def one(client: openai.AsyncOpenAI, n: int) -> None:
        try:
            if n % 2:
                stream = await client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"call {n}"}], stream=True,
                    stream_options={"include_usage": True})
                async for _ in stream:
                    await asyncio.sleep(0)
            else:
                await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"call {n}"}])
        except openai.APIError:
            pass

    async def run() -> None:
        client = openai.AsyncOpenAI(api_key="sk-test", max_retries=0)
        await asyncio.gather(*(one(client, n) for n in range(50)))

    with chaoskit.Chaos(seed=5) as chaos:
        chaos.calls.subscribe(recorder)
        chaos.inject("openai.server_error", rate=0.3)
        chaos.inject("openai.stream.cut", rate=0.3)
        asyncio.run(run())
        kinds: dict[int, list[str]] = defaultdict(list)
        for kind, index, _ in recorder.events:
            kinds[index].append(kind)
        calls = list(chaos.calls)
    assert len(calls) == 50
    faulted = [c.index for c in calls if c.fault is not None]
    assert 0 < len(faulted) < 50
    for call in calls:
        expected = ["opened", "injected", "closed"] if call.fault is not None else ["opened", "closed"]
        assert kinds[call.index] == expected, call.index
        assert recorder.closed(call.index) == call.to_dict()

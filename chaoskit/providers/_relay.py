"""Stream faults on a real server's SSE stream, as it arrives.

A :class:`StreamRelayer` splits the real body into SSE events and relays them unchanged until
the fault's moment (after ``after_events`` events that carry model output), then breaks the
stream the fault's way: a clean end, an unclean one, a reset, a stall, the provider's error
event, an event that is not JSON. Slow-token latency waits before every event. Nothing is
buffered beyond the event being split, so the first token reaches the client when the real
server sends it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ._plan import NEVER, Break, Respond, Send, Step, Wait

__all__ = ["EventText", "StreamRelayer", "split_event"]

#: What a provider reads from one real SSE event: (whether it carries model output, its text).
EventText = Callable[[str | None, Any], tuple[bool, str]]
#: Stream effects a relayer plays on a real stream.
EFFECTS = ("stream.cut", "stream.cut_unclean", "stream.reset", "stream.stall", "stream.error_event",
           "stream.invalid_event", "latency.tokens", "latency.first_token")


def split_event(raw: bytes) -> tuple[str | None, Any]:
    """(the ``event:`` name, the ``data:`` parsed as JSON, else as text) of one SSE event."""
    name = None
    data: list[str] = []
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    text = "\n".join(data)
    try:
        return name, json.loads(text)
    except ValueError:
        return name, text


class StreamRelayer:
    """Relays one real SSE stream, breaking it as ``effect`` (see :data:`EFFECTS`) says.

    ``text_of`` reads an event's model output; ``error_event(sequence)`` is the provider's error
    event; ``params`` are the fault's.
    """

    def __init__(self, effect: str, params: Mapping[str, Any], text_of: EventText,
                 error_event: Callable[[int], bytes]) -> None:
        if effect not in EFFECTS:
            raise ValueError(f"a relayer plays {', '.join(EFFECTS)}, not {effect}")
        self.effect = effect
        self.params = params
        self.text_of = text_of
        self.error_event = error_event
        self.after = int(params.get("after_events", 2))
        self.done = False
        self._buffer = b""
        self._content = 0  # events with model output relayed so far
        self._events = 0
        self._broken = False  # the real service answered an error: relayed untouched
        self._fired = False  # the fault has acted
        self.broke = False

    def head(self, status: int, headers: tuple[tuple[str, str], ...]) -> list[Step]:
        if status >= 400:  # the real service failed on its own: relayed as it is
            self._broken = True
        return [Respond(status, headers)]

    def feed(self, chunk: bytes) -> list[Step]:
        if self._broken:
            return [Send(chunk)] if not self.done else []
        self._buffer += chunk.replace(b"\r\n", b"\n")
        steps: list[Step] = []
        while not self.done and b"\n\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n\n", 1)
            steps += self._event(raw + b"\n\n")
        return steps

    def end(self) -> list[Step]:
        if self.done:
            return []
        steps: list[Step] = [Send(self._buffer)] if self._buffer.strip() else []
        if not self._broken and not self._fired and self.effect.startswith("stream."):
            steps += self._break()  # the stream ended before the fault's moment: it breaks at its end
        self.done = True
        return steps

    def _event(self, raw: bytes) -> list[Step]:
        name, data = split_event(raw)
        content, text = self.text_of(name, data)
        steps: list[Step] = []
        if self.effect == "latency.tokens" or (self.effect == "latency.first_token" and self._events == 0):
            steps.append(Wait(float(self.params.get("seconds", 0.0))))
        breaks = self.effect.startswith("stream.") and not self._fired
        if breaks and content and self.after <= 0:  # before the first event with model output
            steps += self._break()
            if self.done:
                return steps
        self._events += 1
        steps.append(Send(raw, text))
        if content:
            self._content += 1
            if breaks and not self._fired and self._content == self.after:  # right after the n-th one
                steps += self._break()
        return steps

    def _break(self) -> list[Step]:
        """The steps that break the stream here; ``done`` when nothing of the real one follows."""
        self._fired = True
        effect = self.effect
        self.broke = not (effect == "stream.stall" and self.params.get("seconds") is not None)
        if effect == "stream.stall":
            seconds = self.params.get("seconds")
            if seconds is None:
                self.done = True
                return [Wait(NEVER)]
            return [Wait(float(seconds))]  # stalled once; the rest flows
        if effect == "stream.invalid_event":
            return [Send(str(self.params.get("data", "data: {not json\n\n")).encode())]
        self.done = True
        if effect == "stream.cut":
            return []
        if effect == "stream.cut_unclean":
            return [Break("incomplete")]
        if effect == "stream.reset":
            return [Break("reset")]
        return [Send(self.error_event(self._events))]  # stream.error_event

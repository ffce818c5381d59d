"""Stream faults on a real server's SSE stream, as it arrives.

A :class:`StreamRelayer` splits the real body into SSE events and relays them unchanged until
the fault's moment (after ``after_events`` events that carry model output), then breaks the
stream the fault's way: a clean end, an unclean one, a reset, a stall, the provider's error
event, an event that is not JSON; or, for a finish fault (``stream.length``, ``content_filter``),
the provider's own ending with the fault's finish reason, so the client sees a clean, finished
stream. Slow-token latency waits before every event. Nothing is buffered beyond the event being
split (and, under a finish fault, the events after the last model output, which may be the real
ending), so the first token reaches the client when the real server sends it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ._plan import NEVER, Break, Respond, Send, Step, Wait

__all__ = ["EFFECTS", "FINISHES", "Ending", "EventText", "StreamRelayer", "moment", "split_event"]

#: What a provider reads from one real SSE event: (whether it carries model output, its text).
EventText = Callable[[str | None, Any], tuple[bool, str]]
#: The events that end a real stream the provider's way, given the real events relayed so far
#: (``event:`` name, parsed data) and the model text they carried.
Ending = Callable[[list[tuple[str | None, Any]], str], list[bytes]]
#: Effects that end a real stream early with the fault's finish reason (an :data:`Ending`).
FINISHES = ("stream.length", "content_filter")
#: Stream effects a relayer plays on a real stream.
EFFECTS = ("stream.cut", "stream.cut_unclean", "stream.reset", "stream.stall", "stream.error_event",
           "stream.invalid_event", "latency.tokens", "latency.first_token", *FINISHES)


def moment(effect: str, params: Mapping[str, Any]) -> int:
    """After how many events with model output a fault acts on a real stream: ``after_events``.

    When it is None (the default of ``stream.length`` and ``content_filter``): 2 for
    ``stream.length``, the moment of the other stream faults, because a real answer's length is not
    known ahead and cannot be cut at half as a simulated one is; 0 for ``content_filter``, whose
    simulated answer carries no text.
    """
    after = params.get("after_events")
    if after is None:
        return 0 if effect == "content_filter" else 2
    return int(after)


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
    event; ``ending`` the provider's end of a stream, for a finish fault (:data:`FINISHES`);
    ``params`` are the fault's.
    """

    def __init__(self, effect: str, params: Mapping[str, Any], text_of: EventText,
                 error_event: Callable[[int], bytes], ending: Ending | None = None) -> None:
        if effect not in EFFECTS:
            raise ValueError(f"a relayer plays {', '.join(EFFECTS)}, not {effect}")
        if effect in FINISHES and ending is None:
            raise ValueError(f"{effect} ends the real stream the provider's way: give the relayer its ending")
        self.effect = effect
        self.params = params
        self.text_of = text_of
        self.error_event = error_event
        self.ending = ending
        self.after = moment(effect, params)
        self.done = False
        self._buffer = b""
        self._content = 0  # events with model output relayed so far
        self._events = 0
        self._broken = False  # the real service answered an error: relayed untouched
        self._fired = False  # the fault has acted
        self.broke = False
        # under a finish fault: the events relayed, and those held back after the last model output
        self._seen: list[tuple[str | None, Any]] = []
        self._held: list[tuple[bytes, str | None, Any]] = []
        self._text = ""

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
        if self.effect in FINISHES and not self._broken and self._content:
            return self._finish()  # the held events and the rest were the real ending: ours replaces it
        steps: list[Step] = [Send(self._buffer)] if self._buffer.strip() else []
        if not self._broken and not self._fired and self.effect.startswith("stream.") and self.effect not in FINISHES:
            steps += self._break()  # the stream ended before the fault's moment: it breaks at its end
        self.done = True
        return steps

    def _event(self, raw: bytes) -> list[Step]:
        name, data = split_event(raw)
        content, text = self.text_of(name, data)
        if self.effect in FINISHES:
            return self._finishing(raw, name, data, content, text)
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

    def _finishing(self, raw: bytes, name: str | None, data: Any, content: bool, text: str) -> list[Step]:
        """An event under a finish fault. Events without model output that follow some are held
        back until more output comes, since they may be the real ending, which the fault's replaces.
        A real answer with no output at all passes as it is."""
        if not content:
            if self._content:
                self._held.append((raw, name, data))
                return []
            return [self._relayed(raw, name, data, "")]
        if self._content >= self.after:  # the moment is before the first output
            return self._finish()
        steps: list[Step] = [self._relayed(*held, "") for held in self._held]
        self._held.clear()
        steps.append(self._relayed(raw, name, data, text))
        self._content += 1
        if self._content == self.after:
            steps += self._finish()
        return steps

    def _relayed(self, raw: bytes, name: str | None, data: Any, text: str) -> Send:
        self._seen.append((name, data))
        self._events += 1
        self._text += text
        return Send(raw, text)

    def _finish(self) -> list[Step]:
        """The provider's ending with the fault's finish reason: the stream is over, whole."""
        assert self.ending is not None
        self._fired = self.done = True
        return [Send(data) for data in self.ending(self._seen, self._text)]

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

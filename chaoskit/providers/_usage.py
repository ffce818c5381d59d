"""Token usage read from the body a client received, as it is sent.

A :class:`UsageMeter` is fed each body chunk on its way to the client (simulated or relayed
from a real server) and read once the call ends. Where a provider puts its usage is data
(:class:`UsageFields`); how the body is framed is the meter's: a JSON document read at the
end, SSE events or AWS event stream messages split as they pass. It stays cheap on the hot
path: a complete event is parsed only when its bytes contain the usage key, and a JSON body
is kept only up to :data:`JSON_LIMIT` bytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from .._journal import Usage
from ._relay import split_event

__all__ = ["JSON_LIMIT", "Framing", "UsageFields", "UsageMeter"]

#: The most of a JSON body a meter keeps; a larger body's usage is not read.
JSON_LIMIT = 4 * 1024 * 1024
#: How a response body is framed: one JSON document, SSE events, AWS event stream messages.
Framing = Literal["json", "sse", "eventstream"]

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UsageFields:
    """Where one provider API reports usage: the usage object's paths in a body or event (the
    first one present is read), and the paths of each count inside it."""

    at: tuple[Path, ...]
    input: Path
    output: Path
    cached: Path

    @property
    def key(self) -> bytes:
        """Bytes every document that carries usage contains (the usage object's key, quoted)."""
        return f'"{self.at[0][-1]}"'.encode()

    def read(self, document: Any) -> Usage | None:
        """The usage ``document`` reports, or None (no usage object there, or only nulls)."""
        for path in self.at:
            found = _get(document, path)
            if isinstance(found, dict):
                usage = Usage(_count(found, self.input), _count(found, self.output), _count(found, self.cached))
                return None if usage.empty else usage
        return None


class UsageMeter:
    """Reads one response's usage from its body chunks, merging what several events report.

    ``feed(data)`` with each chunk sent to the client; ``usage()`` at the end: the counts
    reported (later events' counts replace earlier ones), or None when the body had none.
    """

    __slots__ = ("fields", "framing", "_buffer", "_usage", "_overflow")

    def __init__(self, fields: UsageFields, framing: Framing) -> None:
        self.fields = fields
        self.framing = framing
        self._buffer = b""
        self._usage: Usage | None = None
        self._overflow = False

    def feed(self, data: bytes) -> None:
        if self._overflow or not data:
            return
        if self.framing == "json":
            if len(self._buffer) + len(data) > JSON_LIMIT:
                self._overflow, self._buffer = True, b""
            else:
                self._buffer += data
            return
        self._buffer += data
        frames, self._buffer = _split(self.framing, self._buffer)
        if len(self._buffer) > JSON_LIMIT:  # no frame ends in sight: not this framing
            self._overflow, self._buffer = True, b""
        if frames and self.fields.key in frames:  # one test over all complete frames first
            for frame in _frames(self.framing, frames):
                if self.fields.key in frame:
                    self._found(_parse(self.framing, frame))

    def usage(self) -> Usage | None:
        """The usage the body reported so far (a JSON body, or an event left without its blank line, is read now)."""
        if self._buffer and self.fields.key in self._buffer and not self._overflow:
            rest, self._buffer = self._buffer, b""
            self._found(_json(rest) if self.framing == "json" else _parse(self.framing, rest))
        return self._usage

    def _found(self, document: Any) -> None:
        usage = self.fields.read(document)
        if usage is not None:
            self._usage = usage if self._usage is None else self._usage.merged(usage)


def _split(framing: Framing, buffer: bytes) -> tuple[bytes, bytes]:
    """(the complete frames at the start of ``buffer``, the rest)."""
    if framing == "sse":
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        end = buffer.rfind(b"\n\n")
        return (b"", buffer) if end < 0 else (buffer[: end + 2], buffer[end + 2 :])
    end = 0
    while len(buffer) - end >= 12:
        (total,) = struct.unpack_from(">I", buffer, end)
        if total < 16 or len(buffer) - end < total:
            break
        end += total
    return buffer[:end], buffer[end:]


def _frames(framing: Framing, frames: bytes) -> Iterator[bytes]:
    if framing == "sse":
        yield from frames.split(b"\n\n")
        return
    at = 0
    while at < len(frames):
        total, headers = struct.unpack_from(">II", frames, at)
        yield frames[at + 12 + headers : at + total - 4]  # the payload, between headers and CRC
        at += total


def _parse(framing: Framing, frame: bytes) -> Any:
    if framing == "sse":
        return split_event(frame)[1]
    return _json(frame)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _get(document: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _count(usage: dict[str, Any], path: Path) -> int | None:
    value = _get(usage, path)
    return value if isinstance(value, int) and not isinstance(value, bool) else None

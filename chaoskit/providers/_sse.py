"""Server-sent events encoding for the provider simulator."""

from __future__ import annotations

import json

__all__ = ["DONE", "encode_event"]

DONE = b"data: [DONE]\n\n"
"""The sentinel that ends an OpenAI Chat Completions stream."""


def encode_event(data: dict | str, event: str | None = None) -> bytes:
    """One SSE event: an optional ``event:`` line, ``data:`` lines, then a blank line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    lines = [f"event: {event}"] if event is not None else []
    lines += [f"data: {line}" for line in payload.split("\n")]
    return ("\n".join(lines) + "\n\n").encode("utf-8")

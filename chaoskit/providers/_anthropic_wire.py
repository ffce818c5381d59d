"""Anthropic Messages API wire formats for healthy replies, and the error body.

Pure functions from a parsed request body and a reply to JSON-ready dicts; no HTTP here.
"""

from __future__ import annotations

from typing import Any

from chaoskit._replies import Reply, ToolCall
from chaoskit.providers._text import (
    arguments_object,
    derived_id,
    prefixed,
    prompt_tokens,
    reply_tokens,
    split_json,
    split_text,
    tool_calls,
)

__all__ = ["error_body", "message", "message_events"]

DEFAULT_MODEL = "claude-sonnet-4-6"


def _model(request: dict) -> str:
    """The model named in the request (echoed back, as the real API does)."""
    return str(request.get("model") or DEFAULT_MODEL)


def _stop_reason(reply: Reply, stop_reason: str | None) -> str:
    """The stop reason: the override, else "tool_use" or "end_turn"."""
    return stop_reason or ("tool_use" if tool_calls(reply) else "end_turn")


def _tool_use_id(ident: str, index: int, call: ToolCall) -> str:
    """The tool_use block id: the ToolCall's own id, else derived from ident and index."""
    return call.id or derived_id("toolu_", ident, index)



def _usage(request: dict, output_tokens: int) -> dict:
    """Message ``usage`` with the cache fields the real API sends."""
    return {
        "input_tokens": prompt_tokens(request),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _content(reply: Reply, ident: str) -> list[dict]:
    """The content blocks of a complete message."""
    calls = tool_calls(reply)
    if not calls:
        return [{"type": "text", "text": str(reply)}]
    return [
        {"type": "tool_use", "id": _tool_use_id(ident, i, call), "name": call.name, "input": arguments_object(call)}
        for i, call in enumerate(calls)
    ]


def _message_shell(request: dict, ident: str) -> dict[str, Any]:
    """A message with no content, no stop reason and no usage yet."""
    return {
        "id": prefixed(ident, "msg_"),
        "type": "message",
        "role": "assistant",
        "model": _model(request),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }


def message(request: dict, reply: Reply, *, ident: str, stop_reason: str | None = None) -> dict:
    """A complete Messages API ``message`` for the reply."""
    return {
        **_message_shell(request, ident),
        "content": _content(reply, ident),
        "stop_reason": _stop_reason(reply, stop_reason),
        "usage": _usage(request, reply_tokens(reply)),
    }


def _block_events(index: int, block: dict, pieces: list[str], delta_type: str) -> list[dict]:
    """``content_block_start``, its deltas, then ``content_block_stop`` for one block."""
    key = "text" if delta_type == "text_delta" else "partial_json"
    events = [{"type": "content_block_start", "index": index, "content_block": block}]
    events += [
        {"type": "content_block_delta", "index": index, "delta": {"type": delta_type, key: piece}} for piece in pieces
    ]
    return events + [{"type": "content_block_stop", "index": index}]


def _blocks_events(reply: Reply, ident: str) -> list[dict]:
    """Events for every content block; tool arguments are streamed verbatim, even if not JSON."""
    calls = tool_calls(reply)
    if not calls:
        return _block_events(0, {"type": "text", "text": ""}, split_text(str(reply)), "text_delta")
    events: list[dict] = []
    for i, call in enumerate(calls):
        block = {"type": "tool_use", "id": _tool_use_id(ident, i, call), "name": call.name, "input": {}}
        events += _block_events(i, block, split_json(call.arguments_json), "input_json_delta")
    return events


def message_events(
    request: dict, reply: Reply, *, ident: str, stop_reason: str | None = None
) -> list[tuple[str, dict]]:
    """The Messages API stream as ``(event name, data)`` pairs, ``message_start`` to ``message_stop``."""
    output_tokens = reply_tokens(reply)
    blocks = _blocks_events(reply, ident)
    events = [
        {"type": "message_start", "message": {**_message_shell(request, ident), "usage": _usage(request, 1)}},
        blocks[0],
        {"type": "ping"},
        *blocks[1:],
        {
            "type": "message_delta",
            "delta": {"stop_reason": _stop_reason(reply, stop_reason), "stop_sequence": None},
            "usage": {
                "input_tokens": prompt_tokens(request),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": output_tokens,
            },
        },
        {"type": "message_stop"},
    ]
    return [(event["type"], event) for event in events]


def error_body(type: str, message: str, request_id: str | None = None) -> dict:
    """The Anthropic error body; ``request_id`` is left out when not given."""
    body: dict[str, Any] = {"type": "error", "error": {"type": type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body

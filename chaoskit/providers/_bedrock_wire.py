"""Amazon Bedrock Runtime wire formats for healthy replies: Converse, ConverseStream, InvokeModel.

Pure functions from a parsed request body and a reply to JSON-ready dicts, or to the
``(event type, payload)`` pairs of an event stream; no HTTP here. Shapes follow botocore's
``bedrock-runtime/2023-09-30/service-2.json`` (``ConverseResponse``, ``ConverseStreamOutput``,
``ResponseStream``). InvokeModel bodies are the model's own format; chaoskit speaks the one of
Anthropic models on Bedrock (the Messages API, ``anthropic_version: bedrock-2023-05-31``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from chaoskit._replies import Reply, ToolCall
from chaoskit.providers import _anthropic_wire as anthropic
from chaoskit.providers._text import (
    derived_id,
    prompt_tokens,
    reply_tokens,
    split_json,
    split_text,
    tool_calls,
)

__all__ = ["converse", "converse_events", "invoke", "invoke_events", "offered_tools"]

#: Bedrock pads every event payload with a ``p`` field so sizes do not leak the text.
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"
_LATENCY_MS = 412  # fixed, so journals are reproducible


def _stop_reason(reply: Reply, stop_reason: str | None) -> str:
    return stop_reason or ("tool_use" if tool_calls(reply) else "end_turn")


def _tool_use_id(ident: str, index: int, call: ToolCall) -> str:
    return call.id or derived_id("tooluse_", ident, index, length=22)


def _tool_input(call: ToolCall) -> Any:
    """A toolUse ``input`` document; arguments that are not JSON are sent as the string they are."""
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    try:
        return json.loads(call.arguments)
    except ValueError:
        return call.arguments


def _usage(request: dict[str, Any], output_tokens: int) -> dict[str, int]:
    inputs = prompt_tokens(request)
    return {"inputTokens": inputs, "outputTokens": output_tokens, "totalTokens": inputs + output_tokens}


def offered_tools(request: dict[str, Any]) -> list[str]:
    """Tool names a Converse request offers (``toolConfig.tools[].toolSpec.name``)."""
    tools = (request.get("toolConfig") or {}).get("tools") or []
    names = []
    for tool in tools:
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            names.append(spec["name"])
    return names


def converse(request: dict[str, Any], reply: Reply, *, ident: str, stop_reason: str | None = None) -> dict[str, Any]:
    """A complete ``ConverseResponse``."""
    calls = tool_calls(reply)
    content: list[dict[str, Any]]
    if calls:
        content = [
            {"toolUse": {"toolUseId": _tool_use_id(ident, i, c), "name": c.name, "input": _tool_input(c)}}
            for i, c in enumerate(calls)
        ]
    else:
        content = [{"text": str(reply)}]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": _stop_reason(reply, stop_reason),
        "usage": _usage(request, reply_tokens(reply)),
        "metrics": {"latencyMs": _LATENCY_MS},
    }


def converse_events(request: dict[str, Any], reply: Reply, *, ident: str, stop_reason: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The ``ConverseStream`` events, ``messageStart`` to ``metadata``, each padded as Bedrock pads them."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    calls = tool_calls(reply)
    if calls:
        for i, call in enumerate(calls):
            start = {"toolUse": {"toolUseId": _tool_use_id(ident, i, call), "name": call.name}}
            events.append(("contentBlockStart", {"start": start, "contentBlockIndex": i}))
            events += [("contentBlockDelta", {"delta": {"toolUse": {"input": piece}}, "contentBlockIndex": i})
                       for piece in split_json(call.arguments_json)]
            events.append(("contentBlockStop", {"contentBlockIndex": i}))
    else:
        events += [("contentBlockDelta", {"delta": {"text": piece}, "contentBlockIndex": 0}) for piece in split_text(str(reply))]
        events.append(("contentBlockStop", {"contentBlockIndex": 0}))
    events.append(("messageStop", {"stopReason": _stop_reason(reply, stop_reason)}))
    events.append(("metadata", {"usage": _usage(request, reply_tokens(reply)), "metrics": {"latencyMs": _LATENCY_MS}}))
    return [(name, {**data, "p": _PADDING[: 1 + len(json.dumps(data)) % len(_PADDING)]}) for name, data in events]


def invoke(request: dict[str, Any], model: str, reply: Reply, *, ident: str, stop_reason: str | None = None) -> dict[str, Any]:
    """An InvokeModel body for an Anthropic model: a Messages API ``message``."""
    body = anthropic.message({**request, "model": _anthropic_model(model)}, reply, ident=_message_ident(ident), stop_reason=stop_reason)
    usage = body["usage"]
    body["usage"] = {"input_tokens": usage["input_tokens"], "cache_creation_input_tokens": 0,
                     "cache_read_input_tokens": 0, "output_tokens": usage["output_tokens"]}
    return body


def invoke_events(request: dict[str, Any], model: str, reply: Reply, *, ident: str, stop_reason: str | None = None) -> list[tuple[dict[str, Any], str]]:
    """InvokeModelWithResponseStream ``chunk`` payloads for an Anthropic model, each with the text it adds.

    Each chunk's ``bytes`` is the base64 of one Messages API stream event (no ``ping``); the
    last one carries ``amazon-bedrock-invocationMetrics`` as on Bedrock.
    """
    events = anthropic.message_events({**request, "model": _anthropic_model(model)}, reply, ident=_message_ident(ident), stop_reason=stop_reason)
    out = []
    inputs = prompt_tokens(request)
    for name, data in events:
        if name == "ping":
            continue
        if name == "message_stop":
            data = {**data, "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": inputs, "outputTokenCount": reply_tokens(reply),
                "invocationLatency": _LATENCY_MS, "firstByteLatency": _LATENCY_MS // 2,
            }}
        delta = data.get("delta") if name == "content_block_delta" else None
        text = str(delta.get("text") or "") if isinstance(delta, dict) and delta.get("type") == "text_delta" else ""
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        out.append(({"bytes": base64.b64encode(raw).decode("ascii"), "p": _PADDING[: 1 + len(raw) % len(_PADDING)]}, text))
    return out


def _anthropic_model(model: str) -> str:
    """``claude-sonnet-4-5-20250929`` from ``us.anthropic.claude-sonnet-4-5-20250929-v1:0``."""
    name = model.rsplit("/", 1)[-1].split("anthropic.", 1)[-1]
    return name.rsplit("-v", 1)[0] if "-v" in name else name


def _message_ident(ident: str) -> str:
    return f"msg_bdrk_{ident}"

"""OpenAI wire formats for healthy replies: Chat Completions, Responses, Embeddings, errors.

Pure functions from a parsed request body and a reply to JSON-ready dicts; no HTTP here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
from typing import Any

from chaoskit._replies import Reply, ToolCall
from chaoskit.providers._text import (
    count_tokens,
    derived_id,
    prefixed,
    prompt_tokens,
    reply_tokens,
    split_json,
    split_text,
    tool_calls,
)

__all__ = [
    "chat_completion",
    "chat_completion_chunks",
    "embeddings",
    "error_body",
    "response_events",
    "response_object",
    "split_text",
]

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
_EMBEDDING_DIMENSIONS = {"text-embedding-3-large": 3072}
_DEFAULT_DIMENSIONS = 1536
_ECHOED_TIERS = ("flex", "scale", "priority")


# --------------------------------------------------------------------------- shared


def _model(request: dict) -> str:
    """The model named in the request (echoed back, as the real API does)."""
    return str(request.get("model") or DEFAULT_MODEL)


def _call_id(ident: str, index: int, call: ToolCall) -> str:
    """The tool call id: the one given in the ToolCall, else derived from ident and index."""
    return call.id or derived_id("call_", ident, index)


def _service_tier(request: dict) -> str:
    """The service tier the API reports ("default" unless a special tier was asked for)."""
    tier = request.get("service_tier")
    return tier if tier in _ECHOED_TIERS else "default"


def _fingerprint(model: str) -> str:
    """A stable ``system_fingerprint`` for a model."""
    return derived_id("fp_", model, length=10)


def error_body(message: str, type: str | None = None, param: str | None = None, code: str | None = None) -> dict:
    """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


# --------------------------------------------------------------------------- chat completions


def _chat_usage(request: dict, reply: Reply) -> dict:
    """Chat Completions ``usage`` with the detail objects the real API sends."""
    prompt, completion = prompt_tokens(request), reply_tokens(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_finish_reason(reply: Reply, finish_reason: str | None) -> str:
    """The finish reason: the override, else "tool_calls" or "stop"."""
    return finish_reason or ("tool_calls" if tool_calls(reply) else "stop")


def _chat_message(reply: Reply, ident: str) -> dict:
    """The assistant message of a non-streamed chat completion."""
    calls = tool_calls(reply)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if calls else reply,
        "refusal": None,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = [
            {
                "id": _call_id(ident, i, call),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for i, call in enumerate(calls)
        ]
    return message


def chat_completion(request: dict, reply: Reply, *, ident: str, created: int, finish_reason: str | None = None) -> dict:
    """A ``chat.completion`` object for the reply."""
    model = _model(request)
    return {
        "id": prefixed(ident, "chatcmpl-"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": _chat_message(reply, ident),
                "logprobs": None,
                "finish_reason": _chat_finish_reason(reply, finish_reason),
            }
        ],
        "usage": _chat_usage(request, reply),
        "service_tier": _service_tier(request),
        "system_fingerprint": _fingerprint(model),
    }


def _chunk_factory(request: dict, ident: str, created: int) -> Any:
    """A function making ``chat.completion.chunk`` dicts that share id, model and metadata."""
    model = _model(request)
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        """One chunk with a single choice carrying ``delta``."""
        body: dict[str, Any] = {
            "id": prefixed(ident, "chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": _service_tier(request),
            "system_fingerprint": _fingerprint(model),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if include_usage:
            body["usage"] = None
        return body

    return chunk


def _text_deltas(text: str) -> list[dict]:
    """Chat deltas for a text reply: the role first, then the content pieces."""
    first = {"role": "assistant", "content": "", "refusal": None}
    return [first] + [{"content": piece} for piece in split_text(text) if piece]


def _tool_call_deltas(calls: tuple[ToolCall, ...], ident: str) -> list[dict]:
    """Chat deltas for tool calls: id, type and name first, then the arguments in pieces."""
    deltas: list[dict] = []
    for i, call in enumerate(calls):
        head = {
            "index": i,
            "id": _call_id(ident, i, call),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        deltas.append({"tool_calls": [head]})
        deltas += [
            {"tool_calls": [{"index": i, "function": {"arguments": p}}]} for p in split_json(call.arguments_json)
        ]
    deltas[0] = {"role": "assistant", "content": None, "refusal": None, **deltas[0]}
    return deltas


def chat_completion_chunks(
    request: dict, reply: Reply, *, ident: str, created: int, finish_reason: str | None = None
) -> list[dict]:
    """The ``chat.completion.chunk`` dicts of a stream, without the ``[DONE]`` sentinel."""
    chunk = _chunk_factory(request, ident, created)
    calls = tool_calls(reply)
    deltas = _tool_call_deltas(calls, ident) if calls else _text_deltas(str(reply))
    chunks = [chunk(delta) for delta in deltas]
    chunks.append(chunk({}, _chat_finish_reason(reply, finish_reason)))
    if (request.get("stream_options") or {}).get("include_usage"):
        chunks.append({**chunk({}), "choices": [], "usage": _chat_usage(request, reply)})
    return chunks


# --------------------------------------------------------------------------- responses


def _response_usage(request: dict, reply: Reply) -> dict:
    """Responses API ``usage`` with its ``*_details`` objects."""
    prompt, output = prompt_tokens(request), reply_tokens(reply)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    }


def _output_text_part(text: str) -> dict:
    """An ``output_text`` content part."""
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _message_item(ident: str, text: str, status: str) -> dict:
    """A ``message`` output item holding one ``output_text`` part (no part while in progress)."""
    content = [_output_text_part(text)] if status == "completed" else []
    return {
        "id": derived_id("msg_", ident, "message", length=48),
        "type": "message",
        "status": status,
        "content": content,
        "role": "assistant",
    }


def _function_call_item(ident: str, index: int, call: ToolCall, status: str) -> dict:
    """A ``function_call`` output item (arguments empty while in progress)."""
    return {
        "id": derived_id("fc_", ident, "function_call", index, length=48),
        "type": "function_call",
        "status": status,
        "arguments": call.arguments_json if status == "completed" else "",
        "call_id": _call_id(ident, index, call),
        "name": call.name,
    }


def _output_items(reply: Reply, ident: str) -> list[dict]:
    """The completed ``output`` list of a response."""
    calls = tool_calls(reply)
    if calls:
        return [_function_call_item(ident, i, call, "completed") for i, call in enumerate(calls)]
    return [_message_item(ident, str(reply), "completed")]


def _response_shell(request: dict, *, ident: str, created: int) -> dict:
    """A ``response`` object in progress: every field the API sends, no output yet."""
    return {
        "id": prefixed(ident, "resp_"),
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "background": bool(request.get("background", False)),
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "model": _model(request),
        "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": request.get("prompt_cache_key"),
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": request.get("safety_identifier"),
        "service_tier": _service_tier(request),
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": request.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "top_logprobs": request.get("top_logprobs", 0),
        "top_p": request.get("top_p", 1.0),
        "truncation": request.get("truncation", "disabled"),
        "usage": None,
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def response_object(request: dict, reply: Reply, *, ident: str, created: int) -> dict:
    """A completed Responses API ``response`` object for the reply."""
    return {
        **_response_shell(request, ident=ident, created=created),
        "status": "completed",
        "completed_at": created,
        "output": _output_items(reply, ident),
        "usage": _response_usage(request, reply),
    }


def _message_events(ident: str, text: str) -> list[dict]:
    """Stream events (without sequence numbers) for one text message at output index 0."""
    item = _message_item(ident, text, "in_progress")
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    events = [
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **where, "part": _output_text_part("")},
    ]
    events += [
        {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []} for piece in split_text(text)
    ]
    return events + [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": _output_text_part(text)},
        {"type": "response.output_item.done", "output_index": 0, "item": _message_item(ident, text, "completed")},
    ]


def _function_call_events(ident: str, index: int, call: ToolCall) -> list[dict]:
    """Stream events (without sequence numbers) for one function call at output index ``index``."""
    item = _function_call_item(ident, index, call, "in_progress")
    where = {"item_id": item["id"], "output_index": index}
    events = [{"type": "response.output_item.added", "output_index": index, "item": item}]
    events += [
        {"type": "response.function_call_arguments.delta", **where, "delta": piece}
        for piece in split_json(call.arguments_json)
    ]
    done_item = _function_call_item(ident, index, call, "completed")
    return events + [
        {"type": "response.function_call_arguments.done", **where, "arguments": call.arguments_json},
        {"type": "response.output_item.done", "output_index": index, "item": done_item},
    ]


def response_events(request: dict, reply: Reply, *, ident: str, created: int) -> list[tuple[str, dict]]:
    """The Responses API stream: ``(event name, data)`` pairs with increasing ``sequence_number``."""
    calls = tool_calls(reply)
    body: list[dict] = []
    if calls:
        for i, call in enumerate(calls):
            body += _function_call_events(ident, i, call)
    else:
        body = _message_events(ident, str(reply))
    events = [
        {"type": "response.created", "response": _response_shell(request, ident=ident, created=created)},
        {"type": "response.in_progress", "response": _response_shell(request, ident=ident, created=created)},
        *body,
        {"type": "response.completed", "response": response_object(request, reply, ident=ident, created=created)},
    ]
    return [(event["type"], {**event, "sequence_number": n}) for n, event in enumerate(events)]


# --------------------------------------------------------------------------- embeddings


def _embedding_inputs(value: object) -> list[str | list[int]]:
    """The inputs of an embeddings request: a string, strings, a token list or token lists."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [value]
    if isinstance(value, list):
        return list(value)
    return [str(value)]


def _dimensions(request: dict, model: str) -> int:
    """The vector size: ``dimensions`` if given, else the model's native size."""
    size = request.get("dimensions")
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    return _EMBEDDING_DIMENSIONS.get(model, _DEFAULT_DIMENSIONS)


def _vector(item: str | list[int], model: str, size: int) -> list[float]:
    """A deterministic unit vector for one input, exactly representable as float32."""
    key = json.dumps([model, item], separators=(",", ":"), ensure_ascii=False)
    seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    raw = [rng.gauss(0.0, 1.0) for _ in range(size)]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    packed = struct.pack(f"<{size}f", *(x / norm for x in raw))
    return list(struct.unpack(f"<{size}f", packed))


def _encode_vector(vector: list[float], encoding_format: object) -> list[float] | str:
    """The vector as sent: base64 of little-endian float32 if asked, else a list of floats."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def _input_tokens(item: str | list[int]) -> int:
    """Tokens in one embeddings input (token lists count exactly)."""
    return len(item) if isinstance(item, list) else count_tokens(str(item))


def embeddings(request: dict) -> dict:
    """An embeddings ``list`` response with deterministic unit vectors per input."""
    model = str(request.get("model") or DEFAULT_EMBEDDING_MODEL)
    size = _dimensions(request, model)
    inputs = _embedding_inputs(request.get("input", ""))
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _encode_vector(_vector(item, model, size), request.get("encoding_format")),
        }
        for i, item in enumerate(inputs)
    ]
    tokens = sum(_input_tokens(item) for item in inputs)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

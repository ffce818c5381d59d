"""Gemini API wire formats: ``GenerateContentResponse`` bodies and stream chunks.

Pure functions from a parsed request body and a reply to JSON-ready dicts; no HTTP here.
The shapes follow what ``generativelanguage.googleapis.com`` sends and what
``google/genai/models.py::_GenerateContentResponse_from_mldev`` reads: camelCase fields,
``candidates[].content.parts[]`` holding ``text`` or ``functionCall`` parts, ``finishReason``
(``STOP``, ``MAX_TOKENS``, ``SAFETY``), ``usageMetadata``, ``modelVersion``, ``responseId``.
A stream (``:streamGenerateContent?alt=sse``) is a series of such responses, one per
``data:`` line, each carrying a piece of the text; the last one has an empty text part, the
finish reason and the full usage. There is no ``[DONE]``.
"""

from __future__ import annotations

from typing import Any

from chaoskit._replies import Reply, ToolCall
from chaoskit.providers._text import (
    arguments_object,
    count_tokens,
    derived_id,
    reply_tokens,
    split_text,
    tool_calls,
)

__all__ = ["blocked_prompt", "chunks", "error_body", "model_from_path", "prompt_tokens", "response"]

DEFAULT_MODEL = "gemini-2.5-flash"
STOP = "STOP"
SAFETY = "SAFETY"
MAX_TOKENS = "MAX_TOKENS"

_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)


def model_from_path(path: str) -> str:
    """The model named in a ``.../models/MODEL:method`` path (``tunedModels/`` too)."""
    for marker in ("/models/", "/tunedModels/"):
        if marker in path:
            return path.rsplit(marker, 1)[1].split(":", 1)[0] or DEFAULT_MODEL
    return DEFAULT_MODEL


def prompt_tokens(request: dict[str, Any]) -> int:
    """A rough token count for the prompt: every string in ``contents`` and ``systemInstruction``."""
    return count_tokens("".join(_texts([request.get("systemInstruction"), request.get("contents")])))


def _texts(value: object) -> list[str]:
    """The ``text`` strings inside ``contents`` (parts may also hold inline data, calls, ...)."""
    if isinstance(value, dict):
        own = [value["text"]] if isinstance(value.get("text"), str) else []
        return own + [s for k, v in value.items() if k != "text" for s in _texts(v)]
    if isinstance(value, list):
        return [s for v in value for s in _texts(v)]
    return []


def _usage(request: dict[str, Any], output_tokens: int | None) -> dict[str, Any]:
    """``usageMetadata``; with no output tokens (a chunk before the last, a blocked answer) only the prompt's."""
    prompt = prompt_tokens(request)
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if output_tokens:
        usage["candidatesTokenCount"] = output_tokens
    usage["totalTokenCount"] = prompt + (output_tokens or 0)
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    return usage


def _response_id(ident: str) -> str:
    return derived_id("", "gemini", ident, length=23)


def _shell(request: dict[str, Any], candidates: list[dict[str, Any]] | None, usage: dict[str, Any], model: str, ident: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if candidates is not None:
        body["candidates"] = candidates
    body["usageMetadata"] = usage
    body["modelVersion"] = model
    body["responseId"] = _response_id(ident)
    return body



def _function_part(call: ToolCall) -> dict[str, Any]:
    function: dict[str, Any] = {"name": call.name, "args": arguments_object(call)}
    if call.id is not None:
        function["id"] = call.id
    return {"functionCall": function}


def safety_ratings(blocked: str | None) -> list[dict[str, Any]]:
    """The four ``safetyRatings``; ``blocked`` names the category rated HIGH and blocked."""
    ratings = []
    for category in _CATEGORIES:
        if category == blocked:
            ratings.append({"category": category, "probability": "HIGH", "blocked": True})
        else:
            ratings.append({"category": category, "probability": "NEGLIGIBLE"})
    return ratings


def _candidate(parts: list[dict[str, Any]] | None, finish: str | None, blocked: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {}
    if parts is not None:
        candidate["content"] = {"parts": parts, "role": "model"}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    if finish == SAFETY:
        candidate["safetyRatings"] = safety_ratings(blocked)
    return candidate


def response(request: dict[str, Any], reply: Reply, *, model: str, ident: str, finish: str | None = None, blocked: str | None = None) -> dict[str, Any]:
    """A complete ``GenerateContentResponse`` for the reply.

    ``finish`` overrides the finish reason; a ``SAFETY`` finish with no text has no
    ``content`` at all and ``safetyRatings`` naming the ``blocked`` category.
    """
    finish = finish or STOP
    calls = tool_calls(reply)
    if calls:
        parts: list[dict[str, Any]] | None = [_function_part(c) for c in calls]
    else:
        parts = [{"text": str(reply)}] if str(reply) or finish != SAFETY else None
    candidate = _candidate(parts, finish, blocked)
    return _shell(request, [candidate], _usage(request, reply_tokens(reply) if parts else 0), model, ident)


def chunks(request: dict[str, Any], reply: Reply, *, model: str, ident: str, finish: str | None = None, blocked: str | None = None) -> list[dict[str, Any]]:
    """The stream as ``GenerateContentResponse`` chunks, text first, the finish last.

    Function calls arrive whole, in one chunk with the finish reason; a text answer comes
    in pieces, then a chunk with an empty text part, the finish reason and the full usage.
    """
    finish = finish or STOP
    calls = tool_calls(reply)
    if calls:
        parts = [_function_part(c) for c in calls]
        return [_shell(request, [_candidate(parts, finish, blocked)], _usage(request, reply_tokens(reply)), model, ident)]
    text = str(reply)
    out = [
        _shell(request, [_candidate([{"text": piece}], None, None)], _usage(request, None), model, ident)
        for piece in split_text(text) if piece
    ]
    last_parts = None if finish == SAFETY else [{"text": ""}]
    usage = _usage(request, reply_tokens(reply) if text else 0)
    out.append(_shell(request, [_candidate(last_parts, finish, blocked)], usage, model, ident))
    return out


def blocked_prompt(request: dict[str, Any], *, model: str, ident: str, reason: str, blocked: str | None) -> dict[str, Any]:
    """The answer to a prompt the safety filter blocked: ``promptFeedback``, no candidates."""
    feedback: dict[str, Any] = {"blockReason": reason}
    if reason == SAFETY:
        feedback["safetyRatings"] = safety_ratings(blocked)
    return {"promptFeedback": feedback, "usageMetadata": _usage(request, None), "modelVersion": model, "responseId": _response_id(ident)}


def error_body(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Google API error envelope: ``{"error": {"code", "message", "status", "details"?}}``."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}

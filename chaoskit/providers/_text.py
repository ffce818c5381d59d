"""Text helpers shared by the provider wire formats: streaming pieces, token estimates, ids."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from chaoskit._replies import Reply, ToolCall

__all__ = [
    "arguments_object",
    "count_tokens",
    "derived_id",
    "prefixed",
    "prompt_tokens",
    "reply_tokens",
    "split_json",
    "split_text",
    "substitute",
    "tool_calls",
]

_WORDS = re.compile(r"\s*\S+|\s+")
_JSON_TOKENS = re.compile(r"\w{1,8}|\s+|[^\w\s]{1,4}")
_PROMPT_KEYS = ("system", "instructions", "messages", "input")


def split_text(text: str, pieces_hint: int = 0) -> list[str]:
    """Split text into streaming deltas (word-sized, whitespace kept); ``"".join`` gives text back.

    JSON text (structured output) is split into token-sized pieces as tool arguments are, so a
    stream cut can land inside it as it does on a real model's stream.
    """
    if not text:
        return [""]
    words = split_json(text) if _is_json(text) else _WORDS.findall(text)
    if pieces_hint <= 0:
        return words
    if pieces_hint <= len(words):
        return _group(words, pieces_hint)
    return _group(list(text), min(pieces_hint, len(text)))


def _is_json(text: str) -> bool:
    if text[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def split_json(text: str) -> list[str]:
    """Split a JSON string into token-sized pieces, the way tool arguments are streamed."""
    return _JSON_TOKENS.findall(text)


def _group(items: list[str], count: int) -> list[str]:
    """Join consecutive items into ``count`` pieces of near-equal item counts."""
    size, extra = divmod(len(items), count)
    pieces, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append("".join(items[start:end]))
        start = end
    return pieces


def count_tokens(text: str) -> int:
    """A rough token count: one token per four characters, at least one."""
    return max(1, len(text) // 4)


def prompt_tokens(request: Mapping[str, object]) -> int:
    """A rough token count for the prompt of a request body (all strings in its prompt fields)."""
    return max(1, _length([request.get(key) for key in _PROMPT_KEYS]) // 4)  # count_tokens of all its strings


def tool_calls(reply: Reply) -> tuple[ToolCall, ...]:
    """The tool calls of a reply (empty for a text reply)."""
    if isinstance(reply, ToolCall):
        return (reply,)
    if isinstance(reply, tuple):
        return reply
    return ()


def reply_tokens(reply: Reply) -> int:
    """A rough token count for the reply text or its tool calls."""
    if isinstance(reply, str):
        return count_tokens(reply)
    return count_tokens("".join(call.name + call.arguments_json for call in tool_calls(reply)))


def _length(value: object) -> int:
    """The total length of every string inside a JSON-like value (no string is copied)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return total


def prefixed(ident: str, prefix: str) -> str:
    """The id with the provider's prefix, added only if it is missing."""
    return ident if ident.startswith(prefix) else prefix + ident


def derived_id(prefix: str, *parts: object, length: int = 24) -> str:
    """A deterministic provider-looking id, e.g. ``call_<hex>``, from the given parts."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode("utf-8")).hexdigest()
    return prefix + digest[:length]


def substitute(value: Any, old: str, new: str) -> Any:
    """``value`` (a catalog parameter: text, mapping or list) with ``old`` replaced by ``new`` in every string."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, Mapping):
        return {k: substitute(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, old, new) for v in value]
    return value


def arguments_object(call: ToolCall) -> dict[str, Any]:
    """A tool call's arguments where the wire holds a JSON object (Anthropic ``input``, Gemini
    ``args``): arguments that are not a JSON object give ``{}``."""
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    try:
        value = json.loads(call.arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

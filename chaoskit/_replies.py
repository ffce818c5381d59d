"""Healthy replies for the provider simulator: text or tool calls, consumed in order."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply", "ReplyQueue", "ToolCall", "tool_call"]


@dataclass(frozen=True)
class ToolCall:
    """A tool call the simulated model makes: a tool name and its arguments.

    ``arguments`` is a mapping (sent as JSON) or a string sent verbatim, so a test can
    send arguments that are not JSON on purpose.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments as the provider puts them on the wire (a JSON string)."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


def tool_call(name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None) -> ToolCall:
    """Make a simulated tool call, for ``chaos.reply(provider, tool_call("lookup", {"order": "A100"}))``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool_call: name={name!r} must be a non-empty string")
    return ToolCall(name=name, arguments={} if arguments is None else arguments, id=id)


Reply = str | ToolCall | tuple[ToolCall, ...]
"""One simulated model turn: text, one tool call, or several tool calls at once."""

DEFAULT_REPLY = "Thanks for your message. This is a simulated answer to it."


def as_reply(value: object) -> Reply:
    """Check and normalise one reply given by a user."""
    if isinstance(value, (str, ToolCall)):
        return value
    if isinstance(value, Sequence) and value and all(isinstance(v, ToolCall) for v in value):
        return tuple(value)  # type: ignore[arg-type]
    raise TypeError(
        f"a reply must be a str, a chaoskit.tool_call(...) or a list of tool calls, not {value!r}"
    )


class ReplyQueue:
    """Replies for one provider, consumed in order; the last one repeats."""

    __slots__ = ("_replies", "_next")

    def __init__(self, replies: Sequence[Reply] = ()) -> None:
        self._replies: list[Reply] = list(replies)
        self._next = 0

    def set(self, replies: Sequence[object]) -> None:
        self._replies = [as_reply(r) for r in replies]
        self._next = 0

    def give_back(self) -> None:
        """Undo the last take: the reply never reached the client."""
        if self._next > 0:
            self._next -= 1

    def peek(self) -> Reply:
        """The reply ``take`` would give next, without taking it."""
        if not self._replies:
            return DEFAULT_REPLY
        return self._replies[min(self._next, len(self._replies) - 1)]

    def take(self) -> Reply:
        if not self._replies:
            return DEFAULT_REPLY
        reply = self._replies[min(self._next, len(self._replies) - 1)]
        self._next += 1
        return reply

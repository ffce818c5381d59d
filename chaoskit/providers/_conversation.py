"""A request's conversation, provider-neutral: who said what, and the tool calls the model made.

Profiles read their own message shapes into :class:`Said` items; what the ``model.*`` effects
and the journal need is read here once for all providers: the question (the last message the
user wrote), the user turn a call answers (:class:`chaoskit._journal.Turn`), and the rounds of
tool calls the model made since that message (what a tool loop repeats).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._journal import Turn
from .._replies import ToolCall

__all__ = ["Role", "Said", "call_of", "question", "tool_rounds", "turn"]

#: Who said a message: the user (text they wrote), the model (its text and tool calls), the app
#: sending tool results back, or the system prompt.
Role = Literal["user", "model", "tool", "system"]


@dataclass(frozen=True, slots=True)
class Said:
    """One message of a request's conversation: who said it, its text, the tool calls in it."""

    role: Role
    text: str = ""
    calls: tuple[ToolCall, ...] = ()


def call_of(name: Any, arguments: Any) -> ToolCall | None:
    """A tool call read from a request (arguments as a JSON string or an object), or None when nameless."""
    if not isinstance(name, str) or not name:
        return None
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return ToolCall(name, arguments)
        arguments = parsed
    return ToolCall(name, arguments if isinstance(arguments, Mapping) else {})


def _last_user(said: Sequence[Said]) -> int | None:
    return next((i for i in range(len(said) - 1, -1, -1) if said[i].role == "user" and said[i].text), None)


def question(said: Sequence[Said]) -> str:
    """The text of the last message the user wrote ("" when there is none)."""
    last = _last_user(said)
    return said[last].text if last is not None else ""


def tool_rounds(said: Sequence[Said]) -> list[tuple[ToolCall, ...]]:
    """The model's rounds of tool calls since the user last wrote, oldest first."""
    last = _last_user(said)
    if last is None:
        return []
    return [s.calls for s in said[last + 1:] if s.role == "model" and s.calls]


def turn(said: Sequence[Said]) -> Turn | None:
    """The user turn a request with this conversation answers, or None when the user wrote nothing."""
    users = [s.text for s in said if s.role == "user" and s.text]
    if not users:
        return None
    return Turn.of(users, len(tool_rounds(said)))

"""Healthy replies for the provider simulator: text, tool calls or structured output, consumed in order."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Reply", "ReplyQueue", "StructuredReply", "ToolCall", "structured_reply", "tool_call"]


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


@dataclass(frozen=True)
class StructuredReply:
    """Structured output whose form on the wire the request decides: a tool call or JSON text.

    Frameworks ask for structured output in different ways (pydantic-ai calls a ``final_result``
    tool, instructor and LangChain's ``function_calling`` force a tool named after the model,
    LangChain's ``json_schema``, openai-agents and Anthropic's output formats ask for JSON text).
    The provider profile reads the request and answers in the form it asked for (see
    ``chaoskit/providers/_structured.py``), so a test states the value, not the framework's wire.
    """

    #: The value as JSON data (a pydantic model is dumped by alias, a dataclass as a dict).
    data: Any
    #: The tool to call; None: the tool the request forces, else its output format, else the
    #: one offered tool whose parameters the data fits, else JSON text.
    tool: str | None = None

    @property
    def json(self) -> str:
        """The data as JSON text, as a model writes it when asked for JSON."""
        return json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)


def structured_reply(value: Any, *, tool: str | None = None) -> StructuredReply:
    """A healthy structured answer: ``value`` as the tool call or JSON text the request asks for.

    ``value`` is a pydantic model (dumped with ``model_dump(mode="json", by_alias=True)``), a
    dataclass instance, or JSON data (a dict, a list, a str, a number, a bool, None).
    ``chaos.reply("openai", structured_reply(Triage(intent="refund", urgent=True)))`` answers
    pydantic-ai, instructor, LangChain, openai-agents and llama-index alike: each call's own
    request decides whether the value goes out as a tool call (which tool, with the value as its
    arguments) or as JSON text. ``tool`` names the tool to call when the request offers several
    that the value fits.
    """
    if tool is not None and (not isinstance(tool, str) or not tool):
        raise ValueError(f"structured_reply: tool={tool!r} must be a non-empty string or None")
    data = _as_data(value)
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"structured_reply: value={value!r} is not JSON data ({exc}); pass a pydantic model, a "
            "dataclass instance, or dicts and lists of str, int, float, bool and None"
        ) from None
    return StructuredReply(data=data, tool=tool)


def _as_data(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):  # a pydantic model (v2), without importing pydantic
        return dump(mode="json", by_alias=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


Reply = str | ToolCall | tuple[ToolCall, ...]
"""One simulated model turn as it goes on the wire: text, one tool call, or several at once."""

Answer = Reply | StructuredReply
"""What a test may queue for a provider: a reply, or structured output the request gives a form to."""

DEFAULT_REPLY = "Thanks for your message. This is a simulated answer to it."


def as_reply(value: object) -> Answer:
    """Check and normalise one reply given by a user."""
    if isinstance(value, (str, ToolCall, StructuredReply)):
        return value
    if isinstance(value, Sequence) and value and all(isinstance(v, ToolCall) for v in value):
        return tuple(value)  # type: ignore[arg-type]
    raise TypeError(
        f"a reply must be a str, a chaoskit.tool_call(...), a list of tool calls or a "
        f"chaoskit.structured_reply(...), not {value!r}"
    )


class ReplyQueue:
    """Replies for one provider, consumed in order; the last one repeats.

    A ``StructuredReply`` stays one until a profile gives it the form its request asks for.
    """

    __slots__ = ("_replies", "_next")

    def __init__(self, replies: Sequence[Answer] = ()) -> None:
        self._replies: list[Answer] = list(replies)
        self._next = 0

    def set(self, replies: Sequence[object]) -> None:
        self._replies = [as_reply(r) for r in replies]
        self._next = 0

    def give_back(self) -> None:
        """Undo the last take: the reply never reached the client."""
        if self._next > 0:
            self._next -= 1

    def peek(self) -> Answer:
        """The reply ``take`` would give next, without taking it."""
        if not self._replies:
            return DEFAULT_REPLY
        return self._replies[min(self._next, len(self._replies) - 1)]

    def take(self) -> Answer:
        if not self._replies:
            return DEFAULT_REPLY
        reply = self._replies[min(self._next, len(self._replies) - 1)]
        self._next += 1
        return reply

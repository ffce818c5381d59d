"""What load to put on the target during a run: the :class:`LoadSpec` value and conversation files.

A conversation is a list of user turns (strings), sent in order under one conversation id. A
conversations file (YAML or JSON) holds a list of them, or a mapping whose only key is
``conversations``.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from .._errors import ChaosConfigError

__all__ = ["DEFAULT_BODY", "DEFAULT_CONVERSATIONS", "LoadSpec", "load_conversations"]

#: The chat request body when none is given: ``{message}`` and ``{conversation_id}`` are filled per turn.
DEFAULT_BODY: Mapping[str, Any] = MappingProxyType({"message": "{message}", "conversation_id": "{conversation_id}"})
#: The conversations shipped with chaoskit: support-desk chats, used when a spec names none.
DEFAULT_CONVERSATIONS = Path(__file__).with_name("conversations.yaml")

Conversations = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class LoadSpec:
    """How many simulated users send which conversations, how fast and for how long.

    ``conversations``: a list of conversations (each a list of user turns), or the path of a
    YAML/JSON file of them; defaults to the support-desk chats in :data:`DEFAULT_CONVERSATIONS`.
    ``body``: the JSON sent for each turn, with ``{message}`` and ``{conversation_id}`` replaced in
    its strings (``path`` may hold ``{conversation_id}`` too). ``workers``: 0 runs Locust as one
    process; N runs a master and N local worker processes. ``think_time``: seconds a user waits
    between turns, ``(min, max)`` or one number. ``order``: each user plays the conversations
    ``"round_robin"`` (user n starts with the n-th) or in ``"random"`` order drawn from ``seed``.
    ``timeout``: seconds one request may take. ``stop_timeout``: seconds a user gets to finish its
    request in flight when the run ends, so the counts match what the target saw.
    """

    users: int = 1
    spawn_rate: float = 1.0
    duration: float = 60.0
    conversations: Conversations | Sequence[Sequence[str]] | str | os.PathLike[str] = DEFAULT_CONVERSATIONS
    path: str = "/chat"
    body: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_BODY))
    headers: Mapping[str, str] = field(default_factory=dict)
    workers: int = 0
    think_time: tuple[float, float] | float = (1.0, 3.0)
    order: Literal["round_robin", "random"] = "round_robin"
    seed: int = 0
    timeout: float = 60.0
    stop_timeout: float = 10.0

    def __post_init__(self) -> None:
        _whole("users", self.users, minimum=1)
        _whole("workers", self.workers, minimum=0)
        _whole("seed", self.seed, minimum=None)
        _number("spawn_rate", self.spawn_rate, positive=True, unit="users per second")
        for name in ("duration", "timeout"):
            _number(name, getattr(self, name), positive=True)
        _number("stop_timeout", self.stop_timeout, positive=False)
        object.__setattr__(self, "think_time", _think_time(self.think_time))
        if self.order not in ("round_robin", "random"):
            raise ChaosConfigError(f"order={self.order!r} must be 'round_robin' or 'random'")
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ChaosConfigError(f"path={self.path!r} must be the chat endpoint's path, starting with '/'")
        object.__setattr__(self, "headers", MappingProxyType(_headers(self.headers)))
        object.__setattr__(self, "body", MappingProxyType(_body(self.body)))
        object.__setattr__(self, "conversations", _conversations(self.conversations))

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON-ready data (a conversations file is given as its conversations)."""
        conversations = cast(Conversations, self.conversations)  # normalised in __post_init__
        return {
            "users": self.users, "spawn_rate": self.spawn_rate, "duration": self.duration,
            "conversations": [list(turns) for turns in conversations], "path": self.path,
            "body": dict(self.body), "headers": dict(self.headers), "workers": self.workers,
            "think_time": list(cast(tuple[float, float], self.think_time)), "order": self.order, "seed": self.seed,
            "timeout": self.timeout, "stop_timeout": self.stop_timeout,
        }

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_json(), sort_keys=True))


def load_conversations(path: str | os.PathLike[str]) -> Conversations:
    """Read a YAML or JSON conversations file; a problem is reported as ``file:line: where: what``."""
    import yaml  # only when a file is read

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ChaosConfigError(f"{path}: cannot read the conversations file: {reason}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ChaosConfigError(f"{path}{line}: not valid YAML or JSON: {getattr(exc, 'problem', exc)}") from None
    if node is None:
        raise ChaosConfigError(f"{path}:1: the file is empty; expected a list of conversations")
    if isinstance(node, yaml.MappingNode):
        keys = {key.value: value for key, value in node.value}
        extra = sorted(set(keys) - {"conversations"})
        if extra or "conversations" not in keys:
            close = difflib.get_close_matches("conversations", extra, n=1)
            hint = f"; did you mean 'conversations' for {close[0]!r}?" if close else ""
            raise ChaosConfigError(
                f"{path}:{node.start_mark.line + 1}: expected a list of conversations, or a mapping with only "
                f"the key 'conversations'; found the keys {', '.join(map(repr, sorted(keys)))}{hint}"
            )
        node = keys["conversations"]

    def where(item: Any, trail: str) -> str:
        return f"{path}:{item.start_mark.line + 1}: {trail}"

    if not isinstance(node, yaml.SequenceNode):
        raise ChaosConfigError(f"{where(node, 'conversations')}: expected a list of conversations")
    out = []
    for i, conversation in enumerate(node.value):
        if isinstance(conversation, yaml.ScalarNode):
            raise ChaosConfigError(
                f"{where(conversation, f'conversations[{i}]')}: expected a conversation (a list of user turns), got "
                f"the string {conversation.value!r}; a file of one conversation is a list holding one list"
            )
        if not isinstance(conversation, yaml.SequenceNode) or not conversation.value:
            raise ChaosConfigError(
                f"{where(conversation, f'conversations[{i}]')}: expected a conversation: a non-empty list of user turns"
            )
        turns = []
        for j, turn in enumerate(conversation.value):
            if not isinstance(turn, yaml.ScalarNode) or turn.tag != "tag:yaml.org,2002:str":
                shown = turn.value if isinstance(turn, yaml.ScalarNode) else "a list or mapping"
                raise ChaosConfigError(
                    f"{where(turn, f'conversations[{i}][{j}]')}: expected a user turn (a string), got {shown!r}; "
                    "quote it"
                )
            turns.append(turn.value)
        out.append(tuple(turns))
    if not out:
        raise ChaosConfigError(f"{where(node, 'conversations')}: the list is empty; give at least one conversation")
    return tuple(out)


def _conversations(value: Any) -> Conversations:
    if isinstance(value, (str, os.PathLike)):
        return load_conversations(value)
    if not isinstance(value, Sequence) or not value:
        raise ChaosConfigError(
            f"conversations={value!r} must be a non-empty list of conversations (lists of user turns) "
            "or the path of a YAML/JSON file of them"
        )
    if all(isinstance(turn, str) for turn in value):
        raise ChaosConfigError(
            f"conversations={value!r} is one list of strings; give a list of conversations, each a list of "
            f"user turns: [{list(value)!r}]"
        )
    for i, conversation in enumerate(value):
        if isinstance(conversation, str) or not isinstance(conversation, Sequence) or not conversation:
            raise ChaosConfigError(
                f"conversations[{i}]={conversation!r} must be a conversation: a non-empty list of user turns"
            )
        for j, turn in enumerate(conversation):
            if not isinstance(turn, str):
                raise ChaosConfigError(f"conversations[{i}][{j}]={turn!r} must be a user turn (a string)")
    return tuple(tuple(conversation) for conversation in value)


def _whole(name: str, value: Any, *, minimum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ChaosConfigError(f"{name}={value!r} must be a whole number{bound}")


def _number(name: str, value: Any, *, positive: bool, unit: str = "seconds") -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise ChaosConfigError(f"{name}={value!r} must be a number of {unit} {'> 0' if positive else '>= 0'}")


def _think_time(value: Any) -> tuple[float, float]:
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    ok = len(pair) == 2 and all(
        not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x) and x >= 0 for x in pair
    ) and pair[0] <= pair[1]
    if not ok:
        raise ChaosConfigError(f"think_time={value!r} must be seconds: (min, max) with 0 <= min <= max, or one number")
    return float(pair[0]), float(pair[1])


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ChaosConfigError(f"headers={value!r} must be a mapping of header names to string values")
    return dict(value)


def _body(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ChaosConfigError(f"body={value!r} must be a JSON object (a mapping) with '{{message}}' in one of its strings")
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ChaosConfigError(f"body={value!r} must be JSON-serializable: {exc}") from None
    if "{message}" not in text:
        raise ChaosConfigError(
            f"body={value!r} has no '{{message}}' placeholder, so no turn would be sent; put it where the "
            "app reads the user's message"
        )
    copy: dict[str, Any] = json.loads(text)
    return copy

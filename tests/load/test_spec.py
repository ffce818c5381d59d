"""LoadSpec: defaults, conversation files, and an exact message for each bad argument."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from chaoskit import ChaosConfigError
from chaoskit.load import DEFAULT_CONVERSATIONS, LoadSpec, load_conversations


def test_defaults() -> None:
    spec = LoadSpec()
    assert (spec.users, spec.spawn_rate, spec.duration, spec.workers) == (1, 1.0, 60.0, 0)
    assert spec.path == "/chat"
    assert dict(spec.body) == {"message": "{message}", "conversation_id": "{conversation_id}"}
    assert spec.think_time == (1.0, 3.0) and spec.order == "round_robin"
    assert spec.conversations == load_conversations(DEFAULT_CONVERSATIONS)
    assert len(spec.conversations) >= 5 and all(len(c) >= 2 for c in spec.conversations)


def test_a_spec_is_a_frozen_value() -> None:
    spec = LoadSpec(conversations=[["hi", "there"]], headers={"x-chaos-target": "synthetic"}, think_time=0.5)
    assert spec.conversations == (("hi", "there"),) and spec.think_time == (0.5, 0.5)
    assert spec == LoadSpec(conversations=(("hi", "there"),), headers={"x-chaos-target": "synthetic"}, think_time=(0.5, 0.5))
    assert hash(spec) == hash(LoadSpec(conversations=[["hi", "there"]], headers={"x-chaos-target": "synthetic"},
                                       think_time=0.5))
    with pytest.raises(AttributeError):
        spec.users = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.headers["x-other"] = "1"  # type: ignore[index]
    assert LoadSpec(**{**spec.to_json(), "think_time": tuple(spec.think_time)}) == spec  # type: ignore[arg-type]


def test_a_conversations_file_in_either_format(tmp_path: Path) -> None:
    listed = tmp_path / "listed.yaml"
    listed.write_text("- - Where is A100?\n  - It was due Monday.\n- - Refund, please.\n")
    mapped = tmp_path / "mapped.json"
    mapped.write_text('{"conversations": [["Where is A100?", "It was due Monday."], ["Refund, please."]]}')
    expected = (("Where is A100?", "It was due Monday."), ("Refund, please.",))
    assert load_conversations(listed) == load_conversations(mapped) == expected
    assert LoadSpec(conversations=str(listed)).conversations == expected
    assert LoadSpec(conversations=mapped).conversations == expected


BAD_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"users": 0}, "users=0 must be a whole number >= 1"),
    ({"users": 2.5}, "users=2.5 must be a whole number >= 1"),
    ({"workers": -1}, "workers=-1 must be a whole number >= 0"),
    ({"spawn_rate": 0}, "spawn_rate=0 must be a number of users per second > 0"),
    ({"duration": -1}, "duration=-1 must be a number of seconds > 0"),
    ({"stop_timeout": float("nan")}, "stop_timeout=nan must be a number of seconds >= 0"),
    ({"think_time": (2, 1)}, "think_time=(2, 1) must be seconds: (min, max) with 0 <= min <= max, or one number"),
    ({"order": "shuffle"}, "order='shuffle' must be 'round_robin' or 'random'"),
    ({"path": "chat"}, "path='chat' must be the chat endpoint's path, starting with '/'"),
    ({"body": {"text": "hi"}}, "body={'text': 'hi'} has no '{message}' placeholder, so no turn would be sent; "
                              "put it where the app reads the user's message"),
    ({"headers": {"x-n": 1}}, "headers={'x-n': 1} must be a mapping of header names to string values"),
    ({"conversations": []}, "conversations=[] must be a non-empty list of conversations (lists of user turns) "
                            "or the path of a YAML/JSON file of them"),
    ({"conversations": ["hi", "there"]}, "conversations=['hi', 'there'] is one list of strings; give a list of "
                                        "conversations, each a list of user turns: [['hi', 'there']]"),
    ({"conversations": [["hi"], []]}, "conversations[1]=[] must be a conversation: a non-empty list of user turns"),
    ({"conversations": [["hi", 3]]}, "conversations[0][1]=3 must be a user turn (a string)"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_ARGUMENTS, ids=[m.split("=")[0] for _, m in BAD_ARGUMENTS])
def test_bad_arguments_say_which_and_what_is_allowed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ChaosConfigError, match=f"^{re.escape(message)}$"):
        LoadSpec(**kwargs)


BAD_FILES = [
    ("a.yaml", "- [hi, there]\n- - ok\n  - 3\n",
     "{f}:3: conversations[1][1]: expected a user turn (a string), got '3'; quote it"),
    ("b.json", '[["a"], []]', "{f}:1: conversations[1]: expected a conversation: a non-empty list of user turns"),
    ("c.yaml", "conversation:\n  - [hi]\n",
     "{f}:1: expected a list of conversations, or a mapping with only the key 'conversations'; found the keys "
     "'conversation'; did you mean 'conversations' for 'conversation'?"),
    ("d.yaml", "", "{f}:1: the file is empty; expected a list of conversations"),
    ("e.yaml", "- [hi\n", "{f}:2: not valid YAML or JSON: expected ',' or ']', but got '<stream end>'"),
    ("f.yaml", "- Where is A100?\n- It was due Monday.\n",
     "{f}:1: conversations[0]: expected a conversation (a list of user turns), got the string 'Where is A100?'; "
     "a file of one conversation is a list holding one list"),
    ("g.yaml", "[]", "{f}:1: conversations: the list is empty; give at least one conversation"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_bad_conversation_files_say_file_line_and_where(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ChaosConfigError, match=f"^{re.escape(message.format(f=path))}$"):
        LoadSpec(conversations=path)


def test_a_missing_conversations_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ChaosConfigError, match=f"^{re.escape(str(path))}: cannot read the conversations file: "
                                               "No such file or directory$"):
        LoadSpec(conversations=str(path))


def test_the_public_names() -> None:
    import chaoskit.load

    assert chaoskit.load.__all__ == sorted(chaoskit.load.__all__)
    assert all(hasattr(chaoskit.load, name) for name in chaoskit.load.__all__)
    assert {"LoadSpec", "LoadRun", "AsyncLoadRun", "LoadResult", "LoadError"} <= set(chaoskit.load.__all__)

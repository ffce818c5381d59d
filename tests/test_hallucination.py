"""Planted wrong values (``PROVIDER.model.hallucination``) and the ``hallucination_shown`` verdict.

The fault rewrites a valid answer, so the real SDKs parse it as any other 200; the journal says
what was planted where. The verdict is then judged on hand-made journals, and a hypothesis test
pins its rule: it fires exactly when a planted value is in what was shown.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chaoskit
from chaoskit import Call, ChaosConfigError, Watch, WatchedCall, faults, tool_call
from chaoskit._plant import _PATTERNS, KINDS, Plant, find_values, plant, plant_reply, shows
from chaoskit._verdicts import judge

TIMEOUT = httpx2.Timeout(1.0, connect=0.5)
ANSWER = ("Your order A100 has shipped and should arrive on 2026-03-14. You paid $42.50 for 3 items; "
          "Maria Garcia signed. Track it at https://acme.example/track/A100.")
QUESTION: Any = [{"role": "user", "content": "Where is my order A100?"}]


def gpt() -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", timeout=TIMEOUT, max_retries=0)


def claude() -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", timeout=TIMEOUT, max_retries=0)


# ---- finding and fabricating values --------------------------------------------------------------


def test_each_shape_is_found_once_and_values_inside_another_are_part_of_it() -> None:
    found = [(ANSWER[s:e], kind) for s, e, kind in find_values(ANSWER)]
    assert found == [
        ("A100", "id"), ("2026-03-14", "date"), ("$42.50", "amount"), ("3", "number"), ("Maria Garcia", "name"),
        ("https://acme.example/track/A100", "url"),
    ]


def test_a_sentences_first_word_and_month_names_are_not_names() -> None:
    assert find_values("Thanks for your message. This is a simulated answer to it.") == []
    assert [k for _, _, k in find_values("It arrives on March 14 with Acme Store.")] == ["date", "name"]


@pytest.mark.parametrize("seed", range(20))
def test_every_value_is_replaced_by_a_new_one_of_the_same_shape(seed: int) -> None:
    text, plants = plant_reply(ANSWER, random.Random(seed), count=None)
    assert [p.kind for p in plants] == ["id", "date", "amount", "number", "name", "url"]
    for p in plants:
        assert p.planted != p.original and p.where == "text"
        assert not shows(p.planted, ANSWER), p  # a new value: seeing it means the planted one was shown
        assert shows(p.planted, text) and not shows(p.original, text.replace("A100", "")) or p.kind == "id"
        shape = _PATTERNS[p.kind] if p.kind != "amount" else re.compile(r"\d+\.\d{2}")
        assert shape.fullmatch(p.planted), p
    assert text != ANSWER and len(find_values(text)) == len(find_values(ANSWER))


def test_a_seed_reproduces_what_is_planted_and_count_limits_it() -> None:
    assert plant_reply(ANSWER, random.Random(7)) == plant_reply(ANSWER, random.Random(7))
    _, plants = plant_reply(ANSWER, random.Random(7), count=2)
    assert len(plants) == 2
    _, only_dates = plant_reply(ANSWER, random.Random(7), kinds=["date"], count=None)
    assert [p.original for p in only_dates] == ["2026-03-14"]


def test_tool_call_arguments_are_planted_only_with_in_tools() -> None:
    call = tool_call("lookup_order", {"order_id": "A100", "quantity": 2})
    planted, plants = plant_reply(call, random.Random(1), kinds=["id"])
    assert isinstance(planted, chaoskit.ToolCall) and planted.arguments["quantity"] == 2
    assert plants == (Plant("id", "A100", planted.arguments["order_id"], "lookup_order.order_id"),)
    assert plant_reply(call, random.Random(1), in_tools=False) == (call, ())


def test_an_answer_without_the_shapes_is_left_alone() -> None:
    assert plant([("text", "hello there")], random.Random(1)) == (["hello there"], ())


def test_kinds_accepts_only_the_known_shapes() -> None:
    assert faults.get("openai.model.hallucination", kinds=["id", "url"]).params["kinds"] == ["id", "url"]
    with pytest.raises(ChaosConfigError) as info:
        faults.get("openai.model.hallucination", kinds=["id", "colour"])
    assert str(info.value) == (
        "fault 'openai.model.hallucination': kinds=['id', 'colour'] must be a list of one of "
        + ", ".join(repr(k) for k in ("url", "date", "amount", "id", "number", "name"))
    )


# ---- through the real SDKs, on simulated replies ----------------------------------------------------


def test_openai_parses_a_planted_answer_and_the_journal_names_the_plant() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("openai.model.hallucination", kinds=["id"])
        chaos.reply("openai", ANSWER)
        out = gpt().chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    [call] = chaos.calls
    [p] = call.planted or []
    assert (call.status, call.fault, p.kind, p.original) == (200, "openai.model.hallucination", "id", "A100")
    text = out.choices[0].message.content or ""
    assert text == ANSWER.replace("A100", p.planted, 1) and call.text == text
    assert call.detail == f"planted 'A100' -> {p.planted!r} (id, text)"


def test_the_async_client_gets_the_same_planted_answer() -> None:
    import asyncio

    async def ask() -> str:
        client = openai.AsyncOpenAI(api_key="sk-test", timeout=TIMEOUT, max_retries=0)
        out = await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
        return out.choices[0].message.content or ""

    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("openai.model.hallucination", kinds=["id"])
        chaos.reply("openai", ANSWER)
        text = asyncio.run(ask())
    [p] = chaos.calls[0].planted or []
    assert text == ANSWER.replace("A100", p.planted, 1)


def test_the_same_seed_plants_the_same_value() -> None:
    def planted(seed: int) -> str:
        with chaoskit.Chaos(seed=seed) as chaos:
            chaos.inject("openai.model.hallucination", kinds=["amount"])
            chaos.reply("openai", ANSWER)
            gpt().chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
        return (chaos.calls[0].planted or [])[0].planted

    assert planted(11) == planted(11)


def test_openai_stream_and_tool_call_arguments() -> None:
    tools: Any = [{"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object"}}}]
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("openai.model.hallucination", kinds=["id"])
        chaos.reply("openai", tool_call("lookup_order", {"order_id": "A100"}), ANSWER)
        first = gpt().chat.completions.create(model="gpt-4o-mini", messages=QUESTION, tools=tools)
        stream = gpt().chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True)
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    args = json.loads(first.choices[0].message.tool_calls[0].function.arguments)  # type: ignore[union-attr]
    plants = [(c.planted or [])[0] for c in chaos.calls]
    assert plants[0].where == "lookup_order.order_id" and args == {"order_id": plants[0].planted}
    assert streamed == ANSWER.replace("A100", plants[1].planted, 1)


def test_anthropic_parses_a_planted_answer() -> None:
    with chaoskit.Chaos(seed=5) as chaos:
        chaos.inject("anthropic.model.hallucination", kinds=["date"])
        chaos.reply("anthropic", ANSWER)
        message = claude().messages.create(model="claude-haiku-4-5", max_tokens=100, messages=QUESTION)
    [p] = chaos.calls[0].planted or []
    assert message.stop_reason == "end_turn"
    assert "".join(b.text for b in message.content if b.type == "text") == ANSWER.replace("2026-03-14", p.planted)


def test_nothing_to_plant_is_said_in_the_journal() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.model.hallucination")
        chaos.reply("openai", "Happy to help with anything else.")
        out = gpt().chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert out.choices[0].message.content == "Happy to help with anything else."
    assert chaos.calls[0].planted == []
    assert chaos.calls[0].detail == "planted nothing: no " + ", ".join(KINDS) + " in the answer"


# ---- the verdict ------------------------------------------------------------------------------------


def planted_call(index: int = 0, plants: tuple[Plant, ...] = (Plant("id", "A100", "A417", "text"),)) -> Call:
    return Call(index, "openai", "POST", "https://api.openai.com/v1/chat/completions", {}, fault="openai.model.hallucination",
                status=200, started=float(index), planted=list(plants))


def test_a_planted_value_shown_to_the_user_is_the_verdict() -> None:
    [verdict] = judge([planted_call()], user_texts=["Hi!", "Your order A417 has shipped."])
    assert verdict.name == "hallucination_shown" and verdict.calls == (0,)
    assert verdict.message == (
        "call #0 (openai.model.hallucination) planted 'A417' in place of 'A100' (in text) and the app showed it "
        "to the user (user text #1)"
    )
    assert judge([planted_call()], user_texts=["Your order A100 has shipped.", "order A4170"]) == []


def test_a_planted_value_a_later_request_carries_is_the_verdict() -> None:
    api = Call(1, "http", "GET", "https://orders.internal/orders/A417", None, status=404, started=1.0)
    [verdict] = judge([planted_call(), api])
    assert verdict.calls == (0, 1) and "a http call sent it on (call #1, GET https://orders.internal/orders/A417)" in verdict.message
    # a later model call that only echoes the model's turn and the tool's result is not acting on it
    echo = {"messages": [{"role": "user", "content": "Where is A100?"},
                         {"role": "assistant", "content": "Order A417 has shipped."},
                         {"role": "tool", "tool_call_id": "c", "content": '{"order_id": "A417"}'}]}
    model = Call(1, "openai", "POST", "https://api.openai.com/v1/chat/completions", echo, status=200, started=1.0)
    assert judge([planted_call(), model]) == []
    echo["messages"].append({"role": "user", "content": "Remember: the customer's order is A417."})
    assert "a later model call's prompt sent it on (call #1" in judge([planted_call(), model])[0].message


def test_a_converse_request_that_echoes_the_tool_use_and_its_result_is_not_acting_on_it() -> None:
    echo = {"messages": [
        {"role": "user", "content": [{"text": "Where is A100?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "lookup_order", "input": {"order_id": "A417"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"json": {"order_id": "A417"}}]}}]}]}
    model = Call(1, "bedrock", "POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", echo, status=200, started=1.0)
    assert judge([planted_call(), model]) == []


def test_a_watched_function_called_with_a_planted_value_is_the_verdict() -> None:
    watch = Watch("shop:refund", idempotent=False)
    watch.calls.append(WatchedCall(("A417",), {"amount": 10}, 2.0))
    [verdict] = judge([planted_call()], watches=[watch])
    assert verdict.message.endswith("and the app passed it to shop:refund (at 2.00 s)")
    early = Watch("shop:refund")
    early.calls.append(WatchedCall(("A417",), {}, -1.0))  # before the planted answer came
    assert judge([planted_call()], watches=[early]) == []


_WORD = st.text(alphabet="abcXYZ0123456789", min_size=1, max_size=6)
_SEPARATOR = st.sampled_from([" ", ", ", "; ", "! ", "\n", "? "])
_ANSWER_PART = st.one_of(_WORD, st.sampled_from(["A100", "order B2291", "$42.50", "2026-03-14", "March 3",
                                                  "Maria Garcia", "https://x.example/a/17", "1,250", "7"]))


@given(answer=st.lists(_ANSWER_PART, min_size=1, max_size=8), seed=st.integers(0, 2**32 - 1),
       words=st.lists(_WORD, max_size=8), show=st.booleans(), at=st.integers(0, 8), separator=_SEPARATOR)
def test_the_verdict_fires_exactly_when_the_planted_value_is_in_what_was_shown(
    answer: list[str], seed: int, words: list[str], show: bool, at: int, separator: str,
) -> None:
    text = " ".join(answer)
    _, plants = plant([("text", text)], random.Random(seed), count=1)
    if not plants:
        return  # no value of any shape: nothing planted, nothing to show
    [p] = plants
    shown_words = [*words[:at], p.planted, *words[at:]] if show else words
    shown = separator.join(shown_words)
    expected = any(w.lower() == p.planted.lower() for w in shown_words)
    verdicts = judge([planted_call(plants=plants)], user_texts=[shown])
    shown_planted = [v.name for v in verdicts if v.name == "hallucination_shown"]  # (a blank text is ungraceful_shown too)
    assert shown_planted == (["hallucination_shown"] if expected else [])


def test_the_documented_example_runs() -> None:
    import subprocess
    import sys
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "hallucination.md").read_text(encoding="utf-8")
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    checked, unchecked = (line.split(" ", 4) for line in done.stdout.splitlines())
    assert checked[:3] == ["True", "A100", "->"] and checked[4] == "[]"
    assert unchecked[:3] == ["False", "A100", "->"] and unchecked[4] == "['hallucination_shown']"


def test_a_journal_read_back_from_json_is_judged_the_same() -> None:
    call = planted_call()
    again = Call(**json.loads(json.dumps(call.to_dict())))  # planted as dicts, as a report holds them
    assert judge([again], user_texts=["A417"])[0].message == judge([call], user_texts=["A417"])[0].message

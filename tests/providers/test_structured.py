"""``chaoskit.structured_reply``: a value whose form on the wire (tool call or JSON text) the request decides.

The decision is checked on its own (``settle``), then through the real SDKs asking in each way a
framework asks: a forced tool, an output format, a tool among others, nothing but the prompt.
The framework recipes (tests/frameworks_env/) check it under the frameworks themselves.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

import anthropic
import openai
import pydantic
import pytest

import chaoskit
from chaoskit import ChaosConfigError, ToolCall, structured_reply
from chaoskit.providers._structured import settle


class Triage(pydantic.BaseModel):
    intent: Literal["refund", "other"]
    urgent: bool = pydantic.Field(alias="isUrgent")


TRIAGED = Triage(intent="refund", isUrgent=True)
DATA = {"intent": "refund", "isUrgent": True}
SCHEMA = {"type": "object", "properties": {"intent": {"type": "string"}, "isUrgent": {"type": "boolean"}},
          "required": ["intent", "isUrgent"]}
LOOKUP = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}


def decide(reply: chaoskit.StructuredReply, *, forced: str | None = None, output: dict[str, Any] | None = None,
           tools: dict[str, dict[str, Any]] | None = None) -> Any:
    tools = tools or {}
    return settle(reply, forced=forced, output=output, tools=tools, offered=list(tools), where="POST /v1/chat/completions")


# ---- the value ------------------------------------------------------------------------------------


def test_a_pydantic_model_is_its_json_data_by_alias() -> None:
    assert structured_reply(TRIAGED).data == DATA


def test_a_dataclass_and_plain_json_data_are_taken_as_they_are() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    assert structured_reply(Point(1, 2)).data == {"x": 1, "y": 2}
    assert structured_reply(["a", "b"]).data == ["a", "b"]


def test_a_value_that_is_not_json_data_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match=r"^structured_reply: value=\{'at': \{1, 2\}\} is not JSON data \(.*\); pass a "
                                         r"pydantic model, a dataclass instance, or dicts and lists of str, int, float, bool and None$"):
        structured_reply({"at": {1, 2}})


def test_an_empty_tool_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^structured_reply: tool='' must be a non-empty string or None$"):
        structured_reply(DATA, tool="")


# ---- the form: the decision order -----------------------------------------------------------------


def test_the_named_tool_wins() -> None:
    reply = structured_reply(DATA, tool="Triage")
    assert decide(reply, forced="other", output=SCHEMA, tools={"Triage": SCHEMA, "other": SCHEMA}) == ToolCall("Triage", DATA)


def test_then_the_tool_the_request_forces() -> None:
    assert decide(structured_reply(DATA), forced="Triage", output=SCHEMA, tools={"Triage": SCHEMA}) == ToolCall("Triage", DATA)


def test_then_json_text_for_an_output_format_even_with_tools_offered() -> None:
    assert decide(structured_reply(DATA), output=SCHEMA, tools={"final_result": SCHEMA}) == json.dumps(DATA, separators=(",", ":"))


def test_then_the_one_offered_tool_the_value_fits() -> None:
    tools = {"lookup_order": LOOKUP, "final_result": SCHEMA}
    assert decide(structured_reply(DATA), tools=tools) == ToolCall("final_result", DATA)


def test_else_json_text() -> None:
    assert decide(structured_reply(DATA), tools={"lookup_order": LOOKUP}) == '{"intent":"refund","isUrgent":true}'
    assert decide(structured_reply("plain")) == '"plain"'


def test_a_value_that_fits_several_tools_needs_a_name() -> None:
    with pytest.raises(ChaosConfigError, match=r"^structured_reply: the value fits the parameters of several tools "
                                               r"POST /v1/chat/completions offers \(\['a', 'b'\]\); say which one to call "
                                               r"with structured_reply\(\.\.\., tool='a'\)$"):
        decide(structured_reply(DATA), tools={"a": SCHEMA, "b": SCHEMA})


def test_a_named_tool_the_request_does_not_offer_is_an_error() -> None:
    with pytest.raises(ChaosConfigError, match=r"^structured_reply\(\.\.\., tool='Triage'\): POST /v1/chat/completions offers "
                                               r"no tool 'Triage', only \['lookup_order'\]; name one of those, or leave "
                                               r"tool= out to let the request decide$"):
        decide(structured_reply(DATA, tool="Triage"), tools={"lookup_order": LOOKUP})


def test_a_value_that_is_not_an_object_goes_inside_a_one_property_schema() -> None:
    wrapped = {"type": "object", "properties": {"response": {"type": "array"}}, "required": ["response"]}
    assert decide(structured_reply(["a", "b"]), output=wrapped) == '{"response":["a","b"]}'
    assert decide(structured_reply(["a"]), tools={"final_result": wrapped}) == ToolCall("final_result", {"response": ["a"]})


def test_a_tool_call_needs_an_object() -> None:
    with pytest.raises(ChaosConfigError, match=r"^structured_reply: a call to the tool 'Triage' POST /v1/chat/completions "
                                               r"takes a JSON object as its arguments, not \[1, 2\]; give a pydantic model, "
                                               r"a dataclass or a dict$"):
        decide(structured_reply([1, 2]), forced="Triage", tools={"Triage": SCHEMA})


# ---- through the SDKs -------------------------------------------------------------------------------


def openai_client() -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", max_retries=0)


def test_openai_response_format_gets_json_text_that_parse_reads(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", structured_reply(TRIAGED))
    done = openai_client().chat.completions.parse(model="gpt-4o-mini", messages=[{"role": "user", "content": "refund"}],
                                                  response_format=Triage)
    assert done.choices[0].message.parsed == TRIAGED


def test_openai_forced_tool_gets_the_call(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", structured_reply(TRIAGED))
    tools: Any = [{"type": "function", "function": {"name": "lookup_order", "parameters": LOOKUP}},
                  {"type": "function", "function": {"name": "Triage", "parameters": SCHEMA}}]
    done = openai_client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "refund"}], tools=tools,
        tool_choice={"type": "function", "function": {"name": "Triage"}})
    [call] = done.choices[0].message.tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == ("Triage", DATA)  # type: ignore[union-attr]


def test_the_responses_api_text_format_gets_json_text(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", structured_reply(TRIAGED))
    done = openai_client().responses.parse(model="gpt-4o-mini", input="refund", text_format=Triage)
    assert done.output_parsed == TRIAGED


def test_anthropic_forced_tool_gets_a_tool_use_block(chaos: chaoskit.Chaos) -> None:
    chaos.reply("anthropic", structured_reply(TRIAGED))
    done = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0).messages.create(
        model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "refund"}],
        tools=[{"name": "Triage", "input_schema": SCHEMA}], tool_choice={"type": "tool", "name": "Triage"})
    [block] = done.content
    assert (block.type, block.name, block.input) == ("tool_use", "Triage", DATA)  # type: ignore[union-attr]


def test_a_structured_json_answer_streams_in_token_sized_pieces(chaos: chaoskit.Chaos) -> None:
    chaos.reply("openai", structured_reply(TRIAGED))
    stream = openai_client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "refund"}], stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "Triage", "schema": SCHEMA}})
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == '{"intent":"refund","isUrgent":true}'
    assert pieces[:3] == ['{"', "intent", '":"']  # so a stream cut can land inside the JSON

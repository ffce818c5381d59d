"""``PROVIDER.model.tool_loop`` and the ``unbounded_loop`` verdict, on the real SDKs.

An agent loop drives each SDK as an app does: ask, run the tools the model calls, send the
results back, ask again. Under the fault the model calls a tool at every step until ``limit``
rounds came back, then answers; the journal's ``turn`` says which user message each request
answers and at which step, and the verdict counts the requests of one turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import boto3
import openai
import pytest
from google import genai
from google.genai import types
from huggingface_hub import InferenceClient
from huggingface_hub.utils import _detect_agent

import chaoskit
from chaoskit import VerdictConfig, tool_call

ORDER = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
SEARCH = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
ANSWER = "Your order A100 has shipped."
QUESTION = "Where is my order A100?"


def openai_chat(rounds: int) -> list[tuple[str, dict[str, Any]]]:
    """Run an agent loop of at most ``rounds`` tool rounds on Chat Completions; the tool calls made."""
    client = openai.OpenAI(api_key="sk-test", max_retries=0)
    tools: Any = [{"type": "function", "function": {"name": n, "parameters": s}} for n, s in (("lookup_order", ORDER), ("search", SEARCH))]
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    made = []
    for _ in range(rounds):
        message = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools).choices[0].message
        if not message.tool_calls:
            break
        messages.append(message.model_dump(exclude_none=True))
        for c in message.tool_calls:
            made.append((c.function.name, json.loads(c.function.arguments)))
            messages.append({"role": "tool", "tool_call_id": c.id, "content": "{}"})
    return made


def openai_responses(rounds: int) -> list[tuple[str, dict[str, Any]]]:
    client = openai.OpenAI(api_key="sk-test", max_retries=0)
    tools: Any = [{"type": "function", "name": n, "parameters": s} for n, s in (("lookup_order", ORDER), ("search", SEARCH))]
    items: list[Any] = [{"role": "user", "content": QUESTION}]
    made = []
    for _ in range(rounds):
        response = client.responses.create(model="gpt-4o-mini", input=items, tools=tools)
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            break
        for c in calls:
            made.append((c.name, json.loads(c.arguments)))
            items += [{"type": "function_call", "call_id": c.call_id, "name": c.name, "arguments": c.arguments},
                      {"type": "function_call_output", "call_id": c.call_id, "output": "{}"}]
    return made


def anthropic_messages(rounds: int) -> list[tuple[str, dict[str, Any]]]:
    client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
    tools: Any = [{"name": n, "input_schema": s} for n, s in (("lookup_order", ORDER), ("search", SEARCH))]
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    made = []
    for _ in range(rounds):
        message = client.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=messages, tools=tools)
        uses = [b for b in message.content if b.type == "tool_use"]
        if not uses:
            break
        made += [(u.name, dict(u.input)) for u in uses]  # type: ignore[call-overload]
        messages.append({"role": "assistant", "content": [b.model_dump() for b in message.content]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": u.id, "content": "{}"} for u in uses]})
    return made


def gemini_contents(rounds: int) -> list[tuple[str, dict[str, Any]]]:
    client = genai.Client(api_key="gemini-test-key")
    tool = types.Tool(function_declarations=[
        types.FunctionDeclaration(name="lookup_order", parameters_json_schema=ORDER),
        types.FunctionDeclaration(name="search", parameters_json_schema=SEARCH),
    ])
    config = types.GenerateContentConfig(tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    contents: list[Any] = [types.Content(role="user", parts=[types.Part(text=QUESTION)])]
    made = []
    for _ in range(rounds):
        response = client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
        calls = response.function_calls or []
        if not calls:
            break
        made += [(str(c.name), dict(c.args or {})) for c in calls]
        contents.append(response.candidates[0].content)  # type: ignore[index]
        contents.append(types.Content(role="user", parts=[types.Part.from_function_response(name=str(c.name), response={}) for c in calls]))
    return made


def bedrock_converse(rounds: int) -> list[tuple[str, dict[str, Any]]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    tools = {"tools": [{"toolSpec": {"name": n, "inputSchema": {"json": s}}} for n, s in (("lookup_order", ORDER), ("search", SEARCH))]}
    messages: list[Any] = [{"role": "user", "content": [{"text": QUESTION}]}]
    made = []
    for _ in range(rounds):
        message = client.converse(modelId="anthropic.claude-3-5-haiku-20241022-v1:0", messages=messages, toolConfig=tools)["output"]["message"]
        uses = [b["toolUse"] for b in message["content"] if "toolUse" in b]
        if not uses:
            break
        made += [(u["name"], u["input"]) for u in uses]
        messages.append(message)
        messages.append({"role": "user", "content": [{"toolResult": {"toolUseId": u["toolUseId"], "content": [{"json": {}}]}} for u in uses]})
    return made


def tgi_chat(rounds: int) -> list[tuple[str, dict[str, Any]]]:
    client = InferenceClient("http://127.0.0.1:8080")  # routed to the tgi profile by the test
    tools: Any = [{"type": "function", "function": {"name": n, "parameters": s}} for n, s in (("lookup_order", ORDER), ("search", SEARCH))]
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    made = []
    for _ in range(rounds):
        message = client.chat_completion(messages, tools=tools).choices[0].message
        if not message.tool_calls:
            break
        calls = [{"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
                 for c in message.tool_calls]
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        for c in message.tool_calls:
            made.append((c.function.name, json.loads(c.function.arguments)))
            messages.append({"role": "tool", "tool_call_id": c.id, "content": "{}"})
    return made


LOOPS: dict[str, tuple[str, Callable[[int], list[tuple[str, dict[str, Any]]]]]] = {
    "openai chat": ("openai", openai_chat),
    "openai responses": ("openai", openai_responses),
    "anthropic": ("anthropic", anthropic_messages),
    "gemini": ("gemini", gemini_contents),
    "bedrock converse": ("bedrock", bedrock_converse),
    "tgi chat": ("tgi", tgi_chat),
}


@pytest.fixture(autouse=True)
def _no_agent_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # huggingface_hub reads the Hub's agent registry once per process: not a model call to count
    monkeypatch.setattr(_detect_agent, "_registry", {"standardEnvVars": [], "harnesses": {}})


def session(provider: str) -> chaoskit.Chaos:
    chaos = chaoskit.Chaos(seed=3)
    if provider == "tgi":  # self-hosted: the test says which server is behind the URL
        chaos.route("http://127.0.0.1:8080", provider="tgi")
    return chaos


@pytest.mark.parametrize("api", sorted(LOOPS))
def test_the_model_calls_the_same_tool_until_the_limit_then_answers(api: str) -> None:
    provider, run = LOOPS[api]
    with session(provider) as chaos:
        chaos.inject(f"{provider}.model.tool_loop", limit=4)
        chaos.reply(provider, tool_call("lookup_order", {"order_id": "A100"}), ANSWER)
        made = run(10)
    assert made == [("lookup_order", {"order_id": "A100"})] * 4
    calls = list(chaos.calls)
    assert [c.fault for c in calls] == [f"{provider}.model.tool_loop"] * 4 + [None]
    assert calls[-1].text == ANSWER  # after limit rounds the model answers
    assert [c.turn.step for c in calls if c.turn] == [0, 1, 2, 3, 4]
    assert len({c.turn.key for c in calls if c.turn}) == 1
    assert calls[2].detail == "tool loop step 3: calls lookup_order with the same arguments"


@pytest.mark.parametrize("api", ["openai chat", "anthropic"])
def test_tools_are_called_in_turn_with_drifting_arguments(api: str) -> None:
    provider, run = LOOPS[api]
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject(f"{provider}.model.tool_loop", tools=["search", "lookup_order"], arguments="drift", limit=4)
        made = run(10)
    # no scripted tool call and no earlier round: the arguments are a value each schema accepts
    assert made == [("search", {"query": "query 1"}), ("lookup_order", {"order_id": "order_id 1"}),
                    ("search", {"query": "query 1 status"}), ("lookup_order", {"order_id": "order_id 1 status"})]
    assert chaos.calls[2].detail == "tool loop step 3: calls search; drifted query: 'query 1' -> 'query 1 status'"


def test_a_streamed_loop_is_a_streamed_tool_call() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("openai.model.tool_loop")
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        tools: Any = [{"type": "function", "function": {"name": "lookup_order", "parameters": ORDER}}]
        with client.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}], tools=tools) as stream:
            final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert (call.function.name, call.function.arguments, final.choices[0].finish_reason) == (
        "lookup_order", '{"order_id":"order_id 1"}', "tool_calls")


def test_a_tool_the_request_does_not_offer_is_a_clear_error() -> None:
    with pytest.raises(chaoskit.ChaosConfigError) as info, chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("openai.model.tool_loop", tools=["refund"])
        openai_chat(1)
    assert str(info.value) == (
        "openai.model.tool_loop: tools=['refund'] names 'refund', which the request does not offer; "
        "it offers 'lookup_order', 'search'"
    )


def test_a_request_without_tools_is_left_alone_and_the_session_says_why() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("openai.model.tool_loop")
        chaos.reply("openai", ANSWER)
        text = openai.OpenAI(api_key="sk-test").chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}]).choices[0].message.content
    assert text == ANSWER
    [(injection, why)] = chaos.unapplied()
    assert why.startswith("it calls one of the request's tools, and no request to openai offered any (or each loop had "
                          "reached its limit of 25 rounds)")


# ---- turns and the verdict ------------------------------------------------------------------------


def test_the_turn_key_is_the_users_message_on_any_provider_and_step_0_starts_a_turn() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.reply("openai", tool_call("lookup_order", {"order_id": "A100"}), ANSWER)
        openai_chat(3)  # step 0, then step 1 with the tool result
        anthropic_messages(1)  # the same question, afresh, on another provider
        openai_chat(1)
    turns = [(c.provider, c.turn.step) for c in chaos.calls if c.turn]
    assert turns == [("openai", 0), ("openai", 1), ("anthropic", 0), ("openai", 0)]
    assert len({c.turn.key for c in chaos.calls if c.turn}) == 1  # one user message, whatever the provider
    assert chaos.verdicts(max_model_calls=2) == []  # three turns: 2, 1 and 1 requests
    [verdict] = chaos.verdicts(max_model_calls=1)
    assert verdict.calls == (0, 1)


def test_unbounded_loop_fires_past_the_bound_with_the_count_and_the_tokens() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("openai.model.tool_loop", limit=12)
        chaos.reply("openai", tool_call("lookup_order", {"order_id": "A100"}), ANSWER)
        openai_chat(20)
    [verdict] = chaos.verdicts()
    used = [c.usage for c in chaos.calls]
    tokens = f"{sum(u.input_tokens or 0 for u in used if u):,} input + {sum(u.output_tokens or 0 for u in used if u):,} output tokens"
    assert verdict.name == "unbounded_loop"
    assert verdict.message == (
        "the app made 13 model requests to answer one user message (calls #0-#12, 12 rounds of tool calls) while "
        f"openai.model.tool_loop kept the model calling tools; max_model_calls=10; they used {tokens}"
    )
    assert verdict.calls == tuple(range(13))
    assert chaos.verdicts(max_model_calls=13) == []
    chaos.verdict_config = VerdictConfig(max_model_calls=13)
    assert chaos.verdicts() == []


def test_a_bounded_loop_meets_no_verdict() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("anthropic.model.tool_loop")
        anthropic_messages(10)  # the app's bound: 10 requests
    assert len(chaos.calls) == 10
    assert chaos.verdicts() == []
    assert [v.name for v in chaos.verdicts(max_model_calls=9)] == ["unbounded_loop"]


def test_retries_of_one_request_count_once() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("openai.server_error", times=2)
        chaos.reply("openai", ANSWER)
        openai.OpenAI(api_key="sk-test", max_retries=2).with_options(timeout=5).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}])
    assert [c.turn.step for c in chaos.calls if c.turn] == [0, 0, 0]
    assert chaos.verdicts(max_model_calls=1) == []


def test_a_bad_threshold_is_a_clear_error() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        with pytest.raises(chaoskit.ChaosConfigError, match=r"^chaos.verdicts\(max_calls=\.\.\.\): no such threshold; the thresholds are: max_attempts, "):
            chaos.verdicts(max_calls=3)
        with pytest.raises(chaoskit.ChaosConfigError, match=r"^chaos.verdicts: max_model_calls=0 must be a whole number, at least 1$"):
            chaos.verdicts(max_model_calls=0)

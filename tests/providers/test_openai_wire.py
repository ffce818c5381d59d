"""OpenAI wire formats, checked by driving the real openai SDK through httpx2.MockTransport."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
from collections.abc import Iterator

import httpx2
import openai
import pytest

from chaoskit._replies import Reply, ToolCall, tool_call
from chaoskit.providers import _openai_wire as wire
from chaoskit.providers._sse import DONE, encode_event
from chaoskit.providers._text import split_json, split_text

TEXT = "Hello there, this is a  simulated reply.\nSecond line!"
ARGS = {"order": "A100", "qty": 2, "note": "rush delivery", "tags": ["x", "y"]}
MESSAGES = [{"role": "user", "content": "Where is my order?"}]


class FakeOpenAI:
    """A request handler serving the wire functions, remembering the request bodies it saw."""

    def __init__(self, reply: Reply = TEXT, finish_reason: str | None = None) -> None:
        self.reply = reply
        self.finish_reason = finish_reason
        self.bodies: list[dict] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        """Route one request to the wire function for its path."""
        body = json.loads(request.content)
        self.bodies.append(body)
        path = request.url.path
        if path.endswith("/chat/completions"):
            return self._chat(body)
        if path.endswith("/responses"):
            return self._responses(body)
        if path.endswith("/embeddings"):
            return httpx2.Response(200, json=wire.embeddings(body))
        return httpx2.Response(404, json=wire.error_body("not found", "invalid_request_error"))

    def _chat(self, body: dict) -> httpx2.Response:
        """A chat completion, streamed or not."""
        kwargs = {"ident": "chatcmpl-test1", "created": 1_700_000_000, "finish_reason": self.finish_reason}
        if body.get("stream"):
            chunks = wire.chat_completion_chunks(body, self.reply, **kwargs)
            return _sse_response([encode_event(c) for c in chunks] + [DONE])
        return httpx2.Response(200, json=wire.chat_completion(body, self.reply, **kwargs))

    def _responses(self, body: dict) -> httpx2.Response:
        """A Responses API response, streamed or not."""
        kwargs = {"ident": "resp_test1", "created": 1_700_000_000}
        if body.get("stream"):
            events = wire.response_events(body, self.reply, **kwargs)
            return _sse_response([encode_event(data, name) for name, data in events])
        return httpx2.Response(200, json=wire.response_object(body, self.reply, **kwargs))


def _sse_response(events: list[bytes]) -> httpx2.Response:
    """An SSE response whose body is the concatenated events."""
    return httpx2.Response(200, content=b"".join(events), headers={"content-type": "text/event-stream"})


def _client(server: FakeOpenAI) -> openai.OpenAI:
    """A real sync OpenAI client whose transport is the fake server."""
    transport = httpx2.MockTransport(server)
    return openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=transport))


def _async_client(server: FakeOpenAI) -> openai.AsyncOpenAI:
    """A real async OpenAI client whose transport is the fake server."""
    transport = httpx2.MockTransport(server)
    return openai.AsyncOpenAI(api_key="sk-test", max_retries=0, http_client=httpx2.AsyncClient(transport=transport))


# --------------------------------------------------------------------------- text helpers and SSE


@pytest.mark.parametrize("text", [TEXT, "one", "  leading and trailing  ", "a\n\nb\tc", "ünïcödé wörds 🙂 ok"])
def test_split_text_concatenates_back_to_the_text(text: str) -> None:
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(pieces)


def test_split_text_is_word_sized() -> None:
    assert split_text("Hello big world") == ["Hello", " big", " world"]
    assert split_text("") == [""]


@pytest.mark.parametrize("hint", [1, 2, 3, 7, 40, 1000])
def test_split_text_pieces_hint(hint: int) -> None:
    pieces = split_text(TEXT, pieces_hint=hint)
    assert "".join(pieces) == TEXT
    assert len(pieces) == min(hint, len(TEXT))


def test_split_json_pieces_concatenate_and_are_several() -> None:
    arguments = json.dumps(ARGS, separators=(",", ":"))
    pieces = split_json(arguments)
    assert "".join(pieces) == arguments
    assert len(pieces) > 5


def test_encode_event_formats() -> None:
    assert encode_event({"a": 1, "b": [1, 2]}) == b'data: {"a":1,"b":[1,2]}\n\n'
    assert encode_event({"type": "x"}, "x") == b'event: x\ndata: {"type":"x"}\n\n'
    assert encode_event("[DONE]") == DONE
    assert encode_event("two\nlines") == b"data: two\ndata: lines\n\n"


def test_error_body_shape_is_parsed_by_the_sdk() -> None:
    body = wire.error_body("Rate limit reached", "requests", None, "rate_limit_exceeded")
    assert body == {
        "error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    transport = httpx2.MockTransport(lambda request: httpx2.Response(429, json=body))
    client = openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=transport))
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.type == "requests"
    assert "Rate limit reached" in info.value.message


# --------------------------------------------------------------------------- chat completions


def test_chat_completion_text() -> None:
    server = FakeOpenAI(TEXT)
    completion = _client(server).chat.completions.create(model="gpt-4o-2024-08-06", messages=MESSAGES)
    assert completion.id == "chatcmpl-test1"
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-2024-08-06"
    assert completion.created == 1_700_000_000
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == TEXT
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len(TEXT) // 4
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.system_fingerprint.startswith("fp_")
    assert completion.service_tier == "default"


def test_chat_completion_tool_call() -> None:
    server = FakeOpenAI(tool_call("lookup_order", ARGS))
    completion = _client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.id.startswith("call_") and len(call.id) > len("call_")
    assert call.function.name == "lookup_order"
    assert json.loads(call.function.arguments) == ARGS


def test_chat_completion_several_tool_calls_keep_given_ids() -> None:
    reply = (tool_call("a", {"x": 1}, id="call_given"), tool_call("b", {"y": [1, 2]}))
    completion = _client(FakeOpenAI(reply)).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    calls = completion.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["a", "b"]
    assert calls[0].id == "call_given"
    assert calls[1].id.startswith("call_") and calls[1].id != "call_given"
    assert [json.loads(c.function.arguments) for c in calls] == [{"x": 1}, {"y": [1, 2]}]


def test_chat_completion_malformed_arguments_are_sent_verbatim() -> None:
    completion = _client(FakeOpenAI(tool_call("f", '{"a": 1'))).chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].message.tool_calls[0].function.arguments == '{"a": 1'


def test_chat_completion_finish_reason_override() -> None:
    completion = _client(FakeOpenAI(TEXT, "length")).chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].finish_reason == "length"


def test_chat_completion_ids_are_deterministic() -> None:
    request = {"model": "m", "messages": MESSAGES}
    first = wire.chat_completion(request, tool_call("f"), ident="chatcmpl-x", created=5)
    again = wire.chat_completion(request, tool_call("f"), ident="chatcmpl-x", created=5)
    other = wire.chat_completion(request, tool_call("f"), ident="chatcmpl-y", created=5)
    call_id = first["choices"][0]["message"]["tool_calls"][0]["id"]
    assert first == again
    assert call_id != other["choices"][0]["message"]["tool_calls"][0]["id"]


def test_chat_stream_deltas_concatenate_to_the_text() -> None:
    server = FakeOpenAI(TEXT)
    stream = _client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == TEXT
    assert len(chunks) >= len(split_text(TEXT)) + 2
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert all(c.usage is None for c in chunks)
    assert {c.id for c in chunks} == {"chatcmpl-test1"}


def test_chat_stream_usage_chunk_only_when_asked() -> None:
    server = FakeOpenAI(TEXT)
    stream = _client(server).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len(TEXT) // 4
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_helper_final_completion() -> None:
    server = FakeOpenAI(TEXT)
    with _client(server).chat.completions.stream(
        model="gpt-4o", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == TEXT
    assert final.choices[0].message.content == TEXT
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.total_tokens > 0


def test_chat_stream_tool_calls_accumulate() -> None:
    reply = (tool_call("lookup_order", ARGS), tool_call("second", {"k": "v" * 30}))
    server = FakeOpenAI(reply)
    stream = _client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    chunks = list(stream)
    argument_deltas = [
        tc.function.arguments for c in chunks for tc in (c.choices[0].delta.tool_calls or []) if tc.index == 0
    ]
    assert len(argument_deltas) > 3
    assert json.loads("".join(argument_deltas)) == ARGS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    with _client(server).chat.completions.stream(model="gpt-4o", messages=MESSAGES) as helper:
        done = [event for event in helper if event.type == "tool_calls.function.arguments.done"]
        final = helper.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["lookup_order", "second"]
    assert json.loads(calls[0].function.arguments) == ARGS
    assert json.loads(calls[1].function.arguments) == {"k": "v" * 30}
    assert calls[0].id.startswith("call_")
    assert [e.name for e in done] == ["lookup_order", "second"]


def test_async_chat_stream() -> None:
    async def run() -> tuple[str, str]:
        client = _async_client(FakeOpenAI(TEXT))
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        async with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as helper:
            final = await helper.get_final_completion()
        return text, final.choices[0].message.content

    assert asyncio.run(run()) == (TEXT, TEXT)


# --------------------------------------------------------------------------- responses


def test_response_object_text() -> None:
    response = _client(FakeOpenAI(TEXT)).responses.create(model="gpt-4.1", input="Where is my order?")
    assert response.id == "resp_test1"
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-4.1"
    assert response.output_text == TEXT
    item = response.output[0]
    assert item.type == "message" and item.role == "assistant" and item.status == "completed"
    assert item.id.startswith("msg_")
    assert response.usage.output_tokens == len(TEXT) // 4
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_response_object_echoes_request_settings() -> None:
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}, "strict": False}]
    response = _client(FakeOpenAI(TEXT)).responses.create(
        model="gpt-4.1", input="hi", instructions="Be brief.", temperature=0.2, tools=tools
    )
    assert response.instructions == "Be brief."
    assert response.temperature == 0.2
    assert response.tools[0].name == "f"
    assert response.parallel_tool_calls is True


def test_response_object_function_calls() -> None:
    reply = (tool_call("lookup_order", ARGS, id="call_mine"), tool_call("other", {"z": None}))
    response = _client(FakeOpenAI(reply)).responses.create(model="gpt-4.1", input="hi")
    assert response.output_text == ""
    first, second = response.output
    assert (first.type, first.name, first.call_id, first.status) == (
        "function_call",
        "lookup_order",
        "call_mine",
        "completed",
    )
    assert json.loads(first.arguments) == ARGS
    assert second.call_id.startswith("call_") and json.loads(second.arguments) == {"z": None}
    assert first.id != second.id


def test_response_events_grammar() -> None:
    events = wire.response_events({"model": "m", "input": "hi"}, TEXT, ident="resp_1", created=3)
    names = [name for name, _ in events]
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(names[4:-4]) == {"response.output_text.delta"}
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert all(data["type"] == name for name, data in events)
    assert events[0][1]["response"]["status"] == "in_progress"
    assert events[-1][1]["response"]["status"] == "completed"


def test_response_stream_helper_text() -> None:
    server = FakeOpenAI(TEXT)
    with _client(server).responses.stream(model="gpt-4.1", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == TEXT
    assert len(deltas) == len(split_text(TEXT))
    assert final.output_text == TEXT
    assert final.status == "completed"
    assert [e.sequence_number for e in events] == sorted(e.sequence_number for e in events)


def test_response_stream_raw_events_parse() -> None:
    stream = _client(FakeOpenAI(TEXT)).responses.create(model="gpt-4.1", input="hi", stream=True)
    events = list(stream)
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == TEXT


def test_response_stream_function_call_accumulates() -> None:
    reply = (tool_call("lookup_order", ARGS), tool_call("other", {"q": "two words"}))
    with _client(FakeOpenAI(reply)).responses.stream(model="gpt-4.1", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta" and e.output_index == 0]
    assert len(deltas) > 3
    assert json.loads("".join(deltas)) == ARGS
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [json.loads(e.arguments) for e in done] == [ARGS, {"q": "two words"}]
    assert [(o.type, o.name) for o in final.output] == [("function_call", "lookup_order"), ("function_call", "other")]
    assert json.loads(final.output[0].arguments) == ARGS


def test_async_response_stream() -> None:
    async def run() -> str:
        client = _async_client(FakeOpenAI(TEXT))
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            async for _ in stream:
                pass
            final = await stream.get_final_response()
        return final.output_text

    assert asyncio.run(run()) == TEXT


# --------------------------------------------------------------------------- embeddings


def _norm(vector: list[float]) -> float:
    """The Euclidean length of a vector."""
    return math.sqrt(sum(x * x for x in vector))


def test_embeddings_base64_default_and_float_agree() -> None:
    server = FakeOpenAI()
    client = _client(server)
    default = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert server.bodies[-1]["encoding_format"] == "base64"
    floats = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float")
    assert server.bodies[-1]["encoding_format"] == "float"
    assert [d.index for d in default.data] == [0, 1]
    assert all(len(d.embedding) == 1536 for d in default.data)
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert default.data[0].embedding != default.data[1].embedding
    assert abs(_norm(default.data[0].embedding) - 1.0) < 1e-5
    assert default.usage.prompt_tokens == default.usage.total_tokens == 2


def test_embeddings_raw_base64_is_little_endian_float32() -> None:
    body = wire.embeddings({"model": "text-embedding-3-small", "input": "x", "encoding_format": "base64"})
    encoded = body["data"][0]["embedding"]
    assert isinstance(encoded, str)
    floats = wire.embeddings({"model": "text-embedding-3-small", "input": "x"})["data"][0]["embedding"]
    assert list(struct.unpack("<1536f", base64.b64decode(encoded))) == floats


def test_embeddings_are_deterministic_across_calls_and_clients() -> None:
    first = _client(FakeOpenAI()).embeddings.create(model="text-embedding-3-small", input="hello")
    second = _client(FakeOpenAI()).embeddings.create(model="text-embedding-3-small", input="hello")
    other = _client(FakeOpenAI()).embeddings.create(model="text-embedding-3-small", input="hello!")
    assert first.data[0].embedding == second.data[0].embedding
    assert first.data[0].embedding != other.data[0].embedding


@pytest.mark.parametrize(
    ("model", "dimensions", "expected"),
    [
        ("text-embedding-3-small", None, 1536),
        ("text-embedding-ada-002", None, 1536),
        ("text-embedding-3-large", None, 3072),
        ("some-other-model", None, 1536),
        ("text-embedding-3-large", 256, 256),
    ],
)
def test_embeddings_dimensions(model: str, dimensions: int | None, expected: int) -> None:
    kwargs = {"dimensions": dimensions} if dimensions else {}
    result = _client(FakeOpenAI()).embeddings.create(model=model, input="text", **kwargs)
    assert result.model == model
    assert len(result.data[0].embedding) == expected
    assert abs(_norm(result.data[0].embedding) - 1.0) < 1e-5


def test_embeddings_token_inputs() -> None:
    client = _client(FakeOpenAI())
    one = client.embeddings.create(model="text-embedding-3-small", input=[1, 2, 3])
    many = client.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3], [4, 5]])
    assert len(one.data) == 1 and len(many.data) == 2
    assert one.data[0].embedding == many.data[0].embedding
    assert many.usage.prompt_tokens == 5


# --------------------------------------------------------------------------- purity


def _walk(value: object) -> Iterator[object]:
    """Every value inside a JSON-like structure."""
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)


@pytest.mark.parametrize("reply", [TEXT, tool_call("f", ARGS), (tool_call("f"), ToolCall("g", "raw"))])
def test_outputs_are_plain_json(reply: Reply) -> None:
    request = {"model": "m", "messages": MESSAGES, "stream_options": {"include_usage": True}}
    outputs = [
        wire.chat_completion(request, reply, ident="a", created=1),
        wire.chat_completion_chunks(request, reply, ident="a", created=1),
        wire.response_object(request, reply, ident="a", created=1),
        wire.response_events(request, reply, ident="a", created=1),
    ]
    for output in outputs:
        json.dumps(output, allow_nan=False)
        assert all(isinstance(v, (dict, list, tuple, str, int, float, bool, type(None))) for v in _walk(output))


def test_chunks_carry_usage_key_only_when_usage_is_asked_for() -> None:
    plain = wire.chat_completion_chunks({"model": "m"}, TEXT, ident="a", created=1)
    asked = wire.chat_completion_chunks(
        {"model": "m", "stream_options": {"include_usage": True}}, TEXT, ident="a", created=1
    )
    assert all("usage" not in chunk for chunk in plain)
    assert [chunk["usage"] is None for chunk in asked] == [True] * (len(asked) - 1) + [False]

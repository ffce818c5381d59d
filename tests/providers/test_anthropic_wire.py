"""Anthropic wire formats, checked by driving the real anthropic SDK through httpx2.MockTransport."""

from __future__ import annotations

import asyncio
import json

import anthropic
import httpx2
import pytest

from chaoskit._replies import Reply, tool_call
from chaoskit.providers import _anthropic_wire as wire
from chaoskit.providers._sse import encode_event
from chaoskit.providers._text import split_text

TEXT = "Hello there, this is a  simulated reply.\nSecond line!"
ARGS = {"order": "A100", "qty": 2, "note": "rush delivery", "tags": ["x", "y"]}
MESSAGES = [{"role": "user", "content": "Where is my order?"}]
MODEL = "claude-sonnet-4-6"


class FakeAnthropic:
    """A request handler serving the wire functions, remembering the request bodies it saw."""

    def __init__(self, reply: Reply = TEXT, stop_reason: str | None = None) -> None:
        self.reply = reply
        self.stop_reason = stop_reason
        self.bodies: list[dict] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        """Serve a message, streamed or not."""
        body = json.loads(request.content)
        self.bodies.append(body)
        if not request.url.path.endswith("/v1/messages"):
            return httpx2.Response(404, json=wire.error_body("not_found_error", "Not found"))
        if body.get("stream"):
            events = wire.message_events(body, self.reply, ident="msg_test1", stop_reason=self.stop_reason)
            content = b"".join(encode_event(data, name) for name, data in events)
            return httpx2.Response(200, content=content, headers={"content-type": "text/event-stream"})
        return httpx2.Response(
            200, json=wire.message(body, self.reply, ident="msg_test1", stop_reason=self.stop_reason)
        )


def _client(server: FakeAnthropic) -> anthropic.Anthropic:
    """A real sync Anthropic client whose transport is the fake server."""
    transport = httpx2.MockTransport(server)
    return anthropic.Anthropic(api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=transport))


def _async_client(server: FakeAnthropic) -> anthropic.AsyncAnthropic:
    """A real async Anthropic client whose transport is the fake server."""
    transport = httpx2.MockTransport(server)
    http_client = httpx2.AsyncClient(transport=transport)
    return anthropic.AsyncAnthropic(api_key="sk-ant-test", max_retries=0, http_client=http_client)


def _create(client: anthropic.Anthropic, **kwargs: object) -> anthropic.types.Message:
    """A non-streamed messages.create call with the test defaults."""
    return client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, **kwargs)


# --------------------------------------------------------------------------- non-streamed


def test_message_text() -> None:
    message = _create(_client(FakeAnthropic(TEXT)))
    assert message.id == "msg_test1"
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == TEXT
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert message.usage.output_tokens == len(TEXT) // 4
    assert message.usage.input_tokens >= 1
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation.ephemeral_5m_input_tokens == 0


def test_message_id_prefix_is_added_when_missing() -> None:
    assert wire.message({"model": "m"}, "x", ident="abc")["id"] == "msg_abc"
    assert wire.message({"model": "m"}, "x", ident="msg_abc")["id"] == "msg_abc"


def test_message_tool_use() -> None:
    message = _create(_client(FakeAnthropic(tool_call("lookup_order", ARGS))))
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use"
    assert block.name == "lookup_order"
    assert block.id.startswith("toolu_") and len(block.id) > len("toolu_")
    assert block.input == ARGS


def test_message_several_tool_uses_keep_given_ids() -> None:
    reply = (tool_call("a", {"x": 1}, id="toolu_given"), tool_call("b", '{"y": [1, 2]}'))
    message = _create(_client(FakeAnthropic(reply)))
    assert [(b.name, b.input) for b in message.content] == [("a", {"x": 1}), ("b", {"y": [1, 2]})]
    assert message.content[0].id == "toolu_given"
    assert message.content[1].id.startswith("toolu_") and message.content[1].id != "toolu_given"


@pytest.mark.parametrize("arguments", ['{"a": 1', "not json", "[1, 2]", '"text"'])
def test_message_tool_use_input_is_empty_for_non_object_arguments(arguments: str) -> None:
    message = _create(_client(FakeAnthropic(tool_call("f", arguments))))
    assert message.content[0].input == {}


def test_message_stop_reason_override() -> None:
    message = _create(_client(FakeAnthropic(TEXT, stop_reason="max_tokens")))
    assert message.stop_reason == "max_tokens"


def test_error_body_shape_is_parsed_by_the_sdk() -> None:
    body = wire.error_body("overloaded_error", "Overloaded", request_id="req_011")
    assert body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": "req_011",
    }
    assert "request_id" not in wire.error_body("api_error", "boom")
    transport = httpx2.MockTransport(lambda request: httpx2.Response(529, json=body, headers={"request-id": "req_011"}))
    client = anthropic.Anthropic(api_key="k", max_retries=0, http_client=httpx2.Client(transport=transport))
    with pytest.raises(anthropic.OverloadedError) as info:
        _create(client)
    assert info.value.status_code == 529
    assert info.value.body == body
    assert info.value.request_id == "req_011"


# --------------------------------------------------------------------------- streamed


def test_message_events_grammar() -> None:
    events = wire.message_events({"model": MODEL, "messages": MESSAGES}, TEXT, ident="msg_1")
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names.count("ping") == 1
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert (start["content"], start["stop_reason"], start["model"]) == ([], None, MODEL)
    assert events[-2][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_raw_stream_text_deltas_concatenate() -> None:
    stream = _client(FakeAnthropic(TEXT)).messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, stream=True)
    events = list(stream)
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(deltas) == TEXT
    assert len(deltas) == len(split_text(TEXT))
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    assert "ping" not in {e.type for e in events}


def test_stream_helper_final_message_and_text_stream() -> None:
    server = FakeAnthropic(TEXT)
    with _client(server).messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == TEXT
    assert final.content[0].text == TEXT
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(TEXT) // 4
    assert final.id == "msg_test1"
    with _client(server).messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as stream:
        assert stream.get_final_text() == TEXT


def test_stream_tool_use_accumulates() -> None:
    reply = (tool_call("lookup_order", ARGS), tool_call("other", {"q": "two words"}))
    server = FakeAnthropic(reply)
    raw = list(_client(server).messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, stream=True))
    pieces = [e.delta.partial_json for e in raw if e.type == "content_block_delta" and e.index == 0]
    assert len(pieces) > 3
    assert json.loads("".join(pieces)) == ARGS
    starts = [e.content_block for e in raw if e.type == "content_block_start"]
    assert [(b.type, b.name, b.input) for b in starts] == [("tool_use", "lookup_order", {}), ("tool_use", "other", {})]

    with _client(server).messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    assert [(b.name, b.input) for b in final.content] == [("lookup_order", ARGS), ("other", {"q": "two words"})]
    assert final.stop_reason == "tool_use"
    assert final.content[0].id == starts[0].id


def test_stream_malformed_arguments_go_out_verbatim() -> None:
    server = FakeAnthropic(tool_call("f", '{"a": 1, oops'))
    raw = list(_client(server).messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, stream=True))
    assert "".join(e.delta.partial_json for e in raw if e.type == "content_block_delta") == '{"a": 1, oops'
    with pytest.raises(ValueError, match="Unable to parse tool parameter JSON"):
        with _client(server).messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as stream:
            stream.get_final_message()


def test_async_stream() -> None:
    async def run() -> tuple[str, str, dict]:
        client = _async_client(FakeAnthropic(TEXT))
        async with client.messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        tools = _async_client(FakeAnthropic(tool_call("f", ARGS)))
        async with tools.messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as stream:
            tool_final = await stream.get_final_message()
        return text, final.content[0].text, tool_final.content[0].input

    assert asyncio.run(run()) == (TEXT, TEXT, ARGS)

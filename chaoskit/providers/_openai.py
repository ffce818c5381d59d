"""The OpenAI profile: Chat Completions, Responses and Embeddings, healthy and broken."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._replies import ToolCall
from . import _openai_wire as wire
from ._conversation import Said, call_of
from ._misbehave import text_of
from ._plan import Plan, Respond
from ._profile import (
    AnswerPart,
    CallRequest,
    Event,
    Profile,
    RenderContext,
    UpstreamAnswer,
    arguments_part,
    text_part,
)
from ._sse import DONE, encode_event
from ._usage import UsageFields, UsageMeter

__all__ = ["OpenAIProfile"]

_CREATED = 1_767_225_600  # 2026-01-01: fixed, so journals and replies are reproducible
_ENDPOINTS = (("/chat/completions", "chat"), ("/responses", "responses"), ("/embeddings", "embeddings"))
#: openai-agents' trace exporter (``BackendSpanExporter`` in agents/tracing/processors.py) posts the
#: spans of every run here from a daemon thread, and at exit; it takes any status below 300 as done.
_TRACES = "/v1/traces/ingest"


class OpenAIProfile(Profile):
    name = "openai"
    hosts = frozenset({"api.openai.com"})
    request_id_header = "x-request-id"
    refuses = True

    def endpoint(self, req: CallRequest) -> str | None:
        if req.method != "POST":
            return None
        for suffix, endpoint in _ENDPOINTS:
            if req.path.endswith(suffix):
                return endpoint
        return None

    def background(self, req: CallRequest) -> Plan | None:
        """openai-agents' trace posts: accepted, with no content."""
        if req.method == "POST" and req.path == _TRACES:
            return [Respond(204, (("x-request-id", "req_chaoskittraces"),))]
        return None

    def base_headers(self, ctx: RenderContext) -> list[tuple[str, str]]:
        return [
            ("x-request-id", f"req_{ctx.ident}"),
            ("openai-processing-ms", "12"),
            ("openai-version", "2020-10-01"),
        ]

    def body(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> dict[str, Any]:
        request = _request(req)
        if endpoint == "embeddings":
            return wire.embeddings(request)
        if endpoint == "responses":
            body = wire.response_object(request, ctx.reply, ident=ctx.ident, created=_CREATED)
            return _incomplete(body, finish) if finish else body
        return wire.chat_completion(request, ctx.reply, ident=ctx.ident, created=_CREATED, finish_reason=finish)

    def events(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> list[Event]:
        request = _request(req)
        if endpoint == "responses":
            out = []
            for name, data in wire.response_events(request, ctx.reply, ident=ctx.ident, created=_CREATED):
                if finish and name == "response.completed":
                    name, data = "response.incomplete", {**data, "type": "response.incomplete", "response": _incomplete(data["response"], finish)}
                delta = data.get("delta") if name == "response.output_text.delta" else ""
                out.append(Event(encode_event(data, event=name), content=name.endswith(".delta"), text=delta or ""))
            return out
        chunks = wire.chat_completion_chunks(request, ctx.reply, ident=ctx.ident, created=_CREATED, finish_reason=finish)
        events = [Event(encode_event(c), content=_has_delta(c), text=_delta_text(c)) for c in chunks]
        events.append(Event(DONE))
        return events

    def live_text(self, endpoint: str, event: str | None, data: Any) -> tuple[bool, str]:
        if not isinstance(data, dict):
            return False, ""
        if endpoint == "responses":
            name = event or str(data.get("type") or "")
            return name.endswith(".delta"), str(data.get("delta") or "") if name == "response.output_text.delta" else ""
        return _has_delta(data), _delta_text(data)

    def live_end(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str,
                 seen: list[tuple[str | None, Any]], text: str) -> list[bytes]:
        if endpoint == "responses":
            raise UpstreamAnswer("chaoskit cannot yet end a real Responses stream with a finish reason")
        # the simulated finish chunk (no usage chunk: the real usage is not known), the real ids
        chunks = wire.chat_completion_chunks(_request(req), text, ident=ctx.ident, created=_CREATED, finish_reason=finish)
        ending = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
        last = next((data for _, data in reversed(seen) if isinstance(data, dict)), {})
        ending.update({k: last[k] for k in _CHUNK_IDS if k in last})
        return [encode_event(ending), DONE]

    def answer_text(self, endpoint: str, body: dict[str, Any]) -> str:
        if endpoint == "responses":
            return "".join(str(part.get("text") or "") for item in body.get("output") or () if item.get("type") == "message"
                           for part in item.get("content") or () if part.get("type") == "output_text")
        if endpoint != "chat":
            raise UpstreamAnswer(f"chaoskit rewrites the answers of chat and responses, not of {endpoint}")
        choices = body.get("choices") or [{}]
        return str((choices[0].get("message") or {}).get("content") or "")

    def answer_parts(self, endpoint: str, body: dict[str, Any]) -> list[AnswerPart]:
        parts: list[AnswerPart] = []
        if endpoint == "responses":
            for item in body.get("output") or ():
                if isinstance(item, dict) and item.get("type") == "message":
                    for part in item.get("content") or ():
                        if isinstance(part, dict) and part.get("type") == "output_text":
                            parts += text_part("text", part, "text")
                elif isinstance(item, dict) and item.get("type") == "function_call":
                    parts += arguments_part(str(item.get("name")), item, "arguments")
            return parts
        if endpoint != "chat":
            raise UpstreamAnswer(f"chaoskit plants values in the answers of chat and responses, not of {endpoint}")
        for choice in body.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if not isinstance(message, dict):
                continue
            parts += text_part("text", message, "content")
            for call in message.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    parts += arguments_part(str(function.get("name")), function, "arguments")
        return parts

    def graft(self, endpoint: str, real: dict[str, Any], simulated: dict[str, Any]) -> None:
        if endpoint == "responses":
            real.update({k: simulated[k] for k in ("output", "status", "incomplete_details")})
            return
        choices = real.get("choices") or [{"index": 0}]
        fresh = simulated["choices"][0]
        real["choices"] = [{**choices[0], "message": fresh["message"], "finish_reason": fresh["finish_reason"]}, *choices[1:]]

    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        return {"error": {"message": "", "type": None, "param": None, "code": None, **error}}

    # ---- what a request asks, and a refusal of it --------------------------------------------------
    def system_prompt(self, req: CallRequest) -> str | None:
        request = _request(req)
        parts = [str(request["instructions"])] if isinstance(request.get("instructions"), str) else []
        parts += [text_of(m.get("content")) for m in _messages(request) if m.get("role") in ("system", "developer")]
        return "\n\n".join(p for p in parts if p) or None

    def conversation(self, req: CallRequest) -> list[Said]:
        request = _request(req)
        if isinstance(request.get("input"), str):
            return [Said("user", str(request["input"]))]
        said: list[Said] = []
        for m in _messages(request):
            kind, role = m.get("type"), m.get("role")
            if kind == "function_call":  # Responses: one item per call; a round's calls are adjacent
                call = call_of(m.get("name"), m.get("arguments"))
                calls: tuple[ToolCall, ...] = (call,) if call else ()
                if said and said[-1].role == "model":
                    said[-1] = Said("model", said[-1].text, said[-1].calls + calls)
                else:
                    said.append(Said("model", "", calls))
            elif kind == "function_call_output" or role in ("tool", "function"):
                said.append(Said("tool"))
            elif role == "assistant":
                calls = tuple(c for t in m.get("tool_calls") or () if isinstance(t, dict)
                              for c in [call_of((t.get("function") or {}).get("name"), (t.get("function") or {}).get("arguments"))] if c)
                said.append(Said("model", text_of(m.get("content")), calls))
            elif role == "user":
                said.append(Said("user", text_of(m.get("content"))))
            elif role in ("system", "developer"):
                said.append(Said("system", text_of(m.get("content"))))
        return said

    def output_schema(self, req: CallRequest) -> tuple[str, dict[str, Any]] | None:
        request = _request(req)
        fmt = request.get("response_format")  # Chat Completions: {"type": "json_schema", "json_schema": {name, schema}}
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
            named = fmt["json_schema"]
        else:  # Responses: {"text": {"format": {"type": "json_schema", name, schema}}}
            text = request.get("text")
            named = text.get("format") if isinstance(text, dict) else None
            if not (isinstance(named, dict) and named.get("type") == "json_schema"):
                return None
        schema = named.get("schema")
        return (f"the response format {named.get('name') or 'schema'!r}", schema) if isinstance(schema, dict) else None

    def tool_schemas(self, req: CallRequest) -> dict[str, dict[str, Any]]:
        out = {}
        for tool in _request(req).get("tools") or []:
            fn = tool.get("function") if isinstance(tool, dict) and isinstance(tool.get("function"), dict) else tool
            if isinstance(fn, dict) and isinstance(fn.get("name"), str) and isinstance(fn.get("parameters"), dict):
                out[fn["name"]] = fn["parameters"]
        return out

    def forced_tool(self, req: CallRequest) -> str | None:
        """Chat Completions' ``{"type": "function", "function": {"name": ...}}``, the Responses API's
        ``{"type": "function", "name": ...}``, or ``"required"`` with one tool offered."""
        choice = _request(req).get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") == "function":
            fn = choice.get("function")
            name = fn.get("name") if isinstance(fn, dict) else choice.get("name")
            return name if isinstance(name, str) else None
        offered = self.offered_tools(req)
        return offered[0] if choice == "required" and len(offered) == 1 else None

    def refusal_body(self, endpoint: str, body: dict[str, Any], text: str) -> None:
        if endpoint == "responses":  # a message whose one content part is {"type": "refusal"}
            for item in body.get("output") or ():
                if item.get("type") == "message":
                    item["content"] = [_refusal_part(text)]
            return
        for choice in body.get("choices") or ():  # content null, the refusal in its own field, a normal stop
            choice["message"].update(content=None, refusal=text)
            choice["message"].pop("tool_calls", None)
            choice["finish_reason"] = "stop"

    def refusal_events(self, endpoint: str, req: CallRequest, ctx: RenderContext, text: str) -> list[Event]:
        request = _request(req)
        if endpoint == "responses":
            out = []
            for _, data in wire.response_events(request, text, ident=ctx.ident, created=_CREATED):
                data = _refusing(data, text)
                name = str(data["type"])
                delta = str(data.get("delta") or "") if name == "response.refusal.delta" else ""
                out.append(Event(encode_event(data, event=name), content=name.endswith(".delta"), text=delta))
            return out
        events = []
        for chunk in wire.chat_completion_chunks(request, text, ident=ctx.ident, created=_CREATED):
            piece = ""
            for choice in chunk["choices"]:
                delta = choice["delta"]
                if "role" in delta:  # the first delta: no content, an empty refusal
                    delta.update(content=None, refusal="")
                elif "content" in delta:
                    delta["refusal"] = delta.pop("content") or ""
                    piece += delta["refusal"]
            events.append(Event(encode_event(chunk), content=bool(piece), text=piece))
        events.append(Event(DONE))
        return events

    def stream_error_event(self, error: Mapping[str, Any], ctx: RenderContext, endpoint: str, sequence: int) -> bytes:
        error = {"message": "The server had an error while processing your request.", "type": "server_error", "param": None, "code": None, **error}
        if endpoint == "responses":  # a typed event: the raw stream yields it, it does not raise
            data = {"type": "error", "code": error.get("code") or error["type"], "message": error["message"],
                    "param": error.get("param"), "sequence_number": sequence}
            return encode_event(data, event="error")
        return encode_event({"error": error})

    def offered_tools(self, req: CallRequest) -> list[str]:
        tools = _request(req).get("tools") or []
        names = []
        for tool in tools:
            if isinstance(tool, dict):
                fn = tool.get("function")
                name = fn.get("name") if isinstance(fn, dict) else tool.get("name")
                if isinstance(name, str):
                    names.append(name)
        return names

    def filtered_finish(self) -> str:
        return "content_filter"

    def length_finish(self) -> str:
        return "length"

    def main_field(self, endpoint: str) -> str:
        return {"chat": "choices", "responses": "output", "embeddings": "data"}[endpoint]

    def null_content(self, endpoint: str, body: dict[str, Any]) -> None:
        _null_content(endpoint, body)

    def usage_meter(self, req: CallRequest) -> UsageMeter | None:
        fields = _USAGE.get(self.endpoint(req) or "")
        return None if fields is None else UsageMeter(fields, "sse" if req.stream else "json")


#: Chat Completions: ``usage`` in the body, and streamed as the last chunk's with
#: ``stream_options.include_usage`` (the chunks before carry ``"usage": null``).
_CHAT_USAGE = UsageFields(at=(("usage",),), input=("prompt_tokens",), output=("completion_tokens",),
                          cached=("prompt_tokens_details", "cached_tokens"))
#: Responses: ``usage`` in the body; streamed, the ``response`` of ``response.completed``.
_RESPONSES_USAGE = UsageFields(at=(("usage",), ("response", "usage")), input=("input_tokens",),
                               output=("output_tokens",), cached=("input_tokens_details", "cached_tokens"))
_USAGE = {"chat": _CHAT_USAGE, "embeddings": _CHAT_USAGE, "responses": _RESPONSES_USAGE}

def _request(req: CallRequest) -> dict[str, Any]:
    data = req.json
    return data if isinstance(data, dict) else {}


def _messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's messages: Chat Completions' ``messages``, or the Responses API's ``input`` items."""
    items = request.get("messages") if isinstance(request.get("messages"), list) else request.get("input")
    return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []


def _refusal_part(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def _refusing(event: dict[str, Any], text: str) -> dict[str, Any]:
    """A Responses stream event for an answer ``text``, made the same event for a refusal of ``text``."""
    kind = event["type"]
    where: dict[str, Any] = {k: event[k] for k in ("item_id", "output_index", "content_index", "sequence_number") if k in event}
    if kind == "response.output_text.delta":
        return {"type": "response.refusal.delta", **where, "delta": event["delta"]}
    if kind == "response.output_text.done":
        return {"type": "response.refusal.done", **where, "refusal": text}
    if kind == "response.content_part.added":
        return {**event, "part": _refusal_part("")}
    if kind == "response.content_part.done":
        return {**event, "part": _refusal_part(text)}
    if kind == "response.output_item.done" and event["item"].get("type") == "message":
        return {**event, "item": {**event["item"], "content": [_refusal_part(text)]}}
    if kind == "response.completed":
        output = [{**item, "content": [_refusal_part(text)]} if item.get("type") == "message" else item
                  for item in event["response"].get("output") or ()]
        return {**event, "response": {**event["response"], "output": output}}
    return event


#: What a real chunk says of its stream, copied onto the finish chunk chaoskit adds.
_CHUNK_IDS = ("id", "created", "model", "system_fingerprint", "service_tier")


def _has_delta(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls"):
            return True
    return False


def _delta_text(chunk: dict[str, Any]) -> str:
    return "".join((c.get("delta") or {}).get("content") or "" for c in chunk.get("choices") or ())


def _incomplete(response: dict[str, Any], finish: str) -> dict[str, Any]:
    reason = "max_output_tokens" if finish == "length" else finish
    return {**response, "status": "incomplete", "incomplete_details": {"reason": reason}}


def _null_content(endpoint: str, body: dict[str, Any]) -> None:
    if endpoint == "chat":
        for choice in body.get("choices") or ():
            choice["message"]["content"] = None
            choice["message"].pop("tool_calls", None)
    elif endpoint == "responses":
        for item in body.get("output") or ():
            for part in item.get("content") or ():
                part["text"] = None
    else:
        for item in body.get("data") or ():
            item["embedding"] = None



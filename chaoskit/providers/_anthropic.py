"""The Anthropic profile: the Messages API, healthy and broken."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _anthropic_wire as wire
from ._conversation import Said, call_of
from ._misbehave import text_of
from ._profile import AnswerPart, CallRequest, Event, Profile, RenderContext, arguments_part, text_part
from ._sse import encode_event
from ._usage import UsageFields, UsageMeter

__all__ = ["AnthropicProfile"]


class AnthropicProfile(Profile):
    name = "anthropic"
    hosts = frozenset({"api.anthropic.com"})
    request_id_header = "request-id"

    def endpoint(self, req: CallRequest) -> str | None:
        if req.method == "POST" and req.path.endswith("/v1/messages"):
            return "messages"
        return None

    def body(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> dict[str, Any]:
        return wire.message(_request(req), ctx.reply, ident=ctx.ident, stop_reason=finish)

    def events(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> list[Event]:
        return [
            Event(encode_event(data, event=name), content=name == "content_block_delta", text=_delta_text(data))
            for name, data in wire.message_events(_request(req), ctx.reply, ident=ctx.ident, stop_reason=finish)
        ]

    def live_text(self, endpoint: str, event: str | None, data: Any) -> tuple[bool, str]:
        if not isinstance(data, dict):
            return False, ""
        name = event or str(data.get("type") or "")
        return name == "content_block_delta", _delta_text(data)

    def live_end(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str,
                 seen: list[tuple[str | None, Any]], text: str) -> list[bytes]:
        # the open content block closed, then the simulated message_delta and message_stop
        ending = wire.message_events(_request(req), text, ident=ctx.ident, stop_reason=finish)[-2:]
        opened: int | None = None
        for name, data in seen:
            kind = name or (data.get("type") if isinstance(data, dict) else None)
            if kind in ("content_block_start", "content_block_stop"):
                opened = data.get("index", 0) if kind == "content_block_start" else None
        if opened is not None:
            ending.insert(0, ("content_block_stop", {"type": "content_block_stop", "index": opened}))
        return [encode_event(data, event=name) for name, data in ending]

    def answer_text(self, endpoint: str, body: dict[str, Any]) -> str:
        return "".join(str(b.get("text") or "") for b in body.get("content") or () if isinstance(b, dict) and b.get("type") == "text")

    def answer_parts(self, endpoint: str, body: dict[str, Any]) -> list[AnswerPart]:
        parts: list[AnswerPart] = []
        for block in body.get("content") or ():
            if isinstance(block, dict) and block.get("type") == "text":
                parts += text_part("text", block, "text")
            elif isinstance(block, dict) and block.get("type") == "tool_use":
                parts += arguments_part(str(block.get("name")), block, "input")
        return parts

    def graft(self, endpoint: str, real: dict[str, Any], simulated: dict[str, Any]) -> None:
        real.update({k: simulated[k] for k in ("content", "stop_reason", "stop_sequence")})

    def system_prompt(self, req: CallRequest) -> str | None:
        return text_of(_request(req).get("system")) or None

    def conversation(self, req: CallRequest) -> list[Said]:
        said: list[Said] = []
        for m in _request(req).get("messages") or ():
            if not isinstance(m, dict):
                continue
            content = m.get("content")
            blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
            if m.get("role") == "assistant":
                calls = tuple(c for b in blocks if b.get("type") == "tool_use" for c in [call_of(b.get("name"), b.get("input"))] if c)
                said.append(Said("model", text_of(content), calls))
            elif m.get("role") == "user":  # tool results come back in a user message
                tool = any(b.get("type") == "tool_result" for b in blocks)
                said.append(Said("tool") if tool else Said("user", text_of(content)))
        return said

    def output_schema(self, req: CallRequest) -> tuple[str, dict[str, Any]] | None:
        request = _request(req)
        config = request.get("output_config")  # messages.parse(output_format=Model) sends output_config.format
        fmt = config.get("format") if isinstance(config, dict) else request.get("output_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
            return "the output format", fmt["schema"]
        return None

    def tool_schemas(self, req: CallRequest) -> dict[str, dict[str, Any]]:
        return {t["name"]: t["input_schema"] for t in _request(req).get("tools") or ()
                if isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("input_schema"), dict)}

    def forced_tool(self, req: CallRequest) -> str | None:
        """``tool_choice`` ``{"type": "tool", "name": ...}``, or ``{"type": "any"}`` with one tool offered."""
        choice = _request(req).get("tool_choice")
        if not isinstance(choice, dict):
            return None
        if choice.get("type") == "tool" and isinstance(choice.get("name"), str):
            return str(choice["name"])
        offered = self.offered_tools(req)
        return offered[0] if choice.get("type") == "any" and len(offered) == 1 else None

    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        return {"type": "error", "error": {"type": "api_error", "message": "", **error}, "request_id": f"req_{ctx.ident}"}

    def stream_error_event(self, error: Mapping[str, Any], ctx: RenderContext, endpoint: str, sequence: int) -> bytes:
        error = {"type": "overloaded_error", "message": "Overloaded", **error}
        return encode_event({"type": "error", "error": error}, event="error")

    def offered_tools(self, req: CallRequest) -> list[str]:
        tools = _request(req).get("tools") or []
        return [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]

    def filtered_finish(self) -> str:
        return "refusal"

    def length_finish(self) -> str:
        return "max_tokens"

    def main_field(self, endpoint: str) -> str:
        return "content"

    def null_content(self, endpoint: str, body: dict[str, Any]) -> None:
        body["content"] = None

    def usage_meter(self, req: CallRequest) -> UsageMeter | None:
        return UsageMeter(USAGE, "sse" if req.stream else "json") if self.endpoint(req) else None


#: Messages: ``usage`` in the body; streamed, ``message_start``'s ``message.usage``, then
#: ``message_delta``'s ``usage`` with the final counts (merged: its fields win).
USAGE = UsageFields(at=(("usage",), ("message", "usage")), input=("input_tokens",), output=("output_tokens",),
                    cached=("cache_read_input_tokens",))

def _request(req: CallRequest) -> dict[str, Any]:
    data = req.json
    return data if isinstance(data, dict) else {}


def _delta_text(data: dict[str, Any]) -> str:
    delta = data.get("delta")
    return str(delta.get("text") or "") if isinstance(delta, dict) and delta.get("type") == "text_delta" else ""

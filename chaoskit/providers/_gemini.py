"""The Gemini profile: the Gemini API's ``generateContent`` on generativelanguage.googleapis.com.

``google-genai`` (``genai.Client(api_key=...)``) sends sync calls through httpx2 and
``client.aio`` calls through aiohttp when it is installed (else, or given an
``httpx_async_client``, through httpx2); the HTTP and aiohttp seams see both. It posts to
``/{version}/models/MODEL:generateContent`` and, streamed, to
``/{version}/models/MODEL:streamGenerateContent?alt=sse`` (version ``v1`` by default in
google-genai 3.x, ``v1beta`` with ``GOOGLE_GENAI_API_VERSION=beta``; both are served). The
stream is chosen by the path, not by the body, and the model is named in the path.

Errors are Google's envelope ``{"error": {"code", "message", "status", "details"?}}``. The SDK
(``google/genai/errors.py::APIError.raise_error``) picks ``ClientError`` for 4xx and
``ServerError`` for 5xx by the HTTP status, which is also ``e.code``; ``e.status``,
``e.message`` and ``e.details`` (the whole body) come from the envelope. A catalog fault's
``error`` gives ``status``, ``message`` and ``details``; the envelope's ``code`` is the HTTP
status unless the fault says otherwise. Mid-stream, an error is a ``data: {"error": {...}}``
chunk: the SDK raises the class its ``code`` names, after the chunks before it. Gemini sends no
request-id header: a response is identified by its body's ``responseId``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._fault import Fault
from . import _gemini_wire as wire
from ._conversation import Said, call_of
from ._misbehave import text_of
from ._plan import Plan
from ._profile import (
    JSON,
    SSE,
    AnswerPart,
    CallRequest,
    Event,
    Profile,
    RenderContext,
    arguments_part,
    text_part,
)
from ._sse import encode_event
from ._text import substitute
from ._usage import UsageFields, UsageMeter

__all__ = ["GeminiProfile"]

_METHODS = {":generateContent": False, ":streamGenerateContent": True}


class GeminiProfile(Profile):
    name = "gemini"
    hosts = frozenset({"generativelanguage.googleapis.com"})
    request_id_header = ""  # none: base_headers is overridden

    def endpoint(self, req: CallRequest) -> str | None:
        """``generate`` for ``models/MODEL:generateContent`` and ``:streamGenerateContent``."""
        if req.method != "POST" or "/models/" not in req.path and "/tunedModels/" not in req.path:
            return None
        for suffix, stream in _METHODS.items():
            if req.path.endswith(suffix):
                # The method streams whatever the body says; CallRequest only reads "stream".
                req.stream = stream
                return "generate"
        return None

    def base_headers(self, ctx: RenderContext) -> list[tuple[str, str]]:
        return [
            ("vary", "Origin, X-Origin, Referer"),
            ("server", "scaffolding on HTTPServer2"),
            ("x-xss-protection", "0"),
            ("x-frame-options", "SAMEORIGIN"),
            ("x-content-type-options", "nosniff"),
            ("server-timing", "gfet4t7; dur=412"),
        ]

    def _headers(self, ctx: RenderContext, content_type: str, extra: Mapping[str, Any] | None = None) -> tuple[tuple[str, str], ...]:
        # Google's front end names the charset on JSON, and sends SSE as plain text/event-stream.
        content_type = {JSON: "application/json; charset=UTF-8", SSE: "text/event-stream"}.get(content_type, content_type)
        return super()._headers(ctx, content_type, extra)

    # ---- healthy -----------------------------------------------------------------------------
    def body(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> dict[str, Any]:
        return wire.response(_request(req), ctx.reply, model=_model(req), ident=ctx.ident, finish=finish, blocked=_BLOCKED)

    def events(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> list[Event]:
        chunks = wire.chunks(_request(req), ctx.reply, model=_model(req), ident=ctx.ident, finish=finish, blocked=_BLOCKED)
        return [Event(encode_event(c), content=_has_output(c), text=_chunk_text(c)) for c in chunks]

    def main_field(self, endpoint: str) -> str:
        return "candidates"

    def null_content(self, endpoint: str, body: dict[str, Any]) -> None:
        # What Gemini sends when it answers nothing: a content with a role and no parts.
        for candidate in body.get("candidates") or []:
            candidate["content"] = {"role": "model"}

    def offered_tools(self, req: CallRequest) -> list[str]:
        names = []
        for tool in _request(req).get("tools") or []:
            if not isinstance(tool, dict):
                continue
            for declaration in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
                if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
                    names.append(declaration["name"])
        return names

    def filtered_finish(self) -> str:
        return wire.SAFETY

    def length_finish(self) -> str:
        return wire.MAX_TOKENS

    def model_of(self, req: CallRequest) -> str | None:
        return _model(req)  # named in the path: models/MODEL:generateContent

    def usage_meter(self, req: CallRequest) -> UsageMeter | None:
        return UsageMeter(_USAGE, "sse" if req.stream else "json") if self.endpoint(req) else None

    # ---- what a request asks -------------------------------------------------------------------
    def system_prompt(self, req: CallRequest) -> str | None:
        request = _request(req)
        instruction = request.get("systemInstruction") or request.get("system_instruction")
        return text_of(instruction.get("parts")) if isinstance(instruction, dict) else None

    def conversation(self, req: CallRequest) -> list[Said]:
        said: list[Said] = []
        for c in _request(req).get("contents") or ():
            if not isinstance(c, dict):
                continue
            parts = [p for p in c.get("parts") or () if isinstance(p, dict)]
            if c.get("role") == "model":
                calls = tuple(call for p in parts for fn in [p.get("functionCall") or p.get("function_call")]
                              if isinstance(fn, dict) for call in [call_of(fn.get("name"), fn.get("args"))] if call)
                said.append(Said("model", text_of(parts), calls))
            elif c.get("role") == "function" or any("functionResponse" in p or "function_response" in p for p in parts):
                said.append(Said("tool"))
            else:
                said.append(Said("user", text_of(parts)))
        return said

    def output_schema(self, req: CallRequest) -> tuple[str, dict[str, Any]] | None:
        config = _request(req).get("generationConfig") or _request(req).get("generation_config")
        if not isinstance(config, dict):
            return None
        for key in ("responseJsonSchema", "response_json_schema", "responseSchema", "response_schema"):
            if isinstance(config.get(key), dict):
                return f"the {key}", config[key]
        return None

    def tool_schemas(self, req: CallRequest) -> dict[str, dict[str, Any]]:
        out = {}
        for tool in _request(req).get("tools") or []:
            for fn in (tool.get("functionDeclarations") or tool.get("function_declarations") or []) if isinstance(tool, dict) else []:
                schema = fn.get("parametersJsonSchema") or fn.get("parameters") if isinstance(fn, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("name"), str) and isinstance(schema, dict):
                    out[fn["name"]] = schema
        return out

    # ---- on a real server's answer ----------------------------------------------------------
    def live_text(self, endpoint: str, event: str | None, data: Any) -> tuple[bool, str]:
        if not isinstance(data, dict):
            return False, ""
        return _has_output(data), _chunk_text(data)

    def live_end(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str,
                 seen: list[tuple[str | None, Any]], text: str) -> list[bytes]:
        # the simulated finish chunk, with the real stream's response id and model version
        ending = wire.chunks(_request(req), text, model=_model(req), ident=ctx.ident, finish=finish, blocked=_BLOCKED)[-1]
        last = next((data for _, data in reversed(seen) if isinstance(data, dict)), {})
        ending.update({k: last[k] for k in ("modelVersion", "responseId") if k in last})
        return [encode_event(ending)]

    def answer_text(self, endpoint: str, body: dict[str, Any]) -> str:
        return _chunk_text(body)

    def answer_parts(self, endpoint: str, body: dict[str, Any]) -> list[AnswerPart]:
        parts: list[AnswerPart] = []
        for candidate in body.get("candidates") or ():
            content = candidate.get("content") if isinstance(candidate, dict) else None
            for part in (content.get("parts") or ()) if isinstance(content, dict) else ():
                if not isinstance(part, dict):
                    continue
                parts += text_part("text", part, "text")
                call = part.get("functionCall")
                if isinstance(call, dict):
                    parts += arguments_part(str(call.get("name")), call, "args")
        return parts

    def graft(self, endpoint: str, real: dict[str, Any], simulated: dict[str, Any]) -> None:
        real["candidates"] = simulated["candidates"]

    # ---- broken ------------------------------------------------------------------------------
    def render(self, fault: Fault, req: CallRequest, ctx: RenderContext) -> Plan:
        block_reason = fault.params.get("block_reason")
        if fault.effect == "content_filter" and block_reason:
            return self._blocked_prompt(str(block_reason), req, ctx)
        return super().render(fault, req, ctx)

    def _blocked_prompt(self, reason: str, req: CallRequest, ctx: RenderContext) -> Plan:
        """A prompt the filter blocked: a 200 with ``promptFeedback`` and no candidates (streamed: one chunk)."""
        ctx.text = ""
        body = wire.blocked_prompt(_request(req), model=_model(req), ident=ctx.ident, reason=reason, blocked=_BLOCKED)
        if req.stream:
            return self._stream_plan([Event(encode_event(body))], ctx)
        return self._json_plan(200, body, ctx)

    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        return {"error": {"code": 500, "message": "", "status": "INTERNAL", **error}}

    def stream_error_event(self, error: Mapping[str, Any], ctx: RenderContext, endpoint: str, sequence: int) -> bytes:
        return encode_event({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE", **error}})

    def _status_plan(self, p: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> Plan:
        # The error's code is the HTTP status; the model ("{model}" in a message) is in the path.
        if p.get("body") is None:
            error = substitute(dict(p.get("error") or {}), "{model}", _model(req))
            p = {**p, "error": {"code": int(p["status"]), **error}}
        return super()._status_plan(p, req, ctx)


#: ``usageMetadata`` in the body and in every streamed chunk (the last one has the final counts).
_USAGE = UsageFields(at=(("usageMetadata",),), input=("promptTokenCount",), output=("candidatesTokenCount",),
                     cached=("cachedContentTokenCount",))

#: The category a SAFETY finish says it blocked.
_BLOCKED = "HARM_CATEGORY_DANGEROUS_CONTENT"


def _request(req: CallRequest) -> dict[str, Any]:
    data = req.json
    return data if isinstance(data, dict) else {}


def _model(req: CallRequest) -> str:
    return wire.model_from_path(req.path)


def _parts(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    candidates = chunk.get("candidates") or [{}]
    return list((candidates[0].get("content") or {}).get("parts") or [])


def _has_output(chunk: dict[str, Any]) -> bool:
    return any(part.get("text") or "functionCall" in part for part in _parts(chunk))


def _chunk_text(chunk: dict[str, Any]) -> str:
    return "".join(str(part.get("text") or "") for part in _parts(chunk))



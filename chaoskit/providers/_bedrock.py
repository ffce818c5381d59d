"""The Amazon Bedrock Runtime profile: Converse, ConverseStream, InvokeModel and its stream.

boto3's ``bedrock-runtime`` client posts to ``https://bedrock-runtime.REGION.amazonaws.com``
(``-fips``, dual-stack ``api.aws``, China ``amazonaws.com.cn`` and VPC endpoints alike):
``/model/{modelId}/converse``, ``/converse-stream``, ``/invoke`` and
``/invoke-with-response-stream``. botocore does not send through httpx: the botocore seam
(:mod:`chaoskit.seams._botocore`) hands these requests to the session, which renders them
with this profile.

Errors are rest-json: the code in ``x-amzn-ErrorType`` (``ThrottlingException:http://...``),
the message in ``{"message": ...}``, the request id in ``x-amzn-RequestId``; botocore builds
``client.exceptions.<Code>`` from them and its standard retry mode decides on the code and
status. A catalog fault's ``error`` says ``type`` (the code) and ``message``; further keys
(``originalStatusCode``) go into the body. Streams are ``application/vnd.amazon.eventstream``
binary frames (:mod:`._eventstream`); an in-stream error is an ``exception`` frame whose
``:exception-type`` is the lower-camel member name (``throttlingException``), which botocore
raises as ``EventStreamError`` while the app iterates the stream.

InvokeModel bodies are the model's own format: chaoskit simulates Anthropic models (the
Messages API); other models' invoke routes get faults but no healthy answer.

What a request asks (for the ``model.*`` faults and the journal's turn) is read from Converse's
shapes: ``system`` and ``messages`` content blocks (``text``, ``toolUse``, ``toolResult``),
``toolConfig.tools[].toolSpec.inputSchema.json`` and ``outputConfig.textFormat``'s JSON schema
(a string); from an InvokeModel body, as the Anthropic profile reads the Messages API. A real
server's unary answer (pass-through) is read and rewritten the same way; its event streams are
relayed untouched (chaoskit does not yet read event-stream frames of a real server).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from . import _bedrock_wire as wire
from ._anthropic import AnthropicProfile
from ._conversation import Said, call_of
from ._eventstream import CONTENT_TYPE, encode_event, encode_exception
from ._misbehave import text_of
from ._plan import Plan
from ._profile import (
    SSE,
    AnswerPart,
    CallRequest,
    Event,
    Profile,
    RenderContext,
    UpstreamAnswer,
    arguments_part,
    text_part,
)
from ._text import substitute
from ._usage import UsageFields, UsageMeter

__all__ = ["BedrockProfile"]

_OPERATIONS = {
    "converse": "converse",
    "converse-stream": "converse_stream",
    "invoke": "invoke",
    "invoke-with-response-stream": "invoke_stream",
}
_STREAMS = frozenset({"converse_stream", "invoke_stream"})
_PATH = re.compile(r"/model/(?P<model>[^/]+)/(?P<operation>[a-z-]+)")
#: How AWS's Coral services qualify an error code in ``x-amzn-ErrorType``.
_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
#: Bedrock Runtime hosts: bedrock-runtime[-fips].REGION.<partition suffix>, optionally behind
#: a VPC endpoint (vpce-ID.bedrock-runtime.REGION.vpce.amazonaws.com).
_HOST = re.compile(r"(?:[a-z0-9-]+\.)?bedrock-runtime(?:-fips)?\.[a-z]{2,4}(?:-[a-z]+)+-\d+\.[a-z0-9.-]+")
_UUID_NAMESPACE = uuid.UUID("6f0c3bd6-2c0e-4b8e-9d55-3a0f4c7b1e21")


class _RegionalHosts(frozenset[str]):
    """The hosts of every region and partition, as a set ``for_host`` can test with ``in``."""

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str) and _HOST.fullmatch(host.lower()) is not None


class BedrockProfile(Profile):
    name = "bedrock"
    hosts: ClassVar[frozenset[str]] = _RegionalHosts()
    request_id_header = "x-amzn-requestid"

    def endpoint(self, req: CallRequest) -> str | None:
        """``converse``, ``converse_stream``, ``invoke``, ``invoke_stream`` (Anthropic models), or None."""
        found = _operation(req)
        if found is None or req.method != "POST":
            return None
        model, endpoint = found
        req.stream = endpoint in _STREAMS  # the route streams, whatever the body says
        if endpoint.startswith("invoke") and "anthropic." not in model:
            return None
        return endpoint

    def base_headers(self, ctx: RenderContext) -> list[tuple[str, str]]:
        return [("x-amzn-requestid", str(uuid.uuid5(_UUID_NAMESPACE, ctx.ident)))]

    def _headers(self, ctx: RenderContext, content_type: str, extra: Mapping[str, Any] | None = None) -> tuple[tuple[str, str], ...]:
        if content_type == SSE:  # the base class's stream content type: Bedrock streams event-stream frames
            extra = {"x-amzn-bedrock-content-type": "application/json", **(extra or {})}
            content_type = CONTENT_TYPE
        return super()._headers(ctx, content_type, extra)

    # ---- healthy -----------------------------------------------------------------------------
    def body(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> dict[str, Any]:
        if endpoint.startswith("invoke"):
            return wire.invoke(_request(req), _model(req), ctx.reply, ident=ctx.ident, stop_reason=_anthropic_finish(finish))
        return wire.converse(_request(req), ctx.reply, ident=ctx.ident, stop_reason=finish)

    def events(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> list[Event]:
        if endpoint == "invoke_stream":
            chunks = wire.invoke_events(_request(req), _model(req), ctx.reply, ident=ctx.ident, stop_reason=_anthropic_finish(finish))
            return [Event(encode_event("chunk", data), content=bool(text), text=text) for data, text in chunks]
        return [
            Event(encode_event(name, data), content=name == "contentBlockDelta", text=_delta_text(data))
            for name, data in wire.converse_events(_request(req), ctx.reply, ident=ctx.ident, stop_reason=finish)
        ]

    def offered_tools(self, req: CallRequest) -> list[str]:
        request = _request(req)
        if "toolConfig" in request:
            return wire.offered_tools(request)
        tools = request.get("tools") or []  # an Anthropic InvokeModel body
        return [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]

    def filtered_finish(self) -> str:
        return "content_filtered"

    def length_finish(self) -> str:
        return "max_tokens"

    def main_field(self, endpoint: str) -> str:
        return "content" if endpoint.startswith("invoke") else "output"

    def null_content(self, endpoint: str, body: dict[str, Any]) -> None:
        if endpoint.startswith("invoke"):
            body["content"] = None
            return
        for block in body["output"]["message"]["content"]:
            block.pop("toolUse", None)
            block["text"] = None

    def model_of(self, req: CallRequest) -> str | None:
        found = _operation(req)  # the model id is in the path: /model/{modelId}/converse
        return found[0] if found else None

    def usage_meter(self, req: CallRequest) -> UsageMeter | None:
        """Converse's ``usage``, ConverseStream's ``metadata`` event, InvokeModel's Anthropic body.
        Not InvokeModelWithResponseStream: its events are base64 Anthropic events, not read here."""
        endpoint = self.endpoint(req)
        if endpoint == "converse":
            return UsageMeter(_USAGE, "json")
        if endpoint == "converse_stream":
            return UsageMeter(_USAGE, "eventstream")
        if endpoint == "invoke":
            from ._anthropic import USAGE

            return UsageMeter(USAGE, "json")
        return None

    # ---- what a request asks (InvokeModel: an Anthropic Messages body) ----------------------
    def system_prompt(self, req: CallRequest) -> str | None:
        if _invoked(req):
            return _ANTHROPIC.system_prompt(req)
        return text_of(_request(req).get("system")) or None

    def conversation(self, req: CallRequest) -> list[Said]:
        if _invoked(req):
            return _ANTHROPIC.conversation(req)
        said: list[Said] = []
        for m in _request(req).get("messages") or ():
            if not isinstance(m, dict):
                continue
            blocks = [b for b in m.get("content") or () if isinstance(b, dict)]
            if m.get("role") == "assistant":
                uses = [b["toolUse"] for b in blocks if isinstance(b.get("toolUse"), dict)]
                calls = tuple(c for u in uses for c in [call_of(u.get("name"), u.get("input"))] if c)
                said.append(Said("model", text_of(blocks), calls))
            elif m.get("role") == "user":  # tool results come back in a user message
                tool = any("toolResult" in b for b in blocks)
                said.append(Said("tool") if tool else Said("user", text_of(blocks)))
        return said

    def output_schema(self, req: CallRequest) -> tuple[str, dict[str, Any]] | None:
        if _invoked(req):
            return _ANTHROPIC.output_schema(req)
        config = _request(req).get("outputConfig")
        fmt = config.get("textFormat") if isinstance(config, dict) else None
        structure = fmt.get("structure") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None
        named = structure.get("jsonSchema") if isinstance(structure, dict) else None
        if not isinstance(named, dict):
            return None
        schema = named.get("schema")
        if isinstance(schema, str):  # a JSON document in a string, as botocore sends it
            try:
                schema = json.loads(schema)
            except ValueError:
                return None
        return (f"the output format {named.get('name') or 'schema'!r}", schema) if isinstance(schema, dict) else None

    def tool_schemas(self, req: CallRequest) -> dict[str, dict[str, Any]]:
        if _invoked(req):
            return _ANTHROPIC.tool_schemas(req)
        out = {}
        for tool in (_request(req).get("toolConfig") or {}).get("tools") or ():
            spec = tool.get("toolSpec") if isinstance(tool, dict) else None
            schema = (spec.get("inputSchema") or {}).get("json") if isinstance(spec, dict) else None
            if isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(schema, dict):
                out[spec["name"]] = schema
        return out

    # ---- a real server's unary answer (pass-through) -------------------------------------------
    def answer_text(self, endpoint: str, body: dict[str, Any]) -> str:
        if endpoint == "invoke":
            return _ANTHROPIC.answer_text(endpoint, body)
        return "".join(str(b.get("text") or "") for b in _converse_content(endpoint, body) if isinstance(b, dict))

    def answer_parts(self, endpoint: str, body: dict[str, Any]) -> list[AnswerPart]:
        if endpoint == "invoke":
            return _ANTHROPIC.answer_parts(endpoint, body)
        parts: list[AnswerPart] = []
        for block in _converse_content(endpoint, body):
            if isinstance(block, dict):
                parts += text_part("text", block, "text")
                use = block.get("toolUse")
                if isinstance(use, dict):
                    parts += arguments_part(str(use.get("name")), use, "input")
        return parts

    def graft(self, endpoint: str, real: dict[str, Any], simulated: dict[str, Any]) -> None:
        if endpoint == "invoke":
            _ANTHROPIC.graft(endpoint, real, simulated)
            return
        real.update({k: simulated[k] for k in ("output", "stopReason")})  # its usage and metrics stay the real ones

    # ---- errors ------------------------------------------------------------------------------
    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        return {"message": "", **{k: v for k, v in error.items() if k != "type"}}

    def stream_error_event(self, error: Mapping[str, Any], ctx: RenderContext, endpoint: str, sequence: int) -> bytes:
        kind = str(error.get("type") or "internalServerException")
        return encode_exception(kind, {"message": "", **{k: v for k, v in error.items() if k != "type"}})

    def _status_plan(self, p: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> Plan:
        found = _operation(req)
        if found is not None:
            p = substitute(p, "{model}", found[0])  # the model is in the URL, not the body
        kind = (p.get("error") or {}).get("type")
        if kind and p.get("body") is None:
            p = {**p, "headers": {"x-amzn-errortype": f"{kind}:{_ERROR_NAMESPACE}", **(p.get("headers") or {})}}
        return super()._status_plan(p, req, ctx)


#: Converse's ``usage``, in the body or in ConverseStream's ``metadata`` event.
_USAGE = UsageFields(at=(("usage",),), input=("inputTokens",), output=("outputTokens",), cached=("cacheReadInputTokens",))


def _operation(req: CallRequest) -> tuple[str, str] | None:
    """(model id, endpoint) from the raw path, where the model id is percent-encoded."""
    match = _PATH.fullmatch(urlsplit(req.url).path)
    if match is None or match["operation"] not in _OPERATIONS:
        return None
    return unquote(match["model"]), _OPERATIONS[match["operation"]]


#: Reads an InvokeModel body, which is the Anthropic Messages API's.
_ANTHROPIC = AnthropicProfile()


def _invoked(req: CallRequest) -> bool:
    """Whether ``req`` is an InvokeModel call (its body the model's own format) rather than Converse."""
    found = _operation(req)
    return found is not None and found[1].startswith("invoke")


def _converse_content(endpoint: str, body: dict[str, Any]) -> list[Any]:
    """The content blocks of a real ``ConverseResponse``; streams are not read (see the module docstring)."""
    if endpoint != "converse":
        raise UpstreamAnswer(f"chaoskit rewrites Bedrock's unary answers (Converse, InvokeModel), not its {endpoint} event stream")
    message = (body.get("output") or {}).get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, list) else []


def _model(req: CallRequest) -> str:
    found = _operation(req)
    return found[0] if found else "anthropic.claude-sonnet-4-5-20250929-v1:0"


def _request(req: CallRequest) -> dict[str, Any]:
    data = req.json
    return data if isinstance(data, dict) else {}


def _anthropic_finish(finish: str | None) -> str | None:
    """A Converse stop reason as an Anthropic model says it on InvokeModel."""
    return {"content_filtered": "refusal"}.get(finish or "", finish)


def _delta_text(data: dict[str, Any]) -> str:
    delta = data.get("delta")
    return str(delta.get("text") or "") if isinstance(delta, dict) else ""


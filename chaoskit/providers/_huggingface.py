"""Hugging Face inference and self-hosted TGI: the OpenAI chat wire plus TGI's native routes.

Two profiles share one wire. ``huggingface`` answers the hosted services:
``router.huggingface.co`` (the Inference Providers router: ``/v1/chat/completions``, and
``/hf-inference/models/MODEL`` for the serverless text-generation task),
``api-inference.huggingface.co/models/MODEL`` (the older serverless host) and dedicated
Inference Endpoints (``*.endpoints.huggingface.cloud``). ``tgi`` is a self-hosted
text-generation-inference server, routed by base URL:
``chaos.route("http://127.0.0.1:8080", provider="tgi")``.

Routes simulated (text-generation-inference ``router/src/server.rs``): ``/v1/chat/completions``
(OpenAI Chat Completions, so the ``openai`` SDK works against it), ``/generate`` (one object),
``/generate_stream`` (token events, no ``[DONE]``), and ``/`` (a list of one object, or the
stream when ``"stream": true``; the serverless ``/models/MODEL`` route has the same shape).
``huggingface_hub.InferenceClient.text_generation`` posts ``{"inputs", "parameters",
"stream"}`` to ``/`` of an endpoint URL or to ``/models/MODEL``; ``chat_completion`` posts to
``.../v1/chat/completions``.

Errors are TGI's ``{"error": "<text>", "error_type": "<kind>"}`` with ``error`` a string, and
the serverless cold start is a 503 ``{"error": "Model X is currently loading",
"estimated_time": 20.0}``; so a catalog fault's ``error`` mapping is the whole body, and a
mid-stream error is the same object in a ``data:`` event. TGI opens a stream before it queues
and validates the request, so on a streaming request an overloaded, validation or generation
error is not an HTTP status but a 200 stream holding that one error event (then ``[DONE]`` on
the chat route): the openai SDK raises ``APIError`` and does not retry it.

For the ``model.*`` faults the chat route is OpenAI's (its messages, tools and
``response_format``, also TGI's own ``{"type": "json", "value": SCHEMA}``), without OpenAI's
refusal field, which TGI's messages do not have; the native routes ask ``inputs`` (the
question, no system prompt, no tools) and may constrain the text with a JSON grammar
(``parameters.grammar``). A real server's answer (pass-through) is rewritten on the chat route
only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from .._replies import Reply, ToolCall
from ._conversation import Said
from ._openai import OpenAIProfile
from ._plan import Plan, Respond, Send
from ._profile import SSE, AnswerPart, CallRequest, Event, RenderContext, UpstreamAnswer
from ._sse import DONE, encode_event
from ._text import split_text, substitute

__all__ = ["HuggingFaceProfile", "TgiProfile"]

#: TGI's ``FinishReason`` as serialized (snake case): the token limit, or the model's end token.
_TGI_FINISH = {"length": "length"}
_TGI_EOS = "eos_token"
#: The error kinds TGI reports inside a started stream rather than as an HTTP status.
_IN_STREAM = frozenset({"overloaded", "validation", "generation", "incomplete_generation"})


#: The Hub route huggingface_hub reads once per process (cached on disk for a day) to name the
#: AI agent it runs under (``utils/_detect_agent.py``): answered with the empty registry, so a
#: test's first call does not depend on the cache or trip over a blocked request.
_AGENT_REGISTRY = "/api/agent-harnesses"


class HuggingFaceProfile(OpenAIProfile):
    name = "huggingface"
    hosts = frozenset({"router.huggingface.co", "api-inference.huggingface.co", "huggingface.co"})
    host_suffixes: ClassVar[tuple[str, ...]] = (".endpoints.huggingface.cloud",)
    request_id_header = "x-request-id"
    refuses = False  # TGI's chat message has no refusal field (huggingface_hub's ChatCompletionOutputMessage)

    def endpoint(self, req: CallRequest) -> str | None:
        """``chat``; ``generate`` (``/generate``, ``/generate_stream``); ``compat`` (``/``, ``/models/MODEL``);
        ``hub`` (the agent registry on huggingface.co)."""
        if req.method == "GET" and req.host == "huggingface.co" and req.path == _AGENT_REGISTRY:
            return "hub"
        if req.method != "POST" or req.host == "huggingface.co":
            return None
        path = req.path.rstrip("/")
        if path.endswith("/chat/completions"):
            return "chat"
        if path.endswith("/generate_stream"):
            # The route streams whatever the body says; CallRequest only reads "stream".
            req.stream = True
            return "generate"
        if path.endswith("/generate"):
            return "generate"
        has_inputs = isinstance(req.json, dict) and "inputs" in req.json
        if has_inputs and (path == "" or ("/models/" in path and "/pipeline/" not in path)):
            return "compat"
        return None

    def base_headers(self, ctx: RenderContext) -> list[tuple[str, str]]:
        return [("x-request-id", ctx.ident), ("x-compute-type", "gpu+optimized")]

    def model_of(self, req: CallRequest) -> str | None:
        """The body's ``model``, else the model in a ``/models/MODEL`` path (TGI's native routes)."""
        model = super().model_of(req)
        if model is None and "/models/" in req.path:
            model = req.path.split("/models/", 1)[1].strip("/") or None
        return model

    def side_request(self, req: CallRequest) -> bool:
        return self.endpoint(req) == "hub"

    # ---- healthy -----------------------------------------------------------------------------
    def healthy(self, req: CallRequest, ctx: RenderContext) -> Plan:
        if self.endpoint(req) == "hub":
            return self._json_plan(200, {"standardEnvVars": [], "harnesses": {}}, ctx)
        plan = super().healthy(req, ctx)
        return _listed(plan) if self.endpoint(req) == "compat" and not req.stream else plan

    def body(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> dict[str, Any]:
        if endpoint == "chat":
            return super().body(endpoint, req, ctx, finish)
        text = _generated_text(ctx.reply)
        body: dict[str, Any] = {"generated_text": text}
        if _parameters(req).get("details"):
            pieces = [p for p in split_text(text) if p]
            body["details"] = {
                "finish_reason": _TGI_FINISH.get(finish or "", _TGI_EOS),
                "generated_tokens": len(pieces),
                "seed": None,
                "prefill": [],
                "tokens": [_token(i, p) for i, p in enumerate(pieces, 1)],
            }
        return body

    def events(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> list[Event]:
        if endpoint == "chat":
            return super().events(endpoint, req, ctx, finish)
        text = _generated_text(ctx.reply)
        pieces = [p for p in split_text(text) if p] or [""]
        details = _parameters(req).get("details")
        events = []
        for index, piece in enumerate(pieces, 1):
            last = index == len(pieces)
            data: dict[str, Any] = {"index": index, "token": _token(index, piece), "generated_text": None, "details": None}
            if last:
                data["generated_text"] = text
                if details:
                    data["details"] = {"finish_reason": _TGI_FINISH.get(finish or "", _TGI_EOS),
                                       "generated_tokens": len(pieces), "seed": None, "input_length": 1}
            events.append(Event(encode_event(data), content=bool(piece), text=piece))
        return events  # generate_stream ends with the last token: no [DONE]

    def live_text(self, endpoint: str, event: str | None, data: Any) -> tuple[bool, str]:
        """On the chat route, OpenAI's chunks; on the native routes, TGI's token events, whose
        special tokens (the end of sequence) are not model output."""
        if endpoint == "chat":
            return super().live_text(endpoint, event, data)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, dict) or token.get("special"):
            return False, ""
        text = str(token.get("text") or "")
        return bool(text), text

    def live_end(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str,
                 seen: list[tuple[str | None, Any]], text: str) -> list[bytes]:
        _chat_only(endpoint, "ends real streams with a finish reason")
        return super().live_end(endpoint, req, ctx, finish, seen, text)

    def answer_text(self, endpoint: str, body: dict[str, Any]) -> str:
        _chat_only(endpoint, "rewrites real answers")
        return super().answer_text(endpoint, body)

    def answer_parts(self, endpoint: str, body: dict[str, Any]) -> list[AnswerPart]:
        _chat_only(endpoint, "plants values in real answers")
        return super().answer_parts(endpoint, body)

    def main_field(self, endpoint: str) -> str:
        return "choices" if endpoint == "chat" else "generated_text"

    # ---- what a request asks (the native routes: inputs and a grammar) ------------------------
    def conversation(self, req: CallRequest) -> list[Said]:
        if self.endpoint(req) in ("generate", "compat"):
            inputs = req.json.get("inputs") if isinstance(req.json, dict) else None
            return [Said("user", inputs)] if isinstance(inputs, str) else []
        return super().conversation(req)

    def output_schema(self, req: CallRequest) -> tuple[str, dict[str, Any]] | None:
        if self.endpoint(req) in ("generate", "compat"):
            schema = _json_grammar(_parameters(req).get("grammar"))
            return None if schema is None else ("the grammar's JSON schema", schema)
        found = super().output_schema(req)  # OpenAI's json_schema response format
        if found is not None or not isinstance(req.json, dict):
            return found
        schema = _json_grammar(req.json.get("response_format"))  # TGI's own {"type": "json", "value": ...}
        return None if schema is None else ("the response format's JSON schema", schema)

    def _misbehaving(self, effect: str, p: Mapping[str, Any], endpoint: str, req: CallRequest, ctx: RenderContext) -> Plan:
        plan = super()._misbehaving(effect, p, endpoint, req, ctx)
        if effect == "model.max_tokens" and endpoint == "compat" and not req.stream:
            return _listed(plan)  # rendered without healthy(), which lists "/"'s answer
        return plan

    def null_content(self, endpoint: str, body: dict[str, Any]) -> None:
        if endpoint == "chat":
            super().null_content(endpoint, body)
        else:
            body["generated_text"] = None

    # ---- errors ------------------------------------------------------------------------------
    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        return {"error": "Request failed during generation", **error}  # the catalog gives the whole body

    def stream_error_event(self, error: Mapping[str, Any], ctx: RenderContext, endpoint: str, sequence: int) -> bytes:
        return encode_event({"error": "Request failed during generation", "error_type": "generation", **error})

    def _status_plan(self, p: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> Plan:
        # The native routes carry the model in the URL (/models/MODEL), not in the body.
        model = _url_model(req)
        if model is not None and not (isinstance(req.json, dict) and isinstance(req.json.get("model"), str)):
            p = substitute(p, "{model}", model)
        endpoint = self.endpoint(req)
        error = p.get("error")
        if req.stream and endpoint and p.get("body") is None and isinstance(error, Mapping) and error.get("error_type") in _IN_STREAM:
            # TGI starts a stream before it queues or validates the request
            # (server.rs generate_stream_internal): the error is a 200 with one error event.
            plan: Plan = [Respond(200, self._headers(ctx, SSE)), Send(encode_event(dict(error)))]
            return plan + [Send(DONE)] if endpoint == "chat" else plan
        return super()._status_plan(p, req, ctx)


class TgiProfile(HuggingFaceProfile):
    """A self-hosted text-generation-inference server: no hosts of its own, routed by base URL."""

    name = "tgi"
    hosts = frozenset()
    host_suffixes = ()

    def base_headers(self, ctx: RenderContext) -> list[tuple[str, str]]:
        return [("x-compute-type", "gpu+optimized")]  # TGI sends no request id of its own


def _listed(plan: Plan) -> Plan:
    """A unary answer of "/", which wraps the generation in a list "to match api-inference"
    (server.rs compat_generate)."""
    return [Send(b"[" + s.data + b"]", s.text) if isinstance(s, Send) else s for s in plan]


#: The grammar types whose value is a JSON schema (TGI's ``GrammarType``; ``json_object`` is an alias of ``json``).
_JSON_GRAMMARS = frozenset({"json", "json_object", "json_schema"})


def _json_grammar(grammar: Any) -> dict[str, Any] | None:
    """The JSON schema of a TGI grammar (``{"type": "json", "value": SCHEMA}``, the schema also as a
    JSON string or under ``value.schema``), or None for a regex, a text format or no grammar."""
    if not isinstance(grammar, dict) or grammar.get("type") not in _JSON_GRAMMARS:
        return None
    value = grammar.get("value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("schema"), dict):
        value = value["schema"]
    return value if isinstance(value, dict) else None


def _chat_only(endpoint: str, what: str) -> None:
    if endpoint != "chat":
        raise UpstreamAnswer(f"chaoskit {what} on the chat route, not yet on TGI's native {endpoint} route")


def _parameters(req: CallRequest) -> dict[str, Any]:
    data = req.json
    params = data.get("parameters") if isinstance(data, dict) else None
    return params if isinstance(params, dict) else {}


def _generated_text(reply: Reply) -> str:
    """The text a native route returns: the reply, or a tool call as the JSON TGI's grammar emits."""
    if isinstance(reply, str):
        return reply
    calls = reply if isinstance(reply, tuple) else (reply,)
    return "".join(json.dumps({"name": c.name, "arguments": c.arguments}) for c in calls if isinstance(c, ToolCall))


def _token(index: int, text: str) -> dict[str, Any]:
    return {"id": 1000 + index, "text": text, "logprob": -0.1, "special": False}


def _url_model(req: CallRequest) -> str | None:
    if "/models/" not in req.path:
        return None
    return req.path.split("/models/", 1)[1].strip("/") or None


"""Provider profiles: turn a fault (or a healthy reply) into a plan for one call.

The generic effects (error statuses, timeouts, resets, latency, broken streams) are
rendered here once; a provider subclass supplies only its wire formats: which endpoints
it simulates, its healthy bodies and stream events, its error bodies and headers.
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar
from urllib.parse import urlsplit

from .._fault import Fault
from .._journal import Turn
from .._replies import Answer, Reply, StructuredReply, ToolCall
from ._coldstart import Phase, cold_start_plan
from ._conversation import Said, question, tool_rounds, turn
from ._misbehave import REFUSAL, as_json, cut, in_other_language, leaked, looping, non_answer
from ._plan import NEVER, Break, Forward, Note, Plan, Relay, Respond, Send, Upstream, Wait, respond_with
from ._structured import settle
from ._text import substitute
from ._usage import UsageMeter

__all__ = ["AnswerPart", "CallRequest", "arguments_part", "text_part", "Event", "Profile", "RenderContext", "UpstreamAnswer", "latency_seconds", "network_plan", "status_headers"]

JSON = "application/json"
SSE = "text/event-stream; charset=utf-8"


class CallRequest:
    """An intercepted HTTP request, transport-neutral; the JSON body is parsed once."""

    __slots__ = ("method", "url", "host", "path", "headers", "body", "json", "stream", "_origin")

    def __init__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b"", *,
        host: str | None = None, path: str | None = None, origin: Any = None,
    ) -> None:
        self.method = method
        self._origin = origin
        self.url = url
        self.headers = headers
        self.body = body
        if host is None or path is None:
            parts = urlsplit(url)
            host, path = parts.hostname or "", parts.path
        self.host = host
        self.path = path
        try:
            self.json: Any = json.loads(body) if body else None
        except ValueError:
            self.json = None
        self.stream = isinstance(self.json, dict) and self.json.get("stream") is True

    @property
    def origin(self) -> Any:
        """The request as an ``httpx.Request``, for what is written against one (respx patterns
        and routes): the client's own, else built on first use."""
        if self._origin is None:
            import httpx

            self._origin = httpx.Request(self.method, self.url, headers=list(self.headers.items()), content=self.body)
        return self._origin


class UpstreamAnswer(Exception):
    """A fault needs the simulated reply on a call whose answer comes from a real server."""


@dataclass(slots=True)
class RenderContext:
    """What a profile may use while rendering one call."""

    ident: str
    #: The call's RNG, or what makes it on first use (most calls never draw).
    rng_source: random.Random | Callable[[], random.Random]
    idle: float | None  # seconds since this provider's previous call; None on the first
    take_reply: Callable[[], Reply]
    #: Where a cold-start fault finds the model on this call (set by the session).
    cold: Phase | None = None
    #: The call goes on to a real server (pass-through): the healthy answer is the upstream's,
    #: fetched with a ``Forward``, and there is no simulated reply to render from.
    upstream: bool = False
    #: For HTTP and MCP profiles: the answer already at hand (a canned reply, a ``chaos.router``
    #: route), or None when the real service's is fetched; and the call, named for error messages.
    answer: Upstream | None = None
    where: str = ""
    _reply: Reply | None = field(default=None, init=False)
    #: Set while rendering: the model text the response carries, and whether it is whole.
    text: str | None = field(default=None, init=False)
    complete: bool = field(default=True, init=False)

    @property
    def rng(self) -> random.Random:
        if not isinstance(self.rng_source, random.Random):
            self.rng_source = self.rng_source()
        return self.rng_source

    @property
    def reply(self) -> Reply:
        """The healthy reply for this call, taken from the queue on first use only."""
        if self.upstream:
            raise UpstreamAnswer("the fault rewrites the model's answer, and this call's answer is a real server's")
        if self._reply is None:
            self._reply = self.take_reply()
        return self._reply

    def replace_reply(self, reply: Reply) -> None:
        """Render this call from ``reply`` instead (a fault's bad tool call, a cut-off text)."""
        self._reply = reply

    @property
    def took_reply(self) -> bool:
        """Whether rendering took a reply from the queue (to give back if it is never sent)."""
        return self._reply is not None


@dataclass(frozen=True, slots=True)
class AnswerPart:
    """A part of a real answer a fault may change: a text, or a tool call's arguments as JSON
    (named ``where``: ``text``, ``lookup_order``); ``put`` writes a changed value back."""

    where: str
    value: Any
    put: Callable[[Any], None]
    text: bool = True


@dataclass(frozen=True, slots=True)
class Event:
    """One SSE event on the wire; ``content`` marks events that carry model output.

    ``text`` is the model text the event adds (a delta), so a broken stream can tell what
    reached the client before the break.
    """

    data: bytes
    content: bool = False
    text: str = ""


def _fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Profile(ABC):
    """Base for provider profiles; subclasses set the class attributes and wire hooks."""

    name: ClassVar[str]
    hosts: ClassVar[frozenset[str]]
    host_suffixes: ClassVar[tuple[str, ...]] = ()  # subdomains served (Azure: ".openai.azure.com")
    request_id_header: ClassVar[str]
    #: Whether the provider's API has a refusal of its own (OpenAI's ``message.refusal``), for ``model.refusal``.
    refuses: ClassVar[bool] = False
    # ---- wire hooks, provided by each provider -------------------------------------------
    @abstractmethod
    def endpoint(self, req: CallRequest) -> str | None:
        """The simulated endpoint this request is for (``"chat"``), or None."""

    @abstractmethod
    def body(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> dict[str, Any]:
        """The healthy unary body for ``ctx.reply``; ``finish`` overrides the finish reason."""

    @abstractmethod
    def events(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str | None = None) -> list[Event]:
        """The healthy stream for ``ctx.reply``, every event of the provider's grammar."""

    @abstractmethod
    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        """The provider's error envelope around a catalog fault's ``error`` object."""

    @abstractmethod
    def stream_error_event(self, error: Mapping[str, Any], ctx: RenderContext, endpoint: str, sequence: int) -> bytes:
        """The error event a provider sends mid-stream; ``sequence`` is its position."""

    @abstractmethod
    def main_field(self, endpoint: str) -> str:
        """The top-level field of a healthy body the SDK reads (``choices``, ``content``)."""

    @abstractmethod
    def null_content(self, endpoint: str, body: dict[str, Any]) -> None:
        """Put null where the model text sits in ``body``."""

    def malformed(self, variant: str, endpoint: str, req: CallRequest, ctx: RenderContext, params: Mapping[str, Any]) -> tuple[str, bytes]:
        """(content type, body) of a 200 broken in the named way."""
        if variant == "html":
            return "text/html; charset=utf-8", str(params.get("body", "<html><body>OK</body></html>")).encode()
        body = self.body(endpoint, req, ctx)
        if variant == "truncated_json":
            data = json.dumps(body, separators=(",", ":")).encode()
            return JSON, data[: max(1, int(len(data) * float(params.get("keep", 0.5))))]
        if variant == "missing_field":
            body.pop(params.get("field") or self.main_field(endpoint), None)
        elif variant == "null_content":
            self.null_content(endpoint, body)
        return JSON, json.dumps(body, separators=(",", ":")).encode()

    @abstractmethod
    def offered_tools(self, req: CallRequest) -> list[str]:
        """The names of the tools the request offers the model."""

    @abstractmethod
    def filtered_finish(self) -> str:
        """The finish / stop reason a provider sends when it filters its own output."""

    @abstractmethod
    def length_finish(self) -> str:
        """The finish / stop reason a provider sends when the answer hits the token limit."""

    def base_headers(self, ctx: RenderContext) -> list[tuple[str, str]]:
        return [(self.request_id_header, f"req_{ctx.ident}")]

    def model_of(self, req: CallRequest) -> str | None:
        """The model ``req`` asks for: its JSON body's ``"model"`` (profiles whose API names it
        elsewhere, in the URL path, override this); None when it names none."""
        data = req.json
        model = data.get("model") if isinstance(data, dict) else None
        return model if isinstance(model, str) else None

    def usage_meter(self, req: CallRequest) -> UsageMeter | None:
        """A meter for the token usage in the response to ``req`` (None: this profile cannot read it there)."""
        return None

    def side_request(self, req: CallRequest) -> bool:
        """Whether ``req`` is an SDK's side request (not a model call): answered, never faulted."""
        return False

    def background(self, req: CallRequest) -> Plan | None:
        """The answer to ``req`` when it is side traffic an SDK or framework sends on its own from a
        background thread (traces, telemetry), else None.

        Such a request is answered as the real service answers it, never faulted, and not journaled:
        it comes at moments the test does not control, so an entry for it would change
        ``chaos.calls`` from one run to the next. (A side request in the app's own flow, such as the
        Hugging Face Hub read before a first call, is ``side_request`` instead, and journaled.)
        """
        return None

    # ---- what a request asks, for the model.* effects ------------------------------------------
    def system_prompt(self, req: CallRequest) -> str | None:
        """The request's system prompt (its system and developer messages), or None."""
        return None

    def conversation(self, req: CallRequest) -> list[Said]:
        """The request's messages, read from the provider's shapes (none when it has no conversation)."""
        return []

    def question(self, req: CallRequest) -> str:
        """The text of the last message the user wrote ("" when there is none)."""
        return question(self.conversation(req))

    def turn_of(self, req: CallRequest) -> Turn | None:
        """The user turn a model request answers and its step in the turn's tool loop, for the journal."""
        return turn(self.conversation(req)) if self.endpoint(req) not in (None, "embeddings") else None

    def output_schema(self, req: CallRequest) -> tuple[str, dict[str, Any]] | None:
        """(what it is called, the JSON Schema) the request asks the answer's JSON to follow, or None."""
        return None

    def tool_schemas(self, req: CallRequest) -> dict[str, dict[str, Any]]:
        """The JSON Schema of each offered tool's arguments, by tool name."""
        return {}

    def forced_tool(self, req: CallRequest) -> str | None:
        """The tool the request makes the model call (its ``tool_choice`` names one), or None."""
        return None

    def settle(self, answer: Answer, req: CallRequest) -> Reply:
        """``answer`` as it goes on the wire for ``req``: a ``structured_reply`` becomes the tool
        call or the JSON text the request asks for (``_structured.settle``); others are as given."""
        if not isinstance(answer, StructuredReply):
            return answer
        output = self.output_schema(req)
        return settle(answer, forced=self.forced_tool(req), output=None if output is None else output[1],
                      tools=self.tool_schemas(req), offered=self.offered_tools(req), where=f"{req.method} {req.path}")

    def refusal_body(self, endpoint: str, body: dict[str, Any], text: str) -> None:
        """Turn a healthy unary body for ``text`` into the provider's refusal of it (see :attr:`refuses`)."""
        raise UpstreamAnswer(f"{self.name} has no refusal field")

    def refusal_events(self, endpoint: str, req: CallRequest, ctx: RenderContext, text: str) -> list[Event]:
        """The stream of a refusal whose text is ``text`` (see :attr:`refuses`)."""
        raise UpstreamAnswer(f"{self.name} has no refusal field")

    def misbehaves(self, effect: str, req: CallRequest) -> bool:
        """Whether a ``model.*`` effect has what it needs in ``req``: a refusal field, a schema to
        break, a system prompt to leak."""
        if effect == "model.refusal":
            return self.refuses
        if effect == "model.schema_violation":
            return self.output_schema(req) is not None or any(_breakable(s) for s in self.tool_schemas(req).values())
        if effect == "model.prompt_leak":
            return bool(self.system_prompt(req))
        return True

    def loops(self, fault: Fault, req: CallRequest) -> bool:
        """Whether ``model.tool_loop`` goes on at this call: the request offers tools, and the loop has
        made fewer rounds than its ``limit`` since the user wrote (then the model answers)."""
        return bool(self.offered_tools(req)) and len(tool_rounds(self.conversation(req))) < int(fault.params.get("limit", 25))

    # ---- generic rendering ---------------------------------------------------------------
    def applies(self, fault: Fault, req: CallRequest, idle: float | None) -> bool:
        """Whether ``fault`` can happen on this call (stream faults need a stream, ...)."""
        effect = fault.effect
        endpoint = self.endpoint(req)
        if effect.startswith("stream."):
            return endpoint is not None and req.stream and endpoint != "embeddings"
        if effect == "model.tool_loop":
            return endpoint is not None and endpoint != "embeddings" and self.loops(fault, req)
        if effect.startswith("model."):
            return endpoint is not None and endpoint != "embeddings" and self.misbehaves(effect, req)
        if effect in ("malformed.tool_args", "malformed.unknown_tool", "content_filter", "schema_drift"):
            return endpoint is not None and endpoint != "embeddings"
        if effect in ("malformed.truncated_json", "malformed.missing_field", "malformed.null_content"):
            return endpoint is not None and not req.stream
        if effect.startswith("malformed.") or effect.startswith("latency."):
            # cold start: the session decides per call (loading, warm, or nothing to do)
            return endpoint is not None or effect in ("latency.fixed", "latency.cold_start")
        return True

    def applies_to_real(self, fault: Fault, req: CallRequest) -> bool:
        """Whether ``fault`` can act on this call when a real server answers it (after :meth:`applies`).

        No for the faults that are skipped rather than refused there: the model's misbehaviour
        (``model.*``) on a real stream, which chaoskit relays as it arrives and does not rewrite (a
        value can be split across events, and the relay does not hold events back).
        """
        return not (fault.effect.startswith("model.") and req.stream)

    def healthy(self, req: CallRequest, ctx: RenderContext) -> Plan:
        endpoint = self.endpoint(req)
        assert endpoint is not None
        if endpoint != "embeddings":
            ctx.text = ctx.reply if isinstance(ctx.reply, str) else ""
        if req.stream and endpoint != "embeddings":
            return self._stream_plan(self.events(endpoint, req, ctx), ctx)
        return self._json_plan(200, self.body(endpoint, req, ctx), ctx)

    def render(self, fault: Fault, req: CallRequest, ctx: RenderContext) -> Plan:
        """The plan for ``fault`` on this call; ``applies`` was checked first."""
        p = fault.params
        effect = fault.effect
        if effect == "status":
            return self._status_plan(p, req, ctx)
        if effect == "latency.cold_start":
            return cold_start_plan(p, ctx.cold, lambda: self._healthy_or_empty(req, ctx), lambda q: self._status_plan(q, req, ctx))
        network = network_plan(effect, p, ctx.rng, lambda: self._healthy_or_empty(req, ctx))
        if network is not None:
            return network
        if ctx.upstream:
            return self._on_real(fault, req, ctx)
        if effect.startswith("latency."):
            return self._latency_plan(effect, p, req, ctx)
        endpoint = self.endpoint(req)
        assert endpoint is not None
        if effect.startswith("stream."):
            return self._broken_stream(effect, p, endpoint, req, ctx)
        if effect == "content_filter":
            return self._finished(endpoint, req, ctx, self.filtered_finish(), _after(p))
        if effect == "model.hallucination":
            return self._hallucinated(p, req, ctx)
        if effect == "model.tool_loop":
            call, note = self._loop_call(fault, req, ctx.reply)
            ctx.replace_reply(call)
            return [Note(note), *self.healthy(req, ctx)]
        if effect.startswith("model."):
            return self._misbehaving(effect, p, endpoint, req, ctx)
        if effect in ("malformed.tool_args", "malformed.unknown_tool"):
            ctx.replace_reply(self._bad_tool_call(effect, p, req))
            return self.healthy(req, ctx)
        if effect == "schema_drift":
            return self._drifted_tool_call(p, req, ctx)
        if effect.startswith("malformed."):
            content_type, data = self.malformed(effect.split(".", 1)[1], endpoint, req, ctx, p)
            return [Respond(200, self._headers(ctx, content_type)), Send(data)]
        raise AssertionError(f"unhandled effect {effect!r}")

    # ---- on a real server's answer -----------------------------------------------------------
    def live_text(self, endpoint: str, event: str | None, data: Any) -> tuple[bool, str]:
        """(whether a real SSE event carries model output, the text it adds): what stream faults
        count on a real stream. Profiles that can read their provider's real streams override it."""
        raise UpstreamAnswer(f"chaoskit cannot yet read {self.name}'s real streams")

    def live_end(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str,
                 seen: list[tuple[str | None, Any]], text: str) -> list[bytes]:
        """The events that end a real stream with ``finish`` after the real events ``seen`` (name,
        data), which carried ``text``: the simulated stream's ending, with the real stream's ids."""
        raise UpstreamAnswer(f"chaoskit cannot yet end {self.name}'s real streams with a finish reason")

    def answer_text(self, endpoint: str, body: dict[str, Any]) -> str:
        """The model text of a real unary answer (``{}`` gives ""): what a finish fault cuts."""
        raise UpstreamAnswer(f"chaoskit cannot yet rewrite {self.name}'s real answers")

    def graft(self, endpoint: str, real: dict[str, Any], simulated: dict[str, Any]) -> None:
        """Put ``simulated``'s answer (its message or content, its finish reason) into the real
        body ``real``, which keeps its ids and usage."""
        raise UpstreamAnswer(f"chaoskit cannot yet rewrite {self.name}'s real answers")

    def answer_parts(self, endpoint: str, body: dict[str, Any]) -> list[AnswerPart]:
        """The parts of a real unary answer a hallucination fault changes: its texts and its tool
        calls' JSON arguments, each with what puts a changed value back (``{}`` gives [])."""
        raise UpstreamAnswer(f"chaoskit cannot yet plant values in {self.name}'s real answers")

    def _on_real(self, fault: Fault, req: CallRequest, ctx: RenderContext) -> Plan:
        """The plan of a fault that changes a real server's answer: relayed as it arrives
        (streams) or fetched and changed (a unary body)."""
        from ._relay import EFFECTS, Ending, StreamRelayer

        effect, p = fault.effect, fault.params
        endpoint = self.endpoint(req)
        if endpoint is None:
            raise UpstreamAnswer(f"{fault.id} acts on model calls, and chaoskit does not know this endpoint")
        finish = {"stream.length": self.length_finish(), "content_filter": self.filtered_finish()}.get(effect)
        if effect in EFFECTS and req.stream:
            self.live_text(endpoint, None, {})  # a profile that cannot read real streams says so now
            error = _fill(p.get("error") or {}, req)
            ending: Ending | None = None
            if finish is not None:
                self.live_end(endpoint, req, ctx, finish, [], "")  # ... nor end them
                ending = partial(self.live_end, endpoint, req, ctx, finish)

            def relayer() -> StreamRelayer:
                return StreamRelayer(effect, p, lambda name, data: self.live_text(endpoint, name, data),
                                     lambda sequence: self.stream_error_event(error, ctx, endpoint, sequence), ending)

            return [Relay(relayer)]
        if effect == "latency.tokens":  # a unary answer, late by its output tokens as a simulated one is
            self.answer_text(endpoint, {})
            seconds = latency_seconds(p, ctx.rng)
            return [Forward(lambda real: self._late_real(endpoint, real, seconds))]
        if finish is not None:  # a unary answer: its text cut or emptied, its finish reason the fault's
            self.answer_text(endpoint, {})
            kept = partial(self._kept, finish=finish)
            return [Forward(lambda real: self._answered_real(endpoint, req, ctx, real, kept, finish))]
        if effect in ("malformed.tool_args", "malformed.unknown_tool") and not req.stream:
            # As on a simulated reply, the bad tool call is the answer, whatever the real one said.
            self.answer_text(endpoint, {})
            call = self._bad_tool_call(effect, p, req)
            return [Forward(lambda real: self._answered_real(endpoint, req, ctx, real, lambda _: call))]
        if effect.startswith("malformed.") and not req.stream:
            variant = effect.split(".", 1)[1]
            if variant == "html":
                content_type, data = self.malformed(variant, endpoint, req, ctx, p)
                return [Respond(200, self._headers(ctx, content_type)), Send(data)]
            if variant in ("truncated_json", "missing_field", "null_content"):
                return [Forward(lambda real: self._malformed_real(variant, endpoint, real, p))]
        if effect.startswith("model.") and req.stream:  # applies_to_real skips them; a forced one is refused
            raise UpstreamAnswer("chaoskit changes a real answer only when it is not streamed: a real stream is relayed "
                                 "as it arrives, and on a real stream a value can be split across events")
        if effect == "model.tool_loop":
            self.answer_text(endpoint, {})  # a profile that cannot rewrite real answers says so now
            self._loop_call(fault, req, None)  # a tools= the request does not offer is an error now

            def looped(real: Upstream) -> Plan:
                body = _json_body(real)
                if body is None:
                    return respond_with(real)
                call, note = self._loop_call(fault, req, self._real_reply(endpoint, body, self.answer_text(endpoint, body)))
                return [Note(note), *self._answered_real(endpoint, req, ctx, real, lambda _: call)]

            return [Forward(looped)]
        if effect == "model.hallucination":
            self.answer_parts(endpoint, {})  # a profile that cannot rewrite real answers says so now
            return [Forward(lambda real: self._hallucinated_real(endpoint, real, p, ctx))]
        if effect.startswith("model."):
            self.answer_text(endpoint, {})  # a profile that cannot rewrite real answers says so now
            return [Forward(lambda real: self._misbehaving_real(effect, p, endpoint, req, ctx, real))]
        raise UpstreamAnswer(f"{fault.id} rewrites the model's answer in a way chaoskit cannot yet apply to a real one")

    def _answered_real(self, endpoint: str, req: CallRequest, ctx: RenderContext, real: Upstream,
                       answer: Callable[[str], Reply], finish: str | None = None) -> Plan:
        """A real JSON answer whose output is the simulated one for ``answer(its text)`` (with
        ``finish``); an error or a body that is not JSON as it is."""
        body = _json_body(real)
        if body is None:
            return respond_with(real)
        simulated = self.body(endpoint, req, _replying(ctx, answer(self.answer_text(endpoint, body))), finish)
        self.graft(endpoint, body, simulated)
        return [Respond(real.status, real.headers), Send(json.dumps(body, separators=(",", ":")).encode())]

    def _hallucinated_real(self, endpoint: str, real: Upstream, p: Mapping[str, Any], ctx: RenderContext) -> Plan:
        """A real JSON answer with values planted in its texts (and tool arguments), its ids and
        usage kept; an error or a body that is not JSON as it is."""
        from .._plant import KINDS, describe, plant

        body = _json_body(real)
        if body is None:
            return [Note("planted nothing: the answer is an error or not JSON", ()), *respond_with(real)]
        kinds = tuple(p.get("kinds") or KINDS)
        parts = [part for part in self.answer_parts(endpoint, body) if part.text or p.get("in_tools", True)]
        values, plants = plant([(part.where, part.value) for part in parts], ctx.rng, kinds=kinds, count=p.get("count"))
        for part, value in zip(parts, values, strict=True):
            if value != part.value:
                part.put(value)
        data = json.dumps(body, separators=(",", ":")).encode()
        return [Note(describe(plants, kinds), plants), Respond(real.status, real.headers), Send(data)]

    def _misbehaving_real(self, effect: str, p: Mapping[str, Any], endpoint: str, req: CallRequest, ctx: RenderContext,
                          real: Upstream) -> Plan:
        """A real JSON answer whose output is what a model misbehaving as ``effect`` says instead of its
        text; an error or a body that is not JSON as it is."""
        body = _json_body(real)
        if body is None:
            return respond_with(real)
        text = self.answer_text(endpoint, body)
        finish = None
        if effect == "model.refusal":
            refusal = str(p.get("text") or REFUSAL)
            simulated = self.body(endpoint, req, _replying(ctx, refusal))
            self.refusal_body(endpoint, simulated, refusal)
            note = f"refused: {refusal}"
        else:
            if effect == "model.max_tokens":
                kept = cut(text, float(p.get("keep", 0.5)))
                reply: Reply = kept
                finish, note = self.length_finish(), f"stopped at the token limit after {len(kept)} of {len(text)} characters"
            else:
                reply, note = self._misbehaved(effect, p, req, ctx.rng, self._real_reply(endpoint, body, text))
            simulated = self.body(endpoint, req, _replying(ctx, reply), finish)
        self.graft(endpoint, body, simulated)
        return [Note(note), Respond(real.status, real.headers), Send(json.dumps(body, separators=(",", ":")).encode())]

    def _real_reply(self, endpoint: str, body: dict[str, Any], text: str) -> Reply:
        """A real answer as a reply: its tool calls (name and JSON arguments) when it made any, else its text."""
        calls = tuple(ToolCall(part.where, part.value) for part in self.answer_parts(endpoint, body) if not part.text)
        return (calls[0] if len(calls) == 1 else calls) if calls else text

    def _late_real(self, endpoint: str, real: Upstream, seconds: float) -> Plan:
        """A real JSON answer ``seconds`` late per output token; an error or a body that is not JSON at once."""
        body = _json_body(real)
        if body is None:
            return respond_with(real)
        return [Wait(seconds * _tokens(self.answer_text(endpoint, body))), *respond_with(real)]

    def _malformed_real(self, variant: str, endpoint: str, real: Upstream, params: Mapping[str, Any]) -> Plan:
        """A real JSON answer broken as ``variant`` says; an error or a body that is not JSON as it is."""
        body = _json_body(real)
        if body is None:
            return respond_with(real)
        if variant == "truncated_json":
            data = real.body[: max(1, int(len(real.body) * float(params.get("keep", 0.5))))]
        else:
            if variant == "missing_field":
                body.pop(params.get("field") or self.main_field(endpoint), None)
            else:
                self.null_content(endpoint, body)
            data = json.dumps(body, separators=(",", ":")).encode()
        return [Respond(real.status, real.headers), Send(data)]

    # ---- pieces ----------------------------------------------------------------------------
    def _headers(self, ctx: RenderContext, content_type: str, extra: Mapping[str, Any] | None = None) -> tuple[tuple[str, str], ...]:
        headers = [("content-type", content_type), *self.base_headers(ctx)]
        if extra:
            headers.extend((str(k).lower(), str(v)) for k, v in extra.items())
        return tuple(headers)

    def _json_plan(self, status: int, body: Any, ctx: RenderContext, extra: Mapping[str, Any] | None = None) -> Plan:
        data = json.dumps(body, separators=(",", ":")).encode()
        return [Respond(status, self._headers(ctx, JSON, extra)), Send(data)]

    def _stream_plan(self, events: list[Event], ctx: RenderContext) -> Plan:
        plan: Plan = [Respond(200, self._headers(ctx, SSE))]
        plan.extend(Send(e.data, e.text) for e in events)
        return plan

    def _healthy_or_empty(self, req: CallRequest, ctx: RenderContext) -> Plan:
        if ctx.upstream:
            return [Forward(respond_with)]
        return self.healthy(req, ctx) if self.endpoint(req) else [Respond(200, self._headers(ctx, JSON)), Send(b"{}")]

    def _status_plan(self, p: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> Plan:
        extra = status_headers(p)
        status = int(p["status"])
        if p.get("body") is not None:  # a raw body, such as a load balancer's HTML page
            data = str(p["body"]).encode()
            return [Respond(status, self._headers(ctx, str(p.get("content_type", "text/html")), extra)), Send(data)]
        error = _fill(p.get("error") or {}, req)
        return self._json_plan(status, self.error_body(error, req, ctx), ctx, extra)

    def _latency_plan(self, effect: str, p: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> Plan:
        seconds = latency_seconds(p, ctx.rng)
        plan = self.healthy(req, ctx)
        if effect == "latency.first_token":
            # Headers arrive at once; the first body bytes wait.
            at = next(i for i, s in enumerate(plan) if isinstance(s, Send))
            return plan[:at] + [Wait(seconds)] + plan[at:]
        # latency.tokens: every body chunk waits; a unary body waits for all of them.
        if req.stream:
            slowed: Plan = []
            for step in plan:
                if isinstance(step, Send):
                    slowed.append(Wait(seconds))
                slowed.append(step)
            return slowed
        return [Wait(seconds * _tokens(ctx.reply if isinstance(ctx.reply, str) else repr(ctx.reply))), *plan]

    def _bad_tool_call(self, effect: str, p: Mapping[str, Any], req: CallRequest) -> ToolCall:
        offered = self.offered_tools(req)
        if effect == "malformed.unknown_tool":
            return ToolCall(str(p.get("tool", "chaoskit_unknown_tool")), dict(p.get("arguments") or {}))
        name = str(p.get("tool") or (offered[0] if offered else "lookup"))
        return ToolCall(name, str(p.get("arguments", '{"order_id": "A1')))

    def _drifted_tool_call(self, p: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> Plan:
        """The healthy reply's tool call with its JSON arguments drifted in one place."""
        from .._drift import drift
        from .._errors import ChaosConfigError

        reply = ctx.reply
        calls = reply if isinstance(reply, tuple) else (reply,)
        first = calls[0]
        if not isinstance(first, ToolCall) or isinstance(first.arguments, str):
            raise ChaosConfigError(
                f"{self.name}.malformed.tool_args_drift needs a tool call with JSON arguments as the "
                f"reply; set one with chaos.reply({self.name!r}, chaoskit.tool_call(NAME, {{...}}))"
            )
        where = f"the arguments of the {first.name!r} tool call"
        arguments, what = drift(dict(first.arguments), ctx.rng, variant=p.get("variant"), path=p.get("path"), where=where)
        drifted = ToolCall(first.name, arguments, first.id)
        ctx.replace_reply((drifted, *calls[1:]) if isinstance(reply, tuple) else drifted)
        return [Note(f"{first.name}: {what.description}"), *self.healthy(req, ctx)]

    def _hallucinated(self, p: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> Plan:
        """The healthy reply with values planted in its text or tool-call arguments; the journal
        says which (or that it had none of the shapes asked for)."""
        from .._plant import KINDS, describe, plant_reply

        kinds = tuple(p.get("kinds") or KINDS)
        reply, plants = plant_reply(ctx.reply, ctx.rng, kinds=kinds, count=p.get("count"), in_tools=bool(p.get("in_tools", True)))
        ctx.replace_reply(reply)
        return [Note(describe(plants, kinds), plants), *self.healthy(req, ctx)]

    def _loop_call(self, fault: Fault, req: CallRequest, healthy: Reply | None) -> tuple[ToolCall, str]:
        """The tool call of a model stuck in a loop, at this request's step (see :func:`looping`)."""
        tools = fault.params.get("tools")
        return looping(self.offered_tools(req), self.tool_schemas(req), tool_rounds(self.conversation(req)), healthy,
                       tools=list(tools) if tools else None, drift=fault.params.get("arguments") == "drift", where=fault.id)

    def _misbehaving(self, effect: str, p: Mapping[str, Any], endpoint: str, req: CallRequest, ctx: RenderContext) -> Plan:
        """A valid answer from a model that misbehaves as ``effect`` says; the journal notes how."""
        if effect == "model.refusal":
            text = str(p.get("text") or REFUSAL)
            ctx.replace_reply(text)
            ctx.text = text
            refused = Note(f"refused: {text}")
            if req.stream:
                return [refused, *self._stream_plan(self.refusal_events(endpoint, req, ctx, text), ctx)]
            body = self.body(endpoint, req, ctx)
            self.refusal_body(endpoint, body, text)
            return [refused, *self._json_plan(200, body, ctx)]
        if effect == "model.max_tokens":
            reply = ctx.reply
            full = reply if isinstance(reply, str) else ""
            if isinstance(reply, str):
                ctx.replace_reply(cut(reply, float(p.get("keep", 0.5))))
            kept = ctx.reply if isinstance(ctx.reply, str) else ""
            ctx.text = kept
            finish = self.length_finish()
            plan = (self._stream_plan(self.events(endpoint, req, ctx, finish=finish), ctx) if req.stream
                    else self._json_plan(200, self.body(endpoint, req, ctx, finish=finish), ctx))
            return [Note(f"stopped at the token limit after {len(kept)} of {len(full)} characters"), *plan]
        reply, note = self._misbehaved(effect, p, req, ctx.rng, ctx.reply)
        ctx.replace_reply(reply)
        return [Note(note), *self.healthy(req, ctx)]

    def _misbehaved(self, effect: str, p: Mapping[str, Any], req: CallRequest, rng: random.Random, healthy: Reply) -> tuple[Reply, str]:
        """(what a model misbehaving as ``effect`` answers instead of ``healthy``, a line for the journal)."""
        if effect == "model.empty":
            return "", "an empty answer"
        if effect == "model.non_answer":
            return non_answer(rng, p.get("text"))
        if effect == "model.wrong_language":
            return in_other_language(self.question(req), rng, p.get("language"))
        if effect == "model.prompt_leak":
            return leaked(self.system_prompt(req))
        if effect == "model.schema_violation":
            return self._violated(p, req, rng, healthy)
        raise AssertionError(f"unhandled effect {effect!r}")

    def _violated(self, p: Mapping[str, Any], req: CallRequest, rng: random.Random, healthy: Reply) -> tuple[Reply, str]:
        """JSON that breaks the request's own schema in one place: the answer's (a response format),
        else the arguments of a call to an offered tool (the one the healthy reply calls, else the first
        one whose schema has fields)."""
        from .._violate import violate

        kind, path = p.get("kind"), p.get("path")
        found = self.output_schema(req)
        if found is not None:
            what, schema = found
            base = as_json(healthy) if isinstance(healthy, str) else None
            broken, violation = violate(schema, rng, value=base, kind=kind, path=path, where=what)
            return json.dumps(broken, ensure_ascii=False), f"{what}: {violation.description}"
        schemas = self.tool_schemas(req)
        calls = healthy if isinstance(healthy, tuple) else (healthy,)
        called = [c for c in calls if isinstance(c, ToolCall) and c.name in schemas and not isinstance(c.arguments, str)]
        name = called[0].name if called else next((n for n, s in schemas.items() if _breakable(s)), None)
        if name is None:
            from .._errors import ChaosConfigError

            raise ChaosConfigError(f"{self.name}.model.schema_violation: the request has no response schema and no tool with fields")
        base = dict(called[0].arguments) if called and not isinstance(called[0].arguments, str) else None
        broken, violation = violate(schemas[name], rng, value=base, kind=kind, path=path,
                                    where=f"the arguments of the {name!r} tool call")
        return ToolCall(name, broken), f"tool {name}: {violation.description}"

    def _kept(self, text: str, finish: str) -> str:
        """What a simulated answer ended by ``finish`` keeps of ``text``: half at the token limit, none when filtered."""
        return text[: len(text) // 2] if finish == self.length_finish() else ""

    def _finished(self, endpoint: str, req: CallRequest, ctx: RenderContext, finish: str, after: int | None = None) -> Plan:
        """The answer ended early with ``finish``; streamed, after ``after`` events with model
        output when it is set (as on a real stream), else with the text :meth:`_kept` keeps."""
        reply = ctx.reply
        if isinstance(reply, str):  # a cut-off or filtered answer has only part of the text
            if after is not None and req.stream:
                events = self.events(endpoint, req, ctx)
                part = "".join(e.text for e in events[: _cut_index(events, after)])
            else:
                part = self._kept(reply, finish)
            ctx.replace_reply(part)
            ctx.text = part
        if req.stream:
            return self._stream_plan(self.events(endpoint, req, ctx, finish=finish), ctx)
        return self._json_plan(200, self.body(endpoint, req, ctx, finish=finish), ctx)

    def _broken_stream(self, effect: str, p: Mapping[str, Any], endpoint: str, req: CallRequest, ctx: RenderContext) -> Plan:
        if effect == "stream.length":
            return self._finished(endpoint, req, ctx, self.length_finish(), _after(p))
        events = self.events(endpoint, req, ctx)
        cut = _cut_index(events, int(p.get("after_events", 2)))
        full = ctx.reply if isinstance(ctx.reply, str) else ""
        ctx.text = "".join(e.text for e in events[:cut])
        ctx.complete = effect == "stream.stall" and p.get("seconds") is not None
        if ctx.complete:
            ctx.text = full
        head: Plan = [Respond(200, self._headers(ctx, SSE))]
        head.extend(Send(e.data, e.text) for e in events[:cut])
        rest: Plan = [Send(e.data, e.text) for e in events[cut:]]
        if effect == "stream.cut":
            return head
        if effect == "stream.cut_unclean":
            return head + [Break("incomplete")]
        if effect == "stream.reset":
            return head + [Break("reset")]
        if effect == "stream.stall":
            seconds = p.get("seconds")
            return head + [Wait(NEVER if seconds is None else float(seconds))] + rest
        if effect == "stream.error_event":
            error = _fill(p.get("error") or {}, req)
            return head + [Send(self.stream_error_event(error, ctx, endpoint, cut))]
        if effect == "stream.invalid_event":
            return head + [Send(str(p.get("data", "data: {not json\n\n")).encode())] + rest
        raise AssertionError(f"unhandled stream effect {effect!r}")


def text_part(where: str, holder: dict[str, Any], key: str) -> list[AnswerPart]:
    """The text at ``holder[key]`` as an :class:`AnswerPart` (none when it is not a non-empty string)."""
    value = holder.get(key)
    if not isinstance(value, str) or not value:
        return []
    return [AnswerPart(where, value, lambda new: holder.__setitem__(key, new))]


def arguments_part(where: str, holder: dict[str, Any], key: str) -> list[AnswerPart]:
    """Tool-call arguments at ``holder[key]``: a JSON object, or a JSON string holding one (put
    back as a string); none when they are neither."""
    value = holder.get(key)
    if isinstance(value, dict):
        return [AnswerPart(where, value, lambda new: holder.__setitem__(key, new), text=False)]
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return []
        if isinstance(parsed, dict):
            return [AnswerPart(where, parsed, lambda new: holder.__setitem__(key, json.dumps(new, separators=(",", ":"))), text=False)]
    return []


def status_headers(p: Mapping[str, Any]) -> dict[str, Any]:
    """A status fault's extra headers: ``headers`` plus retry-after, retry-after-ms, x-should-retry."""
    extra: dict[str, Any] = dict(p.get("headers") or {})
    if p.get("retry_after") is not None:
        extra["retry-after"] = _fmt_seconds(p["retry_after"])
    if p.get("retry_after_ms") is not None:
        extra["retry-after-ms"] = _fmt_seconds(p["retry_after_ms"])
    if p.get("should_retry") is not None:
        extra["x-should-retry"] = "true" if p["should_retry"] else "false"
    return extra


def latency_seconds(p: Mapping[str, Any], rng: random.Random) -> float:
    """A latency fault's delay: ``seconds`` plus or minus a uniform ``jitter``, never negative."""
    seconds = float(p.get("seconds", 0.0))
    jitter = float(p.get("jitter", 0.0) or 0.0)
    return max(0.0, seconds + rng.uniform(-jitter, jitter)) if jitter else seconds


def network_plan(effect: str, p: Mapping[str, Any], rng: random.Random, answer: Callable[[], Plan]) -> Plan | None:
    """The plan for an effect any HTTP service can have, or None for the others.

    Timeouts, resets and a late answer; ``answer`` makes the plan of the answer that comes
    late (a healthy reply, a canned one, or the real service's).
    """
    if effect == "timeout.connect":
        return [Break("connect_timeout", after=p.get("after"))]
    if effect == "timeout.read":
        seconds = p.get("seconds")
        return [Wait(NEVER if seconds is None else float(seconds)), *answer()]
    if effect == "connection.reset":
        return [Break("reset")]
    if effect == "latency.fixed":
        return [Wait(latency_seconds(p, rng)), *answer()]
    return None


def _breakable(schema: Any) -> bool:
    """Whether a tool's schema has fields a violation can act on."""
    return isinstance(schema, Mapping) and bool(schema.get("properties"))


def _cut_index(events: list[Event], after_content: int) -> int:
    """Index after the ``after_content``-th content event, never past the last one."""
    content = [i for i, e in enumerate(events) if e.content]
    if not content:
        return max(1, len(events) // 2)
    n = min(max(after_content, 0), len(content))
    if n == 0:
        return content[0]
    return content[n - 1] + 1


def _tokens(text: str) -> int:
    """The output tokens a slow-token latency counts in an answer's text: about 4 characters each, at least 1."""
    return max(1, len(json.dumps(text)) // 4)


def _after(p: Mapping[str, Any]) -> int | None:
    after = p.get("after_events")
    return None if after is None else int(after)


def _json_body(real: Upstream) -> dict[str, Any] | None:
    """A real answer's JSON object; None for an error status or a body that is not one."""
    if real.status >= 400:
        return None
    try:
        body = json.loads(real.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _replying(ctx: RenderContext, reply: Reply) -> RenderContext:
    """A context that renders ``reply`` (a real answer's cut text, a bad tool call) for the call ``ctx`` renders."""
    return RenderContext(ident=ctx.ident, rng_source=ctx.rng_source, idle=ctx.idle, take_reply=lambda: reply)


def _fill(error: Mapping[str, Any], req: CallRequest) -> dict[str, Any]:
    """The error object with ``{model}`` in strings replaced by the requested model."""
    data = req.json
    model = str(data.get("model", "unknown")) if isinstance(data, dict) else "unknown"
    return dict(substitute(error, "{model}", model))

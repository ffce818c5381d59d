"""The generic HTTP profile: faults for any JSON or HTTP API the app calls (a CRM, a tool).

Unlike the model providers there is nothing to simulate: a call with no fault gets the
test's canned reply (``chaos.reply_http``) or goes to the real service. Faults that change
an answer (schema drift, a cut body, a wrong content type) change that canned or real
answer, so a drifted body is the service's own body with one thing different.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from .._drift import drift
from .._errors import ChaosConfigError
from .._fault import Fault
from ._coldstart import cold_start_plan
from ._plan import Break, Forward, Note, Plan, Respond, Send, Upstream, respond_with
from ._profile import CallRequest, RenderContext, network_plan, status_headers

__all__ = ["HttpProfile", "canned", "status_plan"]

JSON = "application/json"
#: Headers of an upstream response that describe its framing, not its content: the seam
#: frames what it sends itself, and the body it holds is already decoded.
_FRAMING = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive"})


def canned(status: int, headers: Mapping[str, str] | None, body: bytes, content_type: str | None) -> Upstream:
    """A canned reply as the Upstream that faults build on."""
    items = [(k.lower(), str(v)) for k, v in (headers or {}).items()]
    if content_type and not any(k == "content-type" for k, _ in items):
        items.insert(0, ("content-type", content_type))
    return Upstream(status, tuple(items), body)


def _content_headers(upstream: Upstream, content_type: str | None = None) -> tuple[tuple[str, str], ...]:
    """The upstream's headers without its framing; ``content_type`` replaces its own."""
    drop = _FRAMING | ({"content-type"} if content_type else set())
    kept = tuple((k, v) for k, v in upstream.headers if k.lower() not in drop)
    return ((("content-type", content_type),) if content_type else ()) + kept


class HttpProfile:
    """Renders ``http.*`` faults on a canned reply or on the real service's response."""

    name = "http"

    def applies(self, fault: Fault, req: CallRequest, idle: float | None) -> bool:
        return True  # a cold start is decided per call by the session

    def render(self, fault: Fault, req: CallRequest, ctx: RenderContext) -> Plan:
        """The plan for ``fault``, on ``ctx.answer`` (a canned reply) or on the service's, fetched."""
        p = fault.params
        effect = fault.effect
        base, where = ctx.answer, ctx.where or f"{req.method} {req.url}"

        def on_answer(then: Callable[[Upstream], Plan]) -> Plan:
            return then(base) if base is not None else [Forward(then)]

        if effect == "latency.cold_start":
            return cold_start_plan(p, ctx.cold, lambda: on_answer(respond_with), status_plan)
        network = network_plan(effect, p, ctx.rng, lambda: on_answer(respond_with))
        if network is not None:
            return network
        if effect == "status":
            return status_plan(p)
        if effect == "malformed.html":
            body = str(p.get("body") or "<html><body>OK</body></html>").encode()
            return [Respond(200, (("content-type", "text/html; charset=utf-8"),)), Send(body)]
        if effect == "malformed.truncated_json":
            keep = float(p.get("keep", 0.5))
            return on_answer(lambda up: [
                Respond(up.status, _content_headers(up)), Send(up.body[: max(1, int(len(up.body) * keep))]),
            ])
        if effect == "malformed.content_type":
            content_type = str(p.get("content_type") or "text/html; charset=utf-8")
            return on_answer(lambda up: [Respond(up.status, _content_headers(up, content_type=content_type)), Send(up.body)])
        if effect == "body.incomplete":
            keep = float(p.get("keep", 0.5))
            return on_answer(lambda up: [
                Respond(up.status, _content_headers(up)), Send(up.body[: int(len(up.body) * keep)]), Break("incomplete"),
            ])
        if effect == "schema_drift":
            return on_answer(lambda up: _drifted(up, p, ctx, where))
        if effect == "poisoned":
            return on_answer(lambda up: _poisoned(up, p, ctx, where))
        raise ChaosConfigError(f"fault {fault.id!r} (effect {effect!r}) cannot act on an HTTP call")


def status_plan(p: Mapping[str, Any]) -> Plan:
    """An error response from a status fault's ``status``, ``json`` or ``body``, and headers."""
    status = int(p["status"])
    extra = status_headers(p)
    if p.get("body") is not None:
        content_type, data = str(p.get("content_type") or "text/plain; charset=utf-8"), str(p["body"]).encode()
    else:
        payload = p.get("json")
        if payload is None:
            phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
            payload = {"error": {"status": status, "message": phrase}}
        content_type, data = JSON, json.dumps(payload, separators=(",", ":")).encode()
    headers = (("content-type", content_type), *((str(k).lower(), str(v)) for k, v in extra.items()))
    return [Respond(status, headers), Send(data)]


def _drifted(up: Upstream, p: Mapping[str, Any], ctx: RenderContext, where: str) -> Plan:
    try:
        body = json.loads(up.body)
    except ValueError:
        raise ChaosConfigError(f"schema drift cannot apply to {where}: its body is not JSON") from None
    changed, what = drift(body, ctx.rng, variant=p.get("variant"), path=p.get("path"), where=where)
    data = json.dumps(changed, separators=(",", ":")).encode()
    return [Note(what.description), Respond(up.status, _content_headers(up)), Send(data)]


def _poisoned(up: Upstream, p: Mapping[str, Any], ctx: RenderContext, where: str) -> Plan:
    from .._poison import poison

    payload = str(p.get("payload") or "").replace("{canary}", str(p.get("canary") or ""))
    try:
        body: Any = json.loads(up.body)
    except ValueError:
        body = up.body.decode("utf-8", "replace")
    changed, what = poison(body, ctx.rng, payload=payload, path=p.get("path"), where=where)
    data = changed.encode() if isinstance(changed, str) else json.dumps(changed, separators=(",", ":")).encode()
    return [Note(what), Respond(up.status, _content_headers(up)), Send(data)]

"""The proxy's control API: its own loopback port, a bearer token, JSON in and out.

=========================  =====================================================================
``GET /health``            up, the upstreams, the faults on, the claim (no token needed)
``GET /metrics``           Prometheus exposition (no token needed: names and counts only)
``GET /faults``            the faults on, with the seconds each has left
``POST /faults``           put one on: ``{"fault": ID, "ttl": S, "rate", "times", "after",
                           "window", "sequence", "params", "upstream", "match", "label"}``
``GET /faults/ID``         one of them
``PATCH /faults/ID``       renew it: ``{"ttl": S}`` (or its own TTL again)
``DELETE /faults/ID``      take it off
``POST /reset``            take every fault off; ``{"seed": N}`` also reseeds decisions
``POST /halt``             the kill switch: every fault off, and no fault put on until
                           ``POST /resume``; ``{"reason": TEXT}``. A run or game day using this
                           proxy sees it in ``/health`` and stops (faults off, rollback, report)
``POST /resume``           take faults again after a halt
``GET /journal``           the journal as JSON lines (secrets redacted); ``?since=INDEX``
``GET /claim``             who holds the proxy: ``{"claim": {owner, title, kind, since,
                           expires_in, ttl}}`` or ``{"claim": null}``
``POST /claim``            hold the proxy (a run or game day does, for its whole life):
                           ``{"owner": ID, "title", "kind": "run"|"gameday", "ttl": S}``; 200
                           when free or already this owner's (a renewal), 409 with the holder
                           (no owner) when another's. Faults are not checked against it
``DELETE /claim/OWNER``    release it; 404 when OWNER holds no claim
=========================  =====================================================================
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from .._errors import ChaosError
from ..engine import Engine
from ..seams._proxy import Receive, Scope, Send
from ._board import FaultBoard, FaultLimit
from ._claim import ClaimHeld, Claims
from ._metrics import Metrics

__all__ = ["ControlApi"]

_MAX_BODY = 1 << 20
_ROUTES = ("GET /health, GET /metrics, GET|POST /faults, GET|PATCH|DELETE /faults/ID, POST /reset, POST /halt, "
           "POST /resume, GET /journal, GET|POST /claim, DELETE /claim/OWNER")


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlApi:
    """The control plane as an ASGI app over one proxy's board, engine and metrics."""

    def __init__(self, board: FaultBoard, engine: Engine, metrics: Metrics, token: str,
                 health: Callable[[], dict[str, Any]], claims: Claims | None = None) -> None:
        self.board = board
        self.claims = claims or Claims(max_ttl=board.max_ttl)
        self.engine = engine
        self.metrics = metrics
        self.token = token
        self.health = health
        #: Why the kill switch was pulled (``POST /halt``), or None.
        self.halted: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"].rstrip("/") or "/"
        try:
            if path == "/health" and method == "GET":
                claim = self.claims.current()
                await _json(send, 200, {**self.health(), "halted": self.halted,
                                        "claim": claim.to_dict(owner=False) if claim is not None else None})
                return
            if path == "/metrics" and method == "GET":
                body, kind = self.metrics.render()
                await _send(send, 200, body, kind)
                return
            self._authorize(scope)
            body = await _body(receive)
            await self._route(method, path, body, scope, send)
        except _Refusal as refusal:
            extra = [(b"www-authenticate", b'Bearer realm="chaoskit"')] if refusal.status == 401 else []
            await _json(send, refusal.status, {"error": str(refusal)}, extra)

    def _authorize(self, scope: Scope) -> None:
        given = b""
        for name, value in scope["headers"]:
            if name.lower() == b"authorization":
                given = value
        scheme, _, token = given.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.token.encode()):
            raise _Refusal(401, "the control API needs the proxy's token: send 'Authorization: Bearer TOKEN' "
                                "(the token the proxy was started with, --token or CHAOSKIT_PROXY_TOKEN)")

    async def _route(self, method: str, path: str, body: bytes, scope: Scope, send: Send) -> None:
        now = self.board.clock()
        if path == "/faults":
            if method == "GET":
                await _json(send, 200, {"faults": [a.to_dict(now) for a in self.board.list()]})
                return
            if method == "POST":
                if self.halted is not None:
                    raise _Refusal(409, f"the proxy is halted ({self.halted}): it puts no fault on; "
                                        "POST /resume when it is safe to go on")
                try:
                    active = self.board.add(_parsed(body))
                except FaultLimit as exc:
                    raise _Refusal(409, str(exc)) from None
                except ChaosError as exc:
                    raise _Refusal(400, f"POST /faults: {exc}") from None
                await _json(send, 201, active.to_dict(now))
                return
            raise _Refusal(405, f"{method} /faults is not supported; use GET or POST")
        if path.startswith("/faults/"):
            fault_id = path.removeprefix("/faults/")
            if method == "DELETE":
                gone = self.board.remove(fault_id)
                if gone is None:
                    raise _Refusal(404, f"no fault {fault_id!r} is on (it may have expired); GET /faults lists them")
                await _json(send, 200, {"removed": gone.to_dict(now)})
                return
            if method == "PATCH":
                ttl = _parsed(body).get("ttl") if body else None
                try:
                    active = self.board.renew(fault_id, ttl)
                except KeyError:
                    raise _Refusal(404, f"no fault {fault_id!r} is on (it may have expired); put it on again") from None
                except ChaosError as exc:
                    raise _Refusal(400, f"PATCH /faults/{fault_id}: {exc}") from None
                await _json(send, 200, active.to_dict(now))
                return
            if method == "GET":
                found = next((a for a in self.board.list() if a.id == fault_id), None)
                if found is None:
                    raise _Refusal(404, f"no fault {fault_id!r} is on")
                await _json(send, 200, found.to_dict(now))
                return
            raise _Refusal(405, f"{method} /faults/ID is not supported; use GET, PATCH or DELETE")
        if path == "/reset" and method == "POST":
            seed = _parsed(body).get("seed") if body else None
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise _Refusal(400, f"POST /reset: seed={seed!r} must be a whole number")
            removed = self.board.reset()
            if seed is not None:
                self.engine.seed = seed
            await _json(send, 200, {"removed": [a.id for a in removed], "seed": self.engine.seed})
            return
        if path == "/halt" and method == "POST":
            reason = _parsed(body).get("reason") if body else None
            self.halted = str(reason or "the kill switch on the proxy's control API")[:200]
            removed = self.board.reset()
            await _json(send, 200, {"halted": self.halted, "removed": [a.id for a in removed]})
            return
        if path == "/resume" and method == "POST":
            was, self.halted = self.halted, None
            await _json(send, 200, {"resumed": was is not None})
            return
        if path == "/claim" or path.startswith("/claim/"):
            await self._claim(method, path, body, send)
            return
        if path == "/journal" and method == "GET":
            query = parse_qs((scope.get("query_string") or b"").decode())
            try:
                since = int(query.get("since", ["0"])[0])
            except ValueError:
                raise _Refusal(400, "GET /journal: since must be a journal index (a whole number)") from None
            lines = [json.dumps(c.to_dict(), default=str) for c in self.engine.calls if c.index >= since]
            await _send(send, 200, ("\n".join(lines) + ("\n" if lines else "")).encode(), "application/x-ndjson")
            return
        raise _Refusal(404, f"no route {method} {path}; the control API has {_ROUTES}")

    async def _claim(self, method: str, path: str, body: bytes, send: Send) -> None:
        if path == "/claim" and method == "GET":
            claim = self.claims.current()
            await _json(send, 200, {"claim": claim.to_dict(owner=True) if claim is not None else None})
            return
        if path == "/claim" and method == "POST":
            try:
                claim, renewed = self.claims.take(_parsed(body))
            except ClaimHeld as held:
                await _json(send, 409, {"error": str(held), "claim": held.claim.to_dict(owner=False)})
                return
            except ChaosError as exc:
                raise _Refusal(400, f"POST /claim: {exc}") from None
            await _json(send, 200, {"claim": claim.to_dict(owner=True), "renewed": renewed})
            return
        if path.startswith("/claim/") and method == "DELETE":
            owner = path.removeprefix("/claim/")
            gone = self.claims.release(owner)
            if gone is None:
                raise _Refusal(404, f"{owner!r} holds no claim on this proxy (it may have expired); GET /claim shows who does")
            await _json(send, 200, {"released": gone.to_dict(owner=True)})
            return
        allowed = "DELETE" if path.startswith("/claim/") else "GET or POST"
        raise _Refusal(405, f"{method} {'/claim/OWNER' if path.startswith('/claim/') else '/claim'} is not supported; use {allowed}")


def _parsed(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body) if body else None
    except ValueError as exc:
        raise _Refusal(400, f"the request body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _Refusal(400, "the request body must be a JSON object")
    return value


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            raise _Refusal(413, f"the request body is over {_MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(send: Send, status: int, value: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send(send, status, json.dumps(value, default=str).encode(), "application/json", extra)


async def _send(send: Send, status: int, body: bytes, kind: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

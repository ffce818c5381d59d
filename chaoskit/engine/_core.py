"""The decision core: for every intercepted request, what happens to it, decided in one place.

Every seam (httpx and httpx2, requests, aiohttp, botocore, MCP over stdio, patched callables,
and the proxy to come) turns its client's request into a :class:`CallRequest` and asks
:meth:`Engine.decide`. The engine picks the fault that fires (:func:`choose`), has the
provider profile render the plan, writes the journal entry (redacted) and returns a
:class:`Decision`: play this plan, pass the request through, or block it. It holds the
session's state (seed, clock, journal, injections, scripts, replies, cold starts, routes and
allowed hosts) and knows no client library.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .._clock import Clock
from .._errors import ChaosConfigError
from .._fault import Fault
from .._journal import Call, Journal
from .._replies import ReplyQueue, ToolCall
from .._schedule import Schedule
from .._urls import UrlPattern
from ..providers._coldstart import ColdStarts, Loads
from ..providers._plan import Forward, Plan, Relay, Upstream, plan_status, respond_with
from ..providers._profile import CallRequest, RenderContext, UpstreamAnswer
from ..providers._usage import UsageMeter
from ._choose import NONE, Choice, choose, decision_rng
from ._decision import Decision, OnEnd
from ._injections import Injection, Script
from ._record import error_body, journal_body, request_key, retry_after, retry_count

__all__ = ["LOOPBACK", "PLACES", "SCOPED", "Engine", "Route", "tool_request"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: Where a request can be seen: an HTTP request; a JSON-RPC message to an MCP server on stdio
#: (``url`` is ``stdio://COMMAND``); a call of a patched callable (``url`` is its target).
PLACES = ("http", "stdio", "tool")
#: Fault namespaces that act on requests matching a URL pattern rather than on a provider's host.
SCOPED = ("http", "mcp")
#: How many requests ``seen_requests`` keeps, for the message about a pattern nothing matched.
SEEN_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Route:
    """Requests whose URL starts with ``prefix`` are ``provider``'s; with ``real``, the URL is a
    real server: calls no fault takes go to it, and faults act on its answers."""

    prefix: str
    provider: str
    real: bool = False


def _nothing(what: str) -> None:
    return None


class Engine:
    """The state of one chaos session and the one place its decisions are made.

    ``on_real(what)`` is called before a request is let through to the real network (a front
    end refuses it there under virtual time). ``journal_keep``: how many journal entries a
    long-running engine (the proxy's) keeps; None: all. ``passed_bodies``: journal the request
    body of a call passed to a real server with no fault (False: a summary, its model, message
    count and size, so the proxy does not redact every body of live traffic). ``loads``: where
    cold-start loads are kept (the proxy's replicas share them); None: in memory.
    """

    #: How many distinct requests the call keys count before the counts start again (a long-running
    #: engine sees endless distinct requests; identical ones in a burst still get distinct keys).
    KEY_MEMORY = 100_000

    def __init__(self, *, seed: int, scope: str = "", enabled: bool = True, clock: Clock,
                 allow_hosts: Iterable[str] = (), journal_keep: int | None = None, passed_bodies: bool = True,
                 loads: Loads | None = None) -> None:
        self.seed = seed
        self.scope = scope
        self.enabled = enabled
        self.clock = clock
        self.calls = Journal(keep=journal_keep)
        self.passed_bodies = passed_bodies
        self.injections: list[Injection] = []
        self.scripts: list[Script] = []
        self.replies: dict[str, ReplyQueue] = {}
        self.allowed: set[str] = {h.lower() for h in (*LOOPBACK, *allow_hosts)}
        self.routes: list[Route] = []
        self.http_replies: list[tuple[UrlPattern, Upstream]] = []
        self.blocked: list[Call] = []
        #: Side traffic from background threads answered and kept out of the journal, by
        #: ``"PROVIDER METHOD PATH"`` (openai-agents' trace posts): see ``Profile.background``.
        self.side_traffic: Counter[str] = Counter()
        #: Errors in how a fault was set up that surfaced during a call (a drift that cannot
        #: apply): raised to the caller, and kept so a test that swallowed them still fails.
        self.config_errors: list[Exception] = []
        self.seen_requests: list[str] = []  # "METHOD URL" of requests seen once a fault has a url, capped
        self.scoped = False  # whether any injection is scoped by url or target
        self.on_real: Callable[[str], None] = _nothing
        self.started = clock.now()
        self._last_call: dict[str, float] = {}
        self._cold: Loads = loads if loads is not None else ColdStarts()
        self._keys: Counter[str] = Counter()
        self._lock = threading.RLock()

    @property
    def secrets(self) -> frozenset[str]:
        """The credential values seen in requests (headers, secret query parameters and body
        keys): hidden in the journal wherever they appear, looked for in leaks."""
        return self.calls.redactor.known

    @property
    def elapsed(self) -> float:
        return self.clock.now() - self.started

    # ---- configuration --------------------------------------------------------------------
    def add(self, injection: Injection) -> None:
        with self._lock:
            self.injections.append(injection)
            self.scoped = self.scoped or injection.url is not None or injection.target is not None

    def add_script(self, script: Script) -> None:
        with self._lock:
            self.scripts.append(script)

    def set_replies(self, provider: str, queue: ReplyQueue) -> None:
        with self._lock:
            self.replies[provider] = queue

    def add_http_reply(self, pattern: UrlPattern, reply: Upstream) -> None:
        with self._lock:
            self.http_replies.insert(0, (pattern, reply))

    def allow(self, *hosts: str) -> None:
        self.allowed.update(h.lower() for h in hosts)

    def answers_real(self) -> bool:
        """Whether some calls may be a real server's to answer (a real route, a provider host let through)."""
        return any(r.real for r in self.routes) or bool(self.allowed - set(LOOPBACK))

    def add_route(self, route: Route) -> None:
        with self._lock:
            self.routes.insert(0, route)

    def remove(self, injection: Injection) -> bool:
        """Stop ``injection`` (a proxy fault removed or expired); whether it was there."""
        with self._lock:
            for i, inj in enumerate(self.injections):
                if inj is injection:
                    del self.injections[i]
                    return True
            return False

    # ---- deciding -------------------------------------------------------------------------
    def decide(self, req: CallRequest, *, place: str = "http", local: Upstream | None = None,
               read_timeout: float | None = None, fault: Fault | None = None, route: Route | None = None) -> Decision:
        """What happens to ``req``, seen at ``place`` (see :data:`PLACES`).

        ``local``: an answer the seam already has for it (a route of ``chaos.router``), served
        like a canned reply. ``read_timeout``: the client's, for the journal. ``fault``: a model
        provider's fault this one request asked for (the proxy's ``x-chaoskit-fault`` header),
        in place of the injections' choice. ``route``: the route the seam already knows ``req`` is
        on (the proxy's upstream), in place of looking one up by URL.
        """
        if place == "tool":
            return self._tool(req)
        if place == "stdio":
            return self._stdio(req)
        if place != "http":
            raise ValueError(f"place={place!r} must be one of {', '.join(PLACES)}")
        if self.scoped and len(self.seen_requests) < SEEN_LIMIT:  # only unmatched() reports them
            self.seen_requests.append(self._shown(req))
        if fault is None:
            decided = self._scoped_http(req, local, read_timeout)
            if decided is not None:
                return decided
        return self._provider(req, read_timeout, fault, route)

    def _key(self, place: str, digest: str) -> str:
        """The call's key: what was asked (``digest``, its :func:`request_key`), and how many
        times the same was asked before. Equal requests are interchangeable, so however
        concurrent calls interleave, the n-th of them gets the same key, and so the same decisions."""
        base = f"{place} {digest}"
        with self._lock:
            if len(self._keys) >= self.KEY_MEMORY:
                self._keys.clear()
            self._keys[base] += 1
            return f"{base} #{self._keys[base]}"

    def _rng(self, key: str) -> Callable[[str], random.Random]:
        return lambda salt: decision_rng(self.seed, self.scope, key, salt)

    def _idle(self, place: str, now: float, *, touch: bool = True) -> float | None:
        """Seconds since the previous call to ``place`` (None: the first); ``touch`` counts this one."""
        last = self._last_call.get(place)
        if touch:
            self._last_call[place] = now
        return None if last is None else now - last

    def _shown(self, req: CallRequest) -> str:
        """``METHOD URL`` of a request for a message, its secrets hidden (a ``?key=`` in the URL)."""
        return f"{req.method} {self.calls.redactor.text(req.url)}"

    def _note(self, call: Call) -> str:
        return f"chaoskit: injected {call.fault} on {call.method} {call.url} [seed={self.seed}]"

    def _ending(self, now: float, meter: UsageMeter | None = None) -> OnEnd:
        """The call's end callback: the one place a call closes (seams call it with ``final=False``
        for the time to headers). Closing reads the usage meter first, so ``closed`` sees it."""
        clock, journal = self.clock, self.calls

        def on_end(call: Call, final: bool = True) -> None:
            if not final:
                call.duration = clock.now() - now
            elif journal.is_open(call):
                call.duration = clock.now() - now
                if meter is not None:
                    call.usage = meter.usage()
                journal.close(call)

        return on_end

    def _open(self, req: CallRequest, *, provider: str | None, fault: Fault | None, now: float,
              plan: Plan | None = None, read_timeout: float | None = None, **fields: Any) -> Call:
        """Write the journal entry of one call: the only place entries are opened."""
        status = plan_status(plan) if plan else None
        if req.headers:
            fields.setdefault("request_headers", req.headers)  # the journal redacts them
            fields.setdefault("retry_count", retry_count(req.headers))
        if "request_body" not in fields:  # a passed call's summary is given: its body is not copied
            fields["request_body"] = journal_body(req)
        if plan:
            fields.setdefault("retry_after", retry_after(plan))
            if status is not None and status >= 400:
                fields.setdefault("response_body", error_body(plan))
        return self.calls.open(
            provider=provider, method=fields.pop("method", req.method), url=fields.pop("url", req.url),
            fault=fault.id if fault else None, effect=fault.effect if fault else None, started=now - self.started,
            read_timeout=read_timeout, **fields,
        )

    def _failed_setup(self, exc: ChaosConfigError, req: CallRequest, fault: Fault | None, now: float, provider: str) -> None:
        """Journal a call whose fault could not be applied, and keep the error for teardown."""
        self.config_errors.append(exc)
        self.calls.close(self._open(req, provider=provider, fault=fault, now=now, error=type(exc).__name__))

    def _block(self, req: CallRequest, reason: str, now: float) -> Decision:
        call = self.calls.open(provider=None, method=req.method, url=req.url, request_body=None, error="Unrouted",
                               started=now - self.started)
        self.calls.close(call)  # it ends here: nothing plays it
        self.blocked.append(call)
        return Decision("block", call=call, reason=reason)

    # -- requests a URL pattern is for (http.*, mcp.* over HTTP, canned replies) --
    def _scoped_http(self, req: CallRequest, local: Upstream | None, read_timeout: float | None) -> Decision | None:
        if local is None and not self.http_replies and not self.scoped:
            return None  # the common case, decided without looking at the injections
        method, url = req.method, req.url
        candidates = [
            (i, inj) for i, inj in enumerate(self.injections)
            if inj.fault.provider in SCOPED and inj.url is not None and inj.url.matches(method, url, req)
        ]
        blasted = any(inj.blast is not None for _, inj in candidates)
        reply = local if local is not None else next(
            (r for pattern, r in self.http_replies if pattern.matches(method, url, req)), None,
        )
        if not candidates and reply is None:
            return None
        profiles = _scoped_profiles()
        with self._lock:
            now = self.clock.now()
            place = f"{url.split(':', 1)[0]} {req.host}"  # idle time and cold starts count per host
            idle = self._idle(place, now)
            digest = request_key(req)
            rng = self._rng(self._key("http", digest))
            if blasted:
                candidates = _in_blast(candidates, req, None, rng)
            choice = choose(candidates, applies=lambda f: profiles[f.provider].applies(f, req, idle), place=place,
                            now=now, elapsed=now - self.started, idle=idle, cold=self._cold, rng=rng) if self.enabled else NONE
            fault = choice.fault
            if fault is None and reply is None:
                return None  # no fault this time: served as any other request
            ctx = RenderContext(ident=f"chaoskit{self.calls.written:05d}", rng_source=lambda: rng("render"), idle=idle,
                                take_reply=lambda: "", cold=choice.phase, answer=reply, where=self._shown(req))
            try:
                if fault is not None:
                    plan = profiles[fault.provider].render(fault, req, ctx)
                else:
                    assert reply is not None  # else returned above
                    plan = respond_with(reply)
            except ChaosConfigError as exc:
                self._failed_setup(exc, req, fault, now, fault.provider if fault else "http")
                raise
            if any(isinstance(step, Forward) for step in plan):
                self.on_real(f"{self._shown(req)} (to fetch the real answer for {fault.id if fault else 'it'})")
            call = self._open(req, provider=fault.provider if fault else "http", fault=fault, now=now, plan=plan,
                              read_timeout=read_timeout, request_key=digest)
        return Decision("play", plan, call, fault, note=self._note(call), on_end=self._ending(now), rngs=rng)

    # -- model providers --
    def _target(self, req: CallRequest, known: Route | None = None) -> tuple[Any, bool] | str:
        """(the profile that serves ``req``, whether its answers are a real server's), or the
        reason it passes through untouched ("" when it is blocked instead)."""
        from ..providers import for_host, profile

        if known is not None:
            return profile(known.provider), known.real
        for route in self.routes:
            if req.url.startswith(route.prefix):
                return profile(route.provider), route.real
        host = req.host.lower()
        found = for_host(host)
        if host in self.allowed:
            if found is not None and self._has_faults_for(found.name):
                return found, True
            return f"chaoskit lets {host} through"
        if found is None:
            return ""
        return found, False

    def _background(self, req: CallRequest, provider: str, plan: Plan) -> Decision:
        """Answer side traffic sent from a background thread (``Profile.background``): counted in
        :attr:`side_traffic`, not journaled, so ``chaos.calls`` holds the same calls in every run."""
        with self._lock:
            self.side_traffic[f"{provider} {req.method} {req.path}"] += 1
        # the player records the response on a call: this one is kept out of the journal
        call = Call(index=-1, provider=provider, method=req.method, url=req.url, request_body=None)
        return Decision("play", plan, call, reason="side traffic from a background thread")

    def _has_faults_for(self, provider: str) -> bool:
        return any(i.fault.provider == provider for i in self.injections) or any(provider in s.providers for s in self.scripts)

    def _provider(self, req: CallRequest, read_timeout: float | None, forced: Fault | None = None,
                  route: Route | None = None) -> Decision:
        target = self._target(req, route)
        if isinstance(target, str):
            now = self.clock.now()
            if target == "":
                return self._block(req, "", now)
            self.on_real(self._shown(req))
            return Decision("pass", reason=target)
        profile, real = target
        quiet = None if real else profile.background(req)
        if quiet is not None:
            return self._background(req, profile.name, quiet)
        with self._lock:
            now = self.clock.now()
            side = profile.side_request(req)  # not a model call: no fault, and the model's idle time goes on
            idle = self._idle(profile.name, now, touch=not side)
            queue = self.replies.setdefault(profile.name, ReplyQueue())
            digest = request_key(req)
            rng = self._rng(self._key("http", digest))
            if forced is not None and forced.provider != profile.name:
                raise ChaosConfigError(
                    f"fault {forced.id!r} is for {forced.provider}, but {self._shown(req)} goes to {profile.name}; "
                    f"ask for one of {profile.name}'s faults (chaoskit faults '{profile.name}.*')"
                )
            if side or not self.enabled:
                choice = NONE
            elif forced is not None:
                once = Schedule()
                choice = choose([(-1, Injection(forced, once, once.start()))], applies=lambda f: True, place=profile.name,
                                now=now, elapsed=now - self.started, idle=idle, cold=self._cold, rng=rng)
            else:
                choice = self._provider_choice(profile, req, idle, now, queue, rng, real)
            fault = choice.fault
            if fault is None and real:
                self.on_real(self._shown(req))
                extra: dict[str, Any] = {} if self.passed_bodies else {"request_body": _summary(req, profile.model_of(req))}
                call = self._open(req, provider=profile.name, fault=None, now=now, read_timeout=read_timeout,
                                  stream=req.stream, endpoint=profile.endpoint(req), request_key=digest,
                                  detail="passed through to the real server", **_asked(profile, req), **extra)
                meter = profile.usage_meter(req)
                return Decision("pass", call=call, reason=f"no fault for this call to {req.host}: the real server answers",
                                on_end=self._ending(now, meter), meter=meter)
            if fault is None and profile.endpoint(req) is None:
                return self._block(req, _unsimulated(req, profile.name), now)
            ctx = RenderContext(ident=f"chaoskit{self.calls.written:05d}", rng_source=lambda: rng("render"), idle=idle,
                                take_reply=lambda: profile.settle(queue.take(), req), cold=choice.phase, upstream=real)
            try:
                plan = profile.healthy(req, ctx) if fault is None else profile.render(fault, req, ctx)
            except UpstreamAnswer as why:
                exc = ChaosConfigError(
                    f"{fault.id if fault else 'a healthy reply'} cannot act on {self.calls.redactor.text(req.url)}, a real server whose answers "
                    f"chaoskit passes through: {why}; inject it where chaoskit simulates the model (without allow_host "
                    "or route(..., real=True) for this URL), or use a fault that works on real answers (a status, a "
                    "timeout, a reset, latency, a broken stream, a malformed body)"
                )
                self._failed_setup(exc, req, fault, now, profile.name)
                raise exc from None
            except ChaosConfigError as exc:
                self._failed_setup(exc, req, fault, now, profile.name)
                raise
            if any(isinstance(step, (Forward, Relay)) for step in plan):
                self.on_real(f"{self._shown(req)} (the real server's answer, under {fault.id if fault else 'no fault'})")
            status = plan_status(plan)
            call = self._open(
                req, provider=profile.name, fault=fault, now=now, plan=plan, read_timeout=read_timeout,
                stream=req.stream, endpoint=profile.endpoint(req), request_key=digest,
                text=ctx.text if status is not None and status < 400 else None, complete=ctx.complete,
                **_asked(profile, req),
            )
        give_back = queue.give_back if ctx.took_reply else None
        meter = profile.usage_meter(req)
        return Decision("play", plan, call, fault, note=self._note(call), give_back=give_back,
                        on_end=self._ending(now, meter), rngs=rng, meter=meter)

    def _provider_choice(self, profile: Any, req: CallRequest, idle: float | None, now: float, queue: ReplyQueue,
                         rng: Callable[[str], random.Random], real: bool = False) -> Choice:
        drifts = _drifts(queue, profile, req)
        candidates = [
            (i, inj) for i, inj in enumerate(self.injections)
            if inj.fault.provider == profile.name
            and (inj.url is None or inj.url.matches(req.method, req.url, req))
            and (inj.fault.effect != "schema_drift" or drifts)  # tool-call drift needs a tool call to drift
        ]
        if any(inj.blast is not None for _, inj in candidates):
            candidates = _in_blast(candidates, req, profile.model_of(req), rng)
        return choose(candidates, applies=lambda f: profile.applies(f, req, idle) and (not real or profile.applies_to_real(f, req)),
                      place=profile.name, now=now, elapsed=now - self.started, idle=idle, cold=self._cold, rng=rng,
                      scripts=self.scripts, scripted=profile.name)

    # -- MCP messages over stdio --
    def _stdio(self, req: CallRequest) -> Decision:
        """A JSON-RPC message to an MCP server over a stream: journaled only when a fault fires."""
        candidates = [
            (i, inj) for i, inj in enumerate(self.injections)
            if inj.fault.provider == "mcp" and inj.url is not None and inj.url.matches("POST", req.url)
        ]
        if not candidates:
            return Decision("pass", reason="no mcp.* fault is for this server")
        profiles = _scoped_profiles()
        message = req.json if isinstance(req.json, dict) else {}
        with self._lock:
            now = self.clock.now()
            place = f"stdio {req.host}"
            idle = self._idle(place, now)
            rng = self._rng(self._key("stdio", request_key(req)))
            choice = choose(candidates, applies=lambda f: profiles["mcp"].applies(f, req, idle), place=place, now=now,
                            elapsed=now - self.started, idle=idle, cold=self._cold, rng=rng) if self.enabled else NONE
            fault = choice.fault
            if fault is None:
                return Decision("pass", reason="no fault this time")
            ctx = RenderContext(ident=f"chaoskit{self.calls.written:05d}", rng_source=lambda: rng("render"), idle=idle,
                                take_reply=lambda: "", cold=choice.phase)
            call = self.calls.open(provider="mcp", method="RPC", url=req.url, request_body=message,
                                   fault=fault.id, effect=fault.effect, started=now - self.started)
            try:
                plan = profiles["mcp"].render(fault, req, ctx)
            except ChaosConfigError as exc:
                call.error = type(exc).__name__
                self.config_errors.append(exc)
                self.calls.close(call)
                raise
        return Decision("play", plan, call, fault, note=self._note(call), on_end=self._ending(now), rngs=rng)

    # -- patched callables --
    def _tool(self, req: CallRequest) -> Decision:
        """One call of a patched callable (``req.url`` is its target, ``req.json`` its arguments):
        always journaled; the fault, if one fires, is the seam's to apply."""
        target = req.url
        with self._lock:
            now = self.clock.now()
            rng = self._rng(self._key("tool", request_key(req)))
            candidates = [(i, inj) for i, inj in enumerate(self.injections) if inj.target == target]
            choice = choose(candidates, applies=lambda f: True, place=target, now=now, elapsed=now - self.started,
                            idle=None, cold=self._cold, rng=rng) if self.enabled else NONE
            call = self.calls.open(provider="tool", method="CALL", url=target, request_body=req.json,
                                   fault=choice.fault.id if choice.fault else None,
                                   effect=choice.fault.effect if choice.fault else None, started=now - self.started,
                                   side_effect=False)
        note = f"chaoskit: injected {choice.fault.id} on {target} [seed={self.seed}]" if choice.fault else ""
        return Decision("play", [], call, choice.fault, note=note, on_end=self._ending(now), rngs=rng)

    def change_value(self, value: Any, decision: Decision, *, where: str) -> Any:
        """A value (a tool's result) drifted or poisoned by the decision's fault; what changed is
        named in its journal entry. A fault that cannot apply is an error kept for teardown."""
        from .._drift import drift
        from .._poison import poison

        fault, call = decision.fault, decision.call
        assert fault is not None and call is not None
        p = fault.params
        try:
            if fault.effect == "poisoned":
                payload = str(p.get("payload") or "").replace("{canary}", str(p.get("canary") or ""))
                changed, call.detail = poison(value, decision.rng, payload=payload, path=p.get("path"), where=where)
            else:
                changed, what = drift(value, decision.rng, variant=p.get("variant"), path=p.get("path"), where=where)
                call.detail = what.description
        except ChaosConfigError as exc:
            call.error = type(exc).__name__
            self.config_errors.append(exc)
            raise
        return changed


def tool_request(target: str, arguments: Any) -> CallRequest:
    """The neutral request for one call of ``target`` with (JSON-ready) ``arguments``."""
    return CallRequest("CALL", target, {}, json.dumps(arguments, default=repr).encode(), host="", path="")


def _unsimulated(req: CallRequest, provider: str) -> str:
    return (
        f"chaoskit does not simulate {req.method} {req.path} for {provider}; "
        "inject a fault for it, or allow the host through with chaos.allow_host(HOST)"
    )


def _scoped_profiles() -> dict[str, Any]:
    from ..providers._http import HttpProfile
    from ..providers._mcp import McpProfile

    return {"http": HttpProfile(), "mcp": McpProfile()}


def _summary(req: CallRequest, model: str | None) -> dict[str, Any]:
    """What the journal keeps of a passed call's body when bodies are not kept: no text at all."""
    messages = req.json.get("messages") if isinstance(req.json, dict) else None
    return {"model": model, "messages": len(messages) if isinstance(messages, list) else None, "bytes": len(req.body)}


def _in_blast(candidates: list[tuple[int, Injection]], req: CallRequest, model: str | None,
              rng: Callable[[str], random.Random]) -> list[tuple[int, Injection]]:
    """The candidates whose blast radius takes ``req`` (each draws its percentage from its own RNG)."""
    return [
        (i, inj) for i, inj in candidates
        if inj.blast is None or inj.blast.matches(req.headers, model, req.path, lambda i=i: rng(f"blast {i}").random())  # type: ignore[misc]
    ]


def _drifts(queue: ReplyQueue | None, profile: Any, req: CallRequest) -> bool:
    """Whether the next simulated reply is a tool call with JSON arguments to drift."""
    try:
        reply = profile.settle(queue.peek(), req) if queue is not None else None
    except ChaosConfigError:  # a structured reply this request cannot take: rendering says so
        return False
    first = reply[0] if isinstance(reply, tuple) else reply
    return isinstance(first, ToolCall) and not isinstance(first.arguments, str)


def _asked(profile: Any, req: CallRequest) -> dict[str, Any]:
    """What the journal records of a model request: the model asked for, the user turn it answers."""
    return {"model": profile.model_of(req), "turn": profile.turn_of(req)}

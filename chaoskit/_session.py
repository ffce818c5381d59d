"""A chaos session: injected faults, simulated replies and the journal for one test or run.

``Chaos`` is the engine's front door. The pytest plugin makes one per test; scripts use it
directly::

    with chaoskit.Chaos(seed=7) as chaos:
        chaos.inject("openai.rate_limit", times=2)
        chaos.reply("openai", "Your order has shipped.")
        app.answer("Where is my order?")
    print(chaos.calls)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import faults as _faults
from ._clock import Clock, RealClock
from ._errors import ChaosConfigError, UnroutedRequestError
from ._fault import Fault
from ._journal import Call, Journal, parse_body, redact_body, redact_headers
from ._replies import ReplyQueue
from ._rng import derive_rng, new_session_seed
from ._schedule import Schedule, ScheduleState
from ._urls import UrlPattern
from ._watch import Watch
from .providers._coldstart import ColdStarts, Phase
from .providers._plan import Forward, Plan, Respond, Send, Upstream, plan_status
from .seams._bypass import bypassing

if TYPE_CHECKING:
    import httpx
    import respx

    from .providers import CallRequest, Profile

__all__ = ["Chaos", "Injection"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Script:
    """An explicit fault per call: each call to one of ``providers`` takes the next step.

    A step is a Fault or None (the call passes). Calls past the last step pass. Made by
    ``chaos.script([...])``; hypothesis builds them with ``chaoskit.strategies.schedules()``.
    """

    steps: tuple[Fault | None, ...]
    providers: frozenset[str]
    position: int = 0

    def __repr__(self) -> str:
        return "Script([" + ", ".join(s.id if s else "pass" for s in self.steps) + "])"


@dataclass(frozen=True)
class Injection:
    """A fault injected into a session with its schedule; ``fired`` counts its injections."""

    fault: Fault
    schedule: Schedule
    state: ScheduleState
    url: UrlPattern | None = None
    target: str | None = None

    @property
    def fired(self) -> int:
        return self.state.fired


class Chaos:
    """Injects faults into every HTTP call a provider SDK makes while the session is active.

    ``seed``: the session seed (a fresh one when None); with ``scope`` (a test id) it gives
    the RNG, so the same seed and scope give the same faults. ``enabled=False`` keeps the
    simulation but injects nothing (``--chaos-off``). ``clock``: where latency waits; a
    virtual one (:class:`chaoskit.VirtualClock`, :class:`chaoskit.LoopClock`) is installed
    while the session runs, and then every real network connection is refused, or let
    through with a warning when ``real_io="warn"`` (the sync clock then goes on in real time).
    ``toxiproxy_url``: the Toxiproxy server ``chaos.network`` uses (defaults to
    ``CHAOSKIT_TOXIPROXY_URL``, else chaoskit's embedded server).
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        scope: str = "",
        enabled: bool = True,
        clock: Clock | None = None,
        allow_hosts: Iterable[str] = (),
        real_io: str = "refuse",
        toxiproxy_url: str | None = None,
    ) -> None:
        self.seed = new_session_seed() if seed is None else int(seed)
        self.scope = scope
        self.enabled = enabled
        self.clock: Clock = clock or RealClock()
        self.rng = derive_rng(self.seed, scope)
        self.calls = Journal()
        self.injections: list[Injection] = []
        self._replies: dict[str, ReplyQueue] = {}
        self._allowed: set[str] = {h.lower() for h in (*LOOPBACK, *allow_hosts)}
        self._routes: list[tuple[Any, str]] = []  # (respx pattern, provider name)
        self._last_call: dict[str, float] = {}
        self._cold = ColdStarts()  # each cold-starting model's load
        self._lock = threading.RLock()
        self._started = self.clock.now()
        self._seam: Any = None
        self._guard: Any = None  # the SocketGuard while a virtual clock is installed
        if real_io not in ("refuse", "warn"):
            raise ChaosConfigError(f"real_io={real_io!r} must be 'refuse' or 'warn'")
        self.real_io = real_io
        self._refused_io: list[str] = []
        self.toxiproxy_url = toxiproxy_url  # None: CHAOSKIT_TOXIPROXY_URL, else the embedded server
        self._network: Any = None
        self._extra_seams: list[Any] = []  # seams for other clients (requests), entered after _seam
        self._router: respx.Router | None = None
        self.blocked: list[Call] = []
        self.secrets: set[str] = set()
        self.scripts: list[Script] = []
        self.watches: list[Watch] = []
        self.configured_replies: set[str] = set()
        self.user_texts: list[str] = []
        self.canaries: set[str] = set()
        self._restores: list[Any] = []
        self._http_replies: list[tuple[UrlPattern, Upstream]] = []
        self._tool_targets: set[str] = set()
        self._mcp_stdio = False  # whether the MCP stdio seam is installed (on the first mcp.* fault)
        #: Errors in how a fault was set up that surfaced during a call (a drift that cannot
        #: apply): raised to the caller, and kept so a test that swallowed them still fails.
        self.config_errors: list[Exception] = []
        self.seen_requests: list[str] = []  # "METHOD URL" of requests seen once a fault has a url, capped
        self._scoped = False  # whether any injection is scoped by url or target

    # ---- configuration ------------------------------------------------------------------
    def inject(
        self,
        fault: Fault | str,
        *,
        rate: float = 1.0,
        times: int | None = None,
        after: int = 0,
        window: tuple[float, float | None] | None = None,
        sequence: Iterable[object] | str | None = None,
        url: Any = None,
        method: str | None = None,
        target: str | None = None,
        **params: Any,
    ) -> Injection:
        """Add a fault for the rest of the session; see :class:`Schedule` for the timing.

        ``params`` override the fault's parameters (``inject("openai.latency", seconds=3)``).
        ``url`` (and ``method``) say which HTTP requests an ``http.*`` fault is for, and
        narrow a provider fault to some of its requests; see :mod:`chaoskit._urls` for the
        patterns. ``target`` is the callable a ``tool.*`` fault patches
        (``"myapp.tools:lookup_order"``, ``"myapp.crm:Client.search"``).
        """
        resolved = _faults.resolve(fault)
        if params:
            resolved = resolved.with_params(**params)
        pattern, tool_target = self._scope(resolved, url, method, target)
        if resolved.effect == "poisoned" and not resolved.params.get("canary"):
            resolved = resolved.with_params(canary=self.canary())  # assert_graceful watches for it
        schedule = Schedule(
            rate=rate, times=times, after=after, window=window,
            sequence=tuple(sequence) if sequence is not None and not isinstance(sequence, str) else sequence,  # type: ignore[arg-type]
        )
        injection = Injection(resolved, schedule, schedule.start(), pattern, tool_target)
        self._scoped = self._scoped or pattern is not None or tool_target is not None
        if tool_target is not None and tool_target not in self._tool_targets:
            from .seams._callable import install

            self._restores.append(install(self, tool_target))
            self._tool_targets.add(tool_target)
        if resolved.provider == "mcp":
            self._cover_mcp_stdio()
        with self._lock:
            self.injections.append(injection)
        return injection

    def _cover_mcp_stdio(self) -> None:
        """Route MCP stdio clients through the session (once; a no-op without the mcp package)."""
        if self._mcp_stdio:
            return
        self._mcp_stdio = True
        from .seams._mcp_stdio import install

        try:
            self._restores.append(install(self))
        except ImportError:  # the mcp package is not installed: no stdio clients to cover
            pass

    def _scope(self, fault: Fault, url: Any, method: str | None, target: str | None) -> tuple[UrlPattern | None, str | None]:
        """Check where ``fault`` may act: http faults need a url, tool faults a target."""
        kind = fault.provider
        if kind == "tool":
            if target is None:
                raise ChaosConfigError(
                    f"{fault.id} needs target=: the callable to patch, such as "
                    "target='myapp.tools:lookup_order'"
                )
            if url is not None or method is not None:
                raise ChaosConfigError(f"{fault.id} acts on a callable: give target=, not url= or method=")
            if fault.effect in ("tool.raise", "tool.raise_after"):
                from .seams._callable import build_exception

                build_exception(fault)  # a bad exception= is an error now, not at the first call
            return None, target
        if kind == "net":
            raise ChaosConfigError(
                f"{fault.id} acts on a TCP proxy: add it with chaos.network.proxy(NAME, "
                f"upstream='HOST:PORT').add({fault.id!r})"
            )
        if target is not None:
            raise ChaosConfigError(
                f"target= is for tool.* faults; {fault.id} acts on HTTP requests (narrow it with url=)"
            )
        if kind in _SCOPED:
            if url is None:
                example = "http://127.0.0.1:8000/mcp" if kind == "mcp" else "https://crm.internal/*"
                raise ChaosConfigError(f"{fault.id} needs url=: the requests it is for, such as url={example!r}")
            if kind == "mcp":
                from .providers._mcp import McpProfile

                McpProfile.check(fault)
        else:
            from .providers import profile

            profile(kind)  # an unknown provider is an error now, not a silent no-op
            if isinstance(url, str):
                self._check_profile_fits(fault, url)
        if url is None and method is not None:
            raise ChaosConfigError(f"method={method!r} needs url= as well")
        return (UrlPattern(url, method) if url is not None else None), None

    def _check_profile_fits(self, fault: Fault, url: str) -> None:
        """A provider fault narrowed to a URL another provider serves is an error, not a no-op."""
        from urllib.parse import urlsplit

        from .providers import for_host

        host = (urlsplit(url.replace("*", "chaoskitstar")).hostname or "").lower()
        if "chaoskitstar" in host:
            return  # a host pattern: nothing definite to check
        served = for_host(host)
        routed = any(provider == fault.provider for _, provider in self._routes)  # a gateway the test routes
        if served is not None and served.name != fault.provider and not routed:
            raise ChaosConfigError(
                f"{fault.id} cannot act on {url}: the {served.name} profile serves {host}, so "
                f"{fault.provider} faults never meet its calls; use {served.name}.* faults there, or serve "
                f"the URL as {fault.provider} with chaos.route(URL, provider={fault.provider!r})"
            )

    def script(self, steps: Iterable[Fault | str | None], *, providers: Iterable[str] | None = None) -> Script:
        """Give each call, in order, the next step: a fault (id or Fault) or None to pass.

        ``providers`` defaults to the providers the steps' faults name; each call to one
        of them takes the next step. A script is consulted before ``inject``-ed faults.
        """
        from .providers import profile

        resolved = tuple(None if s is None else _faults.resolve(s) for s in steps)
        names = frozenset(providers) if providers is not None else frozenset(f.provider for f in resolved if f)
        for name in names:
            profile(name)
        script = Script(resolved, names)
        with self._lock:
            self.scripts.append(script)
        return script

    def watch(self, target: str, *, idempotent: bool = True) -> Watch:
        """Record every call to ``target`` (``"pkg.module:function"``, ``"pkg.mod:Class.method"``)
        for the rest of the session, without changing what it does.

        ``idempotent=False`` marks a side effect that must not run twice for one request
        (a payment, an order): repeating it after a fault is the ``duplicate_side_effect``
        verdict.
        """
        from ._watch import install, resolve_target

        owner, name = resolve_target(target)
        watch = Watch(target, idempotent)
        self._restores.append(install(watch, owner, name, lambda: self.elapsed))
        self.watches.append(watch)
        return watch

    def reply(self, provider: str, *replies: object) -> None:
        """Set the healthy simulated replies for ``provider``: used in order, the last repeats."""
        from .providers import profile

        profile(provider)
        if not replies:
            raise ChaosConfigError(f"chaos.reply({provider!r}) needs at least one reply")
        queue = ReplyQueue()
        queue.set(replies)
        with self._lock:
            self._replies[provider] = queue
            self.configured_replies.add(provider)

    def reply_http(
        self,
        url: Any,
        *,
        json: Any = None,
        text: str | None = None,
        content: bytes | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> None:
        """Answer requests matching ``url`` (and ``method``) with a canned reply.

        Give at most one of ``json``, ``text`` or ``content``. ``http.*`` faults on these
        requests change this reply (schema drift drifts it); calls they leave alone get
        it as it is. The latest reply for a URL wins.
        """
        import json as _json

        from .providers._http import canned

        given = [name for name, value in (("json", json), ("text", text), ("content", content)) if value is not None]
        content_type: str | None
        if len(given) > 1:
            raise ChaosConfigError(f"reply_http({url!r}): give one of json=, text= or content=, not {' and '.join(given)}")
        if json is not None:
            body, content_type = _json.dumps(json, separators=(",", ":")).encode(), "application/json"
        elif text is not None:
            body, content_type = text.encode(), "text/plain; charset=utf-8"
        else:
            body, content_type = content or b"", ("application/octet-stream" if content else None)
        reply = canned(int(status), headers, body, content_type)
        with self._lock:
            self._http_replies.insert(0, (UrlPattern(url, method), reply))

    def allow_host(self, *hosts: str) -> None:
        """Let requests to these hosts through to the network untouched."""
        self._allowed.update(h.lower() for h in hosts)

    def route(self, url: str, *, provider: str) -> None:
        """Serve requests whose URL starts with ``url`` as ``provider`` (a gateway, a proxy)."""
        from respx.patterns import M

        from .providers import profile

        profile(provider)
        self._routes.insert(0, (M(url__startswith=url), provider))

    def _remember_secrets(self, headers: Any) -> None:
        """Keep credential values (never journaled) so assert_graceful can look for leaks."""
        for name in ("authorization", "api-key", "x-api-key", "x-goog-api-key"):
            value = headers.get(name)
            if value:
                token = value.split(" ", 1)[-1] if name == "authorization" else value
                if len(token) >= 6:
                    self.secrets.add(token)

    # ---- verification ------------------------------------------------------------------------
    def assert_fallback(self, from_: str, to: str) -> None:
        """``from_`` failed under an injected fault and ``to`` then answered successfully."""
        from ._assertions import assert_fallback

        assert_fallback(self, from_, to)

    def assert_handoff(self, watch: Watch | str | None = None, *, times: int | None = None) -> Watch:
        """The watched handoff seam was called (``times`` times, if given); see :meth:`watch`."""
        from ._assertions import assert_handoff

        return assert_handoff(self, watch, times=times)

    def assert_graceful(self, text: object) -> None:
        """``text`` is fit for a user: not blank, no traceback, exception name, raw provider
        error, API key or internal marker. The text is kept for the verdicts."""
        from ._assertions import assert_graceful

        assert_graceful(self, text)

    def assert_no_pii_sent(self, *, ignore: Iterable[str] = ()) -> None:
        """No emails, phones, card numbers, IBANs or national ids in any provider request."""
        from ._assertions import assert_no_pii_sent

        assert_no_pii_sent(self, ignore=ignore)

    def deadline(self, seconds: float) -> Any:
        """``with chaos.deadline(10):`` fails when the block takes longer, on the latency clock."""
        from ._assertions import deadline

        return deadline(self, seconds)

    def canary(self, prefix: str = "CANARY") -> str:
        """A unique secret to plant (in a system prompt, a tool result); ``assert_graceful``
        then fails on any text that contains it."""
        import re
        import secrets

        if not re.fullmatch(r"[A-Za-z0-9_-]+", prefix):
            raise ChaosConfigError(f"canary(prefix={prefix!r}): use letters, digits, '_' or '-'")
        token = f"{prefix}-{secrets.token_hex(8)}"
        self.secrets.add(token)
        self.canaries.add(token)
        return token

    def shown(self, text: str) -> None:
        """Record text the app showed its user, for the ``truncated_stream_accepted`` verdict."""
        self.user_texts.append(text)

    def unmatched(self) -> list[Injection]:
        """Injections scoped to a URL or a target that no request or call ever matched.

        Unlike a provider fault that found no call to act on, these usually mean a typo in
        the pattern or target, so the pytest plugin fails the test for them.
        """
        return [i for i in self.injections if (i.url is not None or i.target is not None) and i.state.seen == 0]

    def unapplied(self) -> list[tuple[Injection, str]]:
        """Injections that never met a call they could act on, each with the likely reason."""
        return [(i, _why_unapplied(i.fault)) for i in self.injections if i.state.seen == 0]

    @property
    def network(self) -> Any:
        """TCP proxies with toxics for the app's other dependencies; see :mod:`chaoskit.network`."""
        if self._network is None:
            from .network._network import Network

            self._network = Network(self, self.toxiproxy_url)
        return self._network

    @property
    def virtual(self) -> bool:
        """Whether the session runs on a virtual clock."""
        return bool(getattr(self.clock, "virtual", False))

    @property
    def refused_io(self) -> list[str]:
        """The real connections refused (or warned about) under virtual time."""
        return list(self._guard.seen) if self._guard is not None else list(self._refused_io)

    @property
    def elapsed(self) -> float:
        return self.clock.now() - self._started

    # ---- lifetime -------------------------------------------------------------------------
    def start(self) -> Chaos:
        """Start intercepting HTTP; prefer ``with Chaos() as chaos:``.

        httpx and httpx2 always; requests, aiohttp and botocore too when they are installed, and MCP
        stdio clients when the mcp client is imported (or an ``mcp.*`` fault is injected).
        """
        import importlib.util
        import sys

        from .seams._http import HttpSeam

        if self.virtual:
            from ._netguard import SocketGuard

            self.clock.install()  # type: ignore[attr-defined]
            self._guard = SocketGuard(self.real_io, on_warn=getattr(self.clock, "fall_back", None)).__enter__()
        seam = HttpSeam(self)
        seam.__enter__()
        self._seam = seam
        try:
            if importlib.util.find_spec("requests") is not None:
                from .seams._requests import RequestsSeam

                self._extra_seams.append(RequestsSeam(self).__enter__())
            if importlib.util.find_spec("aiohttp") is not None:
                from .seams._aiohttp import AiohttpSeam

                self._extra_seams.append(AiohttpSeam(self).__enter__())
            if importlib.util.find_spec("botocore") is not None:  # boto3's bedrock-runtime clients
                from .seams._botocore import BotocoreSeam

                self._extra_seams.append(BotocoreSeam(self).__enter__())
            if "mcp.client.stdio" in sys.modules:  # else installed by the first mcp.* fault
                self._cover_mcp_stdio()
        except BaseException:
            self.stop()
            raise
        self._started = self.clock.now()  # session time starts once the seams are on, not with their imports
        return self

    def stop(self) -> None:
        """Stop intercepting; every patch is removed, the last seam entered first. Safe to call twice."""
        seams = [s for s in (self._seam, *self._extra_seams) if s is not None]
        self._seam, self._extra_seams = None, []
        try:
            error: BaseException | None = None
            for seam in reversed(seams):
                try:  # one failing exit must not leave the other patches on
                    seam.__exit__(None, None, None)
                except BaseException as exc:
                    error = error or exc
            if error is not None:
                raise error
        finally:
            network, self._network = self._network, None
            try:
                if network is not None:
                    network.close()
            finally:
                while self._restores:
                    self._restores.pop()()
            guard, self._guard = self._guard, None
            if guard is not None:
                self._refused_io = list(guard.seen)
                guard.__exit__(None, None, None)
                self.clock.uninstall()  # type: ignore[attr-defined]

    def __enter__(self) -> Chaos:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Chaos:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    # ---- the seam's callback ------------------------------------------------------------------
    def _target(self, request: httpx.Request) -> Profile:
        """The provider profile that answers ``request``; pass-through or block otherwise."""
        from .providers import for_host, profile

        for pattern, provider in self._routes:
            if pattern.match(request):
                return profile(provider)
        host = request.url.host.lower()
        if host in self._allowed:
            from respx.models import PassThrough

            self._real(f"{request.method} {request.url}")
            raise PassThrough(f"chaoskit lets {host} through", request=request, origin=None)  # type: ignore[arg-type]
        found = for_host(host)
        if found is None:
            self._block(request, None)
        assert found is not None
        return found

    def _block(self, request: httpx.Request, reason: str | None) -> None:
        call = self.calls.open(
            provider=None, method=request.method, url=str(request.url),
            request_body=None, error="Unrouted", started=self.elapsed,
        )
        self.blocked.append(call)
        raise UnroutedRequestError(request.method, str(request.url), reason)

    @property
    def router(self) -> respx.Router:
        """A respx router for the other HTTP APIs the code calls (tools, search, webhooks).

        Its routes are tried before the provider profiles:
        ``chaos.router.get("https://tools.internal/stock").respond(503)``.
        """
        if self._router is None:
            import respx

            self._router = respx.Router(assert_all_called=False, assert_all_mocked=True)
        return self._router

    def handler(self, request: httpx.Request) -> Any:
        """Answer one request from a sync client (called by the HTTP seam)."""
        self._saw(request)
        if self._router is not None and self._router.routes:
            from respx.models import AllMockedAssertionError

            try:
                return self._router.handler(request)
            except AllMockedAssertionError:
                pass
        player, plan = self._prepare(request)
        return player.play_sync(plan)

    async def async_handler(self, request: httpx.Request) -> Any:
        """Answer one request from an async client (called by the HTTP seam)."""
        self._saw(request)
        if self._router is not None and self._router.routes:
            from respx.models import AllMockedAssertionError

            try:
                return await self._router.async_handler(request)
            except AllMockedAssertionError:
                pass
        player, plan = self._prepare(request)
        return await player.play_async(plan)

    def _real(self, what: str) -> None:
        """A request is about to reach the real network: refused (or warned) under virtual time."""
        if self._guard is not None:
            self._guard.check(what)

    def _saw(self, request: httpx.Request) -> None:
        """Let the seam's own upstream fetches through; remember what was requested."""
        if bypassing():
            from respx.models import PassThrough

            raise PassThrough("chaoskit fetches the real response", request=request, origin=None)  # type: ignore[arg-type]
        if self._scoped and len(self.seen_requests) < 200:  # only unmatched() reports them
            self.seen_requests.append(f"{request.method} {request.url}")

    def _prepare(self, request: httpx.Request, profile: Profile | None = None) -> tuple[Any, Any]:
        from .providers import CallRequest, RenderContext
        from .seams._http import Player

        req = CallRequest.from_httpx(request)
        prepared = self._prepare_http(request, req)
        if prepared is not None:
            return prepared
        if profile is None:
            profile = self._target(request)
        with self._lock:
            now = self.clock.now()
            last = self._last_call.get(profile.name)
            side = profile.side_request(req)  # not a model call: no fault, and the model's idle time goes on
            if not side:
                self._last_call[profile.name] = now
            idle = None if last is None else now - last
            chosen, phase = (None, None) if side else self._choose(profile, req, idle)
            index = len(self.calls)
            queue = self._replies.setdefault(profile.name, ReplyQueue())
            ctx = RenderContext(ident=f"chaoskit{index:05d}", rng=self.rng, idle=idle, take_reply=queue.take, cold=phase)
            if chosen is None and profile.endpoint(req) is None:
                self._block(request, _unsimulated(request, profile.name))
            try:
                plan = profile.healthy(req, ctx) if chosen is None else profile.render(chosen, req, ctx)
            except ChaosConfigError as exc:
                self._config_error(exc, request, req, chosen, now, provider=profile.name)
                raise
            status = plan_status(plan)
            call = self.calls.open(
                provider=profile.name, method=req.method, url=req.url,
                request_body=_journal_body(req),
                request_headers=redact_headers(request.headers.items()),
                stream=req.stream, fault=chosen.id if chosen else None, started=now - self._started,
                endpoint=profile.endpoint(req), retry_after=_retry_after(plan),
                read_timeout=(request.extensions.get("timeout") or {}).get("read"),
                retry_count=_retry_count(request.headers),
                request_key=_request_key(req),
                text=ctx.text if status is not None and status < 400 else None,
                complete=ctx.complete,
                response_body=_error_body(plan) if status is not None and status >= 400 else None,
            )
            self._remember_secrets(request.headers)
        note = f"chaoskit: injected {call.fault} on {call.method} {call.url} [seed={self.seed}]"
        clock = self.clock

        def on_end(c: Call) -> None:
            c.duration = clock.now() - now

        give_back = queue.give_back if ctx._reply is not None else None
        return Player(request, clock, call, on_end, note, give_back, self.config_errors), plan

    def _prepare_http(self, request: httpx.Request, req: CallRequest) -> tuple[Any, Any] | None:
        """The plan for a request that an ``http.*`` fault or a canned reply is for, else None."""
        from .providers import RenderContext
        from .providers._plan import respond_with
        from .seams._http import Player

        if not self._http_replies and not self._scoped:
            return None  # the common case, decided without looking at the injections
        method, url = req.method, req.url
        matching = [
            i for i in self.injections
            if i.fault.provider in _SCOPED and i.url is not None and i.url.matches(method, url, request)
        ]
        reply = next((r for pattern, r in self._http_replies if pattern.matches(method, url, request)), None)
        if not matching and reply is None:
            return None
        profiles = _scoped_profiles()
        with self._lock:
            chosen, now, idle, phase = self._draw(matching, profiles, req)
            if chosen is None:
                if reply is None:
                    return None  # no fault this time: served as any other request
                plan = respond_with(reply)
            index = len(self.calls)
            ctx = RenderContext(ident=f"chaoskit{index:05d}", rng=self.rng, idle=idle, take_reply=lambda: "", cold=phase)
            where = f"{method} {url}"
            try:
                if chosen is not None:
                    plan = profiles[chosen.provider].render(chosen, req, ctx, reply, where)
            except ChaosConfigError as exc:
                self._config_error(exc, request, req, chosen, now)
                raise
            if any(isinstance(step, Forward) for step in plan):
                self._real(f"{method} {url} (to fetch the real answer for {chosen.id if chosen else 'it'})")
            status = plan_status(plan)
            call = self.calls.open(
                provider=chosen.provider if chosen else "http", method=method, url=url,
                request_body=_journal_body(req),
                request_headers=redact_headers(request.headers.items()),
                fault=chosen.id if chosen else None, started=now - self._started, retry_after=_retry_after(plan),
                read_timeout=(request.extensions.get("timeout") or {}).get("read"),
                request_key=_request_key(req),
                response_body=_error_body(plan) if status is not None and status >= 400 else None,
            )
        note = f"chaoskit: injected {call.fault} on {method} {url} [seed={self.seed}]"
        clock = self.clock

        def on_end(c: Call) -> None:
            c.duration = clock.now() - now

        return Player(request, clock, call, on_end, note, None, self.config_errors), plan

    def _draw(self, matching: list[Injection], profiles: dict[str, Any], req: CallRequest) -> tuple[Fault | None, float, float | None, Phase | None]:
        """(the fault that fires, now, idle seconds, its cold-start phase) for a call ``matching`` may act on.

        Called with the lock held; idle time is counted per host, for cold starts.
        """
        now = self.clock.now()
        key = f"{req.url.split(':', 1)[0]} {req.host}"
        last = self._last_call.get(key)
        self._last_call[key] = now
        idle = None if last is None else now - last
        for injection in matching if self.enabled else ():
            fault = injection.fault
            if not profiles[fault.provider].applies(fault, req, idle):
                continue
            phase = self._cold_phase(fault, key, now, idle)
            if _cold_idle(fault, phase):
                continue
            if injection.state.decide(now - self._started, self.rng):
                return fault, now, idle, self._cold_commit(fault, key, phase, now)
        return None, now, idle, None

    def _cold_phase(self, fault: Fault, place: str, now: float, idle: float | None) -> Phase | None:
        """The phase a cold-start fault finds the model in on this call; None for other faults,
        and for a warm model without warm latency (see :func:`_cold_idle`)."""
        if fault.effect != "latency.cold_start":
            return None
        return self._cold.peek(f"{fault.id} {place}", fault.params, now, idle)

    def _cold_commit(self, fault: Fault, place: str, phase: Phase | None, now: float) -> Phase | None:
        return None if phase is None else self._cold.commit(f"{fault.id} {place}", phase, fault.params, now, self.rng)

    def _mcp_message(self, url: str, message: dict[str, Any]) -> tuple[Fault, Plan, Call] | None:
        """The fault for one JSON-RPC message to an MCP server over a stream (stdio), if any fires.

        Returns the fault, its plan and the journal entry; None lets the message through.
        """
        import json

        from .providers import CallRequest, RenderContext

        matching = [i for i in self.injections if i.fault.provider == "mcp" and i.url is not None and i.url.matches("POST", url)]
        if not matching:
            return None
        req = CallRequest("POST", url, {}, json.dumps(message).encode())
        profiles = _scoped_profiles()
        with self._lock:
            chosen, now, idle, phase = self._draw(matching, profiles, req)
            if chosen is None:
                return None
            ctx = RenderContext(ident=f"chaoskit{len(self.calls):05d}", rng=self.rng, idle=idle, take_reply=lambda: "", cold=phase)
            call = self.calls.open(
                provider="mcp", method="RPC", url=url, request_body=redact_body(message), fault=chosen.id,
                started=now - self._started,
            )
            try:
                plan = profiles["mcp"].render(chosen, req, ctx, None, f"{message.get('method')} to {url}")
            except ChaosConfigError as exc:
                call.error = type(exc).__name__
                self.config_errors.append(exc)
                raise
        return chosen, plan, call

    def _config_error(
        self, exc: ChaosConfigError, request: httpx.Request, req: CallRequest, fault: Fault | None, now: float,
        provider: str | None = None,
    ) -> None:
        """Journal a call whose fault could not be applied, and keep the error for teardown."""
        self.config_errors.append(exc)
        self.calls.open(
            provider=provider or (fault.provider if fault else "http"), method=req.method, url=req.url,
            request_body=_journal_body(req),
            request_headers=redact_headers(request.headers.items()), fault=fault.id if fault else None,
            started=now - self._started, error=type(exc).__name__,
        )

    def _begin_tool_call(self, target: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Fault | None, Call]:
        """Decide whether a fault fires for one call of ``target``, and journal the call."""
        from .seams._callable import jsonable

        with self._lock:
            elapsed = self.clock.now() - self._started
            chosen = None
            for injection in self.injections if self.enabled else ():
                if injection.target == target and injection.state.decide(elapsed, self.rng):
                    chosen = injection.fault
                    break
            call = self.calls.open(
                provider="tool", method="CALL", url=target,
                request_body=redact_body({"args": jsonable(args), "kwargs": jsonable(kwargs)}),
                fault=chosen.id if chosen else None, started=elapsed, side_effect=False,
            )
        return chosen, call

    def _change_value(self, value: Any, fault: Fault, call: Call, *, where: str) -> Any:
        """A tool's result drifted or poisoned by ``fault``; what changed is named in the journal."""
        from ._drift import drift
        from ._poison import poison

        p = fault.params
        try:
            if fault.effect == "poisoned":
                payload = str(p.get("payload") or "").replace("{canary}", str(p.get("canary") or ""))
                changed, call.detail = poison(value, self.rng, payload=payload, path=p.get("path"), where=where)
            else:
                changed, what = drift(value, self.rng, variant=p.get("variant"), path=p.get("path"), where=where)
                call.detail = what.description
        except ChaosConfigError as exc:
            call.error = type(exc).__name__
            self.config_errors.append(exc)
            raise
        return changed

    def _choose(self, profile: Profile, req: Any, idle: float | None) -> tuple[Fault | None, Phase | None]:
        """The fault that fires on this call to ``profile``, if any, and its cold-start phase."""
        if not self.enabled:
            return None, None
        now = self.clock.now()
        for script in self.scripts:
            if profile.name in script.providers and script.position < len(script.steps):
                step = script.steps[script.position]
                script.position += 1
                if step is None or step.provider != profile.name or not profile.applies(step, req, idle):
                    return None, None
                phase = self._cold_phase(step, profile.name, now, idle)
                if _cold_idle(step, phase):
                    return None, None
                return step, self._cold_commit(step, profile.name, phase, now)
        elapsed = now - self._started
        for injection in self.injections:
            fault = injection.fault
            if fault.provider != profile.name or not profile.applies(fault, req, idle):
                continue
            if injection.url is not None and not injection.url.matches(req.method, req.url):
                continue
            if fault.effect == "schema_drift" and not _drifts(self._replies.get(profile.name)):
                continue  # tool-call drift needs a tool call to drift: not exercised
            phase = self._cold_phase(fault, profile.name, now, idle)
            if _cold_idle(fault, phase):
                continue
            if injection.state.decide(elapsed, self.rng):
                return fault, self._cold_commit(fault, profile.name, phase, now)
        return None, None


def _cold_idle(fault: Fault, phase: Phase | None) -> bool:
    """Whether a cold-start fault has nothing to do on this call: the model is warm, with no warm latency."""
    return phase is None and fault.effect == "latency.cold_start"


def _journal_body(req: CallRequest) -> Any:
    """A request's body for the journal: its parsed JSON, else its text, secrets redacted."""
    return redact_body(req.json) if req.json is not None else parse_body(req.body)


def _retry_after(plan: Plan) -> float | None:
    """The wait a response asks for: ``retry-after-ms`` first, then ``retry-after`` seconds."""
    for step in plan:
        if isinstance(step, Respond):
            headers = dict(step.headers)
            for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
                try:
                    return float(headers[name]) * scale
                except (KeyError, ValueError):
                    continue
            return None
    return None


def _error_body(plan: Plan) -> str:
    body = b"".join(step.data for step in plan if isinstance(step, Send))
    return body[:2000].decode("utf-8", "replace")


def _retry_count(headers: Any) -> int | None:
    """The retry an SDK says a request is: openai's and anthropic's ``x-stainless-retry-count``,
    botocore's ``amz-sdk-request: attempt=N; max=M`` (attempt 1 is retry 0)."""
    count = _int_or_none(headers.get("x-stainless-retry-count"))
    if count is not None:
        return count
    for part in (headers.get("amz-sdk-request") or "").split(";"):
        name, _, value = part.strip().partition("=")
        attempt = _int_or_none(value) if name == "attempt" else None
        if attempt is not None:
            return attempt - 1
    return None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _request_key(req: CallRequest) -> str:
    import hashlib

    digest = hashlib.blake2s(f"{req.method} {req.url}\n".encode() + req.body, digest_size=6)
    return digest.hexdigest()


def _unsimulated(request: httpx.Request, provider: str) -> str:
    return (
        f"chaoskit does not simulate {request.method} {request.url.path} for {provider}; "
        "inject a fault for it, or allow the host through with chaos.allow_host(HOST)"
    )


#: Fault namespaces that act on requests matching a URL pattern rather than on a provider's host.
_SCOPED = ("http", "mcp")


def _scoped_profiles() -> dict[str, Any]:
    from .providers._http import HttpProfile
    from .providers._mcp import McpProfile

    return {"http": HttpProfile(), "mcp": McpProfile()}


def _drifts(queue: ReplyQueue | None) -> bool:
    """Whether the next simulated reply is a tool call with JSON arguments to drift."""
    from ._replies import ToolCall

    reply = queue.peek() if queue is not None else None
    first = reply[0] if isinstance(reply, tuple) else reply
    return isinstance(first, ToolCall) and not isinstance(first.arguments, str)


def _why_unapplied(fault: Fault) -> str:
    effect = fault.effect
    if fault.provider in _SCOPED:
        return "no request matched its url pattern"
    if fault.provider == "tool":
        return "its target was never called"
    if effect.startswith("stream."):
        return f"it acts only on streaming requests (stream=True) to {fault.provider}"
    if effect in ("malformed.truncated_json", "malformed.missing_field", "malformed.null_content"):
        return f"it acts only on non-streaming requests to {fault.provider}"
    if effect == "schema_drift":
        return f"it drifts tool-call arguments: set a tool call as the reply with chaos.reply({fault.provider!r}, tool_call(...))"
    if effect == "latency.cold_start":
        return "no call was cold (the first one, or one after `idle` seconds without calls)"
    return f"no request to {fault.provider} reached it (an earlier fault may have taken every call)"

"""A chaos session: injected faults, simulated replies and the journal for one test or run.

``Chaos`` is the engine's front door: the configuration API, checking it, and the lifetime of
the seams and the clock. What happens to each request is decided by its
:class:`~chaoskit.engine.Engine`. The pytest plugin makes one per test; scripts use it
directly::

    with chaoskit.Chaos(seed=7) as chaos:
        chaos.inject("openai.rate_limit", times=2)
        chaos.reply("openai", "Your order has shipped.")
        app.answer("Where is my order?")
    print(chaos.calls)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import faults as _faults
from ._clock import Clock, RealClock
from ._errors import ChaosConfigError
from ._fault import Fault
from ._journal import Call, Journal
from ._replies import ReplyQueue
from ._rng import new_session_seed
from ._schedule import Schedule
from ._urls import UrlPattern
from ._verdicts import Verdict, VerdictConfig, judge
from ._watch import Watch
from .engine import SCOPED, Engine, Injection, Route, Script

if TYPE_CHECKING:
    import respx

__all__ = ["Chaos", "Injection", "Script"]


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
        self.engine = Engine(
            seed=new_session_seed() if seed is None else int(seed), scope=scope, enabled=enabled,
            clock=clock or RealClock(), allow_hosts=allow_hosts,
        )
        self._seam: Any = None
        self._guard: Any = None  # the SocketGuard while a virtual clock is installed
        self._clock_on = False  # this session installed its (virtual) clock
        if real_io not in ("refuse", "warn"):
            raise ChaosConfigError(f"real_io={real_io!r} must be 'refuse' or 'warn'")
        self.real_io = real_io
        self._refused_io: list[str] = []
        self.toxiproxy_url = toxiproxy_url  # None: CHAOSKIT_TOXIPROXY_URL, else the embedded server
        self._network: Any = None
        self._extra_seams: list[Any] = []  # seams for other clients (requests), entered after _seam
        self._router: respx.Router | None = None
        self.watches: list[Watch] = []
        self.configured_replies: set[str] = set()
        self.user_texts: list[str] = []
        #: The thresholds of the verdicts on client behaviour (``chaos.verdict_config = VerdictConfig(max_model_calls=5)``).
        self.verdict_config = VerdictConfig()
        self.canaries: set[str] = set()
        #: Values ``assert_no_pii_sent(ignore=...)`` allowed: not personal data for the ``pii_sent`` verdict either.
        self.pii_allowed: set[str] = set()
        self._restores: list[Any] = []
        self._tool_targets: set[str] = set()
        self._mcp_stdio = False  # whether the MCP stdio seam is installed (on the first mcp.* fault)

    # ---- the engine's state, as the session shows it ------------------------------------
    @property
    def seed(self) -> int:
        return self.engine.seed

    @property
    def scope(self) -> str:
        return self.engine.scope

    @property
    def enabled(self) -> bool:
        return self.engine.enabled

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    @property
    def calls(self) -> Journal:
        """The journal: one entry per intercepted call; ``chaos.calls.subscribe(listener)`` hears
        each call opened, injected and closed as it happens."""
        return self.engine.calls

    @property
    def injections(self) -> list[Injection]:
        return self.engine.injections

    @property
    def scripts(self) -> list[Script]:
        return self.engine.scripts

    @property
    def blocked(self) -> list[Call]:
        """Requests refused because nothing serves them (also in the journal)."""
        return self.engine.blocked

    @property
    def secrets(self) -> set[str]:
        """Credential values seen in requests and canaries planted: looked for in leaks (the
        journal hides the credentials, not the canaries)."""
        return set(self.engine.secrets) | self.canaries

    @property
    def config_errors(self) -> list[Exception]:
        """Errors in how a fault was set up that surfaced during a call (kept for teardown)."""
        return self.engine.config_errors

    @property
    def seen_requests(self) -> list[str]:
        """``METHOD URL`` of the requests seen once a fault is scoped to a url (capped)."""
        return self.engine.seen_requests

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
            sequence=sequence,  # type: ignore[arg-type]  # Schedule parses any iterable, and says what is wrong
        )
        injection = Injection(resolved, schedule, schedule.start(), pattern, tool_target)
        if tool_target is not None and tool_target not in self._tool_targets:
            from .seams._callable import install

            self._restores.append(install(self.engine, tool_target))
            self._tool_targets.add(tool_target)
        if resolved.provider == "mcp":
            self._cover_mcp_stdio()
        self.engine.add(injection)
        return injection

    def _cover_mcp_stdio(self) -> None:
        """Route MCP stdio clients through the session (once; a no-op without the mcp package)."""
        if self._mcp_stdio:
            return
        self._mcp_stdio = True
        from .seams._mcp_stdio import install

        try:
            self._restores.append(install(self.engine))
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
        if kind in SCOPED:
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
        routed = any(route.provider == fault.provider for route in self.engine.routes)  # a gateway the test routes
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
        self.engine.add_script(script)
        return script

    def watch(self, target: str, *, idempotent: bool = True, handoff: bool = False) -> Watch:
        """Record every call to ``target`` (``"pkg.module:function"``, ``"pkg.mod:Class.method"``)
        for the rest of the session, without changing what it does.

        ``idempotent=False`` marks a side effect that must not run twice for one request
        (a payment, an order): repeating it after a fault is the ``duplicate_side_effect``
        verdict. ``handoff=True`` marks the seam that hands the user to a person: a user message
        every provider failed without a call to it is the ``handoff_missed`` verdict (and
        ``assert_handoff()`` checks it when several seams are watched).
        """
        from ._watch import install, resolve_target

        owner, name = resolve_target(target)
        watch = Watch(target, idempotent, handoff=handoff)
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
        self.engine.set_replies(provider, queue)
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
        self.engine.add_http_reply(UrlPattern(url, method), reply)

    def allow_host(self, *hosts: str) -> None:
        """Let requests to these hosts through to the network. A host a provider profile serves
        (``api.openai.com``) still gets that provider's injected faults: calls no fault takes
        reach the real service, and a fault replaces or delays its answer."""
        self.engine.allow(*hosts)

    def route(self, url: str, *, provider: str, real: bool = False) -> None:
        """Serve requests whose URL starts with ``url`` as ``provider`` (a gateway, a proxy, a
        self-hosted server). ``real=True``: ``url`` is a real server; calls no fault takes go
        to it, and faults act on its answers (a status or a timeout replaces it, latency delays it)."""
        from .providers import profile

        profile(provider)
        if not isinstance(url, str) or "://" not in url:
            raise ChaosConfigError(f"route({url!r}): give the URL the requests start with, such as 'http://127.0.0.1:8000/v1'")
        self.engine.add_route(Route(url, provider, real))

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
        self.canaries.add(token)
        return token

    def shown(self, text: str) -> None:
        """Record text the app showed its user, for the ``truncated_stream_accepted``, ``hallucination_shown``
        and ``refusal_shown`` verdicts."""
        self.user_texts.append(text)

    def verdicts(self, **thresholds: Any) -> list[Verdict]:
        """The verdicts on client behaviour so far (what the test's report shows at its end), with
        ``thresholds`` replacing :attr:`verdict_config`'s for this reading: ``chaos.verdicts(max_model_calls=5)``."""
        from dataclasses import fields, replace

        unknown = sorted(set(thresholds) - {f.name for f in fields(VerdictConfig)})
        if unknown:
            known = ", ".join(f.name for f in fields(VerdictConfig))
            raise ChaosConfigError(f"chaos.verdicts({unknown[0]}=...): no such threshold; the thresholds are: {known}")
        try:
            config = replace(self.verdict_config, **thresholds)
        except ValueError as exc:
            raise ChaosConfigError(f"chaos.verdicts: {exc}") from None
        return judge(list(self.calls), user_texts=self.user_texts, watches=self.watches,
                     replies_configured=self.configured_replies, config=config, canaries=self.canaries,
                     secrets=self.secrets, pii_allowed=self.pii_allowed)

    def unmatched(self) -> list[Injection]:
        """Injections scoped to a URL or a target that no request or call ever matched.

        Unlike a provider fault that found no call to act on, these usually mean a typo in
        the pattern or target, so the pytest plugin fails the test for them.
        """
        return [i for i in self.injections if (i.url is not None or i.target is not None) and i.state.seen == 0]

    def unapplied(self) -> list[tuple[Injection, str]]:
        """Injections that never met a call they could act on, each with the likely reason."""
        real = self.engine.answers_real()
        return [(i, _why_unapplied(i.fault, real)) for i in self.injections if i.state.seen == 0]

    @property
    def network(self) -> Any:
        """TCP proxies with toxics for the app's other dependencies; see :mod:`chaoskit.network`."""
        if self._network is None:
            from .network._network import Network

            self._network = Network(self.engine, self.toxiproxy_url)
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
        return self.engine.elapsed

    # ---- lifetime -------------------------------------------------------------------------
    def start(self) -> Chaos:
        """Start intercepting HTTP; prefer ``with Chaos() as chaos:``.

        httpx and httpx2 always; requests, aiohttp and botocore too when they are installed, and MCP
        stdio clients when the mcp client is imported (or an ``mcp.*`` fault is injected).
        """
        import importlib.util
        import sys

        from .seams._deciding import DecidingRouter
        from .seams._http import HttpSeam

        HttpSeam.refuse_second()  # before anything is installed: a refused start leaves nothing on
        try:
            if self.virtual:
                from ._netguard import SocketGuard

                self.clock.install()  # type: ignore[attr-defined]
                self._clock_on = True
                self._guard = SocketGuard(self.real_io, on_warn=getattr(self.clock, "fall_back", None)).__enter__()
                self.engine.on_real = self._guard.check
            router = DecidingRouter(self.engine, lambda: self._router if self._router is not None and self._router.routes else None)
            seam = HttpSeam(router)
            seam.__enter__()
            self._seam = seam
            if importlib.util.find_spec("requests") is not None:
                from .seams._requests import RequestsSeam

                self._extra_seams.append(RequestsSeam(router).__enter__())
            if importlib.util.find_spec("aiohttp") is not None:
                from .seams._aiohttp import AiohttpSeam

                self._extra_seams.append(AiohttpSeam(router).__enter__())
            if importlib.util.find_spec("botocore") is not None:  # boto3's bedrock-runtime clients
                from .seams._botocore import BotocoreSeam

                self._extra_seams.append(BotocoreSeam(router).__enter__())
            if "mcp.client.stdio" in sys.modules:  # else installed by the first mcp.* fault
                self._cover_mcp_stdio()
            self._restores.append(_interrupt_on_sigint(self.clock))
        except BaseException:
            self.stop()
            raise
        self.engine.started = self.clock.now()  # session time starts once the seams are on, not with their imports
        return self

    def stop(self) -> None:
        """Stop intercepting; every patch is removed, the last seam entered first. Safe to call twice.

        Injected waits still in progress, in any thread, end first: their calls fail as an
        aborted connection does, so an app's thread pool does not hold the process. Side traffic
        that frameworks queued for a background thread (openai-agents' traces) is sent first, while
        chaoskit still answers it, rather than at exit to the real network.
        """
        if self._seam is not None:
            from .seams._background import flush_background

            flush_background()
        interrupt = getattr(self.clock, "interrupt", None)
        if interrupt is not None:
            interrupt()
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
            self.engine.on_real = lambda what: None
            if guard is not None:
                self._refused_io = list(guard.seen)
                guard.__exit__(None, None, None)
            if self._clock_on:
                self._clock_on = False
                self.clock.uninstall()  # type: ignore[attr-defined]
            self.engine.calls.close_all()  # calls nothing ended (a stream never read to its end) close with the session

    def __enter__(self) -> Chaos:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Chaos:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    @property
    def router(self) -> respx.Router:
        """A respx router for the other HTTP APIs the code calls (tools, search, webhooks).

        Its answers are served like canned replies: journaled, and an ``http.*`` fault on the
        same URL acts on them: ``chaos.router.get("https://tools.internal/stock").respond(503)``.
        """
        if self._router is None:
            import respx

            self._router = respx.Router(assert_all_called=False, assert_all_mocked=True)
        return self._router




def _why_unapplied(fault: Fault, real: bool = False) -> str:
    """Why ``fault`` met no call it could act on; ``real``: some calls were a real server's to answer."""
    effect = fault.effect
    if fault.provider in SCOPED:
        return "no request matched its url pattern"
    if fault.provider == "tool":
        return "its target was never called"
    if effect.startswith("stream."):
        return f"it acts only on streaming requests (stream=True) to {fault.provider}"
    if effect in ("malformed.truncated_json", "malformed.missing_field", "malformed.null_content"):
        return f"it acts only on non-streaming requests to {fault.provider}"
    if effect == "schema_drift":
        return f"it drifts tool-call arguments: set a tool call as the reply with chaos.reply({fault.provider!r}, tool_call(...))"
    real_ones = " (on a real server, it acts only on answers that are not streamed)" if real else ""
    if effect == "model.hallucination":
        return f"no call to {fault.provider} reached it with an answer to change{real_ones}"
    if effect == "model.schema_violation":
        return ("it breaks the request's own schema, and no request had one (a response_format json_schema, "
                f"output_config format, responseSchema, or a tool whose schema has fields){real_ones}")
    if effect == "model.prompt_leak":
        return f"it repeats the request's system prompt, and no request had one{real_ones}"
    if effect == "model.tool_loop":
        return (f"it calls one of the request's tools, and no request to {fault.provider} offered any (or each loop "
                f"had reached its limit of {fault.params.get('limit')} rounds){real_ones}")
    if effect.startswith("model."):
        return f"no request to {fault.provider} reached it{real_ones}"
    if effect == "latency.cold_start":
        return "no call was cold (the first one, or one after `idle` seconds without calls)"
    return f"no request to {fault.provider} reached it (an earlier fault may have taken every call)"


def _interrupt_on_sigint(clock: Clock) -> Callable[[], None]:
    """On Ctrl-C, end the injected waits at once (then the usual KeyboardInterrupt): an app that
    joins its thread pool on the way out would otherwise wait them out. Returns the undo."""
    import signal
    import threading

    interrupt = getattr(clock, "interrupt", None)
    if interrupt is None or threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers belong to the main thread
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        interrupt()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, handler)

    def undo() -> None:
        if signal.getsignal(signal.SIGINT) is handler and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)

    return undo

"""The router every HTTP seam hands its requests to: the engine decides, a :class:`Player` plays.

Seams call :meth:`DecidingRouter.answer_sync` / :meth:`~DecidingRouter.answer_async` with an
:class:`Exchange` (the request, transport-neutral, and the seam's failure table) and get an
:class:`Answer`, or None to send the request to the real network themselves. httpx and httpx2
requests arrive through respx's mockers at :meth:`~DecidingRouter.handler`, which does the same
in respx's terms. A request the user's ``chaos.router`` answers is served from that answer like
a canned reply, so it is journaled and an ``http.*`` fault on its URL still fires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import UnroutedRequestError
from ..providers._plan import Upstream
from ._bypass import bypassing
from ._http import Incoming, Watch, exchange_of
from ._player import CONNECT_KINDS, Answer, Exchange, Player, kind_of, upstream_of

if TYPE_CHECKING:
    import respx

    from ..engine import Decision, Engine

__all__ = ["DecidingRouter"]


class DecidingRouter:
    """Answers each request as the engine decides; ``routes()`` gives the user's respx router
    (``chaos.router``), or None while it has no routes."""

    def __init__(self, engine: Engine, routes: Callable[[], respx.Router | None] = lambda: None) -> None:
        self.engine = engine
        self.routes = routes

    # ---- for every seam ------------------------------------------------------------------------
    def answer_sync(self, exchange: Exchange, *, translate: bool = True, watch: list[Watch] | None = None) -> Answer | None:
        """The answer to one request from a sync client; None: it goes to the real network.

        ``translate``: a ``chaos.router`` route that raises an httpx or httpcore transport error
        raises the seam's own error for it instead (the httpx seams leave it as respx raised it).
        ``watch``: where a seam that can record a real answer as it passes gets the :class:`Watch`
        for a journaled pass-through call; without it, the call is journaled as passed at once.
        """
        if bypassing():
            return None
        local: Any = None
        router = self.routes()
        if router is not None:
            local = self._local(exchange, lambda r: router.handler(r), translate)
        if isinstance(local, Answer):
            return local  # a streamed respx response: served as it is
        decision = self._decide(exchange, local)
        if decision.action == "pass":
            return self._passed(decision, watch)
        return self._player(exchange, decision).play_sync(decision.plan)

    async def answer_async(self, exchange: Exchange, *, translate: bool = True, watch: list[Watch] | None = None) -> Answer | None:
        """As :meth:`answer_sync`, for async clients."""
        if bypassing():
            return None
        local: Any = None
        router = self.routes()
        if router is not None:
            from respx.models import AllMockedAssertionError

            try:
                local = _read(await router.async_handler(_respx_request(exchange)), asynchronous=True)
            except AllMockedAssertionError:
                local = None
            except Exception as exc:
                raise _translated(exc, exchange) if translate else exc  # noqa: B904 - the seam's error, as a socket gives it
        if isinstance(local, Answer):
            return local
        decision = self._decide(exchange, local)
        if decision.action == "pass":
            return self._passed(decision, watch)
        return await self._player(exchange, decision).play_async(decision.plan)

    # ---- for respx's mockers (httpx, httpx2) ----------------------------------------------------
    def handler(self, request: Incoming) -> Any:
        """Answer one request from an httpx or httpx2 sync client; ``PassThrough`` lets it through
        (carrying the :class:`Watch` that records the real answer, for a journaled call)."""
        watch: list[Watch] = []
        answer = self.answer_sync(exchange_of(request), translate=False, watch=watch)
        if answer is None:
            raise _pass_through(request, watch)
        return answer

    async def async_handler(self, request: Incoming) -> Any:
        watch: list[Watch] = []
        answer = await self.answer_async(exchange_of(request), translate=False, watch=watch)
        if answer is None:
            raise _pass_through(request, watch)
        return answer

    # ---- pieces ----------------------------------------------------------------------------------
    def _local(self, exchange: Exchange, handle: Callable[[httpx.Request], Any], translate: bool) -> Any:
        from respx.models import AllMockedAssertionError

        try:
            return _read(handle(_respx_request(exchange)), asynchronous=False)
        except AllMockedAssertionError:
            return None
        except Exception as exc:
            raise _translated(exc, exchange) if translate else exc  # noqa: B904 - the seam's error, as a socket gives it

    def _decide(self, exchange: Exchange, local: Upstream | None) -> Decision:
        decision = self.engine.decide(exchange.request, local=local, read_timeout=exchange.read_timeout)
        if decision.action == "block":
            raise UnroutedRequestError(exchange.request.method, exchange.request.url, decision.reason or None)
        return decision

    @staticmethod
    def _passed(decision: Decision, watch: list[Watch] | None) -> None:
        """A pass: its journaled call is recorded by the seam's watch, or closed now."""
        if decision.call is None:
            return
        if watch is not None:
            watch.append(Watch(decision.call, decision.on_end, decision.meter))
            return
        decision.call.detail = "passed through to the real server (this client's seam does not record its answer)"
        decision.on_end(decision.call)

    def _player(self, exchange: Exchange, decision: Decision) -> Player:
        assert decision.call is not None
        return Player(exchange, self.engine.clock, decision.call, decision.on_end, decision.note,
                      decision.give_back, self.engine.config_errors, decision.meter)


def _pass_through(request: Incoming, watch: list[Watch]) -> Exception:
    from respx.models import PassThrough

    passed = PassThrough("chaoskit lets it through", request=request, origin=None)  # type: ignore[arg-type]
    passed.watch = watch[0] if watch else None  # type: ignore[attr-defined]  # read by the mockers
    return passed


def _respx_request(exchange: Exchange) -> httpx.Request:
    """The request as respx's routes match it."""
    return exchange.request.origin  # type: ignore[no-any-return]


def _translated(exc: Exception, exchange: Exchange) -> BaseException:
    """A route's transport error as the seam's client meets it; anything else as it is."""
    kind = kind_of(exc)
    if kind is None:
        return exc
    mapped = exchange.failures(kind, "connect" if kind in CONNECT_KINDS else "response")
    for note in getattr(exc, "__notes__", ()):
        mapped.add_note(note)
    return mapped


def _read(response: Any, *, asynchronous: bool) -> Upstream | Answer | Any:
    """A respx route's answer: read, as an upstream answer to serve; streamed, as an answer to
    hand on as it is."""
    if isinstance(response, httpx.Response):
        try:
            response.content  # noqa: B018 - raises for a stream nobody has read
        except httpx.ResponseNotRead:
            stream: Any = response.stream
            body = stream.__aiter__() if asynchronous else iter(stream)
            return Answer(response.status_code, list(response.headers.raw), body)
        return upstream_of(response)
    return response

"""The router every HTTP seam hands its requests to: the engine decides, a :class:`Player` plays.

httpx and httpx2 requests arrive here through respx's mockers; the requests, aiohttp and
botocore seams turn theirs into an ``httpx.Request`` and call the same handlers. A request
the user's ``chaos.router`` answers is served from that answer like a canned reply, so it is
journaled and an ``http.*`` fault on its URL still fires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import UnroutedRequestError
from ..providers._plan import Upstream
from ..providers._profile import CallRequest
from ._bypass import bypassing
from ._http import Player, upstream_of

if TYPE_CHECKING:
    import respx

    from ..engine import Decision, Engine

__all__ = ["DecidingRouter"]


class DecidingRouter:
    """Answers each httpx request as the engine decides; ``routes()`` gives the user's respx
    router (``chaos.router``), or None while it has no routes."""

    def __init__(self, engine: Engine, routes: Callable[[], respx.Router | None] = lambda: None) -> None:
        self.engine = engine
        self.routes = routes

    def handler(self, request: httpx.Request) -> Any:
        """Answer one request from a sync client."""
        _pass_own_fetches(request)
        local: Any = None
        router = self.routes()
        if router is not None:
            from respx.models import AllMockedAssertionError

            try:
                local = _read(router.handler(request))
            except AllMockedAssertionError:
                local = None
        if local is not None and not isinstance(local, Upstream):
            return local  # a streamed respx response: served as it is
        decision = self._decide(request, local)
        return self._player(request, decision).play_sync(decision.plan)

    async def async_handler(self, request: httpx.Request) -> Any:
        """Answer one request from an async client."""
        _pass_own_fetches(request)
        local: Any = None
        router = self.routes()
        if router is not None:
            from respx.models import AllMockedAssertionError

            try:
                local = _read(await router.async_handler(request))
            except AllMockedAssertionError:
                local = None
        if local is not None and not isinstance(local, Upstream):
            return local
        decision = self._decide(request, local)
        return await self._player(request, decision).play_async(decision.plan)

    def _decide(self, request: httpx.Request, local: Upstream | None) -> Decision:
        timeout = request.extensions.get("timeout") or {}
        decision = self.engine.decide(CallRequest.from_httpx(request), local=local, read_timeout=timeout.get("read"))
        if decision.action == "pass":
            from respx.models import PassThrough

            raise PassThrough(decision.reason, request=request, origin=None)  # type: ignore[arg-type]
        if decision.action == "block":
            raise UnroutedRequestError(request.method, str(request.url), decision.reason or None)
        return decision

    def _player(self, request: httpx.Request, decision: Decision) -> Player:
        assert decision.call is not None
        return Player(request, self.engine.clock, decision.call, decision.on_end, decision.note,
                      decision.give_back, self.engine.config_errors, decision.meter)


def _pass_own_fetches(request: httpx.Request) -> None:
    """Let the seam's own upstream fetches (a ``Forward``) through."""
    if bypassing():
        from respx.models import PassThrough

        raise PassThrough("chaoskit fetches the real response", request=request, origin=None)  # type: ignore[arg-type]


def _read(response: Any) -> Upstream | Any:
    """A respx route's answer as an upstream answer to serve; a streamed one as it is."""
    if isinstance(response, httpx.Response):
        try:
            response.content  # noqa: B018 - raises for a stream nobody has read
        except httpx.ResponseNotRead:
            return response
        return upstream_of(response)
    return response

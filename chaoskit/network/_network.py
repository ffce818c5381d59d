"""``chaos.network``: TCP proxies with toxics for the app's other dependencies, per session.

``chaos.network.proxy("redis", upstream="127.0.0.1:6379")`` creates a proxy on a Toxiproxy
server and returns its handle; the test gives the handle's ``host``/``port`` to its client,
then adds toxics (``proxy.add("latency", latency=500)``, a ``net.*`` catalog id, or a typed
toxic) or takes the service down (``with proxy.down():``). The server is chaoskit's embedded
one, started on demand once per process on a free loopback port, or a real Toxiproxy named
by ``--chaos-toxiproxy-url`` / ``CHAOSKIT_TOXIPROXY_URL``. Every proxy the session made is
destroyed when it ends (its toxics with it), whatever the test did.

A run killed hard (SIGKILL, an OOM kill, a CI timeout) destroys nothing, and a shared server keeps
its proxies. So a session's proxy ``redis`` has a server-side name of its own,
``redis~chaoskit:HOST:PID:NONCE:N``: two sessions, in one process or in several, never ask for
the same name, and the first proxy a session makes is preceded by a sweep that destroys the
proxies whose process on this host is gone (its PID no longer runs, or it is this PID with
another process's nonce). Proxies of other hosts, whose liveness cannot be checked from here,
are left alone; their names cannot collide with ours.
"""

from __future__ import annotations

import atexit
import dataclasses
import itertools
import os
import secrets
import socket
import threading
from typing import TYPE_CHECKING, Any

from .._errors import ChaosConfigError
from ._client import ProxyHandle, Toxic, ToxicHandle, ToxiproxyClient, ToxiproxyError, make_toxic

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["ENV_URL", "Network", "NetworkProxy", "embedded_url"]

ENV_URL = "CHAOSKIT_TOXIPROXY_URL"
_EMBEDDED: dict[str, Any] = {}
_EMBEDDED_LOCK = threading.Lock()
_OWNER_TAG = "~chaoskit:"
_HOST = socket.gethostname()
_NONCE = secrets.token_hex(4)  # tells this process from an earlier one that had its PID
_SERIAL = itertools.count(1)


def server_name(name: str) -> str:
    """The name a session's proxy ``name`` gets on the server: unique, and naming its owner process.

    A ``/`` is written ``%2F``: Toxiproxy routes on the decoded path, so it could never address a
    proxy whose name has one.
    """
    label = name.replace("%", "%25").replace("/", "%2F")
    return f"{label}{_OWNER_TAG}{_HOST}:{os.getpid()}:{_NONCE}:{next(_SERIAL)}"


def orphaned(name: str) -> bool:
    """Whether proxy ``name`` was made by ``chaos.network`` in a process on this host that is gone."""
    _, tag, owner = name.rpartition(_OWNER_TAG)
    host, _, rest = owner.partition(":")
    pid, _, nonce = rest.partition(":")
    if not tag or host != _HOST or not pid.isdigit() or int(pid) == 0:
        return False
    if int(pid) == os.getpid():
        return not nonce.startswith(f"{_NONCE}:")
    return not _running(int(pid))


def _running(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate it; treat every process as running
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def embedded_url() -> str:
    """The URL of this process's embedded Toxiproxy-compatible server, started on first use."""
    with _EMBEDDED_LOCK:
        if "server" not in _EMBEDDED:
            from ._server import ToxiproxyServer

            server = ToxiproxyServer(host="127.0.0.1", port=0)
            server.__enter__()
            _EMBEDDED["server"] = server
            atexit.register(server.__exit__, None, None, None)
        return str(_EMBEDDED["server"].url)


class NetworkProxy:
    """A proxy made by ``chaos.network.proxy``: its listen address and its toxics."""

    def __init__(self, name: str, handle: ProxyHandle) -> None:
        self.name = name
        self.handle = handle
        self.timers: list[threading.Timer] = []  # windowed toxics still to add or remove

    @property
    def server_name(self) -> str:
        """The proxy's name on the server, unique to this session's proxy (see the module docstring)."""
        return self.handle.name

    @property
    def listen(self) -> str:
        """``host:port`` to give the client under test instead of the upstream's."""
        return self.handle.listen

    @property
    def host(self) -> str:
        return self.handle.host

    @property
    def port(self) -> int:
        return self.handle.port

    def add(
        self, toxic: Toxic | str, *, rate: float | None = None, window: tuple[float, float | None] | None = None,
        **attributes: Any,
    ) -> ToxicHandle:
        """Add a toxic: a typed one (``Latency(latency=500)``), a type name with its attributes
        (``"latency", latency=500``), or a ``net.*`` catalog id (``"net.blackhole"``) with
        overrides.

        The schedule, as for HTTP faults where it fits a TCP proxy: ``rate`` is the toxicity
        (the share of *connections* it acts on, rolled once per connection as in Toxiproxy);
        ``window=(start, end)`` adds it ``start`` seconds from now and removes it at ``end``
        (None: at the end of the session). Counting schedules (``times``, ``after``,
        ``sequence``) count calls, which a TCP proxy cannot see.
        """
        typed = _from_catalog(toxic, attributes) if isinstance(toxic, str) and toxic.startswith("net.") else make_toxic(toxic, **attributes)
        if rate is not None:
            typed = dataclasses.replace(typed, toxicity=rate)
        if window is None:
            return self.handle.add(typed)
        from .._schedule import Schedule

        start, end = Schedule(window=window).window or (0.0, None)
        handle = ToxicHandle(self.handle, typed, typed.body()["name"])
        self._later(start, lambda: self.handle.add(typed))
        if end is not None:
            self._later(end, handle.remove)
        return handle

    def _later(self, seconds: float, action: Any) -> None:
        if seconds <= 0:
            action()
            return
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def cancel_timers(self) -> None:
        while self.timers:
            self.timers.pop().cancel()

    def down(self) -> Any:
        """``with proxy.down():`` the service refuses connections inside the block."""
        return self.handle.down()

    def __repr__(self) -> str:
        return f"<NetworkProxy {self.name} {self.listen} -> {self.handle.upstream}>"


def _from_catalog(fault_id: str, overrides: dict[str, Any]) -> Toxic:
    from .. import faults

    fault = faults.get(fault_id, **{k: v for k, v in overrides.items() if k in ("stream", "toxicity")})
    if fault.effect != "toxic":
        raise ChaosConfigError(f"{fault_id} is not a network fault; give proxy.add a net.* id or a toxic")
    params = dict(fault.params)
    attributes = {**dict(params.pop("attributes", {}) or {}), **{k: v for k, v in overrides.items() if k not in ("stream", "toxicity")}}
    return make_toxic(
        str(params["type"]), stream=params.get("stream", "downstream"), toxicity=float(params.get("toxicity", 1.0)),
        name=fault_id, **attributes,
    )


class Network:
    """The network seam of one chaos session (``chaos.network``)."""

    def __init__(self, engine: Engine, url: str | None = None) -> None:
        self.engine = engine
        self._url = url or os.environ.get(ENV_URL) or None
        self._client: ToxiproxyClient | None = None
        self._swept = False
        self.proxies: list[NetworkProxy] = []

    @property
    def client(self) -> ToxiproxyClient:
        """The Toxiproxy client; the embedded server starts on first use when no URL is set."""
        if self._client is None:
            self._client = ToxiproxyClient(self._url or embedded_url())
        return self._client

    @property
    def url(self) -> str:
        return self.client.url

    def proxy(self, name: str, *, upstream: str, listen: str = "127.0.0.1:0") -> NetworkProxy:
        """A new proxy ``name`` in front of ``upstream`` (``host:port``), destroyed with the session.

        On the server it is named `server_name` (``name`` and its owner), so a session never meets
        another's proxy, or a killed run's, under its name.
        """
        self.engine.on_real(f"chaos.network.proxy({name!r}) (a TCP proxy on real sockets)")
        if not self._swept:
            self._sweep()
        proxy = NetworkProxy(name, self.client.create(server_name(name), upstream, listen=listen))
        self.proxies.append(proxy)
        return proxy

    def _sweep(self) -> None:
        """Destroy the proxies that killed ``chaos.network`` runs on this host left on the server."""
        for name in self.client.proxies():
            if orphaned(name):
                try:
                    self.client.destroy(name)
                except ToxiproxyError:  # another session swept it first
                    pass
        self._swept = True

    def close(self) -> None:
        """Destroy every proxy this session made; errors are kept for the last one raised."""
        error: BaseException | None = None
        while self.proxies:
            proxy = self.proxies.pop()
            proxy.cancel_timers()
            try:
                proxy.handle.destroy()
            except BaseException as exc:  # one failing cleanup must not leave the others
                error = error or exc
        if error is not None:
            raise error

"""A chaos proxy process: the data plane and the control API on two loopback ports, one event loop.

Stopping (SIGINT, SIGTERM, :meth:`ChaosProxy.stop`) takes every fault off first, resets the
connections of answers still held or relayed, then closes the listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from .._clock import RealClock
from .._errors import ChaosConfigError
from .._fault import Fault
from .._journal import JournalEvent
from ..engine import Engine
from ..seams._proxy import PooledFetcher, ProxySeam
from ._board import FaultBoard
from ._claim import Claims
from ._config import ProxyConfig
from ._control import ControlApi
from ._metrics import Metrics

__all__ = ["ChaosProxy"]

#: How often expired faults are swept: a fault is off within this long after its TTL.
SWEEP_SECONDS = 0.1


class ChaosProxy:
    """One chaos proxy: build it from a :class:`ProxyConfig`, then :meth:`serve` (async),
    :meth:`run` (blocking, with signal handling) or :meth:`running` (a background thread, for
    tests and benchmarks)."""

    def __init__(self, config: ProxyConfig) -> None:
        from .. import faults

        _require()
        self.config = config
        state = loads = None
        if config.state:
            from ._state import RedisColdStarts, RedisState

            state = RedisState(config.state)
            loads = RedisColdStarts(state)
        self.engine = Engine(seed=config.seed, scope="proxy", clock=RealClock(), journal_keep=config.journal_keep,
                             passed_bodies=False, loads=loads)
        self.board = FaultBoard(self.engine, config.upstreams, max_active=config.max_active_faults,
                                default_ttl=config.default_ttl, max_ttl=config.max_ttl, state=state)
        self.metrics = Metrics(active=lambda: len(self.board), overflows=lambda: self.board.overflows)
        self.fetcher = PooledFetcher(connect_timeout=config.upstream_connect_timeout)
        self.seam = ProxySeam(self.engine, config.upstreams, self.fetcher, token=config.token, observer=self.metrics,
                              faults_of=lambda fault_id, params: _resolve(faults, fault_id, params))
        self.claims = Claims(state=state, max_ttl=config.max_ttl)
        self.control = ControlApi(self.board, self.engine, self.metrics, config.token, self._health, self.claims)
        self._journal_file: TextIO | None = None
        self._servers: list[Any] = []
        self._sockets = [_bind(*config.listen), _bind(*config.control)]
        self._loop: asyncio.AbstractEventLoop | None = None
        if config.journal_file:
            self._journal_file = open(config.journal_file, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed in stop
            self.engine.calls.subscribe(self._write)

    @property
    def url(self) -> str:
        """Where apps send requests: ``http://HOST:PORT`` (``/NAME/...`` per upstream)."""
        return _url(self._sockets[0])

    @property
    def control_url(self) -> str:
        return _url(self._sockets[1])

    def _health(self) -> dict[str, Any]:
        return {"status": "ok", "upstreams": {u.name: {"url": u.url, "provider": u.provider} for u in self.config.upstreams},
                "active_faults": len(self.board), "seed": self.engine.seed, "requests": self.engine.calls.written}

    def _write(self, event: JournalEvent) -> None:
        if event.kind == "closed" and self._journal_file is not None:
            self._journal_file.write(json.dumps(event.call.to_dict(), default=str) + "\n")

    async def serve(self) -> None:
        """Serve until :meth:`stop`; takes every fault off on the way out."""
        import uvicorn

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:  # the proxy handles signals itself
                yield

        self._loop = asyncio.get_running_loop()
        configs = [  # http="auto": httptools when installed (the staging extra brings it), else h11
            # the real server's own date and server headers pass through: uvicorn adds none of its own,
            # and reads no X-Forwarded-* (the proxy does not look at the client's address)
            uvicorn.Config(self.seam, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1,
                           server_header=False, date_header=False, proxy_headers=False),
            uvicorn.Config(self.control, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1),
        ]
        self._servers = [_Server(c) for c in configs]
        sweeper = asyncio.ensure_future(self._sweep())
        try:
            await asyncio.gather(*(s.serve(sockets=[sock]) for s, sock in zip(self._servers, self._sockets, strict=True)))
        finally:
            sweeper.cancel()
            self._clean()
            await self.fetcher.aclose()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for _ in self.board.sweep():
                self.metrics.expired.inc()

    def stop(self) -> None:
        """Take every fault off, reset the connections in flight, and stop serving (thread-safe).
        With shared state, the faults stay on the other replicas (until their TTL)."""
        self.board.forget()
        loop = self._loop
        if loop is None or loop.is_closed():
            self._clean()
            return

        def now() -> None:
            self.seam.stop()
            for server in self._servers:
                server.should_exit = True

        with contextlib.suppress(RuntimeError):  # the loop has already stopped
            loop.call_soon_threadsafe(now)

    def _clean(self) -> None:
        self.board.forget()
        self.engine.calls.close_all()
        if self._journal_file is not None:
            self._journal_file.close()
            self._journal_file = None
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def run(self) -> None:
        """Serve in this thread until SIGINT or SIGTERM."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
            await self.serve()

        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main())

    @contextlib.contextmanager
    def running(self) -> Iterator[ChaosProxy]:
        """Serve in a background thread for the ``with`` block; stopped (faults off) on exit."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def target() -> None:
            async def main() -> None:
                task = asyncio.ensure_future(self.serve())
                while not all(getattr(s, "started", False) for s in self._servers) and not task.done():
                    await asyncio.sleep(0.005)
                ready.set()
                await task

            try:
                with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                    runner.run(main())
            except BaseException as exc:  # noqa: BLE001 - reported to the caller
                errors.append(exc)
                ready.set()

        thread = threading.Thread(target=target, name="chaoskit-proxy", daemon=True)
        thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        try:
            yield self
        finally:
            self.stop()
            thread.join(10)


def _loop_factory() -> Any:
    """uvloop's event loop when it is installed (the staging extra brings it), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _require() -> None:
    """The proxy's own dependencies are an extra: say which to install when one is missing."""
    import importlib.util

    missing = [m for m in ("uvicorn", "aiohttp", "prometheus_client") if importlib.util.find_spec(m) is None]
    if missing:
        raise ChaosConfigError(f"the chaos proxy needs {', '.join(missing)}, which are not installed: pip install 'chaoskit[staging]'")


def _resolve(faults: Any, fault_id: str, params: Mapping[str, Any]) -> Fault:
    fault: Fault = faults.get(fault_id, **params)
    return fault


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns TCP_NODELAY on only for sockets that say they are TCP, and
    # without it a response written in pieces waits for the client's delayed ACK (~40 ms a call)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"chaoskit proxy: cannot listen on {host}:{port}: {exc.strerror}; "
                                 "choose another port (--listen/--control HOST:PORT)") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

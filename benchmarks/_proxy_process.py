"""A chaos proxy process for ``bench_proxy.py``: ``ChaosProxy(config).run()``, as ``chaoskit
proxy`` runs it, with what the benchmark varies.

``--leg httpx2`` swaps the proxy's aiohttp :class:`~chaoskit.seams._proxy.PooledFetcher` for
:class:`Httpx2Fetcher`, one pooled ``httpx2.AsyncClient`` (``--leg aiohttp``: the proxy's own).
``--profile pyinstrument|cprofile --profile-out PATH``: SIGUSR1 starts the profiler, SIGUSR2
stops it and writes ``PATH`` (a pyinstrument session, or cProfile stats).
Prints its URL and control URL on its first two lines, as ``chaoskit proxy`` does.

    CHAOSKIT_PROXY_TOKEN=... python benchmarks/_proxy_process.py --upstream openai=http://127.0.0.1:PORT --leg httpx2
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import httpx2

from chaoskit.providers._profile import CallRequest
from chaoskit.proxy import ChaosProxy, ProxyConfig, parse_address, parse_upstream
from chaoskit.seams._player import FetchFailed, kind_of

#: Hop-by-hop headers and the ones the client sets itself (as the proxy's own fetcher leaves out).
_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})


class _Fetched:
    """One real answer read from the httpx2 pool: its head now, its decoded body as it arrives."""

    __slots__ = ("status", "headers", "_response")

    def __init__(self, response: httpx2.Response) -> None:
        self._response = response
        self.status: int = response.status_code
        self.headers: list[tuple[bytes, bytes]] = list(response.headers.raw)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx2.TransportError as exc:
            raise FetchFailed(kind_of(exc) or "incomplete", str(exc)) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class Httpx2Fetcher:
    """The proxy's upstream leg on ``httpx2.AsyncClient``: one client and its pool, shared by
    every call, no pool limit (as the aiohttp leg's ``TCPConnector(limit=0)``)."""

    def __init__(self, *, connect_timeout: float | None = 30.0, read_timeout: float | None = None) -> None:
        self.timeout = httpx2.Timeout(connect=connect_timeout, read=read_timeout, write=None, pool=None)
        self._client: httpx2.AsyncClient | None = None

    def _pool(self) -> httpx2.AsyncClient:
        if self._client is None:
            limits = httpx2.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=30.0)
            self._client = httpx2.AsyncClient(limits=limits, timeout=self.timeout, trust_env=False, follow_redirects=False)
        return self._client

    async def open(self, request: CallRequest, *, connect_timeout: float | None = None,
                   read_timeout: float | None = None) -> _Fetched:
        headers = [(k, v) for k, v in _items(request.headers) if k.lower() not in _HOP]
        client = self._pool()
        try:
            built = client.build_request(request.method, request.url, headers=headers, content=request.body or None)
            response = await client.send(built, stream=True)
        except httpx2.TransportError as exc:
            raise FetchFailed(kind_of(exc) or "connect_refused", str(exc)) from exc
        return _Fetched(response)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _items(headers: Any) -> Sequence[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", action="append", required=True, metavar="NAME[:PROVIDER]=URL")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--control", default="127.0.0.1:0")
    parser.add_argument("--leg", choices=("aiohttp", "httpx2"), default="aiohttp")
    parser.add_argument("--profile", choices=("none", "pyinstrument", "cprofile"), default="none")
    parser.add_argument("--profile-out", default=None, metavar="PATH")
    args = parser.parse_args()
    config = ProxyConfig(
        upstreams=tuple(parse_upstream(u) for u in args.upstream), token=os.environ["CHAOSKIT_PROXY_TOKEN"],
        listen=parse_address(args.listen, what="--listen"), control=parse_address(args.control, what="--control"),
    )
    proxy = ChaosProxy(config)
    if args.leg == "httpx2":
        fetcher: Any = Httpx2Fetcher(connect_timeout=config.upstream_connect_timeout)
        proxy.fetcher = fetcher
        proxy.seam.fetcher = fetcher
    routes = ", ".join(f"{proxy.url}/{u.name}/ -> {u.url} ({u.provider})" for u in config.upstreams)
    print(f"chaoskit proxy: {routes}", flush=True)
    print(f"chaoskit proxy: control API on {proxy.control_url} ({args.leg} upstream leg)", flush=True)
    if args.profile != "none":
        _profile_on_signals(args.profile, args.profile_out)
    proxy.run()


def _profile_on_signals(profiler: str, out: str) -> None:
    """SIGUSR1 starts the profiler, SIGUSR2 stops it and writes ``out``: the caller warms the
    proxy up first, so imports and first connections stay out of the profile."""
    import signal

    start: Callable[[], object]
    write: Callable[[str], None]
    if profiler == "pyinstrument":
        from pyinstrument import Profiler

        sampler = Profiler(interval=0.0002, async_mode="disabled")
        start = sampler.start

        def write(path: str) -> None:
            sampler.stop().save(path)
    else:
        import cProfile

        counter = cProfile.Profile()
        start = counter.enable

        def write(path: str) -> None:
            counter.disable()
            counter.dump_stats(path)

    def stop() -> None:
        write(out + ".part")
        os.replace(out + ".part", out)  # whole when it appears

    signal.signal(signal.SIGUSR1, lambda *_: start())
    signal.signal(signal.SIGUSR2, lambda *_: stop())


if __name__ == "__main__":
    main()

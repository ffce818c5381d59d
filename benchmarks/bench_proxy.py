"""The chaos proxy with no fault on, against the same upstream direct, same run (issue 16).

Real processes, loopback only, no two of them sharing an interpreter:

* two upstreams under uvicorn (h11, asyncio): the tests' real model server
  (``tests/engine/_upstream.py``: OpenAI Chat Completions, SSE with a 20 ms pause between
  events) for the time to first token, and the same server with no pause (``_fast_upstream.py``)
  for unary calls and throughput;
* the proxies, each ``--upstream openai=FAST --upstream paced:openai=PACED``:

  - ``proxy``: ``chaoskit proxy`` as users run it (uvloop and httptools when installed, as
    the staging extra brings them; its upstream leg is aiohttp);
  - ``httpx2``: ``_proxy_process.py --leg httpx2``, the same ``ChaosProxy`` with the upstream
    leg on one pooled ``httpx2.AsyncClient`` (issue 16: "measure httpx2 against aiohttp for
    the upstream leg");

* this process, the client of every way (the same aiohttp code for each), the ways interleaved.

Measured, each way against direct:

1. sequential unary chat completions (``--calls`` each), each way on one keep-alive connection
   of its own, as an app calling one at a time: p50, p99; the ways interleaved in blocks of 50;
2. at 32 concurrent, best of ``--rounds`` interleaved rounds of ``--burst`` requests: unary
   answers/s, and streamed answers/s read to their end (no target); with the CPU time each
   process spent per request (Linux), which bounds throughput when they share 2 cores;
3. time to first token of a streamed answer (the first event with text), on the same
   connections, interleaved stream by stream, median of ``--streams``; each stream is read to
   its end, so the connection is reused.

Targets (issue 16): added p50 under 1 ms and p99 under 3 ms sequentially (added p99: the
proxy's p99 less direct's), at least 50% of direct throughput at 32 concurrent, time to first
token within 2 ms of direct. Each figure is printed with its target and whether it is met,
then a JSON line.

``--profile DIR`` runs no comparison: it profiles the same proxy (``_proxy_process.py``) under the sequential
load, then under the 32-concurrent load, with pyinstrument (time) and cProfile (call counts),
writes both to DIR and prints the proxy's busy time by package and the costliest functions
inside chaoskit; then chaoskit's own cost per request without a profiler: the proxy's ASGI app
called in this process with no server, no socket and a canned upstream answer. Profilers
inflate small Python calls (pyinstrument about 5x here): read their shares, and the unprofiled
figures for µs. Needs ``pip install pyinstrument``.

Each request is a one-line question; ``--history-kib N`` adds N KiB of earlier conversation,
as a chat app's requests carry (the proxy parses, digests and journals every body).

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_proxy.py [--calls N] [--burst N]
[--streams N] [--rounds N] [--history-kib N] [--profile DIR]``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from engine._upstream import model_server_process  # noqa: E402 - the tests' real model server
from seams._servers import free_port  # noqa: E402

TOKEN = "bench-proxy-token-0123456789"
CONCURRENCY = 32
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
QUESTION = "Where is order A100?"
UNARY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": QUESTION}]}).encode()
STREAMED = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": QUESTION}], "stream": True}).encode()
#: The ways compared (see the docstring).
WAYS = ("direct", "proxy", "httpx2")
#: Sequential calls are made in blocks of this many per way: call-by-call interleaving lets one
#: way's stalls (a 40 ms delayed ACK) leave the cores idle, and the next way pays to wake them.
SEQUENTIAL_BLOCK = 50
TARGETS = {"p50_ms": "added < 1 ms", "p99_ms": "added < 3 ms", "rps": ">= 50% of direct", "ttft_ms": "added <= 2 ms"}


# ---- the processes ------------------------------------------------------------------------------


@contextlib.contextmanager
def fast_upstream() -> Iterator[tuple[str, int]]:
    """The model server with no pause between events, under uvicorn in its own process; yields
    its URL and pid. h11 and asyncio named, so an installed httptools or uvloop changes nothing."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(HERE), "_fast_upstream:app",
                               "--host", "127.0.0.1", "--port", str(port), "--http", "h11", "--loop", "asyncio",
                               "--log-level", "critical"])
    try:
        _wait_for(f"http://127.0.0.1:{port}/", server)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def proxy_process(command: list[str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A proxy process that prints its URL and control URL first (as ``chaoskit proxy`` does);
    yields its URL and the process. Stopped with SIGINT, as a user stops it."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "CHAOSKIT_PROXY_TOKEN": TOKEN})
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
        url, control = re.search(r"(http://[\d.:]+)/openai/", first), re.search(r"control API on (http://[\d.:]+)", second)
        if not (url and control):
            raise RuntimeError(f"the proxy did not start: {first!r} {second!r}")
        _wait_for(control.group(1) + "/health", process)
        yield url.group(1), process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def chaoskit_proxy(fast: str, paced: str) -> list[str]:
    return [sys.executable, "-m", "chaoskit.cli", "proxy", "--upstream", f"openai={fast}", "--upstream", f"paced:openai={paced}",
            "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0"]


def script_proxy(fast: str, paced: str, *args: str) -> list[str]:
    return [sys.executable, str(HERE / "_proxy_process.py"), "--upstream", f"openai={fast}",
            "--upstream", f"paced:openai={paced}", *args]


def with_history(kib: int) -> None:
    """Make every request carry about ``kib`` KiB of earlier conversation (8 turns of plain words)
    before the question, as a chat app's requests do; 0 leaves the one-line question."""
    global UNARY, STREAMED
    if kib <= 0:
        return
    words = ("order", "shipped", "refund", "the", "parcel", "tracking", "number", "is", "delayed", "thanks")
    turn = " ".join(words[(i * 7) % len(words)] for i in range(kib * 1024 // 8 // 6))
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": turn} for i in range(8)]
    messages.append({"role": "user", "content": QUESTION})
    UNARY = json.dumps({"model": "gpt-4o-mini", "messages": messages}).encode()
    STREAMED = json.dumps({"model": "gpt-4o-mini", "messages": messages, "stream": True}).encode()


def _wait_for(url: str, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer (exit {process.poll()})") from None
            time.sleep(0.05)


def _cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of a process so far; this one's for None. NaN off Linux."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the client ---------------------------------------------------------------------------------


async def unary(session: aiohttp.ClientSession, url: str) -> float:
    """Seconds for one chat completion, the whole body read."""
    started = time.perf_counter()
    async with session.post(url, data=UNARY, headers=HEADERS) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
    return time.perf_counter() - started


async def streamed(session: aiohttp.ClientSession, url: str) -> float:
    """Seconds to the first event with text of a streamed chat completion; the rest is read too."""
    started = time.perf_counter()
    first = None
    async with session.post(url, data=STREAMED, headers=HEADERS) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
        async for line in response.content:
            if first is None and line.startswith(b"data: {"):
                choices = json.loads(line[6:])["choices"]
                if choices and choices[0]["delta"].get("content"):
                    first = time.perf_counter() - started
    if first is None:
        raise RuntimeError(f"{url}: the stream carried no text")
    return first


async def burst(session: aiohttp.ClientSession, url: str, total: int, call: Callable[..., Awaitable[float]]) -> float:
    """Answers per second for ``total`` calls made by ``CONCURRENCY`` workers at once."""
    left = total

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call(session, url)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return total / (time.perf_counter() - started)


async def measured_burst(session: aiohttp.ClientSession, url: str, total: int, pids: dict[str, int | None]) -> dict[str, float]:
    """A unary burst: answers/s, and each process's CPU µs per answer (``pids``: name -> pid)."""
    gc.collect()
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    rate = await burst(session, url, total, unary)
    after = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    return {"rps": rate, **{f"cpu_{name}_us": (after[name] - before[name]) / total * 1e6 for name in pids}}


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


async def compare(ways: dict[str, tuple[str, str, int | None]], upstream_pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement, the ways interleaved. ``ways``: way -> (fast URL, paced URL, proxy pid)."""
    fast = {w: f"{b[0]}/v1/chat/completions" for w, b in ways.items()}
    paced = {w: f"{b[1]}/v1/chat/completions" for w, b in ways.items()}
    latency: dict[str, list[float]] = {w: [] for w in WAYS}
    first_token: dict[str, list[float]] = {w: [] for w in WAYS}
    bursts: dict[str, list[dict[str, float]]] = {w: [] for w in WAYS}
    stream_rate: dict[str, list[float]] = {w: [] for w in WAYS}
    n = len(WAYS)
    # One at a time, an app holds one keep-alive connection: each way gets its own client.
    one = {w: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, limit_per_host=1)) for w in WAYS}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as many:
            for way in WAYS:  # warm up: every pool (the clients', each proxy's) holds its connections
                await burst(many, fast[way], 4 * CONCURRENCY, unary)
                for _ in range(SEQUENTIAL_BLOCK):
                    await unary(one[way], fast[way])
                await streamed(one[way], paced[way])
            gc.collect()
            for i in range(-(-args.calls // SEQUENTIAL_BLOCK)):  # 1. sequential, block by block, the order turning
                for way in WAYS[i % n:] + WAYS[:i % n]:
                    for _ in range(min(SEQUENTIAL_BLOCK, args.calls - len(latency[way]))):
                        latency[way].append(await unary(one[way], fast[way]))
            for _ in range(args.rounds):  # 2. at 32 concurrent, round by round
                for way in WAYS:
                    pids = {"client": None, "upstream": upstream_pid} | ({} if ways[way][2] is None else {"proxy": ways[way][2]})
                    bursts[way].append(await measured_burst(many, fast[way], args.burst, pids))
                for way in WAYS:
                    gc.collect()
                    stream_rate[way].append(await burst(many, fast[way], args.burst // 2, streamed))
        for i in range(args.streams):  # 3. time to first token, stream by stream
            for way in WAYS[i % n:] + WAYS[:i % n]:
                first_token[way].append(await streamed(one[way], paced[way]))
    finally:
        for session in one.values():
            await session.close()
    return {
        way: {
            "p50_ms": _p(latency[way], 50), "p99_ms": _p(latency[way], 99),
            **max(bursts[way], key=lambda b: b["rps"]), "streams_per_s": max(stream_rate[way]),
            "ttft_ms": statistics.median(first_token[way]) * 1000,
        }
        for way in WAYS
    }


def _met(key: str, got: dict[str, float], direct: dict[str, float]) -> bool:
    if key == "rps":
        return got["rps"] >= 0.5 * direct["rps"]
    limit = {"p50_ms": 1.0, "p99_ms": 3.0, "ttft_ms": 2.0}[key]
    return got[key] - direct[key] < limit if key != "ttft_ms" else got[key] - direct[key] <= limit


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    direct = figures["direct"]
    labels = {"p50_ms": "sequential p50 (ms)", "p99_ms": "sequential p99 (ms)", "rps": "unary at 32 concurrent (/s)",
              "streams_per_s": "streams at 32 concurrent (/s)", "ttft_ms": "time to first token (ms)"}
    titles = {"proxy": "chaoskit proxy, as shipped (aiohttp upstream leg)",
              "httpx2": "the same, upstream leg on httpx2"}
    for way in WAYS[1:]:
        got = figures[way]
        print(f"-- {titles[way]}")
        print(f"   {'':32}{'direct':>10}{'proxy':>10}{'vs direct':>11}   target")
        for key, label in labels.items():
            d, p = direct[key], got[key]
            shown = f"{100 * p / d:9.1f} %" if key in ("rps", "streams_per_s") else f"{p - d:+9.2f}  "
            verdict = f"{TARGETS[key]}: {'met' if _met(key, got, direct) else 'NOT MET'}" if key in TARGETS else ""
            print(f"   {label:32}{d:10.2f}{p:10.2f}{shown}   {verdict}")
        cpu = "  ".join(f"{name} {got.get(f'cpu_{name}_us', float('nan')):.0f}" for name in ("client", "proxy", "upstream"))
        print(f"   CPU µs per unary answer at 32 concurrent: {cpu} (direct: client {direct['cpu_client_us']:.0f}  "
              f"upstream {direct['cpu_upstream_us']:.0f})")
        got["targets_met"] = {key: _met(key, got, direct) for key in TARGETS}
    a, h = figures["proxy"], figures["httpx2"]
    print(f"-- upstream leg, httpx2 against aiohttp: at 32 concurrent {h['rps']:.0f} against "
          f"{a['rps']:.0f} unary/s ({100 * h['rps'] / a['rps']:.0f}%), {h['streams_per_s']:.0f} against "
          f"{a['streams_per_s']:.0f} streams/s ({100 * h['streams_per_s'] / a['streams_per_s']:.0f}%); sequential p50 "
          f"{h['p50_ms']:.2f} against {a['p50_ms']:.2f} ms; time to first token {h['ttft_ms']:.2f} against {a['ttft_ms']:.2f} ms")
    print(json.dumps({
        "calls": args.calls, "burst": args.burst, "request_bytes": len(UNARY), "rounds": args.rounds, "streams": args.streams, "concurrency": CONCURRENCY,
        **{w: {k: (round(v, 3) if isinstance(v, float) else v) for k, v in f.items()} for w, f in figures.items()},
        "python": platform.python_version(), "aiohttp_version": aiohttp.__version__, "httpx2_version": httpx2.__version__,
        "uvicorn_http": _uvicorn_http(), "cores": os.cpu_count(),
    }))


def _uvicorn_http() -> str:
    """The HTTP implementation ``chaoskit proxy`` gets from uvicorn's ``http="auto"``."""
    import importlib.util

    return "httptools" if importlib.util.find_spec("httptools") else "h11"


# ---- the profile --------------------------------------------------------------------------------


async def load(base: str, kind: str, args: argparse.Namespace, process: subprocess.Popen[str]) -> int:
    """The sequential or the 32-concurrent unary load on a proxy profiled from SIGUSR1 to
    SIGUSR2, sent around it after a warm-up; returns how many requests."""
    url = f"{base}/openai/v1/chat/completions"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await burst(session, url, 4 * CONCURRENCY, unary)
        process.send_signal(signal.SIGUSR1)
        await asyncio.sleep(0.2)
        if kind == "sequential":
            for _ in range(args.calls):
                await unary(session, url)
            requests = args.calls
        else:
            for _ in range(args.rounds):
                await burst(session, url, args.burst, unary)
            requests = args.rounds * args.burst
        process.send_signal(signal.SIGUSR2)
    return requests


def _package(path: str) -> str:
    """Which package a frame's file belongs to, for the time-by-package table."""
    if "/chaoskit/" in path:
        return "chaoskit"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    return "asyncio" if "/asyncio/" in path else "stdlib"


def pyinstrument_costs(path: Path, requests: int, top: int) -> None:
    """Print the proxy's busy time by package, and the chaoskit functions with the most time
    (inclusive, a recursion counted once), each in µs per request and % of the busy time.
    Busy: all but the event loop's wait in ``select``. A built-in call's time (a socket send)
    and a frame's own time count for the package of the Python code that made them."""
    from pyinstrument.session import Session

    root = Session.load(str(path)).root_frame()
    assert root is not None
    selfs: dict[str, float] = {}
    inclusive: dict[str, float] = {}

    def walk(frame: Any, package: str, above: frozenset[str]) -> float:
        """Records ``frame``'s subtree; returns the idle time in it."""
        where = frame.file_path or ""
        if frame.function == "select" and where.endswith("selectors.py"):
            return float(frame.time)
        if where.startswith("/"):
            package = _package(where)
        own = frame.time - sum(child.time for child in frame.children)
        selfs[package] = selfs.get(package, 0.0) + own
        ident = ""
        if package == "chaoskit" and where.startswith("/"):
            name = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
            ident = f"{name} ({where.split('/chaoskit/')[-1]}:{frame.line_no})"
        counted = ident != "" and ident not in above
        idle = sum(walk(child, package, above | {ident} if counted else above) for child in frame.children)
        if counted:
            inclusive[ident] = inclusive.get(ident, 0.0) + frame.time - idle
        return idle

    idle = walk(root, "stdlib", frozenset())
    busy = root.time - idle
    print(f"  proxy process: {root.time:.2f} s profiled, {busy:.2f} s busy ({busy / requests * 1e6:.0f} µs a request, "
          f"profiled), {idle:.2f} s waiting in select")
    print("  busy time by package (own time, and the built-ins it calls):")
    for package, seconds in sorted(selfs.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {100 * seconds / busy:6.1f}%  {seconds / requests * 1e6:7.1f} µs/request  {package}")
    print(f"  chaoskit functions by inclusive time (top {top}):")
    for ident, seconds in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {100 * seconds / busy:6.1f}%  {seconds / requests * 1e6:7.1f} µs/request  {ident}")


def cprofile_counts(path: Path, requests: int, top: int) -> None:
    """Print the functions cProfile saw called most often per request, chaoskit's and the
    socket calls (a coroutine counts once per resumption)."""
    import pstats

    loaded: Any = pstats.Stats(str(path))
    stats = loaded.stats
    rows = []
    for (file, line, func), (_cc, calls, _tt, cum, _callers) in stats.items():
        if "/chaoskit/" in file or func in ("<method 'send' of '_socket.socket' objects>",
                                            "<method 'recv' of '_socket.socket' objects>"):
            rows.append((calls, cum, f"{func} ({file.split('/chaoskit/')[-1]}:{line})" if line else func))
    print(f"  most called per request (cProfile, top {top}):")
    for calls, cum, name in sorted(rows, key=lambda r: -r[0])[:top]:
        print(f"    {calls / requests:5.1f} calls  {cum / requests * 1e6:7.1f} µs/request cumulative (profiled)  {name}")


def seam_costs(calls: int) -> dict[str, float]:
    """chaoskit's own cost per relayed request, no profiler: the proxy's ASGI app called in
    this process (no server, no socket; a canned upstream answer), and its parts alone."""
    from chaoskit.providers._profile import CallRequest
    from chaoskit.proxy import ChaosProxy, ProxyConfig, parse_upstream

    proxy = ChaosProxy(ProxyConfig(upstreams=(parse_upstream("openai=http://127.0.0.1:9"),), token=TOKEN,
                                   listen=("127.0.0.1", 0), control=("127.0.0.1", 0)))
    answer = json.dumps({"id": "chatcmpl-upstream", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": "The real server says hello."},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}).encode()
    head = [(b"date", b"Mon, 01 Jan 2026 00:00:00 GMT"), (b"server", b"uvicorn"), (b"content-length", str(len(answer)).encode()),
            (b"content-type", b"application/json")]

    class Canned:
        status, headers = 200, head

        async def chunks(self) -> Any:
            yield answer

        async def aclose(self) -> None:
            return None

    class CannedFetcher:
        async def open(self, request: Any, **_: Any) -> Canned:
            return Canned()

        async def aclose(self) -> None:
            return None

    proxy.seam.fetcher = CannedFetcher()  # type: ignore[assignment]
    headers = [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/json"), (b"authorization", b"Bearer sk-bench"),
               (b"content-length", str(len(UNARY)).encode()), (b"accept", b"*/*"), (b"accept-encoding", b"gzip, deflate"),
               (b"user-agent", f"Python/3.11 aiohttp/{aiohttp.__version__}".encode())]
    scope = {"type": "http", "method": "POST", "path": "/openai/v1/chat/completions", "query_string": b"", "headers": headers}
    route = proxy.seam._routes["openai"]

    def receiver() -> Callable[[], Awaitable[Any]]:
        """One request's ``receive``: its body, then nothing (the app stays connected)."""
        messages: list[Any] = [{"type": "http.request", "body": UNARY, "more_body": False}]
        never = asyncio.get_running_loop().create_future()

        async def receive() -> Any:
            return messages.pop() if messages else await never

        return receive

    async def send(message: Any) -> None:
        return None

    async def relayed(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            await proxy.seam(scope, receiver(), send)
        return (time.perf_counter() - started) / n * 1e6

    def timed(fn: Callable[[], object], n: int) -> float:
        for _ in range(n // 10):
            fn()
        gc.collect()
        started = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - started) / n * 1e6

    request_headers = {k.decode(): v.decode() for k, v in headers}

    def decided() -> None:
        req = CallRequest("POST", "http://127.0.0.1:9/v1/chat/completions", request_headers, UNARY, host="127.0.0.1",
                          path="/v1/chat/completions")
        decision = proxy.engine.decide(req, route=route)
        assert decision.call is not None
        decision.on_end(decision.call, final=False)
        if decision.meter is not None:
            decision.meter.feed(answer)
        decision.on_end(decision.call)

    def observed() -> None:
        proxy.metrics.request("openai")
        proxy.metrics.answered("openai", 200, None, 0.001)

    asyncio.run(relayed(calls // 10))
    gc.collect()
    figures = {
        "asgi_app_us": asyncio.run(relayed(calls)),
        "decide_and_journal_us": timed(decided, calls),
        "metrics_us": timed(observed, calls),
        "redact_headers_us": timed(lambda: proxy.engine.calls.redactor.headers(request_headers), calls),
        "redact_body_us": timed(lambda: proxy.engine.calls.redactor.value(json.loads(UNARY)), calls),
    }
    proxy._clean()
    return figures


def profile(fast: str, paced: str, out: Path, args: argparse.Namespace) -> None:
    import importlib.util

    if importlib.util.find_spec("pyinstrument") is None:
        raise SystemExit("bench_proxy.py --profile needs pyinstrument, which is not installed: "
                         ".venv/bin/pip install pyinstrument")
    out.mkdir(parents=True, exist_ok=True)
    for kind in ("sequential", "concurrent"):
        for profiler, suffix in (("pyinstrument", "pyisession"), ("cprofile", "prof")):
            path = out / f"proxy-{kind}.{suffix}"
            path.unlink(missing_ok=True)
            command = script_proxy(fast, paced, "--profile", profiler, "--profile-out", str(path))
            with proxy_process(command) as (base, process):
                requests = asyncio.run(load(base, kind, args, process))
                deadline = time.monotonic() + 30
                while not path.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
            where = "" if kind == "sequential" else f" at {CONCURRENCY} concurrent"
            print(f"== {kind} load ({requests} unary requests{where}), {profiler}: {path}")
            if profiler == "pyinstrument":
                pyinstrument_costs(path, requests, args.top)
            else:
                cprofile_counts(path, requests, args.top)
    costs = seam_costs(max(args.calls, 2000) * 5)
    print("== chaoskit's own cost per relayed unary request, no profiler (in this process, no sockets):")
    print(f"  the proxy's ASGI app, end to end: {costs['asgi_app_us']:.1f} µs; of it, Engine.decide and the journal "
          f"entry opened and closed: {costs['decide_and_journal_us']:.1f} µs (headers redacted "
          f"{costs['redact_headers_us']:.1f}, body redacted {costs['redact_body_us']:.1f}); metrics: {costs['metrics_us']:.1f} µs")
    print(json.dumps({k: round(v, 2) for k, v in costs.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="sequential unary calls per way (default: 1000)")
    parser.add_argument("--burst", type=int, default=2000,
                        help="unary calls per way per round at 32 concurrent; half as many streams (default: 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds at 32 concurrent, best kept (default: 3)")
    parser.add_argument("--streams", type=int, default=60, help="streams per way for the time to first token (default: 60)")
    parser.add_argument("--history-kib", type=int, default=0,
                        help="KiB of earlier conversation in every request (default: 0, a one-line question)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR", help="profile the proxy instead of comparing")
    parser.add_argument("--top", type=int, default=12, help="functions listed per profile (default: 12)")
    args = parser.parse_args()
    with_history(args.history_kib)
    with model_server_process() as paced, fast_upstream() as (fast, upstream_pid):
        if args.profile is not None:
            profile(fast, paced, args.profile, args)
            return
        with proxy_process(chaoskit_proxy(fast, paced)) as (proxy, p1), \
                proxy_process(script_proxy(fast, paced, "--leg", "httpx2")) as (httpx2_, p3):
            ways = {"direct": (fast, paced, None), "proxy": (f"{proxy}/openai", f"{proxy}/paced", p1.pid),
                    "httpx2": (f"{httpx2_}/openai", f"{httpx2_}/paced", p3.pid)}
            figures = asyncio.run(compare(ways, upstream_pid, args))
    report(figures, args)


if __name__ == "__main__":
    main()

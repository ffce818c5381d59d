"""The embedded Toxiproxy-compatible server with no toxics, against a direct connection.

An echo server on loopback (its own process); a client measures request/response round
trips (p50) and pushes 64 MiB one way, first straight to the echo server, then through a
proxy of the embedded server, run as `chaoskit toxiproxy` in its own process as users run
it, interleaved over 3 rounds (best of each). Separate processes keep the three from sharing
one GIL. Targets (issue 6): p50 added latency under 1 ms, at least half the direct throughput.

    python benchmarks/bench_network.py
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chaoskit.network._client import ToxiproxyClient  # noqa: E402

ROUND_TRIPS = 2000
VOLUME = 64 * 1024 * 1024
CHUNK = 64 * 1024


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := sock.recv(CHUNK):
            if data[:1] == b"S":  # a sink: count and say how much arrived at the end
                total = len(data)
                while more := sock.recv(CHUNK):
                    total += len(more)
                    if total >= VOLUME:
                        break
                sock.sendall(b"done")
                return
            sock.sendall(data)


def round_trips(host: str, port: int) -> list[float]:
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        for _ in range(ROUND_TRIPS):
            start = time.perf_counter()
            sock.sendall(b"ping")
            got = b""
            while len(got) < 4:
                got += sock.recv(16)
            times.append(time.perf_counter() - start)
    return times


def throughput(host: str, port: int) -> float:
    payload = b"S" + b"x" * (CHUNK - 1)
    with socket.create_connection((host, port)) as sock:
        start = time.perf_counter()
        sent = 0
        while sent < VOLUME:
            sock.sendall(payload)
            sent += len(payload)
        assert sock.recv(16) == b"done"
        return VOLUME / (time.perf_counter() - start) / 1e6  # MB/s


def _serve_echo() -> None:
    """The echo server, run in a child process (``--echo``): prints its port, serves forever."""
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    echo.daemon_threads = True
    print(echo.server_address[1], flush=True)
    echo.serve_forever()


def _start(args: list[str], pattern: str) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    found = re.search(pattern, line)
    if not found:
        child.kill()
        sys.exit(f"{args[0]}: unexpected first line {line!r}")
    return child, found.group(1)


def main() -> None:
    if sys.argv[1:] == ["--echo"]:
        _serve_echo()
        return
    echo, port = _start([sys.executable, __file__, "--echo"], r"^(\d+)$")
    proxy_server, url = _start([sys.executable, "-m", "chaoskit.cli", "toxiproxy", "--port", "0"], r"(http://\S+)")
    try:
        proxy = ToxiproxyClient(url).create("bench", f"127.0.0.1:{port}")
        direct_rtt, proxied_rtt, direct_tp, proxied_tp = [], [], [], []
        for _ in range(3):
            direct_rtt.append(statistics.median(round_trips("127.0.0.1", int(port))))
            proxied_rtt.append(statistics.median(round_trips(proxy.host, proxy.port)))
            direct_tp.append(throughput("127.0.0.1", int(port)))
            proxied_tp.append(throughput(proxy.host, proxy.port))
    finally:
        for child in (proxy_server, echo):
            child.terminate()
            child.wait(10)
    d, p = min(direct_rtt) * 1e6, min(proxied_rtt) * 1e6
    dt, pt = max(direct_tp), max(proxied_tp)
    print(f"{'':28}{'direct':>12}{'embedded proxy':>16}{'ratio':>8}")
    print(f"{'round trip p50 (4 bytes)':28}{d:>9.0f} us{p:>13.0f} us{p / d:>7.1f}x   added {p - d:.0f} us")
    print(f"{'throughput (64 MiB one way)':28}{dt:>7.0f} MB/s{pt:>11.0f} MB/s{pt / dt:>7.2f}x")
    print(json.dumps({"rtt_direct_us": round(d), "rtt_proxy_us": round(p), "added_us": round(p - d),
                      "tp_direct_mbs": round(dt), "tp_proxy_mbs": round(pt), "tp_ratio": round(pt / dt, 3)}))


if __name__ == "__main__":
    main()

"""``chaos.network`` and the toxiproxy-python adapter, against the embedded server on real sockets."""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

import chaoskit
from chaoskit.network._client import Latency, LimitData, ToxiproxyClient, ToxiproxyError
from chaoskit.network._server import ToxiproxyServer


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _External:
    """A real Toxiproxy named by CHAOSKIT_TOXIPROXY_URL: the same tests run against it."""

    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def server() -> Iterator[ToxiproxyServer | _External]:
    url = os.environ.get("CHAOSKIT_TOXIPROXY_URL")
    if url:
        client = ToxiproxyClient(url)
        for name in client.proxies():
            client.destroy(name)
        yield _External(url)
        return
    with ToxiproxyServer(host="127.0.0.1", port=0, seed=1) as running:
        yield running


def roundtrip(host: str, port: int, payload: bytes = b"ping", timeout: float = 2.0) -> tuple[bytes, float]:
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    return got, time.monotonic() - start


def test_the_adapter_creates_lists_and_destroys_proxies(server: ToxiproxyServer | _External, echo: str) -> None:
    client = ToxiproxyClient(server.url)
    assert client.version()
    proxy = client.create("echo", echo)
    assert proxy.port > 0 and proxy.upstream == echo
    assert list(client.proxies()) == ["echo"]
    assert roundtrip(proxy.host, proxy.port) == (b"ping", pytest.approx(0, abs=0.5))
    proxy.destroy()
    assert client.proxies() == {}


def test_typed_toxics_as_context_managers(server: ToxiproxyServer | _External, echo: str) -> None:
    proxy = ToxiproxyClient(server.url).create("echo", echo)
    with proxy.add(Latency(latency=300)):
        assert proxy.toxics() == ["latency_downstream"]
        _, took = roundtrip(proxy.host, proxy.port)
        assert 0.28 <= took < 1.5
    assert proxy.toxics() == []
    _, took = roundtrip(proxy.host, proxy.port)
    assert took < 0.25
    with proxy.add("limit_data", bytes=3):
        got, _ = roundtrip(proxy.host, proxy.port, b"abcdef")
    assert got == b"abc"
    assert LimitData(bytes=3).body()["attributes"] == {"bytes": 3}


def test_errors_come_out_as_chaoskit_errors(server: ToxiproxyServer | _External, echo: str) -> None:
    client = ToxiproxyClient(server.url)
    client.create("echo", echo)
    with pytest.raises(ToxiproxyError, match=r"^create proxy 'echo' on http://127\.0\.0\.1:\d+: it exists already"):
        client.create("echo", echo)
    with pytest.raises(ToxiproxyError, match=r"^unknown toxic type 'lag'; Toxiproxy has: latency, bandwidth, "):
        client.proxies()["echo"].add("lag", latency=1)
    with pytest.raises(ToxiproxyError, match=r"^toxic 'latency' has no attribute 'delay'; its attributes are: latency, jitter"):
        client.proxies()["echo"].add("latency", delay=1)
    with pytest.raises(ToxiproxyError, match=r"^destroy proxy 'nope' on http://127\.0\.0\.1:\d+: not found"):
        client.destroy("nope")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    with pytest.raises(ToxiproxyError, match=rf"^list proxies: no Toxiproxy server at http://127\.0\.0\.1:{free}; start one"):
        ToxiproxyClient(f"http://127.0.0.1:{free}", timeout=1).proxies()


def test_two_servers_at_once(echo: str) -> None:
    with ToxiproxyServer(port=0) as one, ToxiproxyServer(port=0) as two:
        a, b = ToxiproxyClient(one.url), ToxiproxyClient(two.url)
        a.create("only-on-one", echo)
        b.create("only-on-two", echo)
        assert list(a.proxies()) == ["only-on-one"] and list(b.proxies()) == ["only-on-two"]


def test_chaos_network_proxies_are_destroyed_with_the_session(server: ToxiproxyServer | _External, echo: str) -> None:
    with chaoskit.Chaos(seed=1, toxiproxy_url=server.url) as chaos:
        proxy = chaos.network.proxy("echo", upstream=echo)
        proxy.add("net.latency", latency=200, jitter=0)
        _, took = roundtrip(proxy.host, proxy.port)
        assert took >= 0.19
        with proxy.down():
            with pytest.raises(OSError):
                roundtrip(proxy.host, proxy.port, timeout=0.5)
        assert roundtrip(proxy.host, proxy.port)[0] == b"ping"
    assert ToxiproxyClient(server.url).proxies() == {}


def test_cleanup_runs_when_the_test_body_raised(server: ToxiproxyServer | _External, echo: str) -> None:
    with pytest.raises(RuntimeError), chaoskit.Chaos(seed=1, toxiproxy_url=server.url) as chaos:
        chaos.network.proxy("echo", upstream=echo).add("net.blackhole")
        raise RuntimeError("the test failed")
    assert ToxiproxyClient(server.url).proxies() == {}


def test_blackhole_and_reset_from_the_catalog(server: ToxiproxyServer | _External, echo: str) -> None:
    with chaoskit.Chaos(seed=1, toxiproxy_url=server.url) as chaos:
        proxy = chaos.network.proxy("echo", upstream=echo)
        with proxy.add("net.blackhole"), pytest.raises(socket.timeout):
            roundtrip(proxy.host, proxy.port, timeout=0.3)
        with proxy.add("net.reset"), pytest.raises(ConnectionResetError):
            roundtrip(proxy.host, proxy.port)


def test_the_embedded_server_starts_on_demand(echo: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        proxy = chaos.network.proxy("echo-on-demand", upstream=echo)
        assert roundtrip(proxy.host, proxy.port)[0] == b"ping"
        assert chaos.network.url.startswith("http://127.0.0.1:")


def test_net_faults_are_not_injected_like_http_ones() -> None:
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(chaoskit.ChaosConfigError, match=r"^net\.latency acts on a TCP proxy: add it with chaos\.network\.proxy"):
        chaos.inject("net.latency")


def test_the_network_seam_is_refused_under_virtual_time(server: ToxiproxyServer | _External, echo: str) -> None:
    with chaoskit.Chaos(seed=1, clock=chaoskit.VirtualClock(), toxiproxy_url=server.url) as chaos:
        with pytest.raises(chaoskit.RealNetworkError, match=r"^chaoskit: chaos\.network\.proxy\('echo'\) \(a TCP proxy on real sockets\) would open a real network connection under virtual time"):
            chaos.network.proxy("echo", upstream=echo)


def test_a_windowed_toxic_comes_and_goes(server: ToxiproxyServer | _External, echo: str) -> None:
    with chaoskit.Chaos(seed=1, toxiproxy_url=server.url) as chaos:
        proxy = chaos.network.proxy("echo", upstream=echo)
        proxy.add("latency", latency=300, window=(0.3, 0.9))
        assert roundtrip(proxy.host, proxy.port)[1] < 0.2  # not yet
        time.sleep(0.4)
        assert roundtrip(proxy.host, proxy.port)[1] >= 0.29  # inside the window
        time.sleep(0.7)
        assert roundtrip(proxy.host, proxy.port)[1] < 0.2  # removed at its end
        proxy.add("latency", latency=300, name="late", window=(30, None))  # cancelled with the session
    assert ToxiproxyClient(server.url).proxies() == {}


def test_rate_is_the_share_of_connections(server: ToxiproxyServer | _External, echo: str) -> None:
    with chaoskit.Chaos(seed=1, toxiproxy_url=server.url) as chaos:
        proxy = chaos.network.proxy("echo", upstream=echo)
        with proxy.add("net.reset", rate=0.5):
            outcomes = []
            for _ in range(16):
                try:
                    roundtrip(proxy.host, proxy.port)
                    outcomes.append("ok")
                except ConnectionResetError:
                    outcomes.append("reset")
    assert 2 <= outcomes.count("reset") <= 14, outcomes


def test_the_public_names() -> None:
    import chaoskit.network as network

    assert network.__all__ == sorted(network.__all__)
    assert all(hasattr(network, name) for name in network.__all__)


def test_the_adapter_quotes_proxy_and_toxic_names(server: ToxiproxyServer | _External, echo: str) -> None:
    client = ToxiproxyClient(server.url)
    names = ["db?replica", "cache#1", "50% off", "a&b=c"]
    if isinstance(server, ToxiproxyServer):  # Toxiproxy routes on the decoded path: it cannot address a "/"
        names.append("redis/primary")
    for name in names:
        proxy = client.create(name, echo)
        with proxy.add(Latency(latency=1, name=f"{name} lag")):
            assert proxy.toxics() == [f"{name} lag"]
        assert proxy.toxics() == []
        with proxy.down(), pytest.raises(ConnectionRefusedError):
            roundtrip(proxy.host, proxy.port, timeout=0.5)
        assert roundtrip(proxy.host, proxy.port)[0] == b"ping"
    assert sorted(client.proxies()) == sorted(names)
    for name in names:
        client.destroy(name)
    assert client.proxies() == {}


def test_session_proxies_whose_names_need_quoting_are_destroyed(server: ToxiproxyServer | _External, echo: str) -> None:
    names = ["redis/primary", "db?replica", "cache#1"]
    with chaoskit.Chaos(seed=1, toxiproxy_url=server.url) as chaos:
        for name in names:
            proxy = chaos.network.proxy(name, upstream=echo)
            assert proxy.name == name
            proxy.add("net.latency", latency=1, jitter=0)
            with proxy.down():
                pass
            assert roundtrip(proxy.host, proxy.port)[0] == b"ping"
    assert ToxiproxyClient(server.url).proxies() == {}


_HOLD_PROXIES = textwrap.dedent("""
    import sys, time, chaoskit

    url, echo, listen = sys.argv[1:]
    with chaoskit.Chaos(seed=1, toxiproxy_url=url) as chaos:
        chaos.network.proxy("redis", upstream=echo, listen=listen).add("latency", latency=400)
        chaos.network.proxy("db", upstream=echo)
        print("ready", flush=True)
        time.sleep(60)
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hold_proxies(url: str, echo: str, listen: str) -> subprocess.Popen[str]:
    """A run in another process that made its proxies ``redis`` (on ``listen``) and ``db`` and waits."""
    run = subprocess.Popen([sys.executable, "-c", _HOLD_PROXIES, url, echo, listen], stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None and run.stdout.readline() == "ready\n"
    return run


def test_a_killed_runs_proxies_are_swept_and_a_live_ones_kept(server: ToxiproxyServer | _External, echo: str) -> None:
    client = ToxiproxyClient(server.url)
    listen = f"127.0.0.1:{_free_port()}"
    runs = [_hold_proxies(server.url, echo, listen)]
    try:
        runs[0].send_signal(signal.SIGKILL)
        runs[0].wait(timeout=10)
        assert len(client.proxies()) == 2  # the killed run destroyed nothing
        with chaoskit.Chaos(seed=1, toxiproxy_url=server.url) as chaos:  # the rerun
            proxy = chaos.network.proxy("redis", upstream=echo, listen=listen)  # its name and port are free
            assert proxy.name == "redis" and proxy.server_name.startswith("redis~chaoskit:")
            assert roundtrip(proxy.host, proxy.port) == (b"ping", pytest.approx(0, abs=0.2))  # no stale latency
            assert list(client.proxies()) == [proxy.server_name]
            runs.append(_hold_proxies(server.url, echo, f"127.0.0.1:{_free_port()}"))  # a run alongside, same names
        live = set(client.proxies())
        assert sorted(name.partition("~")[0] for name in live) == ["db", "redis"]
        with chaoskit.Chaos(seed=1, toxiproxy_url=server.url) as chaos:
            chaos.network.proxy("db", upstream=echo)
            assert live < set(client.proxies())  # a running process's proxies are its own to destroy
        assert set(client.proxies()) == live
    finally:
        for run in runs:
            run.kill()
            run.wait()
            if run.stdout is not None:
                run.stdout.close()
        for name in client.proxies():
            client.destroy(name)


def test_which_proxies_count_as_a_gone_runs() -> None:
    from chaoskit.network._network import orphaned, server_name

    mine = server_name("redis/primary")
    host, pid, nonce, serial = mine.partition("~chaoskit:")[2].split(":")
    assert mine.startswith("redis%2Fprimary~chaoskit:") and pid == str(os.getpid())
    assert not orphaned(mine) and server_name("redis") != server_name("redis")
    assert orphaned(f"redis~chaoskit:{host}:{pid}:{'0' * len(nonce)}x:1")  # an earlier process with our PID
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        gone.wait()
    assert orphaned(f"redis~chaoskit:{host}:{gone.pid}:{nonce}:{serial}")
    assert not orphaned(f"redis~chaoskit:{host}:1:{nonce}:1")  # still running (init)
    assert not orphaned(f"redis~chaoskit:another-{host}:{gone.pid}:{nonce}:1")  # cannot be checked from here
    assert not orphaned("redis") and not orphaned("redis~chaoskit:nonsense")

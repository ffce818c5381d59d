"""chaoskit's Toxiproxy-compatible server, driven by toxiproxy-python and plain requests.

Every toxic is measured on real loopback sockets against a small upstream server, on the wall
clock with a tolerance, as Toxiproxy's own tests do.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from chaoskit.network._server import ToxiproxyServer

TIMEOUT = 5.0


# --- upstream servers and helpers ---------------------------------------------------------------


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except ConnectionResetError:  # reset_peer resets the upstream side too
            pass


def _serve(handler: type[socketserver.BaseRequestHandler]) -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def echo() -> Iterator[str]:
    """An echo server's ``host:port``."""
    yield from _serve(_Echo)


@pytest.fixture
def sender() -> Callable[[bytes], Iterator[str]]:
    """A factory: an upstream that sends ``payload`` on connect, then closes."""

    def make(payload: bytes) -> Iterator[str]:
        class Send(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.sendall(payload)

        return _serve(Send)

    return make


@pytest.fixture
def server() -> Iterator[ToxiproxyServer]:
    with ToxiproxyServer(port=0, seed=1234) as running:
        yield running


@pytest.fixture
def tp(server: ToxiproxyServer, monkeypatch: pytest.MonkeyPatch) -> Toxiproxy:
    """toxiproxy-python pointed at ``server`` (its host/port are class attributes: restored after)."""
    address = urlsplit(server.url)
    monkeypatch.setattr(APIConsumer, "host", address.hostname)
    monkeypatch.setattr(APIConsumer, "port", address.port)
    return Toxiproxy()


def _address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host, int(port)


def _proxy(server: ToxiproxyServer, upstream: str, *toxics: dict[str, Any], name: str = "p") -> tuple[str, int]:
    """Create proxy ``name`` with ``toxics`` through the API; its listen address."""
    created = requests.post(f"{server.url}/proxies", json={"name": name, "upstream": upstream}, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    for toxic in toxics:
        added = requests.post(f"{server.url}/proxies/{name}/toxics", json=toxic, timeout=TIMEOUT)
        assert added.status_code == 200, added.text
    return _address(created.json()["listen"])


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        data = sock.recv(65536)
        assert data, "connection closed during a round trip"
        got += data
    assert got == payload
    return time.monotonic() - start


def _read_all(sock: socket.socket) -> list[bytes]:
    """Every recv() until EOF, as the separate chunks the client saw."""
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return chunks


def _read_upto(sock: socket.socket, size: int) -> bytes:
    got = b""
    while len(got) < size and (data := sock.recv(65536)):
        got += data
    return got


# --- toxiproxy-python's own operations ----------------------------------------------------------


def test_client_creates_lists_gets_and_destroys(tp: Toxiproxy, echo: str) -> None:
    proxy = tp.create(upstream=echo, name="echo")
    host, port = _address(proxy.listen)
    assert host == "127.0.0.1" and port > 0
    assert list(tp.proxies()) == ["echo"]
    got = tp.get_proxy("echo")
    assert (got.name, got.upstream, got.listen, got.enabled) == ("echo", echo, proxy.listen, True)
    with _connect((host, port)) as sock:
        assert _round_trip(sock) < 0.1
    with pytest.raises(ProxyExists):
        tp.create(upstream=echo, name="echo")
    assert tp.destroy(proxy) is True
    assert tp.proxies() == {}
    with pytest.raises(NotFound):
        proxy.destroy()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=TIMEOUT)


def test_client_adds_and_removes_a_toxic(tp: Toxiproxy, echo: str) -> None:
    proxy = tp.create(upstream=echo, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 100})
    toxic = proxy.get_toxic("latency_downstream")
    assert (toxic.type, toxic.stream, toxic.toxicity) == ("latency", "downstream", 1.0)
    assert toxic.attributes == {"latency": 100, "jitter": 0}
    with _connect(_address(proxy.listen)) as sock:
        assert 0.09 < _round_trip(sock) < 0.3
        assert proxy.destroy_toxic("latency_downstream") is True
        assert proxy.toxics() == {}
        assert _round_trip(sock) < 0.05  # an open connection sees the removal
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")


def test_client_down_and_up(tp: Toxiproxy, echo: str) -> None:
    proxy = tp.create(upstream=echo, name="echo")
    address = _address(proxy.listen)
    before = _connect(address)
    with proxy.down():
        assert tp.get_proxy("echo").enabled is False
        assert before.recv(10) == b""  # its open connections are closed
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=TIMEOUT)
    before.close()
    assert tp.get_proxy("echo").enabled is True
    with _connect(address) as sock:  # the same port again
        assert _round_trip(sock) < 0.1


def test_client_reset_reenables_and_clears_toxics(tp: Toxiproxy, echo: str) -> None:
    proxy = tp.create(upstream=echo, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 500})
    proxy.disable()
    assert tp.reset() is True
    again = tp.get_proxy("echo")
    assert again.enabled is True and again.toxics() == {}
    with _connect(_address(proxy.listen)) as sock:
        assert _round_trip(sock) < 0.1


def test_client_populate_and_version(tp: Toxiproxy, echo: str) -> None:
    made = tp.populate([{"name": "a", "upstream": echo, "listen": "127.0.0.1:0"}, {"name": "b", "upstream": echo}])
    assert sorted(p.name for p in made) == ["a", "b"]
    assert sorted(tp.proxies()) == ["a", "b"]
    version = json.loads(tp.version())
    assert version == {"version": "2.12.0"}  # Toxiproxy answers only the version
    tp.destroy_all()
    assert tp.proxies() == {}


def test_server_populate_is_idempotent(server: ToxiproxyServer, echo: str) -> None:
    url = f"{server.url}/populate"
    first = requests.post(url, json=[{"name": "a", "upstream": echo}], timeout=TIMEOUT)
    assert first.status_code == 201
    (proxy,) = first.json()["proxies"]
    requests.post(f"{server.url}/proxies/a/toxics", json={"type": "latency"}, timeout=TIMEOUT).raise_for_status()
    same = {"name": "a", "upstream": echo, "listen": proxy["listen"]}
    second = requests.post(url, json=[same], timeout=TIMEOUT)
    assert second.status_code == 201
    assert [p["toxics"] for p in second.json()["proxies"]] == [[{
        "name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1.0,
        "attributes": {"latency": 0, "jitter": 0},
    }]]  # kept, not replaced
    bad = requests.post(url, json=[same, {"name": "c"}], timeout=TIMEOUT)
    assert (bad.status_code, bad.json()) == (
        400, {"error": "missing required field: upstream at proxy 2", "status": 400, "proxies": None}
    )  # Toxiproxy's populate errors carry the proxies done so far, null (Go's nil slice) when none


def test_populate_errors_carry_the_proxies_made_before_the_error(server: ToxiproxyServer, echo: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        entries = [{"name": "a", "upstream": echo}, {"name": "b", "upstream": echo, "listen": listen}]
        reply = requests.post(f"{server.url}/populate", json=entries, timeout=TIMEOUT)
    assert reply.status_code == 500
    assert reply.json()["error"] == f"listen tcp {listen}: bind: Address already in use"
    assert [proxy["name"] for proxy in reply.json()["proxies"]] == ["a"]
    for body in (b"{}", b"[1]", b"[{]"):
        reply = requests.post(f"{server.url}/populate", data=body, timeout=TIMEOUT)
        assert (reply.status_code, reply.json()["proxies"]) == (400, None), body


# --- toxics, measured ---------------------------------------------------------------------------


def test_latency_delays_each_chunk_one_way(server: ToxiproxyServer, echo: str) -> None:
    address = _proxy(server, echo, {"type": "latency", "attributes": {"latency": 150}})
    with _connect(address) as sock:
        rtts = [_round_trip(sock) for _ in range(3)]
    assert all(0.145 < rtt < 0.25 for rtt in rtts), rtts
    both = _proxy(
        server,
        echo,
        {"type": "latency", "stream": "upstream", "attributes": {"latency": 100}},
        {"type": "latency", "stream": "downstream", "attributes": {"latency": 100}},
        name="both",
    )
    with _connect(both) as sock:
        assert 0.195 < _round_trip(sock) < 0.3  # each direction adds its latency once


def _jitter_trips(seed: int, echo: str) -> list[float]:
    with ToxiproxyServer(port=0, seed=seed) as server:
        address = _proxy(server, echo, {"type": "latency", "attributes": {"latency": 100, "jitter": 80}})
        with _connect(address) as sock:
            return [_round_trip(sock) for _ in range(4)]


def test_jitter_is_reproducible_with_a_seed(echo: str) -> None:
    one, two = _jitter_trips(7, echo), _jitter_trips(7, echo)
    assert all(0.019 < rtt < 0.28 for rtt in one), one
    assert max(one) - min(one) > 0.03, one  # the jitter did vary the delays
    assert all(abs(a - b) < 0.025 for a, b in zip(one, two, strict=True)), (one, two)


def test_bandwidth_limits_the_rate_within_10_percent(server: ToxiproxyServer, sender: Any) -> None:
    size = 100_000
    for upstream in sender(b"x" * size):
        address = _proxy(server, upstream, {"type": "bandwidth", "attributes": {"rate": 200}})
        start = time.monotonic()
        with _connect(address) as sock:
            got = b"".join(_read_all(sock))
        elapsed = time.monotonic() - start
    assert len(got) == size
    rate_kb_s = size / elapsed / 1000
    assert 180 < rate_kb_s < 220, rate_kb_s


def test_limit_data_closes_after_the_byte_count_on_each_connection(server: ToxiproxyServer, sender: Any) -> None:
    for upstream in sender(b"y" * 5000):
        address = _proxy(server, upstream, {"type": "limit_data", "attributes": {"bytes": 1000}})
        plain = _proxy(server, upstream, name="plain")
        for _ in range(2):
            with _connect(address) as sock:
                assert len(b"".join(_read_all(sock))) == 1000
        with _connect(plain) as sock:
            assert len(b"".join(_read_all(sock))) == 5000


def test_reset_peer_resets_after_the_first_data(server: ToxiproxyServer, echo: str) -> None:
    address = _proxy(server, echo, {"type": "reset_peer", "attributes": {"timeout": 100}})
    with _connect(address) as sock:
        time.sleep(0.15)  # no data yet: nothing happens
        start = time.monotonic()
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
        assert 0.09 < time.monotonic() - start < 0.3


def test_timeout_drops_data_and_closes_after_the_timeout(server: ToxiproxyServer, echo: str) -> None:
    address = _proxy(server, echo, {"type": "timeout", "attributes": {"timeout": 300}})
    start = time.monotonic()
    with _connect(address) as sock:
        sock.sendall(b"hello")
        assert sock.recv(10) == b""  # nothing came back, then the close
    assert 0.28 < time.monotonic() - start < 0.5


def test_timeout_zero_never_closes_and_ends_when_removed(server: ToxiproxyServer, echo: str) -> None:
    address = _proxy(server, echo, {"type": "timeout", "attributes": {"timeout": 0}})
    with _connect(address) as sock:
        sock.sendall(b"lost")
        sock.settimeout(0.6)
        with pytest.raises(TimeoutError):
            sock.recv(10)  # neither data nor a close within 0.6 s
        deleted = requests.delete(f"{server.url}/proxies/p/toxics/timeout_downstream", timeout=TIMEOUT)
        assert deleted.status_code == 204
        sock.settimeout(TIMEOUT)
        assert _round_trip(sock, b"back") < 0.1


def test_slicer_splits_writes(server: ToxiproxyServer, sender: Any) -> None:
    payload = bytes(range(256)) * 12
    for upstream in sender(payload):
        sliced = _proxy(
            server, upstream, {"type": "slicer", "attributes": {"average_size": 100, "size_variation": 20, "delay": 2000}}
        )
        with _connect(sliced) as sock:
            chunks = _read_all(sock)
        plain = _proxy(server, upstream, name="plain")
        with _connect(plain) as sock:
            plain_chunks = _read_all(sock)
    assert b"".join(chunks) == payload
    assert len(chunks) >= 20 and sorted(map(len, chunks))[len(chunks) // 2] <= 120, [len(c) for c in chunks]
    assert len(plain_chunks) <= 3


def test_slow_close_delays_the_fin(server: ToxiproxyServer, sender: Any) -> None:
    for upstream in sender(b"hello"):
        address = _proxy(server, upstream, {"type": "slow_close", "attributes": {"delay": 300}})
        plain = _proxy(server, upstream, name="plain")
        start = time.monotonic()
        with _connect(address) as sock:
            assert sock.recv(10) == b"hello"
            assert time.monotonic() - start < 0.1  # the data is not delayed
            assert sock.recv(10) == b""
        assert 0.29 < time.monotonic() - start < 0.5
        start = time.monotonic()
        with _connect(plain) as sock:
            assert b"".join(_read_all(sock)) == b"hello"
        assert time.monotonic() - start < 0.1


def _cut_pattern(seed: int, echo: str, toxicity: float, connections: int = 16) -> list[bool]:
    """For each new connection: did a ``limit_data`` of 2 bytes with ``toxicity`` apply?"""
    with ToxiproxyServer(port=0, seed=seed) as server:
        toxic = {"type": "limit_data", "toxicity": toxicity, "attributes": {"bytes": 2}}
        address = _proxy(server, echo, toxic)
        pattern = []
        for _ in range(connections):
            with _connect(address) as sock:
                sock.sendall(b"hello")
                got = _read_upto(sock, 5)
            assert got in (b"he", b"hello")
            pattern.append(got == b"he")
        return pattern


def test_toxicity_zero_and_one(echo: str) -> None:
    assert _cut_pattern(1, echo, 0.0, 5) == [False] * 5
    assert _cut_pattern(1, echo, 1.0, 5) == [True] * 5


def test_toxicity_is_rolled_per_connection_and_reproducible_with_a_seed(echo: str) -> None:
    one = _cut_pattern(42, echo, 0.5)
    assert one == _cut_pattern(42, echo, 0.5)
    assert 3 <= sum(one) <= 13, one
    assert one != _cut_pattern(43, echo, 0.5)


def test_a_toxic_on_a_proxy_whose_upstream_is_down(server: ToxiproxyServer) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{free.getsockname()[1]}"
    address = _proxy(server, dead, {"type": "latency", "attributes": {"latency": 50}})
    with _connect(address) as sock:
        try:
            sock.sendall(b"hello")
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass
    assert requests.get(f"{server.url}/version", timeout=TIMEOUT).status_code == 200


def test_update_toxic_merges_attributes_and_acts_on_open_connections(server: ToxiproxyServer, echo: str) -> None:
    address = _proxy(server, echo, {"type": "latency", "attributes": {"latency": 50, "jitter": 1}})
    with _connect(address) as sock:
        assert _round_trip(sock) < 0.1
        patched = requests.patch(
            f"{server.url}/proxies/p/toxics/latency_downstream", json={"attributes": {"latency": 200}}, timeout=TIMEOUT
        )
        assert patched.status_code == 200
        assert patched.json()["attributes"] == {"latency": 200, "jitter": 1}
        assert 0.18 < _round_trip(sock) < 0.3


def test_stop_closes_listeners_and_connections(echo: str) -> None:
    with ToxiproxyServer(port=0) as server:
        api = _address(urlsplit(server.url).netloc)
        address = _proxy(server, echo)
        sock = _connect(address)
        assert _round_trip(sock) < 0.1
    with sock:
        assert sock.recv(10) == b""
    for closed in (address, api):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(closed, timeout=TIMEOUT)


# --- bad input ----------------------------------------------------------------------------------


def test_bad_requests_get_toxiproxy_errors_and_the_server_keeps_serving(server: ToxiproxyServer, echo: str) -> None:
    session = requests.Session()
    url = server.url

    def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = session.request(method, url + path, timeout=TIMEOUT, **kwargs)
        return response.status_code, response.json()

    def error(status: int, message: str) -> tuple[int, dict[str, Any]]:
        return status, {"error": message, "status": status}

    status, body = call("POST", "/proxies", data=b"{not json")
    assert status == 400 and body["error"].startswith("bad request body: ") and body["status"] == 400
    assert call("POST", "/proxies", json={"upstream": echo}) == error(400, "missing required field: name")
    assert call("POST", "/proxies", json={"name": "p"}) == error(400, "missing required field: upstream")
    assert call("POST", "/proxies", json={"name": "p", "upstream": echo, "enabled": "yes"}) == error(
        400, 'bad request body: enabled: expected a boolean, got "yes"'
    )
    assert call("POST", "/proxies", json={"name": "p", "upstream": echo})[0] == 201
    assert call("POST", "/proxies", json={"name": "p", "upstream": echo}) == error(409, "proxy already exists")
    assert call("GET", "/proxies/nope") == error(404, "proxy not found")
    assert call("POST", "/proxies/nope/toxics", json={"type": "latency"}) == error(404, "proxy not found")
    assert call("POST", "/proxies/p/toxics", json={"type": "lag"}) == error(400, "invalid toxic type")
    assert call("POST", "/proxies/p/toxics", json={"type": "latency", "stream": "sideways"}) == error(
        400, "stream was invalid, can be either upstream or downstream"
    )
    assert call("POST", "/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": "fast"}}) == error(
        400, "bad request body: attributes.latency: expected an integer, got 'fast'"
    )
    # Missing attributes are not an error: as in Toxiproxy, each one defaults to 0.
    status, body = call("POST", "/proxies/p/toxics", json={"type": "slicer", "stream": "upstream"})
    assert (status, body["name"], body["attributes"]) == (
        200, "slicer_upstream", {"average_size": 0, "size_variation": 0, "delay": 0}
    )
    assert call("POST", "/proxies/p/toxics", json={"type": "slicer", "stream": "upstream"}) == error(
        409, "toxic already exists"
    )
    assert call("GET", "/proxies/p/toxics/nope") == error(404, "toxic not found")
    assert call("DELETE", "/proxies/nope") == error(404, "proxy not found")
    assert call("GET", "/nowhere") == error(404, "not found")
    assert call("DELETE", "/proxies") == error(405, "method not allowed")
    browser = session.get(url + "/proxies", headers={"User-Agent": "Mozilla/5.0"}, timeout=TIMEOUT)
    assert (browser.status_code, browser.text) == (403, "User agent not allowed\n")
    chunked = session.post(url + "/proxies", data=iter([b'{"name": "q", ', f'"upstream": "{echo}"}}'.encode()]))
    assert chunked.status_code == 201
    assert session.get(url + "/version", timeout=TIMEOUT).status_code == 200
    pools = session.get_adapter(url).poolmanager.pools
    opened = [pools[key].num_connections for key in pools.keys()]
    assert opened == [1]  # every request above went over one keep-alive connection

    with socket.create_connection(_address(urlsplit(url).netloc), timeout=TIMEOUT) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = b"".join(_read_all(raw))
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b'"malformed request line"' in answer
    assert requests.get(url + "/proxies", timeout=TIMEOUT).json().keys() == {"p", "q"}


def test_listen_address_in_use_is_a_500(server: ToxiproxyServer, echo: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        reply = requests.post(f"{server.url}/proxies", json={"name": "p", "upstream": echo, "listen": listen}, timeout=TIMEOUT)
    assert reply.status_code == 500
    assert reply.json() == {"error": f"listen tcp {listen}: bind: Address already in use", "status": 500}
    assert requests.get(f"{server.url}/proxies", timeout=TIMEOUT).json() == {}


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_serves_until_terminated(echo: str) -> None:
    command = [sys.executable, "-m", "chaoskit.cli", "toxiproxy", "--port", "0", "--seed", "5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("chaoskit toxiproxy: API on http://127.0.0.1:") and line.endswith("(seed=5)\n"), line
        url = line.split()[4]
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                assert requests.get(f"{url}/version", timeout=TIMEOUT).json()["version"] == "2.12.0"
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "no /version"
                time.sleep(0.05)
        created = requests.post(f"{url}/proxies", json={"name": "echo", "upstream": echo}, timeout=TIMEOUT)
        assert created.status_code == 201
        with _connect(_address(created.json()["listen"])) as sock:
            assert _round_trip(sock) < 0.1
        process.terminate()
        assert process.wait(timeout=TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


# --- concurrency ------------------------------------------------------------------------------


def _listening_ports() -> set[int]:
    """The TCP ports this process has a listening socket on (Linux: /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since listdir
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts sockets through /proc")
def test_concurrent_creates_and_deletes_of_shared_names_leave_no_listener(server: ToxiproxyServer, echo: str) -> None:
    handed_out: set[int] = set()
    statuses: set[int] = set()
    lock = threading.Lock()

    def hammer(worker: int) -> None:
        session = requests.Session()
        for round_ in range(40):
            name = f"shared-{(worker + round_) % 4}"
            created = session.post(f"{server.url}/proxies", json={"name": name, "upstream": echo}, timeout=TIMEOUT)
            deleted = session.delete(f"{server.url}/proxies/{name}", timeout=TIMEOUT)
            with lock:
                statuses.update((created.status_code, deleted.status_code))
                if created.status_code == 201:
                    handed_out.add(_address(created.json()["listen"])[1])

    threads = [threading.Thread(target=hammer, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in requests.get(f"{server.url}/proxies", timeout=TIMEOUT).json():
        assert requests.delete(f"{server.url}/proxies/{name}", timeout=TIMEOUT).status_code == 204
    assert statuses <= {201, 204, 404, 409}, statuses
    assert len(handed_out) > 8
    assert requests.get(f"{server.url}/proxies", timeout=TIMEOUT).json() == {}
    assert handed_out & _listening_ports() == set()


def test_json_that_go_refuses_is_a_400_and_never_stored(server: ToxiproxyServer, echo: str) -> None:
    url = server.url
    _proxy(server, echo)

    def post(path: str, body: bytes) -> tuple[int, Any]:
        reply = requests.post(url + path, data=body, timeout=TIMEOUT)
        return reply.status_code, reply.json()

    def bad_body(detail: str) -> tuple[int, dict[str, Any]]:
        return 400, {"error": f"bad request body: {detail}", "status": 400}

    assert post("/proxies/p/toxics", b'{"type": "latency", "toxicity": NaN}') == bad_body("NaN is not a JSON value")
    assert post("/proxies/p/toxics", b'{"type": "latency", "toxicity": -Infinity}') == bad_body(
        "-Infinity is not a JSON value"
    )
    assert post("/proxies/p/toxics", b'{"type": "latency", "toxicity": 1e400}') == bad_body(
        "number 1e400 is out of range"
    )
    assert post("/proxies/p/toxics", b'{"type": "latency", "toxicity": 1' + b"0" * 400 + b"}") == bad_body(
        "toxicity: number 1" + "0" * 400 + " is out of range"
    )
    assert post("/proxies/p/toxics", b'{"type": "latency"}')[0] == 200
    assert post("/proxies/p/toxics/latency_downstream", b'{"toxicity": NaN}') == bad_body("NaN is not a JSON value")
    deep = b"[" * 100_000 + b"]" * 100_000
    assert post("/proxies", deep) == bad_body("exceeded max depth")
    assert post("/populate", deep) == (400, {"error": "bad request body: exceeded max depth", "status": 400, "proxies": None})
    listed = requests.get(url + "/proxies", timeout=TIMEOUT)
    assert json.loads(listed.text, parse_constant=lambda constant: pytest.fail(f"{constant} in {listed.text}"))
    assert listed.json()["p"]["toxics"][0]["toxicity"] == 1.0


def test_addresses_that_cannot_work(server: ToxiproxyServer, echo: str) -> None:
    """A ``listen`` that cannot be listened on is a 500 with Go's message, as in Toxiproxy; an ``upstream``
    that is not ``host:port`` is refused with 400 (Toxiproxy stores it, and every connection fails)."""
    url = server.url

    def create(**fields: str) -> tuple[int, Any]:
        reply = requests.post(url + "/proxies", json={"name": "p", "upstream": echo, **fields}, timeout=TIMEOUT)
        return reply.status_code, reply.json()

    def error(status: int, message: str) -> tuple[int, dict[str, Any]]:
        return status, {"error": message, "status": status}

    assert create(listen="garbage") == error(500, "listen tcp: address garbage: missing port in address")
    assert create(listen="127.0.0.1:99999") == error(500, "listen tcp: address 99999: invalid port")
    assert create(listen="1:2:3") == error(500, "listen tcp: address 1:2:3: too many colons in address")
    assert create(upstream="::::") == error(400, "bad request body: upstream: address ::::: too many colons in address")
    assert create(upstream="db") == error(400, "bad request body: upstream: address db: missing port in address")
    populated = requests.post(url + "/populate", json=[{"name": "q", "upstream": "db:x"}], timeout=TIMEOUT)
    assert (populated.status_code, populated.json()) == (
        400, {"error": "bad request body: upstream at proxy 1: address x: invalid port", "status": 400, "proxies": None}
    )
    assert requests.get(url + "/proxies", timeout=TIMEOUT).json() == {}
    status, made = create()
    assert status == 201
    patched = requests.patch(url + "/proxies/p", json={"listen": "127.0.0.1:99999"}, timeout=TIMEOUT)
    assert (patched.status_code, patched.json()) == error(500, "listen tcp: address 99999: invalid port")
    patched = requests.patch(url + "/proxies/p", json={"upstream": "::::"}, timeout=TIMEOUT)
    assert (patched.status_code, patched.json()) == error(
        400, "bad request body: upstream: address ::::: too many colons in address"
    )
    assert requests.get(url + "/proxies/p", timeout=TIMEOUT).json() == made  # unchanged, still listening
    with _connect(_address(made["listen"])) as sock:
        assert _round_trip(sock) < 0.1

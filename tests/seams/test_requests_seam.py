"""The requests seam: simulated replies, injected faults that match real sockets, rollback."""

from __future__ import annotations

import re
import time

import httpcore
import pytest
import requests
import requests.adapters
import urllib3.connectionpool
from urllib3.util.retry import Retry

import chaoskit
from chaoskit import UnroutedRequestError

from ._loopback import blackhole, closed_port

CHAT = "https://api.openai.com/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
ROUTE = "/openai"  # the prefix chaos.route serves as openai on the loopback server
PATCHED = [(requests.adapters.HTTPAdapter, "send"), (urllib3.connectionpool.HTTPConnectionPool, "_make_request")]


def originals() -> list[object]:
    return [cls.__dict__[name] for cls, name in PATCHED]


def shape(exc: BaseException | None) -> list[tuple[type, str]]:
    """The exception chain as (class, message), without object addresses and URL paths."""
    links = []
    while exc is not None:
        message = re.sub(r" at 0x[0-9a-f]+", "", str(exc))
        links.append((type(exc), re.sub(r"with url: \S+", "with url: PATH", message)))
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return links


def failure(url: str, *, stream: bool = False, **kwargs: object) -> tuple[BaseException, list[bytes]]:
    """The exception a POST to ``url`` raises (reading the body line by line if ``stream``)."""
    lines: list[bytes] = []
    with pytest.raises(requests.RequestException) as info:
        body = {**BODY, "stream": True} if stream else BODY
        response = requests.post(url, json=body, stream=stream, **kwargs)  # type: ignore[arg-type]
        lines.extend(response.iter_lines())
    return info.value, lines


def test_a_post_gets_the_simulated_reply_and_is_journaled() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "hi")
        response = requests.post(CHAT, json=BODY, headers={"Authorization": "Bearer sk-live-1"})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "hi"
    assert response.reason == "OK" and response.url == CHAT
    call = chaos.calls[0]
    assert (call.provider, call.method, call.url, call.status, call.fault) == ("openai", "POST", CHAT, 200, None)
    assert call.request_body["messages"][0]["content"] == "hi"
    assert call.request_headers["authorization"] == "<redacted>"


def test_rate_limit_is_a_429_with_retry_after() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.rate_limit")
        response = requests.post(CHAT, json=BODY)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert chaos.calls[0].fault == "openai.rate_limit"


def test_an_adapters_retry_runs_as_in_production() -> None:
    session = requests.Session()
    retry = Retry(total=2, status_forcelist=[429], allowed_methods=None, respect_retry_after_header=False)
    session.mount("https://", requests.adapters.HTTPAdapter(max_retries=retry))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.rate_limit", times=1)
        response = session.post(CHAT, json=BODY)
    assert response.status_code == 200
    assert [c.status for c in chaos.calls] == [429, 200]


def test_a_read_timeout_is_requests_own_after_the_timeout() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.timeout.read")
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout) as info:
            requests.post(CHAT, json=BODY, timeout=0.2)
        elapsed = time.monotonic() - started
    assert 0.18 < elapsed < 0.6
    assert str(info.value) == "HTTPSConnectionPool(host='api.openai.com', port=443): Read timed out. (read timeout=0.2)"
    assert info.value.__notes__ == [f"chaoskit: injected openai.timeout.read on POST {CHAT} [seed=1]"]
    assert chaos.calls[0].error == "ReadTimeout"


def test_a_connection_reset_is_a_connection_error() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.connection.reset")
        with pytest.raises(requests.exceptions.ConnectionError) as info:
            requests.post(CHAT, json=BODY)
    assert str(info.value) == "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"
    assert chaos.calls[0].error == "ReadError"


def test_a_stream_reset_delivers_the_first_chunks_then_fails() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "one two three four")
        chaos.inject("openai.stream.reset", after_events=2)
        response = requests.post(CHAT, json={**BODY, "stream": True}, stream=True, timeout=1)
        lines = []
        with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
            for line in response.iter_lines():
                lines.append(line)
    assert response.status_code == 200
    assert [line for line in lines if line][0].startswith(b"data: {")
    assert len([line for line in lines if line]) == 3  # the role event and two content events
    assert any(n.startswith("chaoskit: injected openai.stream.reset") for n in _notes(info.value))
    assert (chaos.calls[0].error, chaos.calls[0].complete) == ("ReadError", False)


def _notes(exc: BaseException | None) -> list[str]:
    notes = []
    while exc is not None:
        notes.extend(getattr(exc, "__notes__", []))
        exc = exc.__cause__ or exc.__context__
    return notes


def test_a_stream_is_read_lazily() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("openai", "one two three")
        chaos.inject("openai.slow_tokens", seconds=0.05)
        started = time.monotonic()
        response = requests.post(CHAT, json={**BODY, "stream": True}, stream=True)
        headers = time.monotonic() - started
        chunks = list(response.iter_content(None))
        body = time.monotonic() - started - headers
    assert headers < body / 2  # headers arrive at once; each of the body's (> 3) chunks waits 0.05 s
    assert b"".join(chunks).endswith(b"data: [DONE]\n\n")
    assert len(chunks) > 3
    assert chaos.calls[0].complete


# ---- each injected failure raises what a real socket makes requests raise ----------------------

SOCKET_CASES = {
    # fault id: (real server path, stream, requests kwargs, whether chaoskit's note is in the chain)
    "openai.timeout.read": ("/sleep", False, {"timeout": 0.2}, True),
    "openai.connection.reset": ("/reset", False, {"timeout": 1}, True),
    "openai.stream.reset": ("/body-reset", True, {"timeout": 1}, True),
    # the peer's FIN is an end of stream that urllib3 turns into an error: nothing of ours to note
    "openai.stream.cut.unclean": ("/body-close", True, {"timeout": 1}, False),
    "openai.stream.stall": ("/body-sleep", True, {"timeout": 0.2}, True),
}


@pytest.mark.parametrize("fault", list(SOCKET_CASES))
def test_an_injected_failure_matches_the_real_socket(server: str, fault: str) -> None:
    path, stream, kwargs, noted = SOCKET_CASES[fault]
    with chaoskit.Chaos(seed=1) as chaos:
        real, _ = failure(server + path, stream=stream, **kwargs)  # loopback: the real server
        chaos.route(server + ROUTE, provider="openai")
        chaos.inject(fault)
        injected, lines = failure(f"{server}{ROUTE}/v1/chat/completions", stream=stream, **kwargs)
    assert shape(injected) == shape(real)
    assert bool(lines) == stream  # a stream fails after its first chunks, not before
    assert any(n.startswith(f"chaoskit: injected {fault}") for n in _notes(injected)) == noted
    assert chaos.calls[-1].fault == fault


def test_a_connect_timeout_matches_the_real_socket() -> None:
    with blackhole() as base, chaoskit.Chaos(seed=1) as chaos:
        started = time.monotonic()
        real, _ = failure(f"{base}/x", timeout=(0.2, 5))
        assert time.monotonic() - started < 0.6
        chaos.route(base + ROUTE, provider="openai")
        chaos.inject("openai.timeout.connect")
        started = time.monotonic()
        injected, _ = failure(f"{base}{ROUTE}/v1/chat/completions", timeout=(0.2, 5))
        assert 0.18 < time.monotonic() - started < 0.6
    assert type(injected) is requests.exceptions.ConnectTimeout
    assert shape(injected) == shape(real)
    assert injected.__notes__ == [f"chaoskit: injected openai.timeout.connect on POST {base}{ROUTE}/v1/chat/completions [seed=1]"]


@pytest.mark.parametrize(
    ("error", "real_path"),
    [(httpcore.ConnectError("[Errno 111] Connection refused"), None),
     (httpcore.RemoteProtocolError("Server disconnected without sending a response."), "/close")],
    ids=["refused", "disconnected"],
)
def test_a_route_raising_a_transport_error_matches_the_real_socket(server: str, error: Exception, real_path: str | None) -> None:
    real_url = closed_port() + "/x" if real_path is None else server + real_path
    with chaoskit.Chaos(seed=1) as chaos:
        real, _ = failure(real_url, timeout=1)
        chaos.router.post(f"{server}{ROUTE}/v1/chat/completions").mock(side_effect=error)
        injected, _ = failure(f"{server}{ROUTE}/v1/chat/completions", timeout=1)
    if real_path is None:  # the refused port differs from the routed one
        real_port, port = re.search(r":(\d+)", real_url), re.search(r":(\d+)", server)
        assert real_port and port
        assert shape(injected) == [(t, m.replace(real_port[1], port[1])) for t, m in shape(real)]
    else:
        assert shape(injected) == shape(real)


# ---- routing and rollback ------------------------------------------------------------------------


def test_loopback_goes_to_the_real_server_untouched(server: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        response = requests.get(f"{server}/ok", timeout=1)
    assert (response.status_code, response.text) == (200, "ok")
    assert len(chaos.calls) == 0


def test_a_respx_route_answers_other_apis() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.router.get("https://tools.internal/stock").respond(503, json={"error": "down"})
        response = requests.get("https://tools.internal/stock", timeout=1)
    assert (response.status_code, response.json()) == (503, {"error": "down"})


def test_an_unknown_host_is_blocked() -> None:
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(UnroutedRequestError, match=r"^chaoskit blocked GET https://tools\.example\.com/v1/search\?q=x: "):
        requests.get("https://tools.example.com/v1/search?q=x", timeout=1)
    assert [c.error for c in chaos.blocked] == ["Unrouted"]


def test_every_patch_is_removed_after_the_session(server: str) -> None:
    before = originals()
    with chaoskit.Chaos(seed=1):
        assert all(a is not b for a, b in zip(originals(), before, strict=True))
    assert originals() == before


def test_every_patch_is_removed_when_the_body_raised(server: str) -> None:
    before = originals()
    with pytest.raises(RuntimeError, match=r"^the test failed$"), chaoskit.Chaos(seed=1):
        raise RuntimeError("the test failed")
    assert originals() == before
    with pytest.raises(requests.exceptions.ConnectionError):  # really on the network again
        requests.get(closed_port(), timeout=1)


def test_urllib3_1_is_refused_with_a_warning_not_half_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib3

    from chaoskit.seams._requests import urllib3_supported

    monkeypatch.setattr(urllib3, "__version__", "1.26.20")
    with pytest.warns(chaoskit.ChaosWarning, match=r"^chaoskit does not intercept botocore with urllib3 1\.26\.20; its bedrock-runtime calls go to the network\. Install urllib3>=2\.$"):
        assert urllib3_supported("botocore", "its bedrock-runtime calls") is False
    monkeypatch.setattr(urllib3, "__version__", "2.8.0")
    assert urllib3_supported("requests", "its calls") is True

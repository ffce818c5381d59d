"""MCP faults seen by the official ``mcp`` client, against a real ``mcp`` server on loopback.

The server is the SDK's own ``MCPServer`` served by uvicorn on a real socket; the client is
``mcp.Client`` over streamable HTTP (httpx2 underneath), in both protocol eras: ``auto``
(the 2026 protocol: ``server/discover``, one JSON POST per request) and ``legacy``
(``initialize``, a session id, SSE answers). Each fault must give the client exactly what a
real server (or a real proxy, or a dropped connection) gives it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

import chaoskit

from ._servers import mcp_ops, mcp_server

MODES = ["auto", "legacy"]
CALLS: list[str] = []  # order ids the real tool saw: proves whether it ran


def _server() -> MCPServer:
    mcp = MCPServer("orders", log_level="WARNING")

    @mcp.tool()
    def lookup_order(order_id: str) -> dict[str, str]:
        """Look up an order."""
        CALLS.append(order_id)
        return {"order_id": order_id, "status": "shipped"}

    @mcp.tool()
    def cancel_order(order_id: str) -> str:
        """Cancel an order."""
        return f"cancelled {order_id}"

    return mcp


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with mcp_server(_server()) as url:
        yield url


def call(url: str, mode: str, *ops: Any, timeout: float | None = None) -> list[Any]:
    """Run ``ops`` against the server at ``url``: see ``mcp_ops``; "call" is lookup_order."""
    return mcp_ops(url, mode, tuple("lookup_order" if op == "call" else op for op in ops), timeout=timeout)


def text(result: Any) -> str:
    return "".join(block.text for block in result.content)


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


@pytest.mark.parametrize("mode", MODES)
def test_without_faults_the_real_server_answers(server_url: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.tool_error", url=server_url, tool="cancel_order")  # never called
        listed, result = call(server_url, mode, "list", "call")
    assert listed == ["lookup_order", "cancel_order"]
    assert not result.is_error and '"status": "shipped"' in text(result)
    assert CALLS == ["A100"]
    assert [c.fault for c in chaos.calls] == []
    assert [i.fault.id for i in chaos.unmatched()] == ["mcp.tool_error"]  # so the plugin would fail the test


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [("mcp.tool_error", -32603, "Internal error"), ("mcp.invalid_params", -32602, "Invalid params")],
)
def test_json_rpc_errors_raise_mcp_error(server_url: str, mode: str, fault: str, code: int, message: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault, url=server_url, times=1)
        failed, healthy = call(server_url, mode, "call", "call")
    assert type(failed) is MCPError and failed.code == code and failed.message == message
    assert not healthy.is_error  # the session survives, as with a real server
    assert CALLS == ["A100"]  # the first call never reached the tool
    (injected,) = chaos.calls
    assert (injected.provider, injected.fault, injected.status) == ("mcp", fault, 200)
    assert injected.request_body["method"] == "tools/call"


@pytest.mark.parametrize("mode", MODES)
def test_tool_failed_is_a_result_not_an_exception(server_url: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1):
        (result,) = call(server_url, mode, "call")
    # no fault here: the contrast for the next block
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.tool_failed", url=server_url, tool="lookup_order")
        (failed,) = call(server_url, mode, "call")
    assert not result.is_error
    assert failed.is_error and text(failed) == "Error executing tool lookup_order"
    assert CALLS == ["A100"]  # only the healthy call ran the tool
    assert chaos.calls[0].fault == "mcp.tool_failed"


@pytest.mark.parametrize("mode", MODES)
def test_malformed_result_fails_validation_in_the_client(server_url: str, mode: str) -> None:
    import pydantic

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.malformed_result", url=server_url, times=1)
        failed, healthy = call(server_url, mode, "call", "call")
    assert isinstance(failed, pydantic.ValidationError)
    assert "content" in str(failed)
    assert not healthy.is_error


@pytest.mark.parametrize("mode", MODES)
def test_timeout_fires_the_clients_request_timeout(server_url: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.timeout", url=server_url, times=1)
        start = time.monotonic()
        failed, healthy = call(server_url, mode, "call", "call", timeout=0.3)
        elapsed = time.monotonic() - start
    assert type(failed) is MCPError and failed.code == -32001
    assert failed.message == "Request 'tools/call' timed out"
    assert not healthy.is_error
    assert 0.3 <= elapsed < 3
    assert chaos.calls[0].fault == "mcp.timeout"


@pytest.mark.parametrize("mode", MODES)
def test_latency_delays_the_real_answer(server_url: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.latency", url=server_url, seconds=0.2)
        (result,) = call(server_url, mode, "call")
    assert not result.is_error and CALLS == ["A100"]
    assert chaos.calls[0].duration >= 0.2


@pytest.mark.parametrize("mode", MODES)
def test_a_tool_vanishes_from_the_list_between_calls(server_url: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        vanish = lambda: chaos.inject("mcp.tool_vanishes", url=server_url, tool="lookup_order")  # noqa: E731
        before, after, result = call(server_url, mode, "list", vanish, "list", "call")
    assert before == ["lookup_order", "cancel_order"]
    assert after == ["cancel_order"]
    assert result.is_error and text(result) == "Unknown tool: lookup_order"  # the real server's words
    assert CALLS == []
    assert [c.detail for c in chaos.calls] == ["lookup_order removed from tools/list", "lookup_order is gone"]


def test_unknown_tool_text_is_what_the_real_server_says(server_url: str) -> None:
    """The contrast for the test above: the real server, asked for a tool it lacks."""
    with chaoskit.Chaos(seed=1):
        (result,) = call(server_url, "auto", "no_such_tool")
    assert result.is_error and text(result) == "Unknown tool: no_such_tool"


@pytest.mark.parametrize("mode", MODES)
def test_initialize_error_fails_the_connection(server_url: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(BaseExceptionGroup) as info:
        chaos.inject("mcp.initialize_error", url=server_url)
        call(server_url, mode, "list")
    errors = _leaves(info.value)
    assert [type(e) for e in errors] == [MCPError] and errors[0].code == -32603
    methods = [c.request_body["method"] for c in chaos.calls]
    assert methods == (["server/discover", "initialize"] if mode == "auto" else ["initialize"])


@pytest.mark.parametrize("mode", MODES)
def test_session_expired(server_url: str, mode: str) -> None:
    """The real server's 404 body for an unknown session (mcp/server/streamable_http_manager.py)."""
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.session_expired", url=server_url, times=1)
        (failed,) = call(server_url, mode, "call")
    assert type(failed) is MCPError and (failed.code, failed.message) == (-32600, "Session not found")
    assert chaos.calls[0].status == 404


@pytest.mark.parametrize("mode", MODES)
def test_unavailable_proxy_error(server_url: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.unavailable", url=server_url, times=1)
        failed, healthy = call(server_url, mode, "call", "call")
    assert type(failed) is MCPError and failed.message == "Server returned an error response"
    assert not healthy.is_error


@pytest.mark.parametrize("mode", MODES)
def test_disconnect_kills_the_client_session(server_url: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(BaseExceptionGroup) as info:
        chaos.inject("mcp.disconnect", url=server_url)
        call(server_url, mode, "call")
    import httpx2

    assert any(isinstance(e, httpx2.ReadError) for e in _leaves(info.value))
    assert chaos.calls[0].error == "ReadError"


def test_tool_vanishes_needs_a_tool(server_url: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(chaoskit.ChaosConfigError) as info:
        chaos.inject("mcp.tool_vanishes", url=server_url)
    assert str(info.value) == "mcp.tool_vanishes needs tool=NAME: the tool that disappears from tools/list"


def _leaves(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        return [leaf for e in group.exceptions for leaf in _leaves(e)]
    return [group]

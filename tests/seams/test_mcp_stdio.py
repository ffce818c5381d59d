"""MCP faults over stdio: the official client runs a real mcp server as a subprocess, and
chaoskit answers in its place on the message streams between them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

import chaoskit

from ._servers import mcp_ops

SERVER = StdioServerParameters(command=sys.executable, args=[str(Path(__file__).with_name("_stdio_server.py"))])
URL = "stdio://*_stdio_server.py"
MODES = ["auto", "legacy"]


def session(mode: str, *ops: Any) -> list[Any]:
    """Start the server, run ``ops`` (see ``mcp_ops``) with a 0.5 s request timeout."""
    return mcp_ops(SERVER, mode, ops, timeout=0.5, arguments=lambda tool: {} if tool == "crash" else {"order_id": "A1"})


def text(result: Any) -> str:
    return "".join(block.text for block in result.content)


@pytest.mark.parametrize("mode", MODES)
def test_errors_timeouts_and_bad_results_over_stdio(mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        def inject(fault: str) -> Any:
            return lambda: chaos.inject(fault, url=URL, times=1)

        failed, timed_out, malformed, healthy = session(
            mode, inject("mcp.tool_error"), "lookup_order", inject("mcp.timeout"), "lookup_order",
            inject("mcp.malformed_result"), "lookup_order", "lookup_order",
        )
    assert type(failed) is MCPError and (failed.code, failed.message) == (-32603, "Internal error")
    assert type(timed_out) is MCPError and timed_out.code == -32001
    assert type(malformed).__name__ == "ValidationError" and "content" in str(malformed)
    assert '"status": "shipped"' in text(healthy)
    assert [(c.provider, c.method, c.fault) for c in chaos.calls] == [
        ("mcp", "RPC", "mcp.tool_error"), ("mcp", "RPC", "mcp.timeout"), ("mcp", "RPC", "mcp.malformed_result"),
    ]
    assert chaos.calls[0].url.startswith("stdio://") and chaos.calls[0].url.endswith("_stdio_server.py")
    assert chaos.calls[0].request_body["method"] == "tools/call"


@pytest.mark.parametrize("mode", MODES)
def test_a_tool_vanishes_over_stdio(mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.tool_vanishes", url=URL, tool="lookup_order")
        listed, result = session(mode, "list", "lookup_order")
    assert listed == ["cancel_order", "crash"]
    assert result.is_error and text(result) == "Unknown tool: lookup_order"
    assert [c.detail for c in chaos.calls] == ["lookup_order removed from tools/list", "lookup_order is gone"]


@pytest.mark.parametrize("mode", MODES)
def test_disconnect_looks_like_the_server_process_dying(mode: str) -> None:
    with chaoskit.Chaos(seed=1):
        real = session(mode, "crash", "lookup_order")  # the server really exits mid-call
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.disconnect", url=URL)
        injected = session(mode, "lookup_order", "lookup_order")
    assert [(type(e), e.code, e.message) for e in injected] == [(type(e), e.code, e.message) for e in real]
    assert (type(real[0]), real[0].code, real[0].message) == (MCPError, -32000, "Connection closed")
    assert chaos.calls[0].error == "Disconnected"


def test_http_status_faults_never_apply_to_stdio() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.unavailable", url=URL)
        (result,) = session("auto", "lookup_order")
    assert not result.is_error and list(chaos.calls) == []
    assert [i.fault.id for i in chaos.unmatched()] == ["mcp.unavailable"]


def test_the_stdio_client_is_restored_after_the_session() -> None:
    import mcp.client.client
    import mcp.client.stdio

    originals = (mcp.client.stdio.stdio_client, mcp.client.client.stdio_client)
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("mcp.tool_error", url=URL)
        assert mcp.client.stdio.stdio_client is not originals[0]
    assert (mcp.client.stdio.stdio_client, mcp.client.client.stdio_client) == originals

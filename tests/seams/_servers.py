"""Real servers on loopback for the seam tests: a JSON CRM over http.server, and an MCP server
(the ``mcp`` SDK's own MCPServer under uvicorn). Each runs in a thread and stops at the end."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def json_server(routes: Callable[[str], tuple[int, Any]]) -> Iterator[str]:
    """A real HTTP/1.1 server answering GET ``path`` with ``routes(path)`` = (status, JSON)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            status, payload = routes(self.path)
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def asgi_server(app: Any, *, lifespan: str = "off") -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan=lifespan,
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start {app!r}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def mcp_server(mcp: Any) -> Iterator[str]:
    """Serve an ``mcp`` MCPServer over streamable HTTP on loopback; yields its URL."""
    with asgi_server(mcp.streamable_http_app(), lifespan="on") as base:
        yield f"{base}/mcp"


def mcp_ops(
    server: Any, mode: str, ops: tuple[Any, ...], *, timeout: float | None = None,
    arguments: Callable[[str], dict[str, Any]] = lambda tool: {"order_id": "A100"},
) -> list[Any]:
    """Connect the official mcp client to ``server`` and run ``ops`` in one session.

    An op is ``"list"`` (the tool names), a tool name (its call result), or a function to call
    between them (to inject a fault mid-session). A failed op gives its exception; a hang
    fails the test after 20 s.
    """
    import anyio
    from mcp import Client

    async def main() -> list[Any]:
        out: list[Any] = []
        with anyio.fail_after(20):
            async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
                for op in ops:
                    if callable(op):
                        op()
                        continue
                    try:
                        if op == "list":
                            out.append([t.name for t in (await client.list_tools()).tools])
                        else:
                            out.append(await client.call_tool(op, arguments(op), read_timeout_seconds=timeout))
                    except Exception as exc:  # noqa: BLE001 - the outcome is what the tests check
                        out.append(exc)
        return out

    return anyio.run(main)

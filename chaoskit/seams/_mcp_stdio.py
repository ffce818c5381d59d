"""The MCP stdio seam: ``mcp.*`` faults on servers the official client runs as a subprocess.

Over stdio there is no HTTP to intercept: the client writes one JSON-RPC message per line to
the server's stdin and reads its stdout. The seam wraps ``mcp.client.stdio.stdio_client`` so
each message the client sends passes the engine first. A fault answers in the server's
place (a JSON-RPC error or result), holds the request (a timeout), rewrites the server's real
answer (a tool gone from ``tools/list``), or ends the server's output as a crashed process
does (a disconnect). Servers are addressed as ``stdio://COMMAND ARGS``, so
``url="stdio://*orders_server*"`` picks one. HTTP status faults have no meaning here and never
apply. It is installed when the first ``mcp.*`` fault is injected: connect stdio clients
after that.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ..providers._plan import Break, Forward, Note, Plan, Send, Upstream, Wait
from ..providers._profile import CallRequest

if TYPE_CHECKING:
    from .._journal import Call
    from ..engine import Engine, OnEnd

__all__ = ["install"]

_JSON = (("content-type", "application/json"),)


def install(engine: Engine) -> Callable[[], None]:
    """Wrap ``stdio_client`` where the mcp package looks it up; returns the function that restores it."""
    import mcp.client.client as client_module
    import mcp.client.stdio as stdio_module

    original = stdio_module.stdio_client

    @asynccontextmanager
    async def stdio_client(server: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        url = "stdio://" + " ".join([str(server.command), *map(str, server.args or ())])
        async with original(server, *args, **kwargs) as (read, write), _filtered(engine, url, read, write) as streams:
            yield streams

    patched = [(m, m.stdio_client) for m in (stdio_module, client_module) if hasattr(m, "stdio_client")]
    for module, _ in patched:
        module.stdio_client = stdio_client  # type: ignore[attr-defined]

    def restore() -> None:
        for module, previous in patched:
            module.stdio_client = previous  # type: ignore[attr-defined]

    return restore


@asynccontextmanager
async def _filtered(engine: Engine, url: str, server_read: Any, server_write: Any) -> AsyncIterator[tuple[Any, Any]]:
    """Streams for the client that pass each message through the engine on the way."""
    import anyio
    from mcp import types
    from mcp.shared.message import SessionMessage

    to_client_send, to_client = anyio.create_memory_object_stream[Any](100)
    from_client, from_client_recv = anyio.create_memory_object_stream[Any](100)
    rewrites: dict[Any, tuple[Callable[[Upstream], Plan], Call, OnEnd]] = {}  # request id -> rewrite of its answer
    clock = engine.clock

    def message(data: dict[str, Any]) -> Any:
        """A message as the stdio client builds it from a line the server wrote."""
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(json.dumps(data), by_name=False))

    def answer(plan: Plan, call: Call) -> dict[str, Any] | None:
        """The JSON-RPC message a played plan sends back, noting what the journal needs."""
        for step in plan:
            if isinstance(step, Note):
                call.detail = step.text
        data = b"".join(step.data for step in plan if isinstance(step, Send))
        if not data:
            return None
        call.status = 200
        return json.loads(data)  # type: ignore[no-any-return]

    async def play(item: Any, plan: Plan, call: Call, on_end: OnEnd) -> None:
        forwarded = False  # the call ends when the server's answer is rewritten
        try:
            for i, step in enumerate(plan):
                if isinstance(step, Wait):
                    if math.isinf(step.seconds):
                        call.error = "NoAnswer"
                        return  # held: the client's own request timeout decides
                    await clock.asleep(step.seconds)
                elif isinstance(step, Break):
                    call.error = "Disconnected"
                    await to_client_send.aclose()  # the server's output ends, as when it crashes
                    return
                elif isinstance(step, Forward):
                    request_id = item.message.id
                    rewrites[request_id] = (step.then, call, on_end)
                    forwarded = True
                    await server_write.send(item)
                    return
                elif isinstance(step, Note):
                    call.detail = step.text
                else:
                    reply = answer(plan[i:], call)
                    if reply is not None:
                        await to_client_send.send(message(reply))
                    return
        finally:
            on_end(call, final=not forwarded)

    async def client_to_server(tg: Any) -> None:
        async with from_client_recv:
            async for item in from_client_recv:
                data = item.message.model_dump(by_alias=True, exclude_none=True, mode="json")
                decided = engine.decide(CallRequest("POST", url, {}, json.dumps(data).encode()), place="stdio") \
                    if "id" in data and "method" in data else None
                if decided is None or decided.action != "play" or decided.call is None:
                    await server_write.send(item)
                else:
                    tg.start_soon(play, item, decided.plan, decided.call, decided.on_end)

    async def server_to_client() -> None:
        async with to_client_send:
            async for item in server_read:
                rpc = getattr(item, "message", None)
                rewrite = rewrites.pop(getattr(rpc, "id", None), None) if rpc is not None else None
                if rewrite is not None:
                    then, call, on_end = rewrite
                    data = rpc.model_dump(by_alias=True, exclude_none=True, mode="json")  # type: ignore[union-attr]
                    reply = answer(then(Upstream(200, _JSON, json.dumps(data).encode())), call)
                    on_end(call)
                    item = message(reply) if reply is not None else item
                try:
                    await to_client_send.send(item)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return  # a disconnect fault closed the client's side

    async with anyio.create_task_group() as tg:
        tg.start_soon(client_to_server, tg)
        tg.start_soon(server_to_client)
        try:
            yield to_client, from_client
        finally:
            await from_client.aclose()
            tg.cancel_scope.cancel()

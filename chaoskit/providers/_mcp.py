"""The MCP profile: faults on a Model Context Protocol server spoken to over streamable HTTP.

An MCP client sends one JSON-RPC message per POST (``initialize`` or ``server/discover``,
``tools/list``, ``tools/call``, notifications) and may hold a GET stream open. Faults act on
the POSTs whose JSON-RPC ``method`` (and, for tool faults, ``params.name``) they name;
everything else goes to the real server untouched. Replies are JSON-RPC over
``application/json``, which clients of both protocol eras accept; a result that chaoskit
makes carries ``resultType: "complete"``, which the 2026 protocol requires and the earlier
one ignores. A rewritten real answer (a tool gone from ``tools/list``) keeps the server's
own framing, JSON or SSE.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import ChaosConfigError
from .._fault import Fault
from ._http import JSON, status_plan
from ._plan import Forward, Note, Plan, Respond, Send, Upstream, respond_with
from ._profile import CallRequest, RenderContext, network_plan

__all__ = ["McpProfile", "rpc_message"]


def rpc_message(req: CallRequest) -> dict[str, Any] | None:
    """The JSON-RPC request a POST carries (one with an ``id``), else None."""
    data = req.json
    if req.method != "POST" or not isinstance(data, dict) or "id" not in data or not isinstance(data.get("method"), str):
        return None
    return data


def _methods(fault: Fault) -> tuple[str, ...]:
    method = fault.params.get("method") or "tools/call"
    return (method,) if isinstance(method, str) else tuple(method)


def _tool_name(message: Mapping[str, Any]) -> str | None:
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return name if isinstance(name, str) else None


def _fill(value: Any, tool: str) -> Any:
    if isinstance(value, str):
        return value.replace("{tool}", tool)
    if isinstance(value, dict):
        return {k: _fill(v, tool) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, tool) for v in value]
    return value


def _reply(message: Mapping[str, Any], **member: Any) -> Plan:
    data = json.dumps({"jsonrpc": "2.0", "id": message.get("id"), **member}, separators=(",", ":")).encode()
    return [Respond(200, (("content-type", JSON),)), Send(data)]


class McpProfile:
    """Renders ``mcp.*`` faults on JSON-RPC calls to an MCP server."""

    name = "mcp"

    @staticmethod
    def check(fault: Fault) -> None:
        """Parameters a fault needs before it can be injected."""
        if fault.effect == "rpc.tool_vanishes" and not fault.params.get("tool"):
            raise ChaosConfigError(f"{fault.id} needs tool=NAME: the tool that disappears from tools/list")

    def applies(self, fault: Fault, req: CallRequest, idle: float | None) -> bool:
        message = rpc_message(req)
        if message is None:
            return False  # notifications, the GET stream, DELETE: never touched
        if fault.effect == "status" and not req.url.startswith("http"):
            return False  # an HTTP status means nothing to a server on stdio
        method, tool = message["method"], fault.params.get("tool")
        if fault.effect == "rpc.tool_vanishes":
            return method == "tools/list" or (method == "tools/call" and _tool_name(message) == tool)
        if method not in _methods(fault):
            return False
        return tool is None or method != "tools/call" or _tool_name(message) == tool

    def render(self, fault: Fault, req: CallRequest, ctx: RenderContext) -> Plan:
        message = rpc_message(req)
        assert message is not None  # applies() said so
        p = fault.params
        where = ctx.where or f"{message.get('method')} to {req.url}"
        tool = _tool_name(message) or ""
        network = network_plan(fault.effect, p, ctx.rng, lambda: [Forward(respond_with)])
        if network is not None:
            return network
        if fault.effect == "status":
            return status_plan(p)
        if fault.effect == "rpc.error":
            error = {"code": int(p.get("code", -32603)), "message": str(p.get("message", "Internal error"))}
            if p.get("data") is not None:
                error["data"] = _fill(p["data"], tool)
            return _reply(message, error=error)
        if fault.effect == "rpc.result":
            return _reply(message, result={**_fill(dict(p.get("result") or {}), tool), "resultType": "complete"})
        if fault.effect == "rpc.tool_vanishes":
            gone = str(p["tool"])
            if message["method"] == "tools/call":  # what the real server answers for a tool it lacks
                unknown = {"content": [{"type": "text", "text": f"Unknown tool: {gone}"}], "isError": True}
                return [Note(f"{gone} is gone"), *_reply(message, result={**unknown, "resultType": "complete"})]
            return [Forward(lambda up: [Note(f"{gone} removed from tools/list"), *_rewrite(up, lambda r: _without(r, gone), where)])]
        raise ChaosConfigError(f"fault {fault.id!r} (effect {fault.effect!r}) cannot act on an MCP call")


def _without(result: dict[str, Any], tool: str) -> dict[str, Any]:
    tools = result.get("tools")
    if isinstance(tools, list):
        result["tools"] = [t for t in tools if not (isinstance(t, dict) and t.get("name") == tool)]
    return result


def _rewrite(up: Upstream, change: Callable[[dict[str, Any]], dict[str, Any]], where: str) -> Plan:
    """``up`` with ``change`` applied to the result of its JSON-RPC response, framing kept."""
    content_type = next((v for k, v in up.headers if k.lower() == "content-type"), "")
    text = up.body.decode("utf-8", "replace")
    if content_type.startswith("text/event-stream"):
        lines = text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.startswith("data:"):
                payload = json.loads(line[5:])
                if isinstance(payload, dict) and isinstance(payload.get("result"), dict):
                    payload["result"] = change(payload["result"])
                    ending = line[len(line.rstrip("\r\n")):]
                    lines[i] = "data: " + json.dumps(payload, separators=(",", ":")) + ending
        body = "".join(lines).encode()
    else:
        try:
            payload = json.loads(text)
        except ValueError:
            raise ChaosConfigError(f"{where}: the MCP server's answer is not JSON-RPC") from None
        if isinstance(payload, dict) and isinstance(payload.get("result"), dict):
            payload["result"] = change(payload["result"])
        body = json.dumps(payload, separators=(",", ":")).encode()
    return [Respond(up.status, up.headers), Send(body)]

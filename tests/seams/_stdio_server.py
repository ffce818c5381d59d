"""An MCP server on stdio (the mcp SDK's MCPServer), run as a subprocess by the stdio tests."""

import os

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("orders", log_level="WARNING")


@mcp.tool()
def lookup_order(order_id: str) -> dict[str, str]:
    """Look up an order."""
    return {"order_id": order_id, "status": "shipped"}


@mcp.tool()
def cancel_order(order_id: str) -> str:
    """Cancel an order."""
    return f"cancelled {order_id}"


@mcp.tool()
def crash() -> str:
    """Kill the server process mid-call, as a real crash does."""
    os._exit(1)


if __name__ == "__main__":
    mcp.run("stdio")

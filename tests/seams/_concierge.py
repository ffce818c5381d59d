"""A small shop assistant with four seams: a model (openai), a CRM over HTTP, an order tool (a
Python function with a side effect) and an MCP server (shipping ETAs).

``Concierge`` is the correct app: every seam has a timeout and a fallback, an ambiguous order
failure is checked before it is retried, and CRM fields are read defensively. The flags turn
on one bug each, the kind chaoskit must catch: ``crm_timeout=None`` (no timeout on the CRM),
``blind_retry`` (a retry that duplicates an order), ``strict_crm`` (a crash on a renamed
field), ``trust_tools`` (an MCP tool error shown to the customer), ``no_handoff`` (a model
failure that crashes instead of reaching a human).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import openai
from mcp import Client
from mcp.shared.exceptions import MCPError

ORDERS: list[dict[str, Any]] = []  # orders really created (the side effect)
HANDOFFS: list[str] = []  # questions passed to a human


def create_order(item: str, request_id: str) -> dict[str, Any]:
    """The order service: creates an order every time it is called."""
    order = {"id": f"O{len(ORDERS) + 1}", "item": item, "request_id": request_id}
    ORDERS.append(order)
    return order


def find_order(request_id: str) -> dict[str, Any] | None:
    """The order service's lookup by the caller's request id (its idempotency key)."""
    return next((o for o in ORDERS if o["request_id"] == request_id), None)


def hand_off(question: str) -> None:
    """The human handoff seam."""
    HANDOFFS.append(question)


TOOLS = [{
    "type": "function",
    "function": {
        "name": "create_order", "description": "Order an item.",
        "parameters": {"type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]},
    },
}]


@dataclass
class Reply:
    text: str
    order: str | None = None
    handed_off: bool = False
    notes: list[str] = field(default_factory=list)


class Concierge:
    def __init__(
        self, crm: str, mcp: str, *, crm_timeout: float | None = 0.5, blind_retry: bool = False,
        strict_crm: bool = False, trust_tools: bool = False, no_handoff: bool = False,
    ) -> None:
        self.crm, self.mcp = crm, mcp
        self.crm_timeout = crm_timeout
        self.blind_retry, self.strict_crm, self.trust_tools, self.no_handoff = blind_retry, strict_crm, trust_tools, no_handoff

    async def handle(self, customer_id: int, message: str, request_id: str) -> Reply:
        reply = Reply("")
        name = await self._customer_name(customer_id, reply)
        try:
            async with openai.AsyncOpenAI(api_key="sk-test", max_retries=1, timeout=2.0) as model:
                first = await model.chat.completions.create(
                    model="gpt-4o-mini", tools=TOOLS,  # type: ignore[arg-type]
                    messages=[{"role": "user", "content": message}],
                )
        except openai.APIError:
            if self.no_handoff:
                raise
            hand_off(message)
            return Reply(f"Sorry {name}, a colleague will get back to you shortly.", handed_off=True, notes=reply.notes)
        calls = first.choices[0].message.tool_calls or []
        if not calls:
            return Reply(first.choices[0].message.content or "", notes=reply.notes)
        try:
            arguments = json.loads(calls[0].function.arguments)  # type: ignore[union-attr]
        except ValueError:
            arguments = None
        item = arguments.get("item") if isinstance(arguments, dict) else None
        if not isinstance(item, str) or not item:
            reply.notes.append("model: bad create_order arguments")
            return Reply(f"Sorry {name}, which item would you like to order?", notes=reply.notes)
        order = self._order(item, request_id, reply)
        if order is None:
            return Reply(f"Sorry {name}, I could not place the order; please try again later.", notes=reply.notes)
        eta = await self._eta(order["id"], reply)
        return Reply(f"Thanks {name}, order {order['id']} is placed. {eta}", order=order["id"], notes=reply.notes)

    async def _customer_name(self, customer_id: int, reply: Reply) -> str:
        try:
            async with httpx2.AsyncClient(timeout=self.crm_timeout) as client:
                response = await client.get(f"{self.crm}/customers/{customer_id}")
                response.raise_for_status()
                data = response.json()
            if self.strict_crm:
                return str(data["customer"]["name"])
            customer = data.get("customer") if isinstance(data, dict) else None
            name = customer.get("name") if isinstance(customer, dict) else None
            if isinstance(name, str) and name:
                return name
            reply.notes.append("crm: no name")
        except (httpx2.HTTPError, ValueError) as exc:
            reply.notes.append(f"crm: {type(exc).__name__}")
        return "there"

    def _order(self, item: str, request_id: str, reply: Reply) -> dict[str, Any] | None:
        for attempt in range(2):
            try:
                return create_order(item, request_id)
            except (TimeoutError, ConnectionError) as exc:
                reply.notes.append(f"order: {type(exc).__name__}")
                if not self.blind_retry:
                    # The failure is ambiguous: the order may exist. Look before creating again.
                    existing = find_order(request_id)
                    if existing is not None:
                        return existing
                if attempt == 1:
                    return None
        return None

    async def _eta(self, order_id: str, reply: Reply) -> str:
        try:
            with anyio.fail_after(3):
                async with Client(self.mcp) as client:
                    result = await client.call_tool("shipping_eta", {"order_id": order_id}, read_timeout_seconds=0.5)
        except (MCPError, TimeoutError, Exception) as exc:  # noqa: BLE001 - any failure of the MCP seam
            reply.notes.append(f"mcp: {type(exc).__name__}")
            return "I can't check the delivery date right now."
        text = "".join(getattr(block, "text", "") for block in result.content)
        if result.is_error and not self.trust_tools:
            reply.notes.append("mcp: tool error")
            return "I can't check the delivery date right now."
        return text

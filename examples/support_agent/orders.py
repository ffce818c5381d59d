"""The order system the support agent's one tool reads: a dict in this example."""

from __future__ import annotations

import re

__all__ = ["ORDERS", "ORDER_ID", "lookup_order"]

ORDERS: dict[str, dict[str, str]] = {
    "A100": {"status": "shipped", "carrier": "DHL", "eta": "2026-11-14"},
    "A101": {"status": "processing", "eta": "2026-11-18"},
    "A102": {"status": "delivered", "delivered_on": "2026-11-02"},
}

#: How an order id looks in an answer (A100).
ORDER_ID = re.compile(r"\b[A-Z]\d{3,}\b")


def lookup_order(order_id: str) -> dict[str, str]:
    """Look up the status of a customer's order by its id (for example A100).

    An unknown id gives ``error`` instead of a status, so the model can say so rather than guess.
    """
    key = order_id.strip().upper()
    order = ORDERS.get(key)
    if order is None:
        return {"order_id": key, "error": "no order with this id"}
    return {"order_id": key, **order}

"""A small tool module for the callable seam's tests: functions and methods with side effects."""

from __future__ import annotations

import anyio

ORDERS: list[str] = []  # every order that was really created


def create_order(item: str, *, qty: int = 1) -> dict[str, object]:
    ORDERS.append(item)
    return {"id": len(ORDERS), "item": item, "qty": qty, "created": "2026-01-05T10:00:00Z"}


async def search(query: str) -> list[dict[str, object]]:
    await anyio.sleep(0)
    return [{"doc": "returns-policy", "score": 0.9}, {"doc": "shipping", "score": 0.5}]


class OrderClient:
    def __init__(self, region: str = "eu") -> None:
        self.region = region

    def lookup(self, order_id: str) -> dict[str, str]:
        return {"order_id": order_id, "state": "shipped", "region": self.region}

    async def alookup(self, order_id: str) -> dict[str, str]:
        return {"order_id": order_id, "state": "shipped"}

    @staticmethod
    def ping() -> str:
        return "pong"

    @classmethod
    def default(cls) -> OrderClient:
        return cls()


class ToolDown(Exception):
    """An exception of the app's own, raised by name."""

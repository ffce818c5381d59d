"""Health checks for the python probe tests: imported by dotted path, as a scenario names them."""

from __future__ import annotations

import time

import anyio


def healthy() -> bool:
    return True


def unhealthy() -> list[str]:
    return []


async def async_status(service: str = "db") -> dict[str, str]:
    await anyio.sleep(0)
    return {"service": service, "status": "ok"}


def broken() -> None:
    raise RuntimeError("db down")


def slow() -> bool:
    time.sleep(1.0)
    return True


def queue_depth() -> int:
    return 12


NOT_CALLABLE = 3

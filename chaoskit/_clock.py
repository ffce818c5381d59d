"""The clock seam: injected latency waits through it, so virtual time can replace it."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "RealClock"]


@runtime_checkable
class Clock(Protocol):
    """What seams use to read time and wait; real by default."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""

    async def asleep(self, seconds: float) -> None:
        """Wait ``seconds`` in the running event loop (asyncio or trio)."""


class RealClock:
    """Wall-clock time: ``time.monotonic`` and real sleeps."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        import anyio  # imported here so loading chaoskit stays light

        await anyio.sleep(max(seconds, 0.0))

"""The clock seam: injected latency waits through it, so virtual time can replace it, and a
stopping session can cut every wait short at once."""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "RealClock", "WaitInterrupted"]

_monotonic = time.monotonic  # the real one, whatever patches ``time`` later


class WaitInterrupted(ConnectionAbortedError):
    """An injected wait was cut short: the chaos session stopped (Ctrl-C, the end of the test)
    while a call waited. The call fails as an aborted connection does."""

    def __init__(self) -> None:
        super().__init__("chaoskit: the chaos session stopped while this call waited on an injected delay")


@runtime_checkable
class Clock(Protocol):
    """What seams use to read time and wait; real by default."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""

    async def asleep(self, seconds: float) -> None:
        """Wait ``seconds`` in the running event loop (asyncio or trio)."""


class Waits:
    """The waits of one clock, which :meth:`interrupt` ends at once in every thread."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.generation = 0

    def interrupt(self) -> None:
        """Wake every thread waiting now; each raises :class:`WaitInterrupted`. Later waits run."""
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of real time, or until interrupted."""
        deadline = _monotonic() + seconds
        with self.cond:
            generation = self.generation
            while True:
                if self.generation != generation:
                    raise WaitInterrupted
                left = deadline - _monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)


class RealClock:
    """Wall-clock time: ``time.monotonic`` and real sleeps that a stopping session interrupts."""

    def __init__(self) -> None:
        self._waits = Waits()

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._waits.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        import anyio  # imported here so loading chaoskit stays light

        await anyio.sleep(max(seconds, 0.0))

    def interrupt(self) -> None:
        """End every wait in progress (the session is stopping)."""
        self._waits.interrupt()

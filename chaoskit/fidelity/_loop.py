"""An asyncio event loop on virtual time, for async SDK calls whose transport chaoskit answers.

The loop's ``time()`` is virtual. When it would block for ``timeout`` seconds with nothing
ready, it first waits a little in real time (``threshold``: threads finishing, such as an
SDK's platform probe in a worker thread), then jumps its clock to the next timer instead of
sleeping: a 30 s retry-after costs nothing. With no timer at all it waits for real I/O.
Only for code whose network is mocked: against real sockets, jumps make false timeouts.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

__all__ = ["VirtualEventLoop"]


class _AutojumpSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """A selector that moves its loop's virtual clock forward instead of blocking."""

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold
        self.loop: VirtualEventLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        ready: list[tuple[Any, int]] = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        ready = super().select(self.threshold if timeout is None else min(self.threshold, timeout))
        if ready:
            return ready
        if timeout is None:
            return super().select(None)  # no timer: only I/O or another thread can wake the loop
        assert self.loop is not None
        self.loop.advance(timeout)
        return []


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock is virtual and jumps to the next timer when idle."""

    def __init__(self, threshold: float = 0.005) -> None:
        selector = _AutojumpSelector(threshold)
        super().__init__(selector)
        selector.loop = self
        self._virtual_now = 0.0

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self._virtual_now += max(seconds, 0.0)

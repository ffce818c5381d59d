"""An asyncio event loop on virtual time, for async SDK calls whose transport chaoskit answers.

The loop's ``time()`` is virtual. When it would block for ``timeout`` seconds with nothing
ready, it first waits a little in real time (``threshold``), then jumps its clock to the next
timer instead of sleeping: a 30 s retry-after costs nothing. With no timer at all, or while a
job it handed to a worker thread runs (``run_in_executor``: a DNS lookup, an SDK's platform
probe), it waits in real time: a busy machine must not turn a slow lookup into a timeout.
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
        assert self.loop is not None
        if timeout is None or self.loop.working:
            # no timer, or work in a worker thread (a DNS lookup, a platform probe) that will wake
            # the loop when it is done: wait for it in real time, a jump would time it out
            return super().select(None)
        self.loop.advance(timeout)
        return []


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock is virtual and jumps to the next timer when idle."""

    def __init__(self, threshold: float = 0.005) -> None:
        selector = _AutojumpSelector(threshold)
        super().__init__(selector)
        selector.loop = self
        self._virtual_now = 0.0

        self._working = 0  # executor jobs in flight

    @property
    def working(self) -> bool:
        """Whether a job the loop handed to a worker thread has not finished."""
        return self._working > 0

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:  # type: ignore[override]
        future = super().run_in_executor(executor, func, *args)
        self._working += 1

        def finished(_: asyncio.Future[Any]) -> None:
            self._working -= 1

        future.add_done_callback(finished)
        return future

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self._virtual_now += max(seconds, 0.0)

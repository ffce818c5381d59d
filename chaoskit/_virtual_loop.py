"""Event loops on virtual time: asyncio loops whose waits are sleeps in a :class:`VirtualClock`.

An asyncio loop blocks in ``selector.select(timeout)`` until its next timer is due, measured
with ``loop.time()``. Under the sync virtual clock the time is virtual but the wait would be
real, so the loop would wait in real time for a virtual deadline that never comes. While a
loop runs on a clock, its selector is a :class:`VirtualSelector`: ready I/O still returns at
once, and a wait with a timeout is a sleep in the clock, in which the loop's thread counts as
asleep, so *now* jumps to the earliest deadline once every participating thread waits.

Which loops run on which clock, decided each time a loop starts running (``run_forever``,
under ``run_until_complete``, ``asyncio.run``, ``anyio.run``, pydantic-ai's ``run_sync``):

- While a ``VirtualClock`` is installed, an asyncio selector loop started in one of its
  threads (the installing one, or one started after it) runs on it, for that run. A loop
  kept between runs, as pydantic-ai keeps one per thread, is taken again by each session's
  clock. A loop running in a thread that predates the clock keeps real time.
- A loop from :func:`virtual_event_loop` runs on the installed clock in the same way, and
  on a clock of its own when none is installed (for ``anyio.run``, pytest-asyncio or any
  runner that takes a loop factory, with :class:`chaoskit.LoopClock` in the chaos session).

At the end of each run the loop gets its own selector and time back; uninstalling the clock
puts ``run_forever`` back. uvloop's and trio's loops are not asyncio selector loops and
keep their own time.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ._virtual import VirtualClock

__all__ = ["VirtualSelector", "clock_of", "patch_loops", "virtual_event_loop"]

#: The loops running on a clock now, and their clock.
_ON: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, VirtualClock] = weakref.WeakKeyDictionary()


def clock_of(loop: asyncio.AbstractEventLoop) -> VirtualClock | None:
    """The virtual clock ``loop`` runs on now, if any."""
    return _ON.get(loop)


class VirtualSelector(selectors.BaseSelector):
    """A selector whose waits are sleeps in ``clock``: ``select(timeout)`` returns ready I/O at
    once, or ``[]`` once the clock is ``timeout`` virtual seconds on.

    It wraps the loop's own selector, which keeps every registration; a pipe of its own,
    registered there too, lets the clock wake a wait when *now* moves. :meth:`detach` takes
    the pipe out again and leaves ``inner`` as it was.
    """

    def __init__(self, inner: selectors.BaseSelector, clock: VirtualClock) -> None:
        self.inner = inner
        self.clock = clock
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        inner.register(self._wake_r, selectors.EVENT_READ)

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self.inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self.inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        inner = self.inner.get_map()
        return {fd: key for fd, key in inner.items() if fd != self._wake_r} if inner is not None else {}

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return self.clock.wait_io(timeout, self._poll, self._wake)

    def close(self) -> None:
        self.detach()
        self.inner.close()

    def detach(self) -> None:
        """Take the wake-up pipe out of ``inner`` and close it. Safe to call twice."""
        if self._wake_r < 0:
            return
        try:
            self.inner.unregister(self._wake_r)
        except (KeyError, ValueError, RuntimeError):  # inner was closed already
            pass
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._wake_r = self._wake_w = -1

    def _poll(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        """The real select, without the wake-up pipe (drained when it woke the wait)."""
        ready = self.inner.select(timeout)
        events = [(key, mask) for key, mask in ready if key.fd != self._wake_r]
        if len(events) != len(ready):
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        return events

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:  # the pipe is full: the wait wakes anyway
            pass


@contextmanager
def _on_clock(loop: asyncio.BaseEventLoop, clock: VirtualClock) -> Iterator[None]:
    """Run ``loop`` on ``clock`` inside the block (one run): its selector waits in the clock and
    ``loop.time()`` is the clock's. Both are given back on the way out, whatever happened."""
    inner = loop._selector  # type: ignore[attr-defined]  # noqa: SLF001 - the selector the loop waits in
    selector = VirtualSelector(inner, clock)
    loop._selector = selector  # type: ignore[attr-defined]  # noqa: SLF001
    loop.time = clock.loop_time  # type: ignore[method-assign]  # an instance attribute, as looptime sets
    _ON[loop] = clock
    try:
        yield
    finally:
        _ON.pop(loop, None)
        del loop.time
        loop._selector = inner  # type: ignore[attr-defined]  # noqa: SLF001
        selector.detach()


def _takes(loop: asyncio.AbstractEventLoop, clock: VirtualClock | None) -> bool:
    """Whether ``loop``, about to run in this thread, should run on ``clock``."""
    return (
        clock is not None
        and clock.takes_this_thread()
        and isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop)
        and not loop.is_closed()
        and not loop.is_running()
        and loop not in _ON
    )


def patch_loops(clock: VirtualClock) -> list[tuple[Any, str, Any]]:
    """What :meth:`VirtualClock.install` patches so that loops started under it run on it:
    ``(owner, attribute, replacement)``, which the clock sets and puts back."""
    original = asyncio.base_events.BaseEventLoop.run_forever

    def run_forever(self: asyncio.BaseEventLoop) -> None:
        if not _takes(self, clock):
            return original(self)
        with _on_clock(self, clock):
            return original(self)

    run_forever.clock = clock  # type: ignore[attr-defined]  # how a loop of our own finds the installed clock
    run_forever.__doc__ = original.__doc__
    return [(asyncio.base_events.BaseEventLoop, "run_forever", run_forever)]


def _installed() -> VirtualClock | None:
    """The VirtualClock installed now, if any."""
    return getattr(asyncio.base_events.BaseEventLoop.run_forever, "clock", None)


class _VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on a virtual clock of its own, unless an installed one takes it."""

    def __init__(self, autojump: float) -> None:
        super().__init__()
        self._clock = VirtualClock(autojump=autojump)
        self._clock._begin()  # noqa: SLF001 - a clock of the loop's own: running, with no time patched

    def time(self) -> float:
        return self._clock.loop_time()

    def run_forever(self) -> None:
        if _takes(self, _installed()):
            return super().run_forever()  # the installed clock takes it
        if not _takes(self, self._clock):
            return super().run_forever()  # closed or running: asyncio says so
        with _on_clock(self, self._clock):
            return super().run_forever()

    def close(self) -> None:
        super().close()
        self._clock._end()  # noqa: SLF001


def virtual_event_loop(*, autojump: float = 0.005) -> asyncio.AbstractEventLoop:
    """A new asyncio event loop on virtual time: ``asyncio.sleep(30)`` returns at once, 30 s on.

    A loop factory: ``anyio.run(main, backend_options={"loop_factory": chaoskit.virtual_event_loop})``,
    ``asyncio.Runner(loop_factory=chaoskit.virtual_event_loop)``, or anyio's pytest plugin with
    ``anyio_backend`` returning ``("asyncio", {"loop_factory": chaoskit.virtual_event_loop})``.
    Inside it, a chaos session uses ``clock=chaoskit.LoopClock()``. While a chaos session's
    ``VirtualClock`` is installed (a sync or async test with ``virtual_time=True``), the loop runs
    on that clock instead, so the loop, the ``time`` module and the journal agree.

    The loop's time jumps to its next timer once its thread (and every thread started after the
    loop) waits; ``autojump``: real seconds after which it jumps although such a thread is
    busy (defaults to 5 ms).
    """
    return _VirtualEventLoop(autojump)

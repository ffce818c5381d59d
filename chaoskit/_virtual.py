"""Virtual time: injected waits, SDK backoff and the app's own deadlines on one fake clock.

A chaos suite waits a lot (a 30 s cold start, ``retry-after: 20``, a stall past a 10 s
timeout). With every seam in-process nothing has to wait for real, as long as everything
that measures time reads the same clock.

:class:`VirtualClock` is that clock for sync code. While a session holds it, the ``time``
module's ``sleep``, ``monotonic``, ``perf_counter`` and ``time`` (and their ``_ns`` forms)
are virtual: a sleep returns at once and moves *now* on. The SDKs sleep between retries with
``time.sleep`` and the app's deadline checks read ``time.monotonic``, so they all agree with
the journal and ``chaos.deadline``.

The model, as in trio's ``MockClock`` with autojump: there is one virtual *now*. A sleeping
thread waits until *now* reaches its deadline; *now* jumps to the earliest deadline as soon
as every participating thread is asleep in the clock, or after ``autojump`` real seconds in
which no thread woke (a thread busy computing delays the jump that long). Participating
threads are the one that installed the clock and every thread started after it, such as the
app's thread pool; threads that were already running (pytest's, xdist's) keep real sleeps,
so a background poller cannot run the clock away.

Event loops run on the clock too: an asyncio loop that starts running in a participating
thread while the clock is installed (``asyncio.run``, ``anyio.run``, pydantic-ai's ``run_sync``)
waits in it, as a sleeping thread does, for that run (see :mod:`chaoskit._virtual_loop`), so
``asyncio.sleep``, ``asyncio.wait_for`` and ``anyio.fail_after`` fire at the virtual deadline.

Modules that bound a name with ``from time import monotonic`` keep the real function;
name them in ``VirtualClock(modules=[...])`` to rebind theirs too. Real waits that block in
the OS (``Event.wait(timeout)``, ``Queue.get(timeout=...)``, socket timeouts) stay real.

:class:`LoopClock` is the clock for async code under an event loop that keeps virtual time of
its own (:func:`chaoskit.virtual_event_loop`, ``looptime`` on asyncio, ``trio.testing.MockClock``
on trio): it reads the loop's time and waits with the loop's timers, so ``asyncio.wait_for``,
``anyio.fail_after`` and the SDKs' ``anyio.sleep`` retries all fire at the virtual deadline.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, ClassVar, TypeVar

from ._clock import WaitInterrupted, Waits
from ._errors import ChaosError

__all__ = ["LoopClock", "VirtualClock"]

_NAMES = ("sleep", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "time", "time_ns")
#: The real functions, taken before anything is patched.
_REAL: dict[str, Any] = {name: getattr(time, name) for name in _NAMES}
_T = TypeVar("_T")


class _IoWait:
    """An event loop waiting in its selector: how to wake it, and whether the clock did."""

    __slots__ = ("wake", "woken")

    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake
        self.woken = False


class VirtualClock:
    """A fake clock for sync code: sleeps return at once, the ``time`` module reads it.

    ``start``: the virtual seconds at the start (0). ``autojump``: real seconds after which
    *now* jumps although a participating thread is awake (defaults to 5 ms). ``modules``:
    modules whose ``from time import ...`` names are rebound too. Used by
    ``Chaos(clock=VirtualClock())`` and ``@pytest.mark.chaos(virtual_time=True)``.
    """

    virtual: ClassVar[bool] = True

    def __init__(self, *, start: float = 0.0, autojump: float = 0.005, modules: Iterable[ModuleType] = ()) -> None:
        if not autojump > 0:
            raise ValueError(f"autojump={autojump!r} must be a number of real seconds above 0")
        self.autojump = autojump
        self.modules = tuple(modules)
        self._now = float(start)
        self._bases = {"monotonic": _REAL["monotonic"](), "perf_counter": _REAL["perf_counter"](), "time": _REAL["time"]()}
        self._cond = threading.Condition(threading.Lock())
        self._deadlines: list[tuple[float, int]] = []
        self._order = itertools.count()
        self._asleep: set[int] = set()
        self._io_waits: dict[int, _IoWait] = {}  # the event loops waiting in their selectors, by thread
        self._outsiders: frozenset[int] = frozenset()  # threads that keep real time
        self._patched: list[tuple[Any, str, Any]] = []
        self.real_started = 0.0
        self.real_seconds = 0.0  # real time the clock was installed, for reports
        self._running = False  # between _begin() and _end(): threads and loops wait in virtual time
        self._ended: float | None = None  # real monotonic time of _end(), if it happened
        self._fell_back: float | None = None  # real monotonic time of fall_back(), if it happened
        self._generation = 0  # bumped by interrupt(): the virtual waits in progress end
        self._real_waits = Waits()  # the real sleeps of outsiders, and after fall_back()

    # ---- the Clock protocol ----------------------------------------------------------------
    def now(self) -> float:
        """Virtual seconds (after :meth:`fall_back`, virtual seconds so far plus real ones since)."""
        if self._fell_back is not None:
            return self._now + _REAL["monotonic"]() - self._fell_back
        return self._now

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time (at once, when every participating thread waits)."""
        seconds = max(float(seconds), 0.0)
        if self._fell_back is not None or threading.get_ident() in self._outsiders:
            self._real_waits.sleep(seconds)
            return
        if seconds == 0:
            _REAL["sleep"](0)  # a real yield, as time.sleep(0) gives
            return
        me = threading.get_ident()
        with self._cond:
            generation = self._generation
            entry = (self._now + seconds, next(self._order))
            heapq.heappush(self._deadlines, entry)
            self._asleep.add(me)
            self._notify()  # another sleeper: the others check whether all now wait
            try:
                while self._now < entry[0]:
                    if self._generation != generation:
                        raise WaitInterrupted
                    if self._may_jump():
                        self._jump()
                    elif not self._cond.wait(self.autojump):
                        self._jump()
            finally:
                self._asleep.discard(me)
                self._deadlines.remove(entry)
                heapq.heapify(self._deadlines)
                self._notify()

    async def asleep(self, seconds: float) -> None:
        """Wait ``seconds`` in the running event loop: virtual in a loop that runs on this clock,
        real in a thread that keeps real time; any other loop is refused (it could not wait here)."""
        import asyncio

        from ._virtual_loop import clock_of

        seconds = max(float(seconds), 0.0)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # trio, or another library's loop
            loop = None
        if loop is not None and clock_of(loop) is self:
            await asyncio.sleep(seconds)
            return
        if self._fell_back is not None or threading.get_ident() in self._outsiders:
            import anyio

            await anyio.sleep(seconds)
            return
        raise ChaosError(
            "chaoskit: an async client waited on the sync virtual clock from an event loop that does not "
            f"run on it ({_which_loop(loop)}); start the loop while the clock is installed (asyncio.run, "
            "anyio.run, chaoskit.virtual_event_loop()), or for trio and looptime use chaoskit.LoopClock"
        )

    def interrupt(self) -> None:
        """End every wait in progress, virtual or real (the session is stopping)."""
        with self._cond:
            self._generation += 1
            self._notify()
        self._real_waits.interrupt()

    def fall_back(self) -> None:
        """Go on in real time from here (a real connection was let through): the ``time``
        module is real again, and ``now()`` counts on from the virtual seconds so far."""
        if self._fell_back is None:
            with self._cond:
                self._fell_back = _REAL["monotonic"]()
                self._notify()  # event loops waiting in the clock wait in real time from here
            while self._patched:
                owner, attr, original = self._patched.pop()
                setattr(owner, attr, original)

    @property
    def fell_back(self) -> bool:
        """Whether the clock went back to real time during the session."""
        return self._fell_back is not None

    def advance(self, seconds: float) -> None:
        """Move *now* on by ``seconds`` without sleeping (for tests of the clock itself)."""
        with self._cond:
            self._now += max(float(seconds), 0.0)
            self._notify()

    # ---- event loops -------------------------------------------------------------------------
    def wait_io(self, timeout: float | None, poll: Callable[[float | None], list[_T]], wake: Callable[[], None]) -> list[_T]:
        """An event loop's wait for I/O or its next timer, in virtual time.

        ``poll(seconds)`` is the loop's real ``select`` (``None``: no limit), ``wake()`` makes a
        poll in progress return. Ready I/O returns at once. Otherwise the calling thread counts
        as asleep until *now* is ``timeout`` virtual seconds on (``None``: until I/O is ready),
        and *now* jumps as for :meth:`sleep`. Returns what ``poll`` found, or ``[]`` at the deadline.
        """
        if not self._running or self._fell_back is not None:
            return poll(timeout)
        ready = poll(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        me = threading.get_ident()
        waiting = _IoWait(wake)
        with self._cond:
            generation = self._generation
            entry = None if timeout is None else (self._now + timeout, next(self._order))
            if entry is not None:
                heapq.heappush(self._deadlines, entry)
            self._asleep.add(me)
            self._io_waits[me] = waiting
            self._notify()
            try:
                while entry is None or self._now < entry[0]:
                    if self._generation != generation or not self._running or self._fell_back is not None:
                        break  # back to the loop, whose next select finds out what changed
                    if self._may_jump():
                        self._jump()
                        continue
                    ahead = bool(self._deadlines) and self._deadlines[0][0] > self._now
                    waiting.woken = False
                    self._cond.release()
                    try:  # with nothing to jump to, any change that adds a deadline wakes the poll
                        ready = poll(self.autojump if ahead else None)
                    finally:
                        self._cond.acquire()
                    if ready:
                        return ready
                    if ahead and not waiting.woken:
                        self._jump()  # ``autojump`` real seconds and nobody stirred
            finally:
                self._asleep.discard(me)
                del self._io_waits[me]
                if entry is not None:
                    self._deadlines.remove(entry)
                    heapq.heapify(self._deadlines)
                self._notify()
        return []

    def loop_time(self) -> float:
        """The time of an event loop on this clock: monotonic seconds, virtual while the clock
        runs, then going on in real time from there (so a loop that outlives it keeps its timers)."""
        if self._fell_back is None and self._ended is not None:
            return self._bases["monotonic"] + self._now + _REAL["monotonic"]() - self._ended
        return self._bases["monotonic"] + self.now()

    def takes_this_thread(self) -> bool:
        """Whether the calling thread runs on this clock now (it runs, and the thread did not
        predate it), so an event loop started here runs on it."""
        return self._running and self._fell_back is None and threading.get_ident() not in self._outsiders

    # ---- installing ----------------------------------------------------------------------
    def install(self) -> None:
        """Make the ``time`` module (and ``modules``) read this clock, and event loops started
        from now on wait in it; refused inside an event loop."""
        import asyncio

        from ._virtual_loop import patch_loops

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise ChaosError(
                "chaoskit: the sync virtual clock cannot run inside an event loop (the loop itself "
                "reads time.monotonic); for async tests use a virtual event loop "
                "(chaoskit.virtual_event_loop()) and chaoskit.LoopClock"
            )
        if self._patched:
            raise ChaosError("this VirtualClock is installed already; use one per session")
        self._begin()
        fakes = self._fakes()
        for name in _NAMES:
            self._set(time, name, fakes[name])
        for module in self.modules:
            for attr, value in list(vars(module).items()):
                for name in _NAMES:
                    if value is _REAL[name]:
                        self._set(module, attr, fakes[name])
        for owner, attr, replacement in patch_loops(self):
            self._set(owner, attr, replacement)
        self.real_started = _REAL["perf_counter"]()

    def uninstall(self) -> None:
        """Put every real function back. Safe to call twice."""
        if self._patched or self._fell_back is not None:
            self.real_seconds = _REAL["perf_counter"]() - self.real_started
        while self._patched:
            owner, attr, original = self._patched.pop()
            setattr(owner, attr, original)
        self._end()

    def _begin(self) -> None:
        """Start running: the calling thread and the threads started from now on take part."""
        me = threading.get_ident()
        self._outsiders = frozenset(t.ident for t in threading.enumerate() if t.ident is not None and t.ident != me)
        self._running = True

    def _end(self) -> None:
        """Stop running: event loops still waiting in the clock go on in real time."""
        with self._cond:
            if self._running:
                self._running = False
                self._ended = _REAL["monotonic"]()
                self._notify()

    def _set(self, owner: Any, attr: str, value: Any) -> None:
        self._patched.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, value)

    def _fakes(self) -> dict[str, Any]:
        """The ``time`` functions while installed: virtual for participating threads, real for the
        threads that were running before (they sleep in real time, so they must read it too)."""
        bases = self._bases
        ident = threading.get_ident

        def offset(name: str) -> Any:
            base, real = bases[name], _REAL[name]
            return lambda: real() if ident() in self._outsiders else base + self._now

        def nanos(name: str) -> Any:
            base, real = bases[name], _REAL[f"{name}_ns"]
            return lambda: real() if ident() in self._outsiders else int((base + self._now) * 1e9)

        return {
            "sleep": self.sleep, "monotonic": offset("monotonic"), "monotonic_ns": nanos("monotonic"),
            "perf_counter": offset("perf_counter"), "perf_counter_ns": nanos("perf_counter"),
            "time": offset("time"), "time_ns": nanos("time"),
        }

    # ---- the model --------------------------------------------------------------------------
    # Invariant: a thread is in ``_asleep`` exactly while it waits in sleep() or wait_io(), and its
    # deadline (if any) is in ``_deadlines`` until it has left; so a jump goes no further than the
    # earliest waiter that has not yet woken, and a due waiter is waited for, not jumped past.
    def _everyone_asleep(self) -> bool:
        awake = {t.ident for t in threading.enumerate() if t.is_alive() and t.ident not in self._outsiders}
        return awake <= self._asleep

    def _may_jump(self) -> bool:
        """Every participating thread waits in the clock and the earliest deadline is ahead."""
        return bool(self._deadlines) and self._deadlines[0][0] > self._now and self._everyone_asleep()

    def _jump(self) -> None:
        """Move *now* to the earliest deadline, if it is ahead."""
        if self._deadlines and self._deadlines[0][0] > self._now:
            self._now = self._deadlines[0][0]
            self._notify()

    def _notify(self) -> None:
        """Wake every waiter to look again: sleeping threads, and event loops in their selectors."""
        self._cond.notify_all()
        me = threading.get_ident()
        for ident, waiting in self._io_waits.items():
            if ident != me:
                waiting.woken = True
                waiting.wake()

    def __repr__(self) -> str:
        return f"<VirtualClock now={self._now:.3f}s>"


def _which_loop(loop: Any) -> str:
    """What kind of loop ``loop`` is, for the message of a refused wait."""
    if loop is None:
        return "a trio loop or another library's"
    import asyncio

    if not isinstance(loop, asyncio.BaseEventLoop) or not hasattr(loop, "_selector"):
        return f"{type(loop).__module__}.{type(loop).__qualname__}, which is no asyncio selector loop"
    return "it was running before the clock was installed, or started in a thread that predates it"


class LoopClock:
    """The running event loop's clock, for async code on a loop with a virtual time of its own
    (:func:`chaoskit.virtual_event_loop` outside a session's ``VirtualClock``, looptime, trio's
    ``MockClock``).

    ``now()`` is the loop's time (``anyio.current_time()``) less its value at the first
    reading; outside a loop it is the last value read. Waits are the loop's own timers.
    """

    virtual: ClassVar[bool] = True

    def __init__(self) -> None:
        self._offset: float | None = None
        self._last = 0.0
        self.real_started = _REAL["perf_counter"]()
        self.real_seconds = 0.0

    def now(self) -> float:
        import anyio
        import sniffio

        try:
            sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            return self._last
        loop_time = anyio.current_time()
        if self._offset is None:
            self._offset = loop_time - self._last
        self._last = loop_time - self._offset
        return self._last

    def sleep(self, seconds: float) -> None:
        raise ChaosError(
            "chaoskit: a sync client waited inside a virtual event loop, which would block the loop; "
            "use the async client, or a sync test with virtual_time=True"
        )

    async def asleep(self, seconds: float) -> None:
        import anyio

        await anyio.sleep(max(seconds, 0.0))

    def install(self) -> None:
        self.real_started = _REAL["perf_counter"]()

    def uninstall(self) -> None:
        self.real_seconds += _REAL["perf_counter"]() - self.real_started

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

Modules that bound a name with ``from time import monotonic`` keep the real function;
name them in ``VirtualClock(modules=[...])`` to rebind theirs too. Real waits that block in
the OS (``Event.wait(timeout)``, ``Queue.get(timeout=...)``, socket timeouts) stay real.

:class:`LoopClock` is the clock for async code under a virtual event loop (``looptime`` on
asyncio, ``trio.testing.MockClock`` on trio): it reads the loop's time and waits with the
loop's timers, so ``asyncio.wait_for``, ``anyio.fail_after`` and the SDKs' ``anyio.sleep``
retries all fire at the virtual deadline.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Iterable
from types import ModuleType
from typing import Any, ClassVar

from ._clock import WaitInterrupted, Waits
from ._errors import ChaosError

__all__ = ["LoopClock", "VirtualClock"]

_NAMES = ("sleep", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "time", "time_ns")
#: The real functions, taken before anything is patched.
_REAL: dict[str, Any] = {name: getattr(time, name) for name in _NAMES}


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
        self._outsiders: frozenset[int] = frozenset()  # threads that keep real time
        self._patched: list[tuple[Any, str, Any]] = []
        self.real_started = 0.0
        self.real_seconds = 0.0  # real time the clock was installed, for reports
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
            self._cond.notify_all()  # another sleeper: the others check whether all now wait
            try:
                while self._now < entry[0]:
                    if self._generation != generation:
                        raise WaitInterrupted
                    if self._everyone_asleep() or not self._cond.wait(self.autojump):
                        self._jump()
            finally:
                self._asleep.discard(me)
                self._deadlines.remove(entry)
                heapq.heapify(self._deadlines)
                self._cond.notify_all()

    async def asleep(self, seconds: float) -> None:
        raise ChaosError(
            "chaoskit: an async client waited on the sync virtual clock, which cannot drive an event "
            "loop; for async tests use a virtual event loop (looptime or trio's MockClock) with "
            "chaoskit.LoopClock"
        )

    def interrupt(self) -> None:
        """End every wait in progress, virtual or real (the session is stopping)."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()
        self._real_waits.interrupt()

    def fall_back(self) -> None:
        """Go on in real time from here (a real connection was let through): the ``time``
        module is real again, and ``now()`` counts on from the virtual seconds so far."""
        if self._fell_back is None:
            self._fell_back = _REAL["monotonic"]()
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
            self._cond.notify_all()

    # ---- installing ----------------------------------------------------------------------
    def install(self) -> None:
        """Make the ``time`` module (and ``modules``) read this clock; refused inside an event loop."""
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise ChaosError(
                "chaoskit: the sync virtual clock cannot run inside an event loop (the loop itself "
                "reads time.monotonic); for async tests use a virtual event loop and chaoskit.LoopClock"
            )
        if self._patched:
            raise ChaosError("this VirtualClock is installed already; use one per session")
        me = threading.get_ident()
        self._outsiders = frozenset(t.ident for t in threading.enumerate() if t.ident is not None and t.ident != me)
        fakes = self._fakes()
        for name in _NAMES:
            self._set(time, name, fakes[name])
        for module in self.modules:
            for attr, value in list(vars(module).items()):
                for name in _NAMES:
                    if value is _REAL[name]:
                        self._set(module, attr, fakes[name])
        self.real_started = _REAL["perf_counter"]()

    def uninstall(self) -> None:
        """Put every real function back. Safe to call twice."""
        if self._patched or self._fell_back is not None:
            self.real_seconds = _REAL["perf_counter"]() - self.real_started
        while self._patched:
            owner, attr, original = self._patched.pop()
            setattr(owner, attr, original)

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
    def _everyone_asleep(self) -> bool:
        awake = {t.ident for t in threading.enumerate() if t.is_alive() and t.ident not in self._outsiders}
        return awake <= self._asleep

    def _jump(self) -> None:
        if self._deadlines:
            self._now = max(self._now, self._deadlines[0][0])
            self._cond.notify_all()

    def __repr__(self) -> str:
        return f"<VirtualClock now={self._now:.3f}s>"


class LoopClock:
    """The running event loop's clock, for async tests under a virtual loop.

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

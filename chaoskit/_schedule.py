"""When a fault fires: a schedule kept apart from the fault itself.

Decision order (as in Polly's chaos strategies): skip the first ``after`` matching calls,
then the time ``window``, then an explicit ``sequence`` if given, else one draw against
``rate``, then the ``times`` budget. Each call draws from an RNG of its own (derived from the
seed and the call), so no call's draw moves another's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ._errors import ChaosConfigError

__all__ = ["Counts", "LocalCounts", "Schedule", "ScheduleState"]

_SEQUENCE_WORDS: dict[object, bool] = {"fail": True, "pass": False, True: True, False: False}


@dataclass(frozen=True)
class Schedule:
    """When an injected fault fires.

    ``rate``: chance per eligible call, 0..1 (defaults to 1.0). ``times``: fire at most this
    many times, then let calls through (defaults to no limit). ``after``: let the first N
    matching calls through. ``window``: ``(start, end)`` seconds since the schedule began;
    ``end`` may be ``None`` for open-ended. ``sequence``: an explicit pattern such as
    ``("fail", "fail", "pass")`` applied to matching calls in order; calls past its end pass.
    A sequence replaces ``rate``.
    """

    rate: float = 1.0
    times: int | None = None
    after: int = 0
    window: tuple[float, float | None] | None = None
    sequence: tuple[bool, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not (
            0.0 <= self.rate <= 1.0
        ) or math.isnan(self.rate):
            raise ChaosConfigError(f"rate={self.rate!r} must be a number from 0 to 1")
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 0
        ):
            raise ChaosConfigError(f"times={self.times!r} must be a whole number >= 0, or None")
        if isinstance(self.after, bool) or not isinstance(self.after, int) or self.after < 0:
            raise ChaosConfigError(f"after={self.after!r} must be a whole number >= 0")
        if self.window is not None:
            window = tuple(self.window) if isinstance(self.window, (tuple, list)) else ()
            start = window[0] if len(window) == 2 else None
            end = window[1] if len(window) == 2 else None
            ok = isinstance(start, (int, float)) and start >= 0 and (
                end is None or (isinstance(end, (int, float)) and end >= start)
            )
            if not ok:
                raise ChaosConfigError(
                    f"window={self.window!r} must be (start, end) seconds with 0 <= start <= end, "
                    "or (start, None) for no end"
                )
            object.__setattr__(self, "window", window)
        if self.sequence is not None:
            object.__setattr__(self, "sequence", _parse_sequence(self.sequence))

    def start(self) -> ScheduleState:
        """A fresh counter state for one injection of this schedule."""
        return ScheduleState(self)


def _parse_sequence(items: Iterable[object]) -> tuple[bool, ...]:
    if isinstance(items, str):
        items = [part.strip() for part in items.split(",")]
    elif not isinstance(items, Iterable) or isinstance(items, Mapping):
        raise ChaosConfigError(
            f"sequence={items!r} must be a list of 'fail' and 'pass' (or True/False), "
            "or a string such as 'fail,fail,pass'"
        )
    parsed = []
    for item in items:
        key = item.lower() if isinstance(item, str) else item
        if key not in _SEQUENCE_WORDS:
            raise ChaosConfigError(
                f"sequence item {item!r} must be 'fail' or 'pass' (or True/False)"
            )
        parsed.append(_SEQUENCE_WORDS[key])  # type: ignore[index]
    if not parsed:
        raise ChaosConfigError("sequence=() is empty; give at least one 'fail' or 'pass'")
    return tuple(parsed)


class Counts(Protocol):
    """Where an injection's counters live: in this process (:class:`LocalCounts`), or in a store
    that replicas of the chaos proxy share, so ``times=5`` means five across all of them."""

    def next_index(self) -> int:
        """Count one more matching call; return its place among them (0 for the first)."""
        ...

    def take(self, limit: int | None) -> bool:
        """Count one firing, unless ``limit`` firings were counted already (then False)."""
        ...

    def totals(self) -> tuple[int, int]:
        """(matching calls seen, firings counted)."""
        ...


class LocalCounts:
    """Counters in this process (the engine decides under its lock)."""

    __slots__ = ("seen", "fired")

    def __init__(self) -> None:
        self.seen = 0
        self.fired = 0

    def next_index(self) -> int:
        self.seen += 1
        return self.seen - 1

    def take(self, limit: int | None) -> bool:
        if limit is not None and self.fired >= limit:
            return False
        self.fired += 1
        return True

    def totals(self) -> tuple[int, int]:
        return self.seen, self.fired


class ScheduleState:
    """Counters for one live injection: matching calls seen and faults fired (see :class:`Counts`)."""

    __slots__ = ("schedule", "counts")

    def __init__(self, schedule: Schedule, counts: Counts | None = None) -> None:
        self.schedule = schedule
        self.counts: Counts = counts if counts is not None else LocalCounts()

    @property
    def seen(self) -> int:
        return self.counts.totals()[0]

    @property
    def fired(self) -> int:
        return self.counts.totals()[1]

    def decide(self, elapsed: float, rng: random.Random) -> bool:
        """Whether the fault fires for this matching call; updates the counters.

        The ``times`` budget is taken last, in one step with the count, so replicas sharing
        their counters never fire more than ``times`` between them.
        """
        s = self.schedule
        index = self.counts.next_index()
        if index < s.after:
            return False
        if s.window is not None:
            start, end = s.window
            if elapsed < start or (end is not None and elapsed >= end):
                return False
        if s.sequence is not None:
            position = index - s.after
            fire = position < len(s.sequence) and s.sequence[position]
        else:
            fire = s.rate >= 1.0 or (s.rate > 0.0 and rng.random() < s.rate)
        return fire and self.counts.take(s.times)

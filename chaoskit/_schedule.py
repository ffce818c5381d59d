"""When a fault fires: a schedule kept apart from the fault itself.

Decision order (as in Polly's chaos strategies): skip the first ``after`` matching calls,
then the time ``window``, then an explicit ``sequence`` if given, then the ``times``
budget, then one draw against ``rate``. A draw is made only when everything else allows
the fault, so the seeded RNG stream depends only on the calls that could fail.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ._errors import ChaosConfigError

__all__ = ["Schedule", "ScheduleState"]

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


class ScheduleState:
    """Counters for one live injection: matching calls seen and faults fired."""

    __slots__ = ("schedule", "seen", "fired")

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.seen = 0
        self.fired = 0

    def decide(self, elapsed: float, rng: random.Random) -> bool:
        """Whether the fault fires for this matching call; updates the counters."""
        s = self.schedule
        index = self.seen
        self.seen += 1
        if index < s.after:
            return False
        if s.window is not None:
            start, end = s.window
            if elapsed < start or (end is not None and elapsed >= end):
                return False
        if s.times is not None and self.fired >= s.times:
            return False
        if s.sequence is not None:
            position = index - s.after
            fire = position < len(s.sequence) and s.sequence[position]
        else:
            fire = s.rate >= 1.0 or (s.rate > 0.0 and rng.random() < s.rate)
        if fire:
            self.fired += 1
        return fire

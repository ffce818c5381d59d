"""Schedules: rate, times, after, window and sequence, and their validation."""

from __future__ import annotations

import random

import pytest

from chaoskit import ChaosConfigError, Schedule


def fires(schedule: Schedule, calls: int, *, elapsed: float = 0.0, seed: int = 1) -> list[bool]:
    state = schedule.start()
    rng = random.Random(seed)
    return [state.decide(elapsed, rng) for _ in range(calls)]


def test_defaults_always_fire() -> None:
    assert fires(Schedule(), 3) == [True, True, True]


def test_times_limits_the_injections() -> None:
    assert fires(Schedule(times=2), 4) == [True, True, False, False]


def test_after_lets_the_first_calls_through() -> None:
    assert fires(Schedule(after=2, times=1), 4) == [False, False, True, False]


def test_sequence_is_followed_then_calls_pass() -> None:
    assert fires(Schedule(sequence=("fail", "fail", "pass", "fail")), 6) == [True, True, False, True, False, False]
    assert Schedule(sequence="fail, pass").sequence == (True, False)


def test_window_in_seconds_since_start() -> None:
    schedule = Schedule(window=(1.0, 2.0))
    assert fires(schedule, 1, elapsed=0.5) == [False]
    assert fires(schedule, 1, elapsed=1.5) == [True]
    assert fires(schedule, 1, elapsed=2.0) == [False]
    assert fires(Schedule(window=(1.0, None)), 1, elapsed=99.0) == [True]


def test_rate_is_seeded_and_roughly_right() -> None:
    a = fires(Schedule(rate=0.5), 1000, seed=7)
    b = fires(Schedule(rate=0.5), 1000, seed=7)
    assert a == b
    assert 400 < sum(a) < 600
    assert fires(Schedule(rate=0.0), 50) == [False] * 50


WINDOW = "must be (start, end) seconds with 0 <= start <= end, or (start, None) for no end"
SEQUENCE = "must be a list of 'fail' and 'pass' (or True/False), or a string such as 'fail,fail,pass'"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 1.5}, "rate=1.5 must be a number from 0 to 1"),
        ({"rate": -0.1}, "rate=-0.1 must be a number from 0 to 1"),
        ({"rate": "high"}, "rate='high' must be a number from 0 to 1"),
        ({"times": -1}, "times=-1 must be a whole number >= 0, or None"),
        ({"times": 1.5}, "times=1.5 must be a whole number >= 0, or None"),
        ({"after": -2}, "after=-2 must be a whole number >= 0"),
        ({"window": (3, 1)}, f"window=(3, 1) {WINDOW}"),
        ({"window": 5}, f"window=5 {WINDOW}"),
        ({"window": (1, 2, 3)}, f"window=(1, 2, 3) {WINDOW}"),
        ({"sequence": ("fail", "maybe")}, "sequence item 'maybe' must be 'fail' or 'pass' (or True/False)"),
        ({"sequence": 5}, f"sequence=5 {SEQUENCE}"),
        ({"sequence": {"fail": 1}}, f"sequence={{'fail': 1}} {SEQUENCE}"),
    ],
)
def test_bad_arguments_have_exact_messages(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ChaosConfigError) as info:
        Schedule(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message

"""Durations, status ranges, JSON paths, comparisons; probe windows and stop conditions over time."""

from __future__ import annotations

import datetime as dt

import pytest

from chaoskit.scenario import (
    MISSING,
    Blackout,
    Comparison,
    LatencyBound,
    ProbeResult,
    ProbeWindow,
    Safety,
    StatusRanges,
    StopCondition,
    WindowCheck,
    parse_duration,
    read_path,
)
from chaoskit.scenario._values import json_path


@pytest.mark.parametrize(("value", "seconds"), [
    (3, 3.0), (2.5, 2.5), ("250ms", 0.25), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("1.5m", 90.0), ("10", 10.0),
])
def test_durations(value: float | str, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["5 min", "-1s", "1d", "", True, -1])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)  # type: ignore[arg-type]


def test_status_ranges() -> None:
    ranges = StatusRanges.parse("200-399;429")
    assert (200 in ranges, 399 in ranges, 429 in ranges, 400 in ranges, 503 in ranges) == (True, True, True, False, False)
    assert str(ranges) == "200-399;429" and str(StatusRanges.parse(204)) == "204"
    with pytest.raises(ValueError, match=r"^'399-200' is an empty range: write the lower status first$"):
        StatusRanges.parse("399-200")


def test_json_paths() -> None:
    document = {"a": {"b": [10, {"c": "x"}]}, "odd key": 1, "n": None}
    assert json_path("$.a.b[1]['c']") == ("a", "b", 1, "c")
    assert read_path(document, "$.a.b[1].c") == "x"
    assert read_path(document, "a.b[-1].c") == "x"  # the $ may be left out
    assert read_path(document, "$['odd key']") == 1
    assert read_path(document, "$.n") is None
    assert read_path(document, "$") == document
    assert read_path(document, "$.a.b[5]") is MISSING and read_path(document, "$.a.z") is MISSING
    assert read_path([1], "$.a") is MISSING
    with pytest.raises(ValueError, match=r"^'\$\.a\[x\]' is not a JSON path: cannot read '\[x\]' \(write \$\.key, \[0\] or \['odd key'\]\)$"):
        json_path("$.a[x]")


@pytest.mark.parametrize(("checks", "observed", "failure"), [
    ({"equals": "ok"}, "ok", None),
    ({"equals": "ok"}, "degraded", "is 'degraded', expected 'ok'"),
    ({"equals": 200}, "200", None),  # a header against a number written in YAML
    ({"equals": True}, 1, "is 1, expected True"),
    ({"not_equals": "down"}, "down", "is 'down', expected anything else"),
    ({"one_of": ["openai", "anthropic"]}, "anthropic", None),
    ({"one_of": ["openai", "anthropic"]}, "human", "is 'human', expected one of ['openai', 'anthropic']"),
    ({"contains": "ship"}, "It has shipped.", None),
    ({"contains": "a"}, ["a", "b"], None),
    ({"contains": "ship"}, "pending", "is 'pending', which does not contain 'ship'"),
    ({"matches": "^A[0-9]+$"}, "A100", None),
    ({"matches": "^A[0-9]+$"}, "B1", "is 'B1', which does not match '^A[0-9]+$'"),
    ({"lt": 5}, 7.0, "is 7.0, expected < 5"),
    ({"ge": 1, "le": 2}, "1.5", None),
    ({"gt": 0}, "n/a", "is 'n/a', not a number (expected > 0)"),
    ({"exists": False}, MISSING, None),
    ({"exists": True}, MISSING, "is missing, expected it to be there"),
    ({"exists": False}, 0, "is 0, expected it to be absent"),
    ({"equals": 1}, MISSING, "is missing"),
])
def test_comparisons(checks: dict[str, object], observed: object, failure: str | None) -> None:
    assert Comparison.from_mapping(checks).failure(observed) == failure  # type: ignore[arg-type]


def result(ok: bool, finished: float, duration: float = 0.1, detail: str = "") -> ProbeResult:
    return ProbeResult("health", ok, detail or ("status 200" if ok else "status 503 not in 200-399"), duration, finished - duration)


def test_window_ratio_percentile_and_span() -> None:
    window = ProbeWindow(span=10)
    for t, ok, d in [(1, True, 0.1), (5, False, 2.0), (9, True, 0.3), (12, True, 0.2)]:
        window.add(result(ok, t, d))
    assert [r.finished for r in window.results(12)] == [5, 9, 12]  # (2, 12]: the result at 1 is out
    assert window.success_ratio(12) == pytest.approx(2 / 3)
    assert window.success_ratio(12, span=100) == 0.75
    assert window.latency_percentile(50, 12) == 0.3 and window.latency_percentile(95, 12) == 2.0
    assert window.latency_percentile(95, 100) is None and window.success_ratio(100) is None
    assert window.latest(8).finished == 5  # type: ignore[union-attr]


def test_window_check_messages() -> None:
    window = ProbeWindow(span=30)
    for t in range(1, 11):
        window.add(result(t % 5 != 0, t, duration=2.5 if t > 8 else 0.1))
    spec = WindowCheck(span=30, success_ratio=0.95, latency_percentile=LatencyBound(95, 2.0))
    assert window.check(spec, 10) == (
        "success ratio 0.80 < 0.95 over the last 30 s (8 of 10 passed); p95 latency 2.500 s >= 2 s over the last 30 s")
    assert window.check(WindowCheck(span=30, success_ratio=0.8), 10) is None
    assert window.check(spec, 100) == "no result over the last 30 s"


def test_window_forgets_results_past_keep() -> None:
    window = ProbeWindow(span=10, keep=20)
    for t in range(0, 100, 5):
        window.add(result(True, t))
    assert [r.finished for r in window.results(95, span=1000)] == [75, 80, 85, 90, 95]


def test_stop_condition_on_a_failing_probe() -> None:
    window = ProbeWindow()
    stop = StopCondition("health")
    window.add(result(True, 1))
    assert stop.breached(window, 1) is None
    window.add(result(False, 2))
    assert stop.breached(window, 2) == "stop condition on probe 'health': the probe failed: status 503 not in 200-399"


def test_stop_condition_held_for() -> None:
    window = ProbeWindow()
    stop = StopCondition("health", held_for=20)
    window.add(result(True, 0))
    for t in range(5, 30, 5):
        window.add(result(False, t))
    assert stop.breached(window, 20) is None  # failing since 5: 15 s
    assert stop.breached(window, 25) == (
        "stop condition on probe 'health': the probe failed: status 503 not in 200-399, held for 20 s")
    window.add(result(True, 30))
    assert stop.breached(window, 30) is None


def test_a_short_history_cannot_hold_long() -> None:
    window = ProbeWindow()
    window.add(result(False, 100))
    assert StopCondition("health", held_for=20).breached(window, 110) is None
    assert StopCondition("health", held_for=10).breached(window, 110) is not None


def test_stop_condition_thresholds() -> None:
    window = ProbeWindow()
    for t in range(1, 41):
        window.add(result(t % 2 == 0 or t < 10, t, duration=3.0 if t > 30 else 0.1))
    ratio = StopCondition("health", success_ratio_below=0.8, span=10, held_for=5)
    assert ratio.breached(window, 40) == (
        "stop condition on probe 'health': success ratio 0.50 < 0.8 over the last 10 s, held for 25 s")  # below 0.8 since 15
    latency = StopCondition("health", latency_above=2.0, percentile=90, span=10)
    assert latency.breached(window, 40) == (
        "stop condition on probe 'health': p90 latency 3.000 s > 2 s over the last 10 s")
    assert latency.breached(window, 30) is None


def test_blackouts_in_utc_across_midnight() -> None:
    night = Blackout(days=(4,), start=dt.time(22), end=dt.time(6))  # Friday 22:00 to Saturday 06:00
    friday = dt.datetime(2026, 12, 4)
    assert friday.weekday() == 4
    assert night.covers(friday.replace(hour=23))
    assert night.covers(friday.replace(hour=5) + dt.timedelta(days=1))  # Saturday 05:00
    assert not night.covers(friday.replace(hour=5))  # Friday 05:00 belongs to Thursday night
    assert not night.covers(friday.replace(hour=21))
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert night.covers(dt.datetime(2026, 12, 4, 23, 30, tzinfo=berlin))  # 22:30 UTC
    day = Blackout(days=tuple(range(7)), start=dt.time(8), end=dt.time(18))
    assert str(day) == "every day 08:00-18:00 UTC" and str(night) == "fri 22:00-06:00 UTC"
    safety = Safety(blackout=(night, day))
    assert safety.blackout_at(friday.replace(hour=9)) is day and safety.blackout_at(friday.replace(hour=20)) is None


def test_kill_switch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    switch = tmp_path / "stop"
    safety = Safety(kill_switch=switch)
    assert not safety.kill_switch_engaged() and not Safety().kill_switch_engaged()
    switch.touch()
    assert safety.kill_switch_engaged()

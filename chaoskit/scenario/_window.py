"""A probe's results over time: success ratio and latency percentiles over the last N seconds.

Times are monotonic seconds. A result counts at the time it finished (``started + duration``);
the window over ``span`` at ``now`` holds the results that finished in ``(now - span, now]``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ._values import format_seconds

if TYPE_CHECKING:
    from ._model import WindowCheck
    from ._probes import ProbeResult

__all__ = ["ProbeWindow", "nearest_rank"]


class ProbeWindow:
    """The results of one repeated probe, for windowed checks and stop conditions.

    ``span``: the default window, in seconds. ``keep``: how long results are kept (long enough
    for the longest span plus the longest ``held_for`` asked of this window). Defaults to 10 minutes.
    """

    def __init__(self, span: float = 30.0, *, keep: float = 600.0) -> None:
        self.span = span
        self.keep = max(keep, span)
        self._results: deque[ProbeResult] = deque()

    def add(self, result: ProbeResult) -> None:
        """Record a result (results are expected in the order they finish)."""
        self._results.append(result)
        horizon = result.finished - self.keep
        while self._results and self._results[0].finished < horizon:
            self._results.popleft()

    def results(self, now: float, span: float | None = None) -> list[ProbeResult]:
        """The results that finished in the last ``span`` seconds (default: the window's span) up to ``now``."""
        start = now - (self.span if span is None else span)
        return [r for r in self._results if start < r.finished <= now]

    def latest(self, now: float) -> ProbeResult | None:
        """The last result finished by ``now``."""
        return next((r for r in reversed(self._results) if r.finished <= now), None)

    def success_ratio(self, now: float, span: float | None = None) -> float | None:
        """The share of the window's results that passed, or None when it has none."""
        results = self.results(now, span)
        return sum(r.ok for r in results) / len(results) if results else None

    def latency_percentile(self, percentile: float, now: float, span: float | None = None) -> float | None:
        """The ``percentile`` (nearest rank) of the window's durations, failed results included, or None."""
        return nearest_rank([r.duration for r in self.results(now, span)], percentile)

    def check(self, spec: WindowCheck, now: float) -> str | None:
        """Why the window fails ``spec`` (a probe's ``window``), or None when it holds; no results fail it."""
        results = self.results(now, spec.span)
        over = f"over the last {format_seconds(spec.span)}"
        if not results:
            return f"no result {over}"
        reasons = []
        if spec.success_ratio is not None:
            passed = sum(r.ok for r in results)
            if passed / len(results) < spec.success_ratio:
                reasons.append(f"success ratio {passed / len(results):.2f} < {spec.success_ratio:g} {over} "
                               f"({passed} of {len(results)} passed)")
        if spec.latency_percentile is not None:
            bound = spec.latency_percentile
            latency = self.latency_percentile(bound.percentile, now, spec.span)
            if latency is not None and latency >= bound.below:
                reasons.append(f"p{bound.percentile:g} latency {latency:.3f} s >= {format_seconds(bound.below)} {over}")
        return "; ".join(reasons) or None

    def held_since(self, condition: Callable[[ProbeWindow, float], str | None], now: float) -> float | None:
        """Since when ``condition`` (a reason, or None) has held without a break up to ``now``, or None if it
        does not hold now. It is evaluated at ``now`` and at each earlier result's end within ``keep``;
        the earliest of those in the unbroken run is returned, so a short history cannot make a long hold."""
        if condition(self, now) is None:
            return None
        since = now
        for result in reversed(self._results):
            if result.finished > now:
                continue
            if condition(self, result.finished) is None:
                break
            since = result.finished
        return since


def nearest_rank(values: Sequence[float], percentile: float) -> float | None:
    """The ``percentile`` of ``values`` by nearest rank (a value that occurred, never an interpolation), or None."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percentile / 100 * len(ordered))) - 1] if ordered else None

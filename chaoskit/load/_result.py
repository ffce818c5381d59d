"""What a load run measured: :class:`LoadResult`, read from the files Locust writes.

Totals and per-endpoint rows come from Locust's final JSON (``--json-file``, written after every
user stopped, workers' last reports included); the time series from its stats history CSV (one
row a second); the failure reasons from the file chaoskit's locustfile writes when Locust quits.
Percentiles are computed as Locust computes them, over its response-time histogram (times
above 100 ms rounded to two significant digits); ``max_ms`` is exact.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["EndpointStats", "FailureCount", "LoadPoint", "LoadResult"]


@dataclass(frozen=True)
class _Totals:
    """Requests, failures, throughput and latencies: of one endpoint, or of the whole run."""

    requests: int
    failures: int
    failure_ratio: float
    rps: float
    avg_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class EndpointStats(_Totals):
    """Requests to one endpoint (Locust's request name, the path template) and their latencies."""

    method: str
    name: str


@dataclass(frozen=True)
class FailureCount:
    """How often one endpoint failed for one reason (``HTTP 500``, ``body is not JSON``, ...)."""

    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class LoadPoint:
    """One second of the run, for a chart: ``t`` seconds since the first users started.

    ``requests`` and ``failures`` are running totals; ``rps``, ``failures_per_s`` and the
    percentiles are Locust's current values (a window of about the last 10 seconds).
    """

    t: float
    users: int
    requests: int
    failures: int
    rps: float
    failures_per_s: float
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class LoadResult(_Totals):
    """Totals, latencies, per-endpoint rows, failure reasons and the time series of one load run.

    ``stopped_early``: ``stop()`` ended the run before its duration.
    """

    endpoints: tuple[EndpointStats, ...]
    errors: tuple[FailureCount, ...]
    series: tuple[LoadPoint, ...]
    workers: int
    stopped_early: bool

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data, for a report."""
        return asdict(self)


def percentile(histogram: Mapping[int, int], count: int, fraction: float) -> int:
    """The response time that ``fraction`` of ``count`` requests took at most, as Locust computes it."""
    wanted = int(count * fraction)
    seen = 0
    for time_ms in sorted(histogram, reverse=True):
        seen += histogram[time_ms]
        if count - seen <= wanted:
            return time_ms
    return 0


def _summary(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Requests, failures and latencies over Locust's serialized stats entries, merged."""
    histogram: Counter[int] = Counter()
    requests = failures = total_ms = 0
    max_ms = 0.0
    starts, lasts = [], []
    for entry in entries:
        histogram.update({int(k): v for k, v in entry["response_times"].items()})
        requests += entry["num_requests"]
        failures += entry["num_failures"]
        total_ms += entry["total_response_time"]
        max_ms = max(max_ms, entry["max_response_time"])
        starts.append(entry["start_time"])
        if entry["last_request_timestamp"]:
            lasts.append(entry["last_request_timestamp"])
    span = max(lasts) - min(starts) if lasts and starts else 0.0
    return {
        "requests": requests,
        "failures": failures,
        "failure_ratio": failures / requests if requests else 0.0,
        "rps": requests / span if span > 0 else 0.0,
        "avg_ms": total_ms / requests if requests else 0.0,
        "p50_ms": float(percentile(histogram, requests, 0.50)),
        "p95_ms": float(percentile(histogram, requests, 0.95)),
        "p99_ms": float(percentile(histogram, requests, 0.99)),
        "max_ms": float(max_ms),
    }


def read_series(path: Path) -> tuple[LoadPoint, ...]:
    """The aggregated rows of Locust's stats history CSV, from the first row with users or requests."""
    if not path.exists():
        return ()
    with path.open(newline="", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    rows = list(_drop_idle_start(rows))
    if not rows:
        return ()
    start = int(rows[0]["Timestamp"])

    def latency(value: str) -> float | None:
        return None if value in ("N/A", "") else float(value)

    return tuple(
        LoadPoint(
            t=float(int(row["Timestamp"]) - start), users=int(row["User Count"]),
            requests=int(row["Total Request Count"]), failures=int(row["Total Failure Count"]),
            rps=float(row["Requests/s"]), failures_per_s=float(row["Failures/s"]),
            p50_ms=latency(row["50%"]), p95_ms=latency(row["95%"]),
        )
        for row in rows
    )


def _drop_idle_start(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    for i, row in enumerate(rows):
        if int(row["User Count"]) or int(row["Total Request Count"]):
            return rows[i:]
    return []


def read_result(json_file: Path, history_csv: Path, errors_file: Path, *, workers: int,
                stopped_early: bool) -> LoadResult:
    """The result of a finished run from Locust's files (see the module docstring)."""
    entries = json.loads(json_file.read_text(encoding="utf-8"))
    endpoints = tuple(
        EndpointStats(method=entry["method"] or "", name=entry["name"], **_summary([entry]))
        for entry in sorted(entries, key=lambda e: (e["name"], e["method"] or ""))
    )
    errors_data = json.loads(errors_file.read_text(encoding="utf-8")) if errors_file.exists() else []
    errors = tuple(sorted(
        (FailureCount(method=e["method"] or "", name=e["name"], error=e["error"], occurrences=e["occurrences"])
         for e in errors_data),
        key=lambda f: (-f.occurrences, f.name, f.error),
    ))
    return LoadResult(**_summary(entries), endpoints=endpoints, errors=errors, series=read_series(history_csv),
                      workers=workers, stopped_early=stopped_early)

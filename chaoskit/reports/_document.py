"""The ``chaoskit.report/1`` results document (docs/report-schema.md), built in one place.

Every front end (the pytest plugin, ``chaoskit run``) builds it with these functions, so they
all write the same report: :func:`session_record` when one test or run's session ends (plain
data, so it can cross processes), :func:`finished` once its outcome is known, and
:func:`report_document` around all of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._journal import Call
    from .._session import Chaos

__all__ = ["SCHEMA", "finished", "fired", "report_document", "session_record", "software_in", "software_used", "tokens_line", "usage_totals"]

SCHEMA = "chaoskit.report/1"
_COUNTS = ("input_tokens", "output_tokens", "cached_tokens")


def session_record(session: Chaos, *, nodeid: str, sweep: str | None = None, verdicts: Sequence[Any] = ()) -> dict[str, Any]:
    """What the document says of one test's session: its faults, what fired, the verdicts and the journal.

    ``sweep``: the fault id of a ``chaos_sweep`` case; ``verdicts``: :func:`chaoskit._verdicts.judge`'s.
    """
    return {
        "nodeid": nodeid,
        "seed": session.seed,
        "sweep": sweep,
        "faults": sorted({i.fault.id for i in session.injections} | {f.id for s in session.scripts for f in s.steps if f}),
        "fired": fired(session.calls),
        "verdicts": [v.to_dict() for v in verdicts],
        "calls": session.calls.to_list(),
        "clock": _clock(session),
        "software": software_used(session.calls),
    }


def finished(record: Mapping[str, Any], *, outcome: str, longrepr: str | None, duration: float) -> dict[str, Any]:
    """A test's record with how it ended: ``outcome``, the short failure text (its key-shaped
    values and secret URL parameters hidden: an SDK's error names the URL), real seconds it took."""
    from .._redact import redact_text

    shown = redact_text(longrepr) if longrepr else longrepr
    return {**record, "outcome": outcome, "longrepr": shown, "duration": round(duration, 6)}


def report_document(tests: Iterable[Mapping[str, Any]], *, seed: int, chaos_off: bool, started: float,
                    ended: float | None = None) -> dict[str, Any]:
    """The run's document: ``tests`` (each :func:`finished`), the session ``seed``, whether faults
    were off, and the run's start and end (``time.time()`` seconds; ``ended`` defaults to now)."""
    ended = time.time() if ended is None else ended
    tests = [dict(t) for t in tests]
    return {
        "schema": SCHEMA,
        "seed": seed,
        "chaos_off": chaos_off,
        "created": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "duration": round(ended - started, 3),
        "software": software_in(tests),
        "tests": tests,
    }


def fired(calls: Iterable[Call]) -> dict[str, int]:
    """Fault id -> how many of ``calls`` it hit."""
    counts: dict[str, int] = {}
    for c in calls:
        if c.fault is not None:
            counts[c.fault] = counts.get(c.fault, 0) + 1
    return counts


def usage_totals(calls: Iterable[Mapping[str, Any]]) -> dict[str, int] | None:
    """The tokens a test's calls (as in the document) reported, summed per count; None when none reported usage."""
    totals = dict.fromkeys(_COUNTS, 0)
    seen = False
    for call in calls:
        usage = call.get("usage")
        if isinstance(usage, Mapping):
            seen = True
            for key in _COUNTS:
                totals[key] += int(usage.get(key) or 0)
    return totals if seen else None


def tokens_line(totals: Mapping[str, int]) -> str:
    """Usage totals in a few words: ``1,204 tokens in (300 cached), 88 out``."""
    cached = f" ({totals['cached_tokens']:,} cached)" if totals["cached_tokens"] else ""
    return f"{totals['input_tokens']:,} tokens in{cached}, {totals['output_tokens']:,} out"


def software_used(calls: Iterable[Call]) -> dict[str, str]:
    """The SDKs that made a test's model calls and the frameworks loaded when it ran (none without model calls)."""
    from .._software import frameworks_loaded, software_of

    model = [c for c in calls if c.provider is not None and c.provider not in ("http", "tool", "mcp")]
    if not model:
        return {}
    return {**software_of(c.request_headers for c in model), **frameworks_loaded()}


def software_in(tests: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Every SDK and framework the tests name (``software``), by name (one process: one version of each)."""
    found: dict[str, str] = {}
    for test in tests:
        found.update(test.get("software") or {})
    return dict(sorted(found.items()))


def _clock(session: Chaos) -> dict[str, Any]:
    """Both clocks of a test: seconds on the session's clock, and real seconds when it was virtual."""
    clock: dict[str, Any] = {"virtual": session.virtual, "elapsed": round(session.elapsed, 6)}
    if session.virtual:
        clock["real"] = round(float(getattr(session.clock, "real_seconds", 0.0)), 6)
    return clock

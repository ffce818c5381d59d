"""The compact chaoskit summary printed at the end of a pytest run.

One row per fault and one line per verdict, at most :data:`WIDTH` columns. Colour helps
(green passes, red failures, yellow not exercised and verdicts) but every number also sits
under a header, so the table reads the same without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .._software import software_line
from ._document import software_in, tokens_line, usage_totals
from ._summary import Document, summarize, tests_of

__all__ = ["WIDTH", "shorten", "write_summary"]

#: The widest line the summary writes.
WIDTH = 100

# (header, key in the per-fault counts, markup when the count is not zero)
_COLUMNS: tuple[tuple[str, str, dict[str, bool]], ...] = (
    ("tests", "tests", {}),
    ("passed", "passed", {"green": True}),
    ("failed", "failed", {"red": True, "bold": True}),
    ("not exercised", "not_exercised", {"yellow": True}),
    ("skipped", "skipped", {}),
    ("injections", "injections", {}),
)
_GAP = "  "
_OUTCOME_MARKUP: dict[str, dict[str, bool]] = {
    "passed": {"green": True},
    "failed": {"red": True, "bold": True},
    "not_exercised": {"yellow": True},
}
_NUMBERS_WIDTH = sum(len(_GAP) + len(header) for header, _, _ in _COLUMNS)


class TerminalWriter(Protocol):
    """The part of pytest's ``TerminalWriter`` the summary uses."""

    @property
    def fullwidth(self) -> int: ...

    def line(self, s: str = "", **markup: bool) -> None: ...

    def write(self, msg: str, *, flush: bool = False, **markup: bool) -> None: ...

    def sep(self, sepchar: str, title: str | None = None, fullwidth: int | None = None, **markup: bool) -> None: ...


def shorten(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters, so both its ends stay readable."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    head = (width - 3 + 1) // 2
    return text[:head] + "..." + text[len(text) - (width - 3 - head):]


def write_summary(document: Document, tw: TerminalWriter) -> None:
    """Write the chaoskit summary of a ``chaoskit.report/1`` document to pytest's terminal."""
    tests = tests_of(document)
    if not tests:
        tw.line("chaoskit: no chaos tests ran")
        return
    summary = summarize(document)
    tw.sep("=", _title(document), fullwidth=min(tw.fullwidth, WIDTH))
    _write_totals(tw, summary, len(tests))
    if document.get("chaos_off"):
        tw.line("chaos off: no faults were injected; provider calls got healthy replies", yellow=True)
    _write_fault_table(tw, summary["faults"])
    _write_verdicts(tw, summary["verdicts"], tests)
    _write_clocks(tw, tests)
    software = software_in(tests)
    if software:
        tw.line(f"SDKs and frameworks that made calls: {software_line(software)}")
    totals = usage_totals(call for t in tests for call in t.get("calls") or ())
    if totals is not None:
        tw.line(f"usage the responses reported: {tokens_line(totals)}")
    if summary["outcomes"].get("failed") and document.get("seed") is not None:
        tw.line(f"rerun with the same faults: pytest --chaos-seed {document['seed']}")


def _write_clocks(tw: TerminalWriter, tests: list[Mapping[str, Any]]) -> None:
    """One line on virtual time: how much was waited, in how much real time."""
    virtual = [t["clock"] for t in tests if isinstance(t.get("clock"), Mapping) and t["clock"].get("virtual")]
    if virtual:
        waited = sum(float(c.get("elapsed", 0.0)) for c in virtual)
        real = sum(float(c.get("real", 0.0)) for c in virtual)
        tw.line(
            f"virtual time: {len(virtual)} test{'s' if len(virtual) != 1 else ''} covered {waited:,.1f} s "
            f"of virtual time in {real:,.2f} s of real time"
        )


def _title(document: Document) -> str:
    seed = document.get("seed")
    return "chaoskit" if seed is None else f"chaoskit: seed {seed}"


def _write_totals(tw: TerminalWriter, summary: Mapping[str, Any], count: int) -> None:
    outcomes = summary["outcomes"]
    tw.write(f"{count} chaos test{'s' if count != 1 else ''}: ")
    parts = [(f"{n} {name.replace('_', ' ')}", name) for name, n in outcomes.items() if n]
    for i, (text, name) in enumerate(parts):
        tw.write(", " if i else "")
        tw.write(text, **_OUTCOME_MARKUP.get(name, {}))
    total = sum(counts["injections"] for counts in summary["faults"].values())
    tw.line(f"; {total} injection{'s' if total != 1 else ''}")


def _write_fault_table(tw: TerminalWriter, faults: Mapping[str, Mapping[str, int]]) -> None:
    if not faults:
        tw.line("no faults injected")
        return
    name_width = max(len("fault"), min(max(map(len, faults)), WIDTH - _NUMBERS_WIDTH))
    header = "fault".ljust(name_width) + "".join(_GAP + header for header, _, _ in _COLUMNS)
    tw.line(header, bold=True)
    for fault, counts in faults.items():
        tw.write(shorten(fault, name_width).ljust(name_width))
        for header, key, markup in _COLUMNS:
            value = str(counts.get(key, 0))
            tw.write(_GAP + " " * (len(header) - len(value)))
            tw.write(value, **(markup if value != "0" else {}))
        tw.line()


def _write_verdicts(tw: TerminalWriter, verdicts: Mapping[str, int], tests: list[Mapping[str, Any]]) -> None:
    if not verdicts:
        tw.line("verdicts: none")
        return
    tw.line("verdicts", bold=True)
    count_width = len(str(max(verdicts.values())))
    name_width = min(max(map(len, verdicts)), 40)
    for name, count in verdicts.items():
        prefix = f"  {str(count).rjust(count_width)}  "
        tw.write(prefix)
        tw.write(shorten(name, name_width).ljust(name_width), yellow=True)
        first, more = _where(name, tests)
        suffix = f" (+{more} more)" if more else ""
        room = WIDTH - len(prefix) - name_width - len(_GAP) - len(suffix)
        tw.line(_GAP + shorten(first, room) + suffix if first and room > 10 else "")


def _where(verdict: str, tests: list[Mapping[str, Any]]) -> tuple[str, int]:
    """The first test with the verdict, and how many more tests have it."""
    nodeids = [
        str(t.get("nodeid", "?")) for t in tests if any(v.get("name") == verdict for v in t.get("verdicts") or [])
    ]
    return (nodeids[0], len(nodeids) - 1) if nodeids else ("", 0)

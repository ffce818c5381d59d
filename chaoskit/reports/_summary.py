"""Counts and the resilience matrix of a ``chaoskit.report/1`` results document.

Pure functions over the plain JSON-ready document the pytest plugin builds, shared by the
terminal summary and the HTML page so both count the same way. Missing optional fields are
tolerated: a document written by an older /1 writer still renders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Cell", "Document", "MatrixRow", "cell_status", "faults_of", "matrix", "summarize"]

#: A ``chaoskit.report/1`` results document (see docs/report-schema.md).
Document = Mapping[str, Any]

#: The test outcomes of the schema, in display order.
OUTCOMES = ("passed", "failed", "not_exercised", "skipped")

#: Matrix cell status -> the per-fault counter it adds to in :func:`summarize`.
STATUS_COUNTER = {"pass": "passed", "fail": "failed", "not_exercised": "not_exercised", "skip": "skipped"}

# When sweep cases merge into one row, the worst status of the cases wins.
_SEVERITY = {"fail": 4, "not_exercised": 3, "pass": 2, "skip": 1, "-": 0}


@dataclass(frozen=True)
class Cell:
    """One matrix cell: a test function's status under one fault, and the cases behind it.

    ``status`` is ``"pass"``, ``"fail"``, ``"not_exercised"``, ``"skip"`` or ``"-"`` (the
    fault was not injected into this test). ``injections`` is how many calls the fault hit.
    """

    status: str
    injections: int = 0
    nodeids: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatrixRow:
    """One matrix row: a test (a whole test function for sweeps), one cell per fault column."""

    test: str
    cells: tuple[Cell, ...]
    sweep: bool = False

    @property
    def statuses(self) -> tuple[str, ...]:
        """The cells' statuses, aligned with the fault columns."""
        return tuple(cell.status for cell in self.cells)


def tests_of(document: Document) -> list[Mapping[str, Any]]:
    """The document's test records, in document order."""
    return list(document.get("tests") or [])


def faults_of(test: Mapping[str, Any]) -> list[str]:
    """The faults a test ran with: configured, swept and fired, each once, in that order."""
    found = [*(test.get("faults") or []), test.get("sweep"), *(test.get("fired") or {})]
    return list(dict.fromkeys(f for f in found if f))


def cell_status(test: Mapping[str, Any], fault: str) -> str:
    """The status of ``fault`` in ``test``: pass, fail, not_exercised, skip or ``-``.

    A passing test whose journal shows the fault never hit a call proves nothing about that
    fault, so its cell is ``not_exercised``; a failed test fails every fault it ran with.
    """
    if fault not in faults_of(test):
        return "-"
    outcome = test.get("outcome")
    if outcome == "failed":
        return "fail"
    if outcome == "skipped":
        return "skip"
    fired = test.get("fired")
    if isinstance(fired, Mapping):
        return "pass" if fired.get(fault) else "not_exercised"
    return "not_exercised" if outcome == "not_exercised" else "pass"


def injections(test: Mapping[str, Any], fault: str) -> int:
    """How many calls of ``test`` the fault hit (0 when the document does not say)."""
    return int((test.get("fired") or {}).get(fault) or 0)


def summarize(document: Document) -> dict[str, Any]:
    """Per-fault, per-verdict and per-outcome counts for the summary table and page header.

    ``faults`` is sorted by id and counts test cases by their :func:`cell_status`;
    ``verdicts`` is most frequent first; ``outcomes`` always has the four schema outcomes.
    """
    tests = tests_of(document)
    return {
        "faults": {fault: _fault_counts(tests, fault) for fault in fault_ids(tests)},
        "verdicts": _verdict_counts(tests),
        "outcomes": _outcome_counts(tests),
    }


def fault_ids(tests: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every fault any test ran with, sorted (so a provider's faults sit together)."""
    return sorted({fault for test in tests for fault in faults_of(test)})


def _fault_counts(tests: list[Mapping[str, Any]], fault: str) -> dict[str, int]:
    counts = {"tests": 0, "passed": 0, "failed": 0, "not_exercised": 0, "skipped": 0, "injections": 0}
    for test in tests:
        status = cell_status(test, fault)
        if status == "-":
            continue
        counts["tests"] += 1
        counts[STATUS_COUNTER[status]] += 1
        counts["injections"] += injections(test, fault)
    return counts


def _verdict_counts(tests: list[Mapping[str, Any]]) -> dict[str, int]:
    counter = Counter(v.get("name", "?") for test in tests for v in test.get("verdicts") or [])
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _outcome_counts(tests: list[Mapping[str, Any]]) -> dict[str, int]:
    counter = Counter(str(test.get("outcome")) for test in tests)
    return {**{outcome: counter.pop(outcome, 0) for outcome in OUTCOMES}, **dict(sorted(counter.items()))}


def function_id(nodeid: str) -> str:
    """A node id without its ``[param]`` part: the id of the test function."""
    head, sep, name = nodeid.rpartition("::")
    return head + sep + name.split("[", 1)[0]


def row_key(test: Mapping[str, Any]) -> str:
    """The matrix row of a test: its function for sweep cases, else its own node id."""
    nodeid = str(test.get("nodeid", "?"))
    return function_id(nodeid) if test.get("sweep") else nodeid


def matrix(document: Document) -> tuple[list[str], list[MatrixRow]]:
    """The resilience matrix: fault columns and one row per test, in document order.

    Sweep cases of one test function share a row, one column per swept fault; when cases
    of a row disagree on a fault, the worst status wins (fail, not exercised, pass, skip).
    """
    tests = tests_of(document)
    faults = fault_ids(tests)
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for test in tests:
        groups.setdefault(row_key(test), []).append(test)
    rows = [
        MatrixRow(key, tuple(_merged_cell(cases, f) for f in faults), any(c.get("sweep") for c in cases))
        for key, cases in groups.items()
    ]
    return faults, rows


def _merged_cell(cases: list[Mapping[str, Any]], fault: str) -> Cell:
    hit = [case for case in cases if cell_status(case, fault) != "-"]
    if not hit:
        return Cell("-")
    status = max((cell_status(case, fault) for case in hit), key=_SEVERITY.__getitem__)
    return Cell(
        status,
        sum(injections(case, fault) for case in hit),
        tuple(str(case.get("nodeid", "?")) for case in hit),
    )

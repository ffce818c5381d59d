"""Counts and the resilience matrix of a results document."""

from __future__ import annotations

import json
from pathlib import Path

from _report_doc import EVIL, SWEPT, make_document, record

from chaoskit import reports
from chaoskit.reports import Cell, cell_status, matrix, summarize


def test_public_names_are_sorted_and_exist() -> None:
    assert reports.__all__ == sorted(reports.__all__)
    for name in reports.__all__:
        assert hasattr(reports, name), name


def test_summarize_counts_per_fault() -> None:
    faults = summarize(make_document())["faults"]
    assert list(faults) == sorted(faults)
    assert faults["openai.rate_limit"] == {
        "tests": 1, "passed": 0, "failed": 1, "not_exercised": 0, "skipped": 0, "injections": 3,
    }
    assert faults["openai.stream_cut"] == {
        "tests": 2, "passed": 0, "failed": 1, "not_exercised": 1, "skipped": 0, "injections": 1,
    }
    assert faults["openai.server_error"] == {
        "tests": 2, "passed": 1, "failed": 0, "not_exercised": 0, "skipped": 1, "injections": 2,
    }


def test_summarize_counts_verdicts_and_outcomes() -> None:
    summary = summarize(make_document())
    assert summary["verdicts"] == {"retry_after_ignored": 1}
    assert summary["outcomes"] == {"passed": 2, "failed": 2, "not_exercised": 1, "skipped": 1}


def test_summarize_an_empty_document() -> None:
    assert summarize({"schema": "chaoskit.report/1", "tests": []}) == {
        "faults": {}, "verdicts": {}, "outcomes": {"passed": 0, "failed": 0, "not_exercised": 0, "skipped": 0},
    }


def test_verdicts_most_frequent_first() -> None:
    tests = [record(f"t.py::t{i}", "passed", faults=[], fired={}, verdicts=[{"name": n}])
             for i, n in enumerate(["b", "a", "no_timeout", "no_timeout"])]
    assert list(summarize({"tests": tests})["verdicts"].items()) == [("no_timeout", 2), ("a", 1), ("b", 1)]


def test_cell_status() -> None:
    passed = record("t.py::t", "passed", faults=["openai.latency", "openai.rate_limit"],
                    fired={"openai.rate_limit": 2})
    assert cell_status(passed, "openai.rate_limit") == "pass"
    assert cell_status(passed, "openai.latency") == "not_exercised"  # configured, never hit a call
    assert cell_status(passed, "anthropic.overloaded") == "-"
    failed = {**passed, "outcome": "failed"}
    assert cell_status(failed, "openai.latency") == "fail"
    assert cell_status({**passed, "outcome": "skipped"}, "openai.rate_limit") == "skip"


def test_cell_status_without_fired_follows_the_outcome() -> None:
    test = {"nodeid": "t.py::t", "faults": ["openai.latency"]}
    assert cell_status({**test, "outcome": "passed"}, "openai.latency") == "pass"
    assert cell_status({**test, "outcome": "not_exercised"}, "openai.latency") == "not_exercised"


def test_matrix_groups_sweep_cases_into_one_row() -> None:
    faults, rows = matrix(make_document())
    assert faults == ["anthropic.overloaded", "openai.rate_limit", "openai.server_error", "openai.stream_cut"]
    assert [row.test for row in rows] == [
        "tests/test_bot.py::test_falls_back",
        "tests/test_bot.py::test_stream_cut_is_not_shown",
        "tests/test_bot.py::test_recovers",
        EVIL,
    ]
    assert [row.statuses for row in rows] == [
        ("pass", "fail", "-", "not_exercised"),
        ("-", "-", "-", "fail"),
        ("-", "-", "skip", "-"),
        ("-", "-", "pass", "-"),
    ]
    assert [row.sweep for row in rows] == [True, False, False, False]
    assert rows[0].cells[1] == Cell("fail", 3, (f"tests/test_bot.py::test_falls_back[{SWEPT[1]}]",))


def test_matrix_merges_cases_worst_first() -> None:
    def case(param: str, outcome: str, fired: int) -> dict[str, object]:
        return record(f"t.py::test_x[{param}]", outcome, sweep="openai.latency", faults=["openai.latency"],
                      fired={"openai.latency": fired})

    _, rows = matrix({"tests": [case("a", "passed", 1), case("b", "passed", 0)]})
    assert rows[0].cells[0] == Cell("not_exercised", 1, ("t.py::test_x[a]", "t.py::test_x[b]"))
    _, rows = matrix({"tests": [case("a", "passed", 0), case("b", "failed", 2)]})
    assert rows[0].statuses == ("fail",)


def test_matrix_keeps_plain_parametrized_tests_apart() -> None:
    tests = [record(f"t.py::test_x[{p}]", "passed", faults=["openai.latency"], fired={"openai.latency": 1})
             for p in ("a", "b")]
    assert [row.test for row in matrix({"tests": tests})[1]] == ["t.py::test_x[a]", "t.py::test_x[b]"]


def test_the_documented_example_is_a_valid_document() -> None:
    doc = Path(__file__).parents[2] / "docs" / "report-schema.md"
    example = json.loads(doc.read_text(encoding="utf-8").split("```json\n", 1)[1].split("```", 1)[0])
    assert example["schema"] == "chaoskit.report/1"
    assert summarize(example)["faults"]["openai.rate_limit"]["injections"] == 2
    assert matrix(example)[1][0].statuses == ("fail",)
    assert example["tests"][0].keys() == make_document()["tests"][0].keys()
    assert example["tests"][0]["calls"][0].keys() == make_document()["tests"][0]["calls"][0].keys()

"""The summary table written to pytest's terminal, with and without colour."""

from __future__ import annotations

import io
import re

from _pytest._io import TerminalWriter
from _report_doc import make_document, record

from chaoskit.reports import write_summary
from chaoskit.reports._terminal import WIDTH, shorten

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(document: dict[str, object], *, markup: bool = False, width: int = 80) -> str:
    """The summary as the terminal would receive it."""
    out = io.StringIO()
    tw = TerminalWriter(out)
    tw.hasmarkup = markup
    tw.fullwidth = width
    write_summary(document, tw)
    return out.getvalue()


def test_plain_summary() -> None:
    text = render(make_document())
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert re.fullmatch(r"=+ chaoskit: seed 4242 =+", lines[0]) and len(lines[0]) <= 80
    assert lines[1:] == [
        "6 chaos tests: 2 passed, 2 failed, 1 not exercised, 1 skipped; 9 injections",
        "fault                 tests  passed  failed  not exercised  skipped  injections",
        "anthropic.overloaded      1       1       0              0        0           3",
        "openai.rate_limit         1       0       1              0        0           3",
        "openai.server_error       2       1       0              0        1           2",
        "openai.stream_cut         2       0       1              1        0           1",
        "verdicts",
        "  1  retry_after_ignored  tests/test_bot.py::test_falls_back[openai.rate_limit]",
        "rerun with the same faults: pytest --chaos-seed 4242",
    ]


def test_coloured_summary_reads_the_same_without_its_colour() -> None:
    coloured = render(make_document(), markup=True)
    assert ANSI.sub("", coloured) == render(make_document())
    assert "\x1b[32m2 passed\x1b[0m" in coloured
    assert "\x1b[31m\x1b[1m2 failed\x1b[0m" in coloured
    assert "\x1b[33m1 not exercised\x1b[0m" in coloured
    assert "\x1b[33mretry_after_ignored\x1b[0m" in coloured
    # zero counts stay plain; the padding before a coloured count is not coloured
    assert "openai.rate_limit         1       0       \x1b[31m\x1b[1m1\x1b[0m" in coloured


def test_long_ids_are_cut_to_the_width() -> None:
    long_fault = "openai." + "very_long_fault_name_" * 4
    long_verdict = "verdict_" * 8
    tests = [
        record("tests/" + "deep/" * 20 + "test_x.py::test_x", "passed", faults=[long_fault],
               fired={long_fault: 1}, verdicts=[{"name": long_verdict}]),
        record("t.py::t2", "failed", faults=[long_fault], fired={}, verdicts=[{"name": long_verdict}]),
    ]
    text = render({"seed": 1, "tests": tests}, width=200)
    lines = text.splitlines()
    assert max(map(len, lines)) <= WIDTH
    assert re.fullmatch(r"=+ chaoskit: seed 1 =+", lines[0]) and len(lines[0]) >= WIDTH - 1  # capped rule
    row = next(line for line in lines if line.startswith("openai."))
    assert row.split()[0] == shorten(long_fault, 41) and "..." in row
    assert lines[-2].endswith("test_x.py::test_x (+1 more)")


def test_shorten_keeps_both_ends() -> None:
    assert shorten("openai.rate_limit", 17) == "openai.rate_limit"
    assert shorten("openai.rate_limit", 11) == "open...imit"
    assert shorten("openai.rate_limit", 10) == "open...mit"
    assert shorten("abcdef", 2) == "ab"


def test_chaos_off_and_no_verdicts() -> None:
    tests = [record("t.py::t", "not_exercised", faults=["openai.latency"], fired={})]
    assert render({"seed": 7, "chaos_off": True, "tests": tests}).splitlines()[1:] == [
        "1 chaos test: 1 not exercised; 0 injections",
        "chaos off: no faults were injected; provider calls got healthy replies",
        "fault           tests  passed  failed  not exercised  skipped  injections",
        "openai.latency      1       0       0              1        0           0",
        "verdicts: none",
    ]


def test_no_tests_and_no_faults() -> None:
    assert render({"seed": 7, "tests": []}) == "chaoskit: no chaos tests ran\n"
    lines = render({"seed": 7, "tests": [record("t.py::t", "passed", faults=[], fired={})]}).splitlines()
    assert lines[1:] == ["1 chaos test: 1 passed; 0 injections", "no faults injected", "verdicts: none"]


def test_usage_totals_of_the_run_when_responses_reported_usage() -> None:
    from _report_doc import call

    document = make_document()
    assert "usage the responses reported" not in render(document)
    document["tests"][0]["calls"] = [
        call(0, "openai", usage={"input_tokens": 1200, "output_tokens": 40, "cached_tokens": 300}),
        call(1, "anthropic", usage={"input_tokens": 4, "output_tokens": None, "cached_tokens": None}),
    ]
    document["tests"][1]["calls"] = [call(0, "openai", usage={"input_tokens": 10, "output_tokens": 5, "cached_tokens": 0})]
    assert "usage the responses reported: 1,214 tokens in (300 cached), 45 out" in render(document).splitlines()

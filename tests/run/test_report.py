"""The run's reports rendered from its document: JUnit that parses, HTML that escapes what it
shows and draws its timeline in a real headless Chromium."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from _browser import WINDOW, png_colours, png_size, run_chromium  # noqa: E402 - the report tests' browser

from chaoskit.run._report import render_html, render_junit  # noqa: E402

EVIL = "<script>alert(1)</script>"


def doc(status: str = "deviated") -> dict[str, Any]:
    return {
        "schema": "chaoskit.run/1", "title": f"outage {EVIL}", "scenario": "s.yaml",
        "target": {"url": "http://127.0.0.1:8000", "environment": "staging"}, "seed": 7, "status": status,
        "exit_code": 0 if status == "held" else 1, "reasons": [] if status == "held" else [f"probe 'chat' failed: {EVIL}"],
        "started": "2026-12-05T19:00:00+00:00", "duration": 10.0,
        "phases": [{"name": "baseline", "start": 0.0, "end": 2.0, "faults": [], "toxics": []},
                   {"name": "openai-down", "start": 2.0, "end": 8.0, "faults": ["openai.server_error"], "toxics": []}],
        "events": [{"at": 2.0, "kind": "fault.on", "text": f"openai.server_error on {EVIL}", "data": {}}],
        "probes": {"chat": [{"at": 1.0, "when": "before", "ok": True, "detail": "fine", "duration": 0.1, "attempts": 1},
                            {"at": 5.0, "when": "during_fault", "ok": False, "detail": EVIL, "duration": 0.2, "attempts": 1}]},
        "injections": {"count": 3, "by_fault": {"openai.server_error": 3}, "calls": []},
        "load": None,
        "reproduce": [{"fault": "openai.server_error", "params": {}, "seed": 7, "marker": "@pytest.mark.chaos('openai.server_error')",
                       "command": "pytest --chaos-seed 7"}],
    }


def test_junit_has_a_case_per_probe_check_and_the_verdict() -> None:
    suite = ET.fromstring(render_junit(doc()))
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["chat [before @ 1.0s]", "chat [during_fault @ 5.0s]", "steady state held"]
    assert [c.find("failure") is not None for c in cases] == [False, True, True]
    assert suite.get("failures") == "2"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["chaoskit.seed"] == "7" and properties["chaoskit.injections"] == "3"


def test_a_held_run_fails_only_the_checks_that_failed() -> None:
    suite = ET.fromstring(render_junit(doc("held")))
    assert suite.get("failures") == "1"  # the one failed check, tolerated by its window
    assert suite.findall("testcase")[-1].find("failure") is None


def test_html_escapes_everything_from_the_run() -> None:
    page = render_html(doc())
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http" not in page.split("<body>")[0].replace("http://127.0.0.1:8000", "")  # nothing fetched: self-contained


def test_html_draws_the_timeline_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    page.write_text(render_html(doc()))
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    data = shot.read_bytes()
    assert png_size(data) == WINDOW
    assert png_colours(data, 400) > 30, "the page looks blank"
    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert dom.count('class="dot ok"') == 1 and dom.count('class="dot bad"') == 1
    assert 'class="bar fault"' in dom and 'id="status">deviated<' in dom
    assert "@pytest.mark.chaos('openai.server_error')" in dom

"""The HTML report: its structure and escaping, and how it looks in a real Chromium."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from _browser import WINDOW, chromium, png_colours, png_size, run_chromium
from _report_doc import EVIL, make_document, record

from chaoskit.reports import render_html


class Page(HTMLParser):
    """What the tests look at in a rendered page: tags, text, matrix rows, journals."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.matrix: list[tuple[str, list[str]]] = []  # (row header text, cell statuses)
        self.fault_columns: list[str] = []
        self._in_matrix = self._in_row_header = False
        self._section = ""
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table" and a.get("class") == "matrix":
            self._in_matrix = True
        if not self._in_matrix:
            return
        if tag in ("thead", "tbody", "tfoot"):
            self._section = tag
        elif tag == "th" and self._section == "thead" and a.get("class") == "fault":
            self.fault_columns.append(a.get("title") or "")
        elif tag == "tr" and self._section == "tbody":
            self.matrix.append(("", []))
        elif tag == "th" and self._section == "tbody":
            self._in_row_header = True
        elif tag == "td" and self._section == "tbody":
            self.matrix[-1][1].append(a.get("data-status") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_matrix = False
        elif tag == "th":
            self._in_row_header = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_row_header:
            label, cells = self.matrix[-1]
            self.matrix[-1] = (label + data, cells)

    def all_text(self) -> str:
        return "".join(self.text)

    def elements(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.fixture(scope="module")
def page_source() -> str:
    return render_html(make_document())


@pytest.fixture(scope="module")
def page(page_source: str) -> Page:
    return Page(page_source)


def test_matrix_cells(page: Page) -> None:
    assert page.fault_columns == ["anthropic.overloaded", "openai.rate_limit", "openai.server_error",
                                  "openai.stream_cut"]
    assert page.matrix == [
        ("tests/test_bot.py::test_falls_backsweep", ["pass", "fail", "-", "not_exercised"]),
        ("tests/test_bot.py::test_stream_cut_is_not_shown", ["-", "-", "-", "fail"]),
        ("tests/test_bot.py::test_recovers", ["-", "-", "skip", "-"]),
        (EVIL, ["-", "-", "pass", "-"]),
    ]


def test_failed_cells_link_to_their_journal(page: Page) -> None:
    links = {a["href"] for a in page.elements("a") if "cell" in (a.get("class") or "")}
    journals = {a["id"] for a in page.elements("details")}
    assert links == {"#test-1", "#test-3"} and links <= {f"#{j}" for j in journals}


def test_everything_from_the_document_is_escaped(page_source: str, page: Page) -> None:
    assert "<script>" not in page_source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_source
    assert EVIL in page.all_text()
    assert "AssertionError <not a tag>" in page.all_text()
    assert page.elements("script") == []


def test_self_contained(page: Page) -> None:
    assert page.elements("link") == [] and page.elements("img") == [] and page.elements("iframe") == []
    assert all(not (a.get("href") or "#").startswith(("http", "//")) for a in page.elements("a"))
    assert len(page.elements("style")) == 1


def test_header_totals(page: Page) -> None:
    text = page.all_text()
    for fact in ("seed 4242", "2026-11-23 09:50 UTC", "12.3 s", "pytest --chaos-seed 4242"):
        assert fact in text, fact
    cards = "".join(text.split())  # the cards' numbers and labels, without the layout's spaces
    assert "6tests2passed2failed1notexercised1skipped9injections1verdicts" in cards


def test_verdicts_table(page: Page) -> None:
    text = page.all_text()
    assert "retry_after_ignored" in text
    assert "retried after 0.10 s; the 429 asked for 1.00 s" in text
    assert "honour Retry-After: leave the SDK's retries on" in text


def test_journals_of_failing_tests_are_open(page: Page) -> None:
    details = page.elements("details")
    assert [(d["id"], "open" in d) for d in details] == [("test-1", True), ("test-3", True)]
    assert len(page.elements("pre", **{"class": "longrepr"})) == 2
    text = page.all_text()
    assert "POST /v1/chat/completions" in text and "RemoteProtocolError" in text and "1.00 s" in text
    assert "pytest 'tests/test_bot.py::test_falls_back[openai.rate_limit]' --chaos-seed 4242" in text
    assert len(page.elements("tr", **{"class": "faulted flagged"})) == 2  # calls 0 and 1 of the verdict


def test_long_model_text_is_cut(page: Page) -> None:
    assert "shipped shipped" in page.all_text()
    assert "shipped " * 19 not in page.all_text()


def test_empty_document() -> None:
    text = Page(render_html({"schema": "chaoskit.report/1", "seed": 1, "tests": []})).all_text()
    assert "No chaos tests ran." in text and "No verdicts" in text and "No failing tests." in text


def test_passing_test_with_a_verdict_has_a_closed_journal() -> None:
    test = record("t.py::t", "passed", faults=[], fired={}, verdicts=[{"name": "no_timeout", "message": "m"}])
    assert [("open" in d) for d in Page(render_html({"tests": [test]})).elements("details")] == [False]


# -- a real browser ----------------------------------------------------------------------------


def test_a_missing_chromium_fails_with_the_install_hint(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"^Chromium is not installed \(no .*none\): run scripts/ensure-chromium$"):
        chromium(which=lambda _: None, default=tmp_path / "none")


def test_renders_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(make_document()), encoding="utf-8")
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    data = shot.read_bytes()
    assert png_size(data) == WINDOW
    assert len(data) > 40_000, f"{shot} looks blank: {len(data)} bytes"
    assert png_colours(data, 320) > 50, f"{shot} looks blank: too few colours in the header and matrix"
    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert '<table class="matrix">' in dom and dom.count('data-status="fail"') == 2
    assert "<script>" not in dom and "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


def test_virtual_time_shows_both_clocks() -> None:
    document = make_document()
    document["tests"][0]["clock"] = {"virtual": True, "elapsed": 640.0, "real": 0.8}
    document["tests"][1]["clock"] = {"virtual": False, "elapsed": 1.5}
    html = render_html(document)
    assert "virtual time <b>10 min 40 s</b> in <b>0.8 s</b> real" in html
    plain = make_document()
    assert "virtual time" not in render_html(plain)


def test_a_journal_shows_the_tokens_its_calls_reported() -> None:
    from _report_doc import call

    document = make_document()
    [failed, *_] = [t for t in document["tests"] if t["outcome"] == "failed"]  # journals shown: failing tests
    failed["calls"] = [
        call(0, "openai", usage={"input_tokens": 12, "output_tokens": 30, "cached_tokens": 0}),
        call(1, "openai", usage={"input_tokens": 8, "output_tokens": 2, "cached_tokens": 0}),
        call(2, "openai", status=429),
    ]
    html = render_html(document)
    assert html.count("20 tokens in, 32 out") == 1
    assert "tokens in" not in render_html(make_document())

"""The HTML report: its structure and escaping, and how it looks in a real Chromium."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _report_doc import EVIL, make_document, record

from chaoskit.reports import render_html

WINDOW = (1280, 2000)


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


def chromium(which: Callable[[str], str | None] = shutil.which, default: Path = Path("/usr/bin/chromium")) -> str:
    """The Chromium binary; the test fails, not skips, without it: CI must render the page."""
    found = which("chromium") or (str(default) if default.exists() else None)
    if found is None:
        pytest.fail(f"Chromium is not installed (no {default}): run scripts/ensure-chromium", pytrace=False)
    return found


def test_a_missing_chromium_fails_with_the_install_hint(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"^Chromium is not installed \(no .*none\): run scripts/ensure-chromium$"):
        chromium(which=lambda _: None, default=tmp_path / "none")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on its own profile, with nothing that reaches the network."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WINDOW[0]},{WINDOW[1]}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_colours(data: bytes, rows: int) -> int:
    """How many distinct colours the top ``rows`` rows of an 8-bit RGB(A) PNG hold."""
    width, _ = png_size(data)
    bpp = {2: 3, 6: 4}[data[25]]
    assert data[24] == 8 and data[28] == 0, "8-bit, non-interlaced PNG expected"
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompressobj().decompress(idat, rows * (1 + width * bpp))
    stride, previous, colours = width * bpp, bytearray(width * bpp), set()
    for r in range(rows):
        kind, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], (previous[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
        previous = line
    return len(colours)


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

"""The game day's post-mortem page, rendered from a hand-built document: self-contained, every
user string escaped (in the HTML and in the JSON handed to Plotly), the figure's traces where the
events put them, and the chart as a real headless Chromium draws it."""

from __future__ import annotations

import re
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from chaoskit import ChaosConfigError, ChaosWarning
from chaoskit.gameday._postmortem import render_postmortem, write_postmortem

from ._postmortem_doc import (
    EVIL,
    FAULTS,
    HOSTILE_DETAIL,
    HOSTILE_NOTE,
    NOTES,
    PHASES,
    ROLLBACK_AT,
    STOP_AT,
    make_document,
    plot_of,
    traces,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from _browser import png_rows, png_size, run_chromium  # noqa: E402 - the report tests' browser

NETWORK = re.compile(r"^\s*(https?:|//|ftp:|ws:|wss:)", re.I)
LINKING = ("src", "href", "action", "formaction", "poster", "data", "srcset", "background", "xlink:href")


class Node:
    """An element of a parsed page: tag, attributes, and its content (elements and text) in order."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.content: list[Node | str] = []

    @property
    def children(self) -> list[Node]:
        return [c for c in self.content if isinstance(c, Node)]

    @property
    def text(self) -> str:
        """The text directly inside (a script's source, say)."""
        return "".join(c for c in self.content if isinstance(c, str))

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def walk(self) -> list[Node]:
        return [self] + [n for c in self.children for n in c.walk()]

    def find(self, cls: str | None = None, tag: str | None = None) -> list[Node]:
        return [n for n in self.walk() if (cls is None or cls in n.classes) and (tag is None or n.tag == tag)]

    def all_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.all_text() for c in self.content)

    def offset(self) -> tuple[float, float]:
        """Where this element's own coordinates start on the page: its and its ancestors' translate()s."""
        x = y = 0.0
        node: Node | None = self
        while node is not None:
            for tx, ty in re.findall(r"translate\(\s*([-\d.e]+)[ ,]+([-\d.e]+)\s*\)", node.attrs.get("transform") or ""):
                x, y = x + float(tx), y + float(ty)
            node = node.parent
        return x, y


class Tree(HTMLParser):
    """A page as a tree of :class:`Node` (the script text kept on its node)."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "source", "col", "area", "base", "wbr"}

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.at = Node("#root", {}, None)
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.at)
        self.at.content.append(node)
        if tag not in self.VOID:
            self.at = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.at.content.append(Node(tag, dict(attrs), self.at))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent

    def handle_data(self, data: str) -> None:
        self.at.content.append(data)


@pytest.fixture(scope="module")
def page() -> str:
    return render_postmortem(make_document())


@pytest.fixture(scope="module")
def tree(page: str) -> Node:
    return Tree(page).root


def by_id(tree: Node, id_: str) -> Node:
    [node] = [n for n in tree.walk() if n.attrs.get("id") == id_]
    return node


# -- the file --------------------------------------------------------------------------------


def test_nothing_is_loaded_from_the_network(page: str, tree: Node) -> None:
    linked = [(n.tag, k, v) for n in tree.walk() for k, v in n.attrs.items() if k in LINKING and v and NETWORK.match(v)]
    assert linked == []
    scripts = tree.find(tag="script")
    assert [s.attrs for s in scripts] == [{}, {}]  # no src: both inline
    assert len(scripts[0].text) > 3_000_000 and "plotly.js" in scripts[0].text[:200]  # Plotly itself, embedded
    assert [n.tag for n in tree.walk() if n.tag in ("link", "iframe", "img", "object", "embed", "base")] == []
    assert "url(" not in "".join(s.text for s in tree.find(tag="style")) and "@import" not in page.split("<script>")[0]


def test_hostile_text_is_escaped_in_the_html_and_in_the_json(page: str, tree: Node) -> None:
    assert EVIL not in page
    assert page.count("<script") == page.count("</script") == 2  # nothing closes or opens a script early
    assert page.lower().count("</script") == 2
    figure_source = tree.find(tag="script")[1].text
    assert "<" not in figure_source.split("var p=", 1)[1].split(";Plotly.newPlot", 1)[0]  # \u003c inside the JSON
    # shown as text where people read it
    assert HOSTILE_NOTE in by_id(tree, "notes").all_text()
    assert HOSTILE_DETAIL in by_id(tree, "verdicts").all_text()
    assert HOSTILE_NOTE in by_id(tree, "events").all_text() and f"Provider outage {EVIL}" in tree.find(tag="h1")[0].all_text()
    # and in the chart, as entities Plotly shows as characters, never as markup
    plot = plot_of(page)
    notes = [a for a in plot["layout"]["annotations"] if a["name"].startswith("note")]
    assert notes[0]["text"].startswith("✎ checkout looks \"odd\" &lt;script&gt;alert(1)&lt;/scri")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 'sure'" in notes[0]["hovertext"]
    failed = traces(plot)["failed"]
    [chat] = [h for h, y in zip(failed["hovertext"], failed["y"], strict=True) if y == "probe order-question"]
    assert "got \"&lt;script&gt;alert(1)&lt;/script&gt;\" &amp; more" in chat
    assert not [s for s in _strings(plot) if "<script" in s.lower() or "</" in s.replace("</b>", "")]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_the_figure_draws_what_the_events_say(page: str) -> None:
    plot = plot_of(page)
    t = traces(plot)
    assert list(t) == ["phases", "faults", "passed", "failed", "errors", "latency0", "latency1"]
    phases = t["phases"]
    assert phases["text"] == [p[0] for p in PHASES]
    assert phases["base"] == [p[1] for p in PHASES]  # when they ran, not the plan's 0, 5, 15
    ends = [min(p[2], STOP_AT) for p in PHASES]
    assert [round(b + x, 3) for b, x in zip(phases["base"], phases["x"], strict=True)] == ends
    faults = t["faults"]
    assert faults["y"] == ["openai.server_error (f-1)", "anthropic.overloaded (f-2)"]
    assert faults["base"] == [f[2] for f in FAULTS]
    assert [round(b + x, 3) for b, x in zip(faults["base"], faults["x"], strict=True)] == [f[3] for f in FAULTS]
    passed, failed = t["passed"], t["failed"]
    assert sorted(zip(failed["y"], failed["x"], strict=True)) == [("probe health", float(s)) for s in range(12, 17)] + [
        ("probe order-question", 14.2)]
    assert len(passed["x"]) == 16 and ("probe order-question", 0.4) in zip(passed["y"], passed["x"], strict=True)
    errors = t["errors"]
    assert dict(zip(errors["x"], errors["y"], strict=True)) == {
        **{s + 0.5: 0.0 for s in [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 17, 18, 19, 20, 21]}, **{s + 0.5: 100.0 for s in range(12, 17)}}
    assert t["latency1"]["name"] == "latency order-question" and t["latency1"]["y"] == [800.0, 2400.0]
    marks = [(a["name"].split(" at ")[0], a["x"]) for a in plot["layout"]["annotations"]]
    assert marks == [("note", NOTES[0][0]), ("note", NOTES[1][0]), ("stop", STOP_AT), ("rollback", ROLLBACK_AT)]  # not the other note
    bands = [(s["x0"], s["x1"]) for s in plot["layout"]["shapes"] if s["type"] == "rect"]
    assert bands == [(p[1], e) for p, e in zip(PHASES, ends, strict=True)]


def test_the_page_around_the_chart(tree: Node) -> None:
    assert by_id(tree, "status").all_text() == "aborted exit 1"
    text = tree.all_text()
    for fact in ("seed 7", "2026-12-05 19:00:00 UTC", "23.0 s", "http://127.0.0.1:8000", "stopped: the on-call engineer pulled the plug"):
        assert fact in text, fact
    rows = [[c.all_text() for c in r.children] for r in by_id(tree, "verdicts").find(tag="tr")[1:]]
    assert rows == [["health", "15/20", "12.0 s continuous HTTP 503"], ["order-question", "1/2", f"14.2 s during_fault {HOSTILE_DETAIL}"]]
    assert [li.all_text() for li in by_id(tree, "notes").children] == [f"{at:.1f} s {note}" for at, note in NOTES]
    injected = [[c.all_text() for c in r.children] for r in by_id(tree, "injections").find(tag="tr")[1:]]
    assert injected == [["anthropic.overloaded", "5"], ["openai.server_error", "9"]]
    load = [c.all_text() for c in by_id(tree, "load").find(tag="td")]
    assert load == ["1200", "30", "2.5%", "60 ms", "240 ms", "900 ms", "40.0 req/s"]
    reproduce = by_id(tree, "reproduce").all_text()
    assert "@pytest.mark.chaos('openai.server_error')" in reproduce and "pytest --chaos-seed 7" in reproduce
    assert len(by_id(tree, "events").find(tag="tr")) == 1 + len(make_document()["events"])


def test_without_plotly_it_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "plotly" or m.startswith("plotly.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(ChaosConfigError, match=r"^the post-mortem page needs plotly: pip install 'chaoskit\[gameday\]'$"):
        render_postmortem(make_document())
    with pytest.warns(ChaosWarning, match=r"^the post-mortem page needs plotly: pip install 'chaoskit\[gameday\]' \(the other"):
        assert write_postmortem(make_document(), tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_write_postmortem_writes_the_page(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = write_postmortem(make_document(), tmp_path)
    assert path == tmp_path / "postmortem.html" and path.read_text(encoding="utf-8").startswith("<!doctype html>")


# -- a real browser ----------------------------------------------------------------------------


def test_chromium_draws_each_thing_where_and_in_the_order_it_happened(tmp_path: Path) -> None:
    page = tmp_path / "postmortem.html"
    page.write_text(render_postmortem(make_document()), encoding="utf-8")
    dom = run_chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", page.as_uri()).stdout
    assert "<script>alert" not in dom
    [chart] = [n for n in Tree(dom).root.walk() if n.attrs.get("id") == "chart"]

    ticks = [(float(t.all_text().removesuffix(" s")), t.offset()[0]) for g in chart.find("x3tick") for t in g.find(tag="text")]
    assert len(ticks) >= 3, "no x axis ticks: did Plotly draw?"
    (s0, p0), (s1, p1) = ticks[0], ticks[-1]

    def px(seconds: float) -> float:
        return p0 + (seconds - s0) * (p1 - p0) / (s1 - s0)

    assert all(abs(px(s) - p) < 0.6 for s, p in ticks)

    bars = {}
    for label in chart.find("bartext"):  # the phases' and the faults' bars (the error rate's have no text)
        point = label.parent
        assert point is not None
        [path] = point.find(tag="path")
        x0, x1 = (float(v) for v in re.findall(r"^M([-\d.]+),.*H([-\d.]+)", path.attrs["d"] or "")[0])
        dx = point.offset()[0]
        bars[label.attrs["data-unformatted"]] = (x0 + dx, x1 + dx)
    phases = [p[0] for p in PHASES]
    assert sorted(phases, key=lambda name: bars[name][0]) == phases  # left to right as they ran
    for name, start, end in PHASES:
        assert bars[name] == pytest.approx((px(start), px(min(end, STOP_AT))), abs=1.0), name
    for _, fault, on, off in FAULTS:
        assert bars[fault] == pytest.approx((px(on), px(off)), abs=1.0), fault
        assert bars["openai-down"][0] < bars[fault][0] < bars[fault][1] < bars["openai-down"][1]
    assert bars["openai.server_error"][0] < bars["anthropic.overloaded"][0] < bars["recovery"][0]

    rows = {str(t.attrs["data-unformatted"]): t.offset()[1] for g in chart.find("ytick") for t in g.find(tag="text")}
    assert sorted(rows, key=rows.__getitem__) == ["phases", "openai.server_error (f-1)", "anthropic.overloaded (f-2)", "probe health", "probe order-question"]
    marks: list[tuple[float, str, str]] = []
    for uid in ("passed", "failed"):
        [trace] = chart.find(f"trace{uid}")
        for point in trace.find("point", tag="path"):
            x, y = point.offset()
            [row] = [name for name, at in rows.items() if abs(at - y) < 1]
            marks.append((x, row, uid))
    health = [uid for x, row, uid in sorted(marks) if row == "probe health"]
    assert health == ["passed"] * 10 + ["failed"] * 5 + ["passed"] * 5
    assert [(round(x), uid) for x, row, uid in sorted(marks) if row == "probe order-question"] == [
        (round(px(0.4)), "passed"), (round(px(14.2)), "failed")]

    heads = {}
    for annotation in chart.find("annotation", tag="g"):
        [arrow] = annotation.find("annotation-arrow-g")[0].find(tag="path")
        heads[annotation.find("annotation-text")[0].all_text()] = float(re.findall(r"L([-\d.]+),[-\d.]+$", arrow.attrs["d"] or "")[0])
    [hostile] = [k for k in heads if k.startswith('✎ checkout looks "odd" <script>alert(1)')]  # shown as text, not run
    assert heads[hostile] == pytest.approx(px(NOTES[0][0]), abs=1.0)
    assert bars["baseline"][0] < heads[hostile] < bars["baseline"][1]
    assert heads["✎ fallback slow but answering"] == pytest.approx(px(NOTES[1][0]), abs=1.0)
    assert bars["anthropic.overloaded"][0] < heads["✎ fallback slow but answering"] < bars["openai-down"][1]
    assert heads["■ stop"] == pytest.approx(px(STOP_AT), abs=1.0) and heads["↺ rollback"] == pytest.approx(px(ROLLBACK_AT), abs=1.0)
    assert bars["recovery"][0] < heads["■ stop"] < heads["↺ rollback"]
    legend = [t.attrs["data-unformatted"] for t in chart.find("legendtext")]
    assert legend == ["phases", "faults on", "probe passed", "probe failed", "error rate", "latency health", "latency order-question"]


def test_chromium_paints_the_chart(tmp_path: Path) -> None:
    page = tmp_path / "postmortem.html"
    page.write_text(render_postmortem(make_document()), encoding="utf-8")
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, "--virtual-time-budget=10000", f"--screenshot={shot}", page.as_uri())
    data = shot.read_bytes()
    assert png_size(data)[0] == 1280
    chart = [pixel for row in png_rows(data, 1000)[450:] for pixel in row]  # the timeline and the error rate, under the header

    def near(colour: tuple[int, int, int]) -> int:
        return sum(1 for p in chart if sum(abs(a - b) for a, b in zip(p, colour, strict=True)) < 24)

    assert len(set(chart)) > 200, f"{shot}: the chart region looks blank"
    assert near((26, 127, 55)) > 300, f"{shot}: no green probe passes drawn"  # ~16 dots
    assert near((207, 34, 46)) > 1000, f"{shot}: no red faults, failures or error rate drawn"

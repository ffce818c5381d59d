"""The chaoskit HTML report: one self-contained page a person reads after a run.

Header and totals, the resilience matrix (faults x tests), the verdicts, and the journal of
every failing test or test with a verdict. Inline CSS only, no scripts and no external
fetches, so the file can be mailed or attached to a CI run as it is. Every value from the
document goes through :func:`html.escape`.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from .._software import software_line
from ._document import software_in, tokens_line, usage_totals
from ._summary import Cell, Document, MatrixRow, faults_of, matrix, summarize, tests_of

__all__ = ["render_html"]

#: Characters of model text shown per journal row.
TEXT_EXCERPT = 90

# status -> (glyph, label); the glyph keeps the matrix readable without colour.
_CELLS = {
    "pass": ("\u2713", "passed"),
    "fail": ("\u2717", "failed"),
    "not_exercised": ("\u25cb", "not exercised"),
    "skip": ("\u2013", "skipped"),
    "-": ("", "not injected"),
}
_OUTCOME_CLASS = {"passed": "pass", "failed": "fail", "not_exercised": "not_exercised", "skipped": "skip"}

_CSS = """
:root {
  --fg: #1f2328; --muted: #59636e; --faint: #8c959f; --line: #d1d9e0; --soft: #f6f8fa;
  --page: #eef1f5; --card: #ffffff; --accent: #0969da;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9;
  --warn: #9a6700; --warn-bg: #fff8c5; --skip: #59636e; --skip-bg: #eaeef2;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
}
* { box-sizing: border-box; }
html { background: var(--page); }
body { margin: 0; color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 28px 64px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, .mono { font-family: var(--mono); font-size: 12.5px; }
h1 { font-size: 24px; margin: 0; letter-spacing: -0.01em; }
h1 .brand { color: var(--fail); }
h2 { font-size: 17px; margin: 0 0 4px; }
.sub { color: var(--muted); margin: 0 0 14px; font-size: 13.5px; }
header.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 24px; margin-bottom: 18px; }
header.top .meta { color: var(--muted); font-size: 13.5px; display: flex; gap: 18px; flex-wrap: wrap; }
header.top .meta b { color: var(--fg); font-weight: 600; }
.off { background: var(--warn-bg); color: var(--warn); border-radius: 999px; padding: 1px 10px; font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(7, 1fr); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card .n { font-size: 26px; font-weight: 650; line-height: 1.2; font-variant-numeric: tabular-nums; }
.card .l { color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: 0.04em; }
.card.pass .n { color: var(--pass); } .card.fail .n { color: var(--fail); }
.card.not_exercised .n, .card.verdict .n { color: var(--warn); } .card.zero .n { color: var(--faint); }
.repro { margin: 14px 0 0; color: var(--muted); font-size: 13.5px; }
.repro code { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 2px 8px; color: var(--fg); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 20px 24px;
  margin-top: 22px; }
.empty { color: var(--muted); font-style: italic; margin: 6px 0 0; }
.legend { display: flex; gap: 18px; flex-wrap: wrap; font-size: 13px; color: var(--muted); margin: 0 0 12px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.wrap { overflow: auto; border: 1px solid var(--line); border-radius: 8px; }
.wrap.m { max-height: 78vh; width: fit-content; max-width: 100%; }
table { border-collapse: separate; border-spacing: 0; width: 100%; }
table.matrix { width: auto; }
.matrix th, .matrix td { border-bottom: 1px solid var(--soft); }
.matrix thead th { position: sticky; top: 0; z-index: 2; background: var(--soft);
  border-bottom: 1px solid var(--line); vertical-align: bottom; }
.matrix thead th.test { left: 0; z-index: 3; text-align: left; padding: 8px 14px; font-size: 12.5px;
  color: var(--muted); font-weight: 600; }
.matrix th.fault { padding: 10px 1px 8px; min-width: 32px; }
.matrix th.fault div { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
  margin: 0 auto; font: 500 12.5px/1.2 var(--mono); color: var(--fg); }
.matrix th.fault .prov { color: var(--faint); }
.matrix tbody th { position: sticky; left: 0; z-index: 1; background: var(--card); text-align: left;
  font-weight: 400; padding: 5px 14px; border-right: 1px solid var(--line); max-width: 430px; }
.matrix tbody th .path { display: block; font-size: 11.5px; line-height: 1.3; }
.matrix tbody tr:hover th, .matrix tbody tr:hover td { background: #f3f6fa; }
.nodeid { font-family: var(--mono); font-size: 12.5px; overflow-wrap: break-word; }
.nodeid .path { color: var(--faint); }
.nodeid .fn { color: var(--fg); font-weight: 600; }
.nodeid .param { color: var(--muted); }
.tag { display: inline-block; font: 600 10.5px/1 system-ui, sans-serif; text-transform: uppercase;
  letter-spacing: 0.05em; padding: 3px 6px; border-radius: 4px; margin-left: 6px; vertical-align: 1px;
  background: #ddf4ff; color: var(--accent); }
.matrix td.c { text-align: center; padding: 3px; }
.cell { display: inline-flex; align-items: center; justify-content: center; width: 26px; height: 22px;
  border-radius: 5px; font-weight: 700; font-size: 14px; }
a.cell:hover { text-decoration: none; outline: 2px solid currentColor; }
.cell.pass { background: var(--pass-bg); color: var(--pass); }
.cell.fail { background: var(--fail); color: #fff; }
.cell.not_exercised { background: var(--warn-bg); color: var(--warn); box-shadow: inset 0 0 0 1px #e3c565; }
.cell.skip { background: var(--skip-bg); color: var(--skip); }
.cell.none { width: 26px; }
.cell.none::before { content: ""; width: 4px; height: 4px; border-radius: 50%; background: #d1d9e0; }
.matrix tfoot td, .matrix tfoot th { position: sticky; bottom: 0; background: var(--soft); border-top: 1px solid var(--line);
  font-size: 12px; color: var(--muted); text-align: center; padding: 6px 2px; font-variant-numeric: tabular-nums; }
.matrix tfoot th { left: 0; z-index: 3; text-align: left; padding-left: 14px; font-weight: 600; }
table.list th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.04em; padding: 6px 10px; border-bottom: 1px solid var(--line); background: var(--soft); }
table.list td { padding: 8px 10px; border-bottom: 1px solid var(--soft); vertical-align: top; font-size: 14px; }
table.list tr:last-child td { border-bottom: 0; }
.vname { font-family: var(--mono); font-size: 12.5px; font-weight: 600; color: var(--warn); background: var(--warn-bg);
  padding: 2px 7px; border-radius: 5px; white-space: nowrap; }
.hint { color: var(--muted); font-size: 13.5px; }
.hint::before { content: "\\2192  "; color: var(--faint); }
details.journal { border: 1px solid var(--line); border-radius: 10px; margin-top: 14px; overflow: hidden; }
details.journal > summary { cursor: pointer; padding: 12px 16px; background: var(--soft); list-style: none;
  display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; }
details.journal > summary::-webkit-details-marker { display: none; }
details.journal > summary::before { content: "\\25B8"; color: var(--faint); transition: transform .15s; }
details.journal[open] > summary::before { transform: rotate(90deg); }
details.journal[open] > summary { border-bottom: 1px solid var(--line); }
.badge { font: 700 11px/1 system-ui, sans-serif; text-transform: uppercase; letter-spacing: 0.05em;
  padding: 4px 7px; border-radius: 5px; }
.badge.fail { background: var(--fail); color: #fff; } .badge.pass { background: var(--pass-bg); color: var(--pass); }
.badge.not_exercised { background: var(--warn-bg); color: var(--warn); } .badge.skip { background: var(--skip-bg); color: var(--skip); }
.jmeta { color: var(--muted); font-size: 13px; margin-left: auto; }
.jbody { padding: 14px 16px 16px; }
.jbody .repro { margin: 0 0 12px; }
pre.longrepr { background: #fff5f5; border: 1px solid #ffcecb; border-left: 4px solid var(--fail); border-radius: 6px;
  padding: 10px 14px; margin: 0 0 14px; overflow: auto; max-height: 320px; white-space: pre-wrap; color: #82071e; }
table.calls td { font-size: 13px; padding: 6px 10px; white-space: nowrap; }
table.calls td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.calls td.idx { font-variant-numeric: tabular-nums; color: var(--muted); }
table.calls td.text { white-space: normal; color: var(--muted); min-width: 200px; width: 100%; }
table.calls td.st { white-space: normal; min-width: 90px; }
table.calls th { white-space: nowrap; }
table.calls tr.faulted td:first-child { box-shadow: inset 3px 0 0 var(--warn); }
table.calls tr.flagged td { background: #fffbea; }
.fault { font-family: var(--mono); font-size: 12px; color: var(--warn); }
.ok { color: var(--pass); font-weight: 600; } .bad { color: var(--fail); font-weight: 600; }
.flag { color: var(--warn); font-weight: 700; margin-left: 4px; }
.stream { font: 600 10px/1 system-ui, sans-serif; text-transform: uppercase; color: var(--muted);
  border: 1px solid var(--line); border-radius: 4px; padding: 2px 4px; margin-left: 6px; }
.muted { color: var(--faint); }
footer { color: var(--faint); font-size: 12.5px; text-align: center; margin-top: 28px; }
"""


def render_html(document: Document) -> str:
    """The HTML page of a ``chaoskit.report/1`` results document, as one self-contained string."""
    anchors = _anchors(tests_of(document))
    body = "\n".join(
        [
            _header(document),
            _matrix_section(document, anchors),
            _verdicts_section(document, anchors),
            _journals_section(document, anchors),
            f'<footer>chaoskit &middot; schema {_e(document.get("schema", "chaoskit.report/1"))}</footer>',
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(_page_title(document))}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _e(value: Any) -> str:
    """Escaped text of any value, quotes included, for element text and attributes alike."""
    return escape("" if value is None else str(value), quote=True)


def _page_title(document: Document) -> str:
    failed = summarize(document)["outcomes"].get("failed", 0)
    state = f"{failed} failed" if failed else "all passed"
    return f"chaoskit report: {state} (seed {document.get('seed')})"


def _anchors(tests: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Node id -> a stable, HTML-safe element id for its journal."""
    return {str(t.get("nodeid")): f"test-{i}" for i, t in enumerate(tests)}


# -- header --------------------------------------------------------------------------------


def _header(document: Document) -> str:
    summary = summarize(document)
    meta = [
        f"seed <b>{_e(document.get('seed'))}</b>",
        f"run <b>{_e(_when(document.get('created')))}</b>",
    ]
    if document.get("duration") is not None:
        meta.append(f"took <b>{_e(_seconds(document['duration']))}</b>")
    clocks = [t["clock"] for t in tests_of(document) if isinstance(t.get("clock"), Mapping) and t["clock"].get("virtual")]
    if clocks:
        waited = sum(float(c.get("elapsed", 0.0)) for c in clocks)
        real = sum(float(c.get("real", 0.0)) for c in clocks)
        meta.append(f"virtual time <b>{_e(_seconds(waited))}</b> in <b>{_e(_seconds(real))}</b> real")
    software = software_in(tests_of(document))
    if software:
        meta.append(f"on <b>{_e(software_line(software))}</b>")
    if document.get("chaos_off"):
        meta.append('<span class="off">chaos off: no faults injected</span>')
    repro = (
        f'<p class="repro">Rerun with the same faults: <code>pytest --chaos-seed {_e(document.get("seed"))}</code></p>'
        if document.get("seed") is not None
        else ""
    )
    return (
        '<header class="top"><h1><span class="brand">chaos</span>kit report</h1>'
        f'<div class="meta">{"".join(f"<span>{m}</span>" for m in meta)}</div></header>\n'
        f"{_cards(summary, len(tests_of(document)))}\n{repro}"
    )


def _cards(summary: Mapping[str, Any], count: int) -> str:
    outcomes = summary["outcomes"]
    cards = [
        ("tests", count, ""),
        ("passed", outcomes.get("passed", 0), "pass"),
        ("failed", outcomes.get("failed", 0), "fail"),
        ("not exercised", outcomes.get("not_exercised", 0), "not_exercised"),
        ("skipped", outcomes.get("skipped", 0), "skip"),
        ("injections", sum(f["injections"] for f in summary["faults"].values()), ""),
        ("verdicts", sum(summary["verdicts"].values()), "verdict"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card {cls}{" zero" if not n and cls else ""}"><div class="n">{_e(n)}</div>'
        f'<div class="l">{_e(label)}</div></div>'
        for label, n, cls in cards
    ) + "</div>"


def _when(created: Any) -> str:
    """An ISO timestamp as ``2026-11-23 09:50 UTC``; anything else as given."""
    try:
        moment = datetime.fromisoformat(str(created))
    except ValueError:
        return str(created) if created else "unknown"
    zone = "UTC" if moment.utcoffset() is not None and not moment.utcoffset() else moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {zone}".rstrip()


def _seconds(value: Any) -> str:
    seconds = float(value)
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


# -- matrix --------------------------------------------------------------------------------


def _matrix_section(document: Document, anchors: Mapping[str, str]) -> str:
    faults, rows = matrix(document)
    intro = (
        '<h2>Resilience matrix</h2><p class="sub">Each row is a test (one row per test function for '
        "<code>chaos_sweep</code>), each column a fault injected into it.</p>"
    )
    if not rows:
        return f'<section id="matrix">{intro}<p class="empty">No chaos tests ran.</p></section>'
    return (
        f'<section id="matrix">{intro}{_legend()}<div class="wrap m"><table class="matrix">'
        f"<thead><tr>{_matrix_head(faults)}</tr></thead>"
        f"<tbody>{''.join(_matrix_row(row, faults, anchors) for row in rows)}</tbody>"
        f"<tfoot><tr>{_matrix_foot(document, faults)}</tr></tfoot></table></div></section>"
    )


def _legend() -> str:
    items = [("pass", "passed"), ("fail", "failed"), ("not_exercised", "not exercised: the fault never hit a call"),
             ("skip", "skipped")]
    spans = "".join(
        f'<span><span class="cell {status}">{_CELLS[status][0]}</span>{_e(label)}</span>' for status, label in items
    )
    return f'<div class="legend">{spans}<span><span class="cell none"></span>not injected</span></div>'


def _matrix_head(faults: list[str]) -> str:
    return '<th class="test" scope="col">test</th>' + "".join(
        f'<th class="fault" scope="col" title="{_e(f)}"><div>{_fault_label(f)}</div></th>' for f in faults
    )


def _fault_label(fault: str) -> str:
    provider, dot, name = fault.partition(".")
    return f'<span class="prov">{_e(provider)}.</span>{_e(name)}' if dot else _e(fault)


def _matrix_row(row: MatrixRow, faults: list[str], anchors: Mapping[str, str]) -> str:
    tag = '<span class="tag">sweep</span>' if row.sweep else ""
    label = f'<th scope="row"><span class="nodeid">{_nodeid(row.test)}</span>{tag}</th>'
    return f"<tr>{label}{''.join(_matrix_cell(c, f, anchors) for c, f in zip(row.cells, faults, strict=True))}</tr>"


def _matrix_cell(cell: Cell, fault: str, anchors: Mapping[str, str]) -> str:
    if cell.status == "-":
        return f'<td class="c" data-status="-" title="{_e(fault)}: not injected"><span class="cell none"></span></td>'
    glyph, label = _CELLS.get(cell.status, ("?", cell.status))
    hits = f", {cell.injections} call{'s' if cell.injections != 1 else ''} hit"
    title = f"{fault}: {label}{hits}\n" + "\n".join(cell.nodeids)
    target = next((anchors[n] for n in cell.nodeids if n in anchors), None)
    inner = f'class="cell {_e(cell.status)}">{glyph}'
    link = f'<a href="#{target}" {inner}</a>' if target and cell.status == "fail" else f"<span {inner}</span>"
    return f'<td class="c" data-status="{_e(cell.status)}" title="{_e(title)}">{link}</td>'


def _matrix_foot(document: Document, faults: list[str]) -> str:
    counts = summarize(document)["faults"]
    return '<th scope="row">calls hit</th>' + "".join(
        f'<td title="{_e(f)}: {_e(counts[f]["injections"])} calls hit">{_e(counts[f]["injections"])}</td>'
        for f in faults
    )


def _nodeid(nodeid: str) -> str:
    """A node id with its path, function and parameters styled apart."""
    head, sep, name = nodeid.rpartition("::")
    fn, bracket, param = name.partition("[")
    path = f'<span class="path">{_breakable(head + sep)}</span>' if sep else ""
    params = f'<span class="param">{_e(bracket + param)}</span>' if bracket else ""
    return f'{path}<span class="fn">{_e(fn)}</span>{params}'


def _breakable(text: str) -> str:
    """Escaped text with line-break chances after each ``/`` and ``::``."""
    return _e(text).replace("/", "/<wbr>").replace("::", "::<wbr>")


# -- verdicts ------------------------------------------------------------------------------


def _verdicts_section(document: Document, anchors: Mapping[str, str]) -> str:
    rows = [
        (verdict, str(test.get("nodeid", "?")))
        for test in tests_of(document)
        for verdict in test.get("verdicts") or []
    ]
    intro = ('<h2>Verdicts</h2><p class="sub">Resilience problems chaoskit saw in the journals, '
             "whether or not the test failed.</p>")
    if not rows:
        return f'<section id="verdicts">{intro}<p class="empty">No verdicts: no problem seen.</p></section>'
    body = "".join(
        f'<tr><td><span class="vname">{_e(v.get("name"))}</span></td>'
        f'<td><a class="nodeid" href="#{anchors.get(nodeid, "")}">{_nodeid(nodeid)}</a></td>'
        f'<td>{_e(v.get("message"))}{_hint(v.get("hint"))}</td></tr>'
        for v, nodeid in rows
    )
    return (
        f'<section id="verdicts">{intro}<table class="list"><thead><tr><th>verdict</th><th>test</th>'
        f"<th>what happened</th></tr></thead><tbody>{body}</tbody></table></section>"
    )


def _hint(hint: Any) -> str:
    return f'<div class="hint">{_e(hint)}</div>' if hint else ""


# -- journals ------------------------------------------------------------------------------


def _journals_section(document: Document, anchors: Mapping[str, str]) -> str:
    tests = tests_of(document)
    failing = [t for t in tests if t.get("outcome") == "failed"]
    flagged = [t for t in tests if t.get("outcome") != "failed" and t.get("verdicts")]
    intro = ('<h2>Journals</h2><p class="sub">Every call of each failing test, and of each test with a '
             "verdict: what was asked, which fault chaoskit injected, and how it ended.</p>")
    if not failing and not flagged:
        return f'<section id="journals">{intro}<p class="empty">No failing tests.</p></section>'
    parts = [_journal(t, anchors, opened=True, seed=document.get("seed")) for t in failing]
    parts += [_journal(t, anchors, opened=False, seed=document.get("seed")) for t in flagged]
    return f'<section id="journals">{intro}{"".join(parts)}</section>'


def _journal(test: Mapping[str, Any], anchors: Mapping[str, str], *, opened: bool, seed: Any) -> str:
    nodeid = str(test.get("nodeid", "?"))
    outcome = str(test.get("outcome"))
    status = _OUTCOME_CLASS.get(outcome, "skip")
    calls = test.get("calls") or []
    meta = [f"seed {test.get('seed', seed)}", f"{len(calls)} call{'s' if len(calls) != 1 else ''}"]
    if test.get("duration") is not None:
        meta.append(_seconds(test["duration"]))
    clock = test.get("clock")
    if isinstance(clock, Mapping) and clock.get("virtual"):
        meta.append(f"{_seconds(float(clock.get('elapsed', 0.0)))} virtual")
    totals = usage_totals(calls)
    if totals is not None:
        meta.append(tokens_line(totals))
    if faults_of(test):
        meta.append("faults: " + ", ".join(faults_of(test)))
    summary = (
        f'<summary><span class="badge {status}">{_e(outcome.replace("_", " "))}</span>'
        f'<span class="nodeid">{_nodeid(nodeid)}</span><span class="jmeta">{_e(" · ".join(meta))}</span></summary>'
    )
    repro = f"pytest {shlex.quote(nodeid)} --chaos-seed {test.get('seed', seed)}"
    longrepr = f'<pre class="longrepr">{_e(test["longrepr"])}</pre>' if test.get("longrepr") else ""
    body = f'<div class="jbody"><p class="repro">Rerun: <code>{_e(repro)}</code></p>{longrepr}{_calls_table(test)}</div>'
    return f'<details class="journal" id="{anchors.get(nodeid, "")}"{" open" if opened else ""}>{summary}{body}</details>'


def _calls_table(test: Mapping[str, Any]) -> str:
    calls = test.get("calls") or []
    if not calls:
        return '<p class="empty">No provider call was made.</p>'
    flags = _verdict_flags(test)
    head = "".join(
        f"<th>{h}</th>"
        for h in ("#", "provider", "request", "fault", "status", "ms", "retry-after", "text")
    )
    rows = "".join(_call_row(call, flags.get(call.get("index"), [])) for call in calls)
    return f'<div class="wrap"><table class="list calls"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _verdict_flags(test: Mapping[str, Any]) -> dict[Any, list[str]]:
    """Call index -> the names of the verdicts that point at it."""
    flags: dict[Any, list[str]] = {}
    for verdict in test.get("verdicts") or []:
        for index in verdict.get("calls") or []:
            flags.setdefault(index, []).append(str(verdict.get("name")))
    return flags


def _call_row(call: Mapping[str, Any], verdicts: list[str]) -> str:
    classes = " ".join(c for c in ("faulted" if call.get("fault") else "", "flagged" if verdicts else "") if c)
    flag = f'<span class="flag" title="{_e(", ".join(verdicts))}">&#9873;</span>' if verdicts else ""
    stream = '<span class="stream">stream</span>' if call.get("stream") else ""
    cells = [
        f'<td class="idx">{_e(call.get("index"))}{flag}</td>',
        f"<td>{_e(call.get('provider') or '?')}</td>",
        f'<td class="mono">{_e(call.get("method"))} {_e(_path(call.get("url")))}{stream}</td>',
        f'<td><span class="fault">{_e(call.get("fault"))}</span></td>' if call.get("fault") else '<td class="muted">&ndash;</td>',
        f'<td class="st">{_outcome(call)}</td>',
        f'<td class="num">{_e(_millis(call.get("duration")))}</td>',
        f'<td class="num">{_e(_retry_after(call.get("retry_after")))}</td>',
        f'<td class="text">{_e(_excerpt(call.get("text")))}</td>',
    ]
    return f'<tr class="{classes}">{"".join(cells)}</tr>' if classes else f"<tr>{''.join(cells)}</tr>"


def _path(url: Any) -> str:
    parts = urlsplit(str(url or ""))
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _outcome(call: Mapping[str, Any]) -> str:
    """The status or error of a call, with a note when its response broke off."""
    status, error = call.get("status"), call.get("error")
    parts = []
    if status is not None:
        good = isinstance(status, int) and status < 400
        parts.append(f'<span class="{"ok" if good else "bad"}">{_e(status)}</span>')
    if error:
        parts.append(f'<span class="bad">{_e(error)}</span>')
    if call.get("complete") is False:
        parts.append('<span class="bad">cut</span>')
    return " &middot; ".join(parts) or '<span class="muted">&ndash;</span>'


def _millis(duration: Any) -> str:
    if duration is None:
        return ""
    ms = float(duration) * 1000
    return f"{ms:.1f}" if ms < 10 else f"{ms:,.0f}"


def _retry_after(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f} s"


def _excerpt(text: Any) -> str:
    if not text:
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= TEXT_EXCERPT else flat[: TEXT_EXCERPT - 1] + "\u2026"

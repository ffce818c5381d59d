"""The game day's post-mortem page: one self-contained HTML file with the timeline drawn by Plotly
(phases, faults on and off, probe results, error rate and latency, the stop, the rollback and the
observers' notes where they were taken), the verdicts, what was injected and how to reproduce it.

Rendered from the run's redacted JSON document, like run.html and gameday.md, so the three never
disagree. Times come from the events, not the scenario's plan: a game day's phases run when the
operator says. Plotly's JavaScript is embedded, so the page opens with no network.
"""

from __future__ import annotations

import html
import json
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ChaosConfigError, ChaosWarning
from ..run._report import _COLOURS

__all__ = ["render_postmortem", "write_postmortem"]

INSTALL_HINT = "the post-mortem page needs plotly: pip install 'chaoskit[gameday]'"

# run.html's colour language (chaoskit/run/_report.py): green held, red broke, grey quiet.
OK, BAD, QUIET, FAULTED, INK, MUTED, LINE = "#1a7f37", "#cf222e", "#d0d7de", "#ffb3ad", "#1f2328", "#57606a", "#d0d7de"
NOTE, STOP, ROLLBACK = "#8250df", _COLOURS["aborted"], _COLOURS["invalid"]
SERIES = ("#0969da", "#8250df", "#1b7c83", "#9a6700", "#bf3989", "#57606a")
ON_KINDS = {"fault.on": "fault.off", "toxic.on": "toxic.off"}


@dataclass(frozen=True)
class _Span:
    """Something that was on from ``start`` to ``end`` (s): a phase, a fault, a toxic."""

    row: str
    label: str
    start: float
    end: float
    hover: str


def _t(text: Any) -> str:
    """User text for Plotly, which reads its strings as a little HTML: tags escaped, entities shown as characters."""
    return html.escape(" ".join(str(text).split()), quote=False)


def _wrap(text: Any, width: int = 90) -> str:
    return "<br>".join(_t(line) for line in textwrap.wrap(" ".join(str(text).split()), width)[:6])


def _short(text: Any, width: int = 44) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _end_of(doc: dict[str, Any]) -> float:
    """The timeline's right edge: the last event or the run's duration, whichever is later."""
    return max([float(doc["duration"])] + [float(e["at"]) for e in doc["events"]] + [1e-3])


def _phases(doc: dict[str, Any], end: float) -> list[_Span]:
    """Each phase as it ran: from its phase.start to its phase.end event (a phase run twice is two spans)."""
    planned = {p["name"]: p for p in doc["phases"]}
    events = doc["events"]
    spans = []
    for i, e in enumerate(events):
        if e["kind"] != "phase.start":
            continue
        name = str(e["data"].get("phase", e["text"]))
        stop = next((x["at"] for x in events[i + 1:] if x["kind"] == "phase.end" and x["data"].get("phase") == name), end)
        what = planned.get(name, {})
        injects = ", ".join(list(what.get("faults", [])) + list(what.get("toxics", []))) or "no fault"
        spans.append(_Span("phases", name, float(e["at"]), float(stop),
                           f"<b>phase {_t(name)}</b><br>{e['at']:.1f} s → {stop:.1f} s ({stop - e['at']:.1f} s)<br>{_t(injects)}"))
    return spans


def _faults(doc: dict[str, Any], end: float) -> list[_Span]:
    """Each fault (by its id on the proxy) and each toxic from its on event to its off event."""
    events = doc["events"]
    spans = []
    for i, e in enumerate(events):
        if e["kind"] not in ON_KINDS:
            continue
        d = e["data"]
        if e["kind"] == "fault.on":
            key, label = ("id", d.get("id")), str(d.get("fault", e["text"]))
            row = f"{label} ({d.get('id')})"
        else:
            key, label = ("proxy", d.get("proxy")), f"{d.get('toxic')} on {d.get('proxy')}"
            row = f"toxic {label}"
        off = next((x for x in events[i + 1:] if x["kind"] == ON_KINDS[e["kind"]] and x["data"].get(key[0]) == key[1]), None)
        stop = float(off["at"]) if off else end
        said = f"off at {stop:.1f} s" if off else "no off event: it expired by its lease or the proxy's kill switch"
        spans.append(_Span(row, label, float(e["at"]), stop,
                           f"<b>{_t(row)}</b><br>on at {e['at']:.1f} s, {said}<br>phase {_t(d.get('phase', ''))}"))
    return spans


def _bucket(end: float) -> float:
    """A round bucket width giving at most 30 buckets over the timeline."""
    return next((b for b in (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600) if end / b <= 30), end / 30)


def _error_rate(doc: dict[str, Any], end: float) -> tuple[list[float], list[float], list[str], float]:
    """The share of failed probe results per bucket: (bucket centres, percentages, hover, width)."""
    width = _bucket(end)
    counts: dict[int, list[int]] = {}
    for results in doc["probes"].values():
        for r in results:
            tally = counts.setdefault(int(r["at"] // width), [0, 0])
            tally[0] += 1
            tally[1] += 0 if r["ok"] else 1
    xs, ys, hover = [], [], []
    for slot, (total, failed) in sorted(counts.items()):
        xs.append((slot + 0.5) * width)
        ys.append(100.0 * failed / total)
        hover.append(f"{slot * width:g}–{(slot + 1) * width:g} s: {failed} of {total} probe results failed")
    return xs, ys, hover, width


def _anchor(at: float, end: float) -> str:
    """Labels near an edge of the chart grow inwards, so that none is cut off."""
    return "left" if at < 0.15 * end else "right" if at > 0.85 * end else "center"


def _levels(marks: list[tuple[float, str]], end: float) -> list[int]:
    """A height for each label above the chart so that no two overlap (the chart about 1000 px wide)."""
    taken: list[list[tuple[float, float]]] = []
    levels = []
    for at, label in marks:
        width = (len(label) * 7 + 20) * end / 1000
        left = {"left": at, "right": at - width, "center": at - width / 2}[_anchor(at, end)]
        level = next((i for i, row in enumerate(taken) if all(left + width < a or left > b for a, b in row)), len(taken))
        if level == len(taken):
            taken.append([])
        taken[level].append((left, left + width))
        levels.append(level)
    return levels


def figure(doc: dict[str, Any]) -> Any:
    """The timeline as a Plotly figure: lanes (phases, faults, probe results), error rate and latency sharing x."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise ChaosConfigError(INSTALL_HINT) from None

    end = _end_of(doc)
    phases, faults = _phases(doc, end), _faults(doc, end)
    probes: dict[str, list[dict[str, Any]]] = doc["probes"]
    fault_rows = list(dict.fromkeys(s.row for s in faults))
    lanes = ["phases", *fault_rows, *(f"probe {name}" for name in probes)]
    lane_px, rate_px, latency_px = 34 * len(lanes) + 20, 150, 180
    marks = [e for e in doc["events"] if e["kind"] in ("stop", "rollback") or (e["kind"] == "note" and e["data"].get("observer"))]
    labels = [(float(e["at"]), _mark_label(e)) for e in marks]
    levels = _levels(labels, end)
    top = 34 + 24 * (max(levels, default=-1) + 1)
    plot_px = lane_px + rate_px + latency_px
    gap = 36
    height = top + plot_px + 2 * gap + 110
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=gap / (plot_px + 2 * gap),
                        row_heights=[lane_px, rate_px, latency_px])

    fig.add_trace(go.Bar(
        name="phases", uid="phases", orientation="h", y=[s.row for s in phases], base=[s.start for s in phases],
        x=[max(s.end - s.start, end / 400) for s in phases], width=0.62, text=[_t(s.label) for s in phases],
        textposition="inside", insidetextanchor="middle", textfont={"color": INK, "size": 12},
        marker={"color": [FAULTED if _injects(doc, s.label) else QUIET for s in phases], "line": {"width": 0}},
        hovertext=[s.hover for s in phases], hoverinfo="text",
    ), row=1, col=1)
    fig.add_trace(go.Bar(
        name="faults on", uid="faults", orientation="h", y=[_t(s.row) for s in faults], base=[s.start for s in faults],
        x=[max(s.end - s.start, end / 400) for s in faults], width=0.5, text=[_t(s.label) for s in faults],
        textposition="inside", insidetextanchor="middle", textfont={"color": "#ffffff", "size": 11},
        marker={"color": BAD, "line": {"width": 0}}, hovertext=[s.hover for s in faults], hoverinfo="text",
    ), row=1, col=1)
    for ok, name, colour, symbol in ((True, "passed", OK, "circle"), (False, "failed", BAD, "x-thin-open")):
        marked = [(p, r) for p, rs in probes.items() for r in rs if bool(r["ok"]) is ok]
        fig.add_trace(go.Scatter(
            name=f"probe {name}", uid=name, mode="markers", x=[r["at"] for _, r in marked], y=[_t(f"probe {p}") for p, _ in marked],
            marker={"color": colour, "size": 10 if ok else 11, "symbol": symbol, "line": {"width": 2.5 if not ok else 0, "color": colour}},
            hovertext=[_probe_hover(p, r) for p, r in marked], hoverinfo="text",
        ), row=1, col=1)

    xs, ys, hover, width = _error_rate(doc, end)
    fig.add_trace(go.Bar(name="error rate", uid="errors", x=xs, y=ys, width=width * 0.92, marker={"color": BAD, "opacity": 0.75},
                         hovertext=hover, hoverinfo="text"), row=2, col=1)
    for i, (probe, series) in enumerate(probes.items()):
        colour = SERIES[i % len(SERIES)]
        fig.add_trace(go.Scatter(
            name=_t(f"latency {probe}"), uid=f"latency{i}", mode="lines+markers", x=[r["at"] for r in series],
            y=[round(float(r["duration"]) * 1000, 1) for r in series], line={"color": colour, "width": 1.6, "shape": "linear"},
            marker={"color": [colour if r["ok"] else BAD for r in series], "size": 6},
            hovertext=[_probe_hover(probe, r) for r in series], hoverinfo="text",
        ), row=3, col=1)

    shapes: list[dict[str, Any]] = []
    for s in phases:  # the phase bands, behind everything, across the three charts
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": s.start, "x1": s.end, "y0": 0, "y1": 1,
                       "fillcolor": FAULTED if _injects(doc, s.label) else QUIET, "opacity": 0.18, "line": {"width": 0},
                       "layer": "below"})
    annotations: list[dict[str, Any]] = []
    for e, (at, label), level in zip(marks, labels, levels, strict=True):
        colour = NOTE if e["kind"] == "note" else STOP if e["kind"] == "stop" else ROLLBACK
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at, "y0": 0, "y1": 1,
                       "line": {"color": colour, "width": 1.5, "dash": "dot" if e["kind"] == "note" else "dash"}})
        annotations.append({"x": at, "xref": "x", "y": 1, "yref": "paper", "text": _t(label), "xanchor": _anchor(at, end),
                            "showarrow": True,
                            "arrowhead": 0, "arrowwidth": 1.5, "arrowcolor": colour, "ax": 0, "ay": -(20 + 24 * level),
                            "font": {"color": colour, "size": 12}, "bgcolor": "rgba(255,255,255,0.92)",
                            "bordercolor": colour, "borderwidth": 1, "borderpad": 3, "captureevents": True,
                            "hovertext": _wrap(f"{at:.1f} s, {e['kind']}: {e['text']}"),
                            "name": f"{e['kind']} at {at:.3f}"})

    fig.update_layout(
        height=height, template="plotly_white", barmode="overlay", hovermode="closest", shapes=shapes, annotations=annotations,
        font={"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12, "color": INK},
        margin={"l": 190, "r": 24, "t": top, "b": 110}, paper_bgcolor="#ffffff", plot_bgcolor="#ffffff",
        legend={"orientation": "h", "x": 0, "y": -(70 / plot_px), "yanchor": "top", "font": {"color": MUTED}},
        hoverlabel={"bgcolor": "#ffffff", "bordercolor": LINE, "font": {"color": INK, "size": 12}, "align": "left"},
    )
    fig.update_xaxes(range=[0, end * 1.01], showgrid=True, gridcolor="#eaeef2", zeroline=False, ticksuffix=" s", linecolor=LINE)
    fig.update_xaxes(title={"text": "seconds since the start", "font": {"color": MUTED}}, row=3, col=1)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=[_t(lane) for lane in lanes], autorange="reversed",
                     showgrid=True, gridcolor="#f0f2f4", row=1, col=1)
    fig.update_yaxes(title={"text": "errors %", "font": {"color": MUTED}}, range=[0, 105], ticksuffix="%", gridcolor="#eaeef2", row=2, col=1)
    fig.update_yaxes(title={"text": "latency ms", "font": {"color": MUTED}}, rangemode="tozero", gridcolor="#eaeef2", row=3, col=1)
    return fig


def _injects(doc: dict[str, Any], phase: str) -> bool:
    planned = next((p for p in doc["phases"] if p["name"] == phase), None)
    return bool(planned and (planned["faults"] or planned["toxics"]))


def _mark_label(event: dict[str, Any]) -> str:
    if event["kind"] == "note":
        return f"✎ {_short(event['text'])}"
    return "■ stop" if event["kind"] == "stop" else "↺ rollback"


def _probe_hover(name: str, r: dict[str, Any]) -> str:
    mark = "passed" if r["ok"] else "FAILED"
    return (f"<b>{_t(name)}</b> ({_t(r['when'])}) at {r['at']:.1f} s: {mark}<br>{float(r['duration']) * 1000:.0f} ms"
            f"<br>{_wrap(r['detail'])}")


def _script_json(value: Any) -> str:
    """JSON safe inside a <script>: no ``<``, ``>`` or ``&`` (so no ``</script>``), nor JS's line separators."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for raw, safe in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, safe)
    return text


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s"


def render_postmortem(doc: dict[str, Any]) -> str:
    """The page for ``doc``, a redacted ``chaoskit.run/1`` document. Raises ChaosConfigError
    with the install hint when plotly is not installed."""
    fig = figure(doc)
    import plotly.offline

    e = html.escape
    status = str(doc["status"])
    colour = _COLOURS.get(status, "#6e7781")
    events = doc["events"]
    notes = [x for x in events if x["kind"] == "note" and x["data"].get("observer")]
    probes: dict[str, list[dict[str, Any]]] = doc["probes"]
    results = [r for rs in probes.values() for r in rs]
    failed = sum(1 for r in results if not r["ok"])
    faults_on = sum(1 for x in events if x["kind"] in ON_KINDS)
    phases_run = sum(1 for x in events if x["kind"] == "phase.start")
    started = str(doc["started"]).replace("T", " ").removesuffix("+00:00") + (" UTC" if str(doc["started"]).endswith("+00:00") else "")
    reasons = "".join(f"<li>{e(str(r))}</li>" for r in doc["reasons"])

    verdicts = []
    for name, rs in probes.items():
        bad = [r for r in rs if not r["ok"]]
        share = 100.0 * (len(rs) - len(bad)) / len(rs) if rs else 0.0
        first = (f"<span class=at>{bad[0]['at']:.1f} s</span> <span class=when>{e(str(bad[0]['when']))}</span> {e(str(bad[0]['detail']))}"
                 if bad else '<span class="quiet">none</span>')
        verdicts.append(f'<tr><td><code>{e(name)}</code></td><td class=num>{len(rs) - len(bad)}/{len(rs)}'
                        f'<span class=meter><span style="width:{share:.0f}%"></span></span></td><td>{first}</td></tr>')
    note_items = "".join(f"<li><span class=at>{n['at']:.1f} s</span> {e(str(n['text']))}</li>" for n in notes)
    by_fault = doc["injections"]["by_fault"]
    injected = "".join(f"<tr><td><code>{e(str(k))}</code></td><td class=num>{int(v)}</td></tr>" for k, v in sorted(by_fault.items()))
    reproduce = "".join(f"<li><pre><code>{e(str(r['marker']))}\ndef test_it(chaos): ...</code></pre>"
                        f"<p>then <code>{e(str(r['command']))}</code></p></li>" for r in doc["reproduce"])
    rows = "".join(f'<tr class="k-{e(str(x["kind"]).replace(".", "-"))}"><td class=num>{float(x["at"]):.2f} s</td>'
                   f'<td><span class=kind>{e(str(x["kind"]))}</span></td><td>{e(str(x["text"]))}</td></tr>' for x in events)
    load = doc.get("load")
    if load:
        cells = [("requests", f"{int(load['requests'])}"), ("failures", f"{int(load['failures'])}"),
                 ("failure ratio", f"{float(load['failure_ratio']):.1%}"), ("p50", f"{float(load['p50_ms']):.0f} ms"),
                 ("p95", f"{float(load['p95_ms']):.0f} ms"), ("p99", f"{float(load['p99_ms']):.0f} ms"),
                 ("throughput", f"{float(load['rps']):.1f} req/s")]
        load_html = ('<table id="load"><tr>' + "".join(f"<th>{k}</th>" for k, _ in cells) + "</tr><tr>"
                     + "".join(f"<td class=num>{v}</td>" for _, v in cells) + "</tr></table>")
    else:
        load_html = '<p class="quiet" id="load">No load ran.</p>'
    cards = [(phases_run, "phases run"), (faults_on, "faults on"), (len(results), "probe results"), (failed, "failed"),
             (len(notes), "notes"), (int(doc["injections"]["count"]), "requests failed on purpose")]
    config = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"],
              "toImageButtonOptions": {"filename": "postmortem", "scale": 2}}
    plot = {**json.loads(fig.to_json(remove_uids=False)), "config": config}  # the uids name the traces in the SVG

    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Post-mortem: {e(str(doc['title']))}</title>
<style>
:root{{--ink:{INK};--muted:{MUTED};--line:{LINE};--soft:#f6f8fa;--verdict:{colour}}}
*{{box-sizing:border-box}} body{{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);margin:0;background:#fff}}
main{{max-width:1240px;margin:0 auto;padding:2rem 1.5rem 4rem}}
header{{border-bottom:1px solid var(--line);padding-bottom:1.2rem;margin-bottom:1.2rem}}
.eyebrow{{text-transform:uppercase;letter-spacing:.08em;font-size:.75rem;color:var(--muted);margin:0}}
h1{{font-size:1.9rem;line-height:1.2;margin:.2rem 0 .6rem;font-weight:650}} h2{{font-size:1.1rem;margin:2rem 0 .6rem;font-weight:600}}
.verdict{{display:inline-flex;gap:.5rem;align-items:center;padding:.25rem .8rem;border-radius:2rem;background:var(--verdict);color:#fff;
font-weight:600}} .verdict small{{font-weight:500;opacity:.85}}
.meta{{color:var(--muted);margin:.6rem 0 0;display:flex;flex-wrap:wrap;gap:.3rem 1.4rem}} .meta b{{color:var(--ink);font-weight:550}}
#reasons{{margin:.8rem 0 0;padding-left:1.2rem;color:var(--verdict)}} #reasons li{{margin:.15rem 0}}
.cards{{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.7rem;margin:1rem 0}}
.card{{border:1px solid var(--line);border-radius:8px;padding:.6rem .9rem;background:var(--soft)}}
.card b{{display:block;font-size:1.5rem;font-variant-numeric:tabular-nums}} .card span{{color:var(--muted);font-size:.85rem}}
.chart{{border:1px solid var(--line);border-radius:10px;padding:.4rem;margin-top:.4rem}}
.grid{{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 2rem}}
table{{border-collapse:collapse;width:100%}} th,td{{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}}
th{{font-size:.8rem;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}}
.num{{font-variant-numeric:tabular-nums;white-space:nowrap}} code,pre{{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace}}
pre{{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;margin:.3rem 0;overflow:auto}}
.meter{{display:inline-block;width:5rem;height:.45rem;margin-left:.6rem;border-radius:1rem;background:{BAD};vertical-align:middle;overflow:hidden}}
.meter span{{display:block;height:100%;background:{OK}}} .at{{font-variant-numeric:tabular-nums;color:var(--muted);margin-right:.4rem}}
.when{{font-size:.8rem;border:1px solid var(--line);border-radius:1rem;padding:0 .4rem;color:var(--muted)}}
.quiet{{color:var(--muted)}} #notes{{list-style:none;padding:0;margin:0}} #notes li{{border-left:3px solid {NOTE};padding:.2rem .7rem;margin:.4rem 0}}
#reproduce{{list-style:none;padding:0}} #reproduce p{{margin:.2rem 0 .8rem;color:var(--muted)}}
.kind{{font:12px ui-monospace,monospace;padding:.05rem .45rem;border-radius:1rem;background:var(--soft);border:1px solid var(--line)}}
.k-fault-on .kind,.k-toxic-on .kind{{background:{FAULTED};border-color:{FAULTED}}} .k-stop .kind{{background:{STOP};color:#fff;border-color:{STOP}}}
.k-note .kind{{color:{NOTE};border-color:{NOTE}}} .k-probe td:last-child{{color:var(--muted)}}
#events td{{font-size:.9rem}} #verdicts td:first-child{{white-space:nowrap}}
</style></head><body><main>
<header>
<p class="eyebrow">chaoskit game day · post-mortem</p>
<h1>{e(str(doc['title']))}</h1>
<span class="verdict" id="status">{e(status)} <small>exit {int(doc['exit_code'])}</small></span>
<p class="meta"><span>seed <b>{e(str(doc['seed']))}</b></span><span>started <b>{e(started)}</b></span>
<span>duration <b>{_seconds(float(doc['duration']))}</b></span>
<span>target <b>{e(str(doc['target']['url']))}</b> ({e(str(doc['target']['environment']))})</span>
{f"<span>scenario <b>{e(str(doc['scenario']))}</b></span>" if doc.get('scenario') else ''}</p>
{f'<ul id="reasons">{reasons}</ul>' if reasons else '<p class="quiet">The steady state held.</p>'}
</header>
<section class="cards">{''.join(f'<div class="card"><b>{n}</b><span>{label}</span></div>' for n, label in cards)}</section>
<h2>Timeline</h2>
<div class="chart"><div id="chart" style="height:{fig.layout.height}px"></div></div>
<div class="grid">
<section><h2>Verdicts per probe</h2><table id="verdicts"><tr><th>probe</th><th>passed</th><th>first failure</th></tr>
{''.join(verdicts) or '<tr><td colspan=3 class="quiet">No probe ran.</td></tr>'}</table></section>
<section><h2>Observers' notes</h2>{f'<ul id="notes">{note_items}</ul>' if note_items else '<p class="quiet" id="notes">None.</p>'}</section>
<section><h2>What was injected</h2><table id="injections"><tr><th>fault</th><th>requests failed on purpose</th></tr>
{injected or '<tr><td colspan=2 class="quiet">none</td></tr>'}</table></section>
<section><h2>Load</h2>{load_html}</section>
</div>
<h2>Reproduce in pytest</h2>{f'<ul id="reproduce">{reproduce}</ul>' if reproduce else '<p class="quiet" id="reproduce">No fault in this scenario.</p>'}
<h2>Event log</h2><table id="events"><tr><th>at</th><th>kind</th><th>what</th></tr>{rows}</table>
</main>
<script>{plotly.offline.get_plotlyjs()}</script>
<script>(function(){{var p={_script_json(plot)};Plotly.newPlot("chart",p.data,p.layout,p.config);}})();</script>
</body></html>
"""


def write_postmortem(doc: dict[str, Any], directory: Path) -> Path | None:
    """Write ``postmortem.html`` into ``directory``; without plotly, warn with the install hint and write nothing
    (the other reports are already written, and a game day's end must not fail for a chart)."""
    try:
        page = render_postmortem(doc)
    except ChaosConfigError as exc:
        if str(exc) != INSTALL_HINT:
            raise
        warnings.warn(ChaosWarning(f"{INSTALL_HINT} (the other reports are written)"), stacklevel=2)
        return None
    path = directory / "postmortem.html"
    path.write_text(page, encoding="utf-8")
    return path


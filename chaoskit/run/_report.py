"""A run's reports: the ``chaoskit.run/1`` JSON document, JUnit XML, and an HTML page with a timeline.

The JSON is the one source: JUnit and HTML are rendered from it, so they never disagree. It is
of the ``chaoskit.report/1`` family (docs/report-schema.md): fields are only added within
``/1``, and secrets never reach it (the proxy redacts its journal before it stores it; the
reports are checked against the same policy).
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from .._redact import redact_text

if TYPE_CHECKING:
    from ._runner import RunResult

__all__ = ["SCHEMA", "document", "redacted_document", "render_html", "render_junit", "write_documents", "write_reports"]

SCHEMA = "chaoskit.run/1"


def document(result: RunResult) -> dict[str, Any]:
    """The run as plain JSON."""
    s = result.scenario
    faults = Counter(str(e["fault"]) for e in result.injections)
    return {
        "schema": SCHEMA,
        "title": s.title,
        "scenario": str(s.file) if s.file else None,
        "target": {"url": s.target.url, "environment": s.target.environment},
        "seed": result.seed,
        "status": result.status,
        "exit_code": result.exit_code,
        "reasons": list(result.reasons),
        "started": result.started,
        "duration": round(result.duration, 3),
        "phases": [{"name": p.name, "start": p.start, "end": p.end, "faults": [f.fault for f in p.faults],
                    "toxics": [f"{t.type} on {t.name}" for t in p.toxics]} for p in s.method],
        "events": [e.to_dict() for e in result.events],
        "probes": result.probes,
        "injections": {"count": sum(faults.values()), "by_fault": dict(faults), "calls": result.injections},
        "load": result.load.to_json() if result.load is not None else None,
        "reproduce": [_reproduce(f, result.seed) for f in _unique_faults(result)],
    }


def _unique_faults(result: RunResult) -> list[Any]:
    seen: dict[str, Any] = {}
    for phase in result.scenario.method:
        for spec in phase.faults:
            seen.setdefault(spec.fault + json.dumps(dict(spec.params), sort_keys=True, default=str), spec)
    return list(seen.values())


def _reproduce(spec: Any, seed: int | None) -> dict[str, Any]:
    """The same fault in a pytest test: the marker line to paste, and the seed."""
    args = [repr(spec.fault)]
    args += [f"{k}={v!r}" for k, v in dict(spec.params).items()]
    if spec.rate < 1:
        args.append(f"rate={spec.rate!r}")
    if spec.times is not None:
        args.append(f"times={spec.times!r}")
    marker = f"@pytest.mark.chaos({', '.join(args)})"
    return {"fault": spec.fault, "params": dict(spec.params), "seed": seed, "marker": marker,
            "command": f"pytest --chaos-seed {seed}" if seed is not None else "pytest"}


# ---- JUnit -------------------------------------------------------------------------------------


def render_junit(doc: dict[str, Any]) -> str:
    """One test suite per run: a case per probe check and one for the run's verdict."""
    cases: list[ET.Element] = []
    for name, results in doc["probes"].items():
        for r in results:
            case = ET.Element("testcase", classname=f"chaoskit.run.{doc['title']}", name=f"{name} [{r['when']} @ {r['at']:.1f}s]",
                              time=f"{r['duration']:.3f}")
            if not r["ok"]:
                ET.SubElement(case, "failure", message=r["detail"]).text = r["detail"]
            cases.append(case)
    verdict = ET.Element("testcase", classname=f"chaoskit.run.{doc['title']}", name="steady state held", time=f"{doc['duration']:.3f}")
    if doc["status"] != "held":
        text = "; ".join(doc["reasons"]) or doc["status"]
        ET.SubElement(verdict, "failure", message=f"{doc['status']}: {text}").text = text
    cases.append(verdict)
    suite = ET.Element("testsuite", name=f"chaoskit run: {doc['title']}", tests=str(len(cases)),
                       failures=str(sum(1 for c in cases if c.find("failure") is not None)), time=f"{doc['duration']:.3f}")
    properties = ET.SubElement(suite, "properties")
    for key in ("seed", "status", "exit_code", "scenario"):
        ET.SubElement(properties, "property", name=f"chaoskit.{key}", value=str(doc[key]))
    ET.SubElement(properties, "property", name="chaoskit.injections", value=str(doc["injections"]["count"]))
    suite.extend(cases)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


# ---- HTML --------------------------------------------------------------------------------------

_COLOURS = {"held": "#1a7f37", "deviated": "#cf222e", "aborted": "#bc4c00", "invalid": "#6e7781", "infrastructure": "#6e7781"}


def render_html(doc: dict[str, Any]) -> str:
    """A self-contained page: the verdict, a timeline of phases, faults and probe results, the
    injections by fault, the load, and the lines that reproduce each fault in pytest."""
    e = html.escape
    total = max(doc["duration"], max((p["end"] for p in doc["phases"]), default=0.0), 1e-9)

    def left(at: float) -> str:
        return f"{max(min(at / total, 1.0), 0.0) * 100:.2f}%"

    rows = []
    for phase in doc["phases"]:
        width = max((phase["end"] - phase["start"]) / total * 100, 0.5)
        label = e(phase["name"] + (": " + ", ".join(phase["faults"] + phase["toxics"]) if phase["faults"] or phase["toxics"] else ""))
        rows.append(f'<div class="row"><span class="name">{e(phase["name"])}</span><div class="track">'
                    f'<div class="bar{" fault" if phase["faults"] or phase["toxics"] else ""}" style="left:{left(phase["start"])};'
                    f'width:{width:.2f}%" title="{label}">{label}</div></div></div>')
    for name, results in doc["probes"].items():
        dots = "".join(_dot(r, left(r["at"])) for r in results)
        passed = sum(r["ok"] for r in results)
        rows.append(f'<div class="row"><span class="name">probe {e(name)} ({passed}/{len(results)})</span><div class="track">{dots}</div></div>')
    injections = "".join(f"<tr><td><code>{e(k)}</code></td><td>{v}</td></tr>" for k, v in doc["injections"]["by_fault"].items())
    reproduce = "".join(f"<li><code>{e(r['marker'])}</code> with <code>{e(r['command'])}</code></li>" for r in doc["reproduce"])
    reasons = "".join(f"<li>{e(r)}</li>" for r in doc["reasons"])
    events = "".join(f"<tr><td>{ev['at']:.2f} s</td><td>{e(ev['kind'])}</td><td>{e(ev['text'])}</td></tr>" for ev in doc["events"])
    load = doc["load"]
    load_html = ("<p>No load ran.</p>" if load is None else
                 f"<p>{load['requests']} requests, {load['failures']} failed ({load['failure_ratio']:.1%}); "
                 f"p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms; {load['rps']:.1f} req/s</p>")
    colour = _COLOURS.get(doc["status"], "#6e7781")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chaoskit run: {e(doc['title'])}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2328;padding:0 1rem}}
h1{{font-size:1.5rem;margin-bottom:.2rem}} .verdict{{display:inline-block;padding:.2rem .7rem;border-radius:1rem;color:#fff;
background:{colour};font-weight:600}} .meta{{color:#57606a}} table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}}
td,th{{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}} code{{font-size:.9em}}
.timeline{{border:1px solid #d0d7de;border-radius:6px;padding:.6rem}} .row{{display:flex;align-items:center;height:1.9rem}}
.name{{width:14rem;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:#57606a}}
.track{{position:relative;flex:1;height:1.3rem;background:#f6f8fa;border-radius:3px}}
.bar{{position:absolute;top:0;height:100%;background:#d0d7de;border-radius:3px;font-size:11px;line-height:1.3rem;padding:0 .3rem;
overflow:hidden;white-space:nowrap;box-sizing:border-box}} .bar.fault{{background:#ffb3ad}}
.dot{{position:absolute;top:.3rem;width:.7rem;height:.7rem;margin-left:-.35rem;border-radius:50%}} .ok{{background:#1a7f37}}
.bad{{background:#cf222e}}
</style></head><body>
<h1>{e(doc['title'])}</h1>
<p><span class="verdict" id="status">{e(doc['status'])}</span> <span class="meta">exit {doc['exit_code']} · seed {e(str(doc['seed']))} ·
started {e(doc['started'])} · {doc['duration']:.1f} s · target {e(doc['target']['url'])} ({e(doc['target']['environment'])})</span></p>
{f'<ul id="reasons">{reasons}</ul>' if reasons else '<p>The steady state held.</p>'}
<h2>Timeline</h2><div class="timeline" id="timeline">{''.join(rows)}</div>
<h2>Injections</h2><table id="injections"><tr><th>fault</th><th>injected</th></tr>{injections or '<tr><td colspan=2>none</td></tr>'}</table>
<h2>Reproduce in pytest</h2><ul id="reproduce">{reproduce or '<li>no fault in this scenario</li>'}</ul>
<h2>Load</h2>{load_html}
<h2>Events</h2><table id="events"><tr><th>at</th><th>kind</th><th>what</th></tr>{events}</table>
</body></html>
"""
    return page


def _dot(result: dict[str, Any], left: str) -> str:
    """One probe result on the timeline: green or red, its detail on hover."""
    title = html.escape(f"{result['at']:.1f} s {result['when']}: {result['detail']}")
    return f'<span class="dot {"ok" if result["ok"] else "bad"}" style="left:{left}" title="{title}"></span>'


def redacted_document(result: RunResult, known: Sequence[str] = ()) -> dict[str, Any]:
    """:func:`document` through the redaction policy once more: the proxy redacted its journal
    already; this is for what the run itself wrote (probe details that echo an app's error, a
    note). ``known``: secrets hidden wherever they appear (the proxy's control token)."""
    return json.loads(redact_text(json.dumps(document(result), default=str), known))  # type: ignore[no-any-return]


def write_reports(result: RunResult, directory: Path, formats: tuple[str, ...], known: Sequence[str] = ()) -> dict[str, Path]:
    """Write the chosen reports into ``directory``; returns where each went."""
    return write_documents(redacted_document(result, known), directory, formats)


def write_documents(doc: dict[str, Any], directory: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    """Write the chosen reports of a redacted document (:func:`redacted_document`) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "json" in formats:
        written["json"] = directory / "run.json"
        written["json"].write_text(json.dumps(doc, indent=2) + "\n")
    if "junit" in formats:
        written["junit"] = directory / "junit.xml"
        written["junit"].write_text(render_junit(doc))
    if "html" in formats:
        written["html"] = directory / "run.html"
        written["html"].write_text(render_html(doc))
    return written

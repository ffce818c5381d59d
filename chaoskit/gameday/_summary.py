"""The game day's Markdown summary, to paste into an incident document: what was injected, what
held and what broke, the observers' notes, and how to reproduce each fault in pytest. Rendered
from the run's JSON document (already redacted), so it never says more than the report."""

from __future__ import annotations

from typing import Any

__all__ = ["render_markdown"]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict[str, Any]) -> str:
    """``doc``: a ``chaoskit.run/1`` document (see :func:`chaoskit.run.document`)."""
    lines = [f"# Game day: {doc['title']}", ""]
    lines.append(f"- **Verdict**: {doc['status']} (exit {doc['exit_code']})")
    lines.append(f"- **Target**: {doc['target']['url']} ({doc['target']['environment']})")
    lines.append(f"- **Started**: {doc['started']} UTC, {doc['duration']:.1f} s; seed {doc['seed']}")
    if doc.get("scenario"):
        lines.append(f"- **Scenario**: `{doc['scenario']}`")
    for reason in doc["reasons"]:
        lines.append(f"- **Why**: {_cell(reason)}")
    events = doc["events"]
    lines += ["", "## What was injected", ""]
    injected = [e for e in events if e["kind"] in ("fault.on", "fault.off", "toxic.on", "toxic.off")]
    if injected:
        lines += ["| at | what |", "|---:|---|"]
        lines += [f"| {e['at']:.1f} s | {_cell(e['text'])} |" for e in injected]
        by_fault = doc["injections"]["by_fault"]
        if by_fault:
            counted = ", ".join(f"{fault} x{n}" for fault, n in sorted(by_fault.items()))
            lines += ["", f"Requests the proxy failed on purpose: {doc['injections']['count']} ({counted})."]
    else:
        lines.append("Nothing: no phase with a fault ran.")
    lines += ["", "## What held and what broke", ""]
    if doc["probes"]:
        lines += ["| probe | passed | failed | first failure |", "|---|---:|---:|---|"]
        for name, results in doc["probes"].items():
            failed = [r for r in results if not r["ok"]]
            first = f"{failed[0]['at']:.1f} s ({failed[0]['when']}): {failed[0]['detail']}" if failed else ""
            lines.append(f"| {_cell(name)} | {len(results) - len(failed)} | {len(failed)} | {_cell(first)} |")
    else:
        lines.append("No probe ran.")
    notes = [e for e in events if e["kind"] == "note" and e["data"].get("observer")]
    lines += ["", "## Observers' notes", ""]
    lines += [f"- {e['at']:.1f} s: {_cell(e['text'])}" for e in notes] or ["None."]
    if doc["reproduce"]:
        lines += ["", "## Reproduce in pytest", ""]
        for item in doc["reproduce"]:
            lines += ["```python", item["marker"], "def test_it(chaos): ...", "```", f"`{item['command']}`", ""]
    load = doc.get("load")
    if load:
        figures = ", ".join(f"{k}: {v}" for k, v in load.items() if isinstance(v, (int, float, str)))
        lines += ["", "## Load", "", _cell(figures)]
    return "\n".join(lines).rstrip() + "\n"

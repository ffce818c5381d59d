"""A game day's ``chaoskit.run/1`` document, built by hand: three phases run when the operator
said (not at their planned times), two faults, a probe that fails while they are on, two observer
notes, a stop and the rollback; hostile text in a note and in a probe's detail."""

from __future__ import annotations

from typing import Any

EVIL = "<script>alert(1)</script>"
HOSTILE_NOTE = f"""checkout looks "odd" {EVIL} 'sure'"""
HOSTILE_DETAIL = f"""turn 1: expected 'anthropic', got "{EVIL}" & more"""
#: (name, started, ended) of the phases as run; the plan said 0-5, 5-15 and 15-25.
PHASES = (("baseline", 2.0, 6.0), ("openai-down", 8.0, 18.0), ("recovery", 20.0, 24.0))
#: (id, fault, on, off)
FAULTS = (("f-1", "openai.server_error", 8.1, 17.9), ("f-2", "anthropic.overloaded", 12.0, 17.9))
#: (at, text) of the observers' notes: one in baseline, one in openai-down.
NOTES = ((4.0, HOSTILE_NOTE), (14.5, "fallback slow but answering"))
STOP_AT, ROLLBACK_AT, END = 22.0, 22.3, 23.0


def event(at: float, kind: str, text: str, **data: Any) -> dict[str, Any]:
    return {"at": at, "kind": kind, "text": text, "data": data}


def result(at: float, ok: bool, when: str, detail: str = "fine", duration: float = 0.12) -> dict[str, Any]:
    return {"at": at, "when": when, "ok": ok, "detail": detail, "duration": duration, "attempts": 1}


def make_document() -> dict[str, Any]:
    health = [result(float(t), not 12 <= t <= 16, "continuous", "fine" if not 12 <= t <= 16 else "HTTP 503", 0.05 + t / 100)
              for t in range(2, 22)]
    chat = [result(0.4, True, "before", duration=0.8), result(14.2, False, "during_fault", HOSTILE_DETAIL, 2.4)]
    events = [event(0.0, "run.start", "game day: outage (seed 7)", target="http://127.0.0.1:8000", seed=7, gameday=True)]
    for name, start, end in PHASES:
        events.append(event(start, "phase.start", f"phase {name}", phase=name))
        events.append(event(min(end, STOP_AT), "phase.end", f"phase {name} ended", phase=name))
    for fid, fault, on, off in FAULTS:
        events.append(event(on, "fault.on", f"{fault} on ({fid}, phase openai-down)", fault=fault, id=fid, phase="openai-down"))
        events.append(event(off, "fault.off", f"{fault} off ({fid})", fault=fault, id=fid, phase="openai-down"))
    for at, text in NOTES:
        events.append(event(at, "note", text, observer=True))
    events.append(event(9.0, "note", "anthropic-answers: not counted, a fault came off while it ran"))  # not an observer's
    for name, results in (("health", health), ("order-question", chat)):
        events += [event(r["at"], "probe", f"{name} ({r['when']}): {'ok' if r['ok'] else 'FAILED'}: {r['detail']}", probe=name,
                         ok=r["ok"], when=r["when"]) for r in results]
    events.append(event(STOP_AT, "stop", "stopped: the on-call engineer pulled the plug"))
    events.append(event(ROLLBACK_AT, "rollback", "every fault and toxic is off"))
    events.append(event(END, "run.end", "game day aborted", status="aborted"))
    events.sort(key=lambda e: e["at"])
    return {
        "schema": "chaoskit.run/1", "title": f"Provider outage {EVIL}", "scenario": "scenarios/outage.yaml",
        "target": {"url": "http://127.0.0.1:8000", "environment": "staging"}, "seed": 7, "status": "aborted", "exit_code": 1,
        "reasons": ["stopped: the on-call engineer pulled the plug", f"probe 'order-question' (during_fault) failed: {HOSTILE_DETAIL}"],
        "started": "2026-12-05T19:00:00+00:00", "duration": END,
        "phases": [{"name": "baseline", "start": 0.0, "end": 5.0, "faults": [], "toxics": []},
                   {"name": "openai-down", "start": 5.0, "end": 15.0, "faults": ["openai.server_error", "anthropic.overloaded"],
                    "toxics": []},
                   {"name": "recovery", "start": 15.0, "end": 25.0, "faults": [], "toxics": []}],
        "events": events,
        "probes": {"health": health, "order-question": chat},
        "injections": {"count": 14, "by_fault": {"openai.server_error": 9, "anthropic.overloaded": 5}, "calls": []},
        "load": {"requests": 1200, "failures": 30, "failure_ratio": 0.025, "rps": 40.0, "avg_ms": 80.0, "p50_ms": 60.0,
                 "p95_ms": 240.0, "p99_ms": 900.0, "max_ms": 1500.0},
        "reproduce": [{"fault": f, "params": {}, "seed": 7, "marker": f"@pytest.mark.chaos({f!r})", "command": "pytest --chaos-seed 7"}
                      for f in ("openai.server_error", "anthropic.overloaded")],
    }


def plot_of(page: str) -> dict[str, Any]:
    """The figure the page hands to Plotly.newPlot: its data, layout and config, as JSON."""
    import json
    import re

    found = re.search(r"<script>\(function\(\)\{var p=(.*?);Plotly\.newPlot\(", page, re.S)
    assert found is not None, "no Plotly.newPlot call in the page"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def traces(plot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figure's traces by their uid."""
    return {t["uid"]: t for t in plot["data"]}

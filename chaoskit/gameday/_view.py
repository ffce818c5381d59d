"""What the full-screen runbook shows, as Rich renderables made from the game day's state: the
phase with its clock, the faults on the proxy with their TTLs, each probe's history against its
steady-state band, and event lines. Pure functions, so the screen only lays them out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..scenario._window import nearest_rank

if TYPE_CHECKING:
    from ..run._events import RunEvent
    from ..scenario import Phase, Probe, Scenario

__all__ = ["event_line", "faults_table", "phase_view", "probes_table"]

#: How many results a probe's history shows, newest last.
HISTORY = 24
#: The span, in seconds, of the error rate and latency shown for a probe without a window of its own.
SPAN = 30.0

_KIND_STYLE = {
    "run.start": "bold", "run.end": "bold", "phase.start": "cyan", "phase.end": "cyan", "fault.on": "red",
    "fault.off": "green", "toxic.on": "red", "toxic.off": "green", "stop": "bold red", "rollback": "yellow",
    "load": "magenta", "note": "dim", "pause": "yellow", "resume": "yellow",
}


def phase_view(state: str, phase: Phase | None, left: float, next_phase: Phase | None) -> RenderableType:
    """The current phase with its elapsed and remaining time, or what comes next and the keys for it."""
    if phase is not None:
        elapsed = phase.duration - left
        head = Text.assemble(("PAUSED " if state == "paused" else "RUNNING ", "bold yellow" if state == "paused" else "bold green"),
                             (f"phase {phase.name}", "bold"), f"  {elapsed:5.1f} s elapsed, {left:5.1f} s left of {phase.duration:g} s")
        bar = ProgressBar(total=max(phase.duration, 1e-9), completed=elapsed, width=None)
        return Group(head, Text(f"injecting: {phase.injects}", style="red" if phase.faults or phase.toxics else "dim"), bar)
    if next_phase is not None and state == "waiting":
        return Group(Text.assemble(("NEXT ", "bold cyan"), (f"phase {next_phase.name}", "bold"), f" for {next_phase.duration:g} s"),
                     Text(f"will inject: {next_phase.injects}"),
                     Text("Enter runs it · s skips it · a aborts · n adds a note", style="bold"))
    labels = {"starting": "starting: safety rules, proxy, target, steady state before…", "between": "between phases",
              "ending": "ending: faults off, rollback, steady state after, reports…"}
    return Text(labels.get(state, state), style="bold")


def faults_table(faults: Sequence[dict[str, Any]], since_poll: float) -> Table:
    """The faults on the proxy now (as its control API lists them), with the seconds left of each lease."""
    table = Table(expand=True, box=None, padding=(0, 1), header_style="bold", title="faults on the proxy", title_justify="left")
    for column in ("fault", "id", "phase", "TTL left", "fired"):
        table.add_column(column, no_wrap=True)
    for f in faults:
        left = max(float(f.get("expires_in", 0.0)) - since_poll, 0.0)
        label = str(f.get("label") or "")
        table.add_row(Text(str(f.get("fault")), style="red"), str(f.get("id")), label.rpartition(": ")[2], f"{left:4.1f} s",
                      str(f.get("fired", "")))
    if not faults:
        table.add_row(Text("none", style="green"), "", "", "", "")
    return table


def probes_table(scenario: Scenario, probes: dict[str, list[dict[str, Any]]], now: float) -> Table:
    """Each probe's recent pass/fail history, its error rate and latency over its window, and the band it must stay in."""
    table = Table(expand=True, box=None, padding=(0, 1), header_style="bold", title="steady state", title_justify="left")
    for column in ("probe", "history", "passed", "error rate", "p50 / p95", "band"):
        table.add_column(column, no_wrap=column in ("probe", "history"))
    for probe in scenario.steady_state:
        results = probes.get(probe.name, [])
        history = Text()
        for r in results[-HISTORY:]:
            history.append("✓" if r["ok"] else "✗", style="green" if r["ok"] else "bold red")
        span = probe.window.span if probe.window is not None else SPAN
        recent = [r for r in results if now - span <= r["at"] + r["duration"] <= now]
        rate = (1 - sum(r["ok"] for r in recent) / len(recent)) if recent else None
        durations = [float(r["duration"]) for r in recent]
        p50, p95 = nearest_rank(durations, 50), nearest_rank(durations, 95)
        band, breached = _band(probe, rate, durations)
        table.add_row(probe.name, history, f"{sum(r['ok'] for r in results)}/{len(results)}",
                      Text("–" if rate is None else f"{rate:.0%}", style="bold red" if breached else ""),
                      "–" if p50 is None or p95 is None else f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms",
                      Text(band, style="bold red" if breached else "dim"))
    return table


def _band(probe: Probe, rate: float | None, durations: Sequence[float]) -> tuple[str, bool]:
    """The steady-state band of a probe, in words, and whether the recent results are outside it."""
    window = probe.window
    if window is None:
        return "every check passes", bool(rate)
    parts, breached = [], False
    if window.success_ratio is not None:
        parts.append(f"errors ≤ {1 - window.success_ratio:.0%}")
        breached |= rate is not None and rate > 1 - window.success_ratio
    if window.latency_percentile is not None:
        bound = window.latency_percentile
        latency = nearest_rank(durations, bound.percentile)
        parts.append(f"p{bound.percentile:g} < {bound.below * 1000:.0f} ms")
        breached |= latency is not None and latency >= bound.below
    return f"{', '.join(parts) or 'any'} over {window.span:g} s", breached


def event_line(event: RunEvent) -> Text:
    """One event as ``[  12.3s] kind  text``, coloured by kind (probe results by outcome)."""
    style = _KIND_STYLE.get(event.kind, "")
    if event.kind == "probe":
        style = "green" if event.data.get("ok") else "bold red"
    if event.kind == "note" and event.data.get("observer"):
        style = "bold magenta"
    return Text.assemble((f"[{event.at:7.1f}s] ", "dim"), (f"{event.kind:<11} ", style), event.text)

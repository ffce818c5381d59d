"""``chaoskit run SCENARIO``: validate, run, report; the exit code is the verdict."""

from __future__ import annotations

import argparse
from typing import Any

from ._terminal import add_run_options, on_signals, print_verdict, read_scenario

__all__ = ["add_parser", "main", "plan"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run a scenario against a deployed app through the chaos proxy",
                       description="Run a scenario: steady state before, the phases' faults on the chaos proxy, "
                                   "probes and stop conditions, rollback, steady state after, reports. Exit 0: the "
                                   "steady state held; 1: it deviated (or the run was stopped); 2: invalid scenario "
                                   "or usage, or refused (another run or game day holds the proxy); 3: infrastructure "
                                   "(proxy or target not there, or the proxy stopped answering).")
    add_run_options(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit; touch nothing")
    p.add_argument("--quiet", action="store_true", help="print failed probes only, not every passing one")


def main(ns: argparse.Namespace) -> int:
    import anyio

    from ._events import EventLog
    from ._progress import Progress
    from ._report import write_reports
    from ._runner import EXIT_INVALID, Runner, RunOptions

    scenario = read_scenario("run", ns)
    if scenario is None:
        return EXIT_INVALID
    if ns.dry_run:
        print(plan(scenario))
        return 0
    log = EventLog()
    log.listen(Progress(quiet=ns.quiet))
    runner = Runner(scenario, RunOptions(accept_production_risk=ns.accept_production, report_dir=ns.report_dir, lease=ns.lease), log)

    async def go() -> Any:
        on_signals("run", runner.abort, runner.emergency_off)
        return await runner.run()

    result = anyio.run(go)
    result.duration = log.clock() - log.started
    log.emit("run.end", f"{result.status}: exit {result.exit_code}")
    result.events = list(log.events)
    directory = ns.report_dir or scenario.report.directory
    if result.status != "invalid":
        result.reports = write_reports(result, directory, tuple(scenario.report.formats), runner.secrets())
    print_verdict("run", scenario.title, result)
    return result.exit_code


def plan(scenario: Any) -> str:
    """The run as it would go, for ``--dry-run``."""
    s = scenario
    lines = [f"scenario: {s.title}" + (f" ({s.file})" if s.file else ""),
             f"target: {s.target.url} ({s.target.environment})", f"seed: {s.seed if s.seed is not None else 'the proxy’s'}"]
    if s.proxy is not None:
        if s.proxy.url:
            lines.append(f"proxy: the running one at {s.proxy.url}")
        else:
            ups = ", ".join(f"{u.name} -> {u.url} ({u.provider})" for u in s.proxy.upstreams.values())
            lines.append(f"proxy: started on {s.proxy.listen}, control {s.proxy.control}; upstreams: {ups}")
    for when in ("before", "after"):
        names = [p.name for p in s.steady_state if (p.before if when == "before" else p.after)]
        lines.append(f"steady state {when}: {', '.join(names) or 'none'}")
    watched = [f"{p.name} ({p.mode}, every {p.interval:g} s)" for p in s.steady_state if p.mode in ("continuous", "during_fault")]
    lines.append(f"watched during the method: {', '.join(watched) or 'none'}")
    lines.append("method:")
    for phase in s.method:
        what = [f.fault + (f" rate={f.rate:g}" if f.rate < 1 else "") + (f" times={f.times}" if f.times is not None else "")
                for f in phase.faults] + [f"toxic {t.type} on {t.name}" for t in phase.toxics]
        lines.append(f"  {phase.start:7.1f}s - {phase.end:7.1f}s  {phase.name}: {', '.join(what) or 'no fault'}")
    for condition in s.stop_conditions:
        lines.append(f"stop if: probe {condition.probe}" + (f" success ratio < {condition.success_ratio_below:g}" if condition.success_ratio_below is not None else "")
                     + (f" p{condition.percentile:g} latency > {condition.latency_above:g} s" if condition.latency_above is not None else "")
                     + (f" held for {condition.held_for:g} s" if condition.held_for else ""))
    lines.append(f"safety: at most {s.safety.max_duration:g} s, {s.safety.max_active_faults} faults at once"
                 + (f", kill switch {s.safety.kill_switch}" if s.safety.kill_switch else ""))
    if s.load is not None:
        lines.append(f"load: {s.load.users} users for {s.load.duration:g} s" + (f", {s.load.workers} workers" if s.load.workers else ""))
    lines.append(f"reports: {s.report.directory} ({', '.join(s.report.formats)})")
    lines.append(f"the whole run: about {s.duration:g} s")
    return "\n".join(lines)

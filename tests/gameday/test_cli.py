"""``chaoskit gameday`` as a subprocess on the real stack, answered on its stdin as a person at
the prompt would: run a phase, type a note, skip, abort; and SIGINT mid-phase."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from run._stack import TOKEN, all_off_within, faults_on, on_running_proxy, support_bot, until_a_fault

from .test_script_api import proxy, upstream  # noqa: F401 - fixtures

__all__ = ["proxy", "upstream"]


def gameday(path: Path, app: str, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "APP_URL": app, "UPSTREAM": "http://127.0.0.1:9", "REPORTS": str(tmp_path / "reports"),
               "CHAOSKIT_PROXY_TOKEN": TOKEN, **env}
    return subprocess.Popen([sys.executable, "-m", "chaoskit.cli", "gameday", str(path), *args], env=environ, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def report(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "reports" / "run.json").read_text())  # type: ignore[no-any-return]


def test_confirm_note_and_run_each_phase_at_the_prompt(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        process = gameday(on_running_proxy(tmp_path, control), app, tmp_path, OUTAGE="1s")
        out, err = process.communicate("\nthe dashboards are quiet\n\n", timeout=60)
    assert process.returncode == 0, out + err
    assert "next: phase baseline for 0.5 s: no fault." in err
    assert "next: phase openai-down for 1 s: openai.server_error." in err
    assert "OpenAI outage (test): held (exit 0)" in out
    assert "\033[" not in out + err  # piped: plain lines, no escape codes
    assert "] phase.start" in err and "] fault.on" in err  # one timestamped line per event
    events = report(tmp_path)["events"]
    kinds = [e["kind"] for e in events]
    assert kinds.index("phase.start") < [i for i, e in enumerate(events) if e["data"].get("observer")][0] < kinds.index("fault.on")
    assert f"  postmortem: {tmp_path / 'reports' / 'postmortem.html'}" in out
    assert faults_on(control) == []


def test_abort_at_the_prompt_puts_nothing_on_and_still_reports(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        process = gameday(on_running_proxy(tmp_path, control), app, tmp_path)
        out, err = process.communicate("s\na\n", timeout=60)
    assert process.returncode == 1, out + err
    doc = report(tmp_path)
    assert doc["status"] == "aborted" and doc["reasons"] == ["stopped: aborted at the prompt"]
    assert "fault.on" not in [e["kind"] for e in doc["events"]]
    assert any(e["text"] == "phase baseline skipped" for e in doc["events"])
    kinds = [e["kind"] for e in doc["events"]]
    assert [e["text"] for e in doc["events"] if e["kind"] == "stop"] == ["stopped: aborted at the prompt"]  # the moment, on the timeline
    assert kinds.index("stop") < kinds.index("rollback")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)  # SIGHUP: the SSH session was lost
def test_a_signal_mid_phase_takes_every_fault_off_within_a_second(proxy: tuple[str, str], tmp_path: Path, sig: signal.Signals) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        process = gameday(on_running_proxy(tmp_path, control), app, tmp_path, "--auto", OUTAGE="60s")
        until_a_fault(control, process, "the game day", timeout=30)
        process.send_signal(sig)
        all_off_within(control, 1.0, sig.name)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 1, out + err
    doc = report(tmp_path)
    assert doc["status"] == "aborted" and doc["reasons"][0].startswith(f"stopped: {sig.name}")
    assert "rollback" in [e["kind"] for e in doc["events"]]


def test_the_kill_switch_file_stops_a_game_day_mid_phase(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    switch = tmp_path / "chaoskit.stop"
    with support_bot(listen) as app:
        process = gameday(on_running_proxy(tmp_path, control), app, tmp_path, "--auto", OUTAGE="60s", KILL_SWITCH=str(switch))
        until_a_fault(control, process, "the game day", timeout=30)
        switch.touch()
        all_off_within(control, 1.0, "the kill-switch file appeared")
        out, err = process.communicate(timeout=30)
    assert process.returncode == 1, out + err
    assert report(tmp_path)["reasons"] == [f"stopped: the kill-switch file {switch} appeared"]


def test_a_scenario_that_fails_validation_touches_nothing(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    path = on_running_proxy(tmp_path, control, **{"duration: ${OUTAGE:-2s}": "duration: soon"})
    process = gameday(path, "http://127.0.0.1:9", tmp_path)
    out, err = process.communicate("", timeout=30)
    assert process.returncode == 2, out + err
    assert str(path) in err and "duration" in err and "soon" in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()
    assert faults_on(control) == []


def test_a_scenarios_load_runs_during_the_game_day_and_its_figures_reach_the_post_mortem(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    path = on_running_proxy(tmp_path, control, **{"safety:": "load:\n  users: 2\n  spawn_rate: 2\n  duration: 4s\n"
                                                               "  headers: {x-chaos-target: synthetic}\nsafety:"})
    with support_bot(listen) as app:
        process = gameday(path, app, tmp_path, "--auto", OUTAGE="3.5s")  # Locust takes a moment to start
        out, err = process.communicate(timeout=90)
    assert process.returncode == 0, out + err
    assert "load: 2 users for 4 s" in err
    load = report(tmp_path)["load"]
    assert load["requests"] > 0 and load["failures"] == 0  # the fallback answered the load too
    page = (tmp_path / "reports" / "postmortem.html").read_text()
    assert f"<td class=num>{load['requests']}</td><td class=num>0</td>" in page  # the Locust figures on the page

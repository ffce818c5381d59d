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

"""A chaos proxy that dies during a game day, on the real stack (the proxy killed with SIGKILL):
the game day stops within a few seconds with status infrastructure (exit 3), says which proxy
stopped answering and when, still rolls back and writes its report, and never waits on the
dead control API, mid-phase, between a script's phases, or at the prompt."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxy.test_proxy_cli import start
from run._stack import TOKEN, on_running_proxy, support_bot, until_a_fault

import chaoskit
from chaoskit.gameday import GameDayAborted

from .test_claims import chaoskit as command
from .test_script_api import scenario, upstream  # noqa: F401 - fixture

__all__ = ["upstream"]

GONE = (r"the chaos proxy at {control} stopped answering at \d+\.\d s \((ConnectError|ReadError|RemoteProtocolError)(: .*)?\): "
        r"its faults end with their leases \(at most 10 s\); the game day stopped")


@pytest.fixture
def doomed(upstream: str) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """A chaos proxy process the test kills: (the process, its listen address, its control URL)."""
    process, url, control = start("--upstream", f"openai={upstream}", "--upstream", f"anthropic={upstream}")
    try:
        yield process, url.removeprefix("http://"), control
    finally:
        process.kill()
        process.communicate(timeout=10)


def report(reports: Path) -> dict[str, Any]:
    return json.loads((reports / "run.json").read_text())  # type: ignore[no-any-return]


def test_a_proxy_killed_mid_phase_stops_the_game_day_with_exit_3_and_a_report(doomed: Any, tmp_path: Path) -> None:
    process, listen, control = doomed
    with support_bot(listen) as app:
        day = command("gameday", on_running_proxy(tmp_path, control), app, tmp_path / "reports", "--auto", OUTAGE="60s")
        until_a_fault(control, day, "the game day", timeout=30)
        process.kill()
        killed = time.monotonic()
        out, err = day.communicate(timeout=30)
        took = time.monotonic() - killed
    assert day.returncode == 3, out + err
    assert took < 5, f"the game day took {took:.1f} s to stop after its proxy died"
    gone = GONE.format(control=re.escape(control))
    assert re.search(f"^chaoskit gameday: {gone}$", err, re.M), err  # the line on stderr
    assert "chaoskit gameday: OpenAI outage (test): infrastructure (exit 3)" in out
    doc = report(tmp_path / "reports")
    assert doc["status"] == "infrastructure" and doc["exit_code"] == 3
    assert re.fullmatch(gone, doc["reasons"][0]), doc["reasons"]  # first, whatever the probes saw after it
    texts = [e["text"] for e in doc["events"]]
    assert any(re.fullmatch(r"openai\.server_error \(f\d+\) is left to its lease: the proxy does not answer", t) for t in texts), texts
    assert "rollback" in [e["kind"] for e in doc["events"]]
    assert (tmp_path / "reports" / "gameday.md").read_text().startswith("# Game day: OpenAI outage (test)\n\n- **Verdict**: infrastructure (exit 3)\n")


def test_a_proxy_that_dies_between_a_scripts_phases_stops_the_game_day(doomed: Any, tmp_path: Path) -> None:
    process, listen, control = doomed
    with support_bot(listen) as app:
        day = chaoskit.SyncGameDay(scenario(tmp_path, control, app, OUTAGE="0.5s"))
        with pytest.raises(GameDayAborted, match="no step runs after it"), day:
            day.phase("baseline")
            process.kill()
            killed = time.monotonic()
            while day.stopped is None:
                assert time.monotonic() - killed < 3, "the game day did not notice its proxy was gone"
                time.sleep(0.05)
            day.phase("openai-down")
    assert day.result.status == "infrastructure" and day.result.exit_code == 3
    assert re.fullmatch(GONE.format(control=re.escape(control)), day.result.reasons[0]), day.result.reasons
    assert report(tmp_path / "reports")["status"] == "infrastructure"


def test_a_proxy_that_dies_while_the_prompt_waits_ends_the_game_day(doomed: Any, tmp_path: Path) -> None:
    process, listen, control = doomed
    with support_bot(listen) as app:
        env = {**os.environ, "APP_URL": app, "UPSTREAM": "http://127.0.0.1:9", "REPORTS": str(tmp_path / "reports"),
               "CHAOSKIT_PROXY_TOKEN": TOKEN}
        day = subprocess.Popen([sys.executable, "-m", "chaoskit.cli", "gameday", str(on_running_proxy(tmp_path, control))],
                               env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert day.stderr is not None and day.stdin is not None
        seen: list[str] = []

        def read() -> None:
            assert day.stderr is not None
            while char := day.stderr.read(1):
                seen.append(char)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        while "Enter runs it" not in "".join(seen):
            assert time.monotonic() < deadline and day.poll() is None, "".join(seen)
            time.sleep(0.05)
        process.kill()  # nobody answers the prompt: stdin stays open
        day.wait(timeout=30)
        out = day.stdout.read() if day.stdout else ""
        reader.join(5)
        day.stdin.close()
    err = "".join(seen)
    assert day.returncode == 3, out + err
    assert re.search(f"^chaoskit gameday: {GONE.format(control=re.escape(control))}$", err, re.M), err
    assert report(tmp_path / "reports")["status"] == "infrastructure"

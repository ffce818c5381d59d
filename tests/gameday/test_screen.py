"""The full-screen runbook on the real stack (model server, chaos proxy process, support bot):
headless through Textual's pilot, and for real in a tmux terminal with keys sent and the screen
read back with capture-pane. The proxy's control API is the witness that faults come off."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path

import pytest
from run._stack import TOKEN, all_off_within, faults_on, on_running_proxy

from chaoskit.gameday import GameDay
from chaoskit.gameday._screen import Runbook

from .test_script_api import proxy, report, scenario, support_bot, upstream  # noqa: F401 - fixtures

__all__ = ["proxy", "upstream"]


def screen_text(app: Runbook) -> str:
    """What the headless screen shows now, line by line (from Textual's own SVG screenshot)."""
    rows: dict[int, list[tuple[float, str]]] = {}
    for x, row, text in re.findall(r'<text[^>]*? x="([\d.]+)"[^>]*?clip-path="url\(#[^)]*-line-(\d+)\)"[^>]*>(.*?)</text>',
                                   app.export_screenshot(), re.S):
        rows.setdefault(int(row), []).append((float(x), unescape(text).replace("\xa0", " ")))
    return "\n".join("".join(t for _, t in sorted(rows[r])) for r in sorted(rows))


async def until(condition: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_the_screen_runs_a_phase_takes_a_note_pauses_resumes_and_aborts(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    seen: dict[str, str] = {}
    with support_bot(listen) as app_url:
        day = GameDay(scenario(tmp_path, control, app_url, OUTAGE="60s"))
        runbook = Runbook(day)

        async def drive() -> None:
            async with runbook.run_test(size=(120, 40)) as pilot:
                await until(lambda: runbook.state == "waiting", "the first confirmation")
                await pilot.press("p")  # nothing runs yet: a clear word in the log, nothing happens
                await pilot.pause(0.5)
                seen["waiting"] = screen_text(runbook)
                await pilot.press("enter")  # baseline
                await until(lambda: runbook.next_phase is not None and runbook.next_phase.name == "openai-down", "the outage's turn")
                await pilot.press("n")
                await pilot.press(*"dashboards are quiet")
                await pilot.press("enter")
                await pilot.press("enter")  # the outage
                await until(lambda: faults_on(control), "the outage's fault on the proxy")
                await pilot.pause(1.5)
                seen["running"] = screen_text(runbook)
                await pilot.press("p")
                await until(lambda: not faults_on(control), "the pause to take the fault off", timeout=1)
                await pilot.pause(0.5)
                seen["paused"] = screen_text(runbook)
                await pilot.press("r")
                await until(lambda: faults_on(control), "the resume to put it back")
                await pilot.press("q")  # not yet: the game day runs
                await pilot.press("a")
                await until(lambda: not faults_on(control), "the abort to take every fault off", timeout=1)
                await until(lambda: runbook.state == "done", "the reports")
                await pilot.pause(0.5)
                seen["done"] = screen_text(runbook)
                await pilot.press("q")

        asyncio.run(drive())
    assert "NEXT phase baseline for 0.5 s" in seen["waiting"] and "will inject: no fault" in seen["waiting"]
    assert "no phase is running, so there is nothing to pause" in seen["waiting"]
    assert "RUNNING phase openai-down" in seen["running"] and "injecting: openai.server_error" in seen["running"]
    assert re.search(r"openai\.server_error\s+\S+\s+openai-down\s+\d+\.\d s", seen["running"]), seen["running"]
    assert re.search(r"health\s+✓+", seen["running"]), seen["running"]  # the continuous probe's history
    assert "PAUSED phase openai-down" in seen["paused"]
    assert "game day aborted (exit 1)" in seen["done"]
    doc = report(tmp_path)
    assert doc["status"] == "aborted" and doc["reasons"] == ["stopped: aborted from the screen (a)"]
    events = doc["events"]
    assert [e["text"] for e in events if e["data"].get("observer")] == ["dashboards are quiet"]
    kinds = [e["kind"] for e in events]
    assert kinds.index("pause") < kinds.index("resume") < kinds.index("stop")
    assert any("still running: a aborts it" in e["text"] for e in events)  # q pressed too early
    assert faults_on(control) == []


# ---- a real terminal -----------------------------------------------------------------------------


class Tmux:
    """One tmux server of its own (its own socket), a window of a set size running a command
    whose exit status goes to ``status``."""

    def __init__(self, name: str, status: Path) -> None:
        self.socket = name
        self.status = status

    def exit_code(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while not self.status.exists() or not self.status.read_text().strip():
            assert time.monotonic() < deadline, f"the command did not exit:\n{self.screen()}"
            time.sleep(0.1)
        return int(self.status.read_text())

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-J", "-t", "gd")

    def until(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in (shown := self.screen()):
            assert time.monotonic() < deadline, f"{text!r} never showed on the screen:\n{shown}"
            time.sleep(0.1)
        return shown

    def gone(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while text in (shown := self.screen()):
            assert time.monotonic() < deadline, f"{text!r} stayed on the screen:\n{shown}"
            time.sleep(0.1)
        return shown

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "gd", *keys)


@contextmanager
def gameday_in_tmux(scenario: Path, env: dict[str, str], size: tuple[int, int], status: Path) -> Iterator[Tmux]:
    """``chaoskit gameday SCENARIO`` in a tmux window of ``size`` (columns, lines)."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: the full-screen runbook is tested in a real terminal (apt-get install tmux)", pytrace=False)
    t = Tmux(f"chaoskit-test-{os.getpid()}-{time.monotonic_ns()}", status)
    command = [sys.executable, "-m", "chaoskit.cli", "gameday", str(scenario)]
    # the window's own size, not the $COLUMNS/$LINES pytest's environment may carry into tmux
    line = "unset COLUMNS LINES; " + " ".join(shlex.quote(c) for c in command) + f"; echo $? > {shlex.quote(str(status))}; sleep 600"
    exports = [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]
    t("new-session", "-d", "-s", "gd", "-x", str(size[0]), "-y", str(size[1]), *exports, "sh", "-c", line)
    try:
        yield t
    finally:
        subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True)


def gameday_env(app: str, tmp_path: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "PYTHONPATH", "VIRTUAL_ENV", "LANG")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "TERM": "xterm-256color", "APP_URL": app,
            "UPSTREAM": "http://127.0.0.1:9", "REPORTS": str(tmp_path / "reports"), "CHAOSKIT_PROXY_TOKEN": TOKEN, "OUTAGE": "60s"}


def test_in_a_real_terminal_keys_drive_it_and_abort_takes_every_fault_off_within_a_second(
        proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        with gameday_in_tmux(on_running_proxy(tmp_path, control), gameday_env(app, tmp_path), (120, 40), tmp_path / "exit") as t:
            t.until("NEXT phase baseline")
            t.keys("Enter")
            t.until("NEXT phase openai-down")
            t.keys("n")
            t.until("Observer's note")
            time.sleep(0.3)  # the dialog paints before its input takes the focus
            t.keys("-l", "error budget holding")
            t.until("error budget holding")  # typed into the dialog
            t.keys("Enter")
            t.gone("Observer's note")
            t.until("error budget holding")  # in the event log
            t.keys("Enter")
            t.until("RUNNING phase openai-down")
            t.until("openai.server_error")
            t.keys("p")
            t.until("PAUSED phase openai-down")
            all_off_within(control, 1.0, "p")
            t.keys("r")
            t.until("RUNNING phase openai-down")
            deadline = time.monotonic() + 10
            while not faults_on(control):
                assert time.monotonic() < deadline, "r never put the fault back"
                time.sleep(0.05)
            t.keys("a")
            all_off_within(control, 1.0, "a")
            t.until("game day aborted (exit 1)")
            t.keys("q")
            t.until("chaoskit gameday: OpenAI outage (test): aborted (exit 1)")
            assert t.exit_code() == 1
    doc = json.loads((tmp_path / "reports" / "run.json").read_text())
    assert doc["status"] == "aborted" and doc["reasons"] == ["stopped: aborted from the screen (a)"]
    assert [e["text"] for e in doc["events"] if e["data"].get("observer")] == ["error budget holding"]
    assert faults_on(control) == []


def test_a_terminal_too_small_says_so_and_falls_back_to_lines(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        with gameday_in_tmux(on_running_proxy(tmp_path, control), gameday_env(app, tmp_path), (60, 30), tmp_path / "exit") as t:
            t.until("too small for the full-screen runbook")
            t.until("Enter runs it, s skips, a aborts")
            t.keys("a", "Enter")
            assert t.exit_code() == 1
    assert report(tmp_path)["reasons"] == ["stopped: aborted at the prompt"]

"""The game-day Python API on the real staging stack: the model server, a running chaos proxy
(its own process), the support bot under uvicorn, and a game-day script stepping through the
scenario's phases. The proxy's control API is the witness that faults come off."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from engine._upstream import model_server_process
from run._stack import TOKEN, faults_on, on_running_proxy, running_proxy, support_bot

import chaoskit
from chaoskit.gameday import GameDayAborted
from chaoskit.scenario import load

from ._postmortem_doc import plot_of, traces

AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server_process() as base:
        yield base


@pytest.fixture
def proxy(upstream: str) -> Iterator[tuple[str, str]]:
    """A chaos proxy already running (as a deployed one would be): (its listen address, its control URL)."""
    with running_proxy(upstream) as running:
        yield running


def scenario(tmp_path: Path, control: str, app: str, **env: str) -> Any:
    return load(on_running_proxy(tmp_path, control), env={
        "APP_URL": app, "UPSTREAM": "http://127.0.0.1:9", "REPORTS": str(tmp_path / "reports"), "CHAOSKIT_PROXY_TOKEN": TOKEN, **env,
    })


async def until_on(control: str) -> None:
    """Wait (without blocking the game day's loop for long) until a fault is on the proxy."""
    while not faults_on(control):
        await anyio.sleep(0.05)


def report(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "reports" / "run.json").read_text())  # type: ignore[no-any-return]


def test_a_script_steps_through_phases_probes_and_notes_and_the_report_has_them(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    seen: list[str] = []
    with support_bot(listen) as app:
        async def script() -> tuple[Any, bool]:
            async with chaoskit.GameDay(scenario(tmp_path, control, app, OUTAGE="1.5s"), on_event=lambda e: seen.append(e.kind)) as day:
                outcome = await day.phase("openai-down")
                assert faults_on(control) == []  # the phase's fault is off when phase() returns
                held = await day.probe("order-question")
                await day.note("the fallback answered every question")
            return outcome, held

        outcome, held = anyio.run(script)
    assert outcome.name == "openai-down" and outcome.completed and outcome.held, outcome
    assert 1.4 < outcome.seconds < 5
    assert held
    doc = report(tmp_path)
    assert doc["status"] == "held", doc["reasons"]
    notes = [e for e in doc["events"] if e["kind"] == "note" and e["data"].get("observer")]
    assert [n["text"] for n in notes] == ["the fallback answered every question"]
    assert [e for e in doc["events"] if e["kind"] == "fault.on"][0]["data"]["fault"] == "openai.server_error"
    assert [r["when"] for r in doc["probes"]["order-question"]] == ["before", "gameday", "after"]
    assert seen[0] == "run.start" and seen[-1] == "run.end" and "rollback" in seen
    summary = (tmp_path / "reports" / "gameday.md").read_text()
    assert summary.startswith("# Game day: OpenAI outage (test)\n\n- **Verdict**: held (exit 0)\n")
    assert "openai.server_error on (" in summary  # what was injected, with its id
    assert "Requests the proxy failed on purpose: " in summary
    assert "| order-question | 3 | 0 |  |" in summary  # before, the script's check, after
    assert "s: the fallback answered every question\n" in summary
    assert "@pytest.mark.chaos('openai.server_error')\n" in summary and "`pytest --chaos-seed 424242`" in summary
    page = (tmp_path / "reports" / "postmortem.html").read_text(encoding="utf-8")
    assert 'id="status">held' in page and "the fallback answered every question</li>" in page
    plot = plot_of(page)
    [started] = [e["at"] for e in doc["events"] if e["kind"] == "phase.start"]
    phases = traces(plot)["phases"]
    assert phases["text"] == ["openai-down"] and phases["base"] == [started]  # the phase the script ran, when it ran (baseline never did)
    [note] = [a for a in plot["layout"]["annotations"] if a["name"].startswith("note")]
    assert note["text"] == "✎ the fallback answered every question" and note["x"] == notes[0]["at"]
    assert [y for y in traces(plot)["faults"]["y"] if y.startswith("openai.server_error (")], "the fault's row"
    assert faults_on(control) == []


def test_abort_during_a_phase_takes_its_faults_off_within_a_second(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    timings: dict[str, float] = {}
    with support_bot(listen) as app:
        async def script() -> None:
            async with chaoskit.GameDay(scenario(tmp_path, control, app, OUTAGE="60s")) as day:
                async def watch() -> None:
                    await until_on(control)
                    timings["aborted"] = time.monotonic()
                    day.abort("the on-call engineer pulled the plug")
                    while faults_on(control):
                        await anyio.sleep(0.02)
                    timings["off"] = time.monotonic()

                async with anyio.create_task_group() as tg:
                    tg.start_soon(watch)
                    with pytest.raises(GameDayAborted, match="the on-call engineer pulled the plug"):
                        await day.phase("openai-down")
                with pytest.raises(GameDayAborted, match="no step runs after an abort"):
                    await day.phase("baseline")

        anyio.run(script)
    assert timings["off"] - timings["aborted"] < 1.0
    doc = report(tmp_path)
    assert doc["status"] == "aborted"
    assert doc["reasons"] == ["stopped: the on-call engineer pulled the plug"]
    assert faults_on(control) == []


def test_the_sync_api_sees_the_broken_fallback_and_still_writes_the_report(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen, fallback=False) as app, chaoskit.SyncGameDay(scenario(tmp_path, control, app, OUTAGE="1.5s")) as day:
        outcome = day.phase("openai-down")
        assert outcome.completed and not outcome.held
        assert outcome.failed_probes == ("anthropic-answers",)
        day.note("fallback failed")
    assert day.result.status == "deviated"
    assert report(tmp_path)["status"] == "deviated"
    summary = day.result.reports["markdown"].read_text()
    assert "- **Verdict**: deviated (exit 1)" in summary
    assert re.search(r"^\| anthropic-answers \| \d+ \| [1-9]\d* \| \d+\.\d s \(during_fault\): turn 1 ", summary, re.M), summary
    assert "not graceful: the text shows an exception name 'InternalServerError'" in summary  # why, as the probe said
    assert "s: fallback failed" in summary
    assert "fallback failed</li>" in day.result.reports["postmortem"].read_text(encoding="utf-8")
    assert faults_on(control) == []


def test_a_script_that_raises_still_takes_every_fault_off_and_reports(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        day = chaoskit.SyncGameDay(scenario(tmp_path, control, app, OUTAGE="60s"))

        def interrupt() -> None:
            while not faults_on(control):
                time.sleep(0.05)
            day.abort("SIGINT")  # what a signal handler does

        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(GameDayAborted), day:
            day.phase("openai-down")
    assert faults_on(control) == []
    assert report(tmp_path)["status"] == "aborted"


def test_unknown_phase_and_probe_names_say_which_there_are(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app, chaoskit.SyncGameDay(scenario(tmp_path, control, app)) as day:
        with pytest.raises(chaoskit.ChaosConfigError, match="no phase named 'openai-dwon'.*its phases: baseline, openai-down"):
            day.phase("openai-dwon")
        with pytest.raises(chaoskit.ChaosConfigError, match="no probe named 'helth'.*its probes: health, order-question"):
            day.probe("helth")
    assert faults_on(control) == []


def test_the_proxys_kill_switch_stops_the_game_day(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        async def script() -> None:
            async with chaoskit.GameDay(scenario(tmp_path, control, app, OUTAGE="60s")) as day:
                async def pull() -> None:
                    await until_on(control)
                    httpx.post(control + "/halt", headers=AUTH, json={"reason": "customer-facing errors"}).raise_for_status()

                async with anyio.create_task_group() as tg:
                    tg.start_soon(pull)
                    with anyio.fail_after(5), pytest.raises(GameDayAborted, match="the proxy was halted: customer-facing errors"):
                        await day.phase("openai-down")

        try:
            anyio.run(script)
        finally:
            httpx.post(control + "/resume", headers=AUTH)
    doc = report(tmp_path)
    assert doc["reasons"] == ["stopped: the proxy was halted: customer-facing errors"]
    assert doc["status"] == "aborted"
    assert faults_on(control) == []


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback-works", "fallback-broken"])
def test_a_script_branches_on_a_probe_taken_while_the_outage_is_on(proxy: tuple[str, str], tmp_path: Path, fallback: bool) -> None:
    """The issue's script: with the outage on, ask the app; a failed answer is noted and aborts
    the game day, a good one lets it run on to the next phase."""
    listen, control = proxy
    with support_bot(listen, fallback=fallback) as app:
        async def script() -> list[str]:
            steps: list[str] = []
            async with chaoskit.GameDay(scenario(tmp_path, control, app, OUTAGE="3s")) as day:
                try:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(day.phase, "openai-down")
                        await until_on(control)
                        if not await day.probe("order-question"):
                            await day.note("fallback failed, aborting")
                            day.abort("the fallback did not take over")
                            steps.append("aborted")
                except* GameDayAborted:  # phase() in the task group: the abort ended it
                    steps.append("stopped")
                else:
                    await day.phase("baseline")
                    steps.append("went on")
            return steps

        steps = anyio.run(script)
    doc = report(tmp_path)
    notes = [e["text"] for e in doc["events"] if e["data"].get("observer")]
    if fallback:
        assert steps == ["went on"] and doc["status"] == "held", doc["reasons"]
        assert notes == []
    else:
        assert steps == ["aborted", "stopped"], steps
        assert doc["status"] in ("deviated", "aborted")  # whichever came first: the during-fault probe's failure, the abort
        assert notes == ["fallback failed, aborting"]
        assert "stopped: the fallback did not take over" in doc["reasons"]
    assert faults_on(control) == []

"""Pause, resume and skip on the real stack: a paused phase's faults are off the proxy and its
clock stands; resumed, they are back for the time it had left; skipped, the phase ends now and
the game day goes on. Keys at the wrong moment are clear errors, not silent no-ops."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import anyio.abc
import pytest
from run._stack import faults_on

import chaoskit
from chaoskit import ChaosConfigError
from chaoskit.gameday import PhaseOutcome

from .test_script_api import proxy, report, scenario, support_bot, until_on, upstream  # noqa: F401 - fixtures

__all__ = ["proxy", "upstream"]


def phase_in_background(tg: anyio.abc.TaskGroup, day: chaoskit.GameDay, name: str) -> list[PhaseOutcome]:
    """Start ``day.phase(name)`` in ``tg``; its outcome lands in the list returned."""
    outcome: list[PhaseOutcome] = []

    async def run() -> None:
        outcome.append(await day.phase(name))

    tg.start_soon(run)
    return outcome


async def until_off(control: str) -> None:
    with anyio.fail_after(10):
        while faults_on(control):
            await anyio.sleep(0.05)


def test_pause_takes_the_faults_off_and_stops_the_clock_resume_puts_them_back(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        async def script() -> tuple[object, float, float, float]:
            async with chaoskit.GameDay(scenario(tmp_path, control, app, OUTAGE="3s")) as day:
                async with anyio.create_task_group() as tg:
                    outcome = phase_in_background(tg, day, "openai-down")
                    await until_on(control)
                    await anyio.sleep(1.0)
                    day.pause()
                    paused_at = time.monotonic()
                    await until_off(control)
                    off_within = time.monotonic() - paused_at
                    left = day.left()
                    await anyio.sleep(1.5)  # the clock stands while paused
                    assert day.left() == left and day.paused and day.running == "openai-down"
                    day.resume()
                    await until_on(control)
                return outcome[0], off_within, left, time.monotonic() - paused_at

        outcome, off_within, left, total = anyio.run(script)
    assert off_within < 1.0
    assert 0.3 < left < 2.05, left  # 3 s less the second (and more, under load: the add) it ran
    assert outcome.completed and not outcome.skipped, outcome  # type: ignore[attr-defined]
    assert total > 1.5 + left  # the phase ran its remaining time after the pause
    kinds = [e["kind"] for e in report(tmp_path)["events"]]
    assert kinds.count("fault.on") == 2 and kinds.count("fault.off") == 2
    assert kinds.index("pause") < kinds.index("resume")
    assert report(tmp_path)["status"] == "held"


def test_skip_ends_the_phase_now_and_the_game_day_goes_on(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        async def script() -> tuple[object, object, list[str]]:
            errors: list[str] = []
            async with chaoskit.GameDay(scenario(tmp_path, control, app, OUTAGE="60s")) as day:
                for wrong in (day.pause, day.resume, day.skip):  # between phases: nothing to act on
                    with pytest.raises(ChaosConfigError) as caught:
                        wrong()
                    errors.append(str(caught.value))
                async with anyio.create_task_group() as tg:
                    outcome = phase_in_background(tg, day, "openai-down")
                    await until_on(control)
                    with pytest.raises(ChaosConfigError, match="is not paused"):
                        day.resume()
                    day.skip()
                after = await day.phase("baseline")  # the game day goes on
            return outcome[0], after, errors

        skipped, after, errors = anyio.run(script)
    assert skipped.skipped and not skipped.completed and skipped.seconds < 10, skipped  # type: ignore[attr-defined]
    assert after.completed  # type: ignore[attr-defined]
    assert all("no phase is running" in e for e in errors), errors
    assert "answer s before it starts" in errors[2]
    doc = report(tmp_path)
    assert doc["status"] == "held", doc["reasons"]
    assert any(e["text"].startswith("phase openai-down skipped by the operator after") for e in doc["events"])
    assert faults_on(control) == []

"""One game day or run at a time on a chaos proxy, on the real stack: a second ``chaoskit
gameday`` or ``chaoskit run`` started while a game day is in a phase is refused at once (exit 2,
who holds the proxy and what to do) and touches nothing; the first goes on and holds; after it,
the proxy is free again. A SIGKILLed game day's claim ends with its lease."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from run._stack import TOKEN, faults_on, on_running_proxy, support_bot, until_a_fault

from .test_script_api import proxy, upstream  # noqa: F401 - fixtures

__all__ = ["proxy", "upstream"]

AUTH = {"authorization": f"Bearer {TOKEN}"}
IN_USE = (r"the chaos proxy at {control} is in use by game day 'OpenAI outage \(test\)' \(since \d\d:\d\d:\d\d UTC, its lease "
          r"ends in \d+ s\): wait for it to finish, or pull its kill switch with POST /halt")


def chaoskit(command: str, scenario: Path, app: str, reports: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "APP_URL": app, "UPSTREAM": "http://127.0.0.1:9", "REPORTS": str(reports),
               "CHAOSKIT_PROXY_TOKEN": TOKEN, **env}
    return subprocess.Popen([sys.executable, "-m", "chaoskit.cli", command, str(scenario), *args], env=environ, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def claim(control: str) -> dict[str, Any] | None:
    return httpx.get(control + "/claim", headers=AUTH).json()["claim"]  # type: ignore[no-any-return]


def test_a_second_game_day_or_run_on_a_held_proxy_is_refused_at_once_and_touches_nothing(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    scenario = on_running_proxy(tmp_path, control)
    with support_bot(listen) as app:
        first = chaoskit("gameday", scenario, app, tmp_path / "first", "--auto", OUTAGE="12s")
        until_a_fault(control, first, "the first game day", timeout=30)
        on = faults_on(control)
        for command in ("gameday", "run"):
            started = time.monotonic()
            second = chaoskit(command, scenario, app, tmp_path / command, *(["--auto"] if command == "gameday" else []), OUTAGE="1s")
            out, err = second.communicate(timeout=30)
            assert second.returncode == 2, out + err
            assert time.monotonic() - started < 10  # refused at once, not after its own run
            assert re.search(f"^chaoskit {command}: OpenAI outage \\(test\\): invalid \\(exit 2\\)\n  - {IN_USE.format(control=control)}$",
                             out, re.M), out
            assert re.search(f"^chaoskit {command}: {IN_USE.format(control=control)}$", err, re.M), err  # and on stderr
            assert not (tmp_path / command).exists()  # refused: no report, as for any refusal
            assert [(f["id"], f["fault"]) for f in faults_on(control)] == [(f["id"], f["fault"]) for f in on]  # untouched
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, out + err
        doc = json.loads((tmp_path / "first" / "run.json").read_text())
        assert doc["status"] == "held", doc["reasons"]
        assert [e["data"]["id"] for e in doc["events"] if e["kind"] == "fault.off"] == [f["id"] for f in on]  # its own, by itself
        assert claim(control) is None  # released at its end
        again = chaoskit("run", scenario, app, tmp_path / "again", OUTAGE="0.5s")
        out, err = again.communicate(timeout=60)
    assert again.returncode == 0, out + err
    assert faults_on(control) == [] and claim(control) is None


def test_a_sigkilled_game_days_claim_ends_with_its_lease(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    scenario = on_running_proxy(tmp_path, control)
    with support_bot(listen) as app:
        first = chaoskit("gameday", scenario, app, tmp_path / "first", "--auto", "--lease", "2", OUTAGE="60s")
        until_a_fault(control, first, "the game day", timeout=30)
        time.sleep(1.5)  # past a renewal of the claim
        first.kill()  # no clean-up at all
        first.communicate(timeout=10)
        killed = time.monotonic()
        held = claim(control)
        assert held is not None and held["kind"] == "gameday" and held["ttl"] == 2.0
        refused = httpx.post(control + "/claim", headers=AUTH, json={"owner": "run-next", "kind": "run"})
        assert refused.status_code == 409  # still its own, for the rest of its lease
        while claim(control) is not None:
            assert time.monotonic() - killed < 2.5, "the dead game day's claim outlived its lease"
            time.sleep(0.05)
        again = chaoskit("gameday", scenario, app, tmp_path / "again", "--auto", OUTAGE="0.5s")
        out, err = again.communicate(timeout=60)
    assert again.returncode == 0, out + err


def test_a_script_keeps_its_claim_between_phases_and_lets_it_go_at_the_end(proxy: tuple[str, str], tmp_path: Path) -> None:
    import chaoskit
    from chaoskit.run import RunOptions

    from .test_script_api import scenario

    listen, control = proxy
    with support_bot(listen) as app:
        with chaoskit.SyncGameDay(scenario(tmp_path, control, app, OUTAGE="0.5s"), options=RunOptions(lease=1)) as day:
            time.sleep(2.5)  # the team talks it over: no phase runs, past two leases
            held = claim(control)
            assert held is not None and (held["kind"], held["title"]) == ("gameday", "OpenAI outage (test)")
            day.phase("openai-down")
        assert claim(control) is None
    assert day.result.status == "held", day.result.reasons

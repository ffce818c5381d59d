"""The game day's journal on the real stack: a ``chaoskit gameday`` process SIGKILLed mid-phase
leaves its fault on the proxy and its toxic on the Toxiproxy server, and its journal says so;
``--cleanup`` removes them, ``--resume`` goes on from the phase it reached. The proxy's control
API and the Toxiproxy server are the witnesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from run._stack import SCENARIO, TOKEN, addresses, faults_on, on_running_proxy, support_bot, until_a_fault

import chaoskit
from chaoskit.cli import main as cli
from chaoskit.gameday import GameDayAborted
from chaoskit.gameday._journal import SCHEMA
from chaoskit.network import ToxiproxyClient, ToxiproxyServer

from .test_cli import gameday
from .test_script_api import proxy, scenario, until_on, upstream  # noqa: F401 - fixtures

__all__ = ["proxy", "upstream"]

KEY = "sk-proj-runtestSECRET0123456789"  # the support bot's OpenAI key (run/_stack.py)


def journal_of(tmp_path: Path) -> Path:
    return tmp_path / "reports" / "journal.jsonl"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def events(path: Path, segment: int) -> list[dict[str, Any]]:
    return [line for line in lines(path)[1:] if line.get("segment") == segment and line["kind"] != "cleanup"]


def with_toxic(toxiproxy: str) -> dict[str, str]:
    """on_running_proxy's changes: a latency toxic on a Toxiproxy proxy ``db`` during openai-down."""
    return {"        params: {}\n": "        params: {}\n    toxics:\n      - name: db\n        listen: 127.0.0.1:0\n"
                                    "        upstream: 127.0.0.1:9\n        type: latency\n        attributes: {latency: 100}\n",
            "safety:\n": f"toxiproxy: {toxiproxy}\nsafety:\n"}


def toxics_on(toxiproxy: str) -> list[str]:
    db = ToxiproxyClient(toxiproxy).proxies().get("db")
    return db.toxics() if db is not None else []


def cleanup(journal: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaoskit.cli", "gameday", "--cleanup", str(journal), *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "CHAOSKIT_PROXY_TOKEN": TOKEN, **env})


def kill_once_on(control: str, process: subprocess.Popen[str], until: Any = None) -> None:
    """SIGKILL the game day once its fault is on (and ``until()`` holds): no rollback, no reports."""
    try:
        until_a_fault(control, process, "the game day", timeout=30)
    except AssertionError:
        process.kill()
        raise AssertionError(f"the game day never put its fault on: {process.communicate(timeout=10)}") from None
    deadline = time.monotonic() + 20
    while until is not None and not until():
        assert time.monotonic() < deadline and process.poll() is None, "the game day never got there"
        time.sleep(0.05)
    process.kill()
    process.communicate(timeout=10)


def test_a_killed_game_day_leaves_its_fault_and_toxic_on_and_cleanup_removes_them(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with ToxiproxyServer(port=0) as toxiproxy, support_bot(listen) as app:
        path = on_running_proxy(tmp_path, control, **with_toxic(toxiproxy.url))
        process = gameday(path, app, tmp_path, "--auto", "--lease", "240", OUTAGE="240s")
        kill_once_on(control, process, until=lambda: toxics_on(toxiproxy.url))
        assert not (tmp_path / "reports" / "run.json").exists()  # killed: no reports, only the journal
        journal = journal_of(tmp_path)
        header, *rest = lines(journal)
        assert header["schema"] == SCHEMA and header["title"] == "OpenAI outage (test)" and header["seed"] == 424242
        assert header["scenario"] == str(path.resolve()) and header["proxy"] == control and header["toxiproxy"] == toxiproxy.url
        assert re.fullmatch(r"[0-9a-f]{12}", header["run_id"])
        kinds = [e["kind"] for e in rest]
        assert kinds[0] == "run.start" and "run.end" not in kinds and "fault.off" not in kinds
        fault = next(e["data"] for e in rest if e["kind"] == "fault.on")
        toxic = next(e["data"] for e in rest if e["kind"] == "toxic.on")
        assert [f["id"] for f in faults_on(control)] == [fault["id"]]  # still on: the lease is 240 s
        assert toxics_on(toxiproxy.url) == [toxic["name"]] == ["latency_downstream"] and toxic["proxy"] == "db"

        done = cleanup(journal)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"  removed fault openai.server_error ({fault['id']}, phase openai-down) from the chaos proxy at {control}\n" in done.stdout
        assert ("  removed toxic latency_downstream (latency) on proxy db (phase openai-down) from the Toxiproxy server at "
                f"{toxiproxy.url}\n") in done.stdout
        assert done.stdout.endswith("chaoskit gameday --cleanup: nothing is left on\n")
        assert faults_on(control) == [] and toxics_on(toxiproxy.url) == []
        assert "  removed the claim gameday-" in done.stdout  # the killed game day's hold on the proxy, 240 s left
        assert httpx.get(control + "/health").json()["claim"] is None  # the next game day may start at once
        last = lines(journal)[-1]
        assert last["kind"] == "cleanup" and last["data"]["faults"] == [fault["id"]] and last["data"]["toxics"] == [["db", "latency_downstream"]]

        again = cleanup(journal)  # the clean-up is on the record: nothing left to do
        assert again.returncode == 0 and "  nothing was left on\n" in again.stdout, again.stdout + again.stderr


def test_cleanup_stops_the_proxy_a_killed_game_day_started(upstream: str, tmp_path: Path) -> None:  # noqa: F811
    env = addresses()
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.read_text())
    control = f"http://{env['PROXY_CONTROL']}"
    with support_bot(env["PROXY_LISTEN"]) as app:
        process = gameday(path, app, tmp_path, "--auto", "--lease", "240", OUTAGE="240s", UPSTREAM=upstream, **env)
        started: list[int] = []
        try:
            deadline = time.monotonic() + 30
            while not started:  # the journal says when its proxy runs, and which process it is
                assert time.monotonic() < deadline and process.poll() is None, "the game day never started its proxy"
                time.sleep(0.05)
                if journal_of(tmp_path).exists():
                    started = [e["data"]["pid"] for e in lines(journal_of(tmp_path)) if e.get("data", {}).get("pid")]
            # killed once the fault is on and journaled (between the two, only its lease would end it)
            kill_once_on(control, process, until=lambda: any(e.get("kind") == "fault.on" for e in lines(journal_of(tmp_path))))
            assert faults_on(control)  # its proxy outlived it, its fault still on
            done = cleanup(journal_of(tmp_path), CHAOSKIT_PROXY_TOKEN="")  # no token needed to stop it
            assert done.returncode == 0, done.stdout + done.stderr
            assert f"  removed the chaos proxy the game day started (pid {started[0]}, control {control}): stopped" in done.stdout
            assert "  already gone: fault openai.server_error (" in done.stdout
            with pytest.raises(httpx.TransportError):
                httpx.get(control + "/health", timeout=2)
        finally:
            process.kill()
            process.communicate()
            if started and Path(f"/proc/{started[0]}").exists():
                os.kill(started[0], 9)


def test_resume_after_a_kill_skips_the_completed_phase_and_ends_held(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        path = on_running_proxy(tmp_path, control)
        process = gameday(path, app, tmp_path, "--auto", "--lease", "240", OUTAGE="240s")
        kill_once_on(control, process)
        journal = journal_of(tmp_path)
        left = next(e["data"]["id"] for e in lines(journal)[1:] if e["kind"] == "fault.on")
        assert [f["id"] for f in faults_on(control)] == [left]

        resumed = gameday(path, app, tmp_path, "--resume", str(journal), "--auto", OUTAGE="1s")
        out, err = resumed.communicate(timeout=90)
    assert resumed.returncode == 0, out + err
    assert "OpenAI outage (test): held (exit 0)" in out
    assert faults_on(control) == []  # the killed part's fault too: its lease had 240 s to go
    first, second = events(journal, 1), events(journal, 2)
    assert [e["data"]["phase"] for e in first if e["kind"] == "phase.end"] == ["baseline"]
    assert second[0]["kind"] == "run.start" and second[0]["data"]["resumed_from"] == str(journal)
    assert [e["data"]["phase"] for e in second if e["kind"] == "phase.start"] == ["openai-down"]
    assert [e for e in second if e["data"].get("phase") == "baseline"] == []  # not even offered: the loop goes past it
    assert f"resumed from {journal} after phase baseline" in [e["text"] for e in second]
    assert f"clean-up before resuming: removed fault openai.server_error ({left}, phase openai-down) from the chaos proxy at {control}" \
        in [e["text"] for e in second]
    assert [(line["segment"], line["data"]["faults"]) for line in lines(journal)[1:] if line["kind"] == "cleanup"] == [(2, [left])]
    assert second[-1]["kind"] == "run.end" and second[-1]["data"]["status"] == "held"
    doc = json.loads((tmp_path / "reports" / "run.json").read_text())
    assert doc["status"] == "held" and f"resumed from {journal} after phase baseline" in [e["text"] for e in doc["events"]]


def test_the_python_api_resumes_without_running_a_completed_phase_again(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        async def interrupted() -> None:
            async with chaoskit.GameDay(scenario(tmp_path, control, app, OUTAGE="60s")) as day:
                await day.phase("baseline")

                async def pull() -> None:
                    await until_on(control)
                    day.abort("the dashboards went red")

                async with anyio.create_task_group() as tg:
                    tg.start_soon(pull)
                    with pytest.raises(GameDayAborted):
                        await day.phase("openai-down")

        anyio.run(interrupted)
        journal = journal_of(tmp_path)
        with chaoskit.SyncGameDay(scenario(tmp_path, control, app, OUTAGE="1s"), resume=journal) as day:
            baseline = day.phase("baseline")
            outage = day.phase("openai-down")
    assert baseline.resumed and baseline.completed and 0.4 < baseline.seconds < 2, baseline
    assert not outage.resumed and outage.completed and outage.held, outage
    assert day.result.status == "held", day.result.reasons
    second = events(journal, 2)
    assert [e["data"]["phase"] for e in second if e["kind"] == "phase.start"] == ["openai-down"]
    assert "phase baseline not run again: it completed before the resume" in [e["text"] for e in second]
    assert faults_on(control) == []


def test_the_journal_holds_every_event_and_no_secret(proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    with support_bot(listen) as app:
        process = gameday(on_running_proxy(tmp_path, control), app, tmp_path, OUTAGE="0.5s")
        out, err = process.communicate(f"\nthe bot's key is {KEY}, the proxy's token is {TOKEN}\n\n", timeout=60)
    assert process.returncode == 0, out + err
    text = journal_of(tmp_path).read_text()
    assert "runtestSECRET" not in text and TOKEN not in text
    note = next(e for e in lines(journal_of(tmp_path))[1:] if e["kind"] == "note" and e["data"].get("observer"))
    assert note["text"] == "the bot's key is <redacted>, the proxy's token is <redacted>"
    doc = json.loads((tmp_path / "reports" / "run.json").read_text())
    assert [e["kind"] for e in events(journal_of(tmp_path), 1)] == [e["kind"] for e in doc["events"]]
    for report in ("run.json", "junit.xml", "run.html", "gameday.md", "postmortem.html"):  # nor in any report
        written = (tmp_path / "reports" / report).read_text()
        assert "runtestSECRET" not in written and TOKEN not in written, report
        assert "token is" in written or report == "junit.xml", report  # the note is there, its secrets hidden


@contextmanager
def journal_file(tmp_path: Path, *text: str) -> Iterator[Path]:
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(line + "\n" for line in text))
    yield path


HEADER = json.dumps({"schema": SCHEMA, "run_id": "0123456789ab", "scenario": "/elsewhere/other.yaml", "title": "Another game day",
                     "seed": 1, "proxy": None, "toxiproxy": None, "started": "2026-12-01T10:00:00+00:00"})


def test_a_journal_that_is_not_one_is_refused_naming_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.jsonl"
    assert cli(["gameday", "--cleanup", str(missing)]) == 2
    assert capsys.readouterr().err == (f"chaoskit gameday: {missing}: no such file: give the journal.jsonl of the game day "
                                       "(in its report directory)\n")
    with journal_file(tmp_path, HEADER, '{"segment": 1, "at": 0.0, "kind": "run.start", "text": "", "data": {}}', '{"segment": 1, "at') as bad:
        assert cli(["gameday", "--cleanup", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"chaoskit gameday: {bad}:3: not a JSON line (Unterminated string")
    with journal_file(tmp_path, json.dumps({"schema": "chaoskit.run/1", "title": "x"})) as other:
        assert cli(["gameday", "--cleanup", str(other)]) == 2
    assert capsys.readouterr().err == (f"chaoskit gameday: {other}:1: schema 'chaoskit.run/1', not 'chaoskit.gameday-journal/1': "
                                       "not a game-day journal\n")


def test_resuming_another_scenarios_journal_or_starting_over_an_unfinished_one_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"APP_URL": "http://127.0.0.1:9", "UPSTREAM": "http://127.0.0.1:9", "REPORTS": str(tmp_path / "reports"),
                        "CHAOSKIT_PROXY_TOKEN": TOKEN, **addresses()}.items():
        monkeypatch.setenv(name, value)
    with journal_file(tmp_path, HEADER) as other:
        assert cli(["gameday", str(SCENARIO), "--resume", str(other), "--auto"]) == 2
    assert capsys.readouterr().err.endswith(
        f"chaoskit gameday: {other}: the journal of 'Another game day' (scenario /elsewhere/other.yaml), not of "
        "'OpenAI outage (test)': resume it with its own scenario\n")
    unfinished = tmp_path / "reports" / "journal.jsonl"
    unfinished.parent.mkdir()
    unfinished.write_text(HEADER + "\n" + '{"segment": 1, "at": 0.0, "kind": "run.start", "text": "", "data": {}}\n')
    assert cli(["gameday", str(SCENARIO), "--auto"]) == 2
    assert capsys.readouterr().err.endswith(
        f"chaoskit gameday: {unfinished}: the journal of an unfinished game day ('Another game day', run 0123456789ab, started "
        f"2026-12-01T10:00:00+00:00): resume it (`chaoskit gameday SCENARIO --resume {unfinished}`), clean up after it "
        f"(`chaoskit gameday --cleanup {unfinished}`), or move it away\n")
    assert unfinished.read_text().count("\n") == 2  # left as it was

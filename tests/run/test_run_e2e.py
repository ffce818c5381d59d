"""``chaoskit run`` end to end, every part a real process on loopback: the model server playing
OpenAI and Anthropic, the support bot under uvicorn with its base URLs on the chaos proxy, the
proxy, and ``chaoskit run`` as a subprocess on a scenario file."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine._upstream import model_server_process

from ._stack import (
    ROOT,
    SCENARIO,
    TOKEN,
    addresses,
    all_off_within,
    faults_on,
    on_running_proxy,
    run,
    running_proxy,
    start_run,
    support_bot,
    until_a_fault,
)

AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with model_server_process() as base:
        yield base


def env_for(upstream: str, app: str, places: dict[str, str], reports: Path, **extra: str) -> dict[str, str]:
    return {"UPSTREAM": upstream, "APP_URL": app, "REPORTS": str(reports), **places, **extra}


def report(reports: Path) -> dict[str, Any]:
    return json.loads((reports / "run.json").read_text())  # type: ignore[no-any-return]


def test_the_fallback_holds_through_an_outage_and_the_run_exits_0(upstream: str, tmp_path: Path) -> None:
    places = addresses()
    with support_bot(places["PROXY_LISTEN"]) as app:
        done = run(SCENARIO, env_for(upstream, app, places, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    doc = report(tmp_path)
    assert (doc["schema"], doc["status"], doc["exit_code"], doc["seed"]) == ("chaoskit.run/1", "held", 0, 424242)
    assert doc["injections"]["by_fault"]["openai.server_error"] >= 2  # the SDK's retry met it too
    assert all(c["provider"] == "openai" for c in doc["injections"]["calls"])
    during = doc["probes"]["anthropic-answers"]
    assert during and all(r["ok"] for r in during)  # the fallback answered while OpenAI was down
    assert [r["when"] for r in doc["probes"]["order-question"]] == ["before", "after"]
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds.index("fault.on") < kinds.index("fault.off") < kinds.index("rollback")
    assert "chaoskit run: OpenAI outage (test): held (exit 0)" in done.stdout
    assert "fault.on" in done.stderr and "openai.server_error on" in done.stderr  # progress as it ran
    secrets = ("runtestSECRET0123456789", TOKEN)
    for name in ("run.json", "junit.xml", "run.html"):
        text = (tmp_path / name).read_text()
        assert not any(s in text for s in secrets), name
    assert not any(s in done.stdout + done.stderr for s in secrets)


def test_the_app_without_its_fallback_makes_the_same_run_exit_1(upstream: str, tmp_path: Path) -> None:
    places = addresses()
    with support_bot(places["PROXY_LISTEN"], fallback=False) as app:
        done = run(SCENARIO, env_for(upstream, app, places, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    doc = report(tmp_path)
    assert doc["status"] == "deviated"
    assert any(r.startswith("probe 'anthropic-answers' (during_fault) failed at ") for r in doc["reasons"])
    assert "chaoskit run: OpenAI outage (test): deviated (exit 1)" in done.stdout
    junit = (tmp_path / "junit.xml").read_text()
    assert '<testcase classname="chaoskit.run.OpenAI outage (test)" name="steady state held"' in junit
    assert "<failure message=\"deviated: " in junit


@pytest.fixture
def proxy(upstream: str) -> Iterator[tuple[str, str]]:
    """A chaos proxy already running (as a deployed one would be): (its listen address, its control URL)."""
    with running_proxy(upstream) as running:
        yield running


def test_a_stop_condition_aborts_and_rollback_leaves_the_proxy_clean(upstream: str, proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    scenario = on_running_proxy(tmp_path, control, **{
        "safety:": "stop_conditions:\n  - probe: anthropic-answers\nsafety:",
        "${OUTAGE:-2s}": "30s",
    })
    with support_bot(listen, fallback=False) as app:
        started = time.monotonic()
        done = run(scenario, env_for(upstream, app, {}, tmp_path / "reports"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert time.monotonic() - started < 20  # stopped long before the 30 s phase would end
    doc = report(tmp_path / "reports")
    assert any(r.startswith("stop condition on probe 'anthropic-answers': the probe failed: ") for r in doc["reasons"])
    assert "stop" in [e["kind"] for e in doc["events"]]
    assert faults_on(control) == []


def test_sigint_mid_run_takes_every_fault_off_and_still_writes_the_report(upstream: str, proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    scenario = on_running_proxy(tmp_path, control, **{"${OUTAGE:-2s}": "60s"})
    with support_bot(listen) as app:
        runner = start_run(scenario, env_for(upstream, app, {}, tmp_path / "reports"))
        until_a_fault(control, runner, "the run")
        runner.send_signal(signal.SIGINT)
        all_off_within(control, 1.0, "SIGINT")
        out, err = runner.communicate(timeout=30)
    assert runner.returncode == 1, out + err
    doc = report(tmp_path / "reports")
    assert doc["status"] == "aborted"
    assert doc["reasons"][0].startswith("stopped: SIGINT")


def test_a_runner_killed_with_sigkill_leaves_faults_that_expire_by_their_lease(upstream: str, proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    scenario = on_running_proxy(tmp_path, control, **{"${OUTAGE:-2s}": "60s"})
    with support_bot(listen) as app:
        runner = start_run(scenario, env_for(upstream, app, {}, tmp_path / "reports"), "--lease", "1")
        until_a_fault(control, runner, "the run")
        time.sleep(1.5)  # renewed past its first lease: the runner keeps it on
        assert len(faults_on(control)) == 1
        runner.kill()
        runner.communicate(timeout=10)
        killed = time.monotonic()
        while faults_on(control):
            assert time.monotonic() - killed < 1.5, "the dead runner's fault outlived its lease"
            time.sleep(0.05)


def test_a_proxy_killed_mid_run_stops_it_within_seconds_with_exit_3_and_the_report(upstream: str, tmp_path: Path) -> None:
    import re

    from proxy.test_proxy_cli import start

    process, url, control = start("--upstream", f"openai={upstream}", "--upstream", f"anthropic={upstream}")
    try:
        scenario = on_running_proxy(tmp_path, control, **{"${OUTAGE:-2s}": "60s"})
        with support_bot(url.removeprefix("http://")) as app:
            runner = start_run(scenario, env_for(upstream, app, {}, tmp_path / "reports"))
            until_a_fault(control, runner, "the run")
            process.kill()
            killed = time.monotonic()
            out, err = runner.communicate(timeout=30)
            took = time.monotonic() - killed
    finally:
        process.kill()
        process.communicate(timeout=10)
    assert runner.returncode == 3, out + err
    assert took < 5, f"the run took {took:.1f} s to stop after its proxy died"
    doc = report(tmp_path / "reports")
    assert doc["status"] == "infrastructure"
    assert re.fullmatch(rf"the chaos proxy at {re.escape(control)} stopped answering at \d+\.\d s \(\w+Error(: .*)?\): its faults "
                        r"end with their leases \(at most 10 s\); the run stopped", doc["reasons"][0]), doc["reasons"]
    assert f"chaoskit run: {doc['reasons'][0]}" in err.splitlines()


def test_a_target_that_is_down_exits_3_and_puts_nothing_on(upstream: str, proxy: tuple[str, str], tmp_path: Path) -> None:
    from seams._servers import free_port

    _, control = proxy
    scenario = on_running_proxy(tmp_path, control)
    done = run(scenario, env_for(upstream, f"http://127.0.0.1:{free_port()}", {}, tmp_path / "reports"))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "is down before the run (ConnectError" in done.stdout
    assert faults_on(control) == []


def test_a_production_target_is_refused_without_both_consents(upstream: str, tmp_path: Path) -> None:
    places = addresses()
    done = run(SCENARIO, env_for(upstream, "http://127.0.0.1:9", places, tmp_path, CHAOS_ENVIRONMENT="production"),
               "--i-accept-production-risk")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"{SCENARIO}:5: target.environment: the target is 'production': a scenario runs against "
                                   "production only with target.allow_production: true (and --i-accept-production-risk on the command line)")


def test_a_typo_in_the_scenario_exits_2_with_file_line_and_a_suggestion(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.read_text().replace("openai.server_error", "openai.server_eror").replace("  duration: ${OUTAGE", "  duraton: ${OUTAGE"))
    done = run(bad, {})
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert any(line.startswith(f"{bad}:") and "did you mean 'openai.server_error'" in line.lower() for line in lines), done.stderr
    assert any("duraton" in line and "did you mean 'duration'" in line.lower() for line in lines), done.stderr


def test_dry_run_prints_the_plan_and_touches_nothing(upstream: str, tmp_path: Path) -> None:
    places = addresses()
    done = run(SCENARIO, env_for(upstream, "http://127.0.0.1:9", places, tmp_path), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "openai-down: openai.server_error" in done.stdout
    assert not (tmp_path / "run.json").exists()


def test_the_fault_and_seed_from_the_report_reproduce_the_failure_in_pytest(
    upstream: str, tmp_path: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    places = addresses()
    with support_bot(places["PROXY_LISTEN"]) as app:
        done = run(SCENARIO, env_for(upstream, app, places, tmp_path))
    assert done.returncode == 0, done.stderr
    (repro,) = report(tmp_path)["reproduce"]
    assert repro["marker"] == "@pytest.mark.chaos('openai.server_error')"
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "examples"))
    pytester.makepyfile(test_repro=f"""
import pytest
from support_bot.app import SupportBot

{repro["marker"]}
def test_openai_down(chaos):
    chaos.reply("anthropic", "Your order has shipped.")
    with SupportBot() as bot:
        answer = bot.answer("Where is my order A100?")
    assert chaos.calls[0].fault == "openai.server_error"
    assert answer.provider == "anthropic"
""")
    result = pytester.runpytest_subprocess(*repro["command"].split()[1:], "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "--chaos-seed 424242" in repro["command"]


def test_load_runs_during_the_run_and_its_figures_reach_the_report(upstream: str, tmp_path: Path) -> None:
    places = addresses()
    # 4 s of load and of outage: Locust's own start-up takes a second or two on a busy machine, and a
    # request still in flight when the run stops the load is not counted
    text = SCENARIO.read_text().replace("safety:", "load:\n  users: 2\n  spawn_rate: 2\n  duration: 4s\n"
                                        "  headers: {x-chaos-target: synthetic}\nsafety:")
    scenario = tmp_path / "with-load.yaml"
    scenario.write_text(text)
    with support_bot(places["PROXY_LISTEN"]) as app:
        done = run(scenario, env_for(upstream, app, places, tmp_path / "reports", OUTAGE="4s"))
    assert done.returncode == 0, done.stdout + done.stderr
    load = report(tmp_path / "reports")["load"]
    assert load["requests"] > 0 and load["failures"] == 0  # the fallback answered the load too
    assert "load: 2 users for 4 s" in done.stderr
    html = (tmp_path / "reports" / "run.html").read_text()
    assert f"{load['requests']} requests, 0 failed" in html


def test_a_steady_state_that_fails_before_puts_no_fault_on(upstream: str, proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    scenario = on_running_proxy(tmp_path, control, **{"expect: {handoff: false}": "expect: {contains: 'no app says this'}"})
    with support_bot(listen) as app:
        done = run(scenario, env_for(upstream, app, {}, tmp_path / "reports"))
    assert done.returncode == 1
    doc = report(tmp_path / "reports")
    assert doc["reasons"][-1] == "the steady state did not hold before the method: no fault was put on"
    assert "fault.on" not in [e["kind"] for e in doc["events"]]
    assert doc["injections"]["count"] == 0


def test_the_kill_switch_file_stops_the_run_with_every_fault_off(upstream: str, proxy: tuple[str, str], tmp_path: Path) -> None:
    listen, control = proxy
    switch = tmp_path / "stop-now"
    scenario = on_running_proxy(tmp_path, control, **{"${OUTAGE:-2s}": "60s"})
    with support_bot(listen) as app:
        runner = start_run(scenario, env_for(upstream, app, {}, tmp_path / "reports", KILL_SWITCH=str(switch)))
        until_a_fault(control, runner, "the run")
        switch.touch()
        all_off_within(control, 1.0, "the kill switch")
        out, err = runner.communicate(timeout=30)
    assert runner.returncode == 1, out + err
    assert report(tmp_path / "reports")["reasons"][0] == f"stopped: the kill-switch file {switch} appeared"
    done = run(scenario, env_for(upstream, "http://127.0.0.1:9", {}, tmp_path / "again", KILL_SWITCH=str(switch)))
    assert done.returncode == 2
    assert f"refusing to run: the kill-switch file {switch} exists; remove it to allow runs" in done.stdout

"""The scheduling examples: examples/staging/nightly.sh runs a scenario and exits with its verdict;
the GitHub Actions workflow and docs/staging.md's cron line call it on a schedule."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from engine._upstream import model_server_process

from ._stack import ROOT, TOKEN, addresses, support_bot

SCRIPT = ROOT / "examples" / "staging" / "nightly.sh"
WORKFLOW = ROOT / "examples" / "staging" / "nightly-chaos.yml"
SCENARIO = Path(__file__).with_name("outage.yaml")


def test_the_nightly_script_exits_1_when_the_fallback_is_broken_and_keeps_its_reports(tmp_path: Path) -> None:
    places = addresses()
    chaoskit = f"{sys.executable} -m chaoskit.cli"
    with model_server_process() as upstream, support_bot(places["PROXY_LISTEN"], fallback=False) as app:
        env = {**os.environ, **places, "CHAOSKIT": chaoskit, "CHAOSKIT_PROXY_TOKEN": TOKEN, "UPSTREAM": upstream, "APP_URL": app,
               "REPORTS": str(tmp_path / "unused")}
        done = subprocess.run([str(SCRIPT), str(SCENARIO), str(tmp_path / "nightly")], capture_output=True, text=True,
                              timeout=120, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    latest = tmp_path / "nightly" / "latest"
    assert latest.is_symlink() and re.fullmatch(r"\d{4}-\d\d-\d\dT\d{6}Z", os.readlink(latest))
    assert {p.name for p in latest.iterdir()} == {"run.json", "junit.xml", "run.html"}
    assert "probe       health (continuous): ok" not in done.stderr  # --quiet: failures only


def test_the_nightly_script_passes_on_an_invalid_scenario_as_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: no target\n")
    env = {**os.environ, "CHAOSKIT": f"{sys.executable} -m chaoskit.cli"}
    done = subprocess.run([str(SCRIPT), str(bad), str(tmp_path / "r")], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert f"{bad}:" in done.stderr


def test_the_workflow_runs_the_script_on_a_schedule_and_always_uploads_the_reports() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (cron,) = [entry["cron"] for entry in workflow[True]["schedule"]]  # YAML 1.1 reads the key "on" as True
    assert len(cron.split()) == 5
    steps = workflow["jobs"]["provider-outage"]["steps"]
    (run_step,) = [s for s in steps if "nightly.sh" in s.get("run", "")]
    script, scenario, _ = run_step["run"].split()
    assert (ROOT / script) == SCRIPT and (ROOT / scenario).is_file()
    assert run_step.get("continue-on-error") is None  # a non-zero exit fails the job
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()"


def test_the_documented_cron_line_calls_the_script() -> None:
    text = (ROOT / "docs" / "staging.md").read_text()
    block = re.search(r"```cron\n(.*?)```", text, re.S)
    assert block
    (line,) = [x for x in block.group(1).splitlines() if x and not x.startswith("MAILTO")]
    fields = line.split(None, 5)
    assert all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5])
    assert "examples/staging/nightly.sh scenarios/provider-outage.yaml" in fields[5]
    assert (ROOT / "scenarios" / "provider-outage.yaml").is_file()

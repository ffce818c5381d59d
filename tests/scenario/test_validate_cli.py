"""``chaoskit validate`` as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chaoskit.scenario import schema_path, shipped_scenarios

ROOT = Path(__file__).resolve().parent.parent.parent


def chaoskit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaoskit.cli", *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_the_shipped_scenarios_are_ok() -> None:
    done = chaoskit("validate", *(str(p.relative_to(ROOT)) for p in shipped_scenarios()))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "ok: scenarios/brownout.yaml (2 phases, 1 fault, 2 probes)",
        "ok: scenarios/cold-start-morning.yaml (1 phase, 1 fault, 2 probes)",
        "ok: scenarios/provider-outage.yaml (2 phases, 1 fault, 3 probes)",
        "ok: scenarios/rate-limit-storm.yaml (2 phases, 3 faults, 2 probes)",
        "ok: scenarios/slow-database.yaml (2 phases, 2 faults, 2 probes)",
        "ok: scenarios/stream-cuts.yaml (2 phases, 2 faults, 2 probes)",
    ]


def test_a_typo_in_a_field_and_a_fault_id_exits_2_with_file_line_field_and_suggestion(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "provider-outage.yaml").read_text()
    text = text.replace("  - name: openai-down\n    duration: 2m", "  - name: openai-down\n    duraton: 2m")
    text = text.replace("- fault: openai.server_error", "- fault: openai.server_eror")
    (tmp_path / "outage.yaml").write_text(text)
    done = chaoskit("validate", "outage.yaml", str(ROOT / "scenarios" / "brownout.yaml"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        "outage.yaml:60: method[1]: missing field 'duration'",
        "outage.yaml:61: method[1].duraton: unknown field 'duraton'; did you mean 'duration'?",
        "outage.yaml:64: method[1].faults[0].fault: unknown fault id 'openai.server_eror'; did you mean 'openai.server_error'?",
        f"ok: {ROOT / 'scenarios' / 'brownout.yaml'} (2 phases, 1 fault, 2 probes)",
    ]


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    done = chaoskit("validate", "nope.yaml", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "nope.yaml: no such file\n")


def test_schema_prints_the_json_schema() -> None:
    done = chaoskit("validate", "--schema")
    assert done.returncode == 0 and done.stdout == schema_path().read_text()


def test_nothing_to_validate_is_a_usage_error() -> None:
    done = chaoskit("validate")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "chaoskit validate: error: give one or more SCENARIO files, or --schema"

"""The oracle catches a wrong fault: a temporary copy of a catalog file with one fault's status,
retry header or break kind flipped is compared with the shipped catalog played by a real
server, and exactly that fault differs; ``chaoskit doctor --verify`` says so and exits 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaoskit import _doctor
from chaoskit._catalog import Catalog, catalog_files


def planted(tmp_path: Path, provider: str, kind: str, change: dict[str, Any]) -> Path:
    """A copy of ``provider``'s catalog file with ``change`` made to fault ``kind`` (``effect``, or params)."""
    (source,) = [p for p in catalog_files() if p.stem == provider]
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    entry = data["faults"][kind]
    for key, value in change.items():
        if key == "effect":
            entry["effect"] = value
        else:
            entry["params"][key] = value
    copy = tmp_path / source.name
    copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return copy


PLANTS = [
    pytest.param("groq", "groq.*", "rate_limit", {"status": 500}, "status: chaoskit 500, real 429", id="status"),
    pytest.param("mistral", "mistral.*", "rate_limit", {"should_retry": False}, "attempts: chaoskit 1, real 2", id="retry-header"),
    pytest.param(
        "anthropic", "anthropic.stream.*", "stream.reset", {"effect": "stream.cut_unclean"},
        "cause: chaoskit 'httpx2.RemoteProtocolError", id="break-kind",
    ),
]


@pytest.mark.parametrize(("provider", "pattern", "kind", "change", "difference"), PLANTS)
def test_the_oracle_fails_for_exactly_the_planted_fault(
    tmp_path: Path, provider: str, pattern: str, kind: str, change: dict[str, Any], difference: str,
) -> None:
    wrong = Catalog.from_files([planted(tmp_path, provider, kind, change)])
    verdicts = _doctor.verify_all(pattern, under_test=wrong)
    assert len({v.fault for v in verdicts}) >= 2, "the check covers more than the planted fault"
    assert {v.fault for v in verdicts if not v.agrees} == {f"{provider}.{kind}"}, [v.describe() for v in verdicts if not v.agrees]
    assert all(not v.agrees for v in verdicts if v.fault == f"{provider}.{kind}")
    found = [d for v in verdicts for d in v.differences]
    assert any(d.startswith(difference) for d in found), found


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "--verify", *args],
                          capture_output=True, text=True, timeout=300)


def test_doctor_verify_agrees_on_the_installed_sdks() -> None:
    done = doctor("groq.[cr]*")  # its status faults; every fault is compared in tests/fidelity/test_oracle.py
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("SDKs: openai ") and "anthropic " in lines[0]
    rows = [line.split()[:2] for line in lines[1:10]]
    assert sorted(rows) == [["agrees", f] for f in ("groq.cancelled",) * 3 + ("groq.capacity",) * 3 + ("groq.rate_limit",) * 3]
    assert lines[-1] == "9 checks of 3 faults against a real server on loopback: all agree"


def test_doctor_verify_names_a_wrong_fault_and_exits_1(tmp_path: Path) -> None:
    done = doctor("groq.[cr]*", "--catalog", str(planted(tmp_path, "groq", "rate_limit", {"status": 500})))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "DIFFERS  groq.rate_limit  openai sync unary: openai.RateLimitError 429, 2 attempts" in out
    assert "    status: chaoskit 500, real 429" in out
    assert "    outcome: chaoskit 'openai.InternalServerError', real 'openai.RateLimitError'" in out
    assert out.splitlines()[-1] == "9 checks of 3 faults against a real server on loopback: 3 differ (groq.rate_limit)"
    assert "agrees  groq.capacity" in out


def test_doctor_verify_bad_input() -> None:
    done = doctor("groq.*", "--catalog", "/nonexistent/groq.yaml")
    assert (done.returncode, done.stderr.strip()) == (2, "chaoskit doctor: --catalog /nonexistent/groq.yaml: no such file")
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "--catalog", "x.yaml"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "chaoskit doctor: --catalog goes with --verify (the catalog to compare with the real failures)"

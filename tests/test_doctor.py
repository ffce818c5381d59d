"""``chaoskit doctor`` agrees with the fidelity matrix: for every fault the matrix pins, the
same exception class, status and (where the catalog's default delays do not change it)
attempt count, through the real SDKs; and the command's table and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit import _doctor, faults

sys.path.insert(0, str(Path(__file__).parent / "providers"))
from test_anthropic_faults import ANTHROPIC  # noqa: E402
from test_openai_faults import OPENAI  # noqa: E402

MATRIX = {**OPENAI, **ANTHROPIC}


def qualified(cls: type | None) -> str:
    return "returned" if cls is None else f"{cls.__module__.split('._')[0]}.{cls.__name__}"


def test_doctor_covers_every_model_provider_fault() -> None:
    rows = _doctor.diagnose_all()
    assert [r.fault for r in rows] == faults.ids("anthropic.*") + faults.ids("azure.*") + faults.ids("openai.*")
    azure = {r.fault: r for r in rows if r.fault.startswith("azure.")}
    assert (azure["azure.rate_limit"].outcome, azure["azure.rate_limit"].attempts) == ("openai.RateLimitError", 3)
    assert azure["azure.content_filter.prompt"].outcome == "openai.BadRequestError"


@pytest.mark.parametrize("fault", sorted(MATRIX))
def test_doctor_agrees_with_the_fidelity_matrix(fault: str) -> None:
    expect = MATRIX[fault]
    row = _doctor.diagnose(fault, stream=expect.stream, reply=expect.reply)
    assert row.outcome == qualified(expect.raises), row
    if expect.status is not None:
        assert row.status == expect.status
    delayed = any(k in expect.params for k in ("seconds", "retry_after"))
    if not delayed:  # the matrix shortens delays; with the catalog's own, a slow answer may time out first
        assert row.attempts == expect.attempts, row
    assert row.retried == (row.attempts > 1)


def test_the_command_prints_a_table_and_json() -> None:
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "openai.rate_limit*"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["fault", "call", "the", "app", "gets", "status", "attempts", "retried", "time"]
    assert lines[1].split() == ["openai.rate_limit", "unary", "openai.RateLimitError", "429", "3", "yes", "2.00", "s"]
    assert "on the virtual clock" in lines[-1]
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "anthropic.overloaded", "--json"],
                          capture_output=True, text=True, timeout=60)
    (row,) = json.loads(done.stdout)
    assert {k: row[k] for k in ("fault", "outcome", "status", "attempts", "retried")} == {
        "fault": "anthropic.overloaded", "outcome": "anthropic.OverloadedError", "status": 529, "attempts": 3, "retried": True,
    }


def test_a_pattern_that_matches_no_provider_fault() -> None:
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "http.*"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "chaoskit doctor: no fault of anthropic, openai matches 'http.*'"

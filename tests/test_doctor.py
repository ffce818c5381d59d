"""``chaoskit doctor`` reports what a real server's failure does to the same client: for every
status and network fault, the same exception class, status and attempts as the doctor's client
gets from ``fidelity``'s real server; the openai and anthropic rows as the fidelity matrix finds
them; and the command's table, JSON and Markdown are those rows."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit import _doctor, faults, fidelity

sys.path.insert(0, str(Path(__file__).parent / "providers"))
from _matrix import REAL, qualified, real_observation  # noqa: E402
from test_anthropic_faults import ANTHROPIC  # noqa: E402
from test_openai_faults import OPENAI  # noqa: E402

MATRIX = {**OPENAI, **ANTHROPIC}
#: The doctor's client as the real side makes it: the SDK's own retries and backoff, short
#: timeouts (a timeout is the same error after 0.2 s as after the doctor's 10).
DOCTOR = fidelity.Settings(read_timeout=0.2, connect_timeout=0.2)
#: The other providers' status and network faults (their own tests compare the rest with a real
#: server through their own clients).
OTHERS = [
    f for p in ("azure", "bedrock", "gemini", "groq", "huggingface", "mistral", "ollama", "tgi", "vllm")
    for f in faults.ids(f"{p}.*") if faults.get(f).effect in ("status", "timeout.read", "timeout.connect", "connection.reset")
]


@functools.cache
def real_for_doctor(fault: str) -> fidelity.Observation:
    """What the doctor's client gets from a real server playing ``fault`` (its delays shortened)."""
    from chaoskit.fidelity._oracle import run_real

    f = faults.get(fault)
    return run_real(f.with_params(**fidelity.quick(f)), stream=False, asynchronous=False, settings=DOCTOR)


def test_doctor_covers_every_model_provider_fault() -> None:
    rows = _doctor.diagnose_all()
    providers = ("anthropic", "azure", "bedrock", "gemini", "groq", "huggingface", "mistral", "ollama", "openai", "tgi", "vllm")
    assert [r.fault for r in rows] == [f for p in providers for f in faults.ids(f"{p}.*")]
    sdks = {r.fault.split(".")[0]: r.sdk for r in rows}
    assert (sdks["gemini"], sdks["bedrock"], sdks["huggingface"], sdks["tgi"]) == ("google.genai", "boto3", "huggingface_hub", "openai")


@pytest.mark.parametrize("fault", OTHERS)
def test_doctor_reports_what_a_real_server_gives_the_same_client(fault: str) -> None:
    row = _doctor.diagnose(fault)
    real = real_for_doctor(fault)
    assert (row.outcome, row.status) == (real.outcome, real.status), (row, real.summary())
    if real.attempts is not None:  # a connect that never completes reaches no server to count it
        assert row.attempts == real.attempts, (row, real.summary())
    assert row.retried == (row.attempts > 1)


@pytest.mark.parametrize("fault", ["bedrock.cold_start", "huggingface.cold_start"])
def test_a_cold_start_that_refuses_calls_while_loading(fault: str) -> None:
    """Bedrock and Hugging Face answer an error status while the model loads; the doctor's row is
    what the same client gets from a real server still loading."""
    row = _doctor.diagnose(fault)
    real = real_for_doctor(fault)
    assert row.status is not None and row.status >= 400
    assert (row.outcome, row.status, row.attempts) == (real.outcome, real.status, real.attempts), real.summary()


@pytest.mark.parametrize("fault", sorted(MATRIX))
def test_doctor_agrees_with_the_fidelity_matrix(fault: str) -> None:
    expect = MATRIX[fault]
    row = _doctor.diagnose(fault, stream=expect.stream, reply=expect.reply)
    attempts: int | None = expect.attempts
    if expect.raises is REAL:  # what the SDK does is not written down: a real server's
        real = real_observation(fault, stream=expect.stream, params=expect.params, api=expect.api)
        assert row.outcome == real.outcome, row
        attempts = real.attempts  # None where a real server cannot count them (a connect that never completes)
    else:
        assert row.outcome == qualified(expect.raises), row
    if expect.status is not None:
        assert row.status == expect.status
    delayed = any(k in expect.params for k in ("seconds", "retry_after"))
    if not delayed and attempts is not None:  # the matrix shortens delays; with the catalog's own, a slow answer may time out first
        assert row.attempts == attempts, row
    assert row.retried == (row.attempts > 1)


def test_the_command_prints_a_table_and_json() -> None:
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "openai.rate_limit*"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.pop(0).startswith("SDKs: openai ")
    assert lines[0].split() == ["fault", "sdk", "call", "the", "app", "gets", "status", "attempts", "retried", "time"]
    row = _doctor.diagnose("openai.rate_limit")  # the same row in this process
    assert row.outcome == real_for_doctor("openai.rate_limit").outcome
    assert lines[1].split() == [
        "openai.rate_limit", "openai", "unary", row.outcome, "429", str(row.attempts), "yes" if row.retried else "no", f"{row.seconds:.2f}", "s",
    ]
    assert "on the virtual clock" in lines[-1]
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "anthropic.overloaded", "--json"],
                          capture_output=True, text=True, timeout=60)
    (printed,) = json.loads(done.stdout)
    assert printed == _doctor.diagnose("anthropic.overloaded").to_dict()
    assert (printed["outcome"], printed["status"]) == (real_for_doctor("anthropic.overloaded").outcome, 529)


def test_a_pattern_that_matches_no_provider_fault() -> None:
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "http.*"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "chaoskit doctor: no fault of anthropic, azure, bedrock, gemini, groq, huggingface, mistral, ollama, openai, tgi, vllm matches 'http.*'"
    )


def test_the_fact_table_for_the_docs() -> None:
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "openai.rate_limit", "--markdown"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    row = _doctor.diagnose("openai.rate_limit")
    assert lines[0] == "# What each fault does to the SDKs"
    assert lines[2].startswith("Generated by `chaoskit doctor --markdown` (`make fault-facts`) with openai ")
    assert lines[4:] == [
        "| fault | sdk | call | the app gets | status | attempts | time |",
        "|---|---|---|---|---|---|---|",
        f"| `openai.rate_limit` | openai | unary | `{row.outcome}` | 429 | {row.attempts} | {row.seconds:.2f} s |",
    ]

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
from _matrix import REAL, qualified, real_observation  # noqa: E402
from test_anthropic_faults import ANTHROPIC  # noqa: E402
from test_bedrock_faults import STATUS_FAULTS as BEDROCK  # noqa: E402
from test_compatible_faults import CASES as COMPATIBLE  # noqa: E402
from test_gemini_faults import NETWORK as GEMINI_NETWORK  # noqa: E402
from test_gemini_faults import STATUS as GEMINI  # noqa: E402
from test_huggingface_faults import NATIVE as HUGGINGFACE  # noqa: E402
from test_huggingface_faults import OPENAI as TGI  # noqa: E402
from test_openai_faults import OPENAI  # noqa: E402

MATRIX = {**OPENAI, **ANTHROPIC}
#: fault -> (the app gets, status, attempts) as the other providers' test files pin them, for the
#: doctor's client of each SDK (default retries): google-genai makes one attempt, botocore three
#: for retried errors; huggingface_hub's chat_completion raises HfHubHTTPError for any status.
OTHERS: dict[str, tuple[str, int | None, int]] = {
    **{f: (qualified(raises), code, 1) for f, (raises, code, _, _) in GEMINI.items()},
    **{f: (qualified(by["httpx2"][0]), None, by["httpx2"][1]) for f, by in GEMINI_NETWORK.items()},
    **{f: (f"botocore.errorfactory.{code}", status, attempts) for f, code, status, attempts in BEDROCK},
    **{f"huggingface.{kind}": ("huggingface_hub.errors.HfHubHTTPError", status, 1) for kind, (_, status) in HUGGINGFACE.items()},
    **{f"tgi.{kind}": (qualified(raises), status, attempts) for kind, (raises, status, attempts) in TGI.items()},
    **{f: (qualified(raises), status, attempts) for f, (raises, status, _, _, attempts) in COMPATIBLE.items()},
}




def test_doctor_covers_every_model_provider_fault() -> None:
    rows = _doctor.diagnose_all()
    providers = ("anthropic", "azure", "bedrock", "gemini", "groq", "huggingface", "mistral", "ollama", "openai", "tgi", "vllm")
    assert [r.fault for r in rows] == [f for p in providers for f in faults.ids(f"{p}.*")]
    azure = {r.fault: r for r in rows if r.fault.startswith("azure.")}
    assert (azure["azure.rate_limit"].outcome, azure["azure.rate_limit"].attempts) == ("openai.RateLimitError", 3)
    assert azure["azure.content_filter.prompt"].outcome == "openai.BadRequestError"
    sdks = {r.fault.split(".")[0]: r.sdk for r in rows}
    assert (sdks["gemini"], sdks["bedrock"], sdks["huggingface"], sdks["tgi"]) == ("google.genai", "boto3", "huggingface_hub", "openai")


@pytest.mark.parametrize("fault", sorted(OTHERS))
def test_doctor_agrees_with_the_other_providers_tests(fault: str) -> None:
    outcome, status, attempts = OTHERS[fault]
    row = _doctor.diagnose(fault)
    assert (row.outcome, row.status) == (outcome, status), row
    if "retry_after" not in faults.get(fault).params:  # the tests shorten retry-after; the doctor does not
        assert row.attempts == attempts, row
    assert row.retried == (row.attempts > 1)


def test_a_cold_start_that_refuses_calls_while_loading() -> None:
    """Bedrock answers ModelNotReadyException while the model loads: botocore's three attempts all fail."""
    row = _doctor.diagnose("bedrock.cold_start")
    assert (row.outcome, row.status, row.attempts) == ("botocore.errorfactory.ModelNotReadyException", 429, 3)
    row = _doctor.diagnose("huggingface.cold_start")
    assert (row.outcome, row.status, row.attempts) == ("huggingface_hub.errors.HfHubHTTPError", 503, 1)


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
    assert lines[1].split() == ["openai.rate_limit", "openai", "unary", "openai.RateLimitError", "429", "3", "yes", "2.00", "s"]
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
    assert done.stderr.strip() == (
        "chaoskit doctor: no fault of anthropic, azure, bedrock, gemini, groq, huggingface, mistral, ollama, openai, tgi, vllm matches 'http.*'"
    )


def test_the_fact_table_for_the_docs() -> None:
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "openai.rate_limit", "--markdown"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# What each fault does to the SDKs"
    assert lines[2].startswith("Generated by `chaoskit doctor --markdown` (`make fault-facts`) with openai ")
    assert lines[4:] == [
        "| fault | sdk | call | the app gets | status | attempts | time |",
        "|---|---|---|---|---|---|---|",
        "| `openai.rate_limit` | openai | unary | `openai.RateLimitError` | 429 | 3 | 2.00 s |",
    ]

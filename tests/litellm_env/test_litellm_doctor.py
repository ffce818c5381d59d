"""``chaoskit doctor`` through LiteLLM: where litellm is installed, the openai and anthropic
faults are also diagnosed through ``litellm.completion``, and the rows agree with what
test_litellm_faults.py pins for the same faults (class, status, attempts)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_litellm_faults import ANTHROPIC, OPENAI

from chaoskit import _doctor


def qualified(cls: type) -> str:
    return f"{cls.__module__.split('._')[0]}.{cls.__name__}"


@pytest.mark.parametrize("fault", sorted(OPENAI) + sorted(ANTHROPIC))
def test_the_doctor_through_litellm_agrees_with_the_litellm_tests(fault: str) -> None:
    raises, status, attempts = {**OPENAI, **ANTHROPIC}[fault]
    row = _doctor.diagnose(fault, sdk="litellm")
    assert (row.sdk, row.outcome, row.status, row.attempts) == ("litellm", qualified(raises), status, attempts), row


def test_every_openai_and_anthropic_fault_gets_a_litellm_row() -> None:
    rows = _doctor.diagnose_all("openai.rate_limit*")
    assert [(r.fault, r.sdk) for r in rows] == [
        ("openai.rate_limit", "openai"), ("openai.rate_limit", "litellm"),
        ("openai.rate_limit.tokens", "openai"), ("openai.rate_limit.tokens", "litellm"),
    ]


def test_a_provider_litellm_does_not_speak_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^chaoskit doctor cannot call bedrock.throttling through 'litellm'; gateways: litellm \(openai, anthropic\)$"):
        _doctor.diagnose("bedrock.throttling", sdk="litellm")


def test_the_command_shows_the_litellm_rows() -> None:
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "doctor", "anthropic.overloaded", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = {row["sdk"]: row for row in json.loads(done.stdout)}
    assert (rows["litellm"]["outcome"], rows["litellm"]["status"], rows["litellm"]["attempts"]) == ("litellm.exceptions.InternalServerError", 500, 1)

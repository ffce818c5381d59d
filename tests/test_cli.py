"""The ``chaoskit`` command, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys


def chaoskit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaoskit.cli", *args], capture_output=True, text=True, timeout=60)


def test_faults_lists_ids_with_summaries() -> None:
    done = chaoskit("faults", "anthropic.stream.*")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == sorted(line.split()[0] for line in lines)
    assert any(line.startswith("anthropic.stream.error ") and "status 200" in line for line in lines)


def test_faults_show_prints_parameters() -> None:
    done = chaoskit("faults", "show", "openai.rate_limit")
    assert done.returncode == 0
    assert "effect: status" in done.stdout and "retry_after: 1" in done.stdout


def test_faults_show_says_what_each_parameter_accepts() -> None:
    done = chaoskit("faults", "show", "net.latency")
    assert done.returncode == 0
    assert done.stdout.splitlines()[3:] == [
        "  params (default, then what it accepts):",
        "    type: \"latency\"  # one of 'latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data'",
        "    stream: \"downstream\"  # one of 'downstream', 'upstream'",
        "    toxicity: 1.0  # a number from 0 to 1",
        "    attributes: {\"latency\": 1000, \"jitter\": 100}  # a mapping",
    ]


def test_unknown_id_exits_2_with_suggestions() -> None:
    done = chaoskit("faults", "show", "anthropic.overload")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "chaoskit: unknown fault id 'anthropic.overload'. Did you mean: anthropic.overloaded, gemini.overloaded, huggingface.overloaded? "
        "Run `chaoskit faults` to list the catalog."
    )


def test_no_match_exits_1() -> None:
    done = chaoskit("faults", "nosuch.*")
    assert done.returncode == 1 and "no fault id matches 'nosuch.*'" in done.stderr

"""The README's runnable examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_block(after_heading: str) -> str:
    text = README.read_text()
    section = text.split(after_heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block after {after_heading!r}"
    return match.group(1)


def test_python_api_example_runs() -> None:
    code = python_block("## Python API")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Your order has shipped."
    assert [line.split()[:2] for line in lines[1:]] == [
        ["openai.rate_limit", "429"], ["openai.rate_limit", "429"], ["None", "200"],
    ]


def test_journal_events_example_runs() -> None:
    code = python_block("### Following calls as they happen")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [line.split(" ", 3) for line in done.stdout.splitlines()]
    assert [line[:3] for line in lines] == [
        ["opened", "0", "openai.rate_limit"], ["injected", "0", "openai.rate_limit"], ["closed", "0", "openai.rate_limit"],
        ["opened", "1", "-"], ["closed", "1", "-"],
    ]
    assert lines[2][3] == "None" and lines[4][3].startswith("Usage(input_tokens=")


def test_readme_gives_the_two_setup_commands() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def test_seams_example_runs() -> None:
    code = python_block("## Faults beyond the model")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["503", "{'customer': {'id': 7, 'name_v2': 'Ada'}}", "shipped"]
    journal = lines[3:]
    assert "fault=http.unavailable" in journal[0] and "-> 503" in journal[0]
    assert "fault=http.schema_drift [renamed customer.name -> customer.name_v2]" in journal[1]
    assert "tool CALL __main__:lookup_order  fault=tool.raise_after  -> TimeoutError (ran)" in journal[2]
    assert "tool CALL __main__:lookup_order  fault=-  -> returned (ran)" in journal[3]


def test_virtual_time_example_runs() -> None:
    code = python_block("## Virtual time")
    start = __import__("time").perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["the app waited 40 s", "[0, 20, 40]"]
    assert __import__("time").perf_counter() - start < 20  # well under the 40 s it simulates


def test_fidelity_serve_example_runs() -> None:
    code = python_block("The real server is yours to use too")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["429", "3"]


def test_real_server_example_runs() -> None:
    code = python_block("### Faults on a real model server")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Your order has shipped.", "Your order", "None 200 True None", "openai.stream.cut 200 False 'Your order'",
    ]


def test_guarded_and_unguarded_example_prints_what_the_readme_shows() -> None:
    heading = "### A guarded app and an unguarded one"
    code = python_block(heading)
    printed = re.search(r"\nprints\n\n```\n(.*?)```", README.read_text().split(heading, 1)[1], re.S)
    assert printed
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed.group(1)


def python_blocks(after_heading: str) -> list[str]:
    """Every python block of the section under ``after_heading`` (up to the next heading)."""
    section = README.read_text().split(after_heading + "\n", 1)[1]
    section = re.split(r"\n#{1,3} ", section, maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_async_virtual_time_examples_run(pytester: pytest.Pytester) -> None:
    script, test = python_blocks("### Async tests on virtual time")
    start = __import__("time").perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=README.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["the app waited 20 s", "[0, 20]"]
    assert __import__("time").perf_counter() - start < 20  # the 20 s it simulates took a fraction
    pytester.makepyfile(test_async_example=test)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["virtual time: 1 test covered 20.0 s of virtual time in * s of real time"])

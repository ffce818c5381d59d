"""docs/load.md's runnable example runs as written and prints what the page says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "load.md"


def python_block(after_heading: str) -> str:
    section = DOC.read_text().split(after_heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block after {after_heading!r}"
    return match.group(1)


def test_the_example_runs_and_prints_what_the_page_says() -> None:
    done = subprocess.run([sys.executable, "-c", python_block("## Try it")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    promised = re.search(r"prints `([^`]*)`", DOC.read_text().split("## Try it", 1)[1])
    assert promised is not None
    assert done.stdout.strip() == promised.group(1) == "0 True True ['/chat']"

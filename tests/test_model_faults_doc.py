"""docs/model-faults.md: its example runs as written and prints what the page says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "model-faults.md"


@pytest.mark.parametrize("section", ["Tool loops and `unbounded_loop`", "Example"])
def test_the_examples_print_what_the_page_shows(section: str) -> None:
    text = PAGE.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", body, re.S)
    printed = re.search(r"\nprints\n\n```\n(.*?)```", body, re.S)
    assert code and printed
    done = subprocess.run([sys.executable, "-c", code.group(1)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed.group(1)


def test_every_model_fault_is_on_the_page() -> None:
    from chaoskit import faults

    text = PAGE.read_text()
    for fault in faults.all("*.model.*"):
        assert f"`{fault.id}`" in text or f"`*.{fault.kind}`" in text, fault.id

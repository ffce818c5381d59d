"""docs/proxy.md's Python example runs as written against a running proxy and a real model server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from engine._upstream import model_server

from ._proxy import TOKEN, proxy_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "proxy.md"


def test_the_python_example_runs() -> None:
    code = re.search(r"### From Python\n\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert code, "no Python example under 'From Python'"
    with model_server() as upstream, proxy_for(f"openai={upstream}") as (proxy, _):
        env = {**os.environ, "PROXY_URL": proxy.url, "CONTROL_URL": proxy.control_url, "CHAOSKIT_PROXY_TOKEN": TOKEN}
        done = subprocess.run([sys.executable, "-c", code.group(1)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["injected: 429 1", "then: stop"]

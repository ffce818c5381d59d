"""The tests' real model server (``tests/engine/_upstream.py``) with no pause between streamed
events, so a throughput burst measures the HTTP legs and not the server's pacing.

Run under uvicorn in its own process by ``bench_proxy.py``:
``python -m uvicorn --factory --app-dir benchmarks _fast_upstream:app``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from engine import _upstream  # noqa: E402 - the tests' real model server


def app() -> Any:
    _upstream.PAUSE = 0.0  # read at each event, so the streams this process serves have no pause
    return _upstream.app()

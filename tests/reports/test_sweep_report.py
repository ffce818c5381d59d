"""The example app swept over the whole OpenAI catalog, its HTML report rendered in Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _browser import WINDOW, png_colours, png_size, run_chromium

from chaoskit import faults

ROOT = Path(__file__).resolve().parents[2]


def test_sweep_over_the_openai_catalog_renders_a_resilience_matrix(tmp_path: Path) -> None:
    page = tmp_path / "sweep.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    done = subprocess.run(
        # On the virtual clock: the sweep's timeouts and retry waits (about a minute of real time,
        # which the example's own run in the suite already spends) take no time here.
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "examples/support_bot/test_sweep.py",
         f"--chaos-html={page}", "--chaos-seed=11", "--chaos-virtual-time"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    ids = faults.ids("openai.*")
    # The bot's replies are text, so the one fault that drifts tool-call arguments has nothing to act on.
    assert f"{len(ids) - 1} passed, 1 skipped" in done.stdout

    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert '<table class="matrix">' in dom
    for fault_id in ids:  # one matrix column per swept fault
        assert fault_id in dom
    assert dom.count('data-status="pass"') == len(ids) - 1 and 'data-status="fail"' not in dom
    assert dom.count('data-status="not_exercised"') == 1

    shot = tmp_path / "sweep.png"
    run_chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    data = shot.read_bytes()
    assert png_size(data) == WINDOW
    assert png_colours(data, 320) > 50, f"{shot} looks blank"

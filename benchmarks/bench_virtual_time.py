"""Virtual time against real time: one chaos suite full of waiting, run both ways.

The suite (written to a temporary directory) has 55 tests on the real openai and anthropic
SDKs: retry-after waits, cold starts, stalls past the client's timeout, overload backoff,
slow first tokens. Their injected waits add up to more than ten minutes. It runs once with
``--chaos-virtual-time`` (in one process: it needs no more) and once on real time (on two
xdist workers, to halve the wait), and the benchmark checks that
every test has the same outcome and the same journal shape (provider, fault, status, error
per call) both ways, then prints both wall times and the speed-up.

    python benchmarks/bench_virtual_time.py            # the full run: about 6 minutes
    python benchmarks/bench_virtual_time.py --quick    # waits scaled down 20x, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = 5
TESTS = 55

SUITE = '''
import anthropic, openai, pytest
from chaoskit import faults

S = {scale}
HI = [{{"role": "user", "content": "hi"}}]

def gpt(**kw):
    return openai.OpenAI(api_key="sk-test", **kw)

def ask(client, stream=False):
    out = client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=stream)
    return "".join(c.choices[0].delta.content or "" for c in out if c.choices) if stream else out.choices[0].message.content

@pytest.mark.parametrize("n", range({per_kind}))
@pytest.mark.chaos(faults.get("openai.rate_limit", retry_after=6 * S), times=2)
def test_retry_after(chaos, n):
    assert ask(gpt(max_retries=2))
    assert [c.status for c in chaos.calls] == [429, 429, 200]

@pytest.mark.parametrize("n", range({per_kind}))
@pytest.mark.chaos(faults.get("openai.cold_start", seconds=12 * S))
def test_cold_start(chaos, n):
    assert ask(gpt(timeout=60))
    assert [c.fault for c in chaos.calls] == ["openai.cold_start"]

@pytest.mark.parametrize("n", range({per_kind}))
@pytest.mark.chaos(faults.get("openai.latency", seconds=30 * S, jitter=0))
def test_stall_past_the_timeout(chaos, n):
    with pytest.raises(openai.APITimeoutError):
        ask(gpt(timeout=6 * S, max_retries=1))
    assert [c.error for c in chaos.calls] == ["ReadTimeout", "ReadTimeout"]

@pytest.mark.parametrize("n", range({per_kind}))
@pytest.mark.chaos(faults.get("anthropic.overloaded", retry_after=6 * S), times=2)
def test_overload_backoff(chaos, n):
    client = anthropic.Anthropic(api_key="sk-test", max_retries=2)
    client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=HI)
    assert [c.status for c in chaos.calls] == [529, 529, 200]

@pytest.mark.parametrize("n", range({per_kind}))
@pytest.mark.chaos(faults.get("openai.slow_first_token", seconds=12 * S))
def test_slow_first_token(chaos, n):
    assert ask(gpt(timeout=60), stream=True)
'''


def run(directory: Path, virtual: bool) -> tuple[float, dict[str, dict]]:
    report = directory / f"report-{'virtual' if virtual else 'real'}.json"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--chaos-seed=5",
            f"--chaos-report={report}", "test_waits.py"]
    args += ["--chaos-virtual-time"] if virtual else ["-n", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    start = time.perf_counter()
    done = subprocess.run(args, cwd=directory, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the {'virtual' if virtual else 'real'}-time run failed:\n{done.stdout[-4000:]}")
    tests = {t["nodeid"]: t for t in json.loads(report.read_text())["tests"]}
    return wall, tests


def shape(test: dict) -> list[tuple]:
    return [(c["provider"], c["fault"], c["status"], c["error"]) for c in test["calls"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="scale every wait down 20x")
    ns = parser.parse_args()
    scale = 0.05 if ns.quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "test_waits.py").write_text(SUITE.format(scale=scale, per_kind=-(-TESTS // KINDS)))
        virtual_wall, virtual = run(directory, virtual=True)
        real_wall, real = run(directory, virtual=False)
    assert virtual.keys() == real.keys() and len(virtual) >= 50, (len(virtual), len(real))
    differ = [n for n in real if (real[n]["outcome"], shape(real[n])) != (virtual[n]["outcome"], shape(virtual[n]))]
    waited = sum(t["clock"]["elapsed"] for t in virtual.values())
    print(f"{len(real)} chaos tests, injected and SDK waits on the virtual clock: {waited:,.0f} s ({waited / 60:.1f} min)")
    print(f"{'':22}{'wall time':>12}")
    print(f"{'real time (-n 2)':22}{real_wall:>10.1f} s")
    print(f"{'virtual time (-n 0)':22}{virtual_wall:>10.1f} s   (the whole pytest command, start-up included)")
    print(f"speed-up: {real_wall / virtual_wall:.0f}x against the real run; "
          f"{waited / virtual_wall:.0f}x against the waiting itself")
    print(f"tests whose outcome or journal differs between the runs: {len(differ)}")
    print(json.dumps({"tests": len(real), "waited_s": round(waited, 1), "real_wall_s": round(real_wall, 2),
                      "virtual_wall_s": round(virtual_wall, 2), "speedup": round(real_wall / virtual_wall, 1),
                      "differ": differ}))
    if differ:
        sys.exit(f"outcomes or journals differ: {differ}")


if __name__ == "__main__":
    main()

"""Cost of one intercepted call: chaoskit against a bare httpx2.MockTransport, same run.

Two levels, each a ratio measured in this one process so machine speed cancels out:

* sdk: ``openai.OpenAI().chat.completions.create(...)`` answered by chaoskit's simulator
  (healthy reply, sync client) against the same SDK call on a client whose transport is
  ``httpx2.MockTransport`` returning a canned chat completion. This is what a test pays.
* raw: a bare ``httpx2.Client.post`` through chaoskit against the same post through
  ``httpx2.MockTransport``: the seam's own overhead with nothing around it.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_intercept.py [--calls N]``).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import time
from collections.abc import Callable

import httpx2
import openai

import chaoskit

URL = "https://api.openai.com/v1/chat/completions"
REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Where is order A100?"}]}


def canned_body() -> bytes:
    """A chat completion like chaoskit's healthy reply, so both sides parse the same thing."""
    with chaoskit.Chaos(seed=0) as chaos:
        chaos.reply("openai", "Your order has shipped.")
        return httpx2.post(URL, json=REQUEST).content


def per_call(fn: Callable[[], object], calls: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def compare(baseline: Callable[[], object], chaos: Callable[[], object], calls: int, rounds: int) -> tuple[float, float]:
    """Best-of-rounds seconds per call for both, rounds interleaved so drift hits both alike."""
    for fn in (baseline, chaos):
        for _ in range(min(200, calls)):
            fn()  # warm up
    base, mine = [], []
    for _ in range(rounds):
        base.append(per_call(baseline, calls))
        mine.append(per_call(chaos, calls))
    return min(base), min(mine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000, help="calls per round (default 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is kept (default 3)")
    args = parser.parse_args()

    body = canned_body()
    headers = {"content-type": "application/json", "x-request-id": "req_bench"}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=body)

    mock_http = httpx2.Client(transport=httpx2.MockTransport(handler))
    mock_sdk = openai.OpenAI(api_key="sk-bench", http_client=mock_http, max_retries=0)

    # The MockTransport clients never reach httpcore2, so the chaos session does not touch them.
    with chaoskit.Chaos(seed=0) as chaos:
        chaos.reply("openai", "Your order has shipped.")
        plain_http = httpx2.Client()
        sdk = openai.OpenAI(api_key="sk-bench", max_retries=0)
        sdk_mock, sdk_chaos = compare(
            lambda: mock_sdk.chat.completions.create(**REQUEST),
            lambda: sdk.chat.completions.create(**REQUEST),
            args.calls, args.rounds,
        )
        raw_mock, raw_chaos = compare(
            lambda: mock_http.post(URL, json=REQUEST), lambda: plain_http.post(URL, json=REQUEST),
            args.calls, args.rounds,
        )
        intercepted = len(chaos.calls)

    results = {
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "intercepted": intercepted,
        "sdk_mock_us": round(sdk_mock * 1e6, 1),
        "sdk_chaoskit_us": round(sdk_chaos * 1e6, 1),
        "sdk_ratio": round(sdk_chaos / sdk_mock, 2),
        "raw_mock_us": round(raw_mock * 1e6, 1),
        "raw_chaoskit_us": round(raw_chaos * 1e6, 1),
        "raw_ratio": round(raw_chaos / raw_mock, 2),
        "python": platform.python_version(),
        "openai": openai.__version__,
    }
    print(f"{'':18}{'MockTransport':>16}{'chaoskit':>12}{'ratio':>8}")
    print(f"{'SDK call (sync)':18}{results['sdk_mock_us']:>13} us{results['sdk_chaoskit_us']:>9} us{results['sdk_ratio']:>7}x")
    print(f"{'raw httpx2 post':18}{results['raw_mock_us']:>13} us{results['raw_chaoskit_us']:>9} us{results['raw_ratio']:>7}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

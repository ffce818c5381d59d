"""Time to first token through chaoskit's pass-through, against the same stream direct, same run.

A real model server on loopback (uvicorn in its own process, OpenAI SSE with a real pause
between events) is called with the real ``openai`` SDK, streamed, three ways, interleaved call by call:

* direct: no chaos session;
* routed: ``chaos.route(server, provider="openai", real=True)``, no fault (passed through);
* relayed: the same route with a stream fault that has not fired yet
  (``openai.stream.cut``, ``after_events=1000``), so every event goes through the relay.

Reported: the median time from ``create()`` to the first chunk with text, and the difference
to direct. Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_passthrough.py [--calls N]``).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import openai

import chaoskit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from engine._upstream import model_server_process  # noqa: E402 - the tests' real model server


def first_token(base: str) -> float:
    """Seconds from create() to the first chunk that carries text."""
    client = openai.OpenAI(api_key="sk-bench", base_url=base + "/v1", max_retries=0)
    started = time.perf_counter()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
    try:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                return time.perf_counter() - started
    finally:
        stream.close()
        client.close()
    raise RuntimeError("the stream carried no text")


def timed(base: str, way: str) -> float:
    try:
        return _timed(base, way)
    finally:
        gc.collect()  # the abandoned stream's generator ends here, outside the timing and not mid-import


def _timed(base: str, way: str) -> float:
    if way == "direct":
        return first_token(base)
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(base, provider="openai", real=True)
        if way == "relayed":
            chaos.inject("openai.stream.cut", after_events=1000)
        return first_token(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    ways = ("direct", "routed", "relayed")
    times: dict[str, list[float]] = {w: [] for w in ways}
    with model_server_process() as base:
        for way in ways:  # warm up each path once
            timed(base, way)
        for _ in range(args.calls):
            for way in ways:
                times[way].append(timed(base, way))
    median = {w: statistics.median(t) * 1000 for w, t in times.items()}
    print(f"{'time to first token (median)':32} {'ms':>8} {'vs direct':>10}")
    for way in ways:
        print(f"{way:32} {median[way]:8.2f} {median[way] - median['direct']:+9.2f} ms")
    print(json.dumps({"calls": args.calls, **{f"{w}_ms": round(m, 3) for w, m in median.items()},
                      "openai": openai.__version__}))


if __name__ == "__main__":
    main()

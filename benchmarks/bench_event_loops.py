"""Event loops on the virtual clock: how long code that starts its own loop really takes.

A sync test whose code calls ``asyncio.run`` or pydantic-ai's ``agent.run_sync`` waits on
chaoskit's virtual clock when the test asks for virtual time (issue 18). This measures, in one
process, the real wall time of each case with a 30 s wait in it against the same case without
the wait (the baseline: what the call costs anyway), so the figure printed is what virtual time
adds:

- ``asyncio.run(asyncio.sleep(30))``;
- ``asyncio.run(asyncio.wait_for(asyncio.sleep(60), 30))`` (the timeout fires);
- pydantic-ai's ``run_sync`` on the real openai SDK with ``openai.latency`` of 30 s.

    python benchmarks/bench_event_loops.py            # 20 rounds of each
    python benchmarks/bench_event_loops.py --rounds 3 # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

import openai
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

import chaoskit
from chaoskit import VirtualClock

#: Real time, bound before any virtual clock patches the ``time`` module.
real_time = time.perf_counter


def agent() -> Agent[None, str]:
    client = openai.AsyncOpenAI(api_key="sk-test", max_retries=0, timeout=60)
    return Agent(OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(openai_client=client)))


def sleep(seconds: float) -> Callable[[chaoskit.Chaos], None]:
    return lambda chaos: asyncio.run(asyncio.sleep(seconds))


def timeout(seconds: float) -> Callable[[chaoskit.Chaos], None]:
    async def main() -> None:
        try:
            await asyncio.wait_for(asyncio.sleep(2 * seconds), seconds)
        except TimeoutError:
            return
        raise AssertionError("the wait_for did not time out")

    return lambda chaos: asyncio.run(main()) if seconds else None


def run_sync(latency: float) -> Callable[[chaoskit.Chaos], None]:
    def case(chaos: chaoskit.Chaos) -> None:
        if latency:
            chaos.inject("openai.latency", seconds=latency, jitter=0)
        chaos.reply("openai", "Your order has shipped.")
        assert agent().run_sync("Where is my order?").output == "Your order has shipped."
        assert chaos.elapsed == latency, chaos.elapsed

    return case


def measure(case: Callable[[chaoskit.Chaos], None], rounds: int) -> float:
    """The median real seconds of one round: a fresh session on a fresh virtual clock."""
    times = []
    for n in range(rounds):
        started = real_time()
        with chaoskit.Chaos(seed=n, clock=VirtualClock()) as chaos:
            case(chaos)
        times.append(real_time() - started)
    return statistics.median(times)


CASES = [
    ("asyncio.run(asyncio.sleep(30))", sleep(30), sleep(0)),
    ("asyncio.run(wait_for(sleep(60), 30))", timeout(30), timeout(0)),
    ("pydantic-ai run_sync, openai.latency 30 s", run_sync(30), run_sync(0)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    measure(run_sync(0), 2)  # imports and first-call set-up out of the figures
    print(f"{'case (30 virtual seconds of waiting)':44} {'median real':>12} {'baseline':>10} {'added':>9}")
    for name, case, baseline in CASES:
        waited, plain = measure(case, args.rounds), measure(baseline, args.rounds)
        print(f"{name:44} {waited * 1000:10.1f}ms {plain * 1000:8.1f}ms {(waited - plain) * 1000:7.1f}ms")


if __name__ == "__main__":
    main()

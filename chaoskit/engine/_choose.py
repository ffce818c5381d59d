"""Which fault fires on one call: the one loop every decision goes through.

A call is offered the injections that may act where it was seen (a provider's model calls,
requests matching a URL pattern, one callable), in the order they were injected, after any
script step. The first whose fault applies to the request, whose cold-start model is cold
(for a cold start), and whose schedule fires, is the call's fault.

Randomness is drawn per decision, from the session seed, the test's scope, the call's key and
the injection, never from a stream shared in call order: concurrent calls make the same
decisions however they interleave.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .._fault import Fault
from ..providers._coldstart import Loads, Phase
from ._injections import Injection, Script

__all__ = ["Choice", "choose", "decision_rng"]


def decision_rng(seed: int, scope: str, key: str, salt: str) -> random.Random:
    """The RNG of one decision: a function of the seed, the scope, the call's key and ``salt``."""
    digest = hashlib.sha256(f"{seed}\x00{scope}\x00{key}\x00{salt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True, slots=True)
class Choice:
    """The fault a call gets (None: healthy), and the phase a cold start finds its model in."""

    fault: Fault | None = None
    phase: Phase | None = None


NONE = Choice()


def choose(
    candidates: Sequence[tuple[int, Injection]],
    *,
    applies: Callable[[Fault], bool],
    place: str,
    now: float,
    elapsed: float,
    idle: float | None,
    cold: Loads,
    rng: Callable[[str], random.Random],
    scripts: Sequence[Script] = (),
    scripted: str | None = None,
) -> Choice:
    """The first of ``candidates`` (``(index, injection)``) that fires on this call.

    ``applies``: whether a fault can act on this request at all. ``place``: where a cold start's
    model lives (a provider, a host). ``rng(salt)``: the call's RNG for one use. ``scripts``
    with ``scripted`` (the call's provider) are consulted first: their next step decides.
    """
    if scripted is not None:
        for script in scripts:
            if scripted in script.providers and script.position < len(script.steps):
                step = script.steps[script.position]
                script.position += 1
                if step is None or step.provider != scripted or not applies(step):
                    return NONE
                return _cold_or_not(step, place, now, idle, cold, rng) or NONE
    for index, injection in candidates:
        fault = injection.fault
        if not applies(fault):
            continue
        phase = _phase(fault, place, now, idle, cold)
        if phase is None and fault.effect == "latency.cold_start":
            continue  # the model is warm, with no warm latency: nothing to do on this call
        if injection.state.decide(elapsed, rng(f"injection {index}")):
            return Choice(fault, _commit(fault, place, phase, now, cold, rng))
    return NONE


def _cold_or_not(fault: Fault, place: str, now: float, idle: float | None, cold: Loads,
                 rng: Callable[[str], random.Random]) -> Choice | None:
    phase = _phase(fault, place, now, idle, cold)
    if phase is None and fault.effect == "latency.cold_start":
        return None
    return Choice(fault, _commit(fault, place, phase, now, cold, rng))


def _phase(fault: Fault, place: str, now: float, idle: float | None, cold: Loads) -> Phase | None:
    """The phase a cold-start fault finds the model in on this call; None for other faults,
    and for a warm model without warm latency."""
    if fault.effect != "latency.cold_start":
        return None
    return cold.peek(f"{fault.id} {place}", fault.params, now, idle)


def _commit(fault: Fault, place: str, phase: Phase | None, now: float, cold: Loads,
            rng: Callable[[str], random.Random]) -> Phase | None:
    return None if phase is None else cold.commit(f"{fault.id} {place}", phase, fault.params, now, rng("cold start"))

"""Cold start as one model for every provider: a model loads, answers while warm, and goes cold.

A ``latency.cold_start`` fault has ``seconds`` (how long the model takes to load), ``idle``
(seconds without calls after which it is unloaded again), ``warm`` (the latency of a warm
call) and ``loading``: how a call made while the model loads is answered. Without
``loading`` such a call waits until the model is loaded (OpenAI, Anthropic, Ollama hold the
request); with it, the call gets that error at once (Hugging Face's 503 "currently loading"
with ``estimated_time``, Bedrock's ``ModelNotReadyException``) and the client must come back
later. The load is timed on the session clock, so virtual time makes a 20 s load free.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ._plan import Note, Plan, Wait

__all__ = ["ColdStarts", "Loads", "Phase", "cold_start_plan", "load_seconds", "phase_of"]

#: The placeholder a ``loading`` error uses for the seconds of loading left.
REMAINING = "{remaining}"


@dataclass(frozen=True, slots=True)
class Phase:
    """Where one call finds the model: loading (``seconds`` left) or warm (``seconds`` of latency)."""

    loading: bool
    seconds: float
    began: bool = False  # this call started the load

    def describe(self) -> str:
        if not self.loading:
            return f"cold start: warm, {self.seconds:g} s latency"
        return f"cold start: {'loading began' if self.began else 'still loading'}, {self.seconds:.1f} s left"


class Loads(Protocol):
    """Where the loads of cold-start faults are kept: in memory (:class:`ColdStarts`), or shared by
    the proxy's replicas (``chaoskit.proxy._state.RedisColdStarts``). ``key`` names the fault and
    the place its model lives; ``idle`` is the engine's own count, which a shared store may replace
    with the time since any replica's previous call."""

    def peek(self, key: str, p: Mapping[str, Any], now: float, idle: float | None) -> Phase | None: ...

    def commit(self, key: str, phase: Phase, p: Mapping[str, Any], now: float, rng: random.Random) -> Phase: ...


def phase_of(p: Mapping[str, Any], idle: float | None) -> Phase | None:
    """The phase of a call to a model no load is running for: a load begins when it is the first
    call or the model has been idle past ``idle``; else warm (None: warm with no latency)."""
    idle_after = p.get("idle")
    threshold = math.inf if idle_after is None else float(idle_after)
    if idle is None or idle >= threshold:
        return Phase(True, float(p.get("seconds", 0.0)), began=True)
    warm = float(p.get("warm") or 0.0)
    return Phase(False, warm) if warm > 0 else None


def load_seconds(phase: Phase, p: Mapping[str, Any], rng: random.Random) -> float:
    """How long a load that ``phase`` begins takes: ``seconds``, give or take ``jitter``."""
    jitter = float(p.get("jitter") or 0.0)
    return max(0.0, phase.seconds + rng.uniform(-jitter, jitter)) if jitter else phase.seconds


class ColdStarts:
    """The loads in one session, by model: when each current load ends. Callers hold the lock."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def peek(self, key: str, p: Mapping[str, Any], now: float, idle: float | None) -> Phase | None:
        """The phase a call at ``now`` would find, or None when the fault has nothing to do (warm, no latency).

        ``idle`` is the time since the previous call to the same place (None: the first call).
        """
        until = self._until.get(key)
        if until is not None and now < until:
            return Phase(True, until - now)
        return phase_of(p, idle)

    def commit(self, key: str, phase: Phase, p: Mapping[str, Any], now: float, rng: random.Random) -> Phase:
        """Record the phase of a call the fault fired on; a call that begins a load sets its length."""
        if not phase.began:
            return phase
        seconds = load_seconds(phase, p, rng)
        self._until[key] = now + seconds
        return Phase(True, seconds, began=True)


def cold_start_plan(
    p: Mapping[str, Any], phase: Phase | None, answer: Callable[[], Plan], loading_error: Callable[[Mapping[str, Any]], Plan],
) -> Plan:
    """The plan for one call of a cold-start fault; ``phase`` None (rendered outside a session) is a cold call.

    ``answer`` makes the healthy (or real) answer; ``loading_error`` renders a status fault's
    parameters as the provider's error.
    """
    if phase is None:
        phase = Phase(True, float(p.get("seconds", 0.0)), began=True)
    note = Note(phase.describe())
    if not phase.loading:
        return [note, Wait(phase.seconds), *answer()] if phase.seconds > 0 else [note, *answer()]
    loading = p.get("loading")
    if loading:
        return [note, *loading_error(_with_remaining(loading, phase.seconds))]
    return [note, Wait(phase.seconds), *answer()]


def _with_remaining(value: Any, remaining: float) -> Any:
    """``value`` with :data:`REMAINING` filled in: a number where it is the whole string, else text."""
    if value == REMAINING:
        return round(remaining, 1)
    if isinstance(value, str):
        return value.replace(REMAINING, f"{remaining:.1f}")
    if isinstance(value, Mapping):
        return {k: _with_remaining(v, remaining) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_remaining(v, remaining) for v in value]
    return value

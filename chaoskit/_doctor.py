"""``chaoskit doctor``: what each catalog fault does to the installed provider SDKs.

For every model-provider fault (``openai.*``, ``azure.*``, ``anthropic.*``) whose SDK is installed, one
call through the real SDK with its default retries, on the virtual clock (so a 20 s cold
start or a stall past the read timeout costs no real time and the times shown are the ones
the app would see): the exception the app gets, its status, how many attempts the SDK made,
whether it retried, and the time to the outcome. It answers "what will my app see?" and is
chaoskit's own fidelity check.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from . import faults as _faults
from ._fault import Fault

__all__ = ["Diagnosis", "diagnose", "diagnose_all", "format_table"]

#: The SDK behind each provider, by import name.
SDKS = {"openai": "openai", "anthropic": "anthropic", "azure": "openai"}
#: The client the doctor uses: the SDKs' default retries, a 10 s read timeout.
READ_TIMEOUT = 10.0
MESSAGES = [{"role": "user", "content": "Where is my order?"}]


@dataclass(frozen=True)
class Diagnosis:
    """What one fault did to one SDK call."""

    fault: str
    sdk: str
    stream: bool
    outcome: str  # the exception class the call raised (module.Class), or "returned"
    status: int | None
    attempts: int
    retried: bool
    seconds: float  # virtual seconds from the call to its outcome

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _call(provider: str, stream: bool) -> Callable[[], Any]:
    import httpx2

    timeout = httpx2.Timeout(READ_TIMEOUT, connect=5.0)
    if provider in ("openai", "azure"):
        import openai

        client = (
            openai.OpenAI(api_key="sk-chaoskit-doctor", timeout=timeout) if provider == "openai"
            else openai.AzureOpenAI(api_key="azure-doctor", api_version="2024-10-21",
                                    azure_endpoint="https://chaoskit-doctor.openai.azure.com", timeout=timeout)
        )
        tools = [{"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object"}}}]

        def chat() -> Any:
            out = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=tools, stream=stream)  # type: ignore[arg-type]
            return list(out) if stream else out

        return chat
    import anthropic

    claude = anthropic.Anthropic(api_key="sk-chaoskit-doctor", timeout=timeout)

    def messages() -> Any:
        out = claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES, stream=stream)  # type: ignore[arg-type]
        return list(out) if stream else out

    return messages


def diagnose(fault: Fault | str, *, stream: bool | None = None, reply: Any = None) -> Diagnosis:
    """One call through the fault's SDK with ``fault`` injected on every attempt.

    ``reply`` is the simulated model reply the fault acts on (a fault that drifts tool-call
    arguments gets ``tool_call("lookup_order", {"order_id": "A100"})`` unless one is given).
    """
    from ._session import Chaos
    from ._virtual import VirtualClock

    fault = _faults.resolve(fault)
    provider = fault.provider
    if provider not in SDKS:
        raise ValueError(f"chaoskit doctor covers model providers ({', '.join(SDKS)}), not {fault.id}")
    if stream is None:
        stream = fault.effect.startswith("stream.")
    if reply is None and fault.effect == "schema_drift":
        from ._replies import tool_call

        reply = tool_call("lookup_order", {"order_id": "A100"})
    with Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.inject(fault)
        if reply is not None:
            chaos.reply(provider, reply)
        call = _call(provider, stream)
        started = chaos.elapsed
        outcome, status = "returned", None
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what is reported
            outcome = f"{type(exc).__module__.split('._')[0]}.{type(exc).__name__}"
            status = getattr(exc, "status_code", None)
        seconds = chaos.elapsed - started
    attempts = len(chaos.calls)
    return Diagnosis(fault.id, SDKS[provider], stream, outcome, status, attempts, attempts > 1, round(seconds, 3))


def installed(provider: str) -> bool:
    return importlib.util.find_spec(SDKS[provider]) is not None


def diagnose_all(pattern: str = "*") -> list[Diagnosis]:
    """Every matching model-provider fault whose SDK is installed, in catalog order."""
    found = []
    for fault in _faults.all(pattern):
        if fault.provider in SDKS and installed(fault.provider):
            found.append(diagnose(fault))
    return found


def format_table(rows: Iterable[Diagnosis]) -> str:
    """An aligned text table of diagnoses."""
    header = ("fault", "call", "the app gets", "status", "attempts", "retried", "time")
    lines = [header]
    for r in rows:
        lines.append((
            r.fault, "stream" if r.stream else "unary", r.outcome, "-" if r.status is None else str(r.status),
            str(r.attempts), "yes" if r.retried else "no", f"{r.seconds:.2f} s",
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def to_json(rows: Iterable[Diagnosis]) -> str:
    return json.dumps([r.to_dict() for r in rows], indent=2)

"""``chaoskit doctor``: what each catalog fault does to the installed provider SDKs.

For every model-provider fault (the providers in :data:`SDKS`) whose SDK is installed, one
call through the real SDK with its default retries, on the virtual clock (so a 20 s cold
start or a stall past the read timeout costs no real time and the times shown are the ones
the app would see): the exception the app gets, its status, how many attempts the SDK made,
whether it retried, and the time to the outcome. It answers "what will my app see?" and is
chaoskit's own fidelity check.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from . import faults as _faults
from ._fault import Fault
from .fidelity._oracle import seeded_jitter, status_of
from .fidelity._sdks import MESSAGES, SDKS, Settings, call, drain, installed

__all__ = ["Diagnosis", "diagnose", "diagnose_all", "format_table", "sdk_versions", "verify_all"]

#: Where the doctor's calls go when the SDK has no host of its own for the provider (Azure, the
#: OpenAI-compatible servers); the self-hosted ones are routed to their profile. The others go
#: to the SDK's default host.
BASE_URLS = {
    "azure": "https://chaoskit-doctor.openai.azure.com",
    "vllm": "http://127.0.0.1:8000", "ollama": "http://127.0.0.1:11434", "tgi": "http://127.0.0.1:8080",
    "mistral": "https://api.mistral.ai", "groq": "https://api.groq.com",
}
SELF_HOSTED = ("vllm", "ollama", "tgi")
#: SDKs that call other providers' APIs: LiteLLM speaks OpenAI's and Anthropic's. When installed,
#: those providers' faults are also diagnosed through it (its mapping, its retries).
GATEWAYS = {"litellm": ("openai", "anthropic")}
LITELLM_MODELS = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-sonnet-4-5"}
#: The client the doctor uses: the SDKs' default retries, a 10 s read timeout.
READ_TIMEOUT = 10.0


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


def _litellm_call(provider: str, stream: bool) -> Callable[[], Any]:
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else litellm fetches it from GitHub on import
    import litellm

    litellm.suppress_debug_info = True
    model = LITELLM_MODELS[provider]
    return lambda: drain(
        litellm.completion(model=model, api_key="sk-chaoskit-doctor", messages=MESSAGES, stream=stream, timeout=READ_TIMEOUT), [], stream,
    )


def _call(provider: str, stream: bool, sdk: str | None = None) -> Callable[[], Any]:
    if sdk == "litellm":
        return _litellm_call(provider, stream)
    made = call(provider, BASE_URLS.get(provider), stream=stream, settings=Settings(read_timeout=READ_TIMEOUT, connect_timeout=5.0))
    return lambda: made([], lambda: None)


def diagnose(fault: Fault | str, *, stream: bool | None = None, reply: Any = None, sdk: str | None = None) -> Diagnosis:
    """One call through the fault's SDK (or ``sdk``, a gateway such as ``"litellm"``) with
    ``fault`` injected on every attempt.

    ``reply`` is the simulated model reply the fault acts on (a fault that drifts tool-call
    arguments gets ``tool_call("lookup_order", {"order_id": "A100"})`` unless one is given).
    """
    from ._session import Chaos
    from ._virtual import VirtualClock

    fault = _faults.resolve(fault)
    provider = fault.provider
    if provider not in SDKS:
        raise ValueError(f"chaoskit doctor covers model providers ({', '.join(SDKS)}), not {fault.id}")
    if sdk is not None and provider not in GATEWAYS.get(sdk, ()):
        raise ValueError(f"chaoskit doctor cannot call {fault.id} through {sdk!r}; gateways: "
                         + ", ".join(f"{g} ({', '.join(ps)})" for g, ps in GATEWAYS.items()))
    if stream is None:
        stream = fault.effect.startswith("stream.")
    if reply is None and fault.effect == "schema_drift":
        from ._replies import tool_call

        reply = tool_call("lookup_order", {"order_id": "A100"})
    with Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.inject(fault)
        if reply is not None:
            chaos.reply(provider, reply)
        if provider in SELF_HOSTED:
            chaos.route(BASE_URLS[provider], provider=provider)
        call = _call(provider, stream, sdk)
        started = chaos.elapsed
        outcome, status = "returned", None
        try:
            seeded_jitter(call)  # the SDK's backoff jitter seeded: the same times on every run
        except Exception as exc:  # noqa: BLE001 - the outcome is what is reported
            outcome = f"{type(exc).__module__.split('._')[0]}.{type(exc).__name__}"
            status = status_of(exc)
        seconds = chaos.elapsed - started
    # The SDK's calls to the model; not its side requests (huggingface_hub reads the Hub's agent registry).
    attempts = sum(1 for c in chaos.calls if c.provider == provider and c.endpoint != "hub")
    return Diagnosis(fault.id, sdk or SDKS[provider], stream, outcome, status, attempts, attempts > 1, round(seconds, 3))


def diagnose_all(pattern: str = "*") -> list[Diagnosis]:
    """Every matching model-provider fault whose SDK is installed, in catalog order; each also
    through every installed gateway that speaks its provider's API."""
    gateways = [g for g in GATEWAYS if installed(g)]
    found = []
    for fault in _faults.all(pattern):
        if fault.provider in SDKS and installed(fault.provider):
            found.append(diagnose(fault))
        found.extend(diagnose(fault, sdk=g) for g in gateways if fault.provider in GATEWAYS[g])
    return found


def format_table(rows: Iterable[Diagnosis]) -> str:
    """An aligned text table of diagnoses."""
    header = ("fault", "sdk", "call", "the app gets", "status", "attempts", "retried", "time")
    lines = [header]
    for r in rows:
        lines.append((
            r.fault, r.sdk, "stream" if r.stream else "unary", r.outcome, "-" if r.status is None else str(r.status),
            str(r.attempts), "yes" if r.retried else "no", f"{r.seconds:.2f} s",
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def format_markdown(rows: Iterable[Diagnosis], versions: dict[str, str]) -> str:
    """A Markdown page of diagnoses, headed by the SDK versions they were made with."""
    lines = [
        "# What each fault does to the SDKs",
        "",
        "Generated by `chaoskit doctor --markdown` (`make fault-facts`) with "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ": one call each with the SDK's default retries and a 10 s read timeout, on the virtual clock. "
        "Documentation, not a test expectation: `chaoskit doctor --verify` compares every fault with a real server.",
        "",
        "| fault | sdk | call | the app gets | status | attempts | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        status = "" if r.status is None else str(r.status)
        lines.append(f"| `{r.fault}` | {r.sdk} | {'stream' if r.stream else 'unary'} | `{r.outcome}` | {status} | {r.attempts} | {r.seconds:.2f} s |")
    return "\n".join(lines)


def to_json(rows: Iterable[Diagnosis]) -> str:
    return json.dumps([r.to_dict() for r in rows], indent=2)


#: The distributions whose versions the doctor reports, by the SDK import name they provide.
DISTRIBUTIONS = {"openai": "openai", "anthropic": "anthropic", "google.genai": "google-genai", "boto3": "boto3",
                 "huggingface_hub": "huggingface_hub", "litellm": "litellm"}


def sdk_versions() -> dict[str, str]:
    """The installed provider SDKs (and gateways) and their versions, by distribution name."""
    out = {}
    for name in DISTRIBUTIONS.values():
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def format_versions(versions: dict[str, str]) -> str:
    return "SDKs: " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "none installed")


def verify_all(pattern: str = "*", *, under_test: Iterable[Fault] | None = None, report: Callable[[Any], None] | None = None) -> list[Any]:
    """The fidelity oracle over every matching model-provider fault whose SDK is installed, each in
    every way the oracle calls it (:func:`chaoskit.fidelity.modes`).

    ``under_test``: the faults chaoskit injects (default: the shipped catalog); each is compared
    with the shipped catalog's fault of the same id played by a real server. ``report`` gets each
    :class:`~chaoskit.fidelity.Verdict` as it is made.
    """
    import fnmatch

    from ._catalog import catalog
    from .fidelity import modes, verify

    shipped = catalog()
    chosen = list(under_test) if under_test is not None else list(shipped)
    verdicts = []
    for fault in chosen:
        if fault.provider not in SDKS or not installed(fault.provider) or not fnmatch.fnmatchcase(fault.id, pattern):
            continue
        if fault.id not in shipped:
            raise ValueError(f"{fault.id} is not in chaoskit's catalog, so there is no real failure to compare it with")
        for stream, asynchronous, api in modes(fault):
            verdict = verify(fault, stream=stream, asynchronous=asynchronous, reference=shipped.get(fault.id), api=api)
            verdicts.append(verdict)
            if report is not None:
                report(verdict)
    return verdicts

"""A fault through the chaos proxy does to the app what the same fault does in-process.

The comparison: the real openai and anthropic SDKs, a real model server on loopback (uvicorn,
SSE with real pauses), and each fault applied twice to the same real answers: in the app's own
process (``chaos.route(..., real=True)``, itself checked against real servers by the fidelity
oracle) and by a chaos proxy between the app and the server, the SDK pointed at the proxy as an
app's ``*_BASE_URL`` would be. The SDK must raise the same exception with the same status after
the same attempts, deliver the same words before a break, and both journals must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from engine._upstream import TEXT
from engine.test_passthrough import QUICK, call, status_of

import chaoskit

from ._proxy import journal, proxy_for, put_on

#: The faults compared, for each provider (the SDKs' retries set to one).
FAULTS = [
    "rate_limit", "server_error", "unavailable", "bad_gateway", "timeout.read", "timeout.connect", "connection.reset",
    "latency", "slow_first_token", "malformed.null_content", "malformed.truncated_json", "malformed.html",
    "stream.cut", "stream.cut.unclean", "stream.stall", "stream.error", "stream.reset", "stream.invalid_event",
]
PROVIDERS = ["openai", "anthropic"]


@pytest.fixture(scope="module")
def proxy(upstream: str) -> Iterator[tuple[Any, httpx.Client]]:
    with proxy_for(f"openai={upstream}", f"anthropic={upstream}", seed=1) as running:
        yield running


def params_for(fid: str) -> dict[str, Any]:
    params = {k: v for k, v in QUICK.items() if k in chaoskit.faults.get(fid).params}
    if fid.endswith(("stream.stall", "timeout.connect")):
        params.pop("seconds", None)  # never ends: the client's own timeout ends it
    return params


def _raised(exc: BaseException) -> tuple[str, int | None]:
    return f"{type(exc).__module__.split('.')[0]}.{type(exc).__name__}", status_of(exc)


def in_process(upstream: str, provider: str, fid: str, stream: bool) -> dict[str, Any]:
    raised: tuple[str | None, int | None] = (None, None)
    delivered = None
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.route(upstream, provider=provider, real=True)
        chaos.inject(fid, **params_for(fid))
        try:
            delivered = call(provider, upstream, stream)[1]
        except Exception as exc:  # noqa: BLE001 - compared across the two paths
            raised = _raised(exc)
    calls = list(chaos.calls)
    return {"raises": raised[0], "status": raised[1], "delivered": delivered, "attempts": len(calls),
            "journal": [(c.fault, c.status, c.complete, c.text if stream else None) for c in calls]}


def through_proxy(proxy: Any, control: httpx.Client, provider: str, fid: str, stream: bool) -> dict[str, Any]:
    before = len(journal(control))
    added = put_on(control, fid, params=params_for(fid), ttl=60)
    raised: tuple[str | None, int | None] = (None, None)
    delivered = None
    try:
        delivered = call(provider, f"{proxy.url}/{provider}", stream)[1]
    except Exception as exc:  # noqa: BLE001 - compared across the two paths
        raised = _raised(exc)
    finally:
        control.delete(f"/faults/{added['id']}")
    calls = settled(control, before)
    return {"raises": raised[0], "status": raised[1], "delivered": delivered, "attempts": len(calls),
            "journal": [(c["fault"], c["status"], c["complete"], c["text"] if stream else None) for c in calls]}


def settled(control: httpx.Client, before: int) -> list[dict[str, Any]]:
    """The proxy's journal entries since ``before``, once each has closed (a held answer ends
    when the proxy hears the client has gone)."""
    import time

    deadline = time.monotonic() + 5
    while True:
        calls = journal(control)[before:]
        if all(c["duration"] is not None for c in calls) or time.monotonic() > deadline:
            return calls
        time.sleep(0.02)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_fault_through_the_proxy_acts_as_in_process(upstream: str, proxy: Any, provider: str, fault: str) -> None:
    fid = f"{provider}.{fault}"
    stream = fault.startswith(("stream.", "slow_first_token"))
    here, there = in_process(upstream, provider, fid, stream), through_proxy(*proxy, provider, fid, stream)
    assert there == here


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_no_fault_passes_the_real_answer_through(upstream: str, proxy: Any, provider: str, stream: bool) -> None:
    before = len(journal(proxy[1]))
    assert call(provider, f"{proxy[0].url}/{provider}", stream)[1] == TEXT
    (entry,) = settled(proxy[1], before)
    assert (entry["fault"], entry["status"], entry["provider"]) == (None, 200, provider)

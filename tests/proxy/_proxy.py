"""A chaos proxy for tests: served in a thread on free loopback ports, in front of a real
model server, with a control client that carries the token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from chaoskit.proxy import ChaosProxy, ProxyConfig, parse_upstream

TOKEN = "test-control-token-0123456789"


@contextmanager
def proxy_for(*upstreams: str, **settings: Any) -> Iterator[tuple[ChaosProxy, httpx.Client]]:
    """A running proxy for ``NAME=URL`` upstreams, and a control client (base URL and token set)."""
    config = ProxyConfig(upstreams=tuple(parse_upstream(u) for u in upstreams), token=TOKEN,
                         listen=("127.0.0.1", 0), control=("127.0.0.1", 0), **settings)
    with ChaosProxy(config).running() as proxy, httpx.Client(
        base_url=proxy.control_url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=10,
    ) as control:
        yield proxy, control


def put_on(control: httpx.Client, fault: str, **spec: Any) -> dict[str, Any]:
    """Add a fault through the control API; fails the test with the API's message if refused."""
    response = control.post("/faults", json={"fault": fault, **spec})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def journal(control: httpx.Client) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in control.get("/journal").text.splitlines()]

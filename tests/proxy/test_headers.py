"""What the proxy passes back and forth on a call no fault takes: the real server's own headers,
once, and nothing remembered from one app's call for the next (the upstream pool keeps no cookies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from seams._servers import asgi_server

from ._proxy import proxy_for


async def _cookie_server(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Sets a session cookie on every answer, and echoes the Cookie header it was sent."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    sent = next((v.decode() for k, v in scope["headers"] if k == b"cookie"), "")
    body = sent.encode() or b"-"
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"set-cookie", b"session=abc123; Path=/"), (b"server", b"upstream-server"),
        (b"date", b"Sat, 05 Dec 2026 10:00:00 GMT"), (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """(the server direct, the same through the proxy); by name, not address: a cookie jar keeps
    no cookie from an IP address, so only a host name shows whether the pool keeps them."""
    with asgi_server(_cookie_server) as base:
        base = base.replace("127.0.0.1", "localhost")
        with proxy_for(f"svc:openai={base}") as (proxy, _):
            yield base, f"{proxy.url}/svc"


@pytest.fixture
def through(servers: tuple[str, str]) -> str:
    return servers[1]


def test_the_real_servers_own_date_and_server_headers_reach_the_app_as_they_were(servers: tuple[str, str]) -> None:
    direct, through = (httpx.get(f"{base}/anything").headers for base in servers)
    for name in ("server", "date", "set-cookie"):
        assert through.get_list(name) == direct.get_list(name), name  # none added by the proxy's own server


def test_no_cookie_from_one_call_is_sent_on_the_next(through: str) -> None:
    with httpx.Client() as first, httpx.Client() as second:
        assert first.get(f"{through}/a").text == "-"
        assert second.get(f"{through}/b").text == "-"  # another app: the server's cookie is not replayed
    with httpx.Client(cookies={"mine": "1"}) as app:
        assert app.get(f"{through}/c").text == "mine=1"  # an app's own cookie goes through as it sent it

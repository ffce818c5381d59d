"""A real chat endpoint for the load tests: an ASGI app (served by uvicorn) that counts what it gets.

It answers every request in the order it arrives, numbered from 1, and can be told to fail some
by number, so a test can compare Locust's counts with the server's own.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

#: How the app answers request number n: (status, body), or None for a healthy JSON answer.
Plan = Callable[[int], "tuple[int, bytes] | None"]


def every(n: int, status: int, body: bytes = b'{"error": "boom"}') -> Plan:
    """Answer every n-th request with ``status`` and ``body``."""
    return lambda number: (status, body) if number % n == 0 else None


def plans(*plans: Plan) -> Plan:
    """The first plan that has an answer for the request wins."""
    return lambda number: next((answer for plan in plans if (answer := plan(number)) is not None), None)


class ChatApp:
    """POST JSON ``{"message", "conversation_id"}`` (or any JSON); records each turn, its headers and how it was answered."""

    def __init__(self, plan: Plan = lambda number: None, delay: float = 0.0) -> None:
        self.plan = plan
        self.delay = delay
        self.requests = 0
        #: Answers that Locust must count as failed, by the reason chaoskit's locustfile gives.
        self.failed: Counter[str] = Counter()
        self.turns: dict[str, list[str]] = defaultdict(list)
        self.headers: list[dict[str, str]] = []
        self.paths: Counter[str] = Counter()
        self.bodies: list[Any] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests += 1
        number = self.requests
        turn = json.loads(raw)
        self.bodies.append(turn)
        if "conversation_id" in turn:
            self.turns[turn["conversation_id"]].append(turn["message"])
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        self.paths[f"{scope['method']} {scope['path']}"] += 1
        status, body = self.plan(number) or (200, json.dumps({"reply": f"You said: {turn.get('message')}"}).encode())
        if not 200 <= status < 300:
            self.failed[f"HTTP {status}"] += 1
        elif not body:
            self.failed["empty body"] += 1
        elif not _is_json(body):
            self.failed["body is not JSON"] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True

"""Fixtures for the load tests: a real chat app on loopback, and a check that no Locust process is left."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

from tests.seams._servers import asgi_server

from ._chat_app import ChatApp

CONVERSATIONS = [
    ["Where is my order A100?", "It was due on Monday.", "Send it to my office instead."],
    ["I was charged twice.", "Refund the second charge, please."],
    ["Do you ship to Norway?"],
]


@contextmanager
def serve(app: ChatApp) -> Iterator[str]:
    """The app under uvicorn on a free loopback port; yields its base URL."""
    with asgi_server(app) as base:
        yield base


def alive(pids: list[int], wait: float = 0.0) -> list[int]:
    """Those of ``pids`` still running (zombies count as ended), after waiting up to ``wait`` seconds for them to end."""
    end = time.monotonic() + wait
    while True:
        running = [pid for pid in pids if _running(pid)]
        if not running or time.monotonic() >= end:
            return running
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``condition()`` holds (Locust's start-up time varies with the machine's load)."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)


def children() -> list[psutil.Process]:
    """This process's living descendants."""
    return [p for p in psutil.Process().children(recursive=True) if _running(p.pid)]

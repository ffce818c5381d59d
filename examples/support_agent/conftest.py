"""Fixtures for the support agent's chaos tests: an agent with short timeouts, the ticket list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support_bot import handoff

from support_agent import SupportAgent

# Short timeouts keep the suite fast (a timeout fault costs 0.5 s per attempt, not 10 s); the retry
# count is the production one, so the SDKs' own retries run for real.
FAST = {"timeout": 0.5, "connect_timeout": 0.2, "max_retries": 2}


@pytest.fixture
def agent() -> SupportAgent:
    """The guarded agent, built from the module's guards as they are when the fixture runs."""
    return SupportAgent(**FAST)


@pytest.fixture(autouse=True)
def tickets() -> Iterator[list[handoff.Ticket]]:
    """The tickets opened during the test (the list starts empty)."""
    handoff.TICKETS.clear()
    yield handoff.TICKETS
    handoff.TICKETS.clear()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

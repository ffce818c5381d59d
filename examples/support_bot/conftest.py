"""Fixtures for the support bot's chaos suite: bots with short timeouts, the ticket list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from support_bot import AsyncSupportBot, SupportBot, handoff

# Short timeouts keep the suite fast: a read-timeout fault costs 0.5 s per attempt instead
# of 10 s. The retry count is the production one, so the SDKs' own retries run for real.
FAST = {"timeout": 0.5, "connect_timeout": 0.2, "max_retries": 2}


@pytest.fixture
def bot() -> Iterator[SupportBot]:
    with SupportBot(**FAST) as bot:
        yield bot


@pytest.fixture
async def async_bot() -> AsyncIterator[AsyncSupportBot]:
    async with AsyncSupportBot(**FAST) as bot:
        yield bot


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def handoff_watched(request: pytest.FixtureRequest) -> None:
    """In every chaos test, the helpdesk is the handoff seam: a question every provider failed with
    no ticket opened for it is the ``handoff_missed`` verdict, with no assertion to write."""
    if "chaos" in request.fixturenames:
        request.getfixturevalue("chaos").watch("support_bot.handoff:escalate", handoff=True)


@pytest.fixture(autouse=True)
def tickets() -> Iterator[list[handoff.Ticket]]:
    """The tickets opened during the test (the list starts empty)."""
    handoff.TICKETS.clear()
    yield handoff.TICKETS
    handoff.TICKETS.clear()

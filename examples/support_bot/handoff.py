"""Human handoff: when no model can answer, a ticket goes to the support team.

In production this would open a ticket in the helpdesk; here it records the ticket in
``TICKETS`` so the rest of the app (and its tests) can see what was escalated.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field

__all__ = ["TICKETS", "Ticket", "escalate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ticket:
    """A question handed to a person, with the reason (for the team, never for the user)."""

    id: str
    question: str
    reason: str
    created: float = field(default_factory=time.time)


#: Every ticket opened by this process, oldest first.
TICKETS: list[Ticket] = []
_numbers = itertools.count(1)


def escalate(question: str, reason: str) -> Ticket:
    """Open a ticket for a person on the support team and return it."""
    ticket = Ticket(id=f"T{next(_numbers):05d}", question=question, reason=reason)
    TICKETS.append(ticket)
    log.warning("escalated %s to a human: %s", ticket.id, reason)
    return ticket

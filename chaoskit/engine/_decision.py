"""What the engine tells a seam to do with one intercepted request."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from .._fault import Fault
from .._journal import Call
from ..providers._plan import Plan
from ..providers._usage import UsageMeter

__all__ = ["Action", "Decision", "OnEnd"]

#: ``play``: play ``plan`` (and journal it in ``call``); ``pass``: let the request reach the real
#: network untouched (a call to a real model server is journaled in ``call``: the seam records
#: the real answer there as it passes, and ends it); ``block``: refuse it (``reason`` says why;
#: it is journaled in ``call``).
Action = Literal["play", "pass", "block"]


class OnEnd(Protocol):
    """Sets a call's duration so far; ``final``: the call has ended, and it closes (once) in the journal."""

    def __call__(self, call: Call, final: bool = True) -> None: ...


def _no_end(call: Call, final: bool = True) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Decision:
    """One request's fate, decided once.

    ``fault``: the fault that fires (None: healthy or passed). ``note``: the line added to an
    exception the fault raises, with the seed that reproduces it. ``give_back``: returns the
    simulated reply the plan took to its queue, when the response breaks before it is sent.
    ``on_end``: sets the call's duration; the seam calls it with ``final=False`` at response
    headers (time to headers), and once the call has ended (then the call closes in the journal,
    with the usage ``meter`` read). ``meter``: fed the body bytes sent to the client, for the
    call's usage (None: not a model call this provider's usage can be read from).
    ``rngs(salt)``: this call's RNGs.
    """

    action: Action
    plan: Plan = field(default_factory=list)
    call: Call | None = None
    fault: Fault | None = None
    reason: str = ""
    note: str = ""
    give_back: Callable[[], None] | None = None
    on_end: OnEnd = field(default=_no_end)
    rngs: Callable[[str], random.Random] = field(default=lambda salt: random.Random())
    meter: UsageMeter | None = None

    @property
    def rng(self) -> random.Random:
        """This call's RNG for what the seam decides while playing it (made on use)."""
        return self.rngs("seam")

"""chaoskit: chaos and fault injection for AI applications.

Inject the failures production AI apps meet (provider timeouts, 429s, overload, malformed
payloads, broken streams, cold starts) at the HTTP seam the real SDKs send through, and
check that fallbacks, handoffs and error handling work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import faults
from ._clock import Clock, RealClock
from ._errors import ChaosConfigError, ChaosError, ChaosWarning, UnknownFaultError, UnroutedRequestError
from ._fault import Fault
from ._journal import Call, Journal, JournalEvent, Turn, Usage
from ._netguard import RealNetworkError
from ._replies import StructuredReply, ToolCall, structured_reply, tool_call
from ._schedule import Schedule
from ._session import Chaos, Injection, Script
from ._verdicts import Verdict, VerdictConfig
from ._virtual import LoopClock, VirtualClock
from ._watch import Watch, WatchedCall

if TYPE_CHECKING:
    from ._virtual_loop import virtual_event_loop as virtual_event_loop
    from .gameday import GameDay as GameDay
    from .gameday import SyncGameDay as SyncGameDay

__all__ = [
    "Call",
    "Chaos",
    "ChaosConfigError",
    "ChaosError",
    "ChaosWarning",
    "Clock",
    "Fault",
    "GameDay",
    "Injection",
    "Journal",
    "JournalEvent",
    "LoopClock",
    "RealClock",
    "RealNetworkError",
    "Schedule",
    "Script",
    "StructuredReply",
    "SyncGameDay",
    "ToolCall",
    "Turn",
    "UnknownFaultError",
    "UnroutedRequestError",
    "Usage",
    "Verdict",
    "VerdictConfig",
    "VirtualClock",
    "Watch",
    "WatchedCall",
    "faults",
    "structured_reply",
    "tool_call",
    "virtual_event_loop",
]


def __getattr__(name: str) -> object:
    """``GameDay``, ``SyncGameDay`` and ``virtual_event_loop`` (which imports asyncio) load on
    first use: a pytest run does not pay for them."""
    if name in ("GameDay", "SyncGameDay"):
        from . import gameday

        return getattr(gameday, name)
    if name == "virtual_event_loop":
        from ._virtual_loop import virtual_event_loop

        return virtual_event_loop
    raise AttributeError(f"module 'chaoskit' has no attribute {name!r}")

__version__ = "0.1.0"

"""Game days: a scenario run step by step by a script (or, later, the ``chaoskit gameday``
runbook), with the same safety rules, journal and reports as ``chaoskit run``. See
docs/gameday.md. Names load on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._day import GameDay as GameDay
    from ._day import GameDayAborted as GameDayAborted
    from ._day import PhaseOutcome as PhaseOutcome
    from ._day import SyncGameDay as SyncGameDay

__all__ = ["GameDay", "GameDayAborted", "PhaseOutcome", "SyncGameDay"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'chaoskit.gameday' has no attribute {name!r}")
    return getattr(importlib.import_module("._day", __name__), name)

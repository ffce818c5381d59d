"""Fidelity: chaoskit's injected faults compared with the same failures from a real server.

:func:`verify` runs one fault through its provider's real SDK twice, once under chaoskit and
once against :class:`PlanServer`, a loopback server that plays the fault over a real socket,
and reports every difference the application could see. ``chaoskit doctor --verify`` and the
test suite's oracle are built on it.
"""

from __future__ import annotations

from ._oracle import SETTINGS, Observation, Verdict, chain_of, modes, quick, verify
from ._sdks import Settings
from ._server import PlanServer, blackhole, closed_port

__all__ = ["SETTINGS", "Observation", "PlanServer", "Settings", "Verdict", "blackhole", "chain_of", "closed_port", "modes", "quick", "verify"]

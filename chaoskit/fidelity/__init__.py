"""Fidelity: chaoskit's injected faults compared with the same failures from a real server.

:func:`verify` runs one fault through its provider's real SDK twice, once under chaoskit and
once against :class:`PlanServer`, a loopback server that plays the fault over a real socket,
and reports every difference the application could see. :func:`serve` is that server for one
fault, for a test that wants to make its own SDK call against it. ``chaoskit doctor --verify`` and the
test suite's oracle are built on it.
"""

from __future__ import annotations

from ._oracle import SETTINGS, Observation, Served, Verdict, chain_of, modes, quick, serve, verify
from ._sdks import Settings
from ._server import PlanServer, blackhole, closed_port

__all__ = ["SETTINGS", "Observation", "PlanServer", "Served", "Settings", "Verdict", "blackhole", "chain_of", "closed_port", "modes", "quick", "serve", "verify"]

"""The engine: one decision core that every seam and front end shares.

A seam turns its client's request into a :class:`~chaoskit.providers.CallRequest` and asks
:meth:`Engine.decide`; it gets a :class:`Decision` (play this plan, pass through, or block)
with the journal entry already written. :class:`chaoskit.Chaos` is the configuration and
lifetime façade over one engine.
"""

from __future__ import annotations

from ._core import LOOPBACK, PLACES, SCOPED, Engine, Route, tool_request
from ._decision import Action, Decision, OnEnd
from ._injections import Injection, Script

__all__ = ["LOOPBACK", "PLACES", "SCOPED", "Action", "Decision", "Engine", "OnEnd", "Injection", "Route", "Script", "tool_request"]

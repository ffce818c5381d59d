"""``chaoskit run``: a scenario against a deployed app through the chaos proxy, with a verdict.

    from chaoskit.run import Runner, RunOptions
    result = anyio.run(Runner(chaoskit.scenario.load("scenarios/provider-outage.yaml")).run)

See docs/staging.md. The CLI is ``chaoskit run SCENARIO``. Names load on first use, so
``chaoskit --help`` does not pay for the runner's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._control import ControlError as ControlError
    from ._control import ProxyControl as ProxyControl
    from ._events import EventLog as EventLog
    from ._events import RunEvent as RunEvent
    from ._proxyproc import InfrastructureError as InfrastructureError
    from ._report import document as document
    from ._report import write_reports as write_reports
    from ._runner import EXIT_DEVIATED as EXIT_DEVIATED
    from ._runner import EXIT_HELD as EXIT_HELD
    from ._runner import EXIT_INFRA as EXIT_INFRA
    from ._runner import EXIT_INVALID as EXIT_INVALID
    from ._runner import Runner as Runner
    from ._runner import RunOptions as RunOptions
    from ._runner import RunResult as RunResult

__all__ = [
    "EXIT_DEVIATED", "EXIT_HELD", "EXIT_INFRA", "EXIT_INVALID", "ControlError", "EventLog", "InfrastructureError",
    "ProxyControl", "RunEvent", "RunOptions", "RunResult", "Runner", "document", "write_reports",
]

_WHERE = {
    "ControlError": "_control", "ProxyControl": "_control", "EventLog": "_events", "RunEvent": "_events",
    "InfrastructureError": "_proxyproc", "document": "_report", "write_reports": "_report", "EXIT_DEVIATED": "_runner",
    "EXIT_HELD": "_runner", "EXIT_INFRA": "_runner", "EXIT_INVALID": "_runner", "Runner": "_runner",
    "RunOptions": "_runner", "RunResult": "_runner",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'chaoskit.run' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)

"""The chaos proxy: catalog faults on live traffic between a deployed app and its providers.

Start it with ``chaoskit proxy --upstream openai=https://api.openai.com`` and point the app's
``OPENAI_BASE_URL`` at ``http://127.0.0.1:8080/openai/v1``; put faults on through its control
API (a bearer token, its own port), each with a time-to-live. See docs/proxy.md.

Names load on first use, so ``chaoskit --help`` does not pay for the proxy's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._board import ActiveFault as ActiveFault
    from ._board import FaultBoard as FaultBoard
    from ._board import FaultLimit as FaultLimit
    from ._config import ProxyConfig as ProxyConfig
    from ._config import parse_address as parse_address
    from ._config import parse_upstream as parse_upstream
    from ._server import ChaosProxy as ChaosProxy

__all__ = ["ActiveFault", "ChaosProxy", "FaultBoard", "FaultLimit", "ProxyConfig", "parse_address", "parse_upstream"]

_WHERE = {
    "ActiveFault": "_board", "FaultBoard": "_board", "FaultLimit": "_board", "ProxyConfig": "_config",
    "parse_address": "_config", "parse_upstream": "_config", "ChaosProxy": "_server",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'chaoskit.proxy' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)

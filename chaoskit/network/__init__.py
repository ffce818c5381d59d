"""The network seam: chaoskit's Toxiproxy-compatible server, the client that drives it, and
``chaos.network``, which puts proxies with toxics in front of a test's TCP dependencies.

    from chaoskit.network import Latency, ToxiproxyClient, ToxiproxyServer
"""

from __future__ import annotations

from ._client import (
    TOXIC_TYPES,
    Bandwidth,
    Latency,
    LimitData,
    ProxyHandle,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    Toxic,
    ToxicHandle,
    ToxiproxyClient,
    ToxiproxyError,
)
from ._network import Network, NetworkProxy
from ._server import ToxiproxyServer

__all__ = [
    "Bandwidth",
    "Latency",
    "LimitData",
    "Network",
    "NetworkProxy",
    "ProxyHandle",
    "ResetPeer",
    "Slicer",
    "SlowClose",
    "TOXIC_TYPES",
    "Timeout",
    "Toxic",
    "ToxicHandle",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyServer",
]

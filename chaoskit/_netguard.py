"""The safety rail of virtual time: no real network connection while time is fake.

Under virtual time a real socket's timeouts are wrong (a loopback server that answers in
0.2 s real can time out at virtual 5 s, or a stall never ends), so chaoskit refuses every
AF_INET/AF_INET6 connection a test opens while a virtual clock is installed, with an error
that says so and how to get out. ``mode="warn"`` lets them through with a ChaosWarning
instead, and the sync clock falls back to real time from there. Unix sockets are always
allowed.
"""

from __future__ import annotations

import socket
import warnings
from typing import Any

from ._errors import ChaosError, ChaosWarning

__all__ = ["RealNetworkError", "SocketGuard"]

_INET = (socket.AF_INET, socket.AF_INET6)


class RealNetworkError(ChaosError):
    """A real network connection was opened under virtual time."""


def refusal(what: str) -> str:
    """The message for a real connection under virtual time."""
    return (
        f"chaoskit: {what} would open a real network connection under virtual time, where its "
        "timeouts are false. Answer it in-process (chaos.reply_http, a provider profile, "
        "chaos.router), or run this test on real time (virtual_time=False), or let real I/O "
        "through with a warning (virtual_time='warn')."
    )


class SocketGuard:
    """Refuses (or warns about) real INET connections while entered."""

    def __init__(self, mode: str = "refuse", on_warn: Any = None) -> None:
        if mode not in ("refuse", "warn"):
            raise ValueError(f"mode={mode!r} must be 'refuse' or 'warn'")
        self.mode = mode
        self.on_warn = on_warn  # called before a connection is let through (the clock falls back)
        self.seen: list[str] = []
        self._originals: dict[str, Any] = {}

    def check(self, what: str) -> None:
        """Refuse or warn about one real connection, described by ``what``."""
        self.seen.append(what)
        if self.mode == "warn":
            warnings.warn(ChaosWarning(
                f"chaoskit: {what} opens a real network connection under virtual time; the test "
                "goes on in real time from here"
            ), stacklevel=3)
            if self.on_warn is not None:
                self.on_warn()
            return
        raise RealNetworkError(refusal(what))

    def __enter__(self) -> SocketGuard:
        guard = self
        for name in ("connect", "connect_ex"):
            original = getattr(socket.socket, name)
            self._originals[name] = original

            def guarded(sock: socket.socket, address: Any, _original: Any = original) -> Any:
                if sock.family in _INET:
                    host, port = address[0], address[1]
                    guard.check(f"a socket to {host}:{port}")
                return _original(sock, address)

            setattr(socket.socket, name, guarded)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._originals.items():
            setattr(socket.socket, name, original)
        self._originals.clear()

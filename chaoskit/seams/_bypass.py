"""The flag a seam sets while it fetches a real response itself (a ``Forward`` step).

Kept apart from the seams so the session can read it on every call without importing them.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["BYPASS", "bypassing"]

#: True while the seam's own fetch is under way: the session lets that request through.
BYPASS: ContextVar[bool] = ContextVar("chaoskit.bypass", default=False)


def bypassing() -> bool:
    """Whether the current request is the seam's own fetch of a real response."""
    return BYPASS.get()

"""Seeds: one RNG per test, derived from the session seed and the test id."""

from __future__ import annotations

import hashlib
import random
import secrets

__all__ = ["derive_rng", "new_session_seed"]


def new_session_seed() -> int:
    """A fresh session seed, small enough to read and paste (0 .. 2**32-1)."""
    return secrets.randbits(32)


def derive_rng(seed: int, scope: str) -> random.Random:
    """An RNG that depends only on ``seed`` and ``scope`` (such as a test's node id).

    The same pair always gives the same stream, whatever ran before, so one test can be
    rerun alone with the session's seed and see the same faults.
    """
    digest = hashlib.sha256(f"{seed}:{scope}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))

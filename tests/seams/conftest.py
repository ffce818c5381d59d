"""Fixtures shared by the seam tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._loopback import misbehaving_server


@pytest.fixture
def server() -> Iterator[str]:
    """A real loopback server that misbehaves on request (resets, closes early, stalls)."""
    with misbehaving_server() as base:
        yield base

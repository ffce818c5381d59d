"""The proxy tests' real model server: one for the package, on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine._upstream import model_server


@pytest.fixture(scope="package")
def upstream() -> Iterator[str]:
    """The base URL of a real model server (uvicorn, SSE with real pauses) the proxies forward to."""
    with model_server() as base:
        yield base

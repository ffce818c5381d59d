"""Session-scoped real database servers for the network-chaos tests (see _dbservers.py).

Each xdist worker starts its own servers, on free ports, the first time a test asks for one;
they are stopped and their directories removed when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._dbservers import PostgresServer, RedisServer, postgres_server, redis_server


@pytest.fixture(scope="session")
def redis_addr() -> Iterator[RedisServer]:
    """A real Redis/Valkey server: ``.host``, ``.port``, ``.addr``, ``.url``, ``.url_for(host, port)``."""
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_addr() -> Iterator[PostgresServer]:
    """A real PostgreSQL server: ``.host``, ``.port``, ``.addr``, ``.dsn`` (for psycopg.connect),
    ``.user``, ``.dbname``, ``.dsn_for(host, port)`` to reach it through a proxy."""
    with postgres_server() as server:
        yield server

"""Toxics on real Redis and PostgreSQL servers, seen through redis-py and psycopg, and an app
that falls back from a slow cache to the database. The servers are real (PyPI builds), on
loopback, behind chaoskit's embedded Toxiproxy-compatible server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import chaoskit
from chaoskit.network._network import NetworkProxy

from ._dbservers import PostgresServer, RedisServer


@pytest.fixture
def chaos() -> Iterator[chaoskit.Chaos]:
    with chaoskit.Chaos(seed=1) as session:
        yield session


def cache(redis_addr: RedisServer, chaos: chaoskit.Chaos, **kwargs: float) -> tuple[redis.Redis, NetworkProxy]:
    proxy = chaos.network.proxy("redis", upstream=f"{redis_addr.host}:{redis_addr.port}")
    client = redis.Redis(host=proxy.host, port=proxy.port, socket_timeout=kwargs.get("timeout", 0.3),
                         socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))  # redis-py retries by default
    return client, proxy


def database(postgres_addr: PostgresServer, chaos: chaoskit.Chaos) -> tuple[str, NetworkProxy]:
    proxy = chaos.network.proxy("postgres", upstream=f"{postgres_addr.host}:{postgres_addr.port}")
    return postgres_addr.dsn_for(proxy.host, proxy.port, connect_timeout=1), proxy


# ---- Redis through the proxy -----------------------------------------------------------------


def test_redis_latency_past_the_socket_timeout(redis_addr: RedisServer, chaos: chaoskit.Chaos) -> None:
    client, proxy = cache(redis_addr, chaos)
    client.set("k", "v")
    with proxy.add("latency", latency=600):
        start = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.get("k")
        assert 0.25 <= time.monotonic() - start < 1
    client.connection_pool.reset()
    assert client.get("k") == b"v"


def test_redis_reset_blackhole_truncate_and_down(redis_addr: RedisServer, chaos: chaoskit.Chaos) -> None:
    client, proxy = cache(redis_addr, chaos)
    client.set("big", "x" * 10_000)
    with proxy.add("net.reset"), pytest.raises(redis.exceptions.ConnectionError):
        client.get("big")
    client.connection_pool.reset()
    with proxy.add("net.blackhole"), pytest.raises(redis.exceptions.TimeoutError):
        client.get("big")
    client.connection_pool.reset()
    with proxy.add("net.truncate", bytes=100), pytest.raises(redis.exceptions.ConnectionError):
        client.get("big")  # the reply stops after 100 bytes, then the connection closes
    client.connection_pool.reset()
    with proxy.down(), pytest.raises(redis.exceptions.ConnectionError):
        client.get("big")
    client.connection_pool.reset()
    assert client.get("big") == b"x" * 10_000


# ---- PostgreSQL through the proxy ---------------------------------------------------------------


def test_postgres_down_blackhole_and_reset(postgres_addr: PostgresServer, chaos: chaoskit.Chaos) -> None:
    dsn, proxy = database(postgres_addr, chaos)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select 41 + 1").fetchone() == (42,)
    with proxy.down(), pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn)
    with proxy.add("net.blackhole"):
        start = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn)  # connected, but the server never answers: connect_timeout=1
        assert 0.9 <= time.monotonic() - start < 3
    with psycopg.connect(dsn) as conn, proxy.add("net.reset", stream="upstream"):
        with pytest.raises(psycopg.OperationalError):
            conn.execute("select 1")


def test_postgres_truncated_result(postgres_addr: PostgresServer, chaos: chaoskit.Chaos) -> None:
    dsn, proxy = database(postgres_addr, chaos)
    with psycopg.connect(dsn) as conn:
        conn.execute("select 1")
        with proxy.add("limit_data", bytes=2000), pytest.raises(psycopg.OperationalError):
            conn.execute("select repeat('x', 100000)").fetchone()


# ---- an app that falls back from a slow cache to the database ------------------------------------


class Catalog:
    """Reads a product's price from the cache, and from the database when the cache fails."""

    def __init__(self, cache: redis.Redis, dsn: str) -> None:
        self.cache, self.dsn = cache, dsn

    def price(self, sku: str) -> tuple[str, str]:
        try:
            cached = self.cache.get(f"price:{sku}")
            if cached is not None:
                return cached.decode(), "cache"
        except redis.exceptions.RedisError:
            pass  # a slow or broken cache must not fail the request
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("select price from prices where sku = %s", (sku,)).fetchone()
        return str(row[0]), "database"


def test_a_slow_cache_falls_back_to_the_database(redis_addr: RedisServer, postgres_addr: PostgresServer, chaos: chaoskit.Chaos) -> None:
    with psycopg.connect(postgres_addr.dsn, autocommit=True) as conn:
        conn.execute("create table if not exists prices (sku text primary key, price text)")
        conn.execute("insert into prices values ('A100', '19.90') on conflict do nothing")
    client, cache_proxy = cache(redis_addr, chaos, timeout=0.2)
    client.set("price:A100", "19.90")
    dsn, _ = database(postgres_addr, chaos)
    app = Catalog(client, dsn)
    assert app.price("A100") == ("19.90", "cache")
    with cache_proxy.add("net.latency", latency=1000, jitter=0):
        start = time.monotonic()
        assert app.price("A100") == ("19.90", "database")
        assert time.monotonic() - start < 1.0  # the cache's 0.2 s timeout, then one query
    client.connection_pool.reset()
    assert app.price("A100") == ("19.90", "cache")

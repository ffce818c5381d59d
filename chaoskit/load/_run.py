"""Locust as a subprocess: start it headless, watch it, stop it, read what it measured.

Locust is never imported here: it runs as ``python -m locust`` (or the ``locust`` script beside
that Python) on chaoskit's own locustfile, which it loads by path. With ``workers=N`` a master
and N worker processes run on loopback. Every process of a run is in one process group of its
own, so no terminal Ctrl-C reaches it unasked and one signal reaches them all.

Stopping (``stop()``, the end of a ``with`` block) is graceful first: SIGTERM to the master, which
stops every user, lets requests in flight finish (up to ``stop_timeout``), collects the workers'
last reports and writes its statistics; then SIGTERM and SIGKILL to the whole group for whatever
is left. At interpreter exit a run still going gets the last two at once, and the locustfile
stops itself when this process dies without a chance to do either.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from .._errors import ChaosConfigError
from ._errors import LoadError, LocustExitedError, LocustNotInstalledError, TargetUnreachableError
from ._result import LoadResult, read_result
from ._spec import LoadSpec

__all__ = ["AsyncLoadRun", "LOCUSTFILE", "LoadRun", "locust_command"]

#: The locustfile chaoskit's load runs use; Locust loads it by path (it is never imported).
LOCUSTFILE = Path(__file__).with_name("_locustfile.py")
#: The environment variable that hands the locustfile its parameters (JSON, or a JSON file's path).
PARAMS_ENV = "CHAOSKIT_LOAD"
#: Seconds the master waits for its workers to connect before it gives up.
WORKERS_WAIT = 30
#: Seconds a stopping run gets beyond its spec's ``stop_timeout`` before it is killed.
GRACE = 10.0
_PROBE = "import importlib.util, sys; sys.exit(importlib.util.find_spec('locust') is None)"
#: Runs whose processes may still be running, for the interpreter's exit (held until they end).
_LIVE: set[_Launch] = set()


def locust_command(python: str | None = None) -> list[str]:
    """The command that runs Locust for ``python`` (default: this interpreter), without importing it here.

    ``python -m locust`` when that Python has the module, else a ``locust`` script beside it.
    """
    python = python or sys.executable
    found = shutil.which(python)
    if found is None:
        raise ChaosConfigError(f"python={python!r} is not an executable file")
    try:
        probe = subprocess.run([found, "-c", _PROBE], capture_output=True, timeout=60)
    except OSError as exc:
        raise ChaosConfigError(f"python={python!r} cannot be run: {exc.strerror or exc}") from None
    if probe.returncode == 0:
        return [found, "-m", "locust"]
    script = Path(found).parent / "locust"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    raise LocustNotInstalledError(python)


def _check_host(host: str) -> tuple[str, int]:
    """The (hostname, port) of the target's base URL."""
    try:
        parts = urlsplit(host)
        port = parts.port  # a bad port raises here
    except (TypeError, ValueError, AttributeError):
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChaosConfigError(f"host={host!r} must be the app's base URL, such as 'http://127.0.0.1:8000'")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _reachable(host: str, timeout: float = 5.0) -> None:
    """Raise TargetUnreachableError unless something accepts a TCP connection at ``host``."""
    address = _check_host(host)
    try:
        socket.create_connection(address, timeout=timeout).close()
    except OSError as exc:
        raise TargetUnreachableError(host, exc.strerror or str(exc) or type(exc).__name__) from None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class _Launch:
    """The processes of one run and their files; both front classes drive it (see the module docstring)."""

    def __init__(self, spec: LoadSpec, host: str, python: str | None, workdir: str | os.PathLike[str] | None) -> None:
        if not isinstance(spec, LoadSpec):
            raise ChaosConfigError(f"spec={spec!r} must be a chaoskit.load.LoadSpec")
        _check_host(host)
        self.spec = spec
        self.host = host.rstrip("/")
        self.python = python
        self.own_dir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else None
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.started = 0.0
        self.deadline = math.inf
        self.stop_requested = False
        self.stopped_early = False
        self.outcome: LoadResult | LoadError | None = None

    # -- starting -------------------------------------------------------------------------------

    def start(self) -> None:
        if self.procs:
            raise LoadError("this load run was already started; make a new LoadRun for another run")
        command = locust_command(self.python)
        _reachable(self.host)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="chaoskit-load-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        params = self.workdir / "params.json"
        params.write_text(json.dumps({
            "spec": self.spec.to_json(), "run_id": f"load-{uuid.uuid4().hex[:6]}", "parent_pid": os.getpid(),
            "errors_file": str(self.workdir / "errors.json"),
        }), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}  # the spec alone decides
        env.update({PARAMS_ENV: str(params), "PYTHONUNBUFFERED": "1"})
        base = [*command, "-f", str(LOCUSTFILE), "--host", self.host, "--loglevel", "INFO"]
        spec = self.spec
        main = [*base, "--headless", "--only-summary", "-u", str(spec.users), "-r", str(spec.spawn_rate),
                "--stop-timeout", str(math.ceil(spec.stop_timeout)), "--exit-code-on-error", "0",
                "--csv", str(self.workdir / "locust"), "--csv-full-history", "--json-file", str(self.workdir / "stats")]
        port = _free_port() if spec.workers else 0
        if spec.workers:
            main += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                     "--expect-workers", str(spec.workers), "--expect-workers-max-wait", str(WORKERS_WAIT)]
        self.started = time.monotonic()
        self.deadline = self.started + (WORKERS_WAIT if spec.workers else 0) + spec.duration + spec.stop_timeout + 30
        _LIVE.add(self)
        try:
            self._spawn("Locust master" if spec.workers else "Locust", main, env, group=0)
            for i in range(spec.workers):
                self._spawn(f"Locust worker {i}", [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                            env, group=self.procs[0][1].pid)
        except BaseException:
            self.kill()
            raise

    def _spawn(self, role: str, args: list[str], env: dict[str, str], group: int) -> None:
        assert self.workdir is not None
        with open(self._file(role, ".out"), "wb") as out, open(self._file(role, ".err"), "wb") as err:
            proc = subprocess.Popen(args, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, process_group=group)
        self.procs.append((role, proc))

    # -- watching -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return any(proc.poll() is None for _, proc in self.procs)

    def poll(self) -> bool:
        """True once the run is over and its outcome is read; a process that failed ends it at once."""
        if self.outcome is not None:
            return True
        if not self.procs:
            raise LoadError("this load run was not started; call start() first")
        for role, proc in self.procs:
            code = proc.poll()
            if code not in (None, 0) and not self.stop_requested:
                self.kill()
                self._finish(LocustExitedError(role, code, time.monotonic() - self.started, self._stderr(role)))
                return True
        master = self.procs[0][1]
        if master.poll() is None:
            if time.monotonic() > self.deadline:
                self.kill()
                self._finish(LoadError(
                    f"Locust was still running {time.monotonic() - self.started:.0f} s after it started, past the end "
                    f"of its {self.spec.duration:g} s run and {self.spec.stop_timeout:g} s to stop; it was killed. "
                    f"The end of its stderr:\n{self._stderr(self.procs[0][0])}"
                ))
                return True
            return False
        self._reap_workers()
        self._finish(self._read())
        return True

    def _reap_workers(self, wait: float = 5.0) -> None:
        """Workers quit when their master tells them to; give them ``wait`` seconds, then kill them."""
        end = time.monotonic() + wait
        for _, proc in self.procs[1:]:
            try:
                proc.wait(timeout=max(end - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def _file(self, role: str, suffix: str) -> Path:
        assert self.workdir is not None
        return self.workdir / (role.lower().replace(" ", "-") + suffix)

    def _stderr(self, role: str) -> str:
        return _tail(self._file(role, ".err"))

    def _read(self) -> LoadResult | LoadError:
        assert self.workdir is not None
        role, master = self.procs[0]
        stats = self.workdir / "stats.json"
        if master.returncode != 0 or not stats.exists():
            how = (f"was stopped by signal {-master.returncode}" if master.returncode < 0
                   else f"exited with code {master.returncode}")
            return LoadError(
                f"{role} {how} without writing its statistics, so this run has no result. "
                f"The end of its stderr:\n{self._stderr(role)}"
            )
        try:
            return read_result(stats, self.workdir / "locust_stats_history.csv", self.workdir / "errors.json",
                               workers=self.spec.workers, stopped_early=self.stopped_early)
        except (OSError, ValueError, KeyError) as exc:
            return LoadError(f"Locust's statistics in {self.workdir} could not be read: {exc!r}")

    def _finish(self, outcome: LoadResult | LoadError) -> None:
        self.outcome = outcome
        _LIVE.discard(self)
        if self.own_dir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def result(self) -> LoadResult:
        if not self.procs:
            raise LoadError("this load run was not started; call start() first")
        if self.outcome is None and not self.running:
            self.poll()
        outcome = self.outcome
        if outcome is None:
            raise LoadError("the load run has not ended; wait() for it or stop() it first")
        if isinstance(outcome, LoadError):
            raise outcome
        return outcome

    # -- stopping -------------------------------------------------------------------------------

    def stop(self, grace: float | None = None) -> None:
        """Stop gracefully through the master, then the whole group (see the module docstring)."""
        if not self.procs or self.outcome is not None:
            return
        self.stop_requested = True
        grace = self.spec.stop_timeout + GRACE if grace is None else grace
        master = self.procs[0][1]
        if master.poll() is None:
            self.stopped_early = True
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        self._reap_workers()
        self._finish(self._read())

    def kill(self) -> None:
        """SIGTERM to the whole process group, then SIGKILL after two seconds; waits for every process."""
        if not self.procs:
            return
        group = self.procs[0][1].pid
        for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if not self.running:
                break
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                pass
            end = time.monotonic() + wait
            while self.running and time.monotonic() < end:
                time.sleep(0.02)
        _LIVE.discard(self)


@atexit.register
def _kill_leftovers() -> None:
    for launch in list(_LIVE):
        launch.kill()


class _Front:
    """What the sync and async runs share: the launch, its spec, host and processes."""

    def __init__(self, spec: LoadSpec, host: str, *, python: str | None = None,
                 workdir: str | os.PathLike[str] | None = None) -> None:
        self._launch = _Launch(spec, host, python, workdir)

    @property
    def spec(self) -> LoadSpec:
        """The load this run puts on the target."""
        return self._launch.spec

    @property
    def host(self) -> str:
        """The target's base URL."""
        return self._launch.host

    @property
    def pids(self) -> list[int]:
        """The process ids of Locust's processes (the master or only one first)."""
        return [proc.pid for _, proc in self._launch.procs]

    @property
    def running(self) -> bool:
        """Whether any of Locust's processes is still running."""
        return self._launch.running

    def result(self) -> LoadResult:
        """What the ended run measured; raises the run's LoadError if it has none."""
        return self._launch.result()


class LoadRun(_Front):
    """Locust putting ``spec``'s load on ``host`` (the app's base URL), in the background.

    ``start()``, then ``wait()`` for the result or ``stop()`` early; as a context manager it
    starts on entry and always stops on exit. ``python``: the interpreter that runs Locust
    (default: this one). ``workdir``: keep Locust's files there (default: a temporary directory,
    removed at the end).
    """

    def start(self) -> LoadRun:
        """Start Locust; raises if Locust is missing or the target is unreachable."""
        self._launch.start()
        return self

    def wait(self, timeout: float | None = None) -> LoadResult:
        """Block until the run ends and return its result; ``timeout`` seconds at most, then stop it."""
        end = math.inf if timeout is None else time.monotonic() + timeout
        while not self._launch.poll():
            if time.monotonic() >= end:
                self._launch.stop()
                break
            time.sleep(0.05)
        return self.result()

    def stop(self, grace: float | None = None) -> None:
        """End the run now, gracefully within ``grace`` seconds (default: ``stop_timeout`` + 10), then kill."""
        self._launch.stop(grace)

    def __enter__(self) -> LoadRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AsyncLoadRun(_Front):
    """:class:`LoadRun` for async code (anyio: asyncio or trio): ``await start()``, ``await wait()``, ``async with``."""

    async def start(self) -> AsyncLoadRun:
        """Start Locust; raises if Locust is missing or the target is unreachable."""
        import anyio.to_thread

        try:
            await anyio.to_thread.run_sync(self._launch.start)
        except BaseException:  # cancelled while it started: no process may outlive this
            await self.stop()
            raise
        return self

    async def wait(self, timeout: float | None = None) -> LoadResult:
        """Wait until the run ends and return its result; cancelling the wait stops the run."""
        import anyio

        end = math.inf if timeout is None else time.monotonic() + timeout
        try:
            while not self._launch.poll():
                if time.monotonic() >= end:
                    break
                await anyio.sleep(0.05)
        finally:
            if self._launch.outcome is None:
                await self.stop()
        return self.result()

    async def stop(self, grace: float | None = None) -> None:
        """End the run now (see :meth:`LoadRun.stop`); runs to completion even when cancelled."""
        import anyio
        import anyio.to_thread

        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._launch.stop, grace)

    async def __aenter__(self) -> AsyncLoadRun:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()



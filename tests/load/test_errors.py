"""What goes wrong around a load run says what, where and what to do; Locust never enters this process."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from chaoskit import ChaosConfigError
from chaoskit.load import (
    LOCUSTFILE,
    LoadError,
    LoadRun,
    LoadSpec,
    LocustExitedError,
    LocustNotInstalledError,
    TargetUnreachableError,
    locust_command,
)
from chaoskit.load._result import percentile
from tests.seams._servers import free_port

from ._chat_app import ChatApp
from .conftest import alive, children, serve

SPEC = LoadSpec(users=2, spawn_rate=50, duration=1, think_time=0.05, conversations=[["hi", "bye"]])
PACKAGE = Path(__file__).resolve().parents[2] / "chaoskit"


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a fresh venv with nothing installed: no locust module, no locust script."""
    home = tmp_path_factory.mktemp("bare")
    venv.create(home, with_pip=False)
    return home / "bin" / "python"


def test_locust_missing_says_which_extra_to_install(bare_python: Path) -> None:
    python = str(bare_python)
    message = (f"Locust is not installed for {python}: it has no `locust` module and there is no `locust` script "
               f"beside it. Install chaoskit's load extra into that environment: {python} -m pip install 'chaoskit[load]'")
    with serve(ChatApp()) as base:
        with pytest.raises(LocustNotInstalledError, match=f"^{re.escape(message)}$"):
            LoadRun(SPEC, base, python=python).start()
    assert children() == []


def test_the_machines_own_python3_has_no_locust() -> None:
    """The brief's case: the machine's python3 (no Locust there) gives the same clear error."""
    python = "/usr/bin/python3"
    if not Path(python).exists() or subprocess.run([python, "-c", "import locust"], capture_output=True).returncode == 0:
        pytest.skip(f"{python} is missing or has Locust")
    with pytest.raises(LocustNotInstalledError, match=r"^Locust is not installed for /usr/bin/python3: .* "
                                                      r"/usr/bin/python3 -m pip install 'chaoskit\[load\]'$"):
        locust_command(python)


def test_a_locust_script_beside_python_is_used(bare_python: Path) -> None:
    """No module in that Python, but a ``locust`` script beside it: the script runs Locust."""
    script = bare_python.parent / "locust"
    script.symlink_to(Path(sys.executable).parent / "locust")
    try:
        assert locust_command(str(bare_python)) == [str(script)]
        app = ChatApp()
        with serve(app) as base:
            result = LoadRun(SPEC, base, python=str(bare_python)).start().wait()
        assert result.requests == app.requests > 0
    finally:
        script.unlink()
    assert locust_command() == [sys.executable, "-m", "locust"]  # this venv has the module


def test_a_python_that_does_not_exist() -> None:
    with pytest.raises(ChaosConfigError, match=r"^python='/no/such/python' is not an executable file$"):
        locust_command("/no/such/python")


def test_a_target_that_is_down_is_an_error_before_any_load() -> None:
    """Unreachable when the run starts: an infrastructure failure, raised before Locust starts."""
    host = f"http://127.0.0.1:{free_port()}"
    message = (f"the load target {host} is unreachable (Connection refused); no load was started. "
               "Start the app, or correct the target URL.")
    with pytest.raises(TargetUnreachableError, match=f"^{re.escape(message)}$"):
        LoadRun(SPEC, host).start()
    assert children() == []


@pytest.mark.parametrize("host", ["localhost:8000", "ftp://127.0.0.1", "http://", "http://127.0.0.1:99999"])
def test_a_host_that_is_not_a_base_url(host: str) -> None:
    message = f"host={host!r} must be the app's base URL, such as 'http://127.0.0.1:8000'"
    with pytest.raises(ChaosConfigError, match=f"^{re.escape(message)}$"):
        LoadRun(SPEC, host)


def wrapper(tmp_path: Path, when: str) -> str:
    """A Python that runs this venv's Python with a bad Locust option added when ``when`` (a shell pattern) matches."""
    path = tmp_path / "python"
    path.write_text(f'#!/bin/sh\ncase "$*" in {when}) exec {sys.executable} "$@" --no-such-option;; esac\n'
                    f'exec {sys.executable} "$@"\n')
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(("workers", "when", "role"), [(0, "*-m\\ locust*", "Locust"),
                                                       (2, "*--worker*", "Locust worker [01]")])
def test_locust_exiting_early_gives_its_stderr(tmp_path: Path, workers: int, when: str, role: str) -> None:
    spec = LoadSpec(users=2, duration=30, workers=workers, conversations=[["hi"]])
    with serve(ChatApp()) as base:
        load = LoadRun(spec, base, python=wrapper(tmp_path, when)).start()
        pids = load.pids
        with pytest.raises(LocustExitedError) as caught:
            load.wait()
    message = str(caught.value)
    assert re.match(rf"^{role} exited with code 2 after \d+\.\d s, before the load run ended\. "
                    r"The end of its stderr:\n    ", message), message
    assert message.endswith("error: unrecognized arguments: --no-such-option")
    assert caught.value.code == 2 and re.fullmatch(role, caught.value.role)
    assert alive(pids) == [] and children() == []
    with pytest.raises(LocustExitedError):
        load.result()  # the same error, again


def test_result_before_start_and_before_the_end() -> None:
    with serve(ChatApp()) as base:
        load = LoadRun(LoadSpec(users=1, duration=30, conversations=[["hi"]]), base)
        with pytest.raises(LoadError, match=r"^this load run was not started; call start\(\) first$"):
            load.result()
        with load:
            with pytest.raises(LoadError, match=r"^the load run has not ended; wait\(\) for it or stop\(\) it first$"):
                load.result()
            with pytest.raises(LoadError, match=r"^this load run was already started; make a new LoadRun for another run$"):
                load.start()
    assert children() == []


def test_chaoskit_never_imports_locust() -> None:
    """Only the locustfile (run by Locust, by path) imports locust or gevent, and importing chaoskit.load loads neither."""
    for path in PACKAGE.rglob("*.py"):
        if path == LOCUSTFILE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("locust", "gevent") for n in names), f"{path}:{node.lineno}"
    code = ("import sys, chaoskit.load; chaoskit.load.locust_command(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent', 'greenlet', 'zmq')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_locustfile_refuses_to_be_imported() -> None:
    code = "import chaoskit.load._locustfile"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == (
        "ImportError: chaoskit/load/_locustfile.py is Locust's: it runs in Locust's process, loaded by path")


def test_percentiles_are_locusts() -> None:
    """chaoskit computes percentiles over Locust's histogram exactly as Locust does (checked in a Locust process)."""
    histograms = [{1: 5}, {2: 10, 3: 1, 40: 2, 150: 1}, {5: 1, 6: 1, 7: 1, 8: 1, 1200: 96}]
    fractions = [0.5, 0.66, 0.95, 0.99, 1.0]
    code = ("import json, sys; from locust.stats import calculate_response_time_percentile as p; "
            "hs = json.loads(sys.argv[1]); "
            f"print(json.dumps([[p({{int(k): v for k, v in h.items()}}, sum(h.values()), f) for f in {fractions}] for h in hs]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(histograms)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[percentile(h, sum(h.values()), f) for f in fractions] for h in histograms]

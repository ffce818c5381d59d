"""The staging stack of the end-to-end tests, all real processes on loopback: the model server
playing OpenAI and Anthropic, the support bot served by uvicorn with its base URLs on the chaos
proxy, and ``chaoskit run`` itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from proxy._proxy import TOKEN
from seams._servers import free_port

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["ROOT", "SCENARIO", "TOKEN", "addresses", "all_off_within", "faults_on", "on_running_proxy", "run", "running_proxy",
           "start_run", "support_bot", "until_a_fault", "wait_port"]

#: A short provider outage (every address from the environment), for runs and game days.
SCENARIO = Path(__file__).with_name("outage.yaml")


def wait_port(port: int, process: subprocess.Popen[Any], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{what} did not start on port {port} (exit {process.poll()})") from None
            time.sleep(0.05)


@contextmanager
def support_bot(proxy_listen: str, *, fallback: bool = True) -> Iterator[str]:
    """The example support bot over HTTP, its providers behind the proxy at ``proxy_listen``."""
    port = free_port()
    env = {**os.environ, "OPENAI_BASE_URL": f"http://{proxy_listen}/openai/v1", "ANTHROPIC_BASE_URL": f"http://{proxy_listen}/anthropic",
           "SUPPORT_BOT_FALLBACK": "on" if fallback else "off", "SUPPORT_BOT_TIMEOUT": "5", "SUPPORT_BOT_RETRIES": "1",
           "OPENAI_API_KEY": "sk-proj-runtestSECRET0123456789", "ANTHROPIC_API_KEY": "sk-ant-api03-runtestSECRET0123456789"}
    app = subprocess.Popen([sys.executable, "-m", "uvicorn", "support_bot.server:app", "--app-dir", str(ROOT / "examples"),
                            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    try:
        wait_port(port, app, "the support bot")
        yield f"http://127.0.0.1:{port}"
    finally:
        app.terminate()
        app.wait(10)


@contextmanager
def running_proxy(upstream: str) -> Iterator[tuple[str, str]]:
    """A chaos proxy already running (as a deployed one would be), for OpenAI and Anthropic at
    ``upstream``: (its listen address, its control URL); stopped with SIGTERM."""
    import signal

    from proxy.test_proxy_cli import start

    process, url, control = start("--upstream", f"openai={upstream}", "--upstream", f"anthropic={upstream}")
    try:
        yield url.removeprefix("http://"), control
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)


def on_running_proxy(tmp_path: Path, control: str, **changes: str) -> Path:
    """The test scenario pointed at a running proxy (``proxy.url``), with text replaced."""
    text = SCENARIO.read_text().replace("  listen: ${PROXY_LISTEN}\n  control: ${PROXY_CONTROL}\n", f"  url: {control}\n")
    for old, new in changes.items():
        text = text.replace(old, new)
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def faults_on(control: str) -> list[dict[str, Any]]:
    """The faults on the proxy now, as its control API lists them."""
    import httpx

    return httpx.get(control + "/faults", headers={"authorization": f"Bearer {TOKEN}"}).json()["faults"]  # type: ignore[no-any-return]


def until_a_fault(control: str, process: subprocess.Popen[Any], what: str, timeout: float = 20) -> None:
    """Wait until ``process`` (``what``: the run, the game day) has put a fault on."""
    deadline = time.monotonic() + timeout
    while not faults_on(control):
        assert time.monotonic() < deadline and process.poll() is None, f"{what} never put its fault on"
        time.sleep(0.05)


def all_off_within(control: str, seconds: float, after: str) -> None:
    """Every fault is off the proxy within ``seconds`` of now (``after``: what just happened)."""
    since = time.monotonic()
    while faults_on(control):
        assert time.monotonic() - since < seconds, f"a fault was still on {seconds:g} s after {after}"
        time.sleep(0.02)


def addresses() -> dict[str, str]:
    """Free loopback addresses for a run's proxy."""
    return {"PROXY_LISTEN": f"127.0.0.1:{free_port()}", "PROXY_CONTROL": f"127.0.0.1:{free_port()}"}


def run(scenario: Path, env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaoskit.cli", "run", str(scenario), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CHAOSKIT_PROXY_TOKEN": TOKEN, **env})


def start_run(scenario: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "chaoskit.cli", "run", str(scenario), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "CHAOSKIT_PROXY_TOKEN": TOKEN, **env})

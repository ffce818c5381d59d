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
__all__ = ["ROOT", "TOKEN", "addresses", "run", "running_proxy", "start_run", "support_bot", "wait_port"]


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


def addresses() -> dict[str, str]:
    """Free loopback addresses for a run's proxy."""
    return {"PROXY_LISTEN": f"127.0.0.1:{free_port()}", "PROXY_CONTROL": f"127.0.0.1:{free_port()}"}


def run(scenario: Path, env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaoskit.cli", "run", str(scenario), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CHAOSKIT_PROXY_TOKEN": TOKEN, **env})


def start_run(scenario: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "chaoskit.cli", "run", str(scenario), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "CHAOSKIT_PROXY_TOKEN": TOKEN, **env})

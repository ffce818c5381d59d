"""A chaos proxy started for one run: ``chaoskit proxy`` as a child process, stopped after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx

from .._errors import ChaosError

__all__ = ["InfrastructureError", "ProxyProcess"]


class InfrastructureError(ChaosError):
    """Something the run needs is not there: the proxy could not start, the target is down."""


class ProxyProcess:
    """``chaoskit proxy`` for a run's scenario (its own session, so a Ctrl-C reaches the runner only)."""

    def __init__(self, proxy: Any, *, token: str, seed: int) -> None:
        self.proxy = proxy
        self.token = token
        self.seed = seed
        self.process: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "chaoskit.cli", "proxy", "--listen", self.proxy.listen, "--control", self.proxy.control,
                "--seed", str(self.seed)]
        for upstream in self.proxy.upstreams.values():
            args += ["--upstream", f"{upstream.name}:{upstream.provider}={upstream.url}"]
        return args

    def start(self, timeout: float = 20.0) -> str:
        """Start it and wait until its control API answers; returns the control URL."""
        env = {**os.environ, "CHAOSKIT_PROXY_TOKEN": self.token}
        self.process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                        start_new_session=True)
        url = f"http://{self.proxy.control}"
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else "").strip()
                raise InfrastructureError(f"the chaos proxy did not start (exit {self.process.returncode}): {err or 'no output'}")
            try:
                if httpx.get(url + "/health", timeout=1, trust_env=False).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise InfrastructureError(f"the chaos proxy did not answer on {url} within {timeout:g} s")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()

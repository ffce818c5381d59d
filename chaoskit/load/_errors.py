"""Errors about load runs.

    ChaosError
     └── LoadError                  a load run could not run or did not end as it should
          ├── LocustNotInstalledError   no Locust for the Python that should run it
          ├── LocustExitedError         Locust ended before the run did (its stderr's tail attached)
          └── TargetUnreachableError    nothing answers at the target's address when the run starts

A bad :class:`LoadSpec` argument or conversation file is a ``ChaosConfigError``, like every
other bad argument in chaoskit.
"""

from __future__ import annotations

from .._errors import ChaosError

__all__ = ["LoadError", "LocustExitedError", "LocustNotInstalledError", "TargetUnreachableError"]


class LoadError(ChaosError):
    """A load run could not start, or did not end as it should."""


class LocustNotInstalledError(LoadError):
    """The Python that should run Locust has no ``locust`` module, and no ``locust`` script is beside it."""

    def __init__(self, python: str) -> None:
        self.python = python
        super().__init__(
            f"Locust is not installed for {python}: it has no `locust` module and there is no `locust` "
            f"script beside it. Install chaoskit's load extra into that environment: "
            f"{python} -m pip install 'chaoskit[load]'"
        )


class LocustExitedError(LoadError):
    """Locust (one of its processes) exited with an error before the run ended."""

    def __init__(self, role: str, code: int, after: float, stderr_tail: str) -> None:
        self.role = role
        self.code = code
        self.stderr_tail = stderr_tail
        tail = "\n".join(f"    {line}" for line in stderr_tail.splitlines()) or "    (nothing)"
        super().__init__(
            f"{role} exited with code {code} after {after:.1f} s, before the load run ended. "
            f"The end of its stderr:\n{tail}"
        )


class TargetUnreachableError(LoadError):
    """Nothing accepts connections at the load target when the run starts."""

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        super().__init__(
            f"the load target {host} is unreachable ({reason}); no load was started. "
            "Start the app, or correct the target URL."
        )

"""Load during a chaos run: Locust, as a subprocess, sends scripted conversations to the app.

:class:`LoadSpec` says how many users send which conversations for how long; :class:`LoadRun`
(:class:`AsyncLoadRun` in async code) runs Locust headless in the background, one process or a
master and local workers, and returns a :class:`LoadResult`. Locust is never imported into
chaoskit's process (it monkey-patches the standard library through gevent); install it with
``pip install 'chaoskit[load]'``. See docs/load.md.
"""

from __future__ import annotations

from ._errors import LoadError as LoadError
from ._errors import LocustExitedError as LocustExitedError
from ._errors import LocustNotInstalledError as LocustNotInstalledError
from ._errors import TargetUnreachableError as TargetUnreachableError
from ._result import EndpointStats as EndpointStats
from ._result import FailureCount as FailureCount
from ._result import LoadPoint as LoadPoint
from ._result import LoadResult as LoadResult
from ._run import LOCUSTFILE as LOCUSTFILE
from ._run import AsyncLoadRun as AsyncLoadRun
from ._run import LoadRun as LoadRun
from ._run import locust_command as locust_command
from ._spec import DEFAULT_BODY as DEFAULT_BODY
from ._spec import DEFAULT_CONVERSATIONS as DEFAULT_CONVERSATIONS
from ._spec import LoadSpec as LoadSpec
from ._spec import load_conversations as load_conversations

__all__ = [
    "AsyncLoadRun", "DEFAULT_BODY", "DEFAULT_CONVERSATIONS", "EndpointStats", "FailureCount", "LOCUSTFILE",
    "LoadError", "LoadPoint", "LoadResult", "LoadRun", "LoadSpec", "LocustExitedError",
    "LocustNotInstalledError", "TargetUnreachableError", "load_conversations", "locust_command",
]

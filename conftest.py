"""Shared test setup for the whole repository.

No real provider key may reach a test: chaoskit's tests and examples must pass with no
network and no account, so the keys are removed before anything imports an SDK.
"""

from __future__ import annotations

# httpx2 imports httpcore2 lazily, when its first client is made. Were that first import to
# happen inside a pytester in-process run, pytester would drop the module afterwards, and
# httpx2's cached exception map would keep classes that nothing raises any more (so an
# injected httpcore2.ReadTimeout would reach the test unmapped). Import both up front (an
# environment on an older SDK has no httpx2: llama-index's, on openai 2.x).
import contextlib
import os

import httpcore  # noqa: F401

with contextlib.suppress(ModuleNotFoundError):
    import httpcore2  # noqa: F401

pytest_plugins = ("pytester",)

for _var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
    os.environ.pop(_var, None)

"""Shared test setup for the whole repository.

No real provider key may reach a test: chaoskit's tests and examples must pass with no
network and no account, so the keys are removed before anything imports an SDK.
"""

from __future__ import annotations

import os

pytest_plugins = ("pytester",)

for _var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
    os.environ.pop(_var, None)

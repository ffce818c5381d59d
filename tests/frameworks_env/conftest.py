"""Setup for the framework recipes of docs/frameworks.md, which run in environments of their own.

Each framework is tested on the versions pip resolves for it, and they do not fit in one
environment: instructor 1.17 keeps openai below 3.4 (it pins jiter below 0.15; pip picks openai
3.3), llama-index-llms-openai 0.8 keeps it below 3 (2.54, on httpx rather than httpx2), while
LangChain and openai-agents take the newest (3.63). Installed together, pip would move
pydantic-ai and llama-index back to old releases to find one openai for all. So ``make test``
builds three, each pinned in ``constraints/`` (``make constraints``):

- ``.venv-frameworks`` (extra ``frameworks-test``): LangChain and openai-agents;
- ``.venv-instructor`` (``instructor-test``): instructor, with anthropic for its fallback;
- ``.venv-llamaindex`` (``llama-index-test``): llama-index-llms-openai.

pydantic-ai's recipes run in the main ``.venv``, which has it for ``examples/support_agent``.

A file here is collected only where its framework is installed, so ``pytest tests`` in any
environment runs the recipes it can. The Makefile names each environment's files on the command
line, which pytest collects whatever this says: a framework missing from its environment fails
the run instead of leaving its recipes out unseen.
"""

from __future__ import annotations

import importlib.util

import pytest

#: Each recipe file and the module its framework installs.
FRAMEWORK_OF = {
    "test_pydantic_ai.py": "pydantic_ai",
    "test_langchain.py": "langchain_openai",
    "test_openai_agents.py": "agents",
    "test_side_traffic.py": "agents",
    "test_instructor.py": "instructor",
    "test_llama_index.py": "llama_index",
}

collect_ignore = [name for name, module in FRAMEWORK_OF.items() if importlib.util.find_spec(module) is None]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

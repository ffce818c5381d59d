"""Which client software a test ran: the SDKs that made its calls, and the AI frameworks loaded.

What an SDK raises for one failure changes between its versions (openai 3.3 lets a raw
``RemoteProtocolError`` out of a cut stream, 3.60 wraps it), so a report names the versions it
was made on. An SDK is known by the headers it sends with every request (``user-agent:
OpenAI/Python 3.60.0``); a framework sends none of its own, so it is known by being imported in
the process, its version read from its installed distribution.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Iterable, Mapping

__all__ = ["FRAMEWORKS", "client_of", "frameworks_loaded", "software_line", "software_of"]

#: (distribution, the pattern of its user-agent that holds the version), first match wins.
_AGENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("openai", re.compile(r"\bOpenAI/Python ([\w.+-]+)")),
    ("anthropic", re.compile(r"\bAnthropic/Python ([\w.+-]+)")),
    ("google-genai", re.compile(r"\bgoogle-genai-sdk/([\w.+-]+)")),
    ("boto3", re.compile(r"\bBoto3/([\w.+-]+)")),
    ("botocore", re.compile(r"\bBotocore/([\w.+-]+)")),
    ("huggingface_hub", re.compile(r"\bhf_hub/([\w.+-]+)")),
    ("litellm", re.compile(r"\blitellm/([\w.+-]+)")),
)

#: Frameworks that send their own user-agent through the openai or anthropic SDK: openai-agents
#: (``Agents/Python 0.24.0``: agents/models/openai_responses.py, chatcmpl_helpers.py),
#: langchain-anthropic (``langchain-anthropic/1.7.10``: chat_models.py) and pydantic-ai
#: (``pydantic-ai/2.78.0``: models/__init__.py ``get_user_agent``). Behind one of them the SDK is
#: still known: both send ``x-stainless-package-version``, and only anthropic's ``anthropic-version``.
_WRAPPERS = re.compile(r"\bAgents/Python\b|\blangchain-anthropic/|\bpydantic-ai/")

#: Framework distributions and the module that shows one is in use, in the order reports list them.
FRAMEWORKS: Mapping[str, str] = {
    "pydantic-ai-slim": "pydantic_ai",
    "langchain-core": "langchain_core",
    "langchain-openai": "langchain_openai",
    "langchain-anthropic": "langchain_anthropic",
    "langgraph": "langgraph",
    "instructor": "instructor",
    "openai-agents": "agents",
    "llama-index-core": "llama_index.core",
    "llama-index-llms-openai": "llama_index.llms.openai",
    "litellm": "litellm",
}
#: Distributions that install a framework under another name (the first installed is named).
_ALIASES: Mapping[str, tuple[str, ...]] = {"pydantic-ai-slim": ("pydantic-ai-slim", "pydantic-ai")}


def client_of(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(distribution, version) of the SDK that sent a request with these headers, or None."""
    agent = " ".join(str(v) for k, v in headers.items() if k.lower() in ("user-agent", "x-goog-api-client"))
    for name, pattern in _AGENTS:
        found = pattern.search(agent)
        if found:
            return name, found.group(1)
    lower = {k.lower(): str(v) for k, v in headers.items()}
    version = lower.get("x-stainless-package-version")
    if version and _WRAPPERS.search(agent):
        return ("anthropic" if "anthropic-version" in lower else "openai"), version
    return None


def software_of(headers: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Distribution -> version of every SDK that sent one of these requests, sorted by name."""
    found = {}
    for h in headers:
        client = client_of(h)
        if client is not None:
            found[client[0]] = client[1]
    return dict(sorted(found.items()))


def frameworks_loaded() -> dict[str, str]:
    """Distribution -> version of every AI framework imported in this process."""
    out = {}
    for dist, module in FRAMEWORKS.items():
        if module not in sys.modules:
            continue
        for name in _ALIASES.get(dist, (dist,)):
            try:
                out[name] = importlib.metadata.version(name)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return out


def software_line(software: Mapping[str, str]) -> str:
    """``openai 3.60.0, anthropic 2.17.0``: for the terminal, the HTML report and JUnit properties."""
    return ", ".join(f"{name} {version}" for name, version in software.items())

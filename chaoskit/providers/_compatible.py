"""OpenAI-compatible servers: the OpenAI wire format with each server's own error bodies.

Applications reach them with the ``openai`` SDK and a ``base_url``. Groq and Mistral have
their own hosts; vLLM and Ollama are self-hosted, so a test routes their base URL to the
profile: ``chaos.route("http://127.0.0.1:8000", provider="vllm")``. The error shapes are the
servers' own (shared/reference/providers.md, 6.7): vLLM's integer ``code``, Mistral's flat
body without an ``error`` wrapper, Groq's OpenAI shape with its 498 and 499 statuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._openai import OpenAIProfile
from ._profile import CallRequest, RenderContext

__all__ = ["GroqProfile", "MistralProfile", "OllamaProfile", "VllmProfile"]


class VllmProfile(OpenAIProfile):
    name = "vllm"
    hosts = frozenset()

    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        return {"error": {"message": "", "type": "InternalServerError", "param": None, "code": 500, **error}}


class OllamaProfile(OpenAIProfile):
    name = "ollama"
    hosts = frozenset()


class MistralProfile(OpenAIProfile):
    name = "mistral"
    hosts = frozenset({"api.mistral.ai"})

    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        return {"object": "error", "message": "", "type": None, "param": None, "code": None, **error}  # flat


class GroqProfile(OpenAIProfile):
    name = "groq"
    hosts = frozenset({"api.groq.com"})

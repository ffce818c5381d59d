"""The Azure OpenAI profile: the OpenAI wire format on Azure's hosts, with Azure's own errors.

The ``openai`` SDK's ``AzureOpenAI`` client sends Chat Completions to
``https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT/chat/completions?api-version=...``
and parses the same bodies as OpenAI's. Azure's errors differ: a 429's ``code`` is the string
``"429"`` with no ``type``, it carries ``retry-after-ms`` and ``x-ms-region``, and a prompt the
content filter blocks is a 400 with ``innererror`` (shared/reference/providers.md, 6.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._openai import OpenAIProfile
from ._profile import CallRequest, RenderContext

__all__ = ["AzureOpenAIProfile"]


class AzureOpenAIProfile(OpenAIProfile):
    name = "azure"
    hosts = frozenset()
    host_suffixes = (".openai.azure.com", ".cognitiveservices.azure.com")
    request_id_header = "x-request-id"

    def base_headers(self, ctx: RenderContext) -> list[tuple[str, str]]:
        return [
            ("x-request-id", f"req_{ctx.ident}"),
            ("apim-request-id", f"apim-{ctx.ident}"),
            ("x-ms-region", "East US"),
        ]

    def error_body(self, error: Mapping[str, Any], req: CallRequest, ctx: RenderContext) -> dict[str, Any]:
        return {"error": dict(error)}  # Azure sends only the fields it has: no type/param defaults

"""Provider profiles: the wire formats of each provider, healthy and broken."""

from __future__ import annotations

import functools

from ._profile import CallRequest, Profile, RenderContext

__all__ = ["CallRequest", "Profile", "RenderContext", "names", "profile"]


@functools.cache
def _profiles() -> dict[str, Profile]:
    from ._anthropic import AnthropicProfile
    from ._azure import AzureOpenAIProfile
    from ._bedrock import BedrockProfile
    from ._compatible import GroqProfile, MistralProfile, OllamaProfile, VllmProfile
    from ._gemini import GeminiProfile
    from ._huggingface import HuggingFaceProfile, TgiProfile
    from ._openai import OpenAIProfile

    profiles = (
        OpenAIProfile(), AnthropicProfile(), AzureOpenAIProfile(),
        VllmProfile(), OllamaProfile(), MistralProfile(), GroqProfile(),
        HuggingFaceProfile(), TgiProfile(),
        BedrockProfile(),
        GeminiProfile(),
    )
    return {p.name: p for p in profiles}


def names() -> list[str]:
    """The providers chaoskit simulates."""
    return sorted(_profiles())


def profile(name: str) -> Profile:
    """The profile for provider ``name``; an unknown name lists the known ones."""
    try:
        return _profiles()[name]
    except KeyError:
        from .._errors import ChaosConfigError

        raise ChaosConfigError(
            f"unknown provider {name!r}; chaoskit simulates: {', '.join(names())}"
        ) from None


def for_host(host: str) -> Profile | None:
    """The profile whose API lives on ``host`` (or on a subdomain it names), if any."""
    for p in _profiles().values():
        if host in p.hosts or host.endswith(p.host_suffixes):
            return p
    return None

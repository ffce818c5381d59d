"""The support assistant as a pydantic-ai agent, on the real openai and anthropic SDKs."""

from .app import UNSORTED, Reply, SupportAgent, Triage

__all__ = ["UNSORTED", "Reply", "SupportAgent", "Triage"]

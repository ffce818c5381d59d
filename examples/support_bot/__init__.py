"""A small customer-support assistant built on the openai and anthropic SDKs."""

from .app import Answer, AnswerStream, AsyncSupportBot, SupportBot, ToolRun

__all__ = ["Answer", "AnswerStream", "AsyncSupportBot", "SupportBot", "ToolRun"]

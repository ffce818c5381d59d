"""The form a structured reply takes on the wire: a tool call, or JSON text, as the request asks.

A framework asks a model for structured output in one of two ways, and says which in the request:
it offers a tool whose parameters are the output's schema (pydantic-ai's ``final_result``,
instructor's and LangChain's ``function_calling`` tool named after the model, llama-index's
function-calling program), forcing it with ``tool_choice`` or not; or it asks for JSON text
through an output format (OpenAI's ``response_format`` / ``text.format``, Anthropic's
``output_config``), or only in the prompt. The decision, first match wins:

1. the tool the reply names (``structured_reply(value, tool="Triage")``);
2. the tool the request forces (``tool_choice``);
3. JSON text, when the request has an output format;
4. the one offered tool whose parameters the value fits;
5. JSON text.

pydantic-ai and openai-agents wrap an output type that is not an object (``list[str]``, ``int``)
in an object of one property (``{"response": ...}``); a value that is not an object goes inside
the one property of such a schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ChaosConfigError
from .._replies import Reply, StructuredReply, ToolCall

__all__ = ["settle"]


def settle(
    reply: StructuredReply,
    *,
    forced: str | None,
    output: dict[str, Any] | None,
    tools: Mapping[str, dict[str, Any]],
    offered: list[str],
    where: str,
) -> Reply:
    """``reply`` in the form the request asks for (see the module's docstring for the order).

    ``forced`` is the tool the request's ``tool_choice`` names, ``output`` the JSON Schema of its
    output format, ``tools`` the parameters' schema of each offered tool, ``offered`` every offered
    tool's name, and ``where`` names the request in error messages.
    """
    name = reply.tool or forced
    if name is not None:
        if reply.tool is not None and offered and name not in offered:
            raise ChaosConfigError(
                f"structured_reply(..., tool={name!r}): {where} offers no tool {name!r}, only {offered}; "
                "name one of those, or leave tool= out to let the request decide"
            )
        return _call(reply, name, tools.get(name), where)
    if output is not None:
        return _json(reply.data, output)
    fitting = [n for n, schema in tools.items() if _arguments(reply.data, schema) is not None]
    if len(fitting) > 1:
        raise ChaosConfigError(
            f"structured_reply: the value fits the parameters of several tools {where} offers ({fitting}); "
            f"say which one to call with structured_reply(..., tool={fitting[0]!r})"
        )
    if fitting:
        return _call(reply, fitting[0], tools[fitting[0]], where)
    return reply.json


def _call(reply: StructuredReply, name: str, schema: dict[str, Any] | None, where: str) -> ToolCall:
    arguments = _arguments(reply.data, schema) if schema is not None else None
    if arguments is None:
        arguments = reply.data if isinstance(reply.data, dict) else None
    if arguments is None:
        raise ChaosConfigError(
            f"structured_reply: a call to the tool {name!r} {where} takes a JSON object as its arguments, "
            f"not {reply.data!r}; give a pydantic model, a dataclass or a dict"
        )
    return ToolCall(name=name, arguments=arguments)


def _json(data: Any, schema: dict[str, Any]) -> str:
    wrapped = _arguments(data, schema)
    return StructuredReply(wrapped if wrapped is not None else data).json


def _arguments(data: Any, schema: dict[str, Any]) -> dict[str, Any] | None:
    """``data`` as the object ``schema`` describes, or None; a value that is not an object goes
    inside the one property of a one-property schema."""
    if isinstance(data, dict):
        return data if _fits(data, schema) else None
    properties = schema.get("properties")
    if isinstance(properties, dict) and len(properties) == 1:
        wrapped = {next(iter(properties)): data}
        if _fits(wrapped, schema):
            return wrapped
    return None


def _fits(data: Any, schema: dict[str, Any]) -> bool:
    """Whether ``data`` is an object with every property ``schema`` requires and no other.

    Only the top level is compared: enough to tell an output tool from the app's own tools.
    """
    properties = schema.get("properties")
    if not isinstance(data, dict) or not isinstance(properties, dict):
        return False
    required = schema.get("required")
    if isinstance(required, list) and not set(required) <= data.keys():
        return False
    return data.keys() <= properties.keys()

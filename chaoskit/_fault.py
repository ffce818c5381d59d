"""The Fault value object: what goes wrong, by catalog id and parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._params import ParamType

__all__ = ["EFFECTS", "Fault"]

#: The closed set of effects a fault can have; provider profiles know how to render each.
EFFECTS = frozenset(
    {
        "status",  # an HTTP error response: status, error body, headers
        "timeout.connect",  # no connection within the client's connect timeout
        "timeout.read",  # no answer within the client's read timeout
        "connection.reset",  # TCP reset before the response
        "malformed.truncated_json",  # a 200 whose JSON body stops half-way
        "malformed.missing_field",  # a 200 without the field the SDK reads (choices, content)
        "malformed.null_content",  # a 200 with null where the text should be
        "malformed.html",  # a 200 with an HTML page instead of JSON
        "malformed.tool_args",  # a tool call whose arguments are not JSON
        "malformed.unknown_tool",  # a tool call to a tool the request did not offer
        "content_filter",  # a 200 that the provider's safety filter ended
        "stream.cut",  # the stream ends cleanly before its finish
        "stream.cut_unclean",  # the peer closes mid-body (incomplete chunked read)
        "stream.reset",  # TCP reset mid-stream
        "stream.stall",  # the stream stops sending (a read timeout if long enough)
        "stream.error_event",  # an error event in a 200 stream
        "stream.invalid_event",  # an event whose data is not JSON
        "stream.length",  # the answer stops at the token limit
        "latency.fixed",  # the answer comes late
        "latency.cold_start",  # the first call (or the first after idle) comes late
        "latency.first_token",  # headers at once, the first token late
        "latency.tokens",  # every token late
        "malformed.content_type",  # the right body with the wrong content type
        "body.incomplete",  # the peer closes before the body is complete
        "schema_drift",  # a JSON body (or tool arguments, or a tool result) changed in one place
        "tool.raise",  # a callable raises before doing anything
        "tool.raise_after",  # a callable does its work, then raises (the ambiguous outcome)
        "tool.timeout",  # a callable hangs, then raises TimeoutError
        "tool.return",  # a callable returns a given value (None, [], {}) without running
        "rpc.error",  # a JSON-RPC error response (MCP)
        "rpc.result",  # a JSON-RPC result made by chaoskit (an MCP tool error, a malformed result)
        "rpc.tool_vanishes",  # an MCP tool gone from tools/list, and unknown when called
        "poisoned",  # an answer (an API body, a tool result) carrying an injected instruction
        "toxic",  # a Toxiproxy toxic on a TCP proxy (chaos.network)
        # ---- model misbehaviour: a valid answer that is wrong ----
        "model.hallucination",  # a valid answer whose values (ids, amounts, dates, ...) are planted wrong ones
        "model.refusal",  # the model declines in the API's refusal field (OpenAI's message.refusal)
        "model.schema_violation",  # valid JSON that breaks the request's own schema in one place
        "model.empty",  # a valid answer with no text
        "model.non_answer",  # a polite answer that says nothing ("I'm not sure I can help with that.")
        "model.wrong_language",  # an answer in another language than the question's
        "model.prompt_leak",  # an answer that repeats the request's system prompt
        "model.max_tokens",  # an answer that stops mid-sentence at the token limit
        "model.tool_loop",  # the model calls a tool again at every step, for as long as it is asked
    }
)


@dataclass(frozen=True, eq=True)
class Fault:
    """A fault from the catalog: a stable id, what it does, and its parameters.

    Faults are values: ``fault.with_params(retry_after=0.1)`` returns a new one. Get them
    with ``chaoskit.faults.get(id, **params)``. ``types``: what each parameter accepts (from
    the catalog's ``faults/_params.yaml``); ``with_params`` checks the new values against them.
    """

    id: str
    effect: str
    params: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    #: What the fault is modelled on: the documentation page or SDK source file, from the catalog.
    source: str = field(default="", compare=False)
    types: Mapping[str, ParamType] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "types", MappingProxyType(dict(self.types)))

    @property
    def provider(self) -> str:
        """The provider part of the id (``openai`` in ``openai.rate_limit``)."""
        return self.id.split(".", 1)[0]

    @property
    def kind(self) -> str:
        """The id without the provider (``rate_limit`` in ``openai.rate_limit``)."""
        return self.id.split(".", 1)[1] if "." in self.id else self.id

    def with_params(self, **params: Any) -> Fault:
        """A copy with some parameters replaced; unknown names and values its ``types`` do not allow are errors."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            from ._errors import ChaosConfigError

            known = ", ".join(sorted(self.params)) or "none"
            raise ChaosConfigError(
                f"fault {self.id!r} has no parameter {unknown[0]!r}; its parameters are: {known}"
            )
        for name, value in params.items():
            if name in self.types:
                self.types[name].check(self.id, name, value)
        return Fault(self.id, self.effect, {**self.params, **params}, self.summary, self.source, self.types)

    def __hash__(self) -> int:
        return hash((self.id, json.dumps(dict(self.params), sort_keys=True, default=repr)))

    def __repr__(self) -> str:
        return f"Fault({self.id!r})" if not self.params else f"Fault({self.id!r}, {dict(self.params)!r})"

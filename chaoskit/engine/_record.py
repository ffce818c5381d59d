"""How one intercepted call is written in the journal: its body, the retry it says it is, the
wait its response asks for, its error body and its key. (The journal redacts what it stores.)"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..providers._plan import Plan, Respond, Send
from ..providers._profile import CallRequest

__all__ = ["error_body", "journal_body", "request_key", "retry_after", "retry_count"]


def journal_body(req: CallRequest) -> Any:
    """A request's body for the journal: its parsed JSON, else its text (None when empty)."""
    if req.json is not None:
        return req.json
    return req.body.decode("utf-8", "replace") if req.body else None


def retry_after(plan: Plan) -> float | None:
    """The wait a response asks for: ``retry-after-ms`` first, then ``retry-after`` seconds."""
    for step in plan:
        if isinstance(step, Respond):
            headers = dict(step.headers)
            for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
                try:
                    return float(headers[name]) * scale
                except (KeyError, ValueError):
                    continue
            return None
    return None


def error_body(plan: Plan) -> str:
    body = b"".join(step.data for step in plan if isinstance(step, Send))
    return body[:2000].decode("utf-8", "replace")


def retry_count(headers: Mapping[str, str]) -> int | None:
    """The retry an SDK says a request is: openai's and anthropic's ``x-stainless-retry-count``,
    botocore's ``amz-sdk-request: attempt=N; max=M`` (attempt 1 is retry 0). Names in any case."""
    stainless, sdk_request = headers.get("x-stainless-retry-count"), headers.get("amz-sdk-request")
    if stainless is None and sdk_request is None:  # the SDKs send them in lower case; other clients may not
        for key, value in headers.items():
            name = key.lower()
            if name == "x-stainless-retry-count":
                stainless = value
            elif name == "amz-sdk-request":
                sdk_request = value
    count = _int_or_none(stainless)
    if count is not None:
        return count
    for part in (sdk_request or "").split(";"):
        name, _, value = part.strip().partition("=")
        attempt = _int_or_none(value) if name == "attempt" else None
        if attempt is not None:
            return attempt - 1
    return None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def request_key(req: CallRequest) -> str:
    """A short digest of what was asked (method, URL, body): equal requests have equal keys."""
    digest = hashlib.blake2s(f"{req.method} {req.url}\n".encode() + req.body, digest_size=6)
    return digest.hexdigest()

"""How one intercepted call is written in the journal: its body and headers redacted, the
retry it says it is, the wait its response asks for, its error body and its key."""

from __future__ import annotations

import hashlib
from typing import Any

from .._journal import REDACTED, SECRET_HEADERS, parse_body, redact_body
from ..providers._plan import Plan, Respond, Send
from ..providers._profile import CallRequest

__all__ = ["error_body", "journal_body", "read_headers", "request_key", "retry_after", "retry_count"]

#: Request headers that carry credentials: never journaled, remembered for leak checks.
CREDENTIALS = ("authorization", "api-key", "x-api-key", "x-goog-api-key")


def journal_body(req: CallRequest) -> Any:
    """A request's body for the journal: its parsed JSON, else its text, secrets redacted."""
    return redact_body(req.json) if req.json is not None else parse_body(req.body)


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


def retry_count(headers: Any) -> int | None:
    """The retry an SDK says a request is: openai's and anthropic's ``x-stainless-retry-count``,
    botocore's ``amz-sdk-request: attempt=N; max=M`` (attempt 1 is retry 0)."""
    count = _int_or_none(headers.get("x-stainless-retry-count"))
    if count is not None:
        return count
    for part in (headers.get("amz-sdk-request") or "").split(";"):
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


def read_headers(headers: Any) -> tuple[dict[str, str], list[str], int | None]:
    """In one pass over request headers: (them, secret values redacted; the credential values;
    the retry the SDK says the request is, see :func:`retry_count`)."""
    redacted: dict[str, str] = {}
    found: list[str] = []
    retry: int | None = None
    attempt: str | None = None
    for key, value in headers.items():
        name = key.lower()
        if name in SECRET_HEADERS:
            redacted[name] = REDACTED
            if name in CREDENTIALS and value:
                token = value.split(" ", 1)[-1] if name == "authorization" else value
                if len(token) >= 6:
                    found.append(token)
            continue
        redacted[name] = value
        if name == "x-stainless-retry-count":
            retry = _int_or_none(value)
        elif name == "amz-sdk-request":
            attempt = value
    if retry is None and attempt is not None:
        retry = retry_count({"amz-sdk-request": attempt})
    return redacted, found, retry

"""Which HTTP requests an injected fault or a canned reply is for.

``url`` is one of:

- a glob string: ``*`` matches any run of characters, ``/`` included; everything else is
  literal. ``"https://crm.internal/*"`` is every path on that host. A pattern with no path
  (``"https://crm.internal"``) means the whole host. The query string is compared only
  when the pattern has one (``"https://crm.internal/search?q=*"``). MCP servers on stdio
  are ``stdio://COMMAND ARGS`` (``"stdio://*orders_server.py"``).
- a compiled regular expression, searched in the whole URL.
- a respx pattern (``respx.patterns.M(host="crm.internal", path__startswith="/v1")``), for
  anything else respx can match: headers, params, JSON body.

``method`` narrows it to one HTTP method (any case).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ._errors import ChaosConfigError

__all__ = ["UrlPattern"]


class UrlPattern:
    """A URL glob, regex or respx pattern, and optionally a method; see the module docstring."""

    __slots__ = ("source", "method", "_regex", "_respx", "_query")

    def __init__(self, url: Any, method: str | None = None) -> None:
        if method is not None and (not isinstance(method, str) or not method.isalpha()):
            raise ChaosConfigError(f"method={method!r} must be an HTTP method such as 'GET' or 'POST'")
        self.source = url
        self.method = method.upper() if method else None
        self._respx: Any = None
        self._query = False
        if isinstance(url, re.Pattern):
            self._regex: re.Pattern[str] = url
        elif isinstance(url, str):
            self._regex = _glob(url)
            self._query = "?" in url
        elif hasattr(url, "match") and type(url).__module__.startswith("respx"):
            self._respx = url
            self._regex = re.compile("")
        else:
            raise ChaosConfigError(
                f"url={url!r} must be a URL glob such as 'https://crm.internal/*', a compiled "
                "regular expression, or a respx pattern"
            )

    def matches(self, method: str, url: str, request: Any = None) -> bool:
        """Whether a request (its method and full URL) matches; ``request`` is what respx patterns
        match: an httpx request, or an object whose ``origin`` makes one (read only for them)."""
        if self.method is not None and method.upper() != self.method:
            return False
        if self._respx is not None:
            origin = getattr(request, "origin", request)
            return origin is not None and bool(self._respx.match(origin))
        if isinstance(self.source, str) and not self._query:
            url = url.split("?", 1)[0]
        return self._regex.search(url) is not None if not isinstance(self.source, str) else self._regex.fullmatch(url) is not None

    def __repr__(self) -> str:
        method = f", method={self.method!r}" if self.method else ""
        source = self.source.pattern if isinstance(self.source, re.Pattern) else self.source
        return f"url={source!r}{method}"


def _glob(url: str) -> re.Pattern[str]:
    if not url or "://" not in url:
        raise ChaosConfigError(
            f"url={url!r} must be a full URL pattern with a scheme, such as 'https://crm.internal/*'"
        )
    parts = urlsplit(url.replace("*", "chaoskitstar"))
    if parts.scheme in ("http", "https") and not parts.path and not parts.query:
        url = url.rstrip("/") + "/*"  # a bare host: every path on it
    return re.compile(".*".join(re.escape(piece) for piece in url.split("*")))

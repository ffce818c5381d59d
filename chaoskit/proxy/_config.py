"""What a chaos proxy is started with: its upstreams (the allow-list), addresses, token, seed."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .._errors import ChaosConfigError
from ..seams._proxy import Upstream

__all__ = ["ProxyConfig", "parse_address", "parse_upstream"]


def parse_upstream(text: str) -> Upstream:
    """``NAME=URL`` or ``NAME:PROVIDER=URL`` (``openai=https://api.openai.com``,
    ``llm:vllm=http://10.0.0.5:8000``). Without a provider, NAME or the URL's host names it."""
    from ..providers import for_host, names

    left, eq, url = text.partition("=")
    if not eq or not left or not url:
        raise ChaosConfigError(
            f"--upstream {text!r} must be NAME=URL or NAME:PROVIDER=URL, such as openai=https://api.openai.com"
        )
    name, _, provider = left.partition(":")
    if not provider:
        found = for_host(urlsplit(url).hostname or "")
        if name in names():
            provider = name
        elif found is not None:
            provider = found.name
        else:
            raise ChaosConfigError(
                f"--upstream {text!r}: say which provider's API {url} speaks, as {name}:PROVIDER={url} "
                f"(one of {', '.join(names())}; an OpenAI-compatible server is 'openai' or 'vllm')"
            )
    elif provider not in names():
        raise ChaosConfigError(f"--upstream {text!r}: unknown provider {provider!r}; one of {', '.join(names())}")
    return Upstream(name, url, provider)


def parse_address(text: str, *, what: str, allow_remote: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT`` for loopback); a host that is not loopback needs ``allow_remote``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ChaosConfigError(f"{what} {text!r} must be HOST:PORT, such as 127.0.0.1:8080")
    host = host.strip("[]") or "127.0.0.1"
    if not allow_remote and not _loopback(host):
        raise ChaosConfigError(
            f"{what} {text!r} is not a loopback address; the proxy binds to loopback unless started with "
            "--allow-remote (anyone who reaches it can inject faults through its control API with the token)"
        )
    return host, int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ProxyConfig:
    """A chaos proxy's settings. ``listen``: where apps connect; ``control``: the control API
    (its own port). ``max_active_faults``: adds beyond it are refused (Envoy's
    ``max_active_faults``). ``default_ttl``/``max_ttl``: seconds a fault stays on unless renewed.
    ``journal_keep``: journal entries kept in memory. ``state``: a ``redis://`` URL that
    replicas share faults and counters through (None: this process alone)."""

    upstreams: tuple[Upstream, ...]
    token: str
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    control: tuple[str, int] = ("127.0.0.1", 8475)
    seed: int = 0
    max_active_faults: int = 32
    default_ttl: float = 60.0
    max_ttl: float = 3600.0
    journal_keep: int = 10_000
    journal_file: str | None = None
    state: str | None = None
    upstream_connect_timeout: float = 30.0
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise ChaosConfigError("the proxy needs at least one --upstream NAME=URL: it forwards only to its allow-list")
        names = [u.name for u in self.upstreams]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ChaosConfigError(f"--upstream {twice[0]!r} is given twice; each upstream needs its own name")
        if len(self.token) < 16:
            raise ChaosConfigError("the control token must be at least 16 characters (or leave it out for a random one)")

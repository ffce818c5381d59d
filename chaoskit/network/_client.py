"""A safe face on toxiproxy-python: timeouts, several servers, typed toxics, one error map.

toxiproxy-python (0.1.1, 2019) is the named client and works on Python 3.11, but it keeps
its server in class attributes (``APIConsumer.host/port``), sends with no timeout, lets a
5xx pass silently and returns nothing from ``add_toxic``. :class:`ToxiproxyClient` keeps the
library for every call and fixes those around it: each call holds a lock while it points
the library at its own server and gives ``requests`` a timeout, and every failure comes out
as a :class:`ToxiproxyError` saying which server and what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from .._errors import ChaosError

__all__ = [
    "TOXIC_TYPES", "Bandwidth", "LimitData", "Latency", "ProxyHandle", "ResetPeer", "Slicer", "SlowClose",
    "Timeout", "Toxic", "ToxicHandle", "ToxiproxyClient", "ToxiproxyError",
]

_LOCK = threading.RLock()  # toxiproxy-python's server address is global: one call at a time


class ToxiproxyError(ChaosError):
    """A Toxiproxy server refused a request, could not be reached, or answered an error."""


# ---- typed toxics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Toxic:
    """A toxic to add: its Toxiproxy ``type``, attributes, direction and toxicity.

    ``stream``: ``"downstream"`` (server to client, the default) or ``"upstream"``.
    ``toxicity``: the chance each connection gets it, rolled once per connection.
    """

    type: ClassVar[str] = ""
    stream: str = field(default="downstream", kw_only=True)
    toxicity: float = field(default=1.0, kw_only=True)
    name: str | None = field(default=None, kw_only=True)

    def attributes(self) -> dict[str, int]:
        skip = {"stream", "toxicity", "name"}
        return {k: int(v) for k, v in self.__dict__.items() if k not in skip}

    def body(self) -> dict[str, Any]:
        if self.stream not in ("upstream", "downstream"):
            raise ToxiproxyError(f"stream={self.stream!r} must be 'upstream' or 'downstream'")
        if not 0.0 <= float(self.toxicity) <= 1.0:
            raise ToxiproxyError(f"toxicity={self.toxicity!r} must be a number from 0 to 1")
        return {
            "name": self.name or f"{self.type}_{self.stream}", "type": self.type, "stream": self.stream,
            "toxicity": float(self.toxicity), "attributes": self.attributes(),
        }


@dataclass(frozen=True)
class Latency(Toxic):
    """Every chunk waits ``latency`` ms, plus or minus ``jitter`` ms."""

    type: ClassVar[str] = "latency"
    latency: int = 0
    jitter: int = 0


@dataclass(frozen=True)
class Bandwidth(Toxic):
    """At most ``rate`` KB/s."""

    type: ClassVar[str] = "bandwidth"
    rate: int = 0


@dataclass(frozen=True)
class SlowClose(Toxic):
    """The close (FIN) comes ``delay`` ms late."""

    type: ClassVar[str] = "slow_close"
    delay: int = 0


@dataclass(frozen=True)
class Timeout(Toxic):
    """All data is dropped; the connection closes after ``timeout`` ms (0: never)."""

    type: ClassVar[str] = "timeout"
    timeout: int = 0


@dataclass(frozen=True)
class ResetPeer(Toxic):
    """On the first data, wait ``timeout`` ms, then reset the connection (RST)."""

    type: ClassVar[str] = "reset_peer"
    timeout: int = 0


@dataclass(frozen=True)
class Slicer(Toxic):
    """Writes are cut into pieces of ``average_size`` ± ``size_variation`` bytes, ``delay`` µs apart."""

    type: ClassVar[str] = "slicer"
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0


@dataclass(frozen=True)
class LimitData(Toxic):
    """The connection closes once ``bytes`` have passed."""

    type: ClassVar[str] = "limit_data"
    bytes: int = 0


TOXIC_TYPES: Mapping[str, type[Toxic]] = {
    cls.type: cls for cls in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}


def make_toxic(toxic: Toxic | str, **attributes: Any) -> Toxic:
    """A typed toxic from a Toxic or a type name with its attributes; unknown names are an error."""
    if isinstance(toxic, Toxic):
        if attributes:
            raise ToxiproxyError(f"give the attributes in the {type(toxic).__name__}(...) itself")
        return toxic
    cls = TOXIC_TYPES.get(toxic)
    if cls is None:
        raise ToxiproxyError(f"unknown toxic type {toxic!r}; Toxiproxy has: {', '.join(TOXIC_TYPES)}")
    try:
        return cls(**attributes)
    except TypeError:
        known = [f.name for f in dataclasses.fields(cls) if f.name not in ("stream", "toxicity", "name")]
        unknown = sorted(set(attributes) - set(known) - {"stream", "toxicity", "name"})
        raise ToxiproxyError(
            f"toxic {toxic!r} has no attribute {unknown[0]!r}; its attributes are: {', '.join(known)}, "
            "and stream, toxicity, name"
        ) from None


# ---- the client ------------------------------------------------------------------------------


class _Requests:
    """``requests`` with a default timeout and 5xx turned into errors, for toxiproxy-python."""

    def __init__(self, timeout: float) -> None:
        import requests

        self._requests = requests
        self.timeout = timeout

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        response = getattr(self._requests, method)(url, **kwargs)
        if response.status_code >= 500:
            raise ToxiproxyError(f"{method.upper()} {url}: the server answered {response.status_code}: {response.text[:200]}")
        return response

    def get(self, url: str, **kwargs: Any) -> Any:
        return self._call("get", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self._call("post", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self._call("delete", url, **kwargs)


class ToxiproxyClient:
    """One Toxiproxy server (real or chaoskit's embedded one), through toxiproxy-python.

    ``url``: the server's control API, ``http://127.0.0.1:8474``. ``timeout``: seconds for
    every call (toxiproxy-python sets none). Several clients for several servers may be
    used at once.
    """

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ToxiproxyError(f"url={url!r} must look like 'http://127.0.0.1:8474'")
        self.url = url.rstrip("/")
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout

    @contextlib.contextmanager
    def library(self, doing: str) -> Iterator[Any]:
        """toxiproxy-python pointed at this server, with timeouts; its errors mapped here."""
        import requests
        import toxiproxy
        import toxiproxy.api as api
        from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

        with _LOCK:
            saved = (api.APIConsumer.host, api.APIConsumer.port, api.requests)
            api.APIConsumer.host, api.APIConsumer.port = self.host, self.port
            api.requests = _Requests(self.timeout)  # type: ignore[assignment]
            try:
                yield toxiproxy
            except ProxyExists as exc:
                raise ToxiproxyError(f"{doing} on {self.url}: it exists already ({_text(exc)})") from None
            except NotFound as exc:
                raise ToxiproxyError(f"{doing} on {self.url}: not found ({_text(exc)})") from None
            except InvalidToxic as exc:
                raise ToxiproxyError(f"{doing} on {self.url}: refused as invalid ({_text(exc)})") from None
            except requests.Timeout:
                raise ToxiproxyError(f"{doing} on {self.url}: no answer within {self.timeout:g} s") from None
            except requests.ConnectionError:
                raise ToxiproxyError(
                    f"{doing}: no Toxiproxy server at {self.url}; start one (`chaoskit toxiproxy`) or "
                    "check --chaos-toxiproxy-url / CHAOSKIT_TOXIPROXY_URL"
                ) from None
            finally:
                api.APIConsumer.host, api.APIConsumer.port, api.requests = saved

    def version(self) -> str:
        with self.library("version") as lib:
            raw = lib.Toxiproxy().version()
        if raw is None:
            raise ToxiproxyError(f"version: no Toxiproxy server at {self.url}")
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def create(self, name: str, upstream: str, *, listen: str = "127.0.0.1:0") -> ProxyHandle:
        """A new proxy from ``listen`` to ``upstream`` (``host:port``); port 0 picks a free one."""
        with self.library(f"create proxy {name!r}") as lib:
            proxy = lib.Toxiproxy().create(upstream=upstream, name=name, listen=listen)
        return ProxyHandle(self, proxy.name, proxy.listen, proxy.upstream)

    def proxies(self) -> dict[str, ProxyHandle]:
        with self.library("list proxies") as lib:
            found = lib.Toxiproxy().proxies()
        return {name: ProxyHandle(self, p.name, p.listen, p.upstream) for name, p in found.items()}

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (``POST /reset``)."""
        with self.library("reset") as lib:
            lib.Toxiproxy().reset()

    def destroy(self, name: str) -> None:
        with self.library(f"destroy proxy {name!r}") as lib:
            lib.api.APIConsumer.delete(_path(name))


def _path(*names: str) -> str:
    """An API path under ``/proxies`` with each name quoted whole: ``redis/primary`` is one segment."""
    return "/proxies" + "".join(f"/{quote(name, safe='')}" for name in names)


def _text(exc: BaseException) -> str:
    raw = exc.args[0] if exc.args else ""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


@dataclass
class ToxicHandle:
    """A toxic on a proxy; ``with`` removes it at the end of the block, ``remove()`` at once."""

    proxy: ProxyHandle
    toxic: Toxic
    name: str

    def remove(self) -> None:
        self.proxy.remove_toxic(self.name)

    def __enter__(self) -> ToxicHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


@dataclass
class ProxyHandle:
    """A proxy on a Toxiproxy server: give ``listen`` (``host``, ``port``) to the client under test."""

    client: ToxiproxyClient
    name: str
    listen: str
    upstream: str

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    def add(self, toxic: Toxic | str, **attributes: Any) -> ToxicHandle:
        """Add a toxic (``Latency(latency=500)`` or ``"latency", latency=500``); returns its handle."""
        typed = make_toxic(toxic, **attributes)
        body = typed.body()
        with self.client.library(f"add toxic {body['name']!r} to {self.name!r}") as lib:
            lib.api.APIConsumer.post(_path(self.name, "toxics"), json=body)
        return ToxicHandle(self, typed, body["name"])

    def toxics(self) -> list[str]:
        with self.client.library(f"list toxics of {self.name!r}") as lib:
            return sorted(t["name"] for t in lib.api.APIConsumer.get(_path(self.name, "toxics")).json())

    def remove_toxic(self, toxic_name: str) -> None:
        with self.client.library(f"remove toxic {toxic_name!r} from {self.name!r}") as lib:
            lib.api.APIConsumer.delete(_path(self.name, "toxics", toxic_name))

    def set_enabled(self, enabled: bool) -> None:
        with self.client.library(f"{'enable' if enabled else 'disable'} proxy {self.name!r}") as lib:
            lib.api.APIConsumer.post(_path(self.name), json={"enabled": enabled})

    @contextlib.contextmanager
    def down(self) -> Iterator[ProxyHandle]:
        """The service is unreachable inside the block (connections dropped, nothing listens)."""
        self.set_enabled(False)
        try:
            yield self
        finally:
            self.set_enabled(True)

    def destroy(self) -> None:
        self.client.destroy(self.name)

"""The runner's client of a chaos proxy's control API (async, bearer token, short timeouts)."""

from __future__ import annotations

from typing import Any

import httpx

from .._errors import ChaosError

__all__ = ["ClaimRefused", "ControlError", "ControlUnreachable", "ProxyControl"]

#: Seconds a call waits to connect to the control API (a dead proxy on loopback refuses at once;
#: one on a host that is gone would otherwise hold each call for the whole timeout).
CONNECT_SECONDS = 2.0


class ControlError(ChaosError):
    """The proxy's control API refused a call, or could not be reached. ``status``: the HTTP
    status of a refusal (None when nothing answered); ``body``: its JSON, when it had one."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ControlUnreachable(ControlError):
    """Nothing answered: the proxy is down, hung, or the network is. ``cause``: the client's
    error, as ``ConnectError: [Errno 111] Connection refused``."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


class ClaimRefused(ControlError):
    """Another run or game day holds the proxy. ``claim``: its title, kind, since (ISO 8601,
    UTC) and ``expires_in`` seconds, as the proxy said."""

    def __init__(self, message: str, claim: dict[str, Any]) -> None:
        super().__init__(message, 409, {"claim": claim})
        self.claim = claim


class ProxyControl:
    """Faults on, renewed and off, and the proxy claimed, through one proxy's control API."""

    def __init__(self, url: str, token: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.headers = {"authorization": f"Bearer {token}"}
        self._client = httpx.AsyncClient(base_url=self.url, headers=self.headers, trust_env=False,
                                         timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_SECONDS)))

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ControlUnreachable(f"the chaos proxy's control API at {self.url} did not answer {method} {path}: {cause}",
                                     cause) from None
        if response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("error", response.text)
            except ValueError:
                body, message = None, response.text
            raise ControlError(f"{method} {self.url}{path}: {response.status_code}: {message}", response.status_code, body)
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else response.text

    async def health(self, timeout: float | None = None) -> dict[str, Any]:
        """``GET /health``; ``timeout`` (seconds) for a poll that must not wait long."""
        extra = {} if timeout is None else {"timeout": timeout}
        return await self._call("GET", "/health", **extra)  # type: ignore[no-any-return]

    async def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/faults", json=spec)  # type: ignore[no-any-return]

    async def renew(self, fault_id: str, ttl: float) -> dict[str, Any]:
        return await self._call("PATCH", f"/faults/{fault_id}", json={"ttl": ttl})  # type: ignore[no-any-return]

    async def remove(self, fault_id: str) -> bool:
        """Take a fault off; False when it was already gone (expired)."""
        try:
            await self._call("DELETE", f"/faults/{fault_id}")
        except ControlError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def faults(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/faults"))["faults"]  # type: ignore[no-any-return]

    async def claim(self, owner: str, *, title: str, kind: str, ttl: float) -> dict[str, Any]:
        """Hold the proxy for ``owner`` for ``ttl`` seconds, or renew its hold: the claim as the
        proxy holds it. :class:`ClaimRefused` when another owner holds it."""
        try:
            answer = await self._call("POST", "/claim", json={"owner": owner, "title": title, "kind": kind, "ttl": ttl})
        except ControlError as exc:
            if exc.status == 409 and isinstance(exc.body, dict) and isinstance(exc.body.get("claim"), dict):
                raise ClaimRefused(str(exc), exc.body["claim"]) from None
            raise
        return answer["claim"]  # type: ignore[no-any-return]

    async def release(self, owner: str) -> bool:
        """Let the proxy go; False when ``owner`` held no claim (it had expired)."""
        try:
            await self._call("DELETE", f"/claim/{owner}")
        except ControlError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def journal(self, since: int = 0) -> list[dict[str, Any]]:
        import json

        text = await self._call("GET", f"/journal?since={since}")
        return [json.loads(line) for line in str(text).splitlines() if line]

    async def metrics(self) -> str:
        return str(await self._call("GET", "/metrics"))

    async def aclose(self) -> None:
        await self._client.aclose()

"""The runner's client of a chaos proxy's control API (async, bearer token, short timeouts)."""

from __future__ import annotations

from typing import Any

import httpx

from .._errors import ChaosError

__all__ = ["ControlError", "ProxyControl"]


class ControlError(ChaosError):
    """The proxy's control API refused a call, or could not be reached."""


class ProxyControl:
    """Faults on, renewed and off through one proxy's control API."""

    def __init__(self, url: str, token: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.headers = {"authorization": f"Bearer {token}"}
        self._client = httpx.AsyncClient(base_url=self.url, headers=self.headers,
                                         timeout=timeout, trust_env=False)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ControlError(f"the chaos proxy's control API at {self.url} did not answer {method} {path}: "
                               f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ControlError(f"{method} {self.url}{path}: {response.status_code}: {message}")
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else response.text

    async def health(self) -> dict[str, Any]:
        return await self._call("GET", "/health")  # type: ignore[no-any-return]

    async def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/faults", json=spec)  # type: ignore[no-any-return]

    async def renew(self, fault_id: str, ttl: float) -> dict[str, Any]:
        return await self._call("PATCH", f"/faults/{fault_id}", json={"ttl": ttl})  # type: ignore[no-any-return]

    async def remove(self, fault_id: str) -> bool:
        """Take a fault off; False when it was already gone (expired)."""
        try:
            await self._call("DELETE", f"/faults/{fault_id}")
        except ControlError as exc:
            if ": 404: " in str(exc):
                return False
            raise
        return True

    async def faults(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/faults"))["faults"]  # type: ignore[no-any-return]

    async def journal(self, since: int = 0) -> list[dict[str, Any]]:
        import json

        text = await self._call("GET", f"/journal?since={since}")
        return [json.loads(line) for line in str(text).splitlines() if line]

    async def metrics(self) -> str:
        return str(await self._call("GET", "/metrics"))

    async def aclose(self) -> None:
        await self._client.aclose()

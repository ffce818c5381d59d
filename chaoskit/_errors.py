"""chaoskit's own exceptions.

    ChaosError                      base of every error chaoskit raises about its own use
     ├── UnknownFaultError          a fault id that is not in the catalog (also a KeyError)
     ├── ChaosConfigError           bad arguments, markers or catalog data (also a ValueError)
     └── UnroutedRequestError       an HTTP request to a host chaoskit may not let through

    ChaosWarning (UserWarning)      a fault that never had a call to act on, and the like

Faults themselves never raise these: an injected fault raises what the real transport or
SDK raises, so the code under test meets the exception it handles in production.
"""

from __future__ import annotations

__all__ = ["ChaosConfigError", "ChaosError", "ChaosWarning", "UnknownFaultError", "UnroutedRequestError"]


class ChaosError(Exception):
    """Base class for errors about how chaoskit is used."""


class UnknownFaultError(ChaosError, KeyError):
    """A fault id that the catalog does not have; the message names the closest ids."""

    def __init__(self, fault_id: str, suggestions: list[str]) -> None:
        self.fault_id = fault_id
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"unknown fault id {fault_id!r}.{hint} Run `chaoskit faults` to list the catalog."
        )

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ChaosConfigError(ChaosError, ValueError):
    """Bad arguments, a bad marker or bad catalog data."""


class UnroutedRequestError(ChaosError):
    """A request chaoskit will not let through or cannot answer.

    Raised for a host with no provider profile that is not allowed through, and for an
    endpoint of a provider host that the simulator does not serve.
    """

    def __init__(self, method: str, url: str, reason: str | None = None) -> None:
        self.method = method
        self.url = url
        super().__init__(
            reason
            or f"chaoskit blocked {method} {url}: no provider profile serves this host and it "
            "is not allowed through. Allow it with chaos.allow_host(HOST) or "
            "`--chaos-allow-host HOST`, give it a canned reply with chaos.reply_http(URL, json=...), "
            "or serve it with chaos.route(URL, provider=NAME)."
        )


class ChaosWarning(UserWarning):
    """Something in a chaos session probably did not do what the test meant (a fault never applied)."""

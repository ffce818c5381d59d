"""The fault catalog: ``faults.get("openai.rate_limit", retry_after=0.1)``.

Ids are ``provider.kind[.variant]``. ``faults.ids("anthropic.*")`` lists them;
``chaoskit faults`` prints them with their summaries.
"""

from __future__ import annotations

from typing import Any

from ._catalog import catalog
from ._fault import Fault

__all__ = ["Fault", "all", "get", "ids", "resolve"]


def get(fault_id: str, **params: Any) -> Fault:
    """The catalog fault ``fault_id`` with parameters overridden.

    Raises :class:`chaoskit.UnknownFaultError` naming the closest ids for an unknown id, and
    :class:`chaoskit.ChaosConfigError` for a parameter the fault does not have.
    """
    return catalog().get(fault_id, **params)


def ids(pattern: str = "*") -> list[str]:
    """Sorted catalog ids matching a glob pattern (``"openai.*"``, ``"*.stream.*"``)."""
    return catalog().ids(pattern)


def all(pattern: str = "*") -> list[Fault]:  # noqa: A001 - mirrors ids()
    """The catalog faults matching a glob pattern, sorted by id."""
    return [catalog().get(i) for i in catalog().ids(pattern)]


def resolve(fault: Fault | str) -> Fault:
    """A Fault from a Fault or a catalog id; anything else is a clear error."""
    if isinstance(fault, Fault):
        return fault
    if isinstance(fault, str):
        return get(fault)
    from ._errors import ChaosConfigError

    raise ChaosConfigError(f"a fault must be a catalog id or a Fault, not {fault!r}")

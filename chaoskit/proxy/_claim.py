"""Who drives the proxy now: one claim at a time, on a lease, so two runs never trample each
other's faults.

The model: at most one claim. Its owner (a run's id) holds it until its lease ends; the owner
renews it by claiming again and releases it early; anyone else is refused with who holds it
and for how long. A claim not renewed ends by itself, so a runner killed with SIGKILL blocks the
next one for its lease at most. With shared state (Redis) the claim is one key under the
replicas' prefix with Redis's own expiry: every replica sees the same claim, and it ends with
its lease even when no proxy is left. Faults put on through the control API by hand are not
checked against it: the claim keeps runners apart, it does not lock the proxy.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ChaosConfigError
from ._state import RedisState

__all__ = ["CLAIM_FIELDS", "CLAIM_KINDS", "Claim", "ClaimHeld", "Claims"]

#: The fields of a claim as ``POST /claim`` takes them.
CLAIM_FIELDS = ("owner", "title", "kind", "ttl")
#: What can hold the proxy: ``chaoskit run`` or a game day (the CLI's or a script's).
CLAIM_KINDS = ("run", "gameday")
#: Seconds a claim lasts when ``ttl`` is not given (the runners' default lease).
DEFAULT_CLAIM_TTL = 10.0
_OWNER = re.compile(r"[A-Za-z0-9._:@-]{1,100}")


@dataclass(frozen=True)
class Claim:
    """A claim as read now: its owner, what it is for, since when (wall clock) and the seconds left."""

    owner: str
    title: str
    kind: str
    since: float
    ttl: float
    expires_in: float

    def to_dict(self, *, owner: bool) -> dict[str, Any]:
        """Its JSON form; ``owner`` only for callers with the token (``/health`` shows no id to act on)."""
        shown: dict[str, Any] = {"title": self.title, "kind": self.kind,
                                 "since": dt.datetime.fromtimestamp(self.since, dt.UTC).isoformat(timespec="seconds"),
                                 "ttl": self.ttl, "expires_in": round(max(self.expires_in, 0.0), 3)}
        return {"owner": self.owner, **shown} if owner else shown


class ClaimHeld(Exception):
    """Someone else holds the claim."""

    def __init__(self, claim: Claim) -> None:
        kind = "game day" if claim.kind == "gameday" else claim.kind
        super().__init__(f"the proxy is in use by {kind} {claim.title!r} (its lease ends in {math.ceil(claim.expires_in)} s); "
                         "wait for it to finish, or pull its kill switch with POST /halt")
        self.claim = claim


class Claims:
    """The proxy's one claim: taken, renewed, released and expired (thread-safe). With ``state``,
    kept in Redis and shared by the replicas; else in this process, timed on ``clock``."""

    def __init__(self, *, state: RedisState | None = None, max_ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.state = state
        self.max_ttl = max_ttl
        self.clock = clock
        self.wall = wall
        self._lock = threading.Lock()
        self._held: tuple[Claim, float] | None = None  # the claim and its end on ``clock``

    def take(self, spec: Mapping[str, Any]) -> tuple[Claim, bool]:
        """Claim the proxy from ``POST /claim``'s body, or renew the claim ``owner`` holds: the
        claim and whether it was a renewal. ClaimHeld when another owner holds it;
        ChaosConfigError saying what is wrong with the body."""
        owner, title, kind, ttl = self._checked(spec)
        if self.state is not None:
            outcome, fields, left = self.state.claim(owner, {"title": title, "kind": kind, "since": repr(self.wall()), "ttl": repr(ttl)})
            claim = _shared(fields, left)
            if outcome == "held":
                raise ClaimHeld(claim)
            return claim, outcome == "renewed"
        with self._lock:
            held = self.current()
            if held is not None and held.owner != owner:
                raise ClaimHeld(held)
            since = held.since if held is not None else self.wall()
            claim = Claim(owner, title, kind, since, ttl, ttl)
            self._held = (claim, self.clock() + ttl)
            return claim, held is not None

    def release(self, owner: str) -> Claim | None:
        """End ``owner``'s claim; None when it holds none (never held, expired, or another's)."""
        if self.state is not None:
            fields = self.state.release_claim(owner)
            return _shared(fields, 0.0) if fields else None
        with self._lock:
            held = self.current()
            if held is None or held.owner != owner:
                return None
            self._held = None
            return held

    def current(self) -> Claim | None:
        """The claim in force, or None."""
        if self.state is not None:
            fields, left = self.state.claimed()
            return _shared(fields, left) if fields else None
        held = self._held
        if held is None:
            return None
        claim, ends = held
        left = ends - self.clock()
        if left <= 0:
            return None
        return Claim(claim.owner, claim.title, claim.kind, claim.since, claim.ttl, left)

    def _checked(self, spec: Mapping[str, Any]) -> tuple[str, str, str, float]:
        if not isinstance(spec, Mapping):
            raise ChaosConfigError('a claim must be a JSON object such as {"owner": "run-1f2e", "title": "...", "kind": "run", "ttl": 10}')
        unknown = sorted(set(spec) - set(CLAIM_FIELDS))
        if unknown:
            raise ChaosConfigError(f"unknown field {unknown[0]!r}; a claim takes {', '.join(CLAIM_FIELDS)}")
        owner = spec.get("owner")
        if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
            raise ChaosConfigError(f"owner={owner!r} must be 1 to 100 letters, digits or . _ : @ - (the run's id, "
                                   "the same on every renewal)")
        title = spec.get("title", "")
        if not isinstance(title, str) or len(title) > 200:
            raise ChaosConfigError(f"title={title!r} must be text of at most 200 characters (the scenario's title)")
        kind = spec.get("kind", "run")
        if kind not in CLAIM_KINDS:
            raise ChaosConfigError(f"kind={kind!r} must be one of {', '.join(CLAIM_KINDS)}")
        ttl = spec.get("ttl", DEFAULT_CLAIM_TTL)
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or math.isnan(ttl) or not 0 < ttl <= self.max_ttl:
            raise ChaosConfigError(f"ttl={ttl!r} must be seconds, more than 0 and at most {self.max_ttl:g} (the proxy's --max-ttl)")
        return owner, title, kind, float(ttl)


def _shared(fields: Mapping[str, str], left: float) -> Claim:
    """A claim from its Redis hash and the seconds its key has left."""
    return Claim(fields["owner"], fields.get("title", ""), fields.get("kind", "run"), float(fields.get("since", 0)),
                 float(fields.get("ttl", 0)), left)

"""State that replicas of the chaos proxy share through Redis (``--state redis://...``).

Several proxies behind an app's load balancer make the same decisions with no coordination
where a schedule needs no counter (rate, window, percentage: each decision derives from the
seed and the request). What needs counting or must be seen by all is kept in Redis:

- the faults on, one key each (``PREFIX:fault:ID``, a JSON spec) with Redis's own expiry as
  the TTL, so faults expire even when every proxy and controller is gone;
- the fault ids, from one counter;
- each fault's counters (``PREFIX:count:ID:seen`` and ``:fired``): ``times`` is taken in one
  atomic step, so ``times=5`` across replicas is five injections.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["RedisCounts", "RedisState", "SharedFault"]

#: Count one firing unless the limit is reached: atomic, so replicas never overshoot.
_TAKE = """
local fired = tonumber(redis.call('GET', KEYS[1]) or '0')
if fired >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class SharedFault:
    """A fault as Redis holds it: its id, the spec it was added with, and when (wall clock)
    it was added and expires."""

    id: str
    spec: dict[str, Any]
    added: float
    expires: float


class RedisState:
    """The shared store of one group of replicas (``prefix`` names the group)."""

    def __init__(self, url: str, *, prefix: str = "chaoskit:proxy", keep_counts: float = 7200.0) -> None:
        from .._errors import ChaosConfigError

        try:
            import redis
        except ImportError:
            raise ChaosConfigError("--state redis://... needs the redis package: pip install 'chaoskit[staging]'") from None
        try:
            self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
            self.client.ping()
        except (redis.RedisError, ValueError) as exc:
            raise ChaosConfigError(f"--state {_shown(url)}: cannot reach Redis: {exc}; start it, or run without --state "
                                   "(one proxy alone keeps its state in memory)") from None
        self.prefix = prefix
        self.keep_counts_ms = int(keep_counts * 1000)
        self._take = self.client.register_script(_TAKE)

    def new_id(self) -> str:
        return f"f{self.client.incr(f'{self.prefix}:ids')}"

    def put(self, fault: SharedFault) -> None:
        ttl_ms = max(int((fault.expires - time.time()) * 1000), 1)
        value = json.dumps({"spec": fault.spec, "added": fault.added, "expires": fault.expires})
        pipe = self.client.pipeline()
        pipe.set(f"{self.prefix}:fault:{fault.id}", value, px=ttl_ms)
        pipe.sadd(f"{self.prefix}:faults", fault.id)
        pipe.execute()

    def delete(self, fault_id: str) -> bool:
        pipe = self.client.pipeline()
        pipe.delete(f"{self.prefix}:fault:{fault_id}")
        pipe.srem(f"{self.prefix}:faults", fault_id)
        pipe.delete(f"{self.prefix}:count:{fault_id}:seen", f"{self.prefix}:count:{fault_id}:fired")
        gone, _, _ = pipe.execute()
        return bool(gone)

    def faults(self) -> list[SharedFault]:
        """The faults on now; ids whose key has expired are dropped from the index (and their counters)."""
        ids = sorted((str(i) for i in self.client.smembers(f"{self.prefix}:faults")), key=lambda i: int(i[1:]) if i[1:].isdigit() else 0)
        if not ids:
            return []
        values = self.client.mget([f"{self.prefix}:fault:{i}" for i in ids])
        out = []
        for fault_id, value in zip(ids, values, strict=True):
            if value is None:
                self.delete(fault_id)  # expired by its TTL
                continue
            data = json.loads(value)
            out.append(SharedFault(fault_id, data["spec"], data["added"], data["expires"]))
        return out

    def take(self, key: str, limit: int) -> bool:
        """Count one firing at ``key`` unless ``limit`` are counted (atomic across replicas)."""
        return bool(self._take(keys=[key], args=[limit, self.keep_counts_ms]))

    def counts(self, fault_id: str) -> RedisCounts:
        return RedisCounts(self, f"{self.prefix}:count:{fault_id}")


class RedisCounts:
    """One shared fault's counters (see :class:`chaoskit._schedule.Counts`)."""

    __slots__ = ("state", "key")

    def __init__(self, state: RedisState, key: str) -> None:
        self.state = state
        self.key = key

    def next_index(self) -> int:
        pipe = self.state.client.pipeline()
        pipe.incr(f"{self.key}:seen")
        pipe.pexpire(f"{self.key}:seen", self.state.keep_counts_ms)
        seen, _ = pipe.execute()
        return int(seen) - 1

    def take(self, limit: int | None) -> bool:
        if limit is None:
            pipe = self.state.client.pipeline()
            pipe.incr(f"{self.key}:fired")
            pipe.pexpire(f"{self.key}:fired", self.state.keep_counts_ms)
            pipe.execute()
            return True
        return self.state.take(f"{self.key}:fired", limit)

    def totals(self) -> tuple[int, int]:
        seen, fired = self.state.client.mget([f"{self.key}:seen", f"{self.key}:fired"])
        return int(seen or 0), int(fired or 0)


def _shown(url: str) -> str:
    """A Redis URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":<redacted>@")
    return url

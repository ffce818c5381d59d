"""State that replicas of the chaos proxy share through Redis (``--state redis://...``).

Several proxies behind an app's load balancer make the same decisions with no coordination
where a schedule needs no counter (rate, window, percentage: each decision derives from the
seed and the request). What needs counting or must be seen by all is kept in Redis:

- the faults on, one key each (``PREFIX:fault:ID``, a JSON spec) with Redis's own expiry as
  the TTL, so faults expire even when every proxy and controller is gone;
- the fault ids, from one counter;
- each fault's counters (``PREFIX:count:ID:seen`` and ``:fired``): ``times`` is taken in one
  atomic step, so ``times=5`` across replicas is five injections;
- cold-start state (``PREFIX:cold:KEY:until`` and ``:last``): when the model's current load
  ends and when any replica last called it, on the wall clock, so one replica's first call
  begins the load the others' calls then wait for;
- the claim (``PREFIX:claim``, a hash: owner, title, kind, since, ttl) with Redis's expiry as
  its lease, taken, renewed and released in one atomic step each, so two runners claiming
  through two replicas at once cannot both get it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..providers._coldstart import Phase, load_seconds, phase_of

__all__ = ["RedisColdStarts", "RedisCounts", "RedisState", "SharedFault"]

#: Count one firing unless the limit is reached: atomic, so replicas never overshoot.
_TAKE = """
local fired = tonumber(redis.call('GET', KEYS[1]) or '0')
if fired >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

#: Where a call finds a cold-start model, and the call noted as the model's latest: a load
#: running ("loading", seconds left), never called ("first"), or idle for "idle" seconds.
_PEEK = """
local now = tonumber(ARGV[1])
local ends = tonumber(redis.call('GET', KEYS[1]) or '0')
local last = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if now < ends then return {'loading', tostring(ends - now)} end
if not last then return {'first', '0'} end
return {'idle', tostring(now - tonumber(last))}
"""

#: Begin a load unless a replica began one meanwhile (then: its seconds left).
_BEGIN = """
local now = tonumber(ARGV[1])
local ends = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < ends then return tostring(ends - now) end
redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[2])), 'PX', ARGV[3])
return ''
"""

#: Claim the proxy for ARGV[1], or renew its claim: 'taken', 'renewed' or 'held' (by another),
#: then the claim's fields and the milliseconds it has left. ``since`` is kept on a renewal.
_CLAIM = """
local holder = redis.call('HGET', KEYS[1], 'owner')
local outcome = 'taken'
if holder and holder ~= ARGV[1] then
  outcome = 'held'
elseif holder then
  outcome = 'renewed'
  redis.call('HSET', KEYS[1], 'title', ARGV[2], 'kind', ARGV[3], 'ttl', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
else
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'title', ARGV[2], 'kind', ARGV[3], 'since', ARGV[4], 'ttl', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
return {outcome, redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1])}
"""

#: Release the claim if ARGV[1] holds it: its fields, or nothing.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {} end
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return fields
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
        self._claim = self.client.register_script(_CLAIM)
        self._release = self.client.register_script(_RELEASE)

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

    def claim(self, owner: str, fields: Mapping[str, str]) -> tuple[str, dict[str, str], float]:
        """Claim for ``owner`` (``fields``: title, kind, since, ttl) or renew its claim, atomically:
        ('taken', 'renewed' or 'held'), the claim in force, and its seconds left."""
        ttl_ms = max(int(float(fields["ttl"]) * 1000), 1)
        outcome, flat, left = self._claim(keys=[f"{self.prefix}:claim"], args=[
            owner, fields["title"], fields["kind"], fields["since"], fields["ttl"], ttl_ms])
        return str(outcome), _pairs(flat), max(int(left), 0) / 1000

    def release_claim(self, owner: str) -> dict[str, str]:
        """End ``owner``'s claim: its fields, or {} when it holds none."""
        return _pairs(self._release(keys=[f"{self.prefix}:claim"], args=[owner]))

    def claimed(self) -> tuple[dict[str, str], float]:
        """The claim in force (its fields, {} for none) and its seconds left."""
        pipe = self.client.pipeline()
        pipe.hgetall(f"{self.prefix}:claim")
        pipe.pttl(f"{self.prefix}:claim")
        fields, left = pipe.execute()
        return dict(fields), max(int(left), 0) / 1000


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


class RedisColdStarts:
    """Cold-start loads shared by the replicas (:class:`chaoskit.providers._coldstart.Loads`):
    timed on the wall clock, since replicas' monotonic clocks do not agree. A model's idle time
    is the time since any replica called it; the engine's ``now`` and ``idle`` are not used."""

    def __init__(self, state: RedisState) -> None:
        self.state = state
        self._peek = state.client.register_script(_PEEK)
        self._begin = state.client.register_script(_BEGIN)

    def _keys(self, key: str) -> list[str]:
        return [f"{self.state.prefix}:cold:{key}:until", f"{self.state.prefix}:cold:{key}:last"]

    def peek(self, key: str, p: Mapping[str, Any], now: float, idle: float | None) -> Phase | None:
        where, seconds = self._peek(keys=self._keys(key), args=[repr(time.time()), self.state.keep_counts_ms])
        if where == "loading":
            return Phase(True, float(seconds))
        return phase_of(p, None if where == "first" else float(seconds))

    def commit(self, key: str, phase: Phase, p: Mapping[str, Any], now: float, rng: random.Random) -> Phase:
        if not phase.began:
            return phase
        seconds = load_seconds(phase, p, rng)
        joined = self._begin(keys=self._keys(key)[:1], args=[repr(time.time()), repr(seconds), self.state.keep_counts_ms])
        if joined:  # another replica's call began it first: this one waits for the rest of it
            return Phase(True, float(joined))
        return Phase(True, seconds, began=True)


def _pairs(flat: list[Any]) -> dict[str, str]:
    """HGETALL's flat reply from a script, as a dict."""
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


def _shown(url: str) -> str:
    """A Redis URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":<redacted>@")
    return url

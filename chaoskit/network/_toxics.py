"""The seven Toxiproxy toxics, with Toxiproxy's attribute names, units and defaults.

A toxic kind is stateless. What it remembers about one connection and one direction (a bandwidth
debt, the bytes ``limit_data`` has let through, when a ``timeout`` started) lives in a `Run`, which
also carries that run's seeded RNG and whether its toxicity roll came up.

Each kind's `Toxic.pipe` gets one item (a `Chunk`, or ``None`` for end of stream) and passes what it
lets through to ``emit``, the rest of the chain. It may sleep, split, drop, or end the whole
connection by raising `CloseConnection`. Units follow Toxiproxy: milliseconds, except ``slicer.delay``
(microseconds) and ``bandwidth.rate`` (KB/s, 1 KB = 1000 bytes). Any attribute left out is 0.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import ClassVar

import anyio

__all__ = [
    "Bandwidth",
    "Chunk",
    "CloseConnection",
    "Emit",
    "Latency",
    "LimitData",
    "ResetPeer",
    "Run",
    "SlowClose",
    "Slicer",
    "Timeout",
    "Toxic",
    "parse_attributes",
    "toxic_kinds",
]


@dataclass(frozen=True)
class Chunk:
    """Bytes read from one side of a connection, stamped with the loop time (s) they were read at."""

    data: bytes
    timestamp: float


Emit = Callable[[Chunk | None], Awaitable[None]]
"""Passes an item to the rest of the toxic chain; ``None`` is the end of the stream."""


class CloseConnection(Exception):
    """Raised by a toxic to end the whole connection: a normal close, or an RST when ``reset``."""

    def __init__(self, *, reset: bool = False) -> None:
        super().__init__("reset" if reset else "close")
        self.reset = reset


@dataclass
class Run:
    """One toxic on one connection and direction.

    ``active`` is the toxicity roll, made once when the run starts (and again when the toxic is
    updated, which starts a new ``generation``); ``state`` survives updates, as Toxiproxy's
    per-connection toxic state does.
    """

    rng: random.Random
    started: float
    active: bool
    generation: int
    state: dict[str, float] = field(default_factory=dict)


_KINDS: dict[str, Toxic] = {}


class Toxic(ABC):
    """A toxic kind: its Toxiproxy ``type`` name, its attribute names, and what it does to a stream."""

    type: ClassVar[str]
    attributes: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _KINDS[cls.type] = cls()

    @abstractmethod
    async def pipe(self, item: Chunk | None, attrs: Mapping[str, int], run: Run, emit: Emit) -> None:
        """Handle one item; pass what survives to ``emit``."""

    def deadline(self, attrs: Mapping[str, int], run: Run) -> float | None:
        """The loop time at which this run ends the connection even if no data comes, or None."""
        return None


def toxic_kinds() -> Mapping[str, Toxic]:
    """Every toxic kind by its Toxiproxy type name (read-only)."""
    return MappingProxyType(_KINDS)


def parse_attributes(kind: Toxic, raw: object, base: Mapping[str, int] | None = None) -> dict[str, int]:
    """``raw`` (a JSON object) laid over ``base``, or over all-zero attributes when there is no base.

    Unknown keys are ignored, as Toxiproxy's JSON decoding ignores them; a value that is not an
    integer raises ValueError (Toxiproxy's attributes are Go integers, so 1.5 and "1" are refused).
    """
    values = dict(base) if base is not None else dict.fromkeys(kind.attributes, 0)
    if raw is None:
        return values
    if not isinstance(raw, dict):
        raise ValueError(f"attributes: expected an object, got {type(raw).__name__}")
    for name in kind.attributes:
        value = raw.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"attributes.{name}: expected an integer, got {value!r}")
        values[name] = value
    return values


class Latency(Toxic):
    """Delays each chunk by ``latency`` ms plus U[-``jitter``, +``jitter``) ms, less the time it already waited."""

    type = "latency"
    attributes = ("latency", "jitter")

    async def pipe(self, item: Chunk | None, attrs: Mapping[str, int], run: Run, emit: Emit) -> None:
        if item is not None:
            delay = attrs["latency"]
            jitter = attrs["jitter"]
            if jitter > 0:
                delay += run.rng.randrange(-jitter, jitter)
            sleep = delay / 1000 - (anyio.current_time() - item.timestamp)
            if sleep > 0:
                await anyio.sleep(sleep)
                item = replace(item, timestamp=item.timestamp + sleep)
        await emit(item)


class Bandwidth(Toxic):
    """Limits a direction to ``rate`` KB/s (<= 0: unlimited), sending big chunks in 100 ms slices."""

    type = "bandwidth"
    attributes = ("rate",)

    async def pipe(self, item: Chunk | None, attrs: Mapping[str, int], run: Run, emit: Emit) -> None:
        rate = attrs["rate"]
        if item is None or rate <= 0:
            run.state["debt"] = 0.0
            await emit(item)
            return
        # The debt (s) carries the rounding error of every sleep into the next, as Toxiproxy does.
        debt = run.state.get("debt", 0.0) + len(item.data) / (rate * 1000)
        data = item.data
        step = rate * 100
        while len(data) > step:
            await anyio.sleep(0.1)
            await emit(Chunk(data[:step], item.timestamp))
            data = data[step:]
            debt -= 0.1
        start = anyio.current_time()
        if debt > 0:
            await anyio.sleep(debt)
        run.state["debt"] = debt - (anyio.current_time() - start)
        await emit(Chunk(data, item.timestamp))


class SlowClose(Toxic):
    """Passes data through and delays the close (the FIN) by ``delay`` ms."""

    type = "slow_close"
    attributes = ("delay",)

    async def pipe(self, item: Chunk | None, attrs: Mapping[str, int], run: Run, emit: Emit) -> None:
        if item is None:
            await anyio.sleep(max(attrs["delay"], 0) / 1000)
        await emit(item)


class Timeout(Toxic):
    """Drops all data and closes the connection ``timeout`` ms after it took effect; 0 never closes.

    The clock starts when the toxic takes effect on the connection (the connection opens, or the
    toxic is added or updated), so a blackhole with ``timeout=0`` lasts until the toxic is removed.
    """

    type = "timeout"
    attributes = ("timeout",)

    async def pipe(self, item: Chunk | None, attrs: Mapping[str, int], run: Run, emit: Emit) -> None:
        if item is None:
            await emit(None)

    def deadline(self, attrs: Mapping[str, int], run: Run) -> float | None:
        timeout = attrs["timeout"]
        return run.started + timeout / 1000 if timeout > 0 else None


class ResetPeer(Toxic):
    """On the first incoming data, waits ``timeout`` ms and resets the connection (RST, SO_LINGER 0)."""

    type = "reset_peer"
    attributes = ("timeout",)

    async def pipe(self, item: Chunk | None, attrs: Mapping[str, int], run: Run, emit: Emit) -> None:
        await anyio.sleep(max(attrs["timeout"], 0) / 1000)
        raise CloseConnection(reset=True)


class Slicer(Toxic):
    """Splits each chunk into pieces of about ``average_size`` ± ``size_variation`` bytes, ``delay`` µs apart."""

    type = "slicer"
    attributes = ("average_size", "size_variation", "delay")

    async def pipe(self, item: Chunk | None, attrs: Mapping[str, int], run: Run, emit: Emit) -> None:
        average = attrs["average_size"]
        if item is None or average <= 0:
            await emit(item)
            return
        bounds = _slice_bounds(0, len(item.data), average, max(attrs["size_variation"], 0), run.rng)
        for start, end in zip(bounds, bounds[1:], strict=False):
            await emit(Chunk(item.data[start:end], item.timestamp))
            await anyio.sleep(max(attrs["delay"], 0) / 1_000_000)


def _slice_bounds(start: int, end: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Cut points of [start, end): halve around a random middle until a piece is within average + variation."""
    if (end - start) - average <= variation:
        return [start, end]
    offset = rng.randrange(-variation, variation) if variation > 0 else 0
    middle = min(max(start + (end - start) // 2 + offset, start + 1), end - 1)
    return _slice_bounds(start, middle, average, variation, rng) + _slice_bounds(middle, end, average, variation, rng)[1:]


class LimitData(Toxic):
    """Lets ``bytes`` bytes through on each connection and direction, then closes the connection."""

    type = "limit_data"
    attributes = ("bytes",)

    async def pipe(self, item: Chunk | None, attrs: Mapping[str, int], run: Run, emit: Emit) -> None:
        if item is None:
            await emit(None)
            return
        limit = attrs["bytes"]
        sent = int(run.state.get("sent", 0))
        data = item.data[: max(limit - sent, 0)]
        if data:
            await emit(replace(item, data=data))
            sent += len(data)
            run.state["sent"] = sent
        if limit - sent <= 0:
            raise CloseConnection()

"""Indirect prompt injection: plant instructions (and a canary) in what the app reads.

A tool result, a retrieval hit or an API answer is data to the app but text to the model:
an instruction hidden in it ("ignore previous instructions...") is the injection that no
user typed. ``poison`` appends the payload to one string in a JSON value (chosen by the
seeded RNG, or named by ``path``) and says where, so the journal can name it.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from ._drift import Path, _expand, _fmt, _get, _walk, paths
from ._errors import ChaosConfigError

__all__ = ["poison"]

def poison(value: Any, rng: random.Random, *, payload: str, path: str | None = None, where: str = "the value") -> tuple[Any, str]:
    """``value`` with ``payload`` appended to one of its strings, and a description of where.

    A string is poisoned itself; in a JSON object or list, the longest strings are the likely
    free text (a snippet, a description), so one is drawn among them. ``path`` names it.
    """
    if isinstance(value, str):
        return value + payload, "poisoned the text"
    if not isinstance(value, (dict, list)):
        raise ChaosConfigError(f"poisoning needs text or JSON in {where}, not {type(value).__name__}")
    value = copy.deepcopy(value)
    if path is not None:
        targets = [p for p in _expand(value, path) if isinstance(_get(value, p), str)]
        if not targets:
            raise ChaosConfigError(
                f"poison path={path!r} names no string in {where}; its fields: {', '.join(paths(value)[:12]) or 'none'}"
            )
    else:
        strings: list[tuple[Path, str]] = [(p, v) for p, v in _walk(value) if isinstance(v, str)]
        if not strings:
            raise ChaosConfigError(f"poisoning needs a string to carry the payload in {where}; it has none")
        longest = sorted(strings, key=lambda pv: -len(pv[1]))[:3]
        targets = [rng.choice(longest)[0]]
    for target in targets:
        parent = _get(value, target[:-1])
        parent[target[-1]] = parent[target[-1]] + payload
    return value, "poisoned " + ", ".join(_fmt(t) for t in targets)

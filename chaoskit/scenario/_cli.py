"""``chaoskit validate``: check scenario files and say what is wrong, file:line: field: problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from ._load import load
from ._problems import ScenarioError
from ._schema import schema_path

__all__ = ["print_schema", "validate"]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def validate(paths: Sequence[str], out: TextIO) -> int:
    """Check each file; ``ok: FILE (...)`` or its problems on ``out``. 0 when all are valid, else 2."""
    status = 0
    for path in paths:
        try:
            scenario = load(path)
        except ScenarioError as exc:
            print(exc, file=out)
            status = 2
            continue
        injections = len(scenario.faults) + len(scenario.toxics)
        print(f"ok: {path} ({_count(len(scenario.method), 'phase')}, {_count(injections, 'fault')}, "
              f"{_count(len(scenario.steady_state), 'probe')})", file=out)
    return status


def print_schema(out: TextIO) -> int:
    """The scenario JSON Schema, for editors and other tools."""
    out.write(schema_path().read_text(encoding="utf-8"))
    return 0

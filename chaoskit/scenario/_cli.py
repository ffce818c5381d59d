"""``chaoskit validate``: check scenario files and say what is wrong, file:line: field: problem."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .._errors import ChaosError
from ._load import load
from ._problems import ScenarioError
from ._schema import schema_path

__all__ = ["add_parser", "main", "print_schema", "validate"]


def add_parser(sub: Any) -> None:
    """The ``validate`` subcommand on the ``chaoskit`` parser's subparsers."""
    p = sub.add_parser("validate", help="check scenario files, or print their JSON Schema",
                       description="Check scenario files: 'ok: FILE (...)', or every problem as file:line: field: "
                                   "message. Exit 0: all valid; 2: a problem in any of them, or usage.")
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario files to check")
    p.add_argument("--schema", action="store_true", help="print the scenario JSON Schema instead")


def main(ns: argparse.Namespace) -> int:
    """Run ``chaoskit validate`` with its parsed arguments."""
    if ns.schema:
        return print_schema(sys.stdout)
    if not ns.scenarios:
        print("usage: chaoskit validate [-h] [--schema] [SCENARIO ...]\n"
              "chaoskit validate: error: give one or more SCENARIO files, or --schema", file=sys.stderr)
        return 2
    try:
        return validate(ns.scenarios, sys.stdout)
    except ChaosError as exc:  # jsonschema is not installed
        print(f"chaoskit: {exc}", file=sys.stderr)
        return 2


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

"""The import-layer contract: chaoskit's imports point down, so a seam or a front end can be
added without touching what lies below it (see docs/architecture.md).

1. model: faults, schedules, the catalog, the journal, clocks, RNG, patterns, replies.
2. providers: profiles that turn a fault into a transport-neutral plan.
3. engine: the decision core.
4. seams: the client libraries' interception (HTTP, callables, botocore, MCP, network).
5. front ends: the session façade, the pytest plugin, the CLI, the doctor, fidelity, reports.

Every import is checked, the ones inside functions too. Nothing below the front ends imports
the session or pytest.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chaoskit"
LAYERS = {"model": 1, "providers": 2, "engine": 3, "seams": 4, "front": 5}
#: Top-level modules that are not in the model layer.
TOP = {
    "_netguard": "seams", "_session": "front", "pytest_plugin": "front", "cli": "front", "_doctor": "front",
    "_assertions": "front", "_verdicts": "front", "strategies": "front", "inputs": "front", "__init__": "front",
    "__main__": "front",
}
#: Packages and their layer.
PACKAGES = {"providers": "providers", "engine": "engine", "seams": "seams", "network": "seams",
            "fidelity": "front", "reports": "front", "proxy": "front", "load": "front", "run": "front",
            "scenario": "front", "gameday": "front"}


def layer_of(module: str) -> str:
    """The layer of ``chaoskit.X[.Y]``."""
    parts = module.split(".")
    assert parts[0] == "chaoskit", module
    if len(parts) == 1:
        return "front"
    if parts[1] in PACKAGES:
        return PACKAGES[parts[1]]
    return TOP.get(parts[1], "model")


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        out.append((name.removesuffix(".__init__"), path))
    return out


def imports(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if node.module is None or (target.count(".") == 1 and target.split(".")[1] in PACKAGES):
                out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]  # from . import faults
            else:
                out.append((node.lineno, target))
    return out


def violations() -> list[str]:
    found = []
    for name, path in modules():
        mine = layer_of(name)
        for line, target in imports(name, path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if target.split(".")[0] == "pytest" and mine != "front":
                found.append(f"{where}: {name} ({mine}) imports pytest")
            if not target.startswith("chaoskit"):
                continue
            theirs = layer_of(target)
            if target == "chaoskit" and mine != "front":
                found.append(f"{where}: {name} ({mine}) imports the package itself")
            elif LAYERS[theirs] > LAYERS[mine]:
                found.append(f"{where}: {name} ({mine}) imports {target} ({theirs}), a layer above")
            if target.startswith("chaoskit._session") and mine != "front":
                found.append(f"{where}: {name} ({mine}) imports the session")
    return found


def test_imports_point_down() -> None:
    assert violations() == []


def test_the_checker_sees_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted upward import (a seam importing the session) is reported with its line."""
    planted = PACKAGE / "seams" / "_planted_for_test.py"
    planted.write_text("def f():\n    from .._session import Chaos\n    return Chaos\n")
    try:
        found = violations()
    finally:
        planted.unlink()
    assert found == [
        "chaoskit/seams/_planted_for_test.py:2: chaoskit.seams._planted_for_test (seams) imports chaoskit._session (front), a layer above",
        "chaoskit/seams/_planted_for_test.py:2: chaoskit.seams._planted_for_test (seams) imports the session",
    ]

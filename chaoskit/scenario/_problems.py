"""What is wrong with a scenario file: problems with file, line and field, and the error that carries them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .._errors import ChaosConfigError

__all__ = ["FieldPath", "Problem", "ScenarioError", "format_path"]

#: Where a value sits in the document: mapping keys and list indexes from the top.
FieldPath = tuple[str | int, ...]


def format_path(path: FieldPath) -> str:
    """``("method", 0, "faults", 1, "fault")`` as ``method[0].faults[1].fault``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a scenario file: where (file, line, field), what, and a likely fix.

    ``line`` is 1-based; 0 when the problem is the file itself (missing, unreadable).
    """

    file: str
    line: int
    field: str
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        where += f"{self.field}: " if self.field else ""
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return where + self.message + hint


class ScenarioError(ChaosConfigError):
    """A scenario file that cannot be used; ``problems`` lists every problem found, by line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))

"""Loading a scenario file: read, substitute variables, check against the schema and the catalog, build."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ._build import build
from ._model import Scenario
from ._problems import Problem, ScenarioError
from ._schema import schema_problems
from ._yaml import read

__all__ = ["load", "loads", "production_refusal"]


def load(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Scenario:
    """The scenario in the YAML file ``path``, checked; raises :class:`ScenarioError` listing every problem.

    ``env``: the values of ``${VAR}`` references; defaults to ``os.environ``. The file's
    ``variables`` section and inline ``${VAR:-default}`` fill in what ``env`` lacks.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(file, 0, "", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(file, 0, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(file, 0, "", f"cannot read it: {exc.strerror}")]) from None
    return loads(text, file=file, env=env, path=Path(path))


def loads(text: str, *, file: str = "<string>", env: Mapping[str, str] | None = None, path: Path | None = None) -> Scenario:
    """The scenario in ``text``; ``file`` names it in problems, ``path`` (if any) anchors relative files."""
    doc = read(text, file, os.environ if env is None else env)
    problems = list(doc.problems)
    if doc.data is not None:
        unresolved = {p.field for p in doc.problems}  # a value left as written: the schema's word on it is noise
        problems += [p for p in schema_problems(doc) if p.field not in unresolved]
        scenario, found = build(doc, problems, path)
        problems += found
        if scenario is not None and not problems:
            return scenario
    raise ScenarioError(problems)


def production_refusal(scenario: Scenario, accepted: bool) -> str | None:
    """Why ``chaoskit run`` must refuse ``scenario``'s production target, or None. ``accepted``: the command
    line said ``--i-accept-production-risk``; production needs that and ``target.allow_production: true``."""
    target = scenario.target
    if not target.is_production:
        return None
    if not target.allow_production:
        return (f"refusing to run: the target is {target.environment!r} and the scenario does not allow it "
                "(set target.allow_production: true, and run with --i-accept-production-risk)")
    if not accepted:
        return (f"refusing to run: the target is {target.environment!r}; the scenario allows it, "
                "and the command line must accept it too: --i-accept-production-risk")
    return None

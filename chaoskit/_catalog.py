"""The fault catalog: data files in ``faults/`` (one per provider), loaded once, lazily."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._errors import ChaosConfigError, UnknownFaultError
from ._fault import EFFECTS, Fault
from ._params import ParamType, param_types

__all__ = ["Catalog", "catalog", "catalog_files", "params_file"]

_ENTRY_FIELDS = {"summary", "effect", "params", "source"}


def _folder() -> Path:
    """The catalog's folder: inside the installed package, else the source tree's ``faults/``."""
    from importlib import resources

    packaged = resources.files("chaoskit") / "catalog"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "faults"


def catalog_files() -> list[Path]:
    """The catalog's data files, one per provider (``_params.yaml`` declares their parameters)."""
    return sorted(p for p in _folder().glob("*.yaml") if not p.name.startswith("_"))


def params_file() -> Path:
    """The file that declares what each effect's parameters accept."""
    return _folder() / "_params.yaml"


@functools.cache
def _builtin_types() -> dict[str, dict[str, ParamType]]:
    return param_types(params_file())


class Catalog:
    """Faults by id, with lookup that suggests the closest ids for a typo."""

    def __init__(self, faults: Iterable[Fault]) -> None:
        self._faults: dict[str, Fault] = {}
        for fault in faults:
            if fault.id in self._faults:
                raise ChaosConfigError(f"fault id {fault.id!r} is defined twice in the catalog")
            self._faults[fault.id] = fault

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> Catalog:
        """The faults of these data files; every entry names its ``source`` (the page or SDK file it is
        modelled on), and each of its parameters is declared in ``_params.yaml`` under its effect."""
        types = _builtin_types()
        return cls(f for path in paths for f in _load_file(path, types))

    def ids(self, pattern: str = "*") -> list[str]:
        """Sorted ids matching a glob pattern such as ``openai.*`` or ``*.rate_limit``. A pattern that
        starts with no provider's name is a family across providers: ``model.*`` is ``*.model.*``."""
        found = sorted(i for i in self._faults if fnmatch.fnmatchcase(i, pattern))
        head = pattern.split(".", 1)[0]
        if found or not head or any(c in head for c in "*?[") or head in {f.provider for f in self._faults.values()}:
            return found
        return sorted(i for i in self._faults if fnmatch.fnmatchcase(i, f"*.{pattern}"))

    def get(self, fault_id: str, **params: Any) -> Fault:
        """The fault with this id, parameters overridden by ``params``."""
        try:
            fault = self._faults[fault_id]
        except (KeyError, TypeError):
            raise UnknownFaultError(str(fault_id), self.closest(str(fault_id))) from None
        return fault.with_params(**params) if params else fault

    def closest(self, fault_id: str, n: int = 3) -> list[str]:
        """Up to ``n`` ids like ``fault_id``: the same provider first, then the same kind elsewhere."""
        import difflib

        provider, _, kind = fault_id.partition(".")
        scored = []
        for candidate in self._faults:
            c_provider, _, c_kind = candidate.partition(".")
            ratio = difflib.SequenceMatcher(None, kind, c_kind).ratio()
            if c_provider == provider and ratio >= 0.6:
                scored.append((0, -ratio, candidate))
            elif c_provider != provider and ratio >= 0.85:
                scored.append((1, -ratio, candidate))
        return [candidate for *_, candidate in sorted(scored)[:n]]

    def __contains__(self, fault_id: object) -> bool:
        return fault_id in self._faults

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._faults.values())

    def __len__(self) -> int:
        return len(self._faults)


def _load_file(path: Path, types: Mapping[str, Mapping[str, ParamType]]) -> list[Fault]:
    import yaml  # the plugin must not pay for this at import time

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ChaosConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("faults"), Mapping):
        raise ChaosConfigError(f"{path}: expected a mapping with 'provider' and 'faults'")
    provider = data.get("provider")
    if not isinstance(provider, str):
        raise ChaosConfigError(f"{path}: provider: must be a string")
    faults = []
    for kind, entry in data["faults"].items():
        fault_id = f"{provider}.{kind}"
        where = f"{path}: faults.{kind}"
        if not isinstance(entry, Mapping):
            raise ChaosConfigError(f"{where}: must be a mapping with summary, effect, params")
        extra = set(entry) - _ENTRY_FIELDS
        if extra:
            raise ChaosConfigError(f"{where}: unknown field {sorted(extra)[0]!r}")
        effect = entry.get("effect")
        if effect not in EFFECTS:
            raise ChaosConfigError(
                f"{where}.effect: {effect!r} is not one of {', '.join(sorted(EFFECTS))}"
            )
        params = entry.get("params") or {}
        if not isinstance(params, Mapping):
            raise ChaosConfigError(f"{where}.params: must be a mapping")
        source = entry.get("source")
        if source is not None and not isinstance(source, str):
            raise ChaosConfigError(f"{where}.source: must be a string (the page or SDK file the fault is modelled on)")
        source = (source or "").strip()
        if not source:
            problem = "missing" if "source" not in entry else "empty"
            raise ChaosConfigError(
                f"{where}.source: {problem}; name the documentation page or SDK file the fault is modelled on"
            )
        declared = _declared(f"{where}.params", effect, params, types.get(effect, {}))
        faults.append(Fault(fault_id, effect, params, str(entry.get("summary", "")).strip(), source, declared))
    return faults


def _declared(where: str, effect: str, params: Mapping[str, Any], types: Mapping[str, ParamType]) -> dict[str, ParamType]:
    """The declarations of an entry's parameters; each must be declared, and its default allowed."""
    out = {}
    for name, default in params.items():
        if name not in types:
            raise ChaosConfigError(
                f"{where}.{name}: not declared for effect {effect!r}; declare it in {params_file()} "
                f"under effects.{effect} (such as {name}: {{type: number, min: 0}})"
            )
        if not types[name].allows(default):
            raise ChaosConfigError(f"{where}.{name}: the default {default!r} must be {types[name].describe()}")
        out[name] = types[name]
    return out


@functools.cache
def catalog() -> Catalog:
    """The built-in catalog, loaded on first use."""
    return Catalog.from_files(catalog_files())

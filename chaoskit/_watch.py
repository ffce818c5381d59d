"""Watching a seam: record every call to a function or method without changing what it does.

``chaos.watch("myapp.support:escalate")`` replaces the attribute with a recording wrapper
for the rest of the session; sync functions, coroutine functions, methods, static and class
methods all keep their behaviour, and the original is put back when the session ends.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._errors import ChaosConfigError

__all__ = ["Watch", "WatchedCall", "patch_attribute", "resolve_target"]


@dataclass
class WatchedCall:
    """One call to a watched seam: arguments, when (session seconds), and how it ended."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    started: float
    duration: float = 0.0
    result: Any = None
    error: BaseException | None = None


@dataclass
class Watch:
    """The calls made to one watched seam. ``idempotent=False`` marks a side effect that
    must not run twice for one request (verdict ``duplicate_side_effect``); ``handoff=True`` the
    seam that hands a user to a person when every provider fails (verdict ``handoff_missed``)."""

    path: str
    idempotent: bool = True
    calls: list[WatchedCall] = field(default_factory=list)
    handoff: bool = False

    @property
    def called(self) -> bool:
        return bool(self.calls)

    @property
    def call_count(self) -> int:
        return len(self.calls)

    def __repr__(self) -> str:
        return f"<Watch {self.path} called {len(self.calls)} time(s)>"


def resolve_target(path: str, *, what: str = "chaos.watch", where: str | None = None) -> tuple[Any, str]:
    """``(owner, attribute name)`` for ``"pkg.module:Class.attr"`` (or ``"pkg.module.attr"``).

    An error names the part that does not resolve (the module, or the attribute and the
    object it was looked up on) and the closest names there. ``where`` starts the message
    (defaults to ``what(path)``).
    """
    what = where or f"{what}({path!r})"
    if ":" in path:
        module_name, _, attrs = path.partition(":")
        module = _import(module_name, path, what)
    else:
        parts = path.split(".")
        module, attrs = None, ""
        for cut in range(len(parts) - 1, 0, -1):
            try:
                module = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            attrs = ".".join(parts[cut:])
            break
        if module is None:
            raise ChaosConfigError(f"{what}: no module named {parts[0]!r}")
    if not attrs:
        raise ChaosConfigError(f"{what}: name an attribute after the module, as 'pkg.module:function'")
    owner: Any = module
    names = attrs.split(".")
    for i, name in enumerate(names[:-1]):
        owner = _get(owner, name, path, ".".join(names[:i]) or module.__name__, what)
    _get(owner, names[-1], path, ".".join(names[:-1]) or module.__name__, what)
    return owner, names[-1]


def _import(module_name: str, path: str, what: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ChaosConfigError(f"{what}: no module named {exc.name!r}") from None


def _get(owner: Any, name: str, path: str, owner_name: str, what: str) -> Any:
    try:
        return getattr(owner, name)
    except AttributeError:
        import difflib

        close = difflib.get_close_matches(name, [n for n in dir(owner) if not n.startswith("__")], n=3)
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        raise ChaosConfigError(f"{what}: {owner_name!r} has no attribute {name!r}{hint}") from None


def install(watch: Watch, owner: Any, name: str, clock_elapsed: Callable[[], float]) -> Callable[[], None]:
    """Replace ``owner.name`` with a recording wrapper; returns the function that restores it."""
    return patch_attribute(owner, name, lambda func: _wrap(func, watch, clock_elapsed))


def patch_attribute(owner: Any, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[], None]:
    """Replace ``owner.name`` with ``wrap(the function)``; returns the function that restores it.

    Static and class methods stay what they were; an attribute inherited from a base class
    is removed again on restore rather than copied onto ``owner``.
    """
    raw = inspect.getattr_static(owner, name)
    own = name in getattr(owner, "__dict__", {})
    kind: type | None = type(raw) if isinstance(raw, (staticmethod, classmethod)) else None
    func = raw.__func__ if kind is not None else getattr(owner, name)
    wrapper = wrap(func)
    setattr(owner, name, kind(wrapper) if kind is not None else wrapper)

    def restore() -> None:
        if own:
            setattr(owner, name, raw)
        else:
            delattr(owner, name)

    return restore


def _wrap(func: Callable[..., Any], watch: Watch, elapsed: Callable[[], float]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_recorder(*args: Any, **kwargs: Any) -> Any:
            call = WatchedCall(args, kwargs, elapsed())
            watch.calls.append(call)
            try:
                call.result = await func(*args, **kwargs)
                return call.result
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                call.duration = elapsed() - call.started

        return async_recorder

    @functools.wraps(func)
    def recorder(*args: Any, **kwargs: Any) -> Any:
        call = WatchedCall(args, kwargs, elapsed())
        watch.calls.append(call)
        try:
            call.result = func(*args, **kwargs)
            return call.result
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            call.duration = elapsed() - call.started

    return recorder

"""The callable seam: faults for Python functions and methods (tools, vector stores, SDKs
that are not HTTP), sync and async.

``chaos.inject("tool.raise", target="myapp.tools:lookup_order")`` replaces the attribute
with a wrapper for the rest of the session. Each call asks the engine whether a fault
fires, is journaled (``side_effect`` says whether the real function ran), and the original
is put back when the session ends.
"""

from __future__ import annotations

import builtins
import copy
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import ChaosConfigError
from .._fault import Fault
from .._watch import patch_attribute, resolve_target
from ..providers._profile import latency_seconds

if TYPE_CHECKING:
    from ..engine import Decision, Engine

__all__ = ["REALISTIC_EXCEPTIONS", "build_exception", "install", "jsonable", "positional_names"]

#: Builtin exceptions a tool can be made to raise by name; a dotted path names any other.
REALISTIC_EXCEPTIONS = (
    "ConnectionError", "ConnectionRefusedError", "ConnectionResetError", "TimeoutError", "OSError",
    "PermissionError", "FileNotFoundError", "KeyError", "LookupError", "ValueError", "RuntimeError",
)


def build_exception(fault: Fault) -> BaseException:
    """The exception a ``tool.raise``-like fault raises: from ``exception`` and ``message``."""
    spec = fault.params.get("exception", "RuntimeError")
    message = str(fault.params.get("message", ""))
    if isinstance(spec, BaseException):
        return copy.copy(spec)
    if isinstance(spec, type) and issubclass(spec, BaseException):
        return spec(message)
    if isinstance(spec, str) and spec in REALISTIC_EXCEPTIONS:
        return getattr(builtins, spec)(message)  # type: ignore[no-any-return]
    if isinstance(spec, str) and ("." in spec or ":" in spec):
        owner, name = resolve_target(spec, where=f"{fault.id}: exception={spec!r}")
        cls = getattr(owner, name)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            return cls(message)
    raise ChaosConfigError(
        f"{fault.id}: exception={spec!r} must be an exception class or instance, a dotted path "
        f"such as 'httpx.ReadTimeout', or one of: {', '.join(REALISTIC_EXCEPTIONS)}"
    )


def install(engine: Engine, target: str) -> Callable[[], None]:
    """Route every call of ``target`` through ``engine``; returns the function that restores it."""
    owner, name = resolve_target(target, where=f"chaos.inject(target={target!r})")
    return patch_attribute(owner, name, lambda func: _wrap(func, engine, target))


class _Run:
    """One call of a patched callable: the engine's decision (the fault, or None, and its journal entry)."""

    __slots__ = ("engine", "decision", "fault", "call", "note")

    def __init__(self, engine: Engine, target: str, names: tuple[str, ...], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        from ..engine import tool_request

        self.engine = engine
        # A positional argument's name is known here only: a secret one is hidden before it is sent on.
        positional = engine.calls.redactor.arguments(names, jsonable(args))
        self.decision: Decision = engine.decide(tool_request(target, {"args": positional, "kwargs": jsonable(kwargs)}), place="tool")
        self.fault = self.decision.fault
        call = self.decision.call
        assert call is not None
        self.call = call
        self.note = self.decision.note

    def injected(self, exc: BaseException) -> BaseException:
        self.call.error = type(exc).__name__
        exc.add_note(self.note)
        return exc

    def ran(self, result: Any) -> Any:
        """The real function returned ``result``: what the caller gets (drifted, or raised over)."""
        self.call.side_effect = True
        fault = self.fault
        if fault is None:
            return result
        if fault.effect == "tool.raise_after":
            raise self.injected(build_exception(fault))
        if fault.effect in ("schema_drift", "poisoned"):
            return self.engine.change_value(result, self.decision, where=f"the result of {self.call.url}")
        return result

    def failed(self, exc: BaseException) -> None:
        if self.call.error is None:
            self.call.error = type(exc).__name__

    def end(self) -> None:
        """The call has ended: its duration is set and it closes in the journal."""
        self.decision.on_end(self.call)


def _before(run: _Run) -> tuple[float, BaseException | None, bool, Any]:
    """What happens before the real function: (seconds to wait, exception, skip it, value)."""
    fault = run.fault
    if fault is None:
        return 0.0, None, False, None
    p = fault.params
    if fault.effect == "latency.fixed":
        return latency_seconds(p, run.decision.rng), None, False, None
    if fault.effect == "tool.timeout":
        return float(p.get("seconds", 30.0)), run.injected(TimeoutError(str(p.get("message", "timed out")))), True, None
    if fault.effect == "tool.raise":
        return 0.0, run.injected(build_exception(fault)), True, None
    if fault.effect == "tool.return":
        return 0.0, None, True, copy.deepcopy(p.get("value"))
    return 0.0, None, False, None


def positional_names(func: Callable[..., Any]) -> tuple[str, ...]:
    """The names of ``func``'s positional parameters, in order (none when it has no signature)."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return ()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in parameters if p.kind in kinds)


def _wrap(func: Callable[..., Any], engine: Engine, target: str) -> Callable[..., Any]:
    clock = engine.clock
    names = positional_names(func)
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_faulty(*args: Any, **kwargs: Any) -> Any:
            run = _Run(engine, target, names, args, kwargs)
            try:
                wait, exc, skip, value = _before(run)
                await clock.asleep(wait)
                if exc is not None:
                    raise exc
                if skip:
                    return value
                return run.ran(await func(*args, **kwargs))
            except BaseException as exc:
                run.failed(exc)
                raise
            finally:
                run.end()

        return async_faulty

    @functools.wraps(func)
    def faulty(*args: Any, **kwargs: Any) -> Any:
        run = _Run(engine, target, names, args, kwargs)
        try:
            wait, exc, skip, value = _before(run)
            clock.sleep(wait)
            if exc is not None:
                raise exc
            if skip:
                return value
            return run.ran(func(*args, **kwargs))
        except BaseException as exc:
            run.failed(exc)
            raise
        finally:
            run.end()

    return faulty


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of call arguments for the journal (``repr`` for anything else)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return repr(value)


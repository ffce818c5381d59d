"""Hypothesis strategies for fault schedules: let hypothesis find, and shrink, the order of
faults that breaks your app.

A schedule is a list of steps, one per provider call: a fault, or ``pass`` (the call gets
a healthy reply). ``schedules()`` draws them so that hypothesis shrinks a failure towards
fewer steps, towards ``pass``, and towards the faults listed first::

    import chaoskit
    from hypothesis import given, settings
    from chaoskit.strategies import schedules

    @settings(deadline=None)
    @given(schedules(["openai.server_error", "openai.rate_limit", "openai.timeout.read"]))
    def test_bot_never_crashes(schedule):
        with chaoskit.Chaos(seed=1) as chaos:   # a fresh session per example
            schedule.apply(chaos)
            assert bot.answer("Where is A100?")

A failure prints the minimal schedule as a constructor call: paste it into a regular test
and ``.apply(chaos)`` it to reproduce the failure::

    Failing test case: test_bot_never_crashes(
        schedule=FaultSchedule(['openai.rate_limit', 'openai.timeout.read']),
    )

Open the session inside the test body, not through the ``chaos`` fixture: a pytest fixture
is set up once per test, not once per example, so hypothesis's ``function_scoped_fixture``
health check rejects it in ``@given`` tests, and the examples would share one journal and
one script. ``with chaoskit.Chaos(...)`` gives every example its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from . import faults as _faults
from ._errors import ChaosConfigError, UnknownFaultError
from ._fault import Fault

if TYPE_CHECKING:
    from ._session import Chaos, Script

__all__ = ["FaultSchedule", "schedules"]

PASS = "pass"  # how a None step reads in a repr, and is accepted back by FaultSchedule()


@dataclass(frozen=True, init=False, repr=False)
class FaultSchedule:
    """An explicit fault (or ``pass``) for each provider call, in order; calls past the end pass.

    ``steps`` are faults, catalog ids, or None / ``"pass"`` for a call that passes.
    ``providers``: the providers whose calls take the steps; defaults to the providers the
    steps' faults name. Its repr is a constructor call that rebuilds it.
    """

    steps: tuple[Fault | None, ...]
    providers: frozenset[str]

    def __init__(self, steps: Iterable[Fault | str | None], providers: str | Iterable[str] | None = None) -> None:
        resolved = tuple(None if s is None or s == PASS else _faults.resolve(s) for s in steps)
        if providers is None:
            names = frozenset(f.provider for f in resolved if f is not None)
        else:
            names = frozenset((providers,) if isinstance(providers, str) else providers)
        object.__setattr__(self, "steps", resolved)
        object.__setattr__(self, "providers", names)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def ids(self) -> list[str | None]:
        """The steps' fault ids, None for a pass: comparable to ``[c.fault for c in chaos.calls]``."""
        return [None if s is None else s.id for s in self.steps]

    def apply(self, chaos: Chaos) -> Script:
        """Script this schedule into ``chaos``: each call to ``providers`` takes the next step."""
        return chaos.script(self.steps, providers=self.providers)

    def __repr__(self) -> str:
        steps = ", ".join(_step_repr(s) for s in self.steps)
        default = frozenset(f.provider for f in self.steps if f is not None)
        extra = "" if self.providers == default else f", providers={sorted(self.providers)!r}"
        return f"FaultSchedule([{steps}]{extra})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis's printer takes this over how the value was built (``to_schedule([...])``),
        # so a failing test case shows the pasteable repr.
        printer.text(repr(self))


def _step_repr(step: Fault | None) -> str:
    """``'openai.rate_limit'``, or ``faults.get('openai.rate_limit', retry_after=0)`` when its
    parameters differ from the catalog's, so a pasted repr reproduces the same faults."""
    if step is None:
        return repr(PASS)
    try:
        base = _faults.get(step.id)
    except UnknownFaultError:
        return repr(step)
    if step == base:
        return repr(step.id)
    changed = {k: v for k, v in step.params.items() if base.params.get(k) != v}
    if step != base.with_params(**changed):
        return repr(step)
    return f"faults.get({step.id!r}, " + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"


def schedules(
    faults: str | Sequence[str | Fault] = "openai.*",
    *,
    min_calls: int = 1,
    max_calls: int = 6,
    providers: str | Iterable[str] | None = None,
) -> st.SearchStrategy[FaultSchedule]:
    """A strategy for schedules of ``min_calls`` to ``max_calls`` steps, each a pass or a fault.

    ``faults``: a glob pattern over catalog ids (``"openai.*"``, the default) or a list of
    ids and Faults (``faults.get("openai.rate_limit", retry_after=0)`` to change parameters).
    Shrinking goes to fewer steps, then to passes, then to the faults listed first.
    Trailing passes are dropped (down to ``min_calls`` steps): a call past the end passes anyway.

    ``providers`` defaults to every provider the ``faults`` name, whichever were drawn, so
    step *i* is always the *i*-th call to one of them.
    """
    candidates = _resolve_faults(faults)
    for name, value in (("min_calls", min_calls), ("max_calls", max_calls)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"{name}={value!r} must be an integer >= 0")
    if max_calls < min_calls:
        raise InvalidArgument(f"max_calls={max_calls!r} must be at least min_calls={min_calls!r}")
    names = _resolve_providers(providers, candidates)

    # Steps are drawn as labels (their reprs) so the strategy's own repr stays readable.
    by_label = {_label(f): f for f in candidates}

    def to_schedule(labels: list[str | None]) -> FaultSchedule:
        end = len(labels)
        while end > min_calls and labels[end - 1] is None:  # trailing passes change nothing
            end -= 1
        return FaultSchedule([None if x is None else by_label[x] for x in labels[:end]], providers=names)

    # sampled_from shrinks towards its first element: a pass, then the faults in the given order.
    step = st.sampled_from([None, *by_label])
    return st.lists(step, min_size=min_calls, max_size=max_calls).map(to_schedule)


def _label(fault: Fault) -> str:
    """The catalog id for a catalog fault as it is, else the fault's repr."""
    text = _step_repr(fault)
    return fault.id if text == repr(fault.id) else text


def _resolve_faults(faults: object) -> list[Fault]:
    if isinstance(faults, str):
        if not any(c in faults for c in "*?["):
            try:
                return [_faults.get(faults)]
            except UnknownFaultError as err:
                raise InvalidArgument(f"faults: {err}") from None
        ids = _faults.ids(faults)
        if not ids:
            raise InvalidArgument(
                f"faults={faults!r} matches no catalog id. Some that exist: {', '.join(_some_ids(faults))}. "
                "Run `chaoskit faults` to list them all."
            )
        return [_faults.get(i) for i in ids]
    if not isinstance(faults, Sequence):
        raise InvalidArgument(f"faults={faults!r} must be a glob pattern or a list of catalog ids and Faults")
    if not faults:
        raise InvalidArgument(f"faults={faults!r} is empty; list at least one catalog id or Fault")
    resolved = []
    for i, item in enumerate(faults):
        if isinstance(item, Fault):
            resolved.append(item)
        elif isinstance(item, str):
            try:
                resolved.append(_faults.get(item))
            except UnknownFaultError as err:
                raise InvalidArgument(f"faults[{i}]: {err}") from None
        else:
            hint = "; passes are always drawn, do not list them" if item is None else ""
            raise InvalidArgument(f"faults[{i}]={item!r} must be a catalog id or a Fault{hint}")
    return resolved


def _some_ids(pattern: str) -> list[str]:
    """A few real ids to show next to a pattern that matched none: the same provider's if it has any."""
    same = _faults.ids(pattern.split(".", 1)[0] + ".*")
    if same:
        return same[:3]
    return [_faults.ids(p + ".*")[0] for p in sorted({i.split(".", 1)[0] for i in _faults.ids()})]


def _resolve_providers(providers: str | Iterable[str] | None, candidates: list[Fault]) -> frozenset[str]:
    if providers is None:
        return frozenset(f.provider for f in candidates)
    names = frozenset((providers,) if isinstance(providers, str) else providers)
    from .providers import profile

    for name in sorted(names):
        try:
            profile(name)
        except ChaosConfigError as err:
            raise InvalidArgument(f"providers: {err}") from None
    return names

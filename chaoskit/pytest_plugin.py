"""The chaoskit pytest plugin: the ``chaos`` marker and fixture, options, reports.

Registered through the ``pytest11`` entry point, so ``pip install chaoskit`` is all a
project needs. Loading it imports no HTTP library and no SDK: the seam is installed only
for tests that ask for chaos, and removed after each of them, whatever happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._session import Chaos, Injection  # noqa: F401  (named in StashKey strings)

_SCHEDULE_KWARGS = ("rate", "times", "after", "window", "sequence")
_SCOPE_KWARGS = ("url", "method", "target")
_MARKER_KWARGS = (*_SCHEDULE_KWARGS, *_SCOPE_KWARGS, "seed", "virtual_time")
_session_key = pytest.StashKey["Chaos"]()
_sweep_key = pytest.StashKey["Injection"]()
_verdicts_key = pytest.StashKey[list[Any]]()
_passed_key = pytest.StashKey[bool]()
_report_key = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoskit", "chaos and fault injection for AI applications")
    group.addoption("--chaos-seed", type=int, default=None, metavar="N",
                    help="session seed for fault schedules (printed when a chaos test fails)")
    group.addoption("--chaos-off", action="store_true", default=False,
                    help="inject no faults; provider calls still get simulated healthy replies")
    group.addoption("--chaos-report", default=None, metavar="PATH",
                    help="write the results and journal of every chaos test to PATH as JSON")
    group.addoption("--chaos-html", default=None, metavar="PATH",
                    help="write a self-contained HTML report (resilience matrix, verdicts, journals)")
    group.addoption("--chaos-verdicts", choices=("report", "fail"), default="report",
                    help="what a verdict on client behaviour does: report it (default) or fail the test")
    group.addoption("--chaos-allow-host", action="append", default=[], metavar="HOST",
                    help="let requests to HOST through chaos tests untouched (repeatable)")
    group.addoption("--chaos-toxiproxy-url", default=None, metavar="URL",
                    help="the Toxiproxy server chaos.network uses (default: $CHAOSKIT_TOXIPROXY_URL, else "
                         "chaoskit's embedded one)")
    group.addoption("--chaos-virtual-time", action="store_true", default=False,
                    help="run every chaos test on virtual time (a test's virtual_time= marker argument wins)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "chaos(*faults, rate=1.0, times=None, after=0, window=None, sequence=None, seed=None, "
        "url=None, method=None, target=None, virtual_time=None): inject catalog faults (ids or Fault "
        "objects) into this test's provider calls, the HTTP requests matching url, or the callable "
        "target; virtual_time=True|'warn' runs the test on a virtual clock",
    )
    config.addinivalue_line(
        "markers",
        "chaos_sweep(pattern, exclude=(), url=None, method=None, target=None): run the test once per "
        "catalog fault matching the glob pattern (minus the exclude patterns), with that fault injected "
        "(on url or target for http, mcp and tool faults)",
    )
    if not hasattr(config, "workerinput"):
        for option in ("chaos_report", "chaos_html"):
            _check_report_path(config, option)
    config.stash[_report_key] = {"seed": _session_seed(config)}
    config.pluginmanager.register(_Reporter(config), "chaoskit-reporter")


def _check_report_path(config: pytest.Config, option: str) -> None:
    """A usage error now, rather than a lost report at the end, for a report path that cannot be written."""
    import os

    path = config.getoption(option)
    if not path:
        return
    target = Path(path)
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if target.is_dir():
        problem = "it is a directory"
    elif target.exists() and not os.access(target, os.W_OK):
        problem = "the file cannot be written (permission denied)"
    elif not existing.is_dir():
        problem = f"{str(existing)!r} is a file, not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"the directory {str(existing)!r} cannot be written (permission denied)"
    else:
        return
    raise pytest.UsageError(f"{_flag(option)}={path}: {problem}; give the path of a file that can be written.")


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _session_seed(config: pytest.Config) -> int:
    seed = config.getoption("chaos_seed")
    if seed is not None:
        return int(seed)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "chaoskit_seed" in workerinput:
        return int(workerinput["chaoskit_seed"])  # an xdist worker: the controller's seed
    from ._rng import new_session_seed

    return new_session_seed()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker uses the controller's session seed."""
    node.workerinput["chaoskit_seed"] = node.config.stash[_report_key]["seed"]


def pytest_report_header(config: pytest.Config) -> str:
    off = " (faults off)" if config.getoption("chaos_off") else ""
    return f"chaoskit: seed={config.stash[_report_key]['seed']}{off}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``chaos_sweep``: one test case per matching catalog fault, ids like ``test_x[openai.rate_limit]``."""
    marker = metafunc.definition.get_closest_marker("chaos_sweep")
    if marker is None:
        return
    from fnmatch import fnmatchcase

    from . import faults

    where = f"@pytest.mark.chaos_sweep on {metafunc.definition.nodeid}"
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        pytest.fail(f"{where}: give one glob pattern, such as chaos_sweep('openai.*')", pytrace=False)
    unknown = sorted(set(marker.kwargs) - {"exclude", *_SCOPE_KWARGS})
    if unknown:
        pytest.fail(
            f"{where}: unknown argument {unknown[0]}=...; it takes a pattern, exclude, and url, method "
            "or target for faults on other seams",
            pytrace=False,
        )
    pattern = marker.args[0]
    exclude = marker.kwargs.get("exclude", ())
    exclude = [exclude] if isinstance(exclude, str) else list(exclude)
    ids = [i for i in faults.ids(pattern) if not any(fnmatchcase(i, e) for e in exclude)]
    if not ids:
        providers = sorted({i.split(".", 1)[0] for i in faults.ids()})
        examples = ", ".join(faults.ids()[:4])
        pytest.fail(
            f"{where}: {pattern!r} matches no catalog fault"
            + (f" once {exclude!r} is excluded" if faults.ids(pattern) else "")
            + f"; the providers are {', '.join(providers)} (ids such as {examples}; "
            "`chaoskit faults` lists them all)",
            pytrace=False,
        )
    metafunc.parametrize("chaos_sweep_fault", ids, ids=ids)


def _marker_args(item: pytest.Item) -> tuple[list[Any], dict[str, Any]]:
    """Faults from every ``chaos`` marker on the test (closest first); kwargs closest-wins.

    A keyword that is no marker option but a parameter of the marker's fault goes to that fault:
    ``@pytest.mark.chaos("openai.latency", seconds=30)`` is ``faults.get("openai.latency", seconds=30)``.
    """
    faults: list[Any] = []
    kwargs: dict[str, Any] = {}
    for marker in item.iter_markers("chaos"):
        faults.extend(marker.args)
        for key, value in marker.kwargs.items():
            kwargs.setdefault(key, value)
    unknown = sorted(set(kwargs) - set(_MARKER_KWARGS))
    if unknown:
        problem = None
        try:
            faults = _with_fault_params(faults, {k: kwargs.pop(k) for k in unknown})
        except _MarkerError as exc:
            problem = str(exc)
        if problem is not None:  # outside the except: the report shows the message alone
            pytest.fail(problem, pytrace=False)
    return faults, kwargs


class _MarkerError(Exception):
    """A ``chaos`` marker that cannot be read as written."""


def _with_fault_params(faults: list[Any], params: dict[str, Any]) -> list[Any]:
    """``faults`` with ``params`` (keywords that are no marker option) given to the one fault that has each."""
    from . import faults as catalog
    from ._errors import ChaosError

    resolved: dict[int, Any] = {}
    for i, fault in enumerate(faults):
        try:
            resolved[i] = catalog.resolve(fault)
        except ChaosError:
            continue  # a bad id fails where the fault is injected, with its own message
    given: dict[int, dict[str, Any]] = {}
    for name, value in params.items():
        owners = [i for i, f in resolved.items() if name in f.params]
        if not owners:
            raise _MarkerError(
                f"@pytest.mark.chaos: unknown argument {name}={value!r}; it takes fault ids, their parameters "
                f"({_names_of(resolved.values())}) and {', '.join(_MARKER_KWARGS)}"
            )
        if len({resolved[i].id for i in owners}) > 1:
            ways = " or ".join(f"faults.get({resolved[i].id!r}, {name}={value!r})" for i in owners)
            raise _MarkerError(
                f"@pytest.mark.chaos: {name}={value!r} is a parameter of {' and '.join(resolved[i].id for i in owners)}; "
                f"say which: @pytest.mark.chaos({ways}, ...)"
            )
        for i in owners:
            given.setdefault(i, {})[name] = value
    out = list(faults)
    for i, chosen in given.items():
        try:
            out[i] = resolved[i].with_params(**chosen)
        except ChaosError as exc:
            raise _MarkerError(f"@pytest.mark.chaos: {exc}") from None
    return out


def _names_of(faults: Any) -> str:
    names = sorted({name for f in faults for name in f.params})
    return ", ".join(names) or "none"


@pytest.fixture
def chaos_sweep_fault() -> str | None:
    """The catalog id a ``chaos_sweep`` case injects (None outside sweeps)."""
    return None


@pytest.fixture
def chaos(request: pytest.FixtureRequest, chaos_sweep_fault: str | None) -> Iterator[Chaos]:
    """A chaos session for this test: faults from the ``chaos`` marker, then ``chaos.inject``.

    Every provider call the test makes (openai, anthropic; httpx and httpx2, sync and
    async) is answered by chaoskit: a healthy simulated reply, or an injected fault.
    """
    from ._errors import ChaosError
    from ._session import Chaos, Injection  # noqa: F401  (named in StashKey strings)

    config = request.config
    item = request.node
    faults, kwargs = _marker_args(item)
    seed = kwargs.pop("seed", None)
    virtual = kwargs.pop("virtual_time", None)
    if virtual is None:
        virtual = config.getoption("chaos_virtual_time")
    session_seed = config.stash[_report_key]["seed"]
    if virtual not in (True, False, "warn"):
        pytest.fail(f"@pytest.mark.chaos: virtual_time={virtual!r} must be True, False or 'warn'", pytrace=False)
    session: Chaos | None = None
    try:
        session = Chaos(
            seed=session_seed if seed is None else seed,
            scope=item.nodeid,
            enabled=not config.getoption("chaos_off"),
            allow_hosts=config.getoption("chaos_allow_host"),
            clock=_virtual_clock(request) if virtual else None,
            real_io="warn" if virtual == "warn" else "refuse",
            toxiproxy_url=config.getoption("chaos_toxiproxy_url"),
        )
        if chaos_sweep_fault is not None:
            sweep = item.get_closest_marker("chaos_sweep")
            scope = {k: v for k, v in (sweep.kwargs if sweep else {}).items() if k in _SCOPE_KWARGS}
            item.stash[_sweep_key] = session.inject(chaos_sweep_fault, **{**kwargs, **scope})
        for fault in faults:
            session.inject(fault, **kwargs)
    except BaseException as exc:
        if session is not None:
            session.stop()  # what set-up did is undone (a tool patched by an earlier fault)
        if isinstance(exc, ChaosError):
            pytest.fail(f"@pytest.mark.chaos: {exc}", pytrace=False)
        raise
    item.stash[_session_key] = session
    session.start()
    try:
        yield session
    finally:
        session.stop()
    _after_test(session, item)


def _virtual_clock(request: pytest.FixtureRequest) -> Any:
    """The virtual clock for a test: the sync ``VirtualClock``, which the asyncio loop of a
    coroutine test (started after this fixture, by anyio's or pytest-asyncio's runner) runs on
    too; a ``LoopClock`` when the test's loop keeps virtual time of its own."""
    import inspect

    from ._virtual import LoopClock, VirtualClock

    function = getattr(request.node, "obj", None)
    if inspect.iscoroutinefunction(function) and _own_loop_time(request):
        return LoopClock()
    return VirtualClock()


def _own_loop_time(request: pytest.FixtureRequest) -> bool:
    """Whether the test's event loop keeps a time of its own: pytest-trio, looptime (its marker
    or ``--looptime``), or an ``anyio_backend`` with trio or a loop factory other than chaoskit's."""
    from ._virtual_loop import virtual_event_loop

    item = request.node
    if item.get_closest_marker("trio") is not None:
        return True
    looptime = item.config.getoption("looptime", None)
    marker = item.get_closest_marker("looptime")
    if looptime is not False and (looptime or (marker is not None and marker.args[:1] != (False,))):
        return True
    if "anyio_backend" in request.fixturenames:
        backend = request.getfixturevalue("anyio_backend")
        name, options = (backend, {}) if isinstance(backend, str) else backend
        return name != "asyncio" or bool(options.get("use_uvloop")) or options.get("loop_factory") not in (None, virtual_event_loop)
    return False


def _after_test(session: Chaos, item: pytest.Item) -> None:
    """Verdicts, warnings and the checks that can fail a test after its body passed."""
    import warnings

    from ._errors import ChaosWarning

    verdicts = session.verdicts()
    item.stash[_verdicts_key] = verdicts
    sweep = item.stash.get(_sweep_key, None)
    for injection, why in session.unapplied():
        if injection is not sweep and injection.url is None and injection.target is None:
            warnings.warn_explicit(
                ChaosWarning(f"chaoskit: {injection.fault.id} never applied in {item.nodeid}: {why}"),
                ChaosWarning, filename=str(item.path), lineno=(item.location[1] or 0) + 1,
            )
    passed = item.stash.get(_passed_key, False)
    refused = session.refused_io if session.real_io == "refuse" else []
    if refused and passed:
        lines = "\n".join(f"  - {what}" for what in refused)
        pytest.fail(
            "chaoskit refused real network connections under virtual time (the code under test may "
            f"have swallowed the error):\n{lines}\nAnswer them in-process, or set virtual_time=False "
            "or virtual_time='warn' on this test.",
            pytrace=False,
        )
    if session.config_errors and passed:
        lines = "\n".join(f"  - {exc}" for exc in session.config_errors)
        pytest.fail(
            "chaoskit could not apply an injected fault (the code under test may have swallowed "
            f"the error):\n{lines}",
            pytrace=False,
        )
    unmatched = session.unmatched()
    if unmatched and passed:
        lines = "\n".join(
            f"  - {i.fault.id} on {i.url!r}" if i.url is not None else f"  - {i.fault.id} on target={i.target!r}"
            for i in unmatched
        )
        seen = session.seen_requests
        requests = "\n".join(f"    {r}" for r in seen[:10]) + (f"\n    ... and {len(seen) - 10} more" if len(seen) > 10 else "")
        pytest.fail(
            f"chaoskit: injected faults that never fired, because nothing matched them:\n{lines}\n"
            + (f"  HTTP requests this test made:\n{requests}" if seen else "  This test made no HTTP request.")
            + "\nCheck the url pattern or target, or remove the injection.",
            pytrace=False,
        )
    if session.blocked and passed:
        lines = "\n".join(f"  - {c.method} {c.url}" for c in session.blocked)
        pytest.fail(
            "chaoskit blocked requests to hosts it does not serve (the code under test may "
            f"have swallowed the error):\n{lines}\nAllow them with chaos.allow_host(HOST) or "
            "--chaos-allow-host HOST.",
            pytrace=False,
        )
    if verdicts and passed and item.config.getoption("chaos_verdicts") == "fail":
        lines = "\n".join(f"  - {v.name}: {v.message}\n    fix: {v.hint}" for v in verdicts)
        pytest.fail(f"chaoskit verdicts on client behaviour (--chaos-verdicts=fail):\n{lines}", pytrace=False)


@pytest.fixture(autouse=True)
def _chaoskit_marker(request: pytest.FixtureRequest, chaos_sweep_fault: str | None) -> None:
    """Start the chaos session of a test with the marker (or a sweep) or the ``chaos`` fixture
    before its other fixtures, which then run on its clock: an async fixture's waits are virtual
    under ``virtual_time=True`` too, whatever the order of the test's arguments."""
    marked = chaos_sweep_fault is not None or request.node.get_closest_marker("chaos") is not None
    if marked or "chaos" in request.fixturenames:
        request.getfixturevalue("chaos")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    session = item.stash.get(_session_key, None)
    if session is None:
        return report
    if report.when == "call":
        item.stash[_passed_key] = report.passed
        sweep = item.stash.get(_sweep_key, None)
        if sweep is not None and report.passed and sweep.state.seen == 0:
            from ._session import _why_unapplied

            report.outcome = "skipped"
            path, lineno, _ = item.location
            report.longrepr = (str(item.path), (lineno or 0) + 1, f"chaoskit: not exercised: {sweep.fault.id}: {_why_unapplied(sweep.fault)}")
            report.chaoskit_not_exercised = True  # type: ignore[attr-defined]
    if report.when == "teardown":
        from .reports import session_record

        verdicts = item.stash.get(_verdicts_key, [])
        sweep = item.stash.get(_sweep_key, None)
        report.chaoskit = session_record(  # type: ignore[attr-defined]  # plain data: crosses xdist
            session, nodeid=item.nodeid, sweep=sweep.fault.id if sweep is not None else None, verdicts=verdicts,
        )
        if verdicts:
            report.sections.append(("chaoskit verdicts", _verdict_lines(verdicts)))
        properties = _junit_properties(session, verdicts)
        item.user_properties.extend(properties)
        report.user_properties = [*report.user_properties, *properties]  # junitxml reads the report's copy
    if report.when == "call" or (report.when == "setup" and report.failed):
        text = _section(session, item, report.failed)
        report.sections.append(("chaoskit", text))
    return report


def _verdict_lines(verdicts: list[Any]) -> str:
    return "\n".join(f"{v.name}: {v.message}\n  fix: {v.hint}" for v in verdicts)


def _junit_properties(session: Chaos, verdicts: list[Any]) -> list[tuple[str, object]]:
    """Properties for ``--junitxml``: CI systems show them per test case."""
    from ._software import software_line
    from .reports import fired as fired_in
    from .reports import software_used

    fired = fired_in(session.calls)
    props: list[tuple[str, object]] = [("chaoskit.seed", session.seed), ("chaoskit.calls", len(session.calls))]
    if fired:
        props.append(("chaoskit.faults", ",".join(f"{k}x{v}" for k, v in sorted(fired.items()))))
    if verdicts:
        props.append(("chaoskit.verdicts", ",".join(v.name for v in verdicts)))
    software = software_used(session.calls)
    if software:
        props.append(("chaoskit.software", software_line(software)))
    return props


def _section(session: Chaos, item: pytest.Item, failed: bool) -> str:
    lines = []
    if failed:
        _, kwargs = _marker_args(item)
        flag = "" if "seed" in kwargs else f" --chaos-seed={session.seed}"
        lines.append(f"Reproduce with: pytest {_quote(item.nodeid)}{flag}")
    lines.append(f"seed={session.seed}, {len(session.calls)} intercepted call(s):")
    lines.append(session.calls.format())
    return "\n".join(lines)


def _quote(nodeid: str) -> str:
    return f"'{nodeid}'" if any(ch in nodeid for ch in " []()") else nodeid


class _Reporter:
    """Collects results from reports (also from xdist workers) and writes the run's reports."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tests: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, str] = {}
        self.longreprs: dict[str, str] = {}
        self.durations: dict[str, float] = {}
        self.started = time.time()
        self.unwritten: dict[str, str] = {}  # option -> why its report could not be written

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        self.durations[nodeid] = self.durations.get(nodeid, 0.0) + report.duration
        if report.failed:
            self.outcomes[nodeid] = "failed"
            self.longreprs.setdefault(nodeid, _short(report))
        elif report.when == "call" and nodeid not in self.outcomes:
            self.outcomes[nodeid] = (
                "not_exercised" if getattr(report, "chaoskit_not_exercised", False) else report.outcome
            )
        data = getattr(report, "chaoskit", None)
        if data is not None:  # the teardown report carries the final journal
            self.tests[nodeid] = data

    def document(self) -> dict[str, Any]:
        """The run's results as the ``chaoskit.report/1`` document (docs/report-schema.md)."""
        from .reports import finished, report_document

        tests = [
            finished(data, outcome=self.outcomes.get(nodeid, "skipped"), longrepr=self.longreprs.get(nodeid),
                     duration=self.durations.get(nodeid, 0.0))
            for nodeid, data in self.tests.items()
        ]
        return report_document(tests, seed=self.config.stash[_report_key]["seed"],
                               chaos_off=bool(self.config.getoption("chaos_off")), started=self.started)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return
        json_path = self.config.getoption("chaos_report")
        html_path = self.config.getoption("chaos_html")
        if not (json_path or html_path):
            return
        document = self.document()
        if json_path:
            self._write("chaos_report", json_path, json.dumps(document, indent=2, default=str) + "\n")
        if html_path:
            from .reports import render_html

            self._write("chaos_html", html_path, render_html(document))
        if self.unwritten and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # a run whose report is lost is no success

    def _write(self, option: str, path: str, text: str) -> None:
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.unwritten[option] = (
                f"chaoskit: {_flag(option)}={path}: the report could not be written ({exc.strerror or exc}), so the run fails"
            )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        for line in self.unwritten.values():
            terminalreporter.write_line(line, red=True, bold=True)
        if not self.tests:
            return
        from .reports import write_summary

        write_summary(self.document(), terminalreporter._tw)  # noqa: SLF001 - pytest's terminal writer
        for option, what in (("chaos_report", "results (JSON)"), ("chaos_html", "report (HTML)")):
            path = self.config.getoption(option)
            if path and option not in self.unwritten:
                terminalreporter.write_line(f"chaoskit: {what} of {len(self.tests)} chaos test(s) written to {path}")


def _short(report: pytest.TestReport) -> str:
    text = getattr(report, "longreprtext", "") or ""
    lines = [line for line in text.splitlines() if line.startswith("E ")] or text.splitlines()[-3:]
    return "\n".join(lines)[:2000]


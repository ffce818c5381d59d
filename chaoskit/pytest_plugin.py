"""The chaoskit pytest plugin: the ``chaos`` marker and fixture, options, reports.

Registered through the ``pytest11`` entry point, so ``pip install chaoskit`` is all a
project needs. Loading it imports no HTTP library and no SDK: the seam is installed only
for tests that ask for chaos, and removed after each of them, whatever happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._session import Chaos

_SCHEDULE_KWARGS = ("rate", "times", "after", "window", "sequence")
_MARKER_KWARGS = (*_SCHEDULE_KWARGS, "seed")
_session_key = pytest.StashKey["Chaos"]()
_passed_key = pytest.StashKey[bool]()
_report_key = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoskit", "chaos and fault injection for AI applications")
    group.addoption("--chaos-seed", type=int, default=None, metavar="N",
                    help="session seed for fault schedules (printed when a chaos test fails)")
    group.addoption("--chaos-off", action="store_true", default=False,
                    help="inject no faults; provider calls still get simulated healthy replies")
    group.addoption("--chaos-report", default=None, metavar="PATH",
                    help="write the journal of every chaos test to PATH as JSON")
    group.addoption("--chaos-allow-host", action="append", default=[], metavar="HOST",
                    help="let requests to HOST through chaos tests untouched (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "chaos(*faults, rate=1.0, times=None, after=0, window=None, sequence=None, seed=None): "
        "inject catalog faults (ids or Fault objects) into this test's provider calls; "
        "see https://github.com/chaoskit/chaoskit#pytest",
    )
    config.stash[_report_key] = {"seed": _session_seed(config)}
    config.pluginmanager.register(_Reporter(config), "chaoskit-reporter")


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


def _marker_args(item: pytest.Item) -> tuple[list[Any], dict[str, Any]]:
    """Faults from every ``chaos`` marker on the test (closest first); kwargs closest-wins."""
    faults: list[Any] = []
    kwargs: dict[str, Any] = {}
    for marker in item.iter_markers("chaos"):
        faults.extend(marker.args)
        for key, value in marker.kwargs.items():
            kwargs.setdefault(key, value)
    unknown = sorted(set(kwargs) - set(_MARKER_KWARGS))
    if unknown:
        pytest.fail(
            f"@pytest.mark.chaos: unknown argument {unknown[0]}={kwargs[unknown[0]]!r}; "
            f"it takes fault ids and {', '.join(_MARKER_KWARGS)}",
            pytrace=False,
        )
    return faults, kwargs


@pytest.fixture
def chaos(request: pytest.FixtureRequest) -> Iterator[Chaos]:
    """A chaos session for this test: faults from the ``chaos`` marker, then ``chaos.inject``.

    Every provider call the test makes (openai, anthropic; httpx and httpx2, sync and
    async) is answered by chaoskit: a healthy simulated reply, or an injected fault.
    """
    from ._errors import ChaosError
    from ._session import Chaos

    config = request.config
    item = request.node
    faults, kwargs = _marker_args(item)
    seed = kwargs.pop("seed", None)
    session_seed = config.stash[_report_key]["seed"]
    try:
        session = Chaos(
            seed=session_seed if seed is None else seed,
            scope=item.nodeid,
            enabled=not config.getoption("chaos_off"),
            allow_hosts=config.getoption("chaos_allow_host"),
        )
        for fault in faults:
            session.inject(fault, **kwargs)
    except ChaosError as exc:
        pytest.fail(f"@pytest.mark.chaos: {exc}", pytrace=False)
    item.stash[_session_key] = session
    session.start()
    try:
        yield session
    finally:
        session.stop()
    import warnings

    from ._errors import ChaosWarning

    for injection, why in session.unapplied():
        warnings.warn(ChaosWarning(f"chaoskit: {injection.fault.id} never applied in {item.nodeid}: {why}"), stacklevel=1)
    if session.blocked and item.stash.get(_passed_key, False):
        lines = "\n".join(f"  - {c.method} {c.url}" for c in session.blocked)
        pytest.fail(
            "chaoskit blocked requests to hosts it does not serve (the code under test may "
            f"have swallowed the error):\n{lines}\nAllow them with chaos.allow_host(HOST) or "
            "--chaos-allow-host HOST.",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _chaoskit_marker(request: pytest.FixtureRequest) -> None:
    """Start a chaos session for tests that carry the marker but do not ask for ``chaos``."""
    if "chaos" not in request.fixturenames and request.node.get_closest_marker("chaos") is not None:
        request.getfixturevalue("chaos")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    session = item.stash.get(_session_key, None)
    if session is None:
        return report
    if report.when == "call":
        item.stash[_passed_key] = report.passed
    if report.when == "teardown" or (report.when != "call" and report.failed):
        report.chaoskit = {  # type: ignore[attr-defined]  # plain data: crosses xdist
            "nodeid": item.nodeid,
            "seed": session.seed,
            "calls": session.calls.to_list(),
        }
    if report.when == "call" or (report.when == "setup" and report.failed):
        text = _section(session, item, report.failed)
        report.sections.append(("chaoskit", text))
    return report


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
    """Collects journals from reports (also from xdist workers) and writes ``--chaos-report``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tests: dict[str, dict[str, Any]] = {}
        self.failed: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.add(report.nodeid)
        data = getattr(report, "chaoskit", None)
        if data is not None:  # the teardown report carries the final journal
            self.tests[report.nodeid] = data

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("chaos_report")
        if not path or hasattr(self.config, "workerinput"):
            return
        tests = [
            {**data, "outcome": "failed" if nodeid in self.failed else "passed"}
            for nodeid, data in self.tests.items()
        ]
        document = {"seed": self.config.stash[_report_key]["seed"], "tests": tests}
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        path = self.config.getoption("chaos_report")
        if path and not hasattr(self.config, "workerinput"):
            terminalreporter.write_line(f"chaoskit: journal of {len(self.tests)} chaos test(s) written to {path}")

"""A game day's journal, ``journal.jsonl``: each event as one JSON line, written as it happens,
so a game day killed mid-phase (SIGKILL, a lost SSH session) can be cleaned up or resumed.

The model: line 1 is the header (:data:`SCHEMA`, the scenario's path and title, its seed, the
proxy's control URL, the Toxiproxy URL, a run id; never a token). Every later line is an event
of a *segment* (``{"segment", "at", "kind", "text", "data"}``, ``at`` in seconds after that
segment began, as in that part's reports) or a ``cleanup`` record. A game day is segment 1; each
resume appends the next. Every line goes through the redaction policy before it is written, and
is written whole with one ``write`` to a file opened for appending.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .._errors import ChaosConfigError
from .._redact import Redactor
from ..run._proxyproc import InfrastructureError

if TYPE_CHECKING:
    from ..run._events import RunEvent
    from ..scenario import Phase, Scenario

__all__ = [
    "JOURNAL_NAME", "SCHEMA", "CleanupError", "CleanupReport", "Journal", "JournalError", "JournalWriter", "LeftFault",
    "LeftToxic", "PhaseRecord", "cleanup", "cleanup_command", "header_for", "read_journal", "remaining_phases",
]

SCHEMA = "chaoskit.gameday-journal/1"
JOURNAL_NAME = "journal.jsonl"


class JournalError(ChaosConfigError):
    """Not a journal this game day can use: missing, a bad line, another schema, another scenario's."""


class CleanupError(InfrastructureError):
    """What an interrupted game day left on could not all be removed (a server not there, a token refused)."""


# ---- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeftFault:
    """A fault put on the proxy with no ``fault.off`` after it."""

    id: str
    fault: str
    phase: str
    segment: int

    def __str__(self) -> str:
        return f"fault {self.fault} ({self.id}, phase {self.phase})"


@dataclass(frozen=True)
class LeftToxic:
    """A toxic added on the Toxiproxy server with no ``toxic.off`` after it."""

    proxy: str
    name: str
    type: str
    phase: str

    def __str__(self) -> str:
        return f"toxic {self.name} ({self.type}) on proxy {self.proxy} (phase {self.phase})"


@dataclass(frozen=True)
class PhaseRecord:
    """A phase the journal shows as completed: how long it ran and the probes that failed during it."""

    name: str
    seconds: float
    failed_probes: tuple[str, ...]


@dataclass(frozen=True)
class Journal:
    """A journal as read: its header and every later line, in order."""

    path: Path
    header: dict[str, Any]
    lines: tuple[dict[str, Any], ...]

    @property
    def title(self) -> str:
        return str(self.header["title"])

    @property
    def proxy(self) -> str | None:
        return self.header.get("proxy")

    @property
    def toxiproxy(self) -> str | None:
        return self.header.get("toxiproxy")

    @property
    def segments(self) -> int:
        """How many parts the game day has had (1, then one more per resume)."""
        return max((int(line.get("segment", 1)) for line in self.lines), default=1)

    def events(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("kind") != "cleanup"]

    def completed(self) -> dict[str, PhaseRecord]:
        """The phases that ran to their end (``phase.end`` with ``completed``), by name."""
        done: dict[str, PhaseRecord] = {}
        started: dict[tuple[int, str], float] = {}
        failed: dict[tuple[int, str], set[str]] = {}
        for line in self.events():
            data, segment = line.get("data") or {}, int(line.get("segment", 1))
            if line["kind"] == "phase.start":
                started[(segment, data.get("phase", ""))] = float(line.get("at") or 0.0)
                failed[(segment, data.get("phase", ""))] = set()
            elif line["kind"] == "probe" and data.get("ok") is False:
                for (seg, _name), names in failed.items():
                    if seg == segment:
                        names.add(str(data.get("probe")))
            elif line["kind"] == "phase.end":
                key = (segment, data.get("phase", ""))
                began, names = started.pop(key, None), failed.pop(key, set())
                if data.get("completed") is True and began is not None:
                    done[key[1]] = PhaseRecord(key[1], float(line.get("at") or 0.0) - began, tuple(sorted(names)))
        return done

    def last_completed(self) -> str | None:
        """The phase that completed last, in the journal's order."""
        last = None
        for line in self.events():
            if line["kind"] == "phase.end" and (line.get("data") or {}).get("completed") is True:
                last = str(line["data"]["phase"])
        return last

    def left_on(self) -> tuple[list[LeftFault], list[LeftToxic]]:
        """What was put on and never taken off: no ``fault.off``/``toxic.off``, and no clean-up since."""
        faults: dict[str, LeftFault] = {}
        toxics: dict[tuple[str, str], LeftToxic] = {}
        for line in self.lines:
            data = line.get("data") or {}
            kind = line.get("kind")
            if kind == "fault.on":
                faults.pop(str(data.get("replaces")), None)
                faults[str(data["id"])] = LeftFault(str(data["id"]), str(data.get("fault")), str(data.get("phase")),
                                                    int(line.get("segment", 1)))
            elif kind == "fault.off":
                faults.pop(str(data.get("id")), None)
            elif kind == "toxic.on":
                toxics[(str(data["proxy"]), str(data["name"]))] = LeftToxic(str(data["proxy"]), str(data["name"]),
                                                                           str(data.get("toxic")), str(data.get("phase")))
            elif kind == "toxic.off":
                toxics.pop((str(data.get("proxy")), str(data.get("name"))), None)
            elif kind == "cleanup":
                for fault_id in data.get("faults", []):
                    faults.pop(str(fault_id), None)
                for proxy, name in data.get("toxics", []):
                    toxics.pop((str(proxy), str(name)), None)
        return list(faults.values()), list(toxics.values())

    def claims_held(self) -> list[str]:
        """The proxy claims (owners) of the parts that never ended (no ``run.end``) and that no
        clean-up has released: a killed game day's claim blocks the proxy until its lease ends."""
        held: dict[int, str] = {}
        for line in self.lines:
            data, segment = line.get("data") or {}, int(line.get("segment", 1))
            if line.get("kind") == "note" and data.get("claim"):
                held[segment] = str(data["claim"])
            elif line.get("kind") == "run.end":
                held.pop(segment, None)
            elif line.get("kind") == "cleanup":
                released = {str(owner) for owner in data.get("claims", [])}
                held = {k: v for k, v in held.items() if v not in released}
        return list(held.values())

    def started_proxies(self) -> list[tuple[int, int, str]]:
        """(segment, pid, control URL) of each chaos proxy a segment started and never stopped
        (a segment that ended, ``run.end``, stopped its own; a clean-up stopped the others)."""
        found: dict[int, tuple[int, int, str]] = {}
        for line in self.lines:
            data, segment = line.get("data") or {}, int(line.get("segment", 1))
            if line.get("kind") == "note" and isinstance(data.get("pid"), int) and data.get("control"):
                found[segment] = (segment, int(data["pid"]), str(data["control"]))
            elif line.get("kind") == "run.end":
                found.pop(segment, None)
            elif line.get("kind") == "cleanup":
                for pid in data.get("stopped", []):
                    found = {k: v for k, v in found.items() if v[1] != pid}
        return list(found.values())

    def unfinished(self) -> bool:
        """Whether the last part has no ``run.end`` and no clean-up came after it."""
        for line in reversed(self.lines):
            if line.get("kind") in ("run.end", "cleanup"):
                return False
        return True


def read_journal(path: str | os.PathLike[str]) -> Journal:
    """The journal at ``path``; :class:`JournalError` saying which file and line when it is not one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JournalError(f"{path}: no such file: give the journal.jsonl of the game day (in its report directory)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalError(f"{path}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    lines: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise JournalError(f"{path}:{number}: not a JSON line ({exc}): not a game-day journal, or a damaged one") from None
        if not isinstance(value, dict):
            raise JournalError(f"{path}:{number}: a JSON {type(value).__name__}, not an object: not a game-day journal")
        if number > 1 and not isinstance(value.get("kind"), str):
            raise JournalError(f"{path}:{number}: no \"kind\": not a game-day journal's event")
        lines.append(value)
    if not lines:
        raise JournalError(f"{path}: empty: not a game-day journal")
    schema = lines[0].get("schema")
    if schema != SCHEMA:
        what = f"schema {schema!r}" if schema is not None else "no schema"
        newer = " (a newer chaoskit's? upgrade chaoskit)" if str(schema).startswith(SCHEMA.split("/")[0] + "/") else ""
        raise JournalError(f"{path}:1: {what}, not {SCHEMA!r}: not a game-day journal{newer}")
    for key in ("title", "run_id"):
        if not isinstance(lines[0].get(key), str):
            raise JournalError(f"{path}:1: the header has no {key!r}: a damaged game-day journal")
    return Journal(path, lines[0], tuple(lines[1:]))


def remaining_phases(scenario: Scenario, journal: Journal | None) -> list[Phase]:
    """The scenario's phases a game day still has to run: all of them, or under a resume those the
    journal does not show as completed (a phase cut short runs again from its start)."""
    done = journal.completed() if journal is not None else {}
    return [phase for phase in scenario.method if phase.name not in done]


# ---- writing -----------------------------------------------------------------------------------


def _bare_url(url: str | None) -> str | None:
    """``url`` without a user or password in it."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def header_for(scenario: Scenario) -> dict[str, Any]:
    """The first line of a new game day's journal: what a resume and a clean-up need, no token."""
    proxy = scenario.proxy
    return {
        "schema": SCHEMA, "run_id": uuid.uuid4().hex[:12], "scenario": str(scenario.file.resolve()) if scenario.file else None,
        "title": scenario.title, "seed": scenario.seed, "proxy": _bare_url(proxy.control_url) if proxy else None,
        "toxiproxy": _bare_url(scenario.toxiproxy), "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


class JournalWriter:
    """Appends lines to a journal: a listener of the game day's events, and :meth:`record` for the
    rest. ``header``: a new journal (it replaces the file); None appends to an existing one as
    ``segment``. ``secrets``: values hidden wherever they appear (the proxy's token)."""

    def __init__(self, path: Path, *, header: dict[str, Any] | None, segment: int = 1, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self.header = header
        self.segment = segment
        self._redactor = Redactor()
        for secret in secrets:
            self.learn(secret)
        self._fd: int | None = None
        self._made_dir = False
        self._lock = threading.Lock()

    def learn(self, secret: str | None) -> None:
        """Hide ``secret`` in every line from now on."""
        if secret:
            self._redactor.learn(secret)

    def open(self) -> None:
        """Create the file (with its header) or open it to append; nothing is written before this."""
        if self._fd is not None:
            return
        self._made_dir = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if self.header is not None else 0)
        self._fd = os.open(self.path, flags, 0o600)
        if self.header is not None:
            self._write(self.header)

    def __call__(self, event: RunEvent) -> None:
        self.record({"segment": self.segment, "at": round(event.at, 3), "kind": event.kind, "text": event.text,
                     "data": event.data})

    def record(self, line: dict[str, Any]) -> None:
        """One line, redacted, written whole and at once (no-op before :meth:`open` and after :meth:`close`)."""
        if self._fd is not None:
            self._write(line)

    def _write(self, line: dict[str, Any]) -> None:
        data = (json.dumps(self._redactor.value(json.loads(json.dumps(line, default=str))), ensure_ascii=False) + "\n").encode()
        with self._lock:
            if self._fd is None:
                return
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def discard(self) -> None:
        """Close, and remove a journal this writer began (and the directory it made for it): a game
        day refused before it touched anything leaves nothing behind. An appended one stays."""
        self.close()
        if self.header is None:
            return
        self.path.unlink(missing_ok=True)
        if self._made_dir:
            try:
                self.path.parent.rmdir()
            except OSError:
                pass  # something else was put there meanwhile: keep it


# ---- clean-up ----------------------------------------------------------------------------------


@dataclass
class CleanupReport:
    """What a clean-up did: ``removed`` and ``gone`` (already off: expired, or its server stopped),
    ``left`` (still on) and ``errors`` (why, and what to do)."""

    removed: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing the journal put on is left on."""
        return not self.left and not self.errors

    def text(self) -> str:
        """One line per thing, for a terminal or a note on the timeline."""
        lines = [f"removed {what}" for what in self.removed] + [f"already gone: {what}" for what in self.gone]
        lines += [f"still on: {what}" for what in self.left] + self.errors
        return "\n".join(lines) if lines else "nothing was left on"


def _is_proxy(pid: int, address: str) -> bool:
    """Whether process ``pid`` is a ``chaoskit proxy`` with its control API on ``address``
    (not a process that took the pid over, not a zombie: those have no command line)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return "chaoskit.cli" in args and "proxy" in args and address in args


def _stop_started_proxy(pid: int, control: str, report: CleanupReport) -> bool:
    """Stop the chaos proxy (pid ``pid``) a killed game day started, if it still runs; whether
    it is gone now. Its faults go with it."""
    what = f"the chaos proxy the game day started (pid {pid}, control {control})"
    address = urlsplit(control).netloc
    if not _is_proxy(pid, address):
        report.gone.append(f"{what}: no longer runs")
        return True
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while _is_proxy(pid, address):
        if time.monotonic() > deadline:
            report.left.append(what)
            report.errors.append(f"{what} did not stop within 5 s of SIGTERM: stop it (kill {pid}), then clean up again")
            return False
        time.sleep(0.05)
    report.removed.append(f"{what}: stopped, its faults with it")
    return True


async def _faults_off(journal: Journal, faults: list[LeftFault], claims: list[str], token: str | None,
                      report: CleanupReport) -> tuple[list[str], list[str]]:
    """Take ``faults`` off the journal's proxy and let its ``claims`` go; the fault ids now off or
    gone, and the claims released or expired."""
    from ..run._control import ControlError, ProxyControl

    url = journal.proxy
    again = f"then run `chaoskit gameday --cleanup {journal.path}` again"
    if url is None or not token:
        report.left += [str(f) for f in faults] + [f"the claim {owner} on the chaos proxy" for owner in claims]
        report.errors.append(f"the chaos proxy at {url} needs its control token to take the faults off: give --token, or set "
                             f"CHAOSKIT_PROXY_TOKEN (or proxy.token in the scenario given), {again}")
        return [], []
    control = ProxyControl(url, token)
    done: list[str] = []
    released: list[str] = []
    try:
        for n, fault in enumerate(faults):
            try:
                removed = await control.remove(fault.id)
            except ControlError as exc:
                report.left += [str(f) for f in faults[n:]]
                if ": 401: " in str(exc):
                    report.errors.append(f"the chaos proxy at {url} refused the token: give the one it was started with "
                                         f"(--token or CHAOSKIT_PROXY_TOKEN), {again}")
                else:
                    report.errors.append(f"{exc}: start the proxy or check its address, {again} (the faults expire by their "
                                         "lease anyway)")
                break
            (report.removed if removed else report.gone).append(f"{fault} from the chaos proxy at {url}" if removed else
                                                                f"{fault} (expired by its lease)")
            done.append(fault.id)
        if len(done) == len(faults):
            for owner in claims:
                try:
                    let_go = await control.release(owner)
                except ControlError as exc:
                    report.left.append(f"the claim {owner} on the chaos proxy at {url}")
                    report.errors.append(f"{exc}: the claim ends with its lease anyway, {again}")
                    break
                (report.removed if let_go else report.gone).append(
                    f"the claim {owner} on the chaos proxy at {url}" + ("" if let_go else " (expired by its lease)"))
                released.append(owner)
    finally:
        await control.aclose()
    return done, released


def _toxics_off(journal: Journal, toxics: list[LeftToxic], report: CleanupReport) -> list[tuple[str, str]]:
    """Remove ``toxics`` from the journal's Toxiproxy server; the (proxy, name) pairs now off or gone."""
    from ..network import ToxiproxyClient, ToxiproxyError

    url = journal.toxiproxy
    done: list[tuple[str, str]] = []
    try:
        if url is None:
            raise ToxiproxyError("the journal names no Toxiproxy server")
        client = ToxiproxyClient(url)
        proxies = client.proxies()
        for toxic in toxics:
            proxy = proxies.get(toxic.proxy)
            if proxy is not None and toxic.name in proxy.toxics():
                proxy.remove_toxic(toxic.name)
                report.removed.append(f"{toxic} from the Toxiproxy server at {url}")
            else:
                report.gone.append(str(toxic))
            done.append((toxic.proxy, toxic.name))
    except ToxiproxyError as exc:
        report.left += [str(t) for t in toxics if (t.proxy, t.name) not in done]
        report.errors.append(f"{exc}; then run `chaoskit gameday --cleanup {journal.path}` again (toxics stay on until removed)")
    return done


async def cleanup(journal: Journal, *, token: str | None, writer: JournalWriter | None = None) -> CleanupReport:
    """Remove what ``journal``'s game day left on: stop a chaos proxy it started, take its faults
    off the proxy (``token``: the proxy's), remove its toxics; a ``cleanup`` line records it."""
    import anyio

    report = CleanupReport()
    faults, toxics = journal.left_on()
    stopped: list[int] = []
    done_faults: list[str] = []
    for segment, pid, control in journal.started_proxies():
        if await anyio.to_thread.run_sync(_stop_started_proxy, pid, control, report):
            stopped.append(pid)
            done_faults += [f.id for f in faults if f.segment == segment]
            report.gone += [f"{f} (it went with its proxy)" for f in faults if f.segment == segment]
    faults = [f for f in faults if f.id not in done_faults]
    claims = journal.claims_held() if not stopped else []  # a stopped proxy took its claim with it
    released: list[str] = []
    if faults or claims:
        off, released = await _faults_off(journal, faults, claims, token, report)
        done_faults += off
    done_toxics = await anyio.to_thread.run_sync(_toxics_off, journal, toxics, report) if toxics else []
    line = {"segment": writer.segment if writer is not None else journal.segments, "kind": "cleanup", "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "text": "clean-up: " + ("nothing left on" if report.clean else "; ".join(report.errors)),
            "data": {"faults": done_faults, "toxics": [list(t) for t in done_toxics], "stopped": stopped, "claims": released,
                     "removed": report.removed, "gone": report.gone, "left": report.left}}
    if writer is not None:
        writer.record(line)
    else:
        own = JournalWriter(journal.path, header=None, segment=journal.segments, secrets=[token] if token else [])
        own.open()
        try:
            own.record(line)
        finally:
            own.close()
    return report


def cleanup_command(path: str | os.PathLike[str], *, token: str | None = None, scenario: str | None = None) -> int:
    """``chaoskit gameday [SCENARIO] --cleanup JOURNAL``: clean up, say what was removed; 0 clean,
    2 not a journal (or a bad scenario), 3 not all removed. The proxy's token: ``token``, else the
    scenario's (when one is given: it is not needed otherwise), else ``$CHAOSKIT_PROXY_TOKEN``."""
    import sys

    import anyio

    try:
        journal = read_journal(path)
    except JournalError as exc:
        print(f"chaoskit gameday: {exc}", file=sys.stderr)
        return 2
    if not token and scenario is not None:
        from ..scenario import ScenarioError, load

        try:
            proxy = load(scenario).proxy
        except (ScenarioError, OSError) as exc:
            print(f"chaoskit gameday: {scenario}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
            return 2
        token = proxy.token if proxy is not None else None
    token = token or os.environ.get("CHAOSKIT_PROXY_TOKEN")
    report = anyio.run(lambda: cleanup(journal, token=token))
    print(f"chaoskit gameday --cleanup: {journal.title} (run {journal.header['run_id']}, {journal.path})")
    for line in report.text().splitlines():
        print(f"  {line}")
    if report.clean:
        print("chaoskit gameday --cleanup: nothing is left on")
        return 0
    print(f"chaoskit gameday --cleanup: not everything could be removed (exit 3): {'; '.join(report.errors)}", file=sys.stderr)
    return 3

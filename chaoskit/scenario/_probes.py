"""Running one probe: an http request, a scripted conversation, a Python callable or a Prometheus metric.

:func:`run_probe` makes one check, with the probe's timeout per attempt and its attempts (or
``eventually_within``) around them, on the ``httpx.AsyncClient`` the caller owns. Under asyncio
or trio (anyio). A failed check is a result, never an exception: its ``detail`` says what was
observed and what was expected.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import anyio

from ._model import ConversationCheck, HttpCheck, Probe, PrometheusCheck, PythonCheck
from ._values import MISSING, JsonValue, format_seconds, read_path

if TYPE_CHECKING:
    import httpx

__all__ = ["ProbeResult", "run_probe"]


@dataclass(frozen=True)
class ProbeResult:
    """One check of one probe: whether it passed, what was seen, when (monotonic) and how long it took.

    ``detail``: a short account (``status 200 in 12 ms``), or what failed with the observed value.
    ``duration`` and ``started`` are those of the last attempt; ``attempts`` counts them.
    """

    name: str
    ok: bool
    detail: str
    duration: float
    started: float
    observed: object = None
    attempts: int = 1

    @property
    def finished(self) -> float:
        """When the last attempt ended (monotonic seconds)."""
        return self.started + self.duration


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    detail: str
    observed: object


async def run_probe(probe: Probe, client: httpx.AsyncClient) -> ProbeResult:
    """Check ``probe`` once: attempts ``interval`` apart until one passes, up to ``attempts``, or until
    ``eventually_within`` seconds have passed when that is set; each attempt ends after ``timeout``."""
    deadline = None if probe.eventually_within is None else time.monotonic() + probe.eventually_within
    attempt = 0
    while True:
        attempt += 1
        result = await _attempt(probe, client)
        if result.ok:
            return replace(result, attempts=attempt)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return replace(result, attempts=attempt, detail=f"{result.detail} (still failing after "
                               f"{format_seconds(probe.eventually_within or 0)}, {attempt} attempts)")
            await anyio.sleep(min(probe.interval, remaining))
            continue
        if attempt >= probe.attempts:
            more = f" (all {attempt} attempts failed)" if attempt > 1 else ""
            return replace(result, attempts=attempt, detail=result.detail + more)
        await anyio.sleep(probe.interval)


async def _attempt(probe: Probe, client: httpx.AsyncClient) -> ProbeResult:
    import httpx

    started = time.monotonic()
    outcome = _Outcome(False, f"timed out after {format_seconds(probe.timeout)}", None)
    with anyio.move_on_after(probe.timeout):
        try:
            outcome = await _check(probe, client)
        except httpx.HTTPError as exc:
            outcome = _Outcome(False, f"{type(exc).__name__}: {exc or 'no detail'}", None)
    return ProbeResult(probe.name, outcome.ok, outcome.detail, time.monotonic() - started, started, outcome.observed)


async def _check(probe: Probe, client: httpx.AsyncClient) -> _Outcome:
    check = probe.check
    if isinstance(check, HttpCheck):
        return await _http(check, client, probe.timeout)
    if isinstance(check, ConversationCheck):
        return await _conversation(check, client, probe.timeout)
    if isinstance(check, PythonCheck):
        return await _python(check)
    return await _prometheus(check, client, probe.timeout)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def _http(check: HttpCheck, client: httpx.AsyncClient, timeout: float) -> _Outcome:
    expect = check.expect
    started = time.monotonic()
    response = await client.request(
        check.method, check.url, headers=dict(check.headers), timeout=timeout,
        **({"json": check.json} if check.json is not None else {"content": check.body} if check.body is not None else {}),
    )
    elapsed = time.monotonic() - started
    failures = []
    if response.status_code not in expect.status:
        failures.append(f"status {response.status_code} not in {expect.status}")
    if expect.json:
        try:
            document = response.json()
        except ValueError:
            failures.append(f"the body is not JSON: {_clip(response.text)!r}")
        else:
            for item in expect.json:
                reason = item.expect.failure(read_path(document, item.path))
                if reason:
                    failures.append(f"{item.path} {reason}")
    if expect.contains is not None and expect.contains not in response.text:
        failures.append(f"the body does not contain {expect.contains!r}: {_clip(response.text)!r}")
    if expect.matches is not None and not re.search(expect.matches, response.text):
        failures.append(f"the body does not match {expect.matches!r}: {_clip(response.text)!r}")
    if expect.max_latency is not None and elapsed > expect.max_latency:
        failures.append(f"took {elapsed:.3f} s, more than {format_seconds(expect.max_latency)}")
    summary = f"status {response.status_code} in {elapsed * 1000:.0f} ms"
    return _Outcome(not failures, "; ".join(failures) or summary, response.status_code)


_PLACEHOLDER = re.compile(r"\{\{\s*(message|conversation_id|turn)\s*\}\}")


def fill(template: JsonValue, values: Mapping[str, str]) -> JsonValue:
    """``template`` with ``{{message}}``, ``{{conversation_id}}`` and ``{{turn}}`` in its strings filled in."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, Mapping):
        return {key: fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    return template


async def _conversation(check: ConversationCheck, client: httpx.AsyncClient, timeout: float) -> _Outcome:
    from .._assertions import graceful_problem

    conversation_id = uuid.uuid4().hex
    answer: object = None
    for number, turn in enumerate(check.turns, 1):
        body = fill(check.body, {"message": turn.user, "conversation_id": conversation_id, "turn": str(number)})
        response = await client.request(check.method, check.url, headers=dict(check.headers), json=body, timeout=timeout)
        expect = turn.expect
        failures = []
        if response.status_code not in expect.status:
            failures.append(f"status {response.status_code} not in {expect.status}")
        try:
            answer = read_path(response.json(), check.reply)
        except ValueError:
            answer = MISSING
        if not isinstance(answer, str):
            failures.append(f"no answer text at {check.reply} in {_clip(response.text)!r}")
        else:
            if expect.graceful:
                problem = graceful_problem(answer)
                if problem:
                    failures.append(f"not graceful: {problem}")
            if expect.contains is not None and expect.contains not in answer:
                failures.append(f"the answer does not contain {expect.contains!r}: {_clip(answer)!r}")
            if expect.handoff is not None and check.handoff_marker is not None:
                if (check.handoff_marker in answer) != expect.handoff:
                    failures.append(f"expected {'a' if expect.handoff else 'no'} handoff ({check.handoff_marker!r}), "
                                    f"got {_clip(answer)!r}")
        for name, comparison in expect.headers.items():
            reason = comparison.failure(response.headers.get(name, MISSING))
            if reason:
                failures.append(f"header {name} {reason}")
        if failures:
            return _Outcome(False, f"turn {number} ({_clip(turn.user, 40)!r}): " + "; ".join(failures), answer)
    return _Outcome(True, f"{len(check.turns)} turn{'s' if len(check.turns) != 1 else ''} answered", answer)


async def _python(check: PythonCheck) -> _Outcome:
    module_name, _, attribute = check.callable.partition(":")
    try:
        target: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        return _Outcome(False, f"cannot load {check.callable}: {type(exc).__name__}: {exc}", None)
    if not callable(target):
        return _Outcome(False, f"{check.callable} is not callable", None)
    try:
        if inspect.iscoroutinefunction(target):
            value = await target(**check.arguments)
        else:
            value = await anyio.to_thread.run_sync(functools.partial(target, **check.arguments), abandon_on_cancel=True)
            if inspect.isawaitable(value):
                value = await value
    except Exception as exc:  # a failing health check is a result, whatever it raises
        return _Outcome(False, f"{check.callable} raised {type(exc).__name__}: {exc}", None)
    if check.expect is not None:
        reason = check.expect.failure(value)
        return _Outcome(reason is None, f"returned {_clip(repr(value))}" + (f": {reason}" if reason else ""), value)
    return _Outcome(bool(value), f"returned {_clip(repr(value))}" + ("" if value else ", which is falsy"), value)


_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "sum": sum, "max": max, "min": min, "count": len,
    "avg": lambda values: sum(values) / len(values),
}


async def _prometheus(check: PrometheusCheck, client: httpx.AsyncClient, timeout: float) -> _Outcome:
    if check.query is not None:
        subject = check.query
        values, problem = await _query(check, client, timeout)
    else:
        labels = ",".join(f'{k}="{v}"' for k, v in check.labels.items())
        subject = f"{check.metric}{{{labels}}}" if labels else str(check.metric)
        values, problem = await _scrape(check, client, timeout)
    if problem:
        return _Outcome(False, problem, None)
    # no sample is missing, not 0: a misspelt metric must not pass "lt: 5"
    value = _AGGREGATES[check.aggregate](values) if values or check.aggregate == "count" else None
    reason = check.expect.failure(MISSING if value is None else value)
    shown = "no sample" if value is None else f"{value:g}"
    return _Outcome(reason is None, f"{subject} = {shown}" + (f": {reason}" if reason else ""), value)


async def _scrape(check: PrometheusCheck, client: httpx.AsyncClient, timeout: float) -> tuple[list[float], str | None]:
    from prometheus_client.parser import text_string_to_metric_families

    response = await client.get(check.url, timeout=timeout)
    if response.status_code != 200:
        return [], f"GET {check.url}: status {response.status_code}"
    values = []
    try:
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == check.metric and all(sample.labels.get(k) == v for k, v in check.labels.items()):
                    values.append(float(sample.value))
    except ValueError as exc:
        return [], f"{check.url} is not in the Prometheus text format: {exc}"
    return values, None


async def _query(check: PrometheusCheck, client: httpx.AsyncClient, timeout: float) -> tuple[list[float], str | None]:
    url = check.url.rstrip("/") + "/api/v1/query"
    response = await client.get(url, params={"query": check.query or ""}, timeout=timeout)
    try:
        answer = response.json()
    except ValueError:
        return [], f"GET {url}: status {response.status_code}, not JSON: {_clip(response.text)!r}"
    if response.status_code != 200 or not isinstance(answer, dict) or answer.get("status") != "success":
        error = answer.get("error") if isinstance(answer, dict) else None
        return [], f"query {check.query!r}: status {response.status_code}: {error or _clip(json.dumps(answer))}"
    data = answer.get("data") or {}
    kind, result = data.get("resultType"), data.get("result") or []
    try:
        if kind == "scalar":
            return [float(result[1])], None
        if kind == "vector":
            return [float(series["value"][1]) for series in result], None
    except (TypeError, KeyError, IndexError, ValueError):
        pass
    return [], f"query {check.query!r} gave a {kind} result that is not a number or a vector of numbers"

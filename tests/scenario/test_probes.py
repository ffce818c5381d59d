"""Probes against real servers on loopback: an app under uvicorn (a health endpoint, a chat bot, a
/metrics page from prometheus_client, a Prometheus query API) and real httpx clients. Every test runs
under asyncio and under trio (anyio's ``anyio_backend`` fixture)."""

from __future__ import annotations

import asyncio
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from seams._servers import asgi_server, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from chaoskit.scenario import Probe, ProbeResult, loads, run_probe

HANDOFF = "I've passed your question to a member of our team; they will get back to you shortly."
registry = CollectorRegistry()
injections = Counter("chaoskit_proxy_injections", "Faults injected", ["fault"], registry=registry)
injections.labels(fault="openai.rate_limit").inc(3)
injections.labels(fault="openai.server_error").inc(2)
Gauge("chaoskit_proxy_active_faults", "Faults active", registry=registry).set(1)
calls: dict[str, int] = {}
turns: list[dict[str, Any]] = []


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "checks": [{"name": "db", "healthy": True}]})


async def flaky(request: Request) -> Response:
    """503 for the first ``fail`` calls with this ``key``, then 200."""
    key = request.query_params["key"]
    calls[key] = calls.get(key, 0) + 1
    return PlainTextResponse("ok" if calls[key] > int(request.query_params["fail"]) else "busy",
                             status_code=200 if calls[key] > int(request.query_params["fail"]) else 503)


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params["seconds"]))
    return PlainTextResponse("late but fine")


async def echo(request: Request) -> Response:
    return JSONResponse({"body": (await request.body()).decode(), "header": request.headers.get("x-chaos-target")})


async def chat(request: Request) -> Response:
    """A support bot: answers, leaks a traceback, hands off, or fails, by the message."""
    body = await request.json()
    turns.append(body)
    message = body.get("message", "")
    if message == "fail":
        return JSONResponse({"detail": "internal"}, status_code=500)
    if message == "leak":
        return JSONResponse({"reply": {"text": "Sorry: openai.RateLimitError: Error code: 429"}}, headers={"x-answered-by": "openai"})
    if message == "handoff":
        return JSONResponse({"reply": {"text": HANDOFF}}, headers={"x-answered-by": "human"})
    return JSONResponse({"reply": {"text": f"Order A100 has shipped. ({message})"}}, headers={"x-answered-by": "anthropic"})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


async def query(request: Request) -> Response:
    """Prometheus's /api/v1/query, answering three queries as Prometheus does."""
    q = request.query_params["query"]
    if q == "up":
        result = [{"metric": {"job": j}, "value": [1700000000.0, "1"]} for j in ("app", "proxy")]
        return JSONResponse({"status": "success", "data": {"resultType": "vector", "result": result}})
    if q == "scalar(0.25)":
        return JSONResponse({"status": "success", "data": {"resultType": "scalar", "result": [1700000000.0, "0.25"]}})
    return JSONResponse({"status": "error", "errorType": "bad_data", "error": f'1:4: parse error: unexpected "(" in {q}'},
                        status_code=400)


APP = Starlette(routes=[
    Route("/healthz", healthz), Route("/flaky", flaky), Route("/slow", slow), Route("/echo", echo, methods=["POST"]),
    Route("/chat", chat, methods=["POST"]), Route("/metrics", metrics), Route("/api/v1/query", query),
])


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with asgi_server(APP) as base:
        yield base


def probe(base: str, spec: str) -> Probe:
    """The one steady-state probe of a scenario file whose target is ``base``; {{KEY}} in it is made unique."""
    spec = spec.replace("{{KEY}}", uuid.uuid4().hex)
    text = f"title: t\ntarget: {{url: '{base}'}}\nmethod: [{{name: p, duration: 1}}]\nsteady_state:\n" + textwrap.indent(
        textwrap.dedent(spec), "  ")
    return loads(text, env={}).steady_state[0]


async def run(p: Probe) -> ProbeResult:
    async with httpx.AsyncClient() as client:
        return await run_probe(p, client)


pytestmark = pytest.mark.anyio


# ---- http ----------------------------------------------------------------------------------------


async def test_http_probe_passes(app_url: str) -> None:
    before = time.monotonic()
    result = await run(probe(app_url, """\
        - name: health
          type: http
          url: /healthz
          expect:
            status: 200-299
            json: [{path: $.status, equals: ok}, {path: "$.checks[0].healthy", equals: true}]
            contains: '"db"'
            matches: 'status.{3}ok'
            max_latency: 5s
        """))
    assert (result.name, result.ok, result.observed, result.attempts) == ("health", True, 200, 1)
    assert result.detail.startswith("status 200 in ") and result.detail.endswith(" ms")
    assert before <= result.started <= result.finished <= time.monotonic() and 0 < result.duration < 5


async def test_http_probe_says_what_failed_with_the_values_seen(app_url: str) -> None:
    result = await run(probe(app_url, """\
        - name: health
          type: http
          url: /healthz
          expect:
            status: 500
            json: [{path: $.status, equals: degraded}, {path: $.missing, exists: true}]
            contains: nope
        """))
    assert not result.ok and result.observed == 200
    assert result.detail == (
        "status 200 not in 500; $.status is 'ok', expected 'degraded'; $.missing is missing, expected it to be there; "
        "the body does not contain 'nope': '{\"status\":\"ok\",\"checks\":[{\"name\":\"db\",\"healthy\":true}]}'")


async def test_http_probe_sends_headers_and_a_body(app_url: str) -> None:
    result = await run(probe(app_url, """\
        - name: echo
          type: http
          method: POST
          url: /echo
          headers: {x-chaos-target: synthetic}
          json: {a: [1, 2]}
          expect:
            json: [{path: $.header, equals: synthetic}, {path: $.body, equals: '{"a":[1,2]}'}]
        """))
    assert result.ok, result.detail


async def test_latency_bound_and_timeout(app_url: str) -> None:
    slow = await run(probe(app_url, """\
        - {name: slow, type: http, url: "/slow?seconds=0.3", expect: {max_latency: 100ms}}
        """))
    assert not slow.ok and slow.detail.startswith("took 0.3") and slow.detail.endswith(" s, more than 0.1 s")
    timed_out = await run(probe(app_url, """\
        - {name: slow, type: http, url: "/slow?seconds=5", timeout: 200ms}
        """))
    assert (timed_out.ok, timed_out.detail) == (False, "timed out after 0.2 s")
    assert 0.15 < timed_out.duration < 1.0


async def test_attempts_are_made_interval_apart(app_url: str) -> None:
    result = await run(probe(app_url, """\
        - {name: flaky, type: http, url: "/flaky?key=attempts-{{KEY}}&fail=2", attempts: 3, interval: 100ms}
        """))
    assert (result.ok, result.attempts) == (True, 3)
    failed = await run(probe(app_url, """\
        - {name: flaky, type: http, url: "/flaky?key=never-{{KEY}}&fail=99", attempts: 2, interval: 10ms}
        """))
    assert (failed.ok, failed.attempts, failed.detail) == (False, 2, "status 503 not in 200-399 (all 2 attempts failed)")


async def test_eventually_within(app_url: str) -> None:
    start = time.monotonic()
    result = await run(probe(app_url, """\
        - {name: flaky, type: http, url: "/flaky?key=eventually-{{KEY}}&fail=3", eventually_within: 5s, interval: 100ms}
        """))
    assert (result.ok, result.attempts) == (True, 4)
    assert 0.3 <= time.monotonic() - start < 2
    start = time.monotonic()
    never = await run(probe(app_url, """\
        - {name: flaky, type: http, url: "/flaky?key=no-{{KEY}}&fail=99", eventually_within: 500ms, interval: 200ms}
        """))
    assert not never.ok and never.detail == f"status 503 not in 200-399 (still failing after 0.5 s, {never.attempts} attempts)"
    assert never.attempts == 4 and 0.5 <= time.monotonic() - start < 1.5  # at 0, 0.2, 0.4 and the deadline


async def test_an_unreachable_target_is_a_failed_result() -> None:
    result = await run(probe(f"http://127.0.0.1:{free_port()}", "- {name: health, type: http, url: /healthz}\n"))
    assert not result.ok and result.detail.startswith("ConnectError: ")  # its text differs between asyncio and trio


# ---- conversation -----------------------------------------------------------------------------------


CONVERSATION = """\
- name: chat
  type: conversation
  url: /chat
  reply: $.reply.text
  handoff_marker: passed your question to a member of our team
  turns:
"""


async def test_conversation_passes_and_keeps_one_conversation_id(app_url: str) -> None:
    turns.clear()
    result = await run(probe(app_url, CONVERSATION + """\
    - user: Where is A100?
      expect: {contains: shipped, handoff: false, headers: {x-answered-by: {one_of: [openai, anthropic]}}}
    - user: Thanks
  body: {message: "{{message}}", conversation_id: "{{ conversation_id }}", turn: "{{turn}}", stream: true}
"""))
    assert (result.ok, result.detail, result.observed) == (True, "2 turns answered", "Order A100 has shipped. (Thanks)")
    assert [t["message"] for t in turns] == ["Where is A100?", "Thanks"] and [t["turn"] for t in turns] == ["1", "2"]
    assert turns[0]["conversation_id"] == turns[1]["conversation_id"] and len(turns[0]["conversation_id"]) == 32
    assert turns[0]["stream"] is True


@pytest.mark.parametrize(("turn", "detail"), [
    ("- user: leak\n", "turn 1 ('leak'): not graceful: the text shows an exception name 'RateLimitError': "
                       "'Sorry: openai.RateLimitError: Error code: 429'"),
    ("- user: fail\n", "turn 1 ('fail'): status 500 not in 200-299; no answer text at $.reply.text in '{\"detail\":\"internal\"}'"),
    ("- user: hi\n      expect: {handoff: true}\n",
     "turn 1 ('hi'): expected a handoff ('passed your question to a member of our team'), got 'Order A100 has shipped. (hi)'"),
    ("- user: hi\n      expect: {headers: {x-answered-by: {equals: openai}, x-missing: {exists: true}}}\n",
     "turn 1 ('hi'): header x-answered-by is 'anthropic', expected 'openai'; header x-missing is missing, "
     "expected it to be there"),
])
async def test_conversation_failures(app_url: str, turn: str, detail: str) -> None:
    result = await run(probe(app_url, CONVERSATION + "    " + turn))
    assert (result.ok, result.detail) == (False, detail)


async def test_conversation_reads_the_answer_where_reply_says(app_url: str) -> None:
    spec = CONVERSATION.replace("reply: $.reply.text", "reply: $.answer") + "    - user: hi\n"
    result = await run(probe(app_url, spec))
    assert (result.ok, result.detail) == (
        False, "turn 1 ('hi'): no answer text at $.answer in '{\"reply\":{\"text\":\"Order A100 has shipped. (hi)\"}}'")


async def test_a_handoff_that_is_expected_passes(app_url: str) -> None:
    result = await run(probe(app_url, CONVERSATION + "    - user: hi\n    - user: handoff\n      expect: {handoff: true}\n"))
    assert (result.ok, result.observed) == (True, HANDOFF)


# ---- python -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "ok", "detail", "observed"), [
    ("callable: scenario._health:healthy", True, "returned True", True),
    ("callable: scenario._health:unhealthy", False, "returned [], which is falsy", []),
    ("{callable: 'scenario._health:async_status', arguments: {service: cache}, expect: {contains: status}}", True,
     "returned {'service': 'cache', 'status': 'ok'}", {"service": "cache", "status": "ok"}),
    ("{callable: 'scenario._health:queue_depth', expect: {lt: 10}}", False, "returned 12: is 12, expected < 10", 12),
    ("callable: scenario._health:broken", False, "scenario._health:broken raised RuntimeError: db down", None),
    ("callable: scenario._health:nope", False,
     "cannot load scenario._health:nope: AttributeError: module 'scenario._health' has no attribute 'nope'", None),
    ("callable: no_such_module_here:f", False,
     "cannot load no_such_module_here:f: ModuleNotFoundError: No module named 'no_such_module_here'", None),
    ("callable: scenario._health:NOT_CALLABLE", False, "scenario._health:NOT_CALLABLE is not callable", None),
])
async def test_python_probe(spec: str, ok: bool, detail: str, observed: object) -> None:
    body = spec if spec.startswith("{") else "{" + spec.replace("callable: ", "callable: '") + "'}"
    result = await run(probe("http://unused.test", f"- {{name: py, type: python, {body[1:]}\n"))
    assert (result.ok, result.detail, result.observed) == (ok, detail, observed)


async def test_a_slow_sync_callable_times_out_without_blocking_the_loop() -> None:
    started = time.monotonic()
    result = await run(probe("http://unused.test", "- {name: py, type: python, callable: 'scenario._health:slow', timeout: 200ms}\n"))
    assert (result.ok, result.detail) == (False, "timed out after 0.2 s")
    assert time.monotonic() - started < 0.9


# ---- prometheus ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "ok", "detail"), [
    ("metric: chaoskit_proxy_injections_total, labels: {fault: openai.rate_limit}, expect: {equals: 3}", True,
     'chaoskit_proxy_injections_total{fault="openai.rate_limit"} = 3'),
    ("metric: chaoskit_proxy_injections_total, expect: {lt: 5}", False,
     "chaoskit_proxy_injections_total = 5: is 5.0, expected < 5"),
    ("metric: chaoskit_proxy_injections_total, aggregate: max, expect: {equals: 3}", True, "chaoskit_proxy_injections_total = 3"),
    ("metric: chaoskit_proxy_active_faults, expect: {le: 1}", True, "chaoskit_proxy_active_faults = 1"),
    ("metric: chaoskit_proxy_injectons_total, expect: {lt: 5}", False, "chaoskit_proxy_injectons_total = no sample: is missing"),
    ("metric: chaoskit_proxy_injections_total, labels: {fault: x}, aggregate: count, expect: {equals: 0}", True,
     'chaoskit_proxy_injections_total{fault="x"} = 0'),
])
async def test_prometheus_metric_from_a_metrics_page(app_url: str, spec: str, ok: bool, detail: str) -> None:
    result = await run(probe(app_url, f"- {{name: m, type: prometheus, url: /metrics, {spec}}}\n"))
    assert (result.ok, result.detail) == (ok, detail)


@pytest.mark.parametrize(("spec", "ok", "detail"), [
    ("query: up, expect: {equals: 2}", True, "up = 2"),
    ("query: up, aggregate: min, expect: {equals: 1}", True, "up = 1"),
    ("query: 'scalar(0.25)', expect: {gt: 0.5}", False, "scalar(0.25) = 0.25: is 0.25, expected > 0.5"),
    ("query: 'rate(', expect: {gt: 0}", False, "query 'rate(': status 400: 1:4: parse error: unexpected \"(\" in rate("),
])
async def test_prometheus_query_api(app_url: str, spec: str, ok: bool, detail: str) -> None:
    result = await run(probe(app_url, f"- {{name: q, type: prometheus, url: /, {spec}}}\n"))
    assert (result.ok, result.detail) == (ok, detail)


async def test_a_page_that_is_not_prometheus_text(app_url: str) -> None:
    result = await run(probe(app_url, "- {name: m, type: prometheus, url: /healthz, metric: x, expect: {lt: 1}}\n"))
    assert not result.ok and result.detail.startswith(f"{app_url}/healthz is not in the Prometheus text format: ")



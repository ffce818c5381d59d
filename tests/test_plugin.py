"""The pytest plugin, driven through pytester: marker, fixture, options, reports, rollback."""

from __future__ import annotations

import json
import sys

import pytest

pytest_plugins = ("pytester",)

CLIENT = """
import anthropic, httpx2, openai, pytest
from chaoskit import faults, tool_call

FAST = httpx2.Timeout(0.3, connect=0.2)

def ask(client):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

def oai(**kw):
    return openai.OpenAI(api_key="sk-test", timeout=FAST, **kw)
"""


def run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_app=CLIENT + body)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def test_the_issue_example_runs_with_no_conftest(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.rate_limit", retry_after=None) if False else pytest.mark.chaos("openai.rate_limit")
def test_falls_back(chaos):
    chaos.reply("anthropic", "Your order has shipped.")
    try:
        text = ask(oai(max_retries=0)).choices[0].message.content
    except openai.RateLimitError:
        msg = anthropic.Anthropic(api_key="x").messages.create(
            model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
        text = msg.content[0].text
    assert text == "Your order has shipped."
    assert [c.provider for c in chaos.calls] == ["openai", "anthropic"]
    assert chaos.calls[0].fault == "openai.rate_limit" and chaos.calls[0].status == 429
""")
    result.assert_outcomes(passed=1)


def test_marker_without_the_fixture_still_injects(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.auth")
def test_auth():
    with pytest.raises(openai.AuthenticationError):
        ask(oai())
""")
    result.assert_outcomes(passed=1)


def test_fixture_inject_times_then_recovery(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
def test_recovers(chaos):
    chaos.inject("openai.server_error", times=2)
    chaos.reply("openai", "fine")
    assert ask(oai(max_retries=2)).choices[0].message.content == "fine"
    assert [c.status for c in chaos.calls] == [500, 500, 200]
""")
    result.assert_outcomes(passed=1)


def test_marker_schedule_arguments_and_fault_objects(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos(faults.get("openai.rate_limit", retry_after=0.01), sequence=("fail", "pass"))
def test_sequence(chaos):
    ask(oai(max_retries=2))
    assert [c.status for c in chaos.calls] == [429, 200]
""")
    result.assert_outcomes(passed=1)


def test_unknown_fault_in_a_marker_is_a_clear_failure(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.ratelimit")
def test_x(chaos):
    pass
""")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.chaos: unknown fault id 'openai.ratelimit'. Did you mean: openai.rate_limit*"])
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")


def test_bad_marker_rate_is_an_exact_message(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.rate_limit", rate=1.5)
def test_x(chaos):
    pass
""")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.chaos: rate=1.5 must be a number from 0 to 1"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_unknown_marker_argument_is_named(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.rate_limit", rat=0.5)
def test_x(chaos):
    pass
""")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.chaos: unknown argument rat=0.5; it takes fault ids, their parameters (*) and "
                                 "rate, times, after, window, sequence, url, method, target, seed, virtual_time"])


def test_a_failure_prints_the_reproduction_line_and_the_journal(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.server_error", rate=0.5)
def test_flaky(chaos):
    for _ in range(6):
        try:
            ask(oai(max_retries=0))
        except openai.InternalServerError:
            pass
    assert False, "boom"
""", "--chaos-seed=4242")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*chaoskit*",
        "Reproduce with: pytest test_app.py::test_flaky --chaos-seed=4242",
        "seed=4242, 6 intercepted call(s):",
        "  #0 openai POST https://api.openai.com/v1/chat/completions  fault=*",
    ])


def test_same_seed_same_journal_with_rate_one_half(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.chaos("openai.server_error", rate=0.5)
def test_mixed(chaos):
    for _ in range(20):
        try:
            ask(oai(max_retries=0))
        except openai.InternalServerError:
            pass
"""
    journals = []
    for name in ("a.json", "b.json", "c.json"):
        seed = "99" if name != "c.json" else "100"
        run(pytester, body, f"--chaos-seed={seed}", f"--chaos-report={name}").assert_outcomes(passed=1)
        data = json.loads((pytester.path / name).read_text())
        journals.append([(c["fault"], c["status"]) for c in data["tests"][0]["calls"]])
    assert journals[0] == journals[1]
    assert 3 <= sum(f is not None for f, _ in journals[0]) <= 17
    assert journals[0] != journals[2]  # another seed, other faults


def test_report_file_has_seed_outcome_and_calls(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.rate_limit", times=1)
def test_one(chaos):
    chaos.inject("openai.server_error", times=0)
    ask(oai(max_retries=0)) if False else None
    with pytest.raises(openai.RateLimitError):
        ask(oai(max_retries=0))

def test_no_chaos():
    pass
""", "--chaos-seed=7", "--chaos-report=out/report.json")
    result.assert_outcomes(passed=2)
    data = json.loads((pytester.path / "out" / "report.json").read_text())
    assert data["seed"] == 7
    [test] = data["tests"]
    assert test["nodeid"] == "test_app.py::test_one" and test["outcome"] == "passed"
    assert test["calls"][0]["fault"] == "openai.rate_limit"
    assert test["calls"][0]["request_headers"]["authorization"] == "<redacted>"
    result.stdout.fnmatch_lines(["chaoskit: results (JSON) of 1 chaos test(s) written to out/report.json"])


def test_the_report_is_the_document_chaoskit_reports_builds(pytester: pytest.Pytester) -> None:
    from datetime import datetime

    from chaoskit.reports import finished, report_document

    run(pytester, """
import json
from chaoskit.reports import session_record

@pytest.mark.chaos("openai.rate_limit", times=1)
def test_one(chaos, request):
    chaos.reply("openai", "It shipped.")
    with pytest.raises(openai.RateLimitError):
        ask(oai(max_retries=0))
    stream = oai().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                           stream=True, stream_options={"include_usage": True})
    [usage] = [chunk.usage for chunk in stream if chunk.usage is not None]
    with open("record.json", "w") as f:
        json.dump({"record": session_record(chaos, nodeid=request.node.nodeid), "output_tokens": usage.completion_tokens}, f)
""", "--chaos-seed=7", "--chaos-report=report.json").assert_outcomes(passed=1)
    written = json.loads((pytester.path / "report.json").read_text())
    seen = json.loads((pytester.path / "record.json").read_text())
    record, [test] = seen["record"], written["tests"]
    assert test["clock"]["elapsed"] >= record["clock"]["elapsed"]  # the session's clock goes on to teardown
    record["clock"]["elapsed"] = test["clock"]["elapsed"]
    assert test == finished(record, outcome="passed", longrepr=None, duration=test["duration"])
    started = datetime.fromisoformat(written["created"]).timestamp()
    assert written == report_document([test], seed=7, chaos_off=False, started=started, ended=started + written["duration"])
    faulted, streamed = test["calls"]
    assert (faulted["effect"], faulted["model"], faulted["usage"]) == ("status", "gpt-4o-mini", None)
    assert streamed["usage"]["output_tokens"] == seen["output_tokens"] and streamed["effect"] is None


def test_chaos_off_runs_the_happy_path(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.rate_limit")
def test_x(chaos):
    assert ask(oai(max_retries=0)).choices[0].message.content
    assert chaos.calls[0].fault is None
""", "--chaos-off")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["chaoskit: seed=* (faults off)"])


def test_swallowed_blocked_request_fails_the_test(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import httpx2

def test_swallows(chaos):
    try:
        httpx2.get("https://search.example.com/")
    except Exception:
        pass
""")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*chaoskit blocked requests to hosts it does not serve*", "*  - GET https://search.example.com/*"])


def test_allow_host_option_lets_a_host_through(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import httpx2

def test_allowed(chaos):
    # It went to the (absent) network: a transport error, not chaoskit's UnroutedRequestError.
    with pytest.raises(httpx2.TransportError):
        httpx2.get("http://unreachable.invalid/", timeout=2)
    assert not chaos.blocked
""", "--chaos-allow-host=unreachable.invalid")
    result.assert_outcomes(passed=1)


ROLLBACK_CHECK = """
import httpcore2

ORIGINAL = httpcore2.ConnectionPool.handle_request

def pytest_unconfigure(config):
    assert httpcore2.ConnectionPool.handle_request is ORIGINAL, "a chaoskit patch leaked"
    print("ROLLBACK-OK")
"""


@pytest.mark.parametrize("ending", ["assert False", "raise RuntimeError('x')", "raise KeyboardInterrupt"])
def test_no_patch_remains_after_failure_error_or_interrupt(pytester: pytest.Pytester, ending: str) -> None:
    pytester.makeconftest(ROLLBACK_CHECK)
    pytester.makepyfile(test_app=CLIENT + f"""
@pytest.mark.chaos("openai.server_error")
def test_dies(chaos):
    {ending}

def test_after():
    import httpcore2, conftest
    assert httpcore2.ConnectionPool.handle_request is conftest.ORIGINAL
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.stdout.fnmatch_lines(["*ROLLBACK-OK*"])
    if "KeyboardInterrupt" in ending:
        result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    else:
        result.assert_outcomes(failed=1, passed=1)


def test_a_plain_request_after_a_chaos_test_is_not_intercepted(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import httpx2

@pytest.mark.chaos("openai.rate_limit")
def test_chaos(chaos):
    assert httpx2.post("https://api.openai.com/v1/chat/completions", json={}).status_code == 429

def test_plain():
    transport_calls = []
    def handler(request):
        transport_calls.append(request)
        return httpx2.Response(204)
    # a real client with a real (mock) transport: chaoskit must not answer in its place
    with httpx2.Client(transport=httpx2.MockTransport(handler)) as client:
        assert client.get("https://api.openai.com/v1/models").status_code == 204
    import httpcore2
    assert not getattr(httpcore2.ConnectionPool.handle_request, "_mock_name", None)
""")
    result.assert_outcomes(passed=2)


def test_works_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_app=CLIENT + """
@pytest.mark.parametrize("n", range(6))
@pytest.mark.chaos("openai.unavailable", times=1)
def test_par(chaos, n):
    assert ask(oai(max_retries=1)).choices[0].message.content
    assert [c.status for c in chaos.calls] == [503, 200]
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--chaos-report=x.json")
    result.assert_outcomes(passed=6)
    data = json.loads((pytester.path / "x.json").read_text())
    assert len(data["tests"]) == 6
    assert {t["seed"] for t in data["tests"]} == {data["seed"]}  # the controller's seed in every worker
    result.stdout.fnmatch_lines([f"chaoskit: seed={data['seed']}"])


def test_loading_the_plugin_imports_no_http_library_or_sdk(pytester: pytest.Pytester) -> None:
    code = (
        "import sys, chaoskit.pytest_plugin; "
        "print(sorted(m for m in ('httpx', 'httpx2', 'httpcore', 'respx', 'yaml', 'openai', 'anthropic', 'anyio') if m in sys.modules))"
    )
    result = pytester.run(sys.executable, "-c", code)
    assert result.stdout.lines[-1] == "[]"


def test_report_header_shows_the_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--chaos-seed=31337")
    result.stdout.fnmatch_lines(["chaoskit: seed=31337"])


def test_async_test_with_the_fixture(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.anyio
@pytest.mark.chaos("anthropic.overloaded", times=1)
async def test_async(chaos):
    client = anthropic.AsyncAnthropic(api_key="x", timeout=FAST)
    chaos.reply("anthropic", "async hello")
    msg = await client.messages.create(
        model="claude-sonnet-4-6", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == "async hello"
    assert [c.status for c in chaos.calls] == [529, 200]
""")
    result.assert_outcomes(passed=1)


def test_router_mocks_other_http_apis_first(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import httpx2

def test_tools(chaos):
    chaos.router.get("https://tools.internal/stock").respond(503, json={"error": "down"})
    assert httpx2.get("https://tools.internal/stock").status_code == 503
    assert ask(oai()).choices[0].message.content  # providers still simulated
    assert not chaos.blocked
""")
    result.assert_outcomes(passed=1)


def test_a_fault_that_never_applied_is_a_warning(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("openai.stream.cut")
def test_unary_only(chaos):
    ask(oai())
""")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*ChaosWarning: chaoskit: openai.stream.cut never applied in test_app.py::test_unary_only: "
        "it acts only on streaming requests (stream=True) to openai",
    ])


# ---- sweeps, verdicts and reports -------------------------------------------------------------

SWEEP_APP = """
def answer():
    try:
        return ask(oai(max_retries=0)).choices[0].message.content or "fallback"
    except (openai.APIError, ValueError, AttributeError, TypeError):  # str bodies, missing choices
        return "fallback"
"""


def test_sweep_runs_one_case_per_fault_and_reports_not_exercised(pytester: pytest.Pytester) -> None:
    result = run(pytester, SWEEP_APP + """
@pytest.mark.chaos_sweep("openai.stream.c*", exclude=["*.unclean"])
def test_sweep(chaos):
    assert answer()

@pytest.mark.chaos_sweep("openai.malformed.*")
def test_malformed(chaos):
    assert answer()
""", "-rs", "-v")
    result.stdout.fnmatch_lines([
        "test_app.py::test_sweep[[]openai.stream.cut[]] SKIPPED*",
        "*test_app.py::test_malformed[[]openai.malformed.html[]] PASSED*",
    ])
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] test_app.py:*: chaoskit: not exercised: openai.stream.cut: it acts only on streaming requests (stream=True) to openai"])
    result.stdout.fnmatch_lines([
        "SKIPPED [[]1[]] test_app.py:*: chaoskit: not exercised: openai.malformed.tool_args_drift: it drifts "
        "tool-call arguments: set a tool call as the reply with chaos.reply('openai', tool_call(...))"
    ])
    result.assert_outcomes(passed=6, skipped=2)


def test_sweep_with_no_match_lists_what_exists(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos_sweep("cohere.*")
def test_x(chaos):
    pass
""")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.chaos_sweep on test_app.py::test_x: 'cohere.*' matches no catalog fault; the providers are anthropic, azure, bedrock, gemini, groq, http, huggingface, mcp, mistral, net, ollama, openai, tgi, tool, vllm (ids such as *"])


RETRY_LOOP = """
def test_impatient(chaos):
    chaos.inject("openai.rate_limit", times=2, retry_after=0.5)
    client = oai(max_retries=0)
    for _ in range(3):
        try:
            ask(client)
            break
        except openai.RateLimitError:
            continue
"""


def test_verdicts_are_reported_and_can_fail_the_test(pytester: pytest.Pytester) -> None:
    result = run(pytester, RETRY_LOOP, "--junitxml=junit.xml", "--chaos-html=out/report.html", "--chaos-seed=3")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["verdicts", "*1  retry_after_ignored  test_app.py::test_impatient", "chaoskit: report (HTML) of 1 chaos test(s) written to out/report.html"])
    html = (pytester.path / "out" / "report.html").read_text()
    assert "retry_after_ignored" in html and "test_impatient" in html
    junit = (pytester.path / "junit.xml").read_text()
    assert '<property name="chaoskit.seed" value="3"' in junit
    assert '<property name="chaoskit.verdicts" value="retry_after_ignored,no_backoff"' in junit
    assert '<property name="chaoskit.faults" value="openai.rate_limitx2"' in junit

    failing = run(pytester, RETRY_LOOP, "--chaos-verdicts=fail")
    failing.assert_outcomes(passed=1, errors=1)
    failing.stdout.fnmatch_lines([
        "*chaoskit verdicts on client behaviour (--chaos-verdicts=fail):",
        "*  - retry_after_ignored: *",
    ])


def test_json_report_follows_the_documented_schema(pytester: pytest.Pytester) -> None:
    result = run(pytester, RETRY_LOOP, "--chaos-report=r.json")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["schema"] == "chaoskit.report/1"
    assert set(data) >= {"schema", "seed", "chaos_off", "created", "duration", "tests"}
    [test] = data["tests"]
    assert set(test) >= {"nodeid", "outcome", "seed", "sweep", "faults", "fired", "verdicts", "calls", "longrepr", "duration"}
    assert test["fired"] == {"openai.rate_limit": 2} and test["faults"] == ["openai.rate_limit"]
    assert {v["name"] for v in test["verdicts"]} == {"retry_after_ignored", "no_backoff"}


# ---- faults on other seams: URL patterns, targets, set-up errors ------------------------------


def test_marker_takes_a_url_for_http_faults(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("http.unavailable", url="https://crm.internal/*")
def test_crm_down(chaos):
    chaos.reply_http("https://crm.internal/*", json={"ok": True})
    assert httpx2.get("https://crm.internal/customers/7").status_code == 503
    assert chaos.calls[0].fault == "http.unavailable"
""")
    result.assert_outcomes(passed=1)


def test_a_url_pattern_that_matches_nothing_fails_the_test_and_lists_the_requests(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
@pytest.mark.chaos("http.unavailable", url="https://crm.internl/*")
def test_typo(chaos):
    chaos.reply_http("https://crm.internal/*", json={"ok": True})
    assert httpx2.get("https://crm.internal/customers/7").json() == {"ok": True}
""")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*chaoskit: injected faults that never fired, because nothing matched them:",
        "*  - http.unavailable on url='https://crm.internl/*'",
        "*  HTTP requests this test made:",
        "*    GET https://crm.internal/customers/7",
        "*Check the url pattern or target, or remove the injection.",
    ])


def test_a_target_never_called_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(tools_app="def lookup(order_id):\n    return {'order_id': order_id}\n")
    result = run(pytester, """
def test_never_called(chaos):
    chaos.inject("tool.raise", target="tools_app:lookup")
""")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*  - tool.raise on target='tools_app:lookup'",
        "*  This test made no HTTP request.",
    ])


def test_a_swallowed_set_up_error_still_fails_the_test(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
def test_swallowed(chaos):
    chaos.reply_http("https://crm.internal/*", json={"customer": {"id": 7}})
    chaos.inject("http.schema_drift", url="https://crm.internal/*", variant="renamed", path="customer.email")
    try:
        httpx2.get("https://crm.internal/customers/7")
    except Exception:
        pass  # an app that hides every error
""")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*chaoskit could not apply an injected fault (the code under test may have swallowed the error):",
        "*  - schema drift path='customer.email' names nothing in GET https://crm.internal/customers/7; its fields: customer, customer.id",
    ])


def test_sweep_over_the_http_catalog_on_a_url(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import json

def customer_name():
    try:
        r = httpx2.get("https://crm.internal/customers/7", timeout=0.2)
        r.raise_for_status()
        name = r.json()["customer"]["name"]
        return name if isinstance(name, str) and "NOTICE" not in name else "there"
    except (httpx2.HTTPError, ValueError, KeyError, TypeError):
        return "there"

@pytest.mark.chaos_sweep("http.*", url="https://crm.internal/*", exclude=["http.cold_start", "http.latency"])
def test_crm(chaos, chaos_sweep_fault):
    chaos.reply_http("https://crm.internal/*", json={"customer": {"name": "Ada"}})
    assert customer_name()  # a drift may change the name itself; the app must still answer
    assert chaos.calls[0].fault == chaos_sweep_fault
""", "-q")
    result.assert_outcomes(passed=len(__import__("chaoskit").faults.ids("http.*")) - 2)

"""Loading scenario files: the model built from a valid file, and every problem of a bad one, exactly."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from chaoskit import Schedule
from chaoskit.scenario import (
    Blackout,
    FaultSpec,
    HttpCheck,
    Match,
    Phase,
    Problem,
    Scenario,
    ScenarioError,
    StatusRanges,
    Upstream,
    load,
    loads,
    production_refusal,
)

BASE = """\
title: t
target: {url: http://app.test}
proxy:
  upstreams: {openai: http://openai.test, anthropic: http://anthropic.test}
steady_state:
  - {name: health, type: http, url: /healthz, mode: continuous}
method:
  - name: p1
    duration: 60
    faults:
      - fault: openai.server_error
"""


def scenario(text: str, env: dict[str, str] | None = None) -> Scenario:
    return loads(textwrap.dedent(text), file="s.yaml", env=env or {})


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        scenario(text, env)
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


# ---- a valid file ------------------------------------------------------------------------------


def test_a_full_scenario_becomes_the_model(tmp_path: Path) -> None:
    (tmp_path / "convs.yaml").write_text("- [hi]\n")
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""\
        title: Outage
        description: OpenAI down
        tags: [a, b]
        target: {url: "http://app.test/", environment: staging}
        seed: 7
        variables: {PORT: 81}
        proxy:
          token: secret
          upstreams:
            openai: http://openai.test/
            gw: {url: "http://gateway.test:${PORT}", provider: anthropic}
        toxiproxy: http://127.0.0.1:8474
        steady_state:
          - name: health
            type: http
            url: /healthz
            mode: continuous
            interval: 250ms
            timeout: 2s
            window: {span: 1m, success_ratio: 0.9, latency_percentile: {below: 2s}}
        method:
          - name: baseline
            duration: 30s
            pause_after: 10
          - name: down
            duration: 2m
            faults:
              - fault: openai.latency
                params: {seconds: 5}
                rate: 0.5
                window: [10s, null]
                match: {percent: 50, headers: {x-chaos-target: synthetic}, models: ["gpt-4o*"], routes: [/v1/*]}
              - fault: anthropic.overloaded
                sequence: [fail, pass]
                ttl: 5m
            toxics:
              - {name: pg, listen: "127.0.0.1:25432", upstream: "127.0.0.1:5432", type: latency, attributes: {latency: 100}}
          - name: later
            start: 1h
            duration: 1
        stop_conditions:
          - {probe: health, success_ratio_below: 0.8, held_for: 20s}
        safety:
          max_duration: 2h
          max_active_faults: 3
          blackout: [{days: [fri], start: 22:00, end: 06:00}]
          kill_switch: /tmp/stop
        load: {users: 4, duration: 5m, conversations: convs.yaml}
        report: {directory: out, formats: [json]}
        """))
    s = load(path, env={})
    assert (s.file, s.title, s.description, s.tags, s.seed, dict(s.variables)) == (path, "Outage", "OpenAI down", ("a", "b"), 7, {"PORT": "81"})
    assert (s.target.url, s.target.environment, s.target.allow_production) == ("http://app.test", "staging", False)
    assert s.proxy is not None and (s.proxy.listen, s.proxy.control, s.proxy.token, s.proxy.url) == (
        "127.0.0.1:8080", "127.0.0.1:8475", "secret", None)
    assert s.proxy.control_url == "http://127.0.0.1:8475"
    assert dict(s.proxy.upstreams) == {"openai": Upstream("openai", "http://openai.test", "openai"),
                                       "gw": Upstream("gw", "http://gateway.test:81", "anthropic")}
    assert s.toxiproxy == "http://127.0.0.1:8474"
    [health] = s.steady_state
    assert (health.mode, health.interval, health.timeout, health.attempts) == ("continuous", 0.25, 2.0, 1)
    assert isinstance(health.check, HttpCheck) and health.check.url == "http://app.test/healthz"
    assert health.window is not None and (health.window.span, health.window.success_ratio) == (60.0, 0.9)
    assert health.window.latency_percentile is not None
    assert (health.window.latency_percentile.percentile, health.window.latency_percentile.below) == (95, 2.0)
    baseline, down, later = s.method
    assert baseline == Phase("baseline", 0.0, 30.0, 10.0, (), ())
    assert (down.start, down.end, later.start) == (40.0, 160.0, 3600.0)
    latency, overloaded = down.faults
    assert latency == FaultSpec(
        fault="openai.latency", params=latency.params, rate=0.5, times=None, after=0, window=(10.0, None), sequence=None,
        ttl=150.0, upstream="openai",
        match=Match(50.0, latency.match.headers, ("gpt-4o*",), ("/v1/*",)))
    assert dict(latency.params) == {"seconds": 5} and dict(latency.match.headers) == {"x-chaos-target": "synthetic"}
    assert latency.resolve().params["seconds"] == 5
    assert latency.schedule() == Schedule(rate=0.5, window=(10.0, None))
    assert (overloaded.upstream, overloaded.sequence, overloaded.ttl) == ("gw", (True, False), 300.0)
    [toxic] = down.toxics
    assert toxic.toxic().body() == {"name": "latency_downstream", "type": "latency", "stream": "downstream",
                                    "toxicity": 1.0, "attributes": {"latency": 100, "jitter": 0}}
    [stop] = s.stop_conditions
    assert (stop.probe, stop.success_ratio_below, stop.span, stop.held_for) == ("health", 0.8, 60.0, 20.0)
    assert s.safety.max_duration == 7200 and s.safety.max_active_faults == 3
    assert s.safety.blackout == (Blackout((4,), dt.time(22), dt.time(6)),)
    assert s.safety.kill_switch == Path("/tmp/stop")
    assert s.load is not None and (s.load.users, s.load.spawn_rate, s.load.duration, s.load.path) == (4, 4.0, 300.0, "/chat")
    assert s.load.conversations_file == tmp_path / "convs.yaml" and s.load.conversations == ()
    assert (s.report.directory, s.report.formats) == (Path("out"), ("json",))
    assert (s.duration, len(s.faults), len(s.toxics), s.probe("health")) == (3601.0, 2, 1, health)


def test_defaults() -> None:
    s = scenario(BASE)
    assert s.seed is None and s.load is None and s.rollback == () and s.stop_conditions == ()
    assert (s.safety.max_duration, s.safety.max_active_faults, s.safety.kill_switch) == (3600.0, 10, None)
    assert (s.report.directory, s.report.formats) == (Path("chaoskit-reports"), ("json", "junit", "html"))
    [probe] = s.steady_state
    assert (probe.interval, probe.timeout, probe.attempts, probe.eventually_within, probe.window) == (5.0, 10.0, 1, None, None)
    assert isinstance(probe.check, HttpCheck) and probe.check.method == "GET"
    assert probe.check.expect.status == StatusRanges(((200, 399),))
    [fault] = s.faults
    assert (fault.rate, fault.times, fault.after, fault.ttl, fault.upstream, fault.match) == (1.0, None, 0, 90.0, "openai", Match())


def test_yaml_12_scalars_times_stay_text_and_leading_zeros_are_decimal() -> None:
    s = scenario(BASE + "safety:\n  max_active_faults: 010\n  blackout: [{start: 22:00, end: 06:30, days: [sat]}]\n")
    assert s.safety.max_active_faults == 10
    assert s.safety.blackout[0].start == dt.time(22) and s.safety.blackout[0].end == dt.time(6, 30)


def test_anchors_and_merge_keys() -> None:
    s = scenario(BASE.replace("      - fault: openai.server_error\n", """\
      - &f {fault: openai.server_error, rate: 0.5, match: {percent: 10}}
      - {<<: *f, fault: openai.rate_limit}
"""))
    assert [(f.fault, f.rate, f.match.percent) for f in s.faults] == [
        ("openai.server_error", 0.5, 10.0), ("openai.rate_limit", 0.5, 10.0)]


# ---- variables ------------------------------------------------------------------------------------


def test_variables_environment_then_section_then_inline_default() -> None:
    text = BASE.replace("title: t", "title: ${TITLE:-inline}\nvariables: {TITLE: declared, SEED: 3}\nseed: ${SEED}")
    assert scenario(text).title == "declared"
    assert scenario(text, {"TITLE": "env"}).title == "env"
    assert scenario(BASE.replace("title: t", "title: ${TITLE:-inline}")).title == "inline"
    assert scenario(text).seed == 3  # a plain scalar that is one reference takes its value's type


def test_an_empty_variable_takes_the_default_only_with_the_colon_dash_form() -> None:
    text = BASE.replace("title: t", 'title: "${A:-x}"\ndescription: "[${A}]"')
    s = scenario(text, {"A": ""})
    assert (s.title, s.description) == ("x", "[]")


def test_quoted_references_stay_strings_and_escapes_stay_literal() -> None:
    assert problems(BASE + 'seed: "${SEED:-3}"\n') == ["s.yaml:12: seed: expected a whole number, got '3'"]
    s = scenario(BASE.replace("title: t", "title: cost $5 and $${HOME} and ${A}${B}"), {"A": "1", "B": "2"})
    assert s.title == "cost $5 and ${HOME} and 12"


def test_unset_variable_is_a_problem_with_its_line_and_field() -> None:
    assert problems(BASE.replace("{url: http://app.test}", "\n  url: ${APP_URL}")) == [
        "s.yaml:3: target.url: variable 'APP_URL' is not set and has no default: set it in the environment, "
        "give a default (${APP_URL:-value}) or declare it under variables",
    ]


def test_bad_references() -> None:
    assert problems(BASE.replace("title: t", 'title: ${A-b}\ndescription: ${A:-${B}}\ntags: ["x${"]')) == [
        "s.yaml:1: title: bad variable reference '${A-b}': write ${NAME} or ${NAME:-default} (and $${ for a literal ${)",
        "s.yaml:2: description: bad variable reference '${A:-${B}': write ${NAME} or ${NAME:-default} (and $${ for a literal ${)",
        "s.yaml:3: tags[0]: bad variable reference '${': write ${NAME} or ${NAME:-default} (and $${ for a literal ${)",
    ]


def test_a_reference_in_a_flow_collection_must_be_quoted() -> None:
    assert problems(BASE.replace("{url: http://app.test}", "{url: ${APP}}")) == [
        "s.yaml:2: expected ',' or '}', but got '{' (while parsing a flow mapping on line 2); "
        "inside [...] or {...}, quote a value that uses ${VAR}",
    ]


# ---- the file itself ------------------------------------------------------------------------------


def test_bad_yaml_gives_the_parsers_message_and_line() -> None:
    assert problems("title: t\ntarget:\n  url: http://a\n bad: indent\n") == [
        "s.yaml:4: expected <block end>, but found '<block mapping start>' (while parsing a block mapping on line 1)",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("", "s.yaml:1: the file is empty; a scenario needs at least title, target and method"),
    ("- a\n", "s.yaml:1: expected a mapping, got a list"),
])
def test_empty_file_and_wrong_top_level(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: no such file"
    assert caught.value.problems == [Problem(str(tmp_path / "nope.yaml"), 0, "", "no such file")]


def test_duplicate_keys_aliases_and_tags() -> None:
    assert problems(BASE + "title: again\nseed: !!binary abc\ntags: &a [x, *a]\n") == [
        "s.yaml:12: title: duplicate field 'title' (first on line 1)",
        "s.yaml:13: seed: unsupported YAML tag 'tag:yaml.org,2002:binary'",
        "s.yaml:14: tags[1]: an alias refers to a value that contains it",
    ]


# ---- the schema's problems --------------------------------------------------------------------------


def test_misspelt_fields_everywhere_get_a_suggestion() -> None:
    text = BASE.replace("title: t", "titel: t").replace("duration: 60", "duraton: 60") \
        .replace("- fault: openai.server_error", "- fault: openai.server_error\n        rat: 0.5") \
        .replace("mode: continuous}", "mode: continuous, urll: /x}")
    assert problems(text) == [
        "s.yaml:1: missing field 'title'",
        "s.yaml:1: titel: unknown field 'titel'; did you mean 'title'?",
        "s.yaml:6: steady_state[0].urll: unknown field 'urll'; did you mean 'url'?",
        "s.yaml:8: method[0]: missing field 'duration'",
        "s.yaml:9: method[0].duraton: unknown field 'duraton'; did you mean 'duration'?",
        "s.yaml:12: method[0].faults[0].rat: unknown field 'rat'; did you mean 'rate'?",
    ]


def test_an_unknown_probe_type_is_one_problem() -> None:
    assert problems(BASE.replace("type: http", "type: htp")) == [
        "s.yaml:6: steady_state[0].type: 'htp' is not one of: http, conversation, python, prometheus; did you mean 'http'?",
    ]


def test_type_pattern_and_range_messages() -> None:
    text = BASE.replace("duration: 60", "duration: 5 min").replace("{url: http://app.test}", "{url: ftp://x}") \
        .replace("- fault: openai.server_error", "- fault: openai.server_error\n        rate: 2\n        times: -1") \
        + "safety: {blackout: [{start: '25:00', end: 06:00}]}\nseed: true\n"
    assert problems(text) == [
        "s.yaml:2: target.url: 'ftp://x': must be an http:// or https:// URL",
        "s.yaml:9: method[0].duration: '5 min': must be a duration: seconds, or a string such as 250ms, 30s, 5m, 1h",
        "s.yaml:12: method[0].faults[0].rate: 2 must be at most 1",
        "s.yaml:13: method[0].faults[0].times: -1 must be at least 0",
        "s.yaml:14: safety.blackout[0].start: '25:00': must be a time of day HH:MM, such as 22:00",
        "s.yaml:15: seed: expected a whole number, got true",
    ]


def test_names_of_variables_headers_and_upstreams() -> None:
    text = BASE.replace("anthropic: http://anthropic.test}", "'anth ropic': http://anthropic.test}") \
        + 'variables: {1X: a, OK: [1]}\nload: {users: 1, duration: 1, headers: {"bad header": x}}\n'
    assert problems(text) == [
        "s.yaml:4: proxy.upstreams.anth ropic: 'anth ropic' is not a valid name: an upstream name is letters, digits, _, . and -",
        "s.yaml:12: variables.1X: '1X' is not a valid name: a variable name is letters, digits and _, and does not start with a digit",
        "s.yaml:12: variables.OK: expected a string, a number or true or false, got a list",
        "s.yaml:13: load.headers.bad header: 'bad header' is not a valid name: an HTTP header name has no spaces or separators",
    ]


def test_alternatives_report_the_branch_that_fits() -> None:
    text = BASE.replace("anthropic: http://anthropic.test}", "anthropic: {url: http://a.test, provder: anthropic}}") \
        + "load: {users: 1, duration: 1, conversations: [[]]}\n"
    assert problems(text) == [
        "s.yaml:4: proxy.upstreams.anthropic.provder: unknown field 'provder'; did you mean 'provider'?",
        "s.yaml:12: load.conversations[0]: needs at least 1 item",
    ]


# ---- the checks beyond the schema ------------------------------------------------------------------


def test_unknown_fault_id_and_bad_parameters() -> None:
    text = BASE.replace("- fault: openai.server_error", """\
- fault: openai.rate_limt
      - fault: openai.latency
        params: {seconds: abc, secnds: 3}""")
    assert problems(text) == [
        "s.yaml:11: method[0].faults[0].fault: unknown fault id 'openai.rate_limt'; did you mean 'openai.rate_limit'?",
        "s.yaml:13: method[0].faults[1].params.secnds: fault 'openai.latency' has no parameter 'secnds'; its parameters "
        "are: jitter, seconds; did you mean 'seconds'?",
        "s.yaml:13: method[0].faults[1].params.seconds: fault 'openai.latency': seconds='abc' must be a number >= 0",
    ]


def test_a_fault_id_is_checked_even_when_its_spec_has_a_typo() -> None:
    text = BASE.replace("- fault: openai.server_error", "- fault: openai.server_eror\n        rat: 1")
    assert problems(text) == [
        "s.yaml:11: method[0].faults[0].fault: unknown fault id 'openai.server_eror'; did you mean 'openai.server_error'?",
        "s.yaml:12: method[0].faults[0].rat: unknown field 'rat'; did you mean 'rate'?",
    ]


def test_schedules_are_checked_by_schedule_itself() -> None:
    text = BASE.replace("- fault: openai.server_error", "- fault: openai.server_error\n        window: [30, 10]\n"
                        "      - fault: openai.rate_limit\n        window: [60, null]")
    assert problems(text) == [
        "s.yaml:11: method[0].faults[0]: window=(30.0, 10.0) must be (start, end) seconds with 0 <= start <= end, "
        "or (start, None) for no end",
        "s.yaml:14: method[0].faults[1].window: starts at 60 s, when the phase (60 s) is over: the fault would never fire",
    ]


def test_faults_that_do_not_act_on_http_traffic() -> None:
    text = BASE.replace("- fault: openai.server_error", "- fault: tool.raise\n      - fault: net.latency")
    assert problems(text) == [
        "s.yaml:11: method[0].faults[0].fault: 'tool.raise' acts on Python callables inside a process; "
        "a scenario's faults act on HTTP traffic through the chaos proxy",
        "s.yaml:12: method[0].faults[1].fault: 'net.latency' acts on TCP connections (put it under toxics); "
        "a scenario's faults act on HTTP traffic through the chaos proxy",
    ]


def test_upstreams() -> None:
    text = BASE.replace("- fault: openai.server_error", """\
- fault: gemini.server_error
      - fault: anthropic.overloaded
        upstream: anthropc
      - fault: anthropic.overloaded
        upstream: openai
      - fault: http.server_error
        upstream: openai""")
    assert problems(text) == [
        "s.yaml:11: method[0].faults[0]: no upstream serves gemini for 'gemini.server_error': add one to proxy.upstreams "
        "(e.g. gemini: URL, or provider: gemini), or name one with upstream:",
        "s.yaml:13: method[0].faults[1].upstream: no upstream 'anthropc' in proxy.upstreams (openai, anthropic); "
        "did you mean 'anthropic'?",
        "s.yaml:15: method[0].faults[2].upstream: 'anthropic.overloaded' is a fault of anthropic, but upstream 'openai' serves openai",
    ]
    two = BASE.replace("anthropic: http://anthropic.test}", "backup: {url: http://b.test, provider: openai}}")
    assert problems(two) == ["s.yaml:11: method[0].faults[0]: upstreams openai, backup all serve openai: say which with upstream:"]
    unknown = BASE.replace("anthropic: http://anthropic.test}", "x: {url: http://b.test, provider: opnai}}")
    assert problems(unknown)[0].startswith(
        "s.yaml:4: proxy.upstreams.x.provider: unknown provider 'opnai'; the catalog's are: anthropic, azure, ")
    assert problems(unknown)[0].endswith("; did you mean 'openai'?")


def test_faults_need_a_proxy_and_a_running_proxy_needs_no_upstreams() -> None:
    no_proxy = BASE.replace("proxy:\n  upstreams: {openai: http://openai.test, anthropic: http://anthropic.test}\n", "")
    assert problems(no_proxy) == [
        "s.yaml:9: method[0].faults[0]: faults act through the chaos proxy: add a proxy section "
        "(upstreams to start one, or url of one that is running)",
    ]
    running = scenario(no_proxy + "proxy: {url: 'http://127.0.0.1:9999', token: t}\n")
    assert running.proxy is not None and running.proxy.control_url == "http://127.0.0.1:9999"
    assert running.faults[0].upstream is None


def test_phases_out_of_order_overlapping_and_over_the_limits() -> None:
    text = BASE + """\
  - name: p2
    start: 30s
    duration: 50m
    faults:
      - fault: openai.server_error
      - fault: openai.server_error
        match: {percent: 50}
      - fault: anthropic.overloaded
  - name: p3
    start: 10s
    duration: 1
safety: {max_duration: 50m, max_active_faults: 3}
"""
    assert problems(text) == [
        "s.yaml:12: method[1]: 4 faults and toxics are active at 30 s (phases 'p1', 'p2'), more than safety.max_active_faults (3)",
        "s.yaml:12: method[1]: the method runs until 3030 s, past safety.max_duration (3000 s)",
        "s.yaml:16: method[1].faults[0].fault: 'openai.server_error' on upstream 'openai' is already injected by phase "
        "'p1' (0 s-60 s), which overlaps this one (30 s-3030 s): one injection at a time",
        "s.yaml:21: method[2].start: starts at 10 s, before the phase listed before it ('p2', at 30 s): "
        "list phases in the order they start",
    ]


def test_toxics() -> None:
    text = BASE + """\
    toxics:
      - {name: pg, listen: "127.0.0.1:1", upstream: "127.0.0.1:2", type: latency, attributes: {latncy: 5}}
      - {name: pg, listen: "127.0.0.1:1", upstream: "127.0.0.1:2", type: latency}
  - name: p2
    toxics:
      - {name: pg, listen: "127.0.0.1:3", upstream: "127.0.0.1:2", type: bandwidth, attributes: {rate: 1}}
    duration: 1
"""
    assert problems(text) == [
        "s.yaml:13: method[0].toxics[0].attributes.latncy: toxic 'latency' has no attribute 'latncy'; "
        "its attributes are: latency, jitter; did you mean 'latency'?",
        "s.yaml:14: method[0].toxics[1].type: a latency toxic (downstream) on 'pg' is in this phase twice: one injection at a time",
        "s.yaml:17: method[1].toxics[0].name: proxy 'pg' is 127.0.0.1:1 -> 127.0.0.1:2 on line 13, "
        "here 127.0.0.1:3 -> 127.0.0.1:2: give each address pair its own name",
    ]


def test_probe_checks() -> None:
    text = BASE.replace("  - {name: health, type: http, url: /healthz, mode: continuous}\n", """\
  - name: a
    type: http
    url: healthz
    json: {x: 1}
    body: raw
    expect:
      status: 399-200
      json: [{path: "$.a[x]", equals: 1}, {path: $.b, matches: "("}]
  - name: a
    type: conversation
    window: {success_ratio: 0.9}
    reply: $..x
    turns: [{user: hi, expect: {handoff: true}}]
""") + "rollback:\n  - {name: r, type: prometheus, url: /m, metric: m, expect: {lt: 1}}\n"
    assert problems(text) == [
        "s.yaml:8: steady_state[0].url: 'healthz' must be a path that starts with / or an http:// or https:// URL",
        "s.yaml:10: steady_state[0].body: give json or body, not both",
        "s.yaml:12: steady_state[0].expect.status: '399-200' is an empty range: write the lower status first",
        "s.yaml:13: steady_state[0].expect.json[0].path: '$.a[x]' is not a JSON path: cannot read '[x]' "
        "(write $.key, [0] or ['odd key'])",
        "s.yaml:13: steady_state[0].expect.json[1].matches: '(' is not a regular expression: missing ), unterminated subpattern at position 0",
        "s.yaml:14: steady_state[1].name: probe name 'a' is used twice (first on line 6)",
        "s.yaml:16: steady_state[1].window: a window is filled by repeated runs: it needs mode continuous or during_fault, not both",
        "s.yaml:17: steady_state[1].reply: '$..x' is not a JSON path: cannot read '..x' (write $.key, [0] or ['odd key'])",
        "s.yaml:18: steady_state[1].turns[0].expect.handoff: expect.handoff needs the probe's handoff_marker "
        "(the text that shows a person took over)",
        "s.yaml:25: rollback[0].type: a rollback action is an http or python probe, not prometheus",
    ]


def test_stop_conditions() -> None:
    text = BASE.replace("mode: continuous}", "mode: continuous}\n  - {name: once, type: python, callable: 'os:getcwd'}") + """\
stop_conditions:
  - probe: helth
  - probe: once
  - {probe: health, percentile: 90}
"""
    assert problems(text) == [
        "s.yaml:14: stop_conditions[0].probe: no steady_state probe is called 'helth'; did you mean 'health'?",
        "s.yaml:15: stop_conditions[1].probe: probe 'once' runs only before and after the method (mode both): "
        "a stop condition watches a probe with mode continuous or during_fault",
        "s.yaml:16: stop_conditions[2].percentile: percentile goes with latency_above",
    ]


def test_load_checks(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(BASE + "load: {users: 2, duration: 2h, conversations: convs.yaml}\n")
    with pytest.raises(ScenarioError) as caught:
        load(path, env={})
    assert [str(p).replace(str(tmp_path), "T") for p in caught.value.problems] == [
        "T/s.yaml:12: load.conversations: no such file: T/convs.yaml",
        "T/s.yaml:12: load.duration: 7200 s is past safety.max_duration (3600 s)",
    ]
    assert problems(BASE + "load: {users: 2, duration: 1, path: chat}\n") == [
        "s.yaml:12: load.path: 'chat': must be a path that starts with /"]


def test_all_problems_are_collected_in_line_order() -> None:
    text = BASE.replace("title: t", "title: t\nseed: -1").replace("openai.server_error", "openai.server_eror") \
        + "stop_conditions: [{probe: nope}]\n"
    assert [p.split(":")[1] for p in problems(text)] == ["2", "12", "13"]


# ---- production -----------------------------------------------------------------------------------


def test_a_production_target_needs_allow_production() -> None:
    text = BASE.replace("{url: http://app.test}", "{url: http://app.test, environment: Prod}")
    assert problems(text) == [
        "s.yaml:2: target.environment: the target is 'Prod': a scenario runs against production only with "
        "target.allow_production: true (and --i-accept-production-risk on the command line)",
    ]


def test_production_refusal() -> None:
    staging = scenario(BASE)
    allowed = scenario(BASE.replace("{url: http://app.test}", "{url: http://app.test, environment: production, allow_production: true}"))
    assert production_refusal(staging, accepted=False) is None
    assert production_refusal(allowed, accepted=False) == (
        "refusing to run: the target is 'production'; the scenario allows it, and the command line must accept "
        "it too: --i-accept-production-risk")
    assert production_refusal(allowed, accepted=True) is None
    from dataclasses import replace

    not_allowed = replace(allowed, target=replace(allowed.target, allow_production=False))
    assert production_refusal(not_allowed, accepted=True) == (
        "refusing to run: the target is 'production' and the scenario does not allow it "
        "(set target.allow_production: true, and run with --i-accept-production-risk)")


# ---- problems -------------------------------------------------------------------------------------


def test_problem_text() -> None:
    assert str(Problem("x.yaml", 12, "a.b", "bad", "good")) == "x.yaml:12: a.b: bad; did you mean 'good'?"
    assert str(Problem("x.yaml", 3, "", "bad")) == "x.yaml:3: bad"
    assert str(Problem("x.yaml", 0, "", "no such file")) == "x.yaml: no such file"

"""``chaos_sweep("*.model.*")``: every model-misbehaviour fault as a test case, through the plugin.

A careless app (shows whatever text the answer has) under the sweep: the cases its request gives
a fault something to act on run, the others are reported as not exercised with the reason, and
the refusal's case carries the ``refusal_shown`` verdict, the empty answer's ``ungraceful_shown``."""

from __future__ import annotations

import pytest

APP = '''
import openai
import pytest

ASK = [{"role": "system", "content": "You are Acme's assistant."}, {"role": "user", "content": "Where is my order?"}]


def answer():
    message = openai.OpenAI(api_key="sk-test", max_retries=0).chat.completions.create(model="gpt-4o-mini", messages=ASK).choices[0].message
    return message.content or message.refusal or ""


@pytest.mark.chaos_sweep("openai.model.*")
def test_sweep(chaos):
    chaos.shown(answer())
'''


def test_the_sweep_makes_a_case_per_model_fault_and_says_why_one_is_not_exercised(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs", "-v", "--chaos-verdicts=fail")
    result.stdout.fnmatch_lines([
        "SKIPPED [[]1[]] test_app.py:*: chaoskit: not exercised: openai.model.schema_violation: it breaks the request's "
        "own schema, and no request had one (a response_format json_schema, output_config format, responseSchema, or a "
        "tool whose schema has fields)",
        "SKIPPED [[]1[]] test_app.py:*: chaoskit: not exercised: openai.model.tool_loop: it calls one of the request's "
        "tools, and no request to openai offered any (or each loop had reached its limit of 25 rounds)",
    ])
    result.stdout.fnmatch_lines(["*refusal_shown: call #0's model refused*"])
    result.stdout.fnmatch_lines(["*ungraceful_shown: user text #0: the text is blank: ''"])  # model.empty's case
    result.assert_outcomes(passed=7, errors=2, skipped=2)  # the refusal's and the empty answer's cases error at teardown

"""The reports name the SDKs and frameworks a run was made on (issue 18, point 4).

What an SDK raises for a failure changes between versions, so the terminal summary, the JSON and
HTML reports and the JUnit properties say which versions made the calls: SDKs by the user-agent
they send, frameworks by being imported.
"""

from __future__ import annotations

import importlib.metadata
import json
import xml.etree.ElementTree as ET

import pytest

from chaoskit._software import client_of, software_line

pytest_plugins = ("pytester",)

OPENAI = importlib.metadata.version("openai")
ANTHROPIC = importlib.metadata.version("anthropic")
PYDANTIC_AI = importlib.metadata.version("pydantic-ai-slim")


@pytest.mark.parametrize(("headers", "client"), [
    ({"user-agent": "OpenAI/Python 3.60.0", "x-stainless-package-version": "3.60.0"}, ("openai", "3.60.0")),
    ({"User-Agent": "Anthropic/Python 2.17.0"}, ("anthropic", "2.17.0")),
    ({"x-goog-api-client": "google-genai-sdk/3.6.1 gl-python/3.11.7"}, ("google-genai", "3.6.1")),
    ({"user-agent": "Boto3/1.44.18 md/Botocore#1.44.18 ua/2.1 os/linux"}, ("boto3", "1.44.18")),
    ({"user-agent": "unknown/None; hf_hub/2.4.0; python/3.11.7"}, ("huggingface_hub", "2.4.0")),
    ({"user-agent": "Agents/Python 0.24.0", "x-stainless-package-version": "3.63.0"}, ("openai", "3.63.0")),
    ({"user-agent": "langchain-anthropic/1.7.10", "x-stainless-package-version": "2.17.0", "anthropic-version": "2023-06-01"},
     ("anthropic", "2.17.0")),
    ({"user-agent": "pydantic-ai/2.78.0", "x-stainless-package-version": "3.60.0"}, ("openai", "3.60.0")),
    ({"User-Agent": "pydantic-ai/2.78.0", "X-Stainless-Package-Version": "2.17.0", "anthropic-version": "2023-06-01"},
     ("anthropic", "2.17.0")),
    ({"user-agent": "python-httpx/0.28.1"}, None),
    ({}, None),
])
def test_an_sdk_is_known_by_the_headers_it_sends(headers: dict[str, str], client: tuple[str, str] | None) -> None:
    assert client_of(headers) == client


APP = '''
import anthropic
import openai
import pytest


@pytest.mark.chaos("openai.server_error")
def test_falls_back(chaos):
    import pydantic_ai  # a framework in the process: named beside the SDKs

    try:
        openai.OpenAI(api_key="sk-test", max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    except openai.APIError:
        anthropic.Anthropic(api_key="sk-ant-test").messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "hi"}])


def test_no_model_calls(chaos):
    pass
'''


def test_the_summary_the_reports_and_junit_name_the_versions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-report=r.json", "--chaos-html=r.html",
                                           "--junitxml=j.xml")
    result.assert_outcomes(passed=2)
    line = f"anthropic {ANTHROPIC}, openai {OPENAI}, pydantic-ai-slim {PYDANTIC_AI}"
    result.stdout.fnmatch_lines([f"SDKs and frameworks that made calls: {line}"])
    document = json.loads((pytester.path / "r.json").read_text())
    assert document["software"] == {"anthropic": ANTHROPIC, "openai": OPENAI, "pydantic-ai-slim": PYDANTIC_AI}
    assert [t["software"] for t in document["tests"]] == [document["software"], {}]
    assert f"on <b>{line}</b>" in (pytester.path / "r.html").read_text()
    cases = ET.parse(pytester.path / "j.xml").getroot().iter("testcase")
    props = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    assert [p.get("chaoskit.software") for p in props] == [line, None]


def test_the_line_lists_name_and_version() -> None:
    assert software_line({"anthropic": "2.17.0", "openai": "3.60.0"}) == "anthropic 2.17.0, openai 3.60.0"

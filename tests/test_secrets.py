"""No planted secret reaches any artifact: a real pytest run (in a subprocess) plants every kind
of secret through the real SDKs and clients, fails one test so the journal is printed, and writes
the JSON report, the HTML report and the JUnit XML; each planted value is then looked for in
every artifact and in the terminal output.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: name -> a planted value; the values are made up but shaped like the real thing.
SECRETS = {
    "openai key (Authorization: Bearer)": "sk-proj-Qm3vT8xK2pL9wR4nY7cJ1hF6dS0aZ5bN8eU3iO2g",
    "anthropic key (x-api-key)": "sk-ant-api03-Vb7Nq2Lx9Kp4Wm6Rt1Hy8Jd3Fs5Gz0Ac-QwErTy",
    "google key (x-goog-api-key)": "AIzaSyD4fK9mQ2xL7pW1nR8tY3vB6cJ0hG5sE2a",
    "google key in the URL (?key=)": "AIzaSyZ8uT3kP0qN5wM2xR7vL4cH9jB1fD6gA3e",
    "aws access key id": "AKIAZ7QW3ER5TY8UI2OP",
    "aws session token (x-amz-security-token)": "IQoJb3JpZ2luX2VjEKz8Sess10nT0kenValue7Hq",
    "X-Goog-Api-Key header": "acme-live-7f3e9a1c5b2d8e4f6a0c",
    "Api-Key header": "azure-key-0c4b8e2f6a1d9c3e7b5f",
    "X-API-KEY header (upper case)": "upper-hdr-9a8b7c6d5e4f3a2b1c0d",
    "X-Auth-Token header": "xauth-tok-1234abcd5678efgh9012",
    "Cookie header": "sessionid=cookie-val-55aa66bb77cc88dd",
    "Proxy-Authorization header": "proxy-cred-3e5f7a9b1c2d4e6f8a0b",
    "bearer token (requests)": "opaque-bearer-4b6d8f0a2c4e6a8c0e2f",
    "JWT in an unnamed header": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJlLWJ5dGVzLWhlcmU",
    "body apiKey": "body-apikey-8e1f4a7b0c3d6e9f2a5b",
    "body password": "hunter2-body-password-xyz",
    "body access_token": "ya29.access-token-a1b2c3d4e5f6g7h8",
    "body client_secret": "GOCSPX-client-secret-0011223344",
    "body refresh_token": "1//refresh-token-aa11bb22cc33dd44",
    "body private_key": "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkq-----END PRIVATE KEY-----",
    "bearer token in a message": "msgbearer-9c8b7a6f5e4d3c2b1a0f",
    "slack token in a message": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
    "api_key in a tool call's arguments": "toolarg-key-6d5c4b3a2f1e0d9c8b7a",
    "password in JSON in a string in a tool call's arguments": "nested-pw-a9b8c7d6e5f4a3b2c1d0",
    "key echoed in an error body": "echoed-key-2468ace013579bdf1357",
    "positional tool argument (password)": "positional-pw-13579bdf02468ace",
    "keyword tool argument (token)": "keyword-token-fedcba9876543210",
    "key-shaped positional tool argument": "ghp_R4nd0mGitHubT0kenValue1234567890ab",
    "hugging face key in the model's text": "hf_ModelTextLeakValue0123456789abcdefAB",
}

APP = '''
import json
import anthropic, boto3, httpx2, openai, pytest, requests
from google import genai
import chaoskit

S = json.loads({secrets!r})

def lookup_order(order_id, password=None, *, token=None, hint=None):
    return {{"order": order_id, "status": "shipped"}}

def test_plants_every_secret(chaos):
    chaos.reply("openai", "Your token is " + S["hugging face key in the model's text"])
    oai = openai.OpenAI(api_key=S["openai key (Authorization: Bearer)"], max_retries=0)
    arguments = json.dumps({{"order": "A100", "api_key": S["api_key in a tool call's arguments"],
                             "config": json.dumps({{"password": S["password in JSON in a string in a tool call's arguments"]}})}})
    oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {{"role": "user", "content": "Use Authorization: Bearer " + S["bearer token in a message"] + " and "
                                        + S["slack token in a message"] + " and " + S["JWT in an unnamed header"]}},
            {{"role": "assistant", "tool_calls": [{{"id": "call_1", "type": "function",
                                                   "function": {{"name": "lookup", "arguments": arguments}}}}]}},
            {{"role": "tool", "tool_call_id": "call_1", "content": "ok"}},
        ],
        extra_body={{"apiKey": S["body apiKey"], "password": S["body password"], "access_token": S["body access_token"],
                    "client_secret": S["body client_secret"], "refresh_token": S["body refresh_token"],
                    "private_key": S["body private_key"]}},
    )
    anthropic.Anthropic(api_key=S["anthropic key (x-api-key)"], max_retries=0).messages.create(
        model="claude-sonnet-4-6", max_tokens=50, messages=[{{"role": "user", "content": "hi"}}])
    gemini = genai.Client(api_key=S["google key (x-goog-api-key)"])  # kept: a collected client closes its transport
    gemini.models.generate_content(model="gemini-2.0-flash", contents="hi")
    requests.post("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?key="
                  + S["google key in the URL (?key=)"], json={{"contents": [{{"parts": [{{"text": "hi"}}]}}]}})
    boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id=S["aws access key id"],
                 aws_secret_access_key="not-sent-by-sigv4", aws_session_token=S["aws session token (x-amz-security-token)"]
                 ).converse(modelId="anthropic.claude-3-haiku-20240307-v1:0", messages=[{{"role": "user", "content": [{{"text": "hi"}}]}}])
    chaos.reply_http("https://tools.example/api", status=401,
                     json={{"error": "invalid key " + S["key echoed in an error body"]}})
    requests.get("https://tools.example/api", headers={{
        "x-api-key": S["key echoed in an error body"],
        "Api-Key": S["Api-Key header"],
        "X-Auth-Token": S["X-Auth-Token header"],
        "Cookie": S["Cookie header"],
        "Proxy-Authorization": "Basic " + S["Proxy-Authorization header"],
        "X-Forwarded-Assertion": S["JWT in an unnamed header"],
    }})
    requests.get("https://tools.example/api", headers={{"Authorization": "Bearer " + S["bearer token (requests)"],
                                                       "X-API-KEY": S["X-API-KEY header (upper case)"],
                                                       "X-Goog-Api-Key": S["X-Goog-Api-Key header"]}})
    chaos.inject("tool.latency", target="test_app:lookup_order", seconds=0)
    lookup_order("A100", S["positional tool argument (password)"], token=S["keyword tool argument (token)"])
    lookup_order(S["key-shaped positional tool argument"])
    assert len(chaos.calls) == 9
    assert False, "planted failure, so the journal is printed"
'''


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the planting test in a real pytest process; every artifact's text by name."""
    import json

    where = tmp_path_factory.mktemp("secrets")
    (where / "test_app.py").write_text(APP.format(secrets=json.dumps(SECRETS)))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-rA", "--tb=long", "test_app.py",
         "--chaos-report=report.json", "--chaos-html=report.html", "--junitxml=junit.xml", "--chaos-seed=1"],
        cwd=where, capture_output=True, text=True, timeout=300, check=False,
    )
    terminal = done.stdout + done.stderr
    assert "1 failed" in terminal and "planted failure" in terminal, terminal
    return {
        "terminal": terminal,
        **{name: (where / name).read_text() for name in ("report.json", "report.html", "junit.xml")},
    }


@pytest.mark.parametrize("what", list(SECRETS))
def test_no_artifact_holds_the_planted_secret(artifacts: dict[str, str], what: str) -> None:
    value = SECRETS[what]
    assert [name for name, text in artifacts.items() if value in text] == []


def test_the_journal_still_shows_the_calls(artifacts: dict[str, str]) -> None:
    """The redaction does not hide what the report is for: every call is there, marked where it hid a value."""
    import json

    [test] = json.loads(artifacts["report.json"])["tests"]
    calls = test["calls"]
    assert [c["provider"] for c in calls] == ["openai", "anthropic", "gemini", "gemini", "bedrock", "http", "http", "tool", "tool"]
    assert calls[3]["url"].endswith(":generateContent?key=<redacted>")
    assert calls[0]["text"] == "Your token is <redacted>"
    assert calls[0]["usage"]["input_tokens"] >= 0
    assert calls[7]["request_body"] == {"args": ["A100", "<redacted>"], "kwargs": {"token": "<redacted>"}}
    arguments = json.loads(calls[0]["request_body"]["messages"][1]["tool_calls"][0]["function"]["arguments"])
    assert arguments["order"] == "A100" and arguments["api_key"] == "<redacted>"
    assert json.loads(arguments["config"]) == {"password": "<redacted>"}
    assert "invalid key <redacted>" in calls[5]["response_body"]


def test_messages_that_name_a_request_hide_its_key() -> None:
    """The requests listed under a fault that never fired, and an injected error's note, show the URL without its key."""
    import httpx2
    import requests

    import chaoskit

    key = SECRETS["google key in the URL (?key=)"]
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("http.server_error", url="https://other.example/*")
        chaos.reply_http("https://tools.example/api", json={"ok": True})
        requests.get(f"https://tools.example/api?key={key}")
        assert chaos.seen_requests == ["GET https://tools.example/api?key=<redacted>"]
        chaos.inject("gemini.connection.reset", times=1)
        with pytest.raises(httpx2.ReadError) as info:
            httpx2.post(f"https://generativelanguage.googleapis.com/v1beta/models/m:generateContent?key={key}",
                        json={"contents": []})
    notes = [*getattr(info.value, "__notes__", []), *getattr(info.value.__cause__, "__notes__", [])]
    assert [note for note in notes if "chaoskit: injected" in note] == [
        "chaoskit: injected gemini.connection.reset on POST "
        "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent?key=<redacted> [seed=1]"
    ]


def test_the_reported_failure_text_hides_key_shaped_values() -> None:
    """A failing test's message may quote an SDK error that names the URL: the report's copy hides the key."""
    from chaoskit.reports import finished

    key = SECRETS["google key in the URL (?key=)"]
    text = f"HTTPError: 400 Client Error: Bad Request for url: https://generativelanguage.googleapis.com/v1beta/m?key={key}"
    record = finished({}, outcome="failed", longrepr=text, duration=0.0)
    assert record["longrepr"] == text.replace(key, "<redacted>")

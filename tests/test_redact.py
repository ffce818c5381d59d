"""The redaction policy (chaoskit._redact): names in every style, key shapes, JSON inside strings,
remembered values, and the ordinary words it must leave alone."""

from __future__ import annotations

import json

import pytest

from chaoskit._redact import REDACTED, Redactor, redact_text, secret_name


@pytest.mark.parametrize(
    "name",
    ["api_key", "apiKey", "api-key", "API_KEY", "x-api-key", "X-Goog-Api-Key", "openai_api_key", "token", "access_token",
     "refreshToken", "id_token", "client_secret", "password", "db_password", "secret", "authorization",
     "Proxy-Authorization", "cookie", "Set-Cookie", "private_key", "session_token", "x-amz-security-token",
     "aws_secret_access_key", "X-Auth-Token", "credentials", "passphrase"],
)
def test_secret_names_in_every_style(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["tokens", "max_tokens", "input_tokens", "maxOutputTokens", "budget_tokens", "token_count", "totalTokenCount",
     "key", "cache_key", "idempotency_key", "content", "model", "messages", "signature", "x-stainless-retry-count"],
)
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not secret_name(name)


@pytest.mark.parametrize(
    "key",
    ["sk-proj-Qm3vT8xK2pL9wR4nY7cJ1hF6dS0aZ5bN8eU3iO2g", "sk-ant-api03-Vb7Nq2Lx9Kp4Wm6Rt1Hy8Jd3Fs5Gz0Ac-QwErTy",
     "sk-Qm3vT8xK2pL9wR4nY7cJ1hF6dS0aZ5bN", "AIzaSyD4fK9mQ2xL7pW1nR8tY3vB6cJ0hG5sE2a", "AKIAZ7QW3ER5TY8UI2OP",
     "ASIAZ7QW3ER5TY8UI2OP", "ghp_R4nd0mGitHubT0kenValue1234567890ab", "hf_ModelTextLeakValue0123456789abcdefAB",
     "xoxb-1234567890-0987654321-AbCdEfGhIjKl", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLWJ5dGVz",
     "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"],
)
def test_key_shapes_are_hidden_inside_text(key: str) -> None:
    assert redact_text(f"the key is {key}, keep it safe") == f"the key is {REDACTED}, keep it safe"


def test_a_bearer_token_keeps_its_scheme() -> None:
    assert redact_text("sent Authorization: Bearer opaque-4b6d8f0a2c4e") == f"sent Authorization: Bearer {REDACTED}"


def test_url_query_parameters_by_name() -> None:
    url = "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent?alt=sse&key=abc123&api_key=z1"
    assert redact_text(url) == f"https://generativelanguage.googleapis.com/v1beta/models/m:generateContent?alt=sse&key={REDACTED}&api_key={REDACTED}"
    signed = "https://b.s3.amazonaws.com/o?X-Amz-Credential=AKID%2F2024&X-Amz-Signature=abcdef0123&x-id=GetObject"
    assert redact_text(signed) == f"https://b.s3.amazonaws.com/o?X-Amz-Credential={REDACTED}&X-Amz-Signature={REDACTED}&x-id=GetObject"


def test_ordinary_text_is_left_alone() -> None:
    text = "Each token costs money; we used 1,204 tokens. The key=value pairs and the task-runner stay. sk-short"
    assert redact_text(text) == text
    plain = "Your order A100 shipped on 14 November."
    assert redact_text(plain) is plain  # nothing copied on the common path


def test_bodies_by_key_name_in_every_style_with_usage_counts_kept() -> None:
    body = {
        "model": "gpt-4o-mini", "apiKey": "k1-abcdef", "password": "hunter2", "access_token": "at", "Client-Secret": "cs",
        "max_tokens": 50, "usage": {"input_tokens": 12, "output_tokens": 3}, "token": 7, "secret": None,
        "messages": [{"role": "user", "content": "How many tokens is a token?"}],
        "credentials": {"user": "bob", "pin": "1234"},
    }
    assert Redactor().value(body) == {
        "model": "gpt-4o-mini", "apiKey": REDACTED, "password": REDACTED, "access_token": REDACTED,
        "Client-Secret": REDACTED, "max_tokens": 50, "usage": {"input_tokens": 12, "output_tokens": 3}, "token": 7,
        "secret": None, "messages": [{"role": "user", "content": "How many tokens is a token?"}], "credentials": REDACTED,
    }


def test_json_inside_strings_is_redacted_and_written_back() -> None:
    inner = json.dumps({"password": "nested-pw"})
    arguments = json.dumps({"order": "A100", "api_key": "toolarg-key", "config": inner})
    body = {"tool_calls": [{"function": {"name": "lookup", "arguments": arguments}}]}
    out = Redactor().value(body)["tool_calls"][0]["function"]["arguments"]
    assert json.loads(out) == {"order": "A100", "api_key": REDACTED, "config": json.dumps({"password": REDACTED})}
    untouched = json.dumps({"order": "A100"}, indent=2)
    assert Redactor().value({"arguments": untouched})["arguments"] is untouched  # kept as written when nothing hides


def test_values_seen_under_secret_names_are_hidden_where_they_turn_up_later() -> None:
    redactor = Redactor()
    headers = redactor.headers({"Authorization": "Bearer sk-test-seen-1", "X-Api-Key": "short", "Accept": "*/*"})
    assert headers == {"authorization": REDACTED, "x-api-key": REDACTED, "accept": "*/*"}
    redactor.value({"password": "hunter2-body"})
    assert redactor.known == {"Bearer sk-test-seen-1", "sk-test-seen-1", "hunter2-body"}  # "short" is too short to hunt
    assert redactor.text('{"error": "bad key sk-test-seen-1 (hunter2-body)"}') == f'{{"error": "bad key {REDACTED} ({REDACTED})"}}'


def test_a_key_shaped_value_in_an_ordinary_header_is_hidden() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJl"
    assert Redactor().headers([("X-Forwarded-Assertion", jwt)]) == {"x-forwarded-assertion": REDACTED}


def test_positional_arguments_by_parameter_name() -> None:
    redactor = Redactor()
    assert redactor.arguments(("order_id", "password"), ["A100", "positional-pw", "extra"]) == ["A100", REDACTED, "extra"]
    assert "positional-pw" in redactor.known

"""Gemini faults against the real ``google-genai`` SDK (``genai.Client``), sync and async
(``client.aio``), unary and streamed. What chaoskit sends (``e.code``, ``e.status``, the body, the
chunks before a break) is checked here; what the SDK makes of it (the exception class, what it
was raised from, how many attempts it makes with or without ``HttpRetryOptions``) is not written
down: the same call, with the same client, is made against a real server playing the fault on a
loopback socket (``_matrix.against_real``), and chaoskit's fault must give the same.

The SDK has three transports: httpx2 for sync calls; for ``client.aio``, aiohttp when it is
installed (as here) unless an ``httpx_async_client`` is given, else httpx2. Statuses look the
same through all three; transport faults surface as each library's own errors, and the aiohttp
path retries a dropped connection once by itself when no ``HttpRetryOptions`` are set
(``google/genai/_api_client.py::BaseApiClient._async_request_once``)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx2
import pytest
from _matrix import RealCall, against_real, caught, same_failure
from google import genai
from google.genai import _api_client, errors, types

import chaoskit
from chaoskit import VirtualClock

MODEL = "gemini-2.5-flash"
PROMPT = "Where is order A100?"
REPLY = "Your order A100 shipped on Monday morning."
KEY = "gemini-key-test"


def fast_retries(attempts: int | None = None) -> types.HttpRetryOptions:
    """HttpRetryOptions with short waits, so a retried fault takes milliseconds:
    tenacity's wait_exponential_jitter(initial 0.01 s, max 0.01 s, no jitter). ``attempts``
    None keeps the SDK's default number of attempts (5)."""
    return types.HttpRetryOptions(attempts=attempts, initial_delay=0.01, max_delay=0.01, jitter=0.0)

# fault -> (e.code, e.status): what chaoskit sends
STATUS = {
    "gemini.rate_limit": (429, "RESOURCE_EXHAUSTED"),
    "gemini.overloaded": (503, "UNAVAILABLE"),
    "gemini.unavailable": (503, "UNAVAILABLE"),
    "gemini.server_error": (500, "INTERNAL"),
    "gemini.deadline": (504, "DEADLINE_EXCEEDED"),
    "gemini.context_length": (400, "INVALID_ARGUMENT"),
    "gemini.auth": (400, "INVALID_ARGUMENT"),
    "gemini.model_not_found": (404, "NOT_FOUND"),
}
#: sync: httpx2; async: aiohttp (installed here); async-httpx2: client.aio given an httpx2.AsyncClient.
MODES = ("sync", "sync-stream", "async", "async-stream", "async-httpx2", "async-httpx2-stream")


@pytest.fixture(autouse=True)
def _aiohttp_is_the_default_async_transport() -> None:
    assert _api_client.has_aiohttp, "the tests of client.aio's default path need aiohttp installed"


def client(mode: str = "sync", *, attempts: int | None = None, timeout_ms: int | None = 3000, base: str | None = None) -> genai.Client:
    """A client for ``mode``; ``attempts`` turns on the SDK's retries (HttpRetryOptions) with short
    waits; ``base`` points it at a real server instead of Google's host. The default timeout is
    generous, so a busy machine cannot time out a call whose test is not about timeouts (it is a
    total timeout in google-genai: the connect to a real loopback server counts)."""
    retry = fast_retries(attempts) if attempts is not None else None
    extra: dict[str, Any] = {"httpx_async_client": httpx2.AsyncClient()} if "httpx2" in mode else {}
    if base is not None:
        extra["base_url"] = base
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(timeout=timeout_ms, retry_options=retry, **extra))


def backend(mode: str) -> str:
    return "aiohttp" if mode.startswith("async") and "httpx2" not in mode else "httpx2"


def call(sdk: genai.Client, mode: str, **kwargs: Any) -> list[types.GenerateContentResponse]:
    """One generate_content call in ``mode``; the responses (one, or the stream's chunks)."""
    args: dict[str, Any] = {"model": MODEL, "contents": PROMPT, **kwargs}
    if mode == "sync":
        return [sdk.models.generate_content(**args)]
    if mode == "sync-stream":
        return list(sdk.models.generate_content_stream(**args))

    async def run() -> list[types.GenerateContentResponse]:
        if not mode.endswith("-stream"):
            return [await sdk.aio.models.generate_content(**args)]
        return [chunk async for chunk in await sdk.aio.models.generate_content_stream(**args)]

    return asyncio.run(run())


def chunks_until_error(sdk: genai.Client, mode: str) -> tuple[list[str | None], BaseException | None]:
    """The texts of the chunks a stream delivered before it raised (and what it raised)."""
    texts: list[str | None] = []

    async def consume_async() -> None:
        async for chunk in await sdk.aio.models.generate_content_stream(model=MODEL, contents=PROMPT):
            texts.append(chunk.text)

    try:
        if mode == "sync-stream":
            for chunk in sdk.models.generate_content_stream(model=MODEL, contents=PROMPT):
                texts.append(chunk.text)
        else:
            asyncio.run(consume_async())
    except Exception as exc:  # noqa: BLE001 - the test checks its exact class
        return texts, exc
    return texts, None


def error_message(fault: str) -> str:
    return str(chaoskit.faults.get(fault).params["error"]["message"]).replace("{model}", MODEL)


# ---- healthy ---------------------------------------------------------------------------------
def test_the_seam_sees_a_default_client_and_answers_with_the_reply() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        sdk = genai.Client(api_key=KEY)  # no http_options: the SDK's own httpx2 client
        answer = sdk.models.generate_content(model=MODEL, contents=PROMPT)
        streamed = list(sdk.models.generate_content_stream(model=MODEL, contents=PROMPT))
    assert answer.text == REPLY
    assert answer.candidates is not None and answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.model_version == MODEL and answer.usage_metadata is not None
    assert "".join(c.text or "" for c in streamed) == REPLY
    assert len(streamed) > 2 and streamed[-1].candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]
    unary, stream = chaos.calls
    assert unary.url == f"https://generativelanguage.googleapis.com/v1/models/{MODEL}:generateContent"
    assert stream.url == f"https://generativelanguage.googleapis.com/v1/models/{MODEL}:streamGenerateContent?alt=sse"
    assert (unary.provider, unary.stream, unary.status, unary.text) == ("gemini", False, 200, REPLY)
    assert (stream.provider, stream.stream, stream.status, stream.text) == ("gemini", True, 200, REPLY)
    assert unary.request_headers["x-goog-api-key"] == "<redacted>"


def test_v1beta_is_served_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GENAI_API_VERSION", "beta")
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        assert call(client(), "async")[0].text == REPLY
    assert chaos.calls[0].url == f"https://generativelanguage.googleapis.com/v1beta/models/{MODEL}:generateContent"


@pytest.mark.parametrize("mode", MODES)
def test_a_tool_call_reply_is_a_function_call_part(mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", chaoskit.tool_call("lookup_order", {"order_id": "A100"}))
        responses = call(client(mode), mode)
    calls = [fc for r in responses for fc in r.function_calls or []]
    assert [(fc.name, fc.args) for fc in calls] == [("lookup_order", {"order_id": "A100"})]
    assert len(chaos.calls) == 1


# ---- error statuses ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", sorted(STATUS))
def test_a_status_fault_raises_what_the_real_status_raises(fault: str, mode: str) -> None:
    code, status = STATUS[fault]
    real = against_real(fault, lambda base: call(client(mode, base=base), mode))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        error = caught(lambda: call(client(mode), mode))
    same_failure(fault, error, real)
    assert isinstance(error, errors.APIError)
    assert (error.code, error.status, error.message) == (code, status, error_message(fault))
    assert error.details["error"]["code"] == code  # the body's code is the HTTP status too
    assert len(chaos.calls) == real.attempts and {c.fault for c in chaos.calls} == {fault}


@pytest.mark.parametrize("mode", ["sync", "async-stream"])
@pytest.mark.parametrize("fault", sorted(STATUS))
def test_http_retry_options_retry_what_they_retry_from_a_real_server(fault: str, mode: str) -> None:
    real = against_real(fault, lambda base: call(client(mode, attempts=3, base=base), mode))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        error = caught(lambda: call(client(mode, attempts=3), mode))
    same_failure(fault, error, real)
    assert isinstance(error, errors.APIError) and error.code == STATUS[fault][0]
    assert len(chaos.calls) == real.attempts


def test_default_http_retry_options_make_as_many_attempts_as_on_a_real_server() -> None:
    def make(base: str | None = None) -> Any:
        options = types.HttpOptions(retry_options=fast_retries(), base_url=base)
        sdk = genai.Client(api_key=KEY, http_options=options)  # kept: a collected client closes its transport
        return sdk.models.generate_content(model=MODEL, contents=PROMPT)

    real = against_real("gemini.rate_limit", make)
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("gemini.rate_limit")
        error = caught(make)
    same_failure("gemini.rate_limit", error, real)
    assert real.attempts is not None and real.attempts > 1  # the SDK's default is several attempts
    assert len(chaos.calls) == real.attempts


def test_the_retries_stop_when_the_fault_does() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.overloaded", times=2)
        assert call(client(attempts=3), "sync")[0].text == REPLY
    assert [c.status for c in chaos.calls] == [503, 503, 200]


def test_the_rate_limit_body_carries_quota_help_and_retry_info() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("gemini.rate_limit")
        error = caught(lambda: call(client(), "sync"))
    same_failure("gemini.rate_limit", error, against_real("gemini.rate_limit", lambda base: call(client(base=base), "sync")))
    assert isinstance(error, errors.APIError)
    assert str(error).startswith("429 RESOURCE_EXHAUSTED. {'error': {'code': 429, ")
    body = error.details["error"]
    assert [d["@type"] for d in body["details"]] == [
        "type.googleapis.com/google.rpc.QuotaFailure",
        "type.googleapis.com/google.rpc.Help",
        "type.googleapis.com/google.rpc.RetryInfo",
    ]
    assert body["details"][0]["violations"][0]["quotaDimensions"] == {"location": "global", "model": MODEL}
    assert body["details"][2]["retryDelay"] == "10s"
    assert error.response is not None and error.response.headers["content-type"] == "application/json; charset=UTF-8"
    assert json.loads(chaos.calls[0].response_body or "") == error.details  # the journal keeps the body the SDK read


def test_a_bad_key_is_a_400_with_error_info() -> None:
    real = against_real("gemini.auth", lambda base: call(client(attempts=3, base=base), "sync"))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("gemini.auth")
        error = caught(lambda: call(client(attempts=3), "sync"))
    same_failure("gemini.auth", error, real)
    assert isinstance(error, errors.APIError)
    assert error.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert len(chaos.calls) == real.attempts


# ---- transport -------------------------------------------------------------------------------------
# Each transport's own error reaches the caller (httpx2.ReadTimeout, aiohttp's TimeoutError, ...).
# How often the SDK tries again differs by transport and by error: on google-genai 3.6, aiohttp's
# total timeout is not among the errors HttpRetryOptions retry, httpx2.ReadError is not either, and
# the aiohttp path retries a dropped connection once by itself. All of that comes from the real side.
NETWORK = ("gemini.timeout.read", "gemini.timeout.connect", "gemini.connection.reset")


@pytest.fixture
def _short_implicit_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    # The aiohttp path waits 1 + randint(0, 9) s before its implicit retry; pin it to 1 s.
    monkeypatch.setattr(_api_client.random, "randint", lambda a, b: a)


def same_attempts(fault: str, calls: Any, real: RealCall) -> None:
    """As many attempts as the real server saw; where it cannot count them (connects that never
    complete), at least one, each one the fault."""
    assert {c.fault for c in calls} == {fault}
    if real.attempts is not None:
        assert len(calls) == real.attempts, f"{fault}: {len(calls)} attempts, a real server got {real.attempts}"


@pytest.mark.usefixtures("_short_implicit_retry")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", NETWORK)
def test_a_transport_fault_is_what_the_real_failure_is(fault: str, mode: str) -> None:
    real = against_real(fault, lambda base: call(client(mode, timeout_ms=200, base=base), mode))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        started = time.monotonic()
        error = caught(lambda: call(client(mode, timeout_ms=200), mode))
    same_failure(fault, error, real)
    same_attempts(fault, chaos.calls, real)
    if fault == "gemini.timeout.read":  # after HttpOptions.timeout (ms), not never
        assert 0.15 <= time.monotonic() - started < 2


@pytest.mark.usefixtures("_short_implicit_retry")
@pytest.mark.parametrize("mode", ["sync", "async", "async-httpx2-stream"])
@pytest.mark.parametrize("fault", NETWORK)
def test_http_retry_options_retry_the_transport_errors_as_they_do_real_ones(fault: str, mode: str) -> None:
    real = against_real(fault, lambda base: call(client(mode, attempts=3, timeout_ms=100, base=base), mode))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        error = caught(lambda: call(client(mode, attempts=3, timeout_ms=100), mode))
    same_failure(fault, error, real)
    same_attempts(fault, chaos.calls, real)


# ---- broken streams ------------------------------------------------------------------------------
# Every one comes after the first two chunks; what the SDK raises (or not) is a real server's.
STREAMS = ("gemini.stream.cut", "gemini.stream.cut.unclean", "gemini.stream.reset", "gemini.stream.stall",
           "gemini.stream.error", "gemini.stream.invalid_event")
STREAM_MODES = [m for m in MODES if m.endswith("-stream")]


@pytest.mark.parametrize("mode", STREAM_MODES)
@pytest.mark.parametrize("fault", STREAMS)
def test_a_broken_stream_delivers_the_chunks_before_the_break(fault: str, mode: str) -> None:
    real_texts, real_error = against_real(
        fault, lambda base: chunks_until_error(client(mode, attempts=3, timeout_ms=200, base=base), mode), reply=REPLY,
    ).value
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject(fault)
        texts, error = chunks_until_error(client(mode, attempts=3, timeout_ms=200), mode)
    assert texts == real_texts == ["Your", " order"]
    same_failure(fault, error, real_error)
    if isinstance(error, errors.APIError):
        assert (error.code, error.status) == (503, "UNAVAILABLE")
    assert len(chaos.calls) == 1  # a stream that has started is never retried
    assert (chaos.calls[0].status, chaos.calls[0].text, chaos.calls[0].complete) == (200, "Your order", False)


def test_the_mid_stream_error_chunk_is_read_as_that_status() -> None:
    exhausted = {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}
    _, real = against_real("gemini.stream.error", lambda base: chunks_until_error(client(base=base), "sync-stream"),
                           reply=REPLY, error=exhausted).value
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.stream.error", error=exhausted)
        texts, error = chunks_until_error(client(), "sync-stream")
    same_failure("gemini.stream.error", error, real)
    assert isinstance(error, errors.APIError)
    assert (error.code, error.status, texts) == (429, "RESOURCE_EXHAUSTED", ["Your", " order"])
    assert len(chaos.calls) == 1


@pytest.mark.parametrize("mode", ["sync-stream", "async-stream"])
def test_stream_length_ends_at_max_tokens_with_half_the_text(mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.stream.length")
        chunks = call(client(mode), mode)
    assert "".join(c.text or "" for c in chunks) == REPLY[: len(REPLY) // 2]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS  # type: ignore[index]
    assert len(chaos.calls) == 1


# ---- malformed bodies and filtered answers -------------------------------------------------------
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", ["gemini.malformed.truncated_json", "gemini.malformed.html"])
def test_a_body_that_is_not_json_fails_as_a_real_one_does(fault: str, mode: str) -> None:
    real = against_real(fault, lambda base: call(client(mode, attempts=3, base=base), mode))
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        error = caught(lambda: call(client(mode, attempts=3), mode))
    same_failure(fault, error, real)
    assert error is not None  # google-genai 3.6: the raw json.JSONDecodeError
    assert len(chaos.calls) == real.attempts and chaos.calls[0].status == 200


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_empty_content_has_no_text(mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.malformed.empty_content")
        (answer,) = call(client(mode), mode)
    assert answer.text is None
    assert answer.candidates is not None
    assert answer.candidates[0].content == types.Content(role="model")
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert len(chaos.calls) == 1


@pytest.mark.parametrize("mode", MODES)
def test_content_filter_stops_the_answer_with_finish_reason_safety(mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.content_filter")
        responses = call(client(mode), mode)
    last = responses[-1]
    assert all(r.text is None for r in responses)
    assert last.candidates is not None and last.candidates[0].finish_reason == types.FinishReason.SAFETY
    ratings = last.candidates[0].safety_ratings or []
    assert [r.category for r in ratings if r.blocked] == [types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT]
    assert len(chaos.calls) == 1 and chaos.calls[0].text == ""


@pytest.mark.parametrize("mode", MODES)
def test_a_blocked_prompt_has_prompt_feedback_and_no_candidates(mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("gemini.content_filter.prompt")
        (answer,) = call(client(mode), mode)
    assert answer.text is None and answer.candidates is None
    assert answer.prompt_feedback is not None
    assert answer.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert len(chaos.calls) == 1


def test_an_unknown_tool_is_called_as_sent() -> None:
    offered = types.Tool(function_declarations=[types.FunctionDeclaration(name="lookup_order", description="Find an order")])
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("gemini.malformed.unknown_tool")
        (answer,) = call(client(), "sync", config=types.GenerateContentConfig(tools=[offered]))
    assert [fc.name for fc in answer.function_calls or []] == ["chaoskit_unknown_tool"]
    assert chaos.calls[0].request_body["tools"] == [{"functionDeclarations": [{"name": "lookup_order", "description": "Find an order"}]}]


def test_drifted_tool_args_reach_the_function_call() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", chaoskit.tool_call("lookup_order", {"order_id": "A100", "verbose": False}))
        chaos.inject("gemini.malformed.tool_args_drift", variant="missing", path="order_id")
        (answer,) = call(client(), "sync")
    (function_call,) = answer.function_calls or []
    assert function_call.name == "lookup_order" and function_call.args == {"verbose": False}
    assert len(chaos.calls) == 1


# ---- time --------------------------------------------------------------------------------------------
def test_latency_delays_the_answer_and_a_short_timeout_cuts_it() -> None:
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.latency", jitter=0.0)
        assert call(client(timeout_ms=None), "sync")[0].text == REPLY  # no timeout: it waits
        error = caught(lambda: call(client(timeout_ms=1000), "sync"))
    assert [round(c.duration or 0, 3) for c in chaos.calls] == [2.0, 1.0]
    # the same latency, shortened, past a real server's: the same timeout error
    real = against_real("gemini.latency", lambda base: call(client(timeout_ms=100, base=base), "sync"), seconds=0.3, jitter=0.0)
    same_failure("gemini.latency", error, real)
    assert error is not None


def test_slow_first_token_and_slow_tokens_delay_the_stream() -> None:
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.reply("gemini", "one two three")
        chaos.inject("gemini.slow_first_token", times=1)
        first = call(client(timeout_ms=None), "sync-stream")
        chaos.inject("gemini.slow_tokens", times=1)
        slow = call(client(timeout_ms=None), "sync-stream")
    assert "".join(c.text or "" for c in first) == "".join(c.text or "" for c in slow) == "one two three"
    assert [c.fault for c in chaos.calls] == ["gemini.slow_first_token", "gemini.slow_tokens"]
    assert [round(c.duration or 0, 3) for c in chaos.calls] == [5.0, 0.8]  # 3 words + the finish chunk


def test_cold_start_holds_the_first_call_then_the_model_is_warm_until_idle() -> None:
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.cold_start")
        sdk = client(timeout_ms=None)  # the SDK's default: no timeout, so it waits the load out
        for pause in (0, 1, 301):
            time.sleep(pause)
            assert call(sdk, "sync")[0].text == REPLY
    assert [round(c.duration or 0, 3) for c in chaos.calls] == [10.0, 0.0, 10.0]
    assert [c.fault for c in chaos.calls] == ["gemini.cold_start", None, "gemini.cold_start"]


LOADING = {
    "status": 503, "retry_after": None, "retry_after_ms": None, "should_retry": None, "headers": {},
    "error": {"message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"},
}


def test_cold_start_with_loading_answers_503_until_loaded_and_retries_get_through() -> None:
    with chaoskit.Chaos(seed=1, clock=VirtualClock()) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.cold_start", seconds=3.0, loading=LOADING)
        error = caught(lambda: call(client(), "sync"))  # no retries: the caller sees the 503
        # HttpRetryOptions: waits 1, 2 s (virtual) then the model is up
        retrying = genai.Client(api_key=KEY, http_options=types.HttpOptions(retry_options=types.HttpRetryOptions(jitter=0.0)))
        assert call(retrying, "sync")[0].text == REPLY
    real = against_real("gemini.cold_start", lambda base: call(client(base=base), "sync"), seconds=3.0, loading=LOADING)
    same_failure("gemini.cold_start", error, real)
    assert isinstance(error, errors.APIError) and (error.code, error.status) == (503, "UNAVAILABLE")
    assert [c.status for c in chaos.calls] == [503, 503, 503, 200]


@pytest.mark.parametrize("mode", ["sync", "sync-stream"])
def test_a_planted_order_id_reads_as_a_normal_answer(mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.model.hallucination", kinds=["id"])
        answers = call(client(), mode)
    [p] = chaos.calls[0].planted or []
    assert "".join(a.text or "" for a in answers) == REPLY.replace("A100", p.planted)
    assert (p.original, chaos.calls[0].status) == ("A100", 200)


def test_every_catalog_fault_is_tested_here() -> None:
    tested = set(STATUS) | set(NETWORK) | set(STREAMS)
    tested |= {f"gemini.{k}" for k in (
        "stream.length", "malformed.truncated_json", "malformed.html", "malformed.empty_content",
        "content_filter", "content_filter.prompt", "malformed.unknown_tool", "malformed.tool_args_drift",
        "latency", "slow_first_token", "slow_tokens", "cold_start", "model.hallucination",
    )}
    # model.*: in tests/providers/test_model_faults.py; tool_loop: in tests/test_tool_loop.py
    tested |= {f"gemini.model.{k}" for k in ("schema_violation", "empty", "non_answer", "wrong_language", "prompt_leak", "max_tokens",
                                              "tool_loop")}
    assert chaoskit.faults.ids("gemini.*") == sorted(tested)

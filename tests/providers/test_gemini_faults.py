"""Gemini faults against the real ``google-genai`` SDK (``genai.Client``), sync and async
(``client.aio``), unary and streamed: the exact exception class (``errors.ClientError`` /
``ServerError``, raw transport errors, ``json.JSONDecodeError``), ``e.code`` and ``e.status``,
and the attempts the SDK makes: one by default, the configured number with ``HttpRetryOptions``
for the statuses and transport errors it retries.

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

import aiohttp
import httpx2
import pytest
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

# fault -> (exception, e.code, e.status, retried by HttpRetryOptions)
STATUS = {
    "gemini.rate_limit": (errors.ClientError, 429, "RESOURCE_EXHAUSTED", True),
    "gemini.overloaded": (errors.ServerError, 503, "UNAVAILABLE", True),
    "gemini.unavailable": (errors.ServerError, 503, "UNAVAILABLE", True),
    "gemini.server_error": (errors.ServerError, 500, "INTERNAL", True),
    "gemini.deadline": (errors.ServerError, 504, "DEADLINE_EXCEEDED", True),
    "gemini.context_length": (errors.ClientError, 400, "INVALID_ARGUMENT", False),
    "gemini.auth": (errors.ClientError, 400, "INVALID_ARGUMENT", False),
    "gemini.model_not_found": (errors.ClientError, 404, "NOT_FOUND", False),
}
#: sync: httpx2; async: aiohttp (installed here); async-httpx2: client.aio given an httpx2.AsyncClient.
MODES = ("sync", "sync-stream", "async", "async-stream", "async-httpx2", "async-httpx2-stream")


@pytest.fixture(autouse=True)
def _aiohttp_is_the_default_async_transport() -> None:
    assert _api_client.has_aiohttp, "the tests of client.aio's default path need aiohttp installed"


def client(mode: str = "sync", *, attempts: int | None = None, timeout_ms: int | None = 300) -> genai.Client:
    """A client for ``mode``; ``attempts`` turns on the SDK's retries (HttpRetryOptions) with short waits."""
    retry = fast_retries(attempts) if attempts is not None else None
    extra: dict[str, Any] = {"httpx_async_client": httpx2.AsyncClient()} if "httpx2" in mode else {}
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
def test_a_status_fault_raises_the_sdk_error_after_one_attempt(fault: str, mode: str) -> None:
    raises, code, status, _ = STATUS[fault]
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        with pytest.raises(raises) as info:
            call(client(mode), mode)
    error = info.value
    assert type(error) is raises
    assert (error.code, error.status, error.message) == (code, status, error_message(fault))
    assert error.details["error"]["code"] == code  # the body's code is the HTTP status too
    assert len(chaos.calls) == 1 and chaos.calls[0].fault == fault  # no retry_options: one attempt


@pytest.mark.parametrize("mode", ["sync", "async-stream"])
@pytest.mark.parametrize("fault", sorted(STATUS))
def test_http_retry_options_retry_only_the_retryable_statuses(fault: str, mode: str) -> None:
    raises, code, _, retried = STATUS[fault]
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        with pytest.raises(raises) as info:
            call(client(mode, attempts=3), mode)
    assert type(info.value) is raises and info.value.code == code
    assert len(chaos.calls) == (3 if retried else 1)


def test_default_http_retry_options_make_five_attempts() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("gemini.rate_limit")
        sdk = genai.Client(api_key=KEY, http_options=types.HttpOptions(retry_options=fast_retries()))
        with pytest.raises(errors.ClientError):
            sdk.models.generate_content(model=MODEL, contents=PROMPT)
    assert len(chaos.calls) == 5


def test_the_retries_stop_when_the_fault_does() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.overloaded", times=2)
        assert call(client(attempts=3), "sync")[0].text == REPLY
    assert [c.status for c in chaos.calls] == [503, 503, 200]


def test_the_rate_limit_body_carries_quota_help_and_retry_info() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("gemini.rate_limit")
        with pytest.raises(errors.ClientError) as info:
            call(client(), "sync")
    error = info.value
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
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("gemini.auth")
        with pytest.raises(errors.ClientError) as info:
            call(client(attempts=3), "sync")
    assert info.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert len(chaos.calls) == 1


# ---- transport -------------------------------------------------------------------------------------
# fault -> {transport: (raw exception, attempts by default, attempts with HttpRetryOptions(attempts=3))}
NETWORK: dict[str, dict[str, tuple[type[BaseException], int, int]]] = {
    "gemini.timeout.read": {
        "httpx2": (httpx2.ReadTimeout, 1, 3),
        "aiohttp": (TimeoutError, 1, 1),  # aiohttp's total timeout: not in the SDK's retried errors
    },
    "gemini.timeout.connect": {
        "httpx2": (httpx2.ConnectTimeout, 1, 3),
        "aiohttp": (TimeoutError, 1, 1),
    },
    "gemini.connection.reset": {
        "httpx2": (httpx2.ReadError, 1, 1),  # neither a TimeoutException nor a ConnectError
        "aiohttp": (aiohttp.ClientOSError, 2, 3),  # the SDK's own implicit retry, then HttpRetryOptions'
    },
}


@pytest.fixture
def _short_implicit_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    # The aiohttp path waits 1 + randint(0, 9) s before its implicit retry; pin it to 1 s.
    monkeypatch.setattr(_api_client.random, "randint", lambda a, b: a)


@pytest.mark.usefixtures("_short_implicit_retry")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", sorted(NETWORK))
def test_a_transport_fault_is_the_transports_own_error(fault: str, mode: str) -> None:
    raises, attempts, _ = NETWORK[fault][backend(mode)]
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        started = time.monotonic()
        with pytest.raises(raises) as info:
            call(client(mode, timeout_ms=200), mode)
    assert type(info.value) is raises
    assert len(chaos.calls) == attempts
    if fault == "gemini.timeout.read":  # after HttpOptions.timeout (ms), not never
        assert 0.15 <= time.monotonic() - started < 2


@pytest.mark.parametrize("mode", ["sync", "async", "async-httpx2-stream"])
@pytest.mark.parametrize("fault", sorted(NETWORK))
def test_http_retry_options_retry_the_transport_errors_they_name(fault: str, mode: str) -> None:
    raises, _, attempts = NETWORK[fault][backend(mode)]
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        with pytest.raises(raises) as info:
            call(client(mode, attempts=3, timeout_ms=100), mode)
    assert type(info.value) is raises
    assert len(chaos.calls) == attempts


# ---- broken streams ------------------------------------------------------------------------------
# fault -> {transport: exception or None}; every one comes after the first two chunks
STREAMS: dict[str, dict[str, type[BaseException] | None]] = {
    "gemini.stream.cut": {"httpx2": None, "aiohttp": None},
    "gemini.stream.cut.unclean": {"httpx2": httpx2.RemoteProtocolError, "aiohttp": aiohttp.ClientPayloadError},
    "gemini.stream.reset": {"httpx2": httpx2.ReadError, "aiohttp": aiohttp.ClientPayloadError},
    "gemini.stream.stall": {"httpx2": httpx2.ReadTimeout, "aiohttp": TimeoutError},
    "gemini.stream.error": {"httpx2": errors.ServerError, "aiohttp": errors.ServerError},
    "gemini.stream.invalid_event": {"httpx2": errors.UnknownApiResponseError, "aiohttp": errors.UnknownApiResponseError},
}
STREAM_MODES = [m for m in MODES if m.endswith("-stream")]


@pytest.mark.parametrize("mode", STREAM_MODES)
@pytest.mark.parametrize("fault", sorted(STREAMS))
def test_a_broken_stream_delivers_the_chunks_before_the_break(fault: str, mode: str) -> None:
    raises = STREAMS[fault][backend(mode)]
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject(fault)
        texts, error = chunks_until_error(client(mode, attempts=3, timeout_ms=200), mode)
    assert texts == ["Your", " order"]
    if raises is None:
        assert error is None
    else:
        assert type(error) is raises
    if isinstance(error, errors.APIError):
        assert (error.code, error.status) == (503, "UNAVAILABLE")
    assert len(chaos.calls) == 1  # a stream that has started is never retried
    assert (chaos.calls[0].status, chaos.calls[0].text, chaos.calls[0].complete) == (200, "Your order", False)


def test_the_mid_stream_error_chunk_is_read_as_that_status() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("gemini", REPLY)
        chaos.inject("gemini.stream.error", error={"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"})
        texts, error = chunks_until_error(client(), "sync-stream")
    assert type(error) is errors.ClientError
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
def test_a_body_that_is_not_json_is_a_raw_json_decode_error(fault: str, mode: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject(fault)
        with pytest.raises(json.JSONDecodeError) as info:
            call(client(mode, attempts=3), mode)
    assert type(info.value) is json.JSONDecodeError
    assert len(chaos.calls) == 1 and chaos.calls[0].status == 200


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
        with pytest.raises(httpx2.ReadTimeout):
            call(client(timeout_ms=1000), "sync")
    assert [round(c.duration or 0, 3) for c in chaos.calls] == [2.0, 1.0]


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
        with pytest.raises(errors.ServerError) as info:
            call(client(), "sync")  # no retries: the caller sees the 503
        # HttpRetryOptions: waits 1, 2 s (virtual) then the model is up
        retrying = genai.Client(api_key=KEY, http_options=types.HttpOptions(retry_options=types.HttpRetryOptions(jitter=0.0)))
        assert call(retrying, "sync")[0].text == REPLY
    assert (info.value.code, info.value.status) == (503, "UNAVAILABLE")
    assert [c.status for c in chaos.calls] == [503, 503, 503, 200]


def test_every_catalog_fault_is_tested_here() -> None:
    tested = set(STATUS) | set(NETWORK) | set(STREAMS)
    tested |= {f"gemini.{k}" for k in (
        "stream.length", "malformed.truncated_json", "malformed.html", "malformed.empty_content",
        "content_filter", "content_filter.prompt", "malformed.unknown_tool", "malformed.tool_args_drift",
        "latency", "slow_first_token", "slow_tokens", "cold_start",
    )}
    assert chaoskit.faults.ids("gemini.*") == sorted(tested)

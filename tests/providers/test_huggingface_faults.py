"""Hugging Face hosted inference and self-hosted TGI through the real clients.

``huggingface_hub.InferenceClient`` / ``AsyncInferenceClient`` (sent through httpx2, which the
seam intercepts) against the router, an Inference Endpoint URL and a routed TGI base URL; the
``openai`` SDK against TGI's ``/v1`` and the router's ``/v1``. For each fault: the exact
exception class, the status the client saw, the server's message on the exception, and the
attempts each client makes with its default retries (InferenceClient: none; openai: 3 for 429,
5xx, timeouts and resets). The serverless cold start answers 503 "currently loading" with an
``estimated_time`` that counts down, then the model answers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2
import openai
import pytest
from huggingface_hub import AsyncInferenceClient, InferenceClient
from huggingface_hub.errors import (
    GenerationError,
    HfHubHTTPError,
    IncompleteGenerationError,
    InferenceTimeoutError,
    OverloadedError,
    ValidationError,
)
from huggingface_hub.utils import _detect_agent

import chaoskit
from chaoskit import VirtualClock

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
ENDPOINT = "https://llama-abc.us-east-1.aws.endpoints.huggingface.cloud"
TGI = "http://127.0.0.1:8080"
ROUTER_V1 = "https://router.huggingface.co/v1"
MESSAGES: Any = [{"role": "user", "content": "What is the capital of France?"}]
TOKEN = "hf_test"

# kind -> (text_generation raises, status); chat_completion raises HfHubHTTPError for all of them.
NATIVE = {
    "overloaded": (OverloadedError, 429),
    "validation": (ValidationError, 422),
    "context_length": (ValidationError, 422),
    "generation": (GenerationError, 424),
    "server_error": (IncompleteGenerationError, 500),
}
# kind -> (openai exception, status, attempts with the SDK's default max_retries=2)
OPENAI = {
    "overloaded": (openai.RateLimitError, 429, 3),
    "validation": (openai.UnprocessableEntityError, 422, 1),
    "context_length": (openai.UnprocessableEntityError, 422, 1),
    "generation": (openai.APIStatusError, 424, 1),
    "server_error": (openai.InternalServerError, 500, 3),
}


@pytest.fixture(autouse=True)
def _no_agent_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # huggingface_hub fetches an "agent harnesses" list from huggingface.co once per process to
    # build its user agent; without this the first test would journal that (blocked) request.
    monkeypatch.setattr(_detect_agent, "_registry", {"standardEnvVars": [], "harnesses": {}})


def session(provider: str, clock: Any = None) -> chaoskit.Chaos:
    chaos = chaoskit.Chaos(seed=1, clock=clock)
    if provider == "tgi":  # self-hosted: the test says which server is behind the URL
        chaos.route(TGI, provider="tgi")
    return chaos


def message(fault: str) -> str:
    return str(chaoskit.faults.get(fault).params["error"]["error"])


def native_client(provider: str, **kwargs: Any) -> InferenceClient:
    return InferenceClient(ENDPOINT if provider == "huggingface" else TGI, **kwargs)


# ---- InferenceClient ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["huggingface", "tgi"])
@pytest.mark.parametrize("kind", sorted(NATIVE))
def test_text_generation_raises_the_tgi_error_class(provider: str, kind: str) -> None:
    raises, status = NATIVE[kind]
    fault = f"{provider}.{kind}"
    with session(provider) as chaos:
        chaos.inject(fault)
        with pytest.raises(raises) as info:
            native_client(provider).text_generation("hello", max_new_tokens=20)
    error = info.value
    assert type(error) is raises
    assert str(error) == message(fault)
    cause = error.__cause__
    assert type(cause) is HfHubHTTPError and cause.response.status_code == status
    assert len(chaos.calls) == 1 and chaos.calls[0].fault == fault  # InferenceClient never retries
    assert chaos.calls[0].url == (ENDPOINT if provider == "huggingface" else TGI) + "/"


@pytest.mark.parametrize("provider", ["huggingface", "tgi"])
@pytest.mark.parametrize("kind", sorted(NATIVE))
def test_chat_completion_raises_hf_hub_http_error(provider: str, kind: str) -> None:
    _, status = NATIVE[kind]
    fault = f"{provider}.{kind}"
    with session(provider) as chaos:
        chaos.inject(fault)
        client = InferenceClient(MODEL, token=TOKEN) if provider == "huggingface" else native_client(provider)
        with pytest.raises(HfHubHTTPError) as info:
            client.chat_completion(MESSAGES, max_tokens=20)
    error = info.value
    assert type(error) is HfHubHTTPError
    assert error.response.status_code == status
    assert error.server_message == message(fault)
    assert message(fault) in str(error)
    assert len(chaos.calls) == 1
    expected = f"{ROUTER_V1}/chat/completions" if provider == "huggingface" else f"{TGI}/v1/chat/completions"
    assert chaos.calls[0].url == expected


@pytest.mark.parametrize("kind", sorted(NATIVE))
def test_async_client_raises_the_same_classes(kind: str) -> None:
    raises, status = NATIVE[kind]
    fault = f"huggingface.{kind}"

    async def main() -> tuple[BaseException, BaseException]:
        async with session("huggingface") as chaos:
            chaos.inject(fault)
            client = AsyncInferenceClient(ENDPOINT)
            with pytest.raises(raises) as generated:
                await client.text_generation("hello")
            with pytest.raises(HfHubHTTPError) as chatted:
                await client.chat_completion(MESSAGES)
            assert len(chaos.calls) == 2
        return generated.value, chatted.value

    generated, chatted = asyncio.run(main())
    assert type(generated) is raises and str(generated) == message(fault)
    assert type(chatted) is HfHubHTTPError and chatted.response.status_code == status  # type: ignore[attr-defined]
    assert chatted.server_message == message(fault)  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", ["huggingface", "tgi"])
def test_a_stream_error_event_raises_generation_error_after_the_first_tokens(provider: str) -> None:
    fault = f"{provider}.stream.error"
    with session(provider) as chaos:
        chaos.reply(provider, "Paris is the capital of France.")
        chaos.inject(fault)
        client = native_client(provider)
        tokens: list[str] = []
        with pytest.raises(GenerationError) as generated:
            for token in client.text_generation("hello", stream=True):
                tokens.append(token)
        with pytest.raises(GenerationError) as chatted:
            list(client.chat_completion(MESSAGES, stream=True))
    assert type(generated.value) is GenerationError and type(chatted.value) is GenerationError
    assert str(generated.value) == str(chatted.value) == message(fault)
    assert tokens == ["Paris", " is"]  # the tokens before the error event arrive first
    assert [c.status for c in chaos.calls] == [200, 200]  # the error comes inside a 200 stream


def test_async_stream_error_event() -> None:
    async def main() -> list[str]:
        async with session("huggingface") as chaos:
            chaos.reply("huggingface", "Paris is the capital of France.")
            chaos.inject("huggingface.stream.error")
            tokens = []
            with pytest.raises(GenerationError):
                async for token in await AsyncInferenceClient(ENDPOINT).text_generation("hello", stream=True):
                    tokens.append(token)
            assert len(chaos.calls) == 1
        return tokens

    assert asyncio.run(main()) == ["Paris", " is"]


@pytest.mark.parametrize("kind", sorted(NATIVE))
def test_on_a_stream_tgi_errors_arrive_as_an_event_in_a_200(kind: str) -> None:
    raises, _ = NATIVE[kind]
    fault = f"tgi.{kind}"
    with session("tgi") as chaos:
        chaos.inject(fault)
        client = native_client("tgi")
        with pytest.raises(raises) as generated:
            list(client.text_generation("hello", stream=True))
        with pytest.raises(raises) as chatted:  # not HfHubHTTPError: the status was 200
            list(client.chat_completion(MESSAGES, stream=True))
    assert type(generated.value) is raises and type(chatted.value) is raises
    assert str(generated.value) == str(chatted.value) == message(fault)
    assert [c.status for c in chaos.calls] == [200, 200]


def test_the_loading_503_stays_an_http_status_on_a_stream() -> None:
    with session("huggingface") as chaos:
        chaos.inject("huggingface.server_error", status=503, error={"error": "Model m is currently loading", "estimated_time": 20.0})
        with pytest.raises(HfHubHTTPError) as info:
            list(native_client("huggingface").text_generation("hello", stream=True))
    assert type(info.value) is HfHubHTTPError and info.value.response.status_code == 503
    assert len(chaos.calls) == 1


def test_a_timeout_is_inference_timeout_error_without_retry() -> None:
    with session("huggingface", VirtualClock()) as chaos:
        chaos.inject("huggingface.timeout.read")
        started = time.monotonic()
        with pytest.raises(InferenceTimeoutError) as info:
            native_client("huggingface", timeout=5).text_generation("hello")
        waited = time.monotonic() - started
    assert type(info.value) is InferenceTimeoutError
    assert str(info.value) == f"Inference call timed out: {ENDPOINT}"
    assert type(info.value.__cause__) is httpx2.ReadTimeout
    assert len(chaos.calls) == 1 and waited == pytest.approx(5, abs=0.01)  # the client's own timeout


def test_async_timeout() -> None:
    async def main() -> int:
        async with session("tgi") as chaos:
            chaos.inject("tgi.timeout.read")
            with pytest.raises(InferenceTimeoutError):
                await AsyncInferenceClient(TGI, timeout=0.2).text_generation("hello")
        return len(chaos.calls)

    assert asyncio.run(main()) == 1


def test_a_reset_reaches_the_caller_as_httpx2_read_error() -> None:
    with session("huggingface") as chaos:
        chaos.inject("huggingface.connection.reset")
        with pytest.raises(httpx2.ReadError) as info:  # _inner_post converts only timeouts and statuses
            native_client("huggingface").text_generation("hello")
    assert type(info.value) is httpx2.ReadError
    assert len(chaos.calls) == 1


def test_latency_delays_the_answer() -> None:
    with session("huggingface", VirtualClock()) as chaos:
        chaos.reply("huggingface", "late but fine")
        chaos.inject("huggingface.latency", seconds=3.0, jitter=0)
        assert native_client("huggingface", timeout=10).text_generation("hello") == "late but fine"
    assert len(chaos.calls) == 1 and chaos.calls[0].duration == pytest.approx(3.0)


# ---- healthy replies -------------------------------------------------------------------------


def test_healthy_replies_on_every_route() -> None:
    with session("tgi") as chaos:
        chaos.reply("huggingface", "Paris.")
        chaos.reply("tgi", "Paris.")
        hosted = InferenceClient(MODEL, token=TOKEN)
        assert hosted.chat_completion(MESSAGES).choices[0].message.content == "Paris."
        endpoint = InferenceClient(ENDPOINT)
        assert endpoint.text_generation("hi") == "Paris."
        detailed = endpoint.text_generation("hi", details=True)
        assert detailed.generated_text == "Paris." and detailed.details is not None
        assert detailed.details.finish_reason == "eos_token" and detailed.details.generated_tokens == 1
        tgi = InferenceClient(TGI)  # kept referenced: a collected client closes its open streams
        assert "".join(tgi.text_generation("hi", stream=True)) == "Paris."
        chunks = list(tgi.chat_completion(MESSAGES, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris."
        sdk = openai.OpenAI(api_key="-", base_url=f"{TGI}/v1")
        assert sdk.chat.completions.create(model="tgi", messages=MESSAGES).choices[0].message.content == "Paris."
        generated = httpx2.post(f"{TGI}/generate", json={"inputs": "hi"}).json()
        compat = httpx2.post(f"{TGI}/", json={"inputs": "hi"}).json()
    assert generated == {"generated_text": "Paris."}
    assert compat == [{"generated_text": "Paris."}]  # "/" wraps it in a list, as api-inference does
    assert [c.provider for c in chaos.calls] == ["huggingface"] * 3 + ["tgi"] * 5


def test_generate_stream_has_token_events_and_no_done() -> None:
    with session("tgi") as chaos:
        chaos.reply("tgi", "Hi there")
        with httpx2.stream("POST", f"{TGI}/generate_stream", json={"inputs": "hi"}) as response:
            lines = [line for line in response.iter_lines() if line]
    assert lines[-1].startswith("data: ") and '"generated_text":"Hi there"' in lines[-1]
    assert all("[DONE]" not in line for line in lines) and len(lines) == 2
    assert chaos.calls[0].stream is True


# ---- the openai SDK ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(OPENAI))
def test_the_openai_sdk_against_tgi(kind: str) -> None:
    raises, status, attempts = OPENAI[kind]
    fault = f"tgi.{kind}"
    with session("tgi", VirtualClock()) as chaos:
        chaos.inject(fault)
        with pytest.raises(raises) as info:
            openai.OpenAI(api_key="-", base_url=f"{TGI}/v1").chat.completions.create(model="tgi", messages=MESSAGES)
    error = info.value
    assert type(error) is raises
    assert error.status_code == status  # type: ignore[attr-defined]
    assert error.body == message(fault) and error.code is None and error.type is None  # TGI's error is a string
    assert str(error) == f"Error code: {status}"  # no error.message for the SDK to show
    assert len(chaos.calls) == attempts


def test_the_openai_sdk_against_the_router() -> None:
    with session("huggingface", VirtualClock()) as chaos:
        chaos.inject("huggingface.overloaded")
        with pytest.raises(openai.RateLimitError) as info:
            openai.OpenAI(api_key=TOKEN, base_url=ROUTER_V1).chat.completions.create(model=MODEL, messages=MESSAGES)
    assert type(info.value) is openai.RateLimitError and info.value.status_code == 429
    assert len(chaos.calls) == 3 and {c.provider for c in chaos.calls} == {"huggingface"}


def test_the_openai_sdk_stream_error_event_is_api_error() -> None:
    with session("tgi") as chaos:
        chaos.reply("tgi", "Paris is the capital of France.")
        chaos.inject("tgi.stream.error")
        stream = openai.OpenAI(api_key="-", base_url=f"{TGI}/v1").chat.completions.create(model="tgi", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError) as info:
            list(stream)
    assert type(info.value) is openai.APIError
    assert str(info.value) == "An error occurred during streaming"  # the string error has no .message
    assert info.value.body == message("tgi.stream.error")
    assert len(chaos.calls) == 1  # mid-stream errors are never retried


def test_the_openai_sdk_does_not_retry_an_overloaded_stream() -> None:
    # Without stream=True the same fault is a 429 RateLimitError retried 3 times.
    with session("tgi") as chaos:
        chaos.inject("tgi.overloaded")
        stream = openai.OpenAI(api_key="-", base_url=f"{TGI}/v1").chat.completions.create(model="tgi", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError) as info:
            list(stream)
    assert type(info.value) is openai.APIError and info.value.body == "Model is overloaded"
    assert len(chaos.calls) == 1


@pytest.mark.parametrize(("kind", "raises"), [("timeout.read", openai.APITimeoutError), ("connection.reset", openai.APIConnectionError)])
def test_the_openai_sdk_retries_timeouts_and_resets(kind: str, raises: type[Exception]) -> None:
    with session("tgi", VirtualClock()) as chaos:
        chaos.inject(f"tgi.{kind}")
        with pytest.raises(raises) as info:
            openai.OpenAI(api_key="-", base_url=f"{TGI}/v1", timeout=2).chat.completions.create(model="tgi", messages=MESSAGES)
    assert type(info.value) is raises
    assert len(chaos.calls) == 3


def test_tgi_latency_through_the_openai_sdk() -> None:
    with session("tgi", VirtualClock()) as chaos:
        chaos.reply("tgi", "slow")
        chaos.inject("tgi.latency", seconds=4.0, jitter=0)
        answer = openai.OpenAI(api_key="-", base_url=f"{TGI}/v1").chat.completions.create(model="tgi", messages=MESSAGES)
    assert answer.choices[0].message.content == "slow"
    assert chaos.calls[0].duration == pytest.approx(4.0)


# ---- the serverless cold start -----------------------------------------------------------------


def _loading(error: HfHubHTTPError) -> dict[str, Any]:
    assert type(error) is HfHubHTTPError and error.response.status_code == 503
    body: dict[str, Any] = error.response.json()
    return body


def test_cold_start_answers_loading_with_a_countdown_then_the_model() -> None:
    with session("huggingface", VirtualClock()) as chaos:
        chaos.reply("huggingface", "warm now")
        chaos.inject("huggingface.cold_start", seconds=20.0, idle=900.0)
        client = InferenceClient(MODEL, token=TOKEN)
        bodies = []
        for wait in (0, 5, 10):
            time.sleep(wait)
            with pytest.raises(HfHubHTTPError) as info:
                client.chat_completion(MESSAGES)
            bodies.append(_loading(info.value))
            assert info.value.server_message == f"Model {MODEL} is currently loading"
        time.sleep(5)  # 20 s after the first call: loaded
        assert client.chat_completion(MESSAGES).choices[0].message.content == "warm now"
        assert client.chat_completion(MESSAGES).choices[0].message.content == "warm now"
    assert [b["estimated_time"] for b in bodies] == [20.0, 15.0, 5.0]
    assert bodies[0] == {"error": f"Model {MODEL} is currently loading", "estimated_time": 20.0}
    assert [c.status for c in chaos.calls] == [503, 503, 503, 200, 200]  # one call each: no retries


def test_cold_start_on_the_serverless_text_generation_route_names_the_model_in_the_url() -> None:
    with session("huggingface", VirtualClock()) as chaos:
        # hf-inference checks the model's task on the Hub first (huggingface.co/api/models/...)
        chaos.reply_http("https://huggingface.co/api/models/openai-community/gpt2", json={"id": "openai-community/gpt2", "pipeline_tag": "text-generation"})
        chaos.inject("huggingface.cold_start", seconds=10.0)
        client = InferenceClient(provider="hf-inference", token=TOKEN)
        with pytest.raises(HfHubHTTPError) as info:
            client.text_generation("hello", model="openai-community/gpt2")
        time.sleep(10)
        assert client.text_generation("hello", model="openai-community/gpt2")
    assert _loading(info.value) == {"error": "Model openai-community/gpt2 is currently loading", "estimated_time": 10.0}
    calls = [c for c in chaos.calls if c.provider == "huggingface"]
    assert [c.url for c in calls] == ["https://router.huggingface.co/hf-inference/models/openai-community/gpt2"] * 2
    assert [c.status for c in calls] == [503, 200]


def test_the_openai_sdk_retries_the_loading_503_until_the_model_is_up() -> None:
    # Backoff 0.375-0.5 s then 0.75-1 s: the third attempt comes after the 1 s load.
    with session("huggingface", VirtualClock()) as chaos:
        chaos.reply("huggingface", "loaded")
        chaos.inject("huggingface.cold_start", seconds=1.0)
        sdk = openai.OpenAI(api_key=TOKEN, base_url=ROUTER_V1)
        answer = sdk.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert answer.choices[0].message.content == "loaded"
    assert [c.status for c in chaos.calls] == [503, 503, 200]


def test_the_model_goes_cold_again_after_idle() -> None:
    with session("huggingface", VirtualClock()) as chaos:
        chaos.inject("huggingface.cold_start", seconds=5.0, idle=60.0)
        client = InferenceClient(ENDPOINT)
        for pause in (0, 5, 30, 61):
            time.sleep(pause)
            try:
                client.text_generation("hello")
            except HfHubHTTPError:
                pass
    assert [c.status for c in chaos.calls] == [503, 200, 200, 503]


def test_cold_start_without_loading_holds_the_first_call() -> None:
    # The other cold start: the request waits while the model loads (X-Scale-Up-Timeout on an
    # Inference Endpoint), then it and every warm call after it answer.
    with session("huggingface", VirtualClock()) as chaos:
        chaos.reply("huggingface", "loaded")
        chaos.inject("huggingface.cold_start", seconds=20.0, loading=None)
        client = InferenceClient(ENDPOINT, timeout=60)
        assert [client.text_generation("hello") for _ in range(2)] == ["loaded", "loaded"]
    assert [c.fault for c in chaos.calls][0] == "huggingface.cold_start"
    assert [round(c.duration or 0, 3) for c in chaos.calls] == [20.0, 0.0]


def test_every_catalog_fault_is_tested_here() -> None:
    tested = {f"{p}.{k}" for p in ("huggingface", "tgi") for k in NATIVE}
    tested |= {f"{p}.{k}" for p in ("huggingface", "tgi") for k in ("stream.error", "timeout.read", "connection.reset", "latency")}
    tested.add("huggingface.cold_start")
    assert sorted(chaoskit.faults.ids("huggingface.*") + chaoskit.faults.ids("tgi.*")) == sorted(tested)


def test_the_hub_agent_registry_the_client_reads_first_is_answered_not_blocked(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub fetches /api/agent-harnesses from the Hub once a day (cached in HF_HOME): with
    no cache, that GET is answered with the empty registry, never faulted, and the call goes on."""
    from huggingface_hub import constants

    monkeypatch.setattr(_detect_agent, "_registry", None)
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agent_harnesses.json"))
    with session("huggingface") as chaos:
        chaos.inject("huggingface.overloaded")
        with pytest.raises(HfHubHTTPError) as info:
            InferenceClient(MODEL, token=TOKEN).chat_completion(MESSAGES, max_tokens=5)
    assert info.value.response.status_code == 429
    hub, call = chaos.calls
    assert (hub.url, hub.endpoint, hub.fault, hub.status) == ("https://huggingface.co/api/agent-harnesses", "hub", None, 200)
    assert (call.endpoint, call.fault) == ("chat", "huggingface.overloaded")
    assert _detect_agent._registry == {"standardEnvVars": [], "harnesses": {}}


def test_the_registry_request_does_not_warm_the_model(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(_detect_agent, "_registry", None)
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agent_harnesses.json"))
    with session("huggingface") as chaos:
        chaos.inject("huggingface.cold_start")
        with pytest.raises(HfHubHTTPError) as info:
            InferenceClient(MODEL, token=TOKEN).chat_completion(MESSAGES, max_tokens=5)
    assert info.value.response.status_code == 503
    assert [(c.endpoint, c.fault) for c in chaos.calls] == [("hub", None), ("chat", "huggingface.cold_start")]

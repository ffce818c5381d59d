"""Hugging Face hosted inference and self-hosted TGI through the real clients.

``huggingface_hub.InferenceClient`` / ``AsyncInferenceClient`` (sent through httpx2, which the
seam intercepts) against the router, an Inference Endpoint URL and a routed TGI base URL; the
``openai`` SDK against TGI's ``/v1`` and the router's ``/v1``. What chaoskit sends is checked
here: the status the client saw, the server's message on the exception, the error body, the
tokens a stream delivers before its error event, the URLs requested. What the clients make of
it (the exception class, what it was raised from, how many attempts each makes with its default
retries) is not written down: the same call, with the same client pointed at a real server
playing the fault on a loopback socket (``_matrix.against_real``), gives the answer, and
chaoskit's fault must give the same. The serverless cold start answers 503 "currently loading"
with an ``estimated_time`` that counts down, then the model answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import httpx2
import openai
import pytest
from _matrix import against_real, caught, same_failure
from huggingface_hub import AsyncInferenceClient, InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import _detect_agent

import chaoskit
from chaoskit import VirtualClock

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
ENDPOINT = "https://llama-abc.us-east-1.aws.endpoints.huggingface.cloud"
TGI = "http://127.0.0.1:8080"
ROUTER_V1 = "https://router.huggingface.co/v1"
MESSAGES: Any = [{"role": "user", "content": "What is the capital of France?"}]
TOKEN = "hf_test"
REPLY = "Paris is the capital of France."
GPT2 = "openai-community/gpt2"

# kind -> the status chaoskit answers with (huggingface.KIND and tgi.KIND alike)
STATUS = {
    "overloaded": 429,
    "validation": 422,
    "context_length": 422,
    "generation": 424,
    "server_error": 500,
}


@pytest.fixture(autouse=True)
def _no_agent_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # huggingface_hub fetches an "agent harnesses" list from huggingface.co once per process to
    # build its user agent; without this the first test would journal that (blocked) request,
    # and a call against a real server would go to the Hub for it.
    monkeypatch.setattr(_detect_agent, "_registry", {"standardEnvVars": [], "harnesses": {}})


def session(provider: str, clock: Any = None) -> chaoskit.Chaos:
    chaos = chaoskit.Chaos(seed=1, clock=clock)
    if provider == "tgi":  # self-hosted: the test says which server is behind the URL
        chaos.route(TGI, provider="tgi")
    return chaos


def message(fault: str) -> str:
    return str(chaoskit.faults.get(fault).params["error"]["error"])


def native_client(provider: str, base: str | None = None, **kwargs: Any) -> InferenceClient:
    """The client of an Inference Endpoint URL or of the TGI server; ``base``: a real server's URL instead."""
    return InferenceClient(base or (ENDPOINT if provider == "huggingface" else TGI), **kwargs)


def chat_client(provider: str, base: str | None = None) -> InferenceClient:
    """The client a chat goes through: the router (a model id) for hosted inference, the TGI URL
    for TGI; ``base``: a real server's URL as ``base_url`` (as ``chaoskit.fidelity`` points it)."""
    if provider == "tgi":
        return native_client(provider, base)
    return InferenceClient(MODEL, token=TOKEN) if base is None else InferenceClient(base_url=base, token=TOKEN)


def openai_client(provider: str, base: str | None = None, **kwargs: Any) -> openai.OpenAI:
    """The openai SDK at TGI's ``/v1`` or the router's; ``base``: a real server's ``/v1`` instead."""
    key, url = ("-", f"{TGI}/v1") if provider == "tgi" else (TOKEN, ROUTER_V1)
    return openai.OpenAI(api_key=key, base_url=url if base is None else f"{base}/v1", **kwargs)


def openai_chat(provider: str, base: str | None = None, *, stream: bool = False, **client: Any) -> Any:
    """One chat through the openai SDK (a stream drained to a list), the client closed after."""
    with openai_client(provider, base, **client) as sdk:
        out = sdk.chat.completions.create(model="tgi" if provider == "tgi" else MODEL, messages=MESSAGES, stream=stream)
        return list(out) if stream else out


async def acaught(awaitable: Awaitable[Any]) -> BaseException | None:
    """What awaiting ``awaitable`` raised (None when it returned)."""
    try:
        await awaitable
    except Exception as exc:  # noqa: BLE001 - compared with a real server's by the caller
        return exc
    return None


def streamed_until_error(client: InferenceClient) -> tuple[list[str], BaseException | None, BaseException | None]:
    """The tokens ``text_generation(stream=True)`` delivered, what it raised, and what a streamed
    ``chat_completion`` on the same client raised."""
    tokens: list[str] = []

    def generate() -> None:
        for token in client.text_generation("hello", stream=True):
            tokens.append(token)

    generated = caught(generate)
    chatted = caught(lambda: list(client.chat_completion(MESSAGES, stream=True)))
    return tokens, generated, chatted


# ---- InferenceClient ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["huggingface", "tgi"])
@pytest.mark.parametrize("kind", sorted(STATUS))
def test_text_generation_raises_what_a_real_servers_status_raises(provider: str, kind: str) -> None:
    fault = f"{provider}.{kind}"
    real = against_real(fault, lambda base: native_client(provider, base).text_generation("hello", max_new_tokens=20))
    with session(provider) as chaos:
        chaos.inject(fault)
        error = caught(lambda: native_client(provider).text_generation("hello", max_new_tokens=20))
    same_failure(fault, error, real)
    assert error is not None and str(error) == message(fault)
    cause = error.__cause__  # the status error the client read TGI's error_type from
    assert isinstance(cause, HfHubHTTPError) and cause.response.status_code == STATUS[kind]
    assert len(chaos.calls) == real.attempts and {c.fault for c in chaos.calls} == {fault}
    assert chaos.calls[0].url == (ENDPOINT if provider == "huggingface" else TGI) + "/"


@pytest.mark.parametrize("provider", ["huggingface", "tgi"])
@pytest.mark.parametrize("kind", sorted(STATUS))
def test_chat_completion_raises_what_a_real_servers_status_raises(provider: str, kind: str) -> None:
    fault = f"{provider}.{kind}"
    real = against_real(fault, lambda base: chat_client(provider, base).chat_completion(MESSAGES, max_tokens=20))
    with session(provider) as chaos:
        chaos.inject(fault)
        error = caught(lambda: chat_client(provider).chat_completion(MESSAGES, max_tokens=20))
    same_failure(fault, error, real)
    assert isinstance(error, HfHubHTTPError)
    assert error.response.status_code == STATUS[kind]
    assert error.server_message == message(fault)
    assert message(fault) in str(error)
    assert len(chaos.calls) == real.attempts
    expected = f"{ROUTER_V1}/chat/completions" if provider == "huggingface" else f"{TGI}/v1/chat/completions"
    assert {c.url for c in chaos.calls} == {expected}


@pytest.mark.parametrize("kind", sorted(STATUS))
def test_the_async_client_raises_what_a_real_server_makes_it_raise(kind: str) -> None:
    fault = f"huggingface.{kind}"

    async def both(url: str) -> tuple[BaseException | None, BaseException | None]:
        async with AsyncInferenceClient(url) as client:
            return await acaught(client.text_generation("hello")), await acaught(client.chat_completion(MESSAGES))

    async def main() -> tuple[BaseException | None, BaseException | None, int]:
        async with session("huggingface") as chaos:
            chaos.inject(fault)
            generated, chatted = await both(ENDPOINT)
        return generated, chatted, len(chaos.calls)

    real = against_real(fault, lambda base: asyncio.run(both(base)))
    generated, chatted, calls = asyncio.run(main())
    real_generated, real_chatted = real.value
    same_failure(fault, generated, real_generated)
    same_failure(fault, chatted, real_chatted)
    assert calls == real.attempts
    assert str(generated) == message(fault)
    assert isinstance(chatted, HfHubHTTPError) and chatted.response.status_code == STATUS[kind]
    assert chatted.server_message == message(fault)


@pytest.mark.parametrize("provider", ["huggingface", "tgi"])
def test_a_stream_error_event_raises_what_a_real_one_does_after_the_first_tokens(provider: str) -> None:
    fault = f"{provider}.stream.error"
    real_tokens, real_generated, real_chatted = against_real(
        fault, lambda base: streamed_until_error(native_client(provider, base)), reply=REPLY,
    ).value
    with session(provider) as chaos:
        chaos.reply(provider, REPLY)
        chaos.inject(fault)
        client = native_client(provider)  # kept referenced: a collected client closes its open streams
        tokens, generated, chatted = streamed_until_error(client)
    same_failure(fault, generated, real_generated)
    same_failure(fault, chatted, real_chatted)
    assert str(generated) == str(chatted) == message(fault)
    assert tokens == real_tokens == ["Paris", " is"]  # the tokens before the error event arrive first
    assert [c.status for c in chaos.calls] == [200, 200]  # the error comes inside a 200 stream


def test_async_stream_error_event() -> None:
    async def consume(client: AsyncInferenceClient, tokens: list[str]) -> None:
        async for token in await client.text_generation("hello", stream=True):
            tokens.append(token)

    async def streamed(url: str) -> tuple[list[str], BaseException | None]:
        tokens: list[str] = []
        async with AsyncInferenceClient(url) as client:
            return tokens, await acaught(consume(client, tokens))

    async def main() -> tuple[list[str], BaseException | None, int]:
        async with session("huggingface") as chaos:
            chaos.reply("huggingface", REPLY)
            chaos.inject("huggingface.stream.error")
            tokens, error = await streamed(ENDPOINT)
        return tokens, error, len(chaos.calls)

    real = against_real("huggingface.stream.error", lambda base: asyncio.run(streamed(base)), reply=REPLY)
    real_tokens, real_error = real.value
    tokens, error, calls = asyncio.run(main())
    same_failure("huggingface.stream.error", error, real_error)
    assert tokens == real_tokens == ["Paris", " is"]
    assert calls == real.attempts


@pytest.mark.parametrize("kind", sorted(STATUS))
def test_on_a_stream_tgi_errors_arrive_as_an_event_in_a_200(kind: str) -> None:
    fault = f"tgi.{kind}"
    _, real_generated, real_chatted = against_real(fault, lambda base: streamed_until_error(native_client("tgi", base))).value
    with session("tgi") as chaos:
        chaos.inject(fault)
        client = native_client("tgi")
        _, generated, chatted = streamed_until_error(client)
    same_failure(fault, generated, real_generated)
    same_failure(fault, chatted, real_chatted)  # on a real server too: not a status error, the status was 200
    assert str(generated) == str(chatted) == message(fault)
    assert [c.status for c in chaos.calls] == [200, 200]


def test_the_loading_503_stays_an_http_status_on_a_stream() -> None:
    loading: dict[str, Any] = {"status": 503, "error": {"error": "Model m is currently loading", "estimated_time": 20.0}}

    def streamed(base: str | None = None) -> list[str]:
        return list(native_client("huggingface", base).text_generation("hello", stream=True))

    real = against_real("huggingface.server_error", streamed, **loading)
    with session("huggingface") as chaos:
        chaos.inject("huggingface.server_error", **loading)
        error = caught(streamed)
    same_failure("huggingface.server_error", error, real)
    assert isinstance(error, HfHubHTTPError) and error.response.status_code == 503
    assert len(chaos.calls) == real.attempts


def test_a_timeout_fails_as_a_real_one_does_after_the_clients_own_timeout() -> None:
    bases: list[str] = []

    def make(base: str) -> Any:  # the same call with a shorter timeout: the real side runs in real time
        bases.append(base)
        return native_client("huggingface", base, timeout=0.2).text_generation("hello")

    real = against_real("huggingface.timeout.read", make)
    with session("huggingface", VirtualClock()) as chaos:
        chaos.inject("huggingface.timeout.read")
        started = time.monotonic()
        error = caught(lambda: native_client("huggingface", timeout=5).text_generation("hello"))
        waited = time.monotonic() - started
    same_failure("huggingface.timeout.read", error, real)
    assert str(error) == str(real.error).replace(bases[0], ENDPOINT)  # the message names the URL asked
    assert len(chaos.calls) == real.attempts and waited == pytest.approx(5, abs=0.01)  # the client's own timeout


def test_async_timeout() -> None:
    async def generate(base: str) -> Any:
        async with AsyncInferenceClient(base, timeout=0.2) as client:
            return await client.text_generation("hello")

    async def main() -> tuple[BaseException | None, int]:
        async with session("tgi") as chaos:
            chaos.inject("tgi.timeout.read")
            error = await acaught(generate(TGI))
        return error, len(chaos.calls)

    real = against_real("tgi.timeout.read", lambda base: asyncio.run(generate(base)))
    error, calls = asyncio.run(main())
    same_failure("tgi.timeout.read", error, real)
    assert calls == real.attempts


def test_a_reset_reaches_the_caller_as_a_real_reset_does() -> None:
    real = against_real("huggingface.connection.reset", lambda base: native_client("huggingface", base).text_generation("hello"))
    with session("huggingface") as chaos:
        chaos.inject("huggingface.connection.reset")
        error = caught(lambda: native_client("huggingface").text_generation("hello"))
    same_failure("huggingface.connection.reset", error, real)
    assert error is not None
    assert len(chaos.calls) == real.attempts


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


@pytest.mark.parametrize("kind", sorted(STATUS))
def test_the_openai_sdk_against_tgi(kind: str) -> None:
    status, fault = STATUS[kind], f"tgi.{kind}"
    real = against_real(fault, lambda base: openai_chat("tgi", base))
    with session("tgi", VirtualClock()) as chaos:
        chaos.inject(fault)
        error = caught(lambda: openai_chat("tgi"))
    same_failure(fault, error, real)
    assert isinstance(error, openai.APIStatusError)
    assert error.status_code == status
    assert error.body == message(fault) and error.code is None and error.type is None  # TGI's error is a string
    assert str(error) == str(real.error)  # no error.message for the SDK to show
    assert len(chaos.calls) == real.attempts


def test_the_openai_sdk_against_the_router() -> None:
    real = against_real("huggingface.overloaded", lambda base: openai_chat("huggingface", base))
    with session("huggingface", VirtualClock()) as chaos:
        chaos.inject("huggingface.overloaded")
        error = caught(lambda: openai_chat("huggingface"))
    same_failure("huggingface.overloaded", error, real)
    assert isinstance(error, openai.APIStatusError) and error.status_code == 429
    assert len(chaos.calls) == real.attempts and {c.provider for c in chaos.calls} == {"huggingface"}


def test_the_openai_sdk_stream_error_event_fails_as_a_real_one_does() -> None:
    real = against_real("tgi.stream.error", lambda base: openai_chat("tgi", base, stream=True), reply=REPLY)
    with session("tgi") as chaos:
        chaos.reply("tgi", REPLY)
        chaos.inject("tgi.stream.error")
        error = caught(lambda: openai_chat("tgi", stream=True))
    same_failure("tgi.stream.error", error, real)
    assert isinstance(error, openai.APIError)
    assert str(error) == str(real.error)  # the string error has no .message for the SDK to show
    assert error.body == message("tgi.stream.error")
    assert len(chaos.calls) == real.attempts


def test_the_openai_sdk_treats_an_overloaded_stream_as_a_real_one() -> None:
    # TGI answers a streaming request that is overloaded with a 200 holding the error event,
    # where the unary request gets a 429 (test_the_openai_sdk_against_tgi).
    real = against_real("tgi.overloaded", lambda base: openai_chat("tgi", base, stream=True))
    with session("tgi") as chaos:
        chaos.inject("tgi.overloaded")
        error = caught(lambda: openai_chat("tgi", stream=True))
    same_failure("tgi.overloaded", error, real)
    assert isinstance(error, openai.APIError) and error.body == "Model is overloaded"
    assert len(chaos.calls) == real.attempts and [c.status for c in chaos.calls] == [200] * real.attempts


@pytest.mark.parametrize("kind", ["timeout.read", "connection.reset"])
def test_the_openai_sdk_retries_timeouts_and_resets_as_it_does_real_ones(kind: str) -> None:
    fault = f"tgi.{kind}"
    # the real side with a shorter timeout: it runs in real time, and the timeout does not decide the class
    real = against_real(fault, lambda base: openai_chat("tgi", base, timeout=0.2))
    with session("tgi", VirtualClock()) as chaos:
        chaos.inject(fault)
        error = caught(lambda: openai_chat("tgi", timeout=2))
    same_failure(fault, error, real)
    assert error is not None
    assert len(chaos.calls) == real.attempts


def test_tgi_latency_through_the_openai_sdk() -> None:
    with session("tgi", VirtualClock()) as chaos:
        chaos.reply("tgi", "slow")
        chaos.inject("tgi.latency", seconds=4.0, jitter=0)
        answer = openai_chat("tgi")
    assert answer.choices[0].message.content == "slow"
    assert chaos.calls[0].duration == pytest.approx(4.0)


# ---- the serverless cold start -----------------------------------------------------------------


def _loading(error: BaseException | None) -> dict[str, Any]:
    assert isinstance(error, HfHubHTTPError) and error.response.status_code == 503
    body: dict[str, Any] = error.response.json()
    return body


def test_cold_start_answers_loading_with_a_countdown_then_the_model() -> None:
    real = against_real("huggingface.cold_start", lambda base: chat_client("huggingface", base).chat_completion(MESSAGES),
                        seconds=20.0, idle=900.0)
    with session("huggingface", VirtualClock()) as chaos:
        chaos.reply("huggingface", "warm now")
        chaos.inject("huggingface.cold_start", seconds=20.0, idle=900.0)
        client = chat_client("huggingface")
        bodies = []
        for wait in (0, 5, 10):
            time.sleep(wait)
            error = caught(lambda: client.chat_completion(MESSAGES))
            same_failure("huggingface.cold_start", error, real)
            bodies.append(_loading(error))
            assert isinstance(error, HfHubHTTPError) and error.server_message == f"Model {MODEL} is currently loading"
        time.sleep(5)  # 20 s after the first call: loaded
        assert client.chat_completion(MESSAGES).choices[0].message.content == "warm now"
        assert client.chat_completion(MESSAGES).choices[0].message.content == "warm now"
    assert real.attempts is not None
    assert [b["estimated_time"] for b in bodies] == [20.0, 15.0, 5.0]
    assert bodies[0] == {"error": f"Model {MODEL} is currently loading", "estimated_time": 20.0}
    # each loading call makes as many attempts as against a real server, each warm call one
    assert [c.status for c in chaos.calls] == [503] * (3 * real.attempts) + [200, 200]


def test_cold_start_on_the_serverless_text_generation_route_names_the_model_in_the_url() -> None:
    # The real server takes the model's URL as the model: hf-inference then asks it directly,
    # without the Hub lookup of the model's task.
    real = against_real("huggingface.cold_start", lambda base: InferenceClient(provider="hf-inference", token=TOKEN).text_generation(
        "hello", model=f"{base}/models/{GPT2}"), seconds=10.0)
    with session("huggingface", VirtualClock()) as chaos:
        # hf-inference checks the model's task on the Hub first (huggingface.co/api/models/...)
        chaos.reply_http(f"https://huggingface.co/api/models/{GPT2}", json={"id": GPT2, "pipeline_tag": "text-generation"})
        chaos.inject("huggingface.cold_start", seconds=10.0)
        client = InferenceClient(provider="hf-inference", token=TOKEN)
        error = caught(lambda: client.text_generation("hello", model=GPT2))
        time.sleep(10)
        assert client.text_generation("hello", model=GPT2)
    same_failure("huggingface.cold_start", error, real)
    assert _loading(error) == {"error": f"Model {GPT2} is currently loading", "estimated_time": 10.0}
    assert real.attempts is not None
    calls = [c for c in chaos.calls if c.provider == "huggingface"]
    assert {c.url for c in calls} == {f"https://router.huggingface.co/hf-inference/models/{GPT2}"}
    assert [c.status for c in calls] == [503] * real.attempts + [200]


def test_the_openai_sdk_retries_the_loading_503_as_it_does_a_real_one() -> None:
    # A 1 s load: the SDK's backoff decides how many 503s it meets before the model is up, here in
    # virtual time, against the real server in real time.
    real = against_real("huggingface.cold_start", lambda base: openai_chat("huggingface", base),
                        reply="loaded", seconds=1.0)
    with session("huggingface", VirtualClock()) as chaos:
        chaos.reply("huggingface", "loaded")
        chaos.inject("huggingface.cold_start", seconds=1.0)
        answer = openai_chat("huggingface")
    assert real.error is None and real.attempts is not None
    assert answer.choices[0].message.content == real.value.choices[0].message.content == "loaded"
    assert [c.status for c in chaos.calls] == [503] * (real.attempts - 1) + [200]


def test_the_model_goes_cold_again_after_idle() -> None:
    real = against_real("huggingface.cold_start", lambda base: native_client("huggingface", base).text_generation("hello"),
                        seconds=5.0, idle=60.0)
    with session("huggingface", VirtualClock()) as chaos:
        chaos.inject("huggingface.cold_start", seconds=5.0, idle=60.0)
        client = native_client("huggingface")
        errors = []
        for pause in (0, 5, 30, 61):
            time.sleep(pause)
            errors.append(caught(lambda: client.text_generation("hello")))
    assert real.attempts is not None
    # each loading call makes as many attempts as against a real server, each warm call one
    assert [c.status for c in chaos.calls] == [503] * real.attempts + [200, 200] + [503] * real.attempts
    assert errors[1] is None and errors[2] is None
    same_failure("huggingface.cold_start", errors[0], real)
    same_failure("huggingface.cold_start", errors[3], real)


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
    tested = {f"{p}.{k}" for p in ("huggingface", "tgi") for k in STATUS}
    tested |= {f"{p}.{k}" for p in ("huggingface", "tgi") for k in ("stream.error", "timeout.read", "connection.reset", "latency")}
    tested.add("huggingface.cold_start")
    # model.*: in test_huggingface_model_faults.py
    assert sorted(i for i in chaoskit.faults.ids("huggingface.*") + chaoskit.faults.ids("tgi.*") if ".model." not in i) == sorted(tested)


def test_the_hub_agent_registry_the_client_reads_first_is_answered_not_blocked(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub fetches /api/agent-harnesses from the Hub once a day (cached in HF_HOME): with
    no cache, that GET is answered with the empty registry, never faulted, and the call goes on."""
    from huggingface_hub import constants

    # the real side first, with the registry already read (the autouse fixture): no Hub request
    real = against_real("huggingface.overloaded", lambda base: chat_client("huggingface", base).chat_completion(MESSAGES, max_tokens=5))
    monkeypatch.setattr(_detect_agent, "_registry", None)
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agent_harnesses.json"))
    with session("huggingface") as chaos:
        chaos.inject("huggingface.overloaded")
        error = caught(lambda: chat_client("huggingface").chat_completion(MESSAGES, max_tokens=5))
    same_failure("huggingface.overloaded", error, real)
    assert isinstance(error, HfHubHTTPError) and error.response.status_code == 429
    hub, *calls = chaos.calls
    assert (hub.url, hub.endpoint, hub.fault, hub.status) == ("https://huggingface.co/api/agent-harnesses", "hub", None, 200)
    assert len(calls) == real.attempts and {(c.endpoint, c.fault) for c in calls} == {("chat", "huggingface.overloaded")}
    assert _detect_agent._registry == {"standardEnvVars": [], "harnesses": {}}


def test_the_registry_request_does_not_warm_the_model(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    real = against_real("huggingface.cold_start", lambda base: chat_client("huggingface", base).chat_completion(MESSAGES, max_tokens=5))
    monkeypatch.setattr(_detect_agent, "_registry", None)
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agent_harnesses.json"))
    with session("huggingface") as chaos:
        chaos.inject("huggingface.cold_start")
        error = caught(lambda: chat_client("huggingface").chat_completion(MESSAGES, max_tokens=5))
    same_failure("huggingface.cold_start", error, real)
    assert isinstance(error, HfHubHTTPError) and error.response.status_code == 503
    assert real.attempts is not None
    assert [(c.endpoint, c.fault) for c in chaos.calls] == [("hub", None)] + [("chat", "huggingface.cold_start")] * real.attempts

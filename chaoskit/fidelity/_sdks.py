"""One model call through each provider's real SDK, pointed at any base URL.

The oracle and the doctor make the same call twice (once under chaoskit, once at the real
misbehaving server), so the call is defined here once per SDK: the client's settings, the
request, and how a stream is drained. Items of a stream are appended to ``items`` as they
arrive, so what was delivered before a break is kept.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["APIS", "BASE_PATHS", "SDKS", "Settings", "api_of", "async_call", "call", "drain", "installed", "supports_async", "warm_up"]

#: The SDK behind each provider, by import name.
SDKS = {
    "openai": "openai", "azure": "openai", "anthropic": "anthropic",
    "vllm": "openai", "ollama": "openai", "mistral": "openai", "groq": "openai", "tgi": "openai",
    "gemini": "google.genai", "bedrock": "boto3", "huggingface": "huggingface_hub",
}
#: The path each provider's API sits under, appended to the base URL the call is pointed at.
BASE_PATHS = {"groq": "/openai/v1", "openai": "/v1", "vllm": "/v1", "ollama": "/v1", "mistral": "/v1", "tgi": "/v1"}
MESSAGES = [{"role": "user", "content": "Where is my order?"}]
#: The model a Hugging Face call names when it goes to the SDK's own host (no base URL).
HF_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
TOOLS = [{"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object"}}}]
ANTHROPIC_TOOLS = [{"name": "lookup_order", "description": "Find an order.", "input_schema": {"type": "object"}}]


@dataclass(frozen=True)
class Settings:
    """The client settings: timeouts in seconds, retries (None: the SDK's default) and, where the
    SDK lets the client set it (google-genai), the first retry's delay and its jitter."""

    read_timeout: float = 10.0
    connect_timeout: float = 5.0
    max_retries: int | None = None
    retry_delay: float | None = None


#: A call: ``call(items, begin)`` makes the request and returns what the SDK returned; a
#: stream's items are appended to ``items`` as they come; ``begin()`` is called once the client
#: exists, right before the request, so the time to the outcome leaves out setting it up.
Call = Callable[[list[Any], Callable[[], None]], Any]


def installed(provider: str) -> bool:
    """Whether the SDK of ``provider`` (or the package of that name, ``litellm``) is installed."""
    try:
        return importlib.util.find_spec(SDKS.get(provider, provider)) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing (google.genai)
        return False


def supports_async(provider: str) -> bool:
    """Whether the SDK has an async client the oracle drives (boto3 has none)."""
    return SDKS[provider] != "boto3"


def _retries(s: Settings) -> dict[str, Any]:
    return {} if s.max_retries is None else {"max_retries": s.max_retries}


def _openai(provider: str, base: str | None, s: Settings, asynchronous: bool) -> Any:
    import httpx2
    import openai

    timeout = httpx2.Timeout(s.read_timeout, connect=s.connect_timeout)
    if provider == "azure":
        if base is None:
            raise ValueError("an Azure OpenAI call needs the resource's endpoint as its base URL")
        cls = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
        return cls(api_key="azure-chaoskit", api_version="2024-10-21", azure_endpoint=base, timeout=timeout, **_retries(s))
    cls2 = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    url = None if base is None else base + BASE_PATHS.get(provider, "/v1")
    return cls2(api_key="sk-chaoskit-oracle", base_url=url, timeout=timeout, **_retries(s))


#: The ways each SDK can make the call, its default first: openai's Chat Completions or Responses
#: API (its own event grammar); anthropic's ``messages.create`` or its ``messages.stream()``
#: helper (which accumulates the events); boto3's Converse or InvokeModel (an Anthropic body).
APIS = {"openai": ("chat", "responses"), "anthropic": ("messages", "stream"), "boto3": ("converse", "invoke")}


def api_of(provider: str, api: str | None, stream: bool) -> str:
    """``api`` checked against what ``provider``'s SDK offers (None: its default)."""
    offered = APIS.get(SDKS[provider], ("default",))
    if api is None:
        return offered[0]
    if api not in offered:
        raise ValueError(f"api={api!r}: {SDKS[provider]} calls can use {', '.join(offered)}")
    if api == "stream" and not stream:
        raise ValueError("api='stream' is anthropic's streaming helper: it needs stream=True")
    return api


def _openai_create(client: Any, api: str) -> Callable[..., Any]:
    return client.responses.create if api == "responses" else client.chat.completions.create


def _openai_kwargs(stream: bool, api: str = "chat") -> dict[str, Any]:
    if api == "responses":
        return {"model": "gpt-4o-mini", "input": MESSAGES[0]["content"], "stream": stream}
    return {"model": "gpt-4o-mini", "messages": MESSAGES, "tools": TOOLS, "stream": stream}


def _anthropic(base: str | None, s: Settings, asynchronous: bool) -> Any:
    import anthropic
    import httpx2

    cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
    return cls(api_key="sk-ant-chaoskit-oracle", base_url=base, timeout=httpx2.Timeout(s.read_timeout, connect=s.connect_timeout), **_retries(s))


def _anthropic_kwargs(stream: bool) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": MESSAGES, "tools": ANTHROPIC_TOOLS, "stream": stream}


def _anthropic_helper(claude: Any, items: list[Any], begin: Callable[[], None]) -> Any:
    """``messages.stream()``: its events into ``items``, then the message it accumulated."""
    kwargs = _anthropic_kwargs(True)
    del kwargs["stream"]
    begin()
    with claude.messages.stream(**kwargs) as events:
        items.extend(events)
        return events.get_final_message()


async def _anthropic_ahelper(claude: Any, items: list[Any]) -> Any:
    kwargs = _anthropic_kwargs(True)
    del kwargs["stream"]
    async with claude.messages.stream(**kwargs) as events:
        async for event in events:
            items.append(event)
        return await events.get_final_message()


def _gemini(base: str | None, s: Settings) -> Any:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(timeout=int(s.read_timeout * 1000))
    if base is not None:
        options.base_url = base
    if s.max_retries is not None and s.max_retries > 0:
        retry = types.HttpRetryOptions(attempts=s.max_retries + 1)
        if s.retry_delay is not None:  # jitter in proportion, so the waits stay short
            retry = types.HttpRetryOptions(attempts=s.max_retries + 1, initial_delay=s.retry_delay,
                                           max_delay=s.retry_delay * 4, jitter=s.retry_delay)
        options.retry_options = retry
    return genai.Client(api_key="chaoskit-oracle", http_options=options)


def _bedrock(base: str | None, s: Settings) -> Any:
    import boto3
    from botocore.config import Config

    retries: dict[str, Any] = {"mode": "standard"}
    if s.max_retries is not None:
        retries["total_max_attempts"] = s.max_retries + 1  # botocore's max_attempts counts retries only
    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=base,
        aws_access_key_id="chaoskit", aws_secret_access_key="oracle",
        config=Config(read_timeout=s.read_timeout, connect_timeout=s.connect_timeout, retries=retries),
    )


BEDROCK_REQUEST = {
    "modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "messages": [{"role": "user", "content": [{"text": MESSAGES[0]["content"]}]}],
}
#: The same request through InvokeModel, with the Anthropic Messages body Bedrock takes.
BEDROCK_INVOKE = {
    "modelId": BEDROCK_REQUEST["modelId"],
    "body": json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": MESSAGES}),
}


def _bedrock_call(bedrock: Any, api: str, stream: bool) -> Call:
    if api == "invoke":
        if stream:
            return lambda items, begin: drain(_begun(begin, bedrock.invoke_model_with_response_stream)(**BEDROCK_INVOKE)["body"], items, True)
        return lambda items, begin: _read_body(_begun(begin, bedrock.invoke_model)(**BEDROCK_INVOKE))
    if stream:
        return lambda items, begin: drain(_begun(begin, bedrock.converse_stream)(**BEDROCK_REQUEST)["stream"], items, True)
    return lambda items, begin: _begun(begin, bedrock.converse)(**BEDROCK_REQUEST)


def _read_body(response: dict[str, Any]) -> dict[str, Any]:
    """InvokeModel's answer with its body read, as the app reads it."""
    return {**response, "body": response["body"].read()}


def _begun(begin: Callable[[], None], method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, called right after ``begin()``."""

    def called(*args: Any, **kwargs: Any) -> Any:
        begin()
        return method(*args, **kwargs)

    return called


def drain(out: Any, items: list[Any], stream: bool) -> Any:
    if not stream:
        return out
    for item in out:
        items.append(item)
    return out


async def _adrain(out: Any, items: list[Any], stream: bool) -> Any:
    if not stream:
        return out
    async for item in out:
        items.append(item)
    return out


def _hf_target(base: str | None) -> dict[str, Any]:
    return {"model": HF_MODEL} if base is None else {"base_url": base}


def call(provider: str, base: str | None, *, stream: bool, settings: Settings = Settings(), api: str | None = None) -> Call:
    """A sync model call to ``provider``'s API at ``base`` (None: the SDK's own host) through its
    SDK; streams are drained into ``items``. ``api``: which of the SDK's ways of calling (:data:`APIS`)."""
    sdk = SDKS[provider]
    api = api_of(provider, api, stream)
    if sdk == "openai":
        client = _openai(provider, base, settings, False)
        return lambda items, begin: drain(_begun(begin, _openai_create(client, api))(**_openai_kwargs(stream, api)), items, stream)
    if sdk == "anthropic":
        claude = _anthropic(base, settings, False)
        if api == "stream":
            return lambda items, begin: _anthropic_helper(claude, items, begin)
        return lambda items, begin: drain(_begun(begin, claude.messages.create)(**_anthropic_kwargs(stream)), items, stream)
    if sdk == "google.genai":
        gemini = _gemini(base, settings)
        contents = MESSAGES[0]["content"]

        def generate(items: list[Any], begin: Callable[[], None]) -> Any:
            # Reach the models through the client on every call: a genai Client that is
            # garbage-collected closes its connections, so the call must keep it alive.
            method = gemini.models.generate_content_stream if stream else gemini.models.generate_content
            return drain(_begun(begin, method)(model="gemini-2.5-flash", contents=contents), items, stream)

        return generate
    if sdk == "boto3":
        return _bedrock_call(_bedrock(base, settings), api, stream)
    if sdk == "huggingface_hub":
        from huggingface_hub import InferenceClient

        hf = InferenceClient(**_hf_target(base), token="hf_chaoskit_oracle", timeout=settings.read_timeout)
        return lambda items, begin: drain(_begun(begin, hf.chat_completion)(MESSAGES, max_tokens=100, stream=stream), items, stream)
    raise ValueError(f"no SDK call for provider {provider!r}")


def async_call(
    provider: str, base: str | None, *, stream: bool, settings: Settings = Settings(),
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None, api: str | None = None,
) -> Call:
    """As :func:`call`, through the SDK's async client, on a new event loop per call
    (``loop_factory``'s, such as a virtual-time loop, else asyncio's default)."""
    sdk = SDKS[provider]
    api = api_of(provider, api, stream)

    async def make(items: list[Any], begin: Callable[[], None]) -> Any:
        if sdk == "openai":
            async with _openai(provider, base, settings, True) as client:
                begin()
                return await _adrain(await _openai_create(client, api)(**_openai_kwargs(stream, api)), items, stream)
        if sdk == "anthropic":
            async with _anthropic(base, settings, True) as claude:
                begin()
                if api == "stream":
                    return await _anthropic_ahelper(claude, items)
                return await _adrain(await claude.messages.create(**_anthropic_kwargs(stream)), items, stream)
        if sdk == "google.genai":
            gemini = _gemini(base, settings).aio
            contents = MESSAGES[0]["content"]
            try:
                begin()
                if stream:
                    out = await gemini.models.generate_content_stream(model="gemini-2.5-flash", contents=contents)
                    return await _adrain(out, items, True)
                return await gemini.models.generate_content(model="gemini-2.5-flash", contents=contents)
            finally:
                await gemini.aclose()
        if sdk == "huggingface_hub":
            from huggingface_hub import AsyncInferenceClient

            async with AsyncInferenceClient(**_hf_target(base), token="hf_chaoskit_oracle", timeout=settings.read_timeout) as hf:
                begin()
                return await _adrain(await hf.chat_completion(MESSAGES, max_tokens=100, stream=stream), items, stream)
        raise ValueError(f"no async SDK call for provider {provider!r}")

    def run(items: list[Any], begin: Callable[[], None]) -> Any:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(make(items, begin))

    return run


def warm_up(provider: str) -> None:
    """Do once what an SDK does on its first call only, so both sides of a comparison see the same requests.

    huggingface_hub reads the Hub's agent registry on its first request of a process: read it
    now, under chaoskit (answered with the empty registry), never from the real Hub.
    """
    if SDKS.get(provider) != "huggingface_hub":
        return
    try:
        from huggingface_hub.utils import _detect_agent
    except ImportError:  # an older huggingface_hub without agent detection
        return
    get_registry = getattr(_detect_agent, "_get_registry", None)
    if get_registry is None or getattr(_detect_agent, "_registry", None) is not None:
        return
    from .._session import Chaos

    with Chaos(seed=0):
        get_registry()

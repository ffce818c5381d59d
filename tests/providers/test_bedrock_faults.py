"""Bedrock Runtime faults against the real boto3 ``bedrock-runtime`` client: error code, status,
botocore's backoff, in-stream exception frames parsed by botocore's event-stream reader, and the
hook's lifetime. What botocore makes of a failure (the exception class, what it was raised from,
how many attempts its retries make) is not written down: the same call with the same client
config is made against a real server playing the fault on a loopback socket
(``_matrix.against_real``), and chaoskit's fault must give the same."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from itertools import pairwise
from typing import Any

import boto3
import botocore.exceptions
import pytest
from _matrix import against_real, caught, same_failure
from botocore.config import Config
from botocore.hooks import HierarchicalEmitter

import chaoskit
from chaoskit.providers import for_host

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Where is order A100?"}]}]
ANTHROPIC_BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
                             "messages": [{"role": "user", "content": "Where is order A100?"}]})


def bedrock(base: str | None = None, **config: Any) -> Any:
    """A bedrock-runtime client (``base``: a real server's URL instead of AWS's)."""
    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="AKIDCHAOSKITTEST",
        aws_secret_access_key="chaoskit-test-secret", aws_session_token="chaoskit-session-token",
        config=Config(**config) if config else None, endpoint_url=base,
    )


#: Made at import, before any session, as an app's module-level client is.
EARLY = bedrock()


def converse(client: Any = EARLY) -> Any:
    return client.converse(modelId=MODEL, messages=MESSAGES)


def virtual() -> chaoskit.Chaos:
    return chaoskit.Chaos(seed=1, clock=chaoskit.VirtualClock())


# ---- healthy answers ---------------------------------------------------------------------------


def test_a_client_made_before_the_session_gets_a_simulated_converse_answer() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("bedrock", "Order A100 has shipped.")
        answer = converse()
    assert answer["output"]["message"] == {"role": "assistant", "content": [{"text": "Order A100 has shipped."}]}
    assert answer["stopReason"] == "end_turn"
    assert set(answer["usage"]) == {"inputTokens", "outputTokens", "totalTokens"}
    assert answer["metrics"]["latencyMs"] > 0
    meta = answer["ResponseMetadata"]
    assert (meta["HTTPStatusCode"], meta["RetryAttempts"]) == (200, 0)
    (call,) = chaos.calls
    assert call.provider == "bedrock" and call.endpoint == "converse" and call.text == "Order A100 has shipped."
    assert call.url == f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{MODEL.replace(':', '%3A')}/converse"
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]
    assert call.request_headers["authorization"] == "<redacted>"
    assert "x-amz-security-token" not in call.request_headers  # the session token never reaches chaoskit


def test_converse_stream_events_parsed_by_botocore() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("bedrock", "Order A100 has shipped.")
        response = EARLY.converse_stream(modelId=MODEL, messages=MESSAGES)
        events = list(response["stream"])
    assert [next(iter(e)) for e in events] == [
        "messageStart", *["contentBlockDelta"] * 4, "contentBlockStop", "messageStop", "metadata",
    ]
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e) == "Order A100 has shipped."
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    assert chaos.calls[0].stream and chaos.calls[0].endpoint == "converse_stream"


def test_a_tool_call_reply_unary_and_streamed() -> None:
    call = chaoskit.tool_call("lookup_order", {"order_id": "A100"})
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("bedrock", call)
        unary = converse()
        events = list(EARLY.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
    (block,) = unary["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "lookup_order" and block["toolUse"]["input"] == {"order_id": "A100"}
    assert block["toolUse"]["toolUseId"].startswith("tooluse_")
    assert unary["stopReason"] == "tool_use"
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "lookup_order"
    pieces = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e)
    assert json.loads(pieces) == {"order_id": "A100"}
    assert len(chaos.calls) == 2


def test_invoke_model_with_an_anthropic_body_unary_and_streamed() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("bedrock", "Order A100 has shipped.")
        unary = EARLY.invoke_model(modelId=MODEL, body=ANTHROPIC_BODY)
        message = json.loads(unary["body"].read())
        streamed = EARLY.invoke_model_with_response_stream(modelId=MODEL, body=ANTHROPIC_BODY)
        chunks = [json.loads(e["chunk"]["bytes"]) for e in streamed["body"]]
    assert message["type"] == "message" and message["content"] == [{"type": "text", "text": "Order A100 has shipped."}]
    assert message["model"] == "claude-3-5-sonnet-20240620" and message["stop_reason"] == "end_turn"
    assert unary["contentType"] == "application/json"
    assert [c["type"] for c in chunks][0] == "message_start" and chunks[-1]["type"] == "message_stop"
    assert "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta") == "Order A100 has shipped."
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] > 0
    assert streamed["contentType"] == "application/json"
    assert [c.endpoint for c in chaos.calls] == ["invoke", "invoke_stream"]


# ---- error statuses: botocore's exceptions and retries -------------------------------------------


#: fault -> (error code, status): what chaoskit sends
STATUS_FAULTS = [
    ("bedrock.throttling", "ThrottlingException", 429),
    ("bedrock.model_not_ready", "ModelNotReadyException", 429),
    ("bedrock.unavailable", "ServiceUnavailableException", 503),
    ("bedrock.server_error", "InternalServerException", 500),
    ("bedrock.model_timeout", "ModelTimeoutException", 408),
    ("bedrock.context_length", "ValidationException", 400),
    ("bedrock.validation", "ValidationException", 400),
    ("bedrock.access_denied", "AccessDeniedException", 403),
]


@pytest.mark.parametrize(("fault", "code", "status"), STATUS_FAULTS)
def test_status_faults_raise_what_the_real_status_raises_with_default_retries(fault: str, code: str, status: int) -> None:
    real = against_real(fault, lambda base: converse(bedrock(base)))
    with virtual() as chaos:  # throttling backoff is up to 1 s, then 2 s: virtual, so free
        chaos.inject(fault)
        error = caught(converse)
    same_failure(fault, error, real)
    assert isinstance(error, botocore.exceptions.ClientError) and isinstance(real.error, botocore.exceptions.ClientError)
    assert error.response["Error"]["Code"] == code
    assert error.response["Error"]["Message"] == chaoskit.faults.get(fault).params["error"]["message"]
    meta, real_meta = error.response["ResponseMetadata"], real.error.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status
    attempts = real.attempts
    assert attempts is not None and len(chaos.calls) == attempts == meta["RetryAttempts"] + 1
    assert [c.retry_count for c in chaos.calls] == list(range(attempts))  # from botocore's amz-sdk-request
    assert meta.get("MaxAttemptsReached", False) is real_meta.get("MaxAttemptsReached", False)
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]
    assert meta["HTTPHeaders"]["x-amzn-errortype"].startswith(f"{code}:")
    assert [c.request_headers["amz-sdk-request"].split(";")[0] for c in chaos.calls] == [f"attempt={i}" for i in range(1, attempts + 1)]


def test_throttling_backs_off_as_botocore_does_on_the_session_clock() -> None:
    """Standard mode: rand(0, 1) * 1 s * 2**(attempt - 1) for throttling, 50 ms base otherwise."""
    started = time.perf_counter()
    with virtual() as chaos:
        chaos.inject("bedrock.throttling", times=2)
        assert converse()["ResponseMetadata"]["RetryAttempts"] == 2
        chaos.inject("bedrock.server_error", times=2)
        chaos.injections.pop(0)
        assert converse()["ResponseMetadata"]["RetryAttempts"] == 2
    calls = list(chaos.calls)
    throttled, failed = calls[:3], calls[3:]
    limits = [1.0, 2.0]
    assert all(0 < b.started - a.started <= limit for (a, b), limit in zip(pairwise(throttled), limits, strict=True))
    assert all(0 < b.started - a.started <= limit for (a, b), limit in zip(pairwise(failed), [0.05, 0.1], strict=True))
    assert [c.status for c in chaos.calls] == [429, 429, 200, 500, 500, 200]
    assert time.perf_counter() - started < 2.0


def test_a_status_fault_on_a_stream_fails_the_call_itself() -> None:
    real = against_real("bedrock.throttling", lambda base: bedrock(base).converse_stream(modelId=MODEL, messages=MESSAGES))
    with virtual() as chaos:
        chaos.inject("bedrock.throttling")
        error = caught(lambda: EARLY.converse_stream(modelId=MODEL, messages=MESSAGES))
    same_failure("bedrock.throttling", error, real)
    assert isinstance(error, botocore.exceptions.ClientError) and error.response["Error"]["Code"] == "ThrottlingException"
    assert len(chaos.calls) == real.attempts == error.response["ResponseMetadata"]["RetryAttempts"] + 1


# ---- in-stream exceptions ------------------------------------------------------------------------


def stream_events(client: Any, seen: list[dict[str, Any]]) -> Any:
    """converse_stream, its events collected in ``seen`` until the stream ends or raises."""
    response = client.converse_stream(modelId=MODEL, messages=MESSAGES)
    for event in response["stream"]:
        seen.append(event)
    return response



@pytest.mark.parametrize(
    ("fault", "code"),
    [
    ("bedrock.stream.throttling", "throttlingException"),
    ("bedrock.stream.model_error", "modelStreamErrorException"),
    ("bedrock.stream.server_error", "internalServerException"),
    ],
)
def test_an_exception_frame_mid_converse_stream(fault: str, code: str) -> None:
    real_seen: list[dict[str, Any]] = []
    real = against_real(fault, lambda base: stream_events(bedrock(base), real_seen), reply="one two three four five six")
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("bedrock", "one two three four five six")
        chaos.inject(fault)
        response = EARLY.converse_stream(modelId=MODEL, messages=MESSAGES)
        seen: list[dict[str, Any]] = []
        error = caught(lambda: seen.extend(response["stream"]))
    same_failure(fault, error, real)
    assert seen == real_seen
    assert isinstance(error, botocore.exceptions.ClientError)
    assert error.response["Error"] == {"Code": code, "Message": chaoskit.faults.get(fault).params["error"]["message"]}
    assert error.operation_name == "ConverseStream"
    assert [e["contentBlockDelta"]["delta"]["text"] for e in seen if "contentBlockDelta" in e] == ["one", " two"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    (call,) = chaos.calls  # never retried: the call had succeeded
    assert (call.fault, call.status, call.text) == (fault, 200, "one two")


def test_an_exception_frame_mid_invoke_model_stream() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("bedrock", "one two three four five six")
        chaos.inject("bedrock.stream.model_error")
        response = EARLY.invoke_model_with_response_stream(modelId=MODEL, body=ANTHROPIC_BODY)
        texts: list[str] = []
        error = caught(lambda: invoke_texts(response, texts))
    real_texts: list[str] = []
    real = against_real(
        "bedrock.stream.model_error", reply="one two three four five six",
        make=lambda base: invoke_texts(bedrock(base).invoke_model_with_response_stream(modelId=MODEL, body=ANTHROPIC_BODY), real_texts),
    )
    same_failure("bedrock.stream.model_error", error, real)
    assert isinstance(error, botocore.exceptions.ClientError)
    assert error.response["Error"]["Code"] == "modelStreamErrorException"
    assert error.operation_name == "InvokeModelWithResponseStream"
    assert texts == real_texts == ["one", " two"] and len(chaos.calls) == 1


def invoke_texts(response: Any, texts: list[str]) -> None:
    """The text deltas of an InvokeModel stream with an Anthropic body, collected in ``texts``."""
    for event in response["body"]:
        chunk = json.loads(event["chunk"]["bytes"])
        if chunk["type"] == "content_block_delta":
            texts.append(chunk["delta"]["text"])


def test_a_stream_cut_mid_body_is_what_a_real_cut_is() -> None:
    real_seen: list[dict[str, Any]] = []
    real = against_real("bedrock.stream.cut.unclean", lambda base: stream_events(bedrock(base), real_seen), reply="one two three four five six")
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.reply("bedrock", "one two three four five six")
        chaos.inject("bedrock.stream.cut.unclean")
        seen: list[dict[str, Any]] = []
        error = caught(lambda: stream_events(EARLY, seen))
    same_failure("bedrock.stream.cut.unclean", error, real)  # botocore 1.44: urllib3's ProtocolError, let through
    assert str(error) == str(real.error) and seen == real_seen
    assert [e["contentBlockDelta"]["delta"]["text"] for e in seen if "contentBlockDelta" in e] == ["one", " two"]
    assert len(chaos.calls) == 1 and chaos.calls[0].complete is False


# ---- the network ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "seconds"),
    [("bedrock.timeout.read", 0.5), ("bedrock.timeout.connect", 0.25), ("bedrock.connection.reset", 0.0)],
)
def test_network_faults_raise_what_the_real_socket_failures_raise(fault: str, seconds: float) -> None:
    sent: list[object] = []  # botocore's attempts, counted by the client: a blackholed connect reaches no server

    def make(base: str) -> Any:
        client = bedrock(base, read_timeout=0.2, connect_timeout=0.1)
        client.meta.events.register("before-send.bedrock-runtime", lambda **_: sent.append(1))
        return converse(client)

    real = against_real(fault, make)
    client = bedrock(read_timeout=0.5, connect_timeout=0.25)
    with virtual() as chaos:
        chaos.inject(fault)
        error = caught(lambda: converse(client))
    same_failure(fault, error, real)
    assert error is not None
    assert "bedrock-runtime.us-east-1.amazonaws.com" in str(error)
    assert any(note.startswith(f"chaoskit: injected {fault}") for note in error.__notes__)
    assert len(chaos.calls) == len(sent) and real.attempts in (None, len(sent))
    assert all(c.duration == pytest.approx(seconds, abs=0.01) for c in chaos.calls)


def test_latency_within_the_read_timeout_is_only_late_and_past_it_times_out() -> None:
    client = bedrock(read_timeout=10)
    with virtual() as chaos:
        chaos.inject("bedrock.latency", seconds=8, jitter=0, times=1)
        assert converse(client)["stopReason"] == "end_turn"
        chaos.inject("bedrock.latency", seconds=30, jitter=0)
        chaos.injections.pop(0)
        error = caught(lambda: converse(client))
    real = against_real("bedrock.latency", lambda base: converse(bedrock(base, read_timeout=0.1)), seconds=0.3, jitter=0)
    same_failure("bedrock.latency", error, real)
    assert len(chaos.calls) - 1 == real.attempts
    assert chaos.calls[0].duration == pytest.approx(8, abs=0.01)
    assert [round(c.duration) for c in list(chaos.calls)[1:]] == [10, 10, 10]  # the client's timeout, each attempt


def test_cold_start_answers_model_not_ready_until_the_model_has_loaded() -> None:
    real = against_real("bedrock.cold_start", lambda base: converse(bedrock(base)), seconds=30)
    with virtual() as chaos:
        chaos.inject("bedrock.cold_start", seconds=30)
        error = caught(converse)  # botocore retries within a fraction of a second: still loading
        same_failure("bedrock.cold_start", error, real)
        assert isinstance(error, botocore.exceptions.ClientError) and error.response["Error"]["Code"] == "ModelNotReadyException"
        assert error.response["ResponseMetadata"]["RetryAttempts"] + 1 == real.attempts
        time.sleep(30)  # the app waits (virtual time) and comes back
        answer = converse()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 0
    assert [c.status for c in chaos.calls] == [429] * (real.attempts or 0) + [200]


# ---- routing and the hook's lifetime -------------------------------------------------------------


def test_a_gateway_url_routed_as_bedrock_is_simulated_and_an_unknown_one_is_blocked() -> None:
    gateway = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b",
                           endpoint_url="https://llm-gateway.internal")
    with chaoskit.Chaos(seed=1) as chaos:
        with pytest.raises(chaoskit.UnroutedRequestError):
            converse(gateway)
        chaos.route("https://llm-gateway.internal", provider="bedrock")
        assert converse(gateway)["output"]["message"]["content"][0]["text"]
    assert [c.provider for c in chaos.calls] == [None, "bedrock"]  # the blocked call was not retried


def test_a_handler_the_client_registered_answers_first() -> None:
    client = bedrock()
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield b'{"output":{"message":{"role":"assistant","content":[{"text":"stub"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}'

    client.meta.events.register("before-send.bedrock-runtime.Converse", lambda request, **_: AWSResponse(request.url, 200, {}, Raw()))
    with chaoskit.Chaos(seed=1) as chaos:
        assert converse(client)["output"]["message"]["content"] == [{"text": "stub"}]
    assert len(chaos.calls) == 0


def test_the_hook_is_gone_after_the_session_even_when_the_test_failed() -> None:
    original = HierarchicalEmitter.emit
    elsewhere = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b",
                             endpoint_url="http://chaoskit.invalid")
    with pytest.raises(RuntimeError), chaoskit.Chaos(seed=1) as chaos:
        assert HierarchicalEmitter.emit is not original
        with pytest.raises(chaoskit.UnroutedRequestError):
            converse(elsewhere)  # in a session: chaoskit answers, and blocks what it does not serve
        raise RuntimeError("the test failed")
    assert HierarchicalEmitter.emit is original
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        converse(elsewhere)  # after it: botocore sends for real (and the name does not resolve)
    assert len(chaos.calls) == 1


@pytest.mark.parametrize(
    ("host", "served"),
    [
        ("bedrock-runtime.us-east-1.amazonaws.com", True),
        ("bedrock-runtime-fips.us-gov-west-1.amazonaws.com", True),
        ("bedrock-runtime.cn-north-1.amazonaws.com.cn", True),
        ("bedrock-runtime.eu-west-3.api.aws", True),
        ("vpce-0a1b2c.bedrock-runtime.us-east-1.vpce.amazonaws.com", True),
    ("bedrock.us-east-1.amazonaws.com", False),  # the control plane
        ("s3.us-east-1.amazonaws.com", False),
    ],
)
def test_bedrock_runtime_hosts(host: str, served: bool) -> None:
    found = for_host(host)
    assert (found is not None and found.name == "bedrock") is served


def test_every_bedrock_fault_is_tested_here() -> None:
    tested = {
        "bedrock.throttling", "bedrock.model_not_ready", "bedrock.unavailable", "bedrock.server_error",
        "bedrock.model_timeout", "bedrock.context_length", "bedrock.validation", "bedrock.access_denied",
        "bedrock.stream.throttling", "bedrock.stream.model_error", "bedrock.stream.server_error",
        "bedrock.stream.cut.unclean", "bedrock.timeout.read", "bedrock.timeout.connect",
        "bedrock.connection.reset", "bedrock.latency", "bedrock.cold_start",
    }
    # model.* and content_filter: in test_bedrock_model_faults.py
    assert sorted(tested) == [i for i in chaoskit.faults.ids("bedrock.*") if ".model." not in i and i != "bedrock.content_filter"]


def test_boto3_imported_only_after_the_session_started_is_intercepted_too() -> None:
    script = (
        "import sys, chaoskit\n"
        "with chaoskit.Chaos(seed=1) as chaos:\n"
        "    assert 'botocore' not in sys.modules\n"
        "    chaos.reply('bedrock', 'late import')\n"
        "    import boto3\n"
        "    client = boto3.client('bedrock-runtime', region_name='us-east-1', aws_access_key_id='a', aws_secret_access_key='b')\n"
        f"    answer = client.converse(modelId={MODEL!r}, messages={MESSAGES!r})\n"
        "    print(answer['output']['message']['content'][0]['text'], len(chaos.calls))\n"
        "from botocore.hooks import HierarchicalEmitter\n"
        "print(HierarchicalEmitter.emit.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["late import 1", "botocore.hooks"]

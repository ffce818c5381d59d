"""A real model server on loopback for pass-through tests: an ASGI app under uvicorn that
speaks the OpenAI Chat Completions, Anthropic Messages, Gemini ``generateContent`` and TGI
(``/generate``, ``/generate_stream``, ``/``) wire formats, unary and streamed (SSE with a real
pause between events). Its answer is :data:`TEXT`, word by word; a unary request
that offers tools is answered with a call to the first one, with :data:`ARGUMENTS`, until the
conversation holds the tool's result."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

#: What the real server answers.
TEXT = "The real server says hello."
#: The arguments of the tool call it answers a request offering tools with.
ARGUMENTS = {"order_id": "A100"}
#: The finish reason of its answers, by provider.
FINISHED = {"openai": "stop", "anthropic": "end_turn", "gemini": "STOP"}
#: The pause between two streamed events.
PAUSE = 0.02


def _words() -> list[str]:
    words = TEXT.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _tool(body: dict[str, Any]) -> str | None:
    """The name of the first tool the request offers (OpenAI's or Anthropic's shape), or None;
    None too once the conversation holds a tool's result: then the model answers in text."""
    for message in body.get("messages") or ():
        content = message.get("content")
        blocks = content if isinstance(content, list) else ()
        if message.get("role") == "tool" or any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
            return None
    for tool in body.get("tools") or ():
        return str((tool.get("function") or tool)["name"])
    return None


def _openai_unary(model: str, tool: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": TEXT}
    if tool is not None:
        call = {"id": "call_upstream", "type": "function", "function": {"name": tool, "arguments": json.dumps(ARGUMENTS)}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {
        "id": "chatcmpl-upstream", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool else FINISHED["openai"]}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }


async def _openai_events(model: str, include_usage: bool = False) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {"id": "chatcmpl-upstream", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    for word in _words():
        await asyncio.sleep(PAUSE)
        yield chunk({"content": word})
    yield chunk({}, FINISHED["openai"])
    if include_usage:  # stream_options.include_usage: a last chunk with no choices and the usage
        usage = {"id": "chatcmpl-upstream", "object": "chat.completion.chunk", "created": 1, "model": model,
                 "choices": [], "usage": {**_openai_unary(model)["usage"], "prompt_tokens_details": {"cached_tokens": 2}}}
        yield f"data: {json.dumps(usage)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _anthropic_unary(model: str, tool: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": TEXT}]
    if tool is not None:
        content = [{"type": "tool_use", "id": "toolu_upstream", "name": tool, "input": ARGUMENTS}]
    return {
        "id": "msg_upstream", "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": "tool_use" if tool else FINISHED["anthropic"], "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 5},
    }


async def _anthropic_events(model: str) -> AsyncIterator[bytes]:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

    message = {**_anthropic_unary(model), "content": [], "stop_reason": None, "usage": {"input_tokens": 5, "output_tokens": 0}}
    yield event("message_start", {"message": message})
    yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    for word in _words():
        await asyncio.sleep(PAUSE)
        yield event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word}})
    yield event("content_block_stop", {"index": 0})
    yield event("message_delta", {"delta": {"stop_reason": FINISHED["anthropic"], "stop_sequence": None}, "usage": {"output_tokens": 5}})
    yield event("message_stop", {})


def _gemini_chunk(model: str, text: str, finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "upstream-gemini"}
    if finish is not None:  # the last chunk, as Google sends it: the finish with the last words
        candidate["finishReason"] = finish
        body["usageMetadata"] = {"promptTokenCount": 5, "candidatesTokenCount": 5, "totalTokenCount": 10}
    return body


async def _gemini_events(model: str) -> AsyncIterator[bytes]:
    words = _words()
    for i, word in enumerate(words):
        await asyncio.sleep(PAUSE)
        chunk = _gemini_chunk(model, word, FINISHED["gemini"] if i == len(words) - 1 else None)
        yield f"data: {json.dumps(chunk)}\r\n\r\n".encode()  # Google's line ends


def _tgi_token(index: int, word: str, last: bool) -> dict[str, Any]:
    return {"index": index, "token": {"id": 1000 + index, "text": word, "logprob": -0.1, "special": False},
            "generated_text": TEXT if last else None, "details": None}


async def _tgi_events() -> AsyncIterator[bytes]:
    words = _words()
    for i, word in enumerate(words, 1):
        await asyncio.sleep(PAUSE)
        yield f"data:{json.dumps(_tgi_token(i, word, i == len(words)))}\n\n".encode()  # TGI: no [DONE]


def app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        body = await request.json()
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_openai_events(body["model"], include_usage), media_type="text/event-stream")
        return JSONResponse(_openai_unary(body["model"], _tool(body)))

    async def messages(request: Request) -> Response:
        body = await request.json()
        if body.get("stream"):
            return StreamingResponse(_anthropic_events(body["model"]), media_type="text/event-stream")
        return JSONResponse(_anthropic_unary(body["model"], _tool(body)))

    async def gemini(request: Request) -> Response:
        model, _, method = request.path_params["call"].partition(":")
        if method == "streamGenerateContent":
            return StreamingResponse(_gemini_events(model), media_type="text/event-stream")
        return JSONResponse(_gemini_chunk(model, TEXT, FINISHED["gemini"]))

    async def tgi(request: Request) -> Response:
        body = await request.json()
        if request.url.path == "/generate_stream" or (request.url.path == "/" and body.get("stream")):
            return StreamingResponse(_tgi_events(), media_type="text/event-stream")
        answer = {"generated_text": TEXT}
        return JSONResponse([answer] if request.url.path == "/" else answer)  # "/" answers a list

    return Starlette(routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/messages", messages, methods=["POST"]),
        Route("/{version}/models/{call}", gemini, methods=["POST"]),
        *(Route(path, tgi, methods=["POST"]) for path in ("/generate", "/generate_stream", "/")),
    ])


@contextmanager
def model_server() -> Iterator[str]:
    """The server on a free loopback port; yields its base URL (``http://127.0.0.1:PORT``)."""
    from seams._servers import asgi_server

    with asgi_server(app()) as base:
        yield base


@contextmanager
def model_server_process() -> Iterator[str]:
    """The same server in a process of its own (uvicorn's CLI), as a deployed server runs: no
    thread of it shares the caller's interpreter. Yields its base URL."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from seams._servers import free_port

    port = free_port()
    tests = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(tests), "engine._upstream:app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "critical"],
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the model server did not start on port {port} (exit {server.poll()})") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)

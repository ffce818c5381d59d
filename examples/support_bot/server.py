"""The support bot as a web service: what a staging deployment runs, and what ``chaoskit run`` tests.

    POST /chat     {"message": "...", "conversation_id": "...", "stream": false}
                   -> {"text": "...", "provider": "openai|anthropic|human", "handed_off": false,
                       "conversation_id": "..."}, with the provider in the ``x-answered-by`` header
    GET  /healthz  -> {"status": "ok"}

The SDKs read ``OPENAI_BASE_URL`` and ``ANTHROPIC_BASE_URL``: pointing them at a chaos proxy
(``http://127.0.0.1:8080/openai/v1``, ``http://127.0.0.1:8080/anthropic``) is all a staging run
needs. ``SUPPORT_BOT_FALLBACK=off`` serves the broken variant, with no fallback: an OpenAI
failure reaches the customer as an error. Serve it with uvicorn::

    uvicorn support_bot.server:app --app-dir examples --port 8000
"""

from __future__ import annotations

import json
import os
from typing import Any

from .app import OPENAI_ERRORS, Answer, AsyncSupportBot, SupportBot

__all__ = ["app"]

_bot: AsyncSupportBot | None = None


def _fallback_on() -> bool:
    return os.environ.get("SUPPORT_BOT_FALLBACK", "on").lower() not in ("off", "0", "false", "no")


def _streamed(message: str) -> Answer:
    """The streamed path (``"stream": true``): the chunks as the customer would see them, joined."""
    with SupportBot(timeout=float(os.environ.get("SUPPORT_BOT_TIMEOUT", "10"))) as bot:
        stream = bot.stream_answer(message)
        text = "".join(stream)
        assert stream.answer is not None
        return Answer(text, stream.answer.provider, stream.answer.handed_off)


async def _answer(bot: AsyncSupportBot, message: str, stream: bool = False) -> tuple[int, Answer | str]:
    if stream and _fallback_on():
        import anyio

        return 200, await anyio.to_thread.run_sync(_streamed, message)
    if _fallback_on():
        return 200, await bot.answer(message)
    try:  # the broken variant: OpenAI or nothing
        from .app import _OpenAIChat

        chat = _OpenAIChat(message)
        while (text := chat.feed(await bot.openai.chat.completions.create(**chat.request()))) is None:
            pass
        return 200, Answer(text, "openai", tool_calls=tuple(chat.runs))
    except OPENAI_ERRORS as exc:
        return 502, f"{type(exc).__name__}: {exc}"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app (raw ASGI: no web framework needed)."""
    global _bot
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                timeout = float(os.environ.get("SUPPORT_BOT_TIMEOUT", "10"))
                _bot = AsyncSupportBot(timeout=timeout, max_retries=int(os.environ.get("SUPPORT_BOT_RETRIES", "2")))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _bot is not None:
                    await _bot.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz":
        await _send(send, 200, {"status": "ok"})
        return
    if scope["path"] != "/chat" or scope["method"] != "POST":
        await _send(send, 404, {"error": "POST /chat or GET /healthz"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    try:
        request = json.loads(body)
        question = str(request["message"])
    except (ValueError, KeyError, TypeError):
        await _send(send, 400, {"error": 'send {"message": "..."}'})
        return
    assert _bot is not None, "serve with lifespan on"
    status, answer = await _answer(_bot, question, bool(request.get("stream")))
    if isinstance(answer, str):
        await _send(send, status, {"text": answer, "provider": None, "handed_off": False})
        return
    await _send(send, status, {"text": answer.text, "provider": answer.provider, "handed_off": answer.handed_off,
                               "conversation_id": request.get("conversation_id")},
                [(b"x-answered-by", answer.provider.encode())])


async def _send(send: Any, status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(value).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})

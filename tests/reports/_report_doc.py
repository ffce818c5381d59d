"""A realistic ``chaoskit.report/1`` document shared by the report renderer tests."""

from __future__ import annotations

from typing import Any

CHAT = "https://api.openai.com/v1/chat/completions"
MESSAGES = "https://api.anthropic.com/v1/messages"
SWEPT = ("anthropic.overloaded", "openai.rate_limit", "openai.stream_cut")
EVIL = "tests/test_bot.py::test_escapes[<script>alert(1)</script>]"


def call(index: int, provider: str, *, fault: str | None = None, status: int | None = 200,
         error: str | None = None, text: str | None = None, retry_after: float | None = None,
         started: float = 0.0, stream: bool = False, complete: bool = True,
         usage: dict[str, int | None] | None = None, effect: str | None = None) -> dict[str, Any]:
    """One journal entry as the plugin writes it."""
    return {
        "index": index, "provider": provider, "method": "POST",
        "url": CHAT if provider == "openai" else MESSAGES,
        "request_body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Where is A100?"}]},
        "request_headers": {"authorization": "<redacted>", "x-stainless-retry-count": "0"},
        "stream": stream, "fault": fault, "status": status, "error": error, "duration": 0.0123,
        "started": started, "endpoint": "chat" if provider == "openai" else "messages",
        "retry_after": retry_after, "read_timeout": 600.0, "retry_count": 0,
        "request_key": "ab12cd34ef56", "text": text, "complete": complete,
        "model": "gpt-4o-mini" if provider == "openai" else "claude-sonnet-4-6", "usage": usage, "effect": effect,
    }


def record(nodeid: str, outcome: str, *, faults: list[str], fired: dict[str, int],
                sweep: str | None = None, verdicts: list[dict[str, Any]] | None = None,
                calls: list[dict[str, Any]] | None = None, longrepr: str | None = None) -> dict[str, Any]:
    """One test of the document."""
    return {
        "nodeid": nodeid, "outcome": outcome, "seed": 4242, "sweep": sweep, "faults": faults,
        "fired": fired, "verdicts": verdicts or [], "calls": calls or [], "longrepr": longrepr,
        "duration": 0.52,
    }




RETRY_VERDICT = {
    "name": "retry_after_ignored",
    "message": "retried after 0.10 s; the 429 asked for 1.00 s",
    "hint": "honour Retry-After: leave the SDK's retries on, or sleep for the header's value",
    "calls": [0, 1],
}
FAILURE = (
    "AssertionError: assert 'openai' == 'anthropic'\n"
    "  - anthropic\n  + openai\n\ntests/test_bot.py:42: AssertionError <not a tag>"
)


def make_document() -> dict[str, Any]:
    """Six tests: a sweep over three faults (pass, fail, not exercised), a verdict, a skip."""
    sweep = "tests/test_bot.py::test_falls_back[{}]"
    tests = [
        record(sweep.format(SWEPT[0]), "passed", sweep=SWEPT[0], faults=[SWEPT[0]], fired={SWEPT[0]: 3},
                    calls=[call(i, "anthropic", fault=SWEPT[0], status=529) for i in range(3)]
                    + [call(3, "openai", text="Your order has shipped.")]),
        record(sweep.format(SWEPT[1]), "failed", sweep=SWEPT[1], faults=[SWEPT[1]], fired={SWEPT[1]: 3},
                    calls=[call(0, "openai", fault=SWEPT[1], status=429, retry_after=1.0),
                           call(1, "openai", fault=SWEPT[1], status=429, retry_after=1.0, started=0.1),
                           call(2, "openai", fault=SWEPT[1], status=429, retry_after=1.0, started=0.2)],
                    verdicts=[RETRY_VERDICT], longrepr=FAILURE),
        record(sweep.format(SWEPT[2]), "not_exercised", sweep=SWEPT[2], faults=[SWEPT[2]], fired={},
                    calls=[call(0, "anthropic", text="Your order has shipped.")]),
        record("tests/test_bot.py::test_stream_cut_is_not_shown", "failed",
                    faults=["openai.stream_cut"], fired={"openai.stream_cut": 1},
                    calls=[call(0, "openai", fault="openai.stream_cut", stream=True, complete=False,
                                error="RemoteProtocolError", text="Your order A100 has " + "shipped " * 20)],
                    longrepr="AssertionError: the cut answer was shown"),
        record("tests/test_bot.py::test_recovers", "skipped",
                    faults=["openai.server_error"], fired={}),
        record(EVIL, "passed", faults=["openai.server_error"], fired={"openai.server_error": 2},
                    calls=[call(0, "openai", fault="openai.server_error", status=500),
                           call(1, "openai", text="ok")]),
    ]
    return {"schema": "chaoskit.report/1", "seed": 4242, "chaos_off": False,
            "created": "2026-11-23T09:50:00+00:00", "duration": 12.3, "tests": tests}

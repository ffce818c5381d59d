"""chaoskit.strategies: hypothesis finds, and shrinks, the order of faults that breaks an app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import chaoskit
from chaoskit import faults
from chaoskit.strategies import FaultSchedule, schedules

pytest_plugins = ("pytester",)

FAULTS = ["openai.server_error", "openai.rate_limit", "openai.timeout.read"]
# Faults that act on every non-streaming chat completion, so each one shows in the journal.
ALWAYS_APPLY = [*FAULTS, "openai.connection.reset", "openai.bad_gateway", "openai.malformed.html", "openai.latency"]
QUESTIONS = ("Where is A100?", "And B200?", "Thanks!")
FALLBACK = "Sorry, I'm having trouble right now; a human will follow up."
FAST = httpx2.Timeout(0.05, connect=0.05)
SEARCH = settings(max_examples=200, deadline=None, database=None, derandomize=True)


class InstantClock:
    """Virtual time: injected waits and timeouts take no real time, so a search takes seconds."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def session() -> chaoskit.Chaos:
    return chaoskit.Chaos(seed=1, clock=InstantClock())


class Bot:
    """A support bot with its own retry: one retry after a 429, a fallback otherwise."""

    def __init__(self) -> None:
        self.client = openai.OpenAI(api_key="sk-test", max_retries=0, timeout=FAST)

    def ask(self, question: str) -> str:
        reply = self.client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )
        return reply.choices[0].message.content or ""

    def answer(self, question: str) -> str:
        try:
            return self.ask(question)
        except openai.RateLimitError:
            return self.retry(question)
        except openai.APIError:
            return FALLBACK

    def retry(self, question: str) -> str:
        try:
            return self.ask(question)
        except openai.APIStatusError:  # the bug: a timeout on the retry is not a status error
            return FALLBACK


class FixedBot(Bot):
    def retry(self, question: str) -> str:
        try:
            return self.ask(question)
        except openai.APIError:
            return FALLBACK


def converse(bot_class: Callable[[], Bot], schedule: FaultSchedule) -> list[str]:
    with session() as chaos:
        schedule.apply(chaos)
        bot = bot_class()
        return [bot.answer(q) for q in QUESTIONS]


def crashes(schedule: FaultSchedule) -> bool:
    try:
        converse(Bot, schedule)
    except openai.APIError:
        return True
    return False


def all_notes(exc: BaseException | None) -> list[str]:
    """Notes along the cause chain: chaoskit notes the transport error the SDK wraps."""
    notes: list[str] = []
    while exc is not None:
        notes += getattr(exc, "__notes__", [])
        exc = exc.__cause__ or exc.__context__
    return notes


# ---- the bug only one order of faults shows ------------------------------------------------
@pytest.mark.parametrize(
    "steps",
    [
        [],
        ["openai.timeout.read"],
        ["openai.rate_limit"],
        ["openai.rate_limit", None],
        ["openai.rate_limit", "openai.rate_limit"],
        ["openai.rate_limit", "openai.server_error"],
        ["openai.timeout.read", "openai.rate_limit"],
        ["openai.server_error", "openai.timeout.read"],
        ["openai.rate_limit", None, "openai.timeout.read"],
    ],
)
def test_the_bot_survives_every_other_order(steps: list[str | None]) -> None:
    assert not crashes(FaultSchedule(steps))


def test_the_bug_needs_a_timeout_right_after_a_rate_limit() -> None:
    assert crashes(FaultSchedule(["openai.rate_limit", "openai.timeout.read"]))
    assert crashes(FaultSchedule([None, "openai.server_error", "openai.rate_limit", "openai.timeout.read"]))


def test_find_shrinks_to_the_minimal_schedule() -> None:
    failed: list[FaultSchedule] = []

    def condition(schedule: FaultSchedule) -> bool:
        if crashes(schedule):
            failed.append(schedule)
            return True
        return False

    minimal = find(schedules(FAULTS, max_calls=6), condition, settings=SEARCH)
    assert len(failed[0]) > 2  # what the search found first was longer; shrinking reduced it
    assert minimal == FaultSchedule(["openai.rate_limit", "openai.timeout.read"])
    assert repr(minimal) == "FaultSchedule(['openai.rate_limit', 'openai.timeout.read'])"


def test_given_reports_the_minimal_schedule_as_its_failing_test_case() -> None:
    tried: list[FaultSchedule] = []
    failed: list[FaultSchedule] = []

    @SEARCH
    @given(schedules(FAULTS, max_calls=6))
    def test_bot_never_crashes(schedule: FaultSchedule) -> None:
        tried.append(schedule)
        try:
            answers = converse(Bot, schedule)
        except openai.APIError:
            failed.append(schedule)
            raise
        assert len(answers) == len(QUESTIONS)

    with pytest.raises(openai.APITimeoutError) as info:
        test_bot_never_crashes()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "schedule=FaultSchedule(['openai.rate_limit', 'openai.timeout.read'])," in notes
    assert "chaoskit: injected openai.timeout.read on POST https://api.openai.com/v1/chat/completions [seed=1]" in (
        all_notes(info.value)
    )
    assert tried[-1] == FaultSchedule(["openai.rate_limit", "openai.timeout.read"])
    assert len(failed[0]) > 2  # the first failure found was longer: hypothesis shrank it
    # the repr in the report is a constructor call: paste it back to reproduce
    pasted = eval(re.search(r"FaultSchedule\(\[.*?\]\)", notes).group(0))  # type: ignore[union-attr]
    assert crashes(pasted)


# ---- a correct app passes --------------------------------------------------------------------
@settings(max_examples=50, deadline=None, database=None, derandomize=True)
@given(schedules(FAULTS, max_calls=6))
def test_the_fixed_bot_survives_every_schedule(schedule: FaultSchedule) -> None:
    answers = converse(FixedBot, schedule)
    assert len(answers) == len(QUESTIONS)
    assert all(isinstance(a, str) for a in answers)
    if not any(schedule.steps):
        assert FALLBACK not in answers


# ---- what schedules draw ---------------------------------------------------------------------
@settings(max_examples=100, deadline=None, database=None)
@given(st.data(), st.integers(0, 4), st.integers(0, 4))
def test_drawn_schedules_respect_the_sizes_and_the_faults(data: st.DataObject, low: int, extra: int) -> None:
    schedule = data.draw(schedules(FAULTS, min_calls=low, max_calls=low + extra))
    assert low <= len(schedule.steps) <= low + extra
    assert set(schedule.ids) <= {None, *FAULTS}
    if len(schedule.steps) > low:
        assert schedule.steps[-1] is not None  # trailing passes are dropped
    assert schedule.providers == frozenset({"openai"})


@settings(max_examples=30, deadline=None, database=None)
@given(schedules())
def test_the_default_draws_from_the_openai_catalog(schedule: FaultSchedule) -> None:
    assert all(i is None or i in faults.ids("openai.*") for i in schedule.ids)


@settings(max_examples=60, deadline=None, database=None)
@given(schedules(ALWAYS_APPLY, max_calls=6))
def test_applying_a_schedule_puts_exactly_its_faults_in_the_journal(schedule: FaultSchedule) -> None:
    client = openai.OpenAI(api_key="sk-test", max_retries=0, timeout=FAST)
    with session() as chaos:
        script = schedule.apply(chaos)
        for _ in range(len(schedule.steps) + 1):  # one call past the end: it passes
            try:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            except openai.APIError:
                pass
    assert [c.fault for c in chaos.calls] == [*schedule.ids, None]
    assert script.steps == schedule.steps


def test_async_clients_take_the_steps_too() -> None:
    schedule = FaultSchedule(["openai.rate_limit", None, "openai.timeout.read"])

    async def main() -> list[str]:
        client = openai.AsyncOpenAI(api_key="sk-test", max_retries=0, timeout=FAST)
        outcomes = []
        for _ in range(4):
            try:
                await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
                outcomes.append("ok")
            except openai.APIError as err:
                outcomes.append(type(err).__name__)
        return outcomes

    with session() as chaos:
        schedule.apply(chaos)
        assert asyncio.run(main()) == ["RateLimitError", "ok", "APITimeoutError", "ok"]
    assert [c.fault for c in chaos.calls] == [*schedule.ids, None]


def test_step_i_is_the_ith_call_to_any_listed_provider() -> None:
    mixed = schedules(["openai.rate_limit", "anthropic.overloaded"])
    only_openai = find(mixed, lambda s: s.ids == ["openai.rate_limit"], settings=SEARCH)
    assert only_openai.providers == frozenset({"anthropic", "openai"})
    assert repr(only_openai) == "FaultSchedule(['openai.rate_limit'], providers=['anthropic', 'openai'])"
    forced = find(schedules(FAULTS, providers="openai"), lambda s: True, settings=SEARCH)
    assert forced == FaultSchedule([None], providers=["openai"])


# ---- shrinking directions --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "condition", "expected"),
    [
        ({}, lambda s: True, "FaultSchedule(['pass'], providers=['openai'])"),
        ({"min_calls": 0}, lambda s: True, "FaultSchedule([], providers=['openai'])"),
        ({"min_calls": 3}, lambda s: True, "FaultSchedule(['pass', 'pass', 'pass'], providers=['openai'])"),
        ({}, lambda s: any(s.steps), "FaultSchedule(['openai.server_error'])"),  # the first listed
        ({}, lambda s: "openai.timeout.read" in s.ids, "FaultSchedule(['openai.timeout.read'])"),
        ({}, lambda s: s.ids[-1:] == ["openai.rate_limit"] and len(s) > 2,
         "FaultSchedule(['pass', 'pass', 'openai.rate_limit'])"),
    ],
)
def test_shrinking_goes_to_fewer_steps_then_passes_then_the_first_fault(
    kwargs: dict[str, Any], condition: Callable[[FaultSchedule], bool], expected: str
) -> None:
    assert repr(find(schedules(FAULTS, **kwargs), condition, settings=SEARCH)) == expected


# ---- FaultSchedule ---------------------------------------------------------------------------
def test_repr_is_readable_and_rebuilds_the_schedule() -> None:
    schedule = FaultSchedule(["openai.rate_limit", None, faults.get("openai.timeout.read")])
    assert repr(schedule) == "FaultSchedule(['openai.rate_limit', 'pass', 'openai.timeout.read'])"
    assert schedule.ids == ["openai.rate_limit", None, "openai.timeout.read"]
    assert eval(repr(schedule)) == schedule
    tuned = FaultSchedule([faults.get("openai.rate_limit", retry_after=0), "pass"])
    assert repr(tuned) == "FaultSchedule([faults.get('openai.rate_limit', retry_after=0), 'pass'])"
    assert eval(repr(tuned)) == tuned
    assert tuned.steps[0] == faults.get("openai.rate_limit", retry_after=0)
    assert tuned.steps[1] is None


def test_a_schedule_is_a_frozen_hashable_value() -> None:
    schedule = FaultSchedule(["openai.rate_limit"])
    with pytest.raises(AttributeError):
        schedule.steps = ()  # type: ignore[misc]
    assert {schedule, FaultSchedule([faults.get("openai.rate_limit")])} == {schedule}
    assert schedule != FaultSchedule(["openai.rate_limit"], providers=["openai", "anthropic"])


def test_a_strategy_reads_as_what_it_draws() -> None:
    strategy = schedules(["openai.rate_limit", faults.get("openai.latency", seconds=0.1)], max_calls=3)
    assert repr(strategy) == (
        "lists(sampled_from([None, 'openai.rate_limit', \"faults.get('openai.latency', seconds=0.1)\"]),"
        " min_size=1, max_size=3).map(to_schedule)"
    )


# ---- bad arguments ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_calls": -1}, "min_calls=-1 must be an integer >= 0"),
        ({"max_calls": -2}, "max_calls=-2 must be an integer >= 0"),
        ({"min_calls": 1.5}, "min_calls=1.5 must be an integer >= 0"),
        ({"max_calls": True}, "max_calls=True must be an integer >= 0"),
        ({"min_calls": 3, "max_calls": 2}, "max_calls=2 must be at least min_calls=3"),
        ({"faults": "openai.nope.*"},
         "faults='openai.nope.*' matches no catalog id. Some that exist: openai.auth, openai.bad_gateway, "
         "openai.cold_start. Run `chaoskit faults` to list them all."),
        ({"faults": "cohere.*"},
         "faults='cohere.*' matches no catalog id. Some that exist: anthropic.auth, azure.connection.reset, bedrock.access_denied, "
         "gemini.auth, groq.cancelled, http.bad_gateway, huggingface.cold_start, mcp.disconnect, mistral.model.empty, net.bandwidth, "
         "ollama.cold_start, openai.auth, tgi.connection.reset, tool.empty, vllm.context_length. "
         "Run `chaoskit faults` to list them all."),
        ({"faults": "openai.rate_limt"},
         "faults: unknown fault id 'openai.rate_limt'. Did you mean: openai.rate_limit, "
         "openai.rate_limit.tokens, anthropic.rate_limit? Run `chaoskit faults` to list the catalog."),
        ({"faults": ["openai.rate_limit", "openai.rate_limt"]},
         "faults[1]: unknown fault id 'openai.rate_limt'. Did you mean: openai.rate_limit, "
         "openai.rate_limit.tokens, anthropic.rate_limit? Run `chaoskit faults` to list the catalog."),
        ({"faults": []}, "faults=[] is empty; list at least one catalog id or Fault"),
        ({"faults": ["openai.rate_limit", None]},
         "faults[1]=None must be a catalog id or a Fault; passes are always drawn, do not list them"),
        ({"faults": [42]}, "faults[0]=42 must be a catalog id or a Fault"),
        ({"faults": 42}, "faults=42 must be a glob pattern or a list of catalog ids and Faults"),
        ({"providers": ["cohere"]},
         "providers: unknown provider 'cohere'; chaoskit simulates: anthropic, azure, bedrock, gemini, groq, huggingface, mistral, ollama, openai, tgi, vllm"),
    ],
)
def test_bad_arguments_are_invalid(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=f"^{re.escape(message)}$"):
        schedules(**kwargs)  # type: ignore[arg-type]


# ---- the fixture question --------------------------------------------------------------------
FIXTURE_TESTS = '''
import chaoskit, httpx2, openai
from hypothesis import given, settings
from chaoskit.strategies import schedules

FAULTS = ["openai.rate_limit", "openai.timeout.read"]

def ask():
    client = openai.OpenAI(api_key="sk-test", max_retries=0, timeout=httpx2.Timeout(0.05, connect=0.05))
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    except openai.APIError:
        pass

@settings(max_examples=5, deadline=None, database=None)
@given(schedules(FAULTS, max_calls=2))
def test_with_the_fixture(chaos, schedule):
    schedule.apply(chaos)

SEEN = []

@settings(max_examples=20, deadline=None, database=None)
@given(schedules(FAULTS, max_calls=2))
def test_with_a_session_per_example(schedule):
    with chaoskit.Chaos(seed=1) as chaos:
        schedule.apply(chaos)
        ask()
    SEEN.append(len(chaos.calls))
    assert [c.fault for c in chaos.calls] == schedule.ids[:1]  # one call: nothing left from the last example

def test_every_example_had_its_own_journal():
    assert SEEN and set(SEEN) == {1}
'''


def test_the_chaos_fixture_is_rejected_in_given_and_a_session_per_example_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=FIXTURE_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*uses a function-scoped fixture 'chaos'."])
    result.stdout.fnmatch_lines(["FAILED test_app.py::test_with_the_fixture - hypothesis.errors.FailedHealthChe*"])

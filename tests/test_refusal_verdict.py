"""The ``refusal_shown`` verdict: a model's refusal shown as the answer, or taken as a result.

A small app on the real openai SDK meets ``openai.model.refusal``: the careless one shows the
refusal (or files it as the classification it asked for) and gets the verdict; the careful one,
which checks ``message.refusal``, gets none. Then ``judge`` on hand-made journals.
"""

from __future__ import annotations

from typing import Any, Literal

import openai
import pydantic

import chaoskit
from chaoskit import Call, Watch, WatchedCall
from chaoskit._verdicts import judge

MODEL = "gpt-4o-mini"
QUESTION: Any = [{"role": "user", "content": "Where is order A100?"}]
SORRY = "Sorry, I can't answer that here; a colleague will follow up by email."
REFUSAL = "I'm sorry, but I can't assist with that request."


class Intent(pydantic.BaseModel):
    intent: Literal["order_status", "refund", "other"]


FILED: list[str] = []


def file_under(intent: str) -> None:
    """The app's queue: where a classified message goes."""
    FILED.append(intent)


def careless_answer(client: openai.OpenAI) -> str:
    message = client.chat.completions.create(model=MODEL, messages=QUESTION).choices[0].message
    return message.content or message.refusal or ""  # bug: a refusal is shown as the answer


def careful_answer(client: openai.OpenAI) -> str:
    message = client.chat.completions.create(model=MODEL, messages=QUESTION).choices[0].message
    return SORRY if message.refusal or not message.content else message.content


def careless_triage(client: openai.OpenAI) -> None:
    message = client.chat.completions.parse(model=MODEL, messages=QUESTION, response_format=Intent).choices[0].message
    file_under(message.parsed.intent if message.parsed else str(message.refusal))  # bug: the refusal is a queue


def careful_triage(client: openai.OpenAI) -> None:
    message = client.chat.completions.parse(model=MODEL, messages=QUESTION, response_format=Intent).choices[0].message
    file_under(message.parsed.intent if message.parsed and not message.refusal else "other")


def run(app: Any, *, triage: bool = False) -> tuple[chaoskit.Chaos, list[str]]:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("openai.model.refusal")
        chaos.watch(f"{__name__}:file_under")
        shown = app(openai.OpenAI(api_key="sk-test", max_retries=0))
    return chaos, [] if triage else [shown]


def verdicts(chaos: chaoskit.Chaos, shown: list[str]) -> list[Any]:
    return judge(list(chaos.calls), user_texts=shown, watches=chaos.watches)


def test_showing_the_refusal_as_the_answer_is_the_verdict() -> None:
    chaos, shown = run(careless_answer)
    assert shown == [REFUSAL]
    [verdict] = verdicts(chaos, shown)
    assert verdict.name == "refusal_shown" and verdict.calls == (0,)
    assert verdict.message == (
        f"call #0's model refused ({REFUSAL!r}, openai.model.refusal) and the app showed it to the user (user text #0)"
    )
    assert "message.refusal" in verdict.hint


def test_the_careful_app_gets_no_verdict() -> None:
    chaos, shown = run(careful_answer)
    assert shown == [SORRY] and verdicts(chaos, shown) == []


def test_filing_the_refusal_as_the_structured_result_is_the_verdict() -> None:
    FILED.clear()
    chaos, _ = run(careless_triage, triage=True)
    assert FILED == [REFUSAL]
    [verdict] = verdicts(chaos, [])
    assert verdict.message.endswith(f"and the app passed it to {__name__}:file_under as a result")


def test_the_careful_triage_files_under_other_and_gets_no_verdict() -> None:
    FILED.clear()
    chaos, _ = run(careful_triage, triage=True)
    assert FILED == ["other"] and verdicts(chaos, []) == []


def refused(index: int = 0, text: str = REFUSAL, effect: str = "model.refusal") -> Call:
    return Call(index=index, provider="openai", method="POST", url="https://api.openai.com/v1/chat/completions",
                request_body={}, fault="openai.model.refusal", status=200, effect=effect, detail=f"refused: {text}",
                text=text, request_key="k")


def test_judge_needs_the_whole_refusal_in_a_text_shown() -> None:
    assert [v.name for v in judge([refused()], user_texts=[f"Bot: {REFUSAL}"])] == ["refusal_shown"]
    assert judge([refused()], user_texts=[REFUSAL[:20]]) == []
    assert judge([refused()], user_texts=[]) == []
    assert judge([refused(effect="content_filter")], user_texts=[REFUSAL]) == []  # not a refusal with a text


def test_judge_looks_into_watched_arguments_made_after_the_refusal() -> None:
    watch = Watch("app:file_under", True)
    watch.calls.append(WatchedCall(args=({"intent": REFUSAL},), kwargs={}, started=1.0))
    assert [v.name for v in judge([refused()], watches=[watch])] == ["refusal_shown"]
    before = Watch("app:file_under", True)
    before.calls.append(WatchedCall(args=(REFUSAL,), kwargs={}, started=-1.0))
    assert judge([refused()], watches=[before]) == []

"""What a misbehaving model answers (the ``model.*`` effects), whatever the provider's wire format.

Each function takes what the request asked (its question, its system prompt, its schema) and
the healthy answer, and returns the answer a model that misbehaves this way gives, with a line
for the journal. The profiles put that answer into their own bodies and streams.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ChaosConfigError
from .._replies import Reply, ToolCall

__all__ = [
    "ANSWERS", "NON_ANSWERS", "REFUSAL", "as_json", "cut", "detect_language", "in_other_language", "leaked", "looping",
    "non_answer", "text_of",
]

#: OpenAI's refusal text as its models word it (a ``message.refusal``).
REFUSAL = "I'm sorry, but I can't assist with that request."

#: Generic non-answers: a valid, polite reply that answers nothing.
NON_ANSWERS: tuple[str, ...] = (
    "I'm not sure I can help with that.",
    "I'm sorry, but I don't have enough information to answer that.",
    "That's a good question. Unfortunately, I can't say for certain.",
    "I don't know.",
)

#: The same polite holding answer in each language a wrong-language answer can be in.
ANSWERS: Mapping[str, str] = {
    "en": "Thank you for your message. We are looking into it and will get back to you shortly.",
    "es": "Gracias por su mensaje. Lo estamos revisando y le responderemos en breve.",
    "fr": "Merci pour votre message. Nous l'examinons et vous répondrons très bientôt.",
    "de": "Vielen Dank für Ihre Nachricht. Wir kümmern uns darum und melden uns in Kürze bei Ihnen.",
    "pt": "Obrigado pela sua mensagem. Estamos analisando e responderemos em breve.",
    "it": "Grazie per il tuo messaggio. Lo stiamo esaminando e ti risponderemo a breve.",
    "ja": "お問い合わせありがとうございます。現在確認しておりますので、折り返しご連絡いたします。",
}

#: Short words that give a message's language away (a rough guess is enough to pick another one).
_STOPWORDS: Mapping[str, frozenset[str]] = {
    "en": frozenset("the is are my where what how when why i you and to of my your it this order please can".split()),
    "es": frozenset("el la los las es mi dónde donde qué que de y pedido está por favor cuándo no".split()),
    "fr": frozenset("le la les est mon ma où je de et commande quoi pourquoi vous ne pas".split()),
    "de": frozenset("der die das ist mein meine wo ich und bestellung nicht wann warum sie bitte".split()),
    "pt": frozenset("o os é meu minha onde está de e pedido não quando por favor você".split()),
    "it": frozenset("il lo è mio mia dove di e ordine non che quando perché per favore".split()),
}
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect_language(text: str) -> str:
    """The language of ``text`` among :data:`ANSWERS`' (by its most frequent short words); "en" when unsure."""
    if _JAPANESE.search(text):
        return "ja"
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] else "en"


def in_other_language(question: str, rng: random.Random, language: str | None) -> tuple[str, str]:
    """(the answer, a line for the journal) in ``language``, or one drawn that is not the question's."""
    asked = detect_language(question)
    if language is None:
        language = rng.choice(sorted(lang for lang in ANSWERS if lang != asked))
    elif language == asked:
        raise ChaosConfigError(f"language={language!r} is the question's own language; pick another of {', '.join(ANSWERS)}")
    return ANSWERS[language], f"answered in {language}; the question is in {asked}"


def non_answer(rng: random.Random, text: str | None) -> tuple[str, str]:
    """(``text`` or a non-answer drawn from :data:`NON_ANSWERS`, a line for the journal)."""
    answer = text if text is not None else rng.choice(NON_ANSWERS)
    return answer, f"non-answer: {answer!r}"


def leaked(system: str | None) -> tuple[str, str]:
    """(an answer that repeats the system prompt verbatim, a line for the journal)."""
    if not system:
        raise ChaosConfigError("the request has no system prompt to leak")
    return f"Sure! Here are my instructions:\n\n{system}", f"repeated the system prompt ({len(system)} characters)"


def cut(text: str, keep: float) -> str:
    """The first ``keep`` of ``text``, at least one character, ended mid-word where it can be."""
    if not text:
        return text
    return text[: max(1, min(len(text) - 1, int(len(text) * keep)) if len(text) > 1 else 1)]


def as_json(text: str) -> Any:
    """``text`` parsed as a JSON object or list, else None (a text answer to a structured request)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text of its parts (``{"text": ...}``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


#: What a drifting loop appends to a string argument, step by step: the model "refines" its query.
_DRIFT = ("status", "latest", "details", "again", "update", "now", "please", "full")


def looping(offered: Sequence[str], schemas: Mapping[str, Mapping[str, Any]], rounds: Sequence[tuple[ToolCall, ...]],
            healthy: Reply | None, *, tools: Sequence[str] | None, drift: bool, where: str) -> tuple[ToolCall, str]:
    """(the tool call a model stuck in a loop makes at this step, a line for the journal).

    The step is the number of ``rounds`` of tool calls since the user wrote. The tool: ``tools``
    in turn (a cycle), else the one the loop started with (the first round's, else the healthy
    reply's, else the first offered). Its arguments: the first earlier call to that tool's, else the
    healthy reply's, else a value its schema accepts; with ``drift`` one of them changes on each
    call to the tool after its first.
    """
    if tools:
        unknown = [t for t in tools if t not in offered]
        if unknown:
            raise ChaosConfigError(f"{where}: tools={list(tools)!r} names {unknown[0]!r}, which the request does not offer; "
                                   f"it offers {', '.join(map(repr, offered)) or 'no tools'}")
        cycle = list(tools)
    else:
        first = rounds[0][0].name if rounds and rounds[0] else None
        called = _calls(healthy)[0].name if _calls(healthy) else None
        cycle = [next((n for n in (first, called) if n is not None and n in offered), offered[0])]
    step = len(rounds)
    name = cycle[step % len(cycle)]
    earlier = [c for r in rounds for c in r if c.name == name]
    known = [c.arguments for c in (*earlier, *_calls(healthy)) if c.name == name and not isinstance(c.arguments, str)]
    if known:
        base: Any = dict(known[0])
    else:
        from .._violate import instance

        made = instance(schemas.get(name) or {"type": "object"})
        base = made if isinstance(made, dict) else {}
    arguments, changed = (_drifted(base, len(earlier)) if drift else (base, ""))
    how = f"; {changed}" if changed else (" with the same arguments" if step else "")
    return ToolCall(name, arguments), f"tool loop step {step + 1}: calls {name}{how}"


def _calls(reply: Reply | None) -> tuple[ToolCall, ...]:
    if isinstance(reply, ToolCall):
        return (reply,)
    return tuple(c for c in reply if isinstance(c, ToolCall)) if isinstance(reply, tuple) else ()


def _drifted(arguments: dict[str, Any], step: int) -> tuple[dict[str, Any], str]:
    """``arguments`` with its first string (else number) field changed for the tool's ``step``-th
    call again; 0 (its first call) keeps them."""
    if step == 0:
        return arguments, ""
    for key, value in arguments.items():
        if isinstance(value, str):
            new = f"{value} {_DRIFT[(step - 1) % len(_DRIFT)]}"
            return {**arguments, key: new}, f"drifted {key}: {value!r} -> {new!r}"
    for key, value in arguments.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {**arguments, key: value + step}, f"drifted {key}: {value!r} -> {value + step!r}"
    return arguments, "arguments with nothing to drift, the same"

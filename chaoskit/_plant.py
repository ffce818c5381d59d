"""Planted wrong values: the facts of a valid answer changed in a traceable way.

A ``model.hallucination`` fault finds values of some shapes (``KINDS``) in a model's answer, its
text and, if asked, its tool calls' arguments, and replaces some of them with plausible values of
the same shape that appear nowhere in the answer: an order id ``A100`` becomes ``A417``, an amount
``42.50`` becomes ``47.90``, a date moves a few days, a URL's path changes, a person's name becomes
another. Every change is a :class:`Plant`, kept on the call's journal entry, so a verdict can tell
whether the planted value reached the user or a later request. Draws come from the call's RNG: a
seed reproduces them.

The shapes, found in this order (a value inside an earlier one is part of it, not a value of its own):

- ``url``: ``http://`` or ``https://`` and what follows up to a space (the path is changed);
- ``date``: ``2026-03-14``, ``March 14``, ``March 14, 2026``, ``14 March 2026`` (moved 1 to 14 days);
- ``amount``: a number with a currency sign or code (``$42.50``, ``42.50 EUR``) or two decimals;
- ``id``: letters then digits (``A100``, ``ORD-2291``, ``inv_0042``), ``#12345``;
- ``number``: any other number (``3``, ``1,250``, ``0.75``);
- ``name``: two or more capitalised words in a row (``Maria Garcia``); a sentence's first word and
  month and day names are not part of one.
"""

from __future__ import annotations

import datetime
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._replies import Reply, ToolCall

__all__ = ["KINDS", "Plant", "describe", "find_values", "plant", "plant_reply", "shows"]

#: The value shapes a hallucination fault changes, in the order they are looked for.
KINDS = ("url", "date", "amount", "id", "number", "name")

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH = "|".join(_MONTHS)
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "url": re.compile(r"https?://[^\s<>\"'()\[\]{}]+[^\s<>\"'()\[\]{}.,;:!?]"),
    "date": re.compile(rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b(?:{_MONTH}) \d{{1,2}}(?:, \d{{4}})?\b|\b\d{{1,2}} (?:{_MONTH})(?: \d{{4}})?\b"),
    "amount": re.compile(
        rf"(?:[$€£¥] ?)(?P<a>{_NUM})(?![\w])|(?<![\w.,])(?P<b>{_NUM}) ?(?:USD|EUR|GBP|dollars|euros)\b"
        r"|(?<![\w.,])(?P<c>(?:\d{1,3}(?:,\d{3})+|\d+)\.\d{2})(?![\w]|\.\d)"
    ),
    "id": re.compile(r"(?<![\w-])[A-Za-z]{1,8}[-_]?\d{2,}(?![\w-])|(?<![\w#])#\d{3,}\b"),
    "number": re.compile(rf"(?<![\w.,]){_NUM}(?![\w]|\.\d|,\d)"),
    "name": re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b"),
}
_NOT_NAMES = frozenset(_MONTHS) | frozenset(_DAYS)


@dataclass(frozen=True, slots=True)
class Plant:
    """One planted value: its shape, the value the answer had, the one planted, and where
    (``text``, or a tool call's argument such as ``lookup_order.order_id``)."""

    kind: str
    original: str
    planted: str
    where: str


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    kind: str
    core: tuple[int, int]  # the part that changes (an amount's number, without its currency)


def find_values(text: str, kinds: Iterable[str] = KINDS) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each value of ``kinds`` in ``text``, in text order."""
    wanted = set(kinds)
    return [(s.start, s.end, s.kind) for s in _spans(text) if s.kind in wanted]


def _spans(text: str) -> list[_Span]:
    masked = text
    found: list[_Span] = []
    for kind in KINDS:
        for m in _PATTERNS[kind].finditer(masked):
            for start, end in _name_runs(text, m.start(), m.end()) if kind == "name" else [(m.start(), m.end())]:
                core = (start, end)
                if kind == "amount":
                    group = next(g for g in ("a", "b", "c") if m.group(g) is not None)
                    core = m.span(group)
                found.append(_Span(start, end, kind, core))
                masked = masked[:start] + "\0" * (end - start) + masked[end:]
    return sorted(found, key=lambda s: s.start)


def _name_runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The runs of two or more capitalised words in ``text[start:end]`` that can be a name."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"[A-Z][a-z]+", text[start:end])]
    before = text[:start].rstrip(" ")
    if not before or before[-1] in ".!?:\n\0" or before.endswith(("\n", "- ")):
        words = words[1:]  # a sentence's first word is capitalised anyway
    runs: list[list[tuple[int, int]]] = [[]]
    for word in words:
        if text[word[0]:word[1]] in _NOT_NAMES:
            runs.append([])
        else:
            runs[-1].append(word)
    return [(run[0][0], run[-1][1]) for run in runs if len(run) >= 2]


# ---- fabricating a value of the same shape ------------------------------------------------------


def _digits(original: str, rng: random.Random) -> str:
    """``original`` with each digit drawn anew (a leading digit stays non-zero if it was)."""
    out = []
    first = True
    for ch in original:
        if ch.isdigit():
            low = 1 if first and ch != "0" else 0
            out.append(str(rng.randint(low, 9)))
            first = False
        else:
            out.append(ch)
    return "".join(out)


def _number(original: str, rng: random.Random, *, amount: bool = False) -> str:
    """A number near ``original`` (within about half of it either way), written the same way."""
    plain = original.replace(",", "")
    decimals = len(plain.split(".", 1)[1]) if "." in plain else 0
    value = float(plain)
    if value < 10 and not amount and decimals == 0:
        new = float(rng.randint(0 if value else 1, 9))
    else:
        new = value * rng.uniform(0.55, 1.45) if value else rng.uniform(1, 99)
    text = f"{new:,.{decimals}f}" if "," in original else f"{new:.{decimals}f}"
    return text


def _date(original: str, rng: random.Random) -> str:
    shift = datetime.timedelta(days=rng.choice([d for d in range(-14, 15) if d]))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", original):
        try:
            return (datetime.date.fromisoformat(original) + shift).isoformat()
        except ValueError:
            return _digits(original, rng)
    m = re.fullmatch(rf"(?P<m>{_MONTH}) (?P<d>\d{{1,2}})(?:, (?P<y>\d{{4}}))?", original)
    day_first = m is None
    if m is None:
        m = re.fullmatch(rf"(?P<d>\d{{1,2}}) (?P<m>{_MONTH})(?: (?P<y>\d{{4}}))?", original)
    assert m is not None
    year = int(m.group("y") or 2026)
    try:
        date = datetime.date(year, _MONTHS.index(m.group("m")) + 1, int(m.group("d"))) + shift
    except ValueError:  # "February 31"
        return original.replace(m.group("d"), str(rng.randint(1, 28)), 1)
    month = _MONTHS[date.month - 1]
    if day_first:
        return f"{date.day} {month}" + (f" {date.year}" if m.group("y") else "")
    return f"{month} {date.day}" + (f", {date.year}" if m.group("y") else "")


def _url(original: str, rng: random.Random) -> str:
    parts = urlsplit(original)
    segments = parts.path.split("/")
    last = max((i for i, s in enumerate(segments) if s), default=None)
    if last is None:
        path = "/" + _slug(rng, 6)
    else:
        segment = segments[last]
        segments[last] = _digits(segment, rng) if any(c.isdigit() for c in segment) else _slug(rng, max(len(segment), 4))
        path = "/".join(segments)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def _slug(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(min(length, 16)))


_fake: Any = None


def _name(original: str, rng: random.Random) -> str:
    global _fake
    if _fake is None:
        from faker import Faker

        _fake = Faker("en_US")
    _fake.seed_instance(rng.getrandbits(32))
    words = original.count(" ") + 1
    first = [_fake.first_name() for _ in range(words - 1)]
    return " ".join([*first, _fake.last_name()])


_FABRICATE: dict[str, Callable[[str, random.Random], str]] = {
    "url": _url, "date": _date, "amount": lambda v, rng: _number(v, rng, amount=True), "id": _digits,
    "number": _number, "name": _name,
}


def _fabricate(kind: str, original: str, rng: random.Random, taken: str) -> str | None:
    """A value of ``kind``'s shape for ``original``: different from it and found nowhere in ``taken``."""
    for _ in range(20):
        value = _FABRICATE[kind](original, rng)
        if value != original and not shows(value, taken):
            return value
    return None


# ---- an answer, planted -------------------------------------------------------------------------


def _leaves(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    """(path, leaf) of each string and number in a JSON value; ``path`` names the value."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    elif isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        yield path, value


def _replaced(value: Any, path: str, changes: Mapping[str, Any]) -> Any:
    if path in changes:
        return changes[path]
    if isinstance(value, Mapping):
        return {key: _replaced(item, f"{path}.{key}", changes) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item, f"{path}[{i}]", changes) for i, item in enumerate(value)]
    return value


def plant(fields: Sequence[tuple[str, Any]], rng: random.Random, *, kinds: Iterable[str] = KINDS,
          count: int | None = 1) -> tuple[list[Any], tuple[Plant, ...]]:
    """Plant values in an answer's ``fields``: (where, value) pairs, each a text or a tool call's
    arguments (a JSON value, named ``where``). Returns the fields' new values and what was planted.

    ``count`` values of ``kinds`` are drawn among all the fields' (None: every one); numbers in
    arguments are numbers (amounts when they have two decimals or fewer and a fraction).
    """
    wanted = set(kinds)
    taken = " ".join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for _, v in fields)
    candidates: list[tuple[int, str, Any, _Span | None]] = []  # (field, leaf path, leaf, span in it)
    for i, (where, value) in enumerate(fields):
        for path, leaf in ([(where, value)] if isinstance(value, str) else _leaves(value, where)):
            if isinstance(leaf, str):
                candidates += [(i, path, leaf, s) for s in _spans(leaf) if s.kind in wanted]
            elif ("amount" if isinstance(leaf, float) and round(leaf, 2) == leaf and leaf % 1 else "number") in wanted:
                candidates.append((i, path, leaf, None))
    chosen = candidates if count is None else [candidates[i] for i in sorted(rng.sample(range(len(candidates)), min(count, len(candidates))))]
    plants: list[Plant] = []
    changes: dict[str, Any] = {}  # leaf path -> its new value
    edits: dict[str, list[tuple[_Span, str]]] = {}
    for _, path, leaf, span in chosen:
        if span is None:
            kind = "amount" if isinstance(leaf, float) and leaf % 1 else "number"
            original = str(leaf)
            new = _fabricate(kind, original, rng, taken)
            if new is None:
                continue
            changes[path] = type(leaf)(float(new)) if isinstance(leaf, float) else int(float(new))
            plants.append(Plant(kind, original, str(changes[path]), path))
            continue
        original = leaf[span.core[0]:span.core[1]]
        new = _fabricate(span.kind, original, rng, taken)
        if new is None:
            continue
        taken += " " + new
        edits.setdefault(path, []).append((span, new))
        plants.append(Plant(span.kind, original, new, path))
    for path, spans in edits.items():
        text = next(leaf for _, p, leaf, _s in candidates if p == path)
        for span, new in sorted(spans, key=lambda e: -e[0].core[0]):
            text = text[: span.core[0]] + new + text[span.core[1]:]
        changes[path] = text
    out = [changes.get(where, value) if isinstance(value, str) else _replaced(value, where, changes) for where, value in fields]
    return out, tuple(plants)


def plant_reply(reply: Reply, rng: random.Random, *, kinds: Iterable[str] = KINDS, count: int | None = 1,
                in_tools: bool = True) -> tuple[Reply, tuple[Plant, ...]]:
    """A simulated reply with values planted in its text or (``in_tools``) its tool calls' JSON arguments."""
    if isinstance(reply, str):
        (text,), plants = plant([("text", reply)], rng, kinds=kinds, count=count)
        return text, plants
    calls = reply if isinstance(reply, tuple) else (reply,)
    editable = [c for c in calls if in_tools and not isinstance(c.arguments, str)]
    names = [c.name if [d.name for d in editable].count(c.name) == 1 else f"{c.name}#{i}" for i, c in enumerate(editable)]
    fields = [(n, dict(c.arguments)) for n, c in zip(names, editable, strict=True) if not isinstance(c.arguments, str)]
    values, plants = plant(fields, rng, kinds=kinds, count=count)
    new = dict(zip((id(c) for c in editable), values, strict=True))
    out = tuple(ToolCall(c.name, new[id(c)], c.id) if id(c) in new else c for c in calls)
    return (out if isinstance(reply, tuple) else out[0]), plants


def describe(plants: Sequence[Plant], kinds: Iterable[str], where: str = "the answer") -> str:
    """The journal's detail for a hallucination: what was planted where, or that nothing was."""
    if not plants:
        return f"planted nothing: no {', '.join(kinds)} in {where}"
    return "planted " + ", ".join(f"{p.original!r} -> {p.planted!r} ({p.kind}, {p.where})" for p in plants)


def shows(value: str, text: str) -> bool:
    """Whether ``value`` is in ``text`` as a whole (not inside a longer word or number), ignoring case."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", text, re.IGNORECASE) is not None

"""The journal: one entry per intercepted call, with secrets redacted.

Every entry goes through :mod:`chaoskit._redact`'s policy before it is stored: when it opens
(URL, headers, bodies, text) and, for what seams fill in later, when it closes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._redact import Redactor

if TYPE_CHECKING:
    from ._plant import Plant

__all__ = ["Call", "Journal", "JournalEvent", "Listener", "Turn", "Usage"]

_log = logging.getLogger("chaoskit.journal")

#: The fields of an entry that seams fill in after it opened (the text streamed, what a fault
#: chose): redacted again when the entry closes.
_LATE = ("text", "detail", "response_body")


@dataclass(frozen=True, slots=True)
class Usage:
    """The tokens one call's response reported (None: the response did not say).

    ``cached_tokens`` are the input tokens read from the provider's prompt cache (a part of
    ``input_tokens`` for OpenAI and Gemini, counted apart by Anthropic and Bedrock, as each
    provider reports them).
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None

    def merged(self, later: Usage) -> Usage:
        """This usage updated with what ``later`` reports (a stream's last counts win)."""
        return Usage(
            later.input_tokens if later.input_tokens is not None else self.input_tokens,
            later.output_tokens if later.output_tokens is not None else self.output_tokens,
            later.cached_tokens if later.cached_tokens is not None else self.cached_tokens,
        )

    @property
    def empty(self) -> bool:
        return self.input_tokens is None and self.output_tokens is None and self.cached_tokens is None


@dataclass(frozen=True, slots=True)
class Turn:
    """Where a model call stands in its conversation: which user message it answers, and how many
    of the model's tool-call rounds came back to it since.

    ``key`` is the same for every model call that answers one user message (the steps of a tool
    loop, a fallback to another provider), whatever the provider; ``step`` is 0 for the first call
    of a turn and grows by one for each round of tool calls the app sent back.
    """

    key: str
    step: int

    @classmethod
    def of(cls, user_texts: Sequence[str], step: int) -> Turn:
        """The turn of a conversation whose user messages so far are ``user_texts``."""
        digest = hashlib.blake2b("\x1f".join(user_texts).encode(), digest_size=6).hexdigest()
        return cls(f"{len(user_texts)}:{digest}", step)


@dataclass
class Call:
    """One intercepted call: what was asked, what chaoskit did, and how it ended.

    ``fault`` is the catalog id injected, or None for a healthy reply. ``status`` is the
    HTTP status sent (None when the call failed before a response). ``error`` names the
    transport error raised, mid-stream ones included (``"ReadTimeout"``). ``duration`` is
    seconds from the request to the end of the response; ``started`` is seconds since the
    session began. ``endpoint`` is the simulated API (``"chat"``, ``"messages"``, ...).
    ``retry_after`` is the wait in seconds the response asked for (``retry-after-ms`` first).
    ``read_timeout`` is the client's read timeout for the request (None: it had none).
    ``retry_count`` is the SDK's ``x-stainless-retry-count`` header (0 on a first attempt).
    ``request_key`` is the same for requests with the same method, URL and body, so
    retries of one request can be grouped. ``text`` is the model text the response carried
    (the part before the break for a broken stream); ``complete`` is False when the
    response broke before its end. ``response_body`` is the body of an error response
    (status >= 400), at most 2,000 characters. ``detail`` says what the fault chose, where
    it chooses (``renamed customer.email -> customer.emailAddress`` for a schema drift).
    For a patched callable (``provider="tool"``) ``method`` is ``"CALL"``, ``url`` the
    target path, ``request_body`` its arguments, and ``side_effect`` whether the real
    function ran (True with an error: it ran, then the caller saw a failure).
    ``model`` is the model the request asked for; ``usage`` the tokens the response the
    client received reported (streamed usage included; None when it reported none);
    ``effect`` the injected fault's effect (``"status"``, ``"stream.cut"``). ``planted``: the
    values a ``model.hallucination`` fault planted in the answer (:class:`chaoskit._plant.Plant`:
    kind, original, planted, where); None for other calls, empty when it found none to change.
    ``turn``: for a model call, the user turn it answers and its step in that turn's tool loop
    (:class:`Turn`); None for other calls and for requests with no user message.
    """

    index: int
    provider: str | None
    method: str
    url: str
    request_body: Any
    request_headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    fault: str | None = None
    status: int | None = None
    error: str | None = None
    duration: float = 0.0
    started: float = 0.0
    endpoint: str | None = None
    retry_after: float | None = None
    read_timeout: float | None = None
    retry_count: int | None = None
    request_key: str = ""
    text: str | None = None
    complete: bool = True
    response_body: str | None = None
    detail: str | None = None
    side_effect: bool | None = None
    model: str | None = None
    usage: Usage | None = None
    effect: str | None = None
    planted: list[Plant] | None = None
    turn: Turn | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: ``opened``: a call's entry was written; ``injected``: right after, when a fault fires on it;
#: ``closed``: once, when the call has ended (its duration, status, error, text, usage final).
EventKind = Literal["opened", "injected", "closed"]


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """Something that happened to one journal entry, as subscribers are told."""

    kind: EventKind
    call: Call


#: A journal subscriber: called with each event, on the thread (or task) the call runs on.
Listener = Callable[[JournalEvent], None]


class Journal:
    """The calls intercepted in one chaos session, in order. Thread-safe to append and close.

    Subscribers (:meth:`subscribe`) are told when an entry is opened, when a fault is injected
    into it, and when it closes. A subscriber that raises does not break the call: the error is
    logged (logger ``chaoskit.journal``) and kept in :attr:`listener_errors`.
    """

    def __init__(self, keep: int | None = None) -> None:
        self._calls: list[Call] = []
        #: Calls not closed yet, by index: the call, and its late fields (:data:`_LATE`) as they were stored.
        self._open: dict[int, tuple[Call, tuple[Any, ...]]] = {}
        #: How many entries a long-running journal (the proxy's) keeps; None: all of them.
        self.keep = keep
        self._count = 0  # entries ever written: the next one's index
        #: The redaction policy every entry goes through; it remembers the secrets it has seen.
        self.redactor = Redactor()
        self._listeners: tuple[Listener, ...] = ()
        self._lock = threading.Lock()
        self.listener_errors: list[Exception] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every :class:`JournalEvent` from now on; returns what unsubscribes it.

        Listeners run on the thread or task of the call, so they must be quick and thread-safe.
        """
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def open(self, **fields: Any) -> Call:
        """Write a new entry, its secrets redacted; subscribers hear ``opened``, then ``injected``
        when it has a fault.

        ``request_headers`` may be any mapping (or pairs): they are stored as a dict with
        lower-case names. The credentials in them are remembered and hidden wherever they turn
        up later (an error body that echoes the key).
        """
        redactor = self.redactor
        headers = fields.get("request_headers")
        if headers is not None:  # first: the credentials it learns are hidden in the rest
            fields["request_headers"] = redactor.headers(headers)
        fields["url"] = redactor.text(fields["url"])
        if fields.get("request_body") is not None:
            fields["request_body"] = redactor.value(fields["request_body"])
        for name in _LATE:
            if fields.get(name):
                fields[name] = redactor.text(fields[name])
        with self._lock:
            call = Call(index=self._count, **fields)
            self._count += 1
            self._calls.append(call)
            self._open[call.index] = (call, tuple(getattr(call, name) for name in _LATE))
            if self.keep is not None and len(self._calls) > self.keep + self.keep // 4 + 1:
                del self._calls[: len(self._calls) - self.keep]  # the oldest go (an open one still closes)
            listeners = self._listeners
        if listeners:
            self._emit(listeners, JournalEvent("opened", call))
            if call.fault is not None:
                self._emit(listeners, JournalEvent("injected", call))
        return call

    def close(self, call: Call) -> bool:
        """Mark ``call`` ended, redacting what was filled in since it opened; subscribers hear
        ``closed`` the first time only. Returns whether it closed now."""
        with self._lock:
            entry = self._open.get(call.index)
            if entry is None or entry[0] is not call:
                return False
            stored = self._open.pop(call.index)[1]
            listeners = self._listeners
        for name, before in zip(_LATE, stored, strict=True):
            now = getattr(call, name)
            if now is not before and now:
                setattr(call, name, self.redactor.text(now))
        if listeners:
            self._emit(listeners, JournalEvent("closed", call))
        return True

    def close_all(self) -> None:
        """Close the calls still open (a stream the client never read to its end): at the end of a session."""
        with self._lock:
            pending = [self._open[i][0] for i in sorted(self._open)]
        for call in pending:
            self.close(call)

    def is_open(self, call: Call) -> bool:
        """Whether ``call`` has not closed yet."""
        with self._lock:
            entry = self._open.get(call.index)
            return entry is not None and entry[0] is call

    def _emit(self, listeners: tuple[Listener, ...], event: JournalEvent) -> None:
        for listener in listeners:
            try:
                listener(event)
            except Exception as exc:  # noqa: BLE001 - a subscriber never breaks the call it hears about
                _log.exception("chaoskit: journal listener %r failed on %s of call #%d", listener, event.kind, event.call.index)
                with self._lock:
                    self.listener_errors.append(exc)

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls))

    def __len__(self) -> int:
        return len(self._calls)

    @property
    def written(self) -> int:
        """How many entries were ever written (more than ``len`` once a ``keep`` trimmed it)."""
        return self._count

    def __getitem__(self, index: int) -> Call:
        return self._calls[index]

    def where(self, *, provider: str | None = None, fault: str | None = None) -> list[Call]:
        """The calls to ``provider`` and/or with ``fault`` injected."""
        return [
            c
            for c in self._calls
            if (provider is None or c.provider == provider) and (fault is None or c.fault == fault)
        ]

    def containing(self, text: str) -> list[Call]:
        """The calls whose request carried ``text`` (a canary the app passed on, say)."""
        return [c for c in self._calls if text in json.dumps(c.request_body, ensure_ascii=False, default=str)]

    def format(self, calls: list[Call] | None = None) -> str:
        """The calls as an aligned text table, one line each, for failure messages."""
        rows = self._calls if calls is None else calls
        if not rows:
            return "  (no intercepted calls)"
        lines = []
        for c in rows:
            outcome = c.error or (str(c.status) if c.status is not None else "returned" if c.provider == "tool" else "-")
            if not c.complete and c.error is None:
                outcome += " (cut)"
            if c.side_effect:
                outcome += " (ran)"
            detail = f" [{c.detail}]" if c.detail else ""
            lines.append(
                f"  #{c.index} {c.provider or '-'} {c.method} {c.url}  fault={c.fault or '-'}{detail}  "
                f"-> {outcome}  {c.duration * 1000:.0f} ms"
            )
        return "\n".join(lines)

    def to_list(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self._calls]

    def __repr__(self) -> str:
        return f"<Journal {len(self._calls)} calls>"

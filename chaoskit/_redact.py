"""The redaction policy: which parts of an intercepted call are secrets, decided in one place.

A user's key in a report is the worst thing chaoskit can do, so the journal applies this policy
to every entry before it stores it (:class:`chaoskit._journal.Journal`), and what writes about
calls elsewhere (failure messages, reports) uses the same functions. A value is hidden when

* its **name** says it is a secret: a header, a URL query parameter, a JSON key or a callable's
  parameter named like ``api_key``, ``token``, ``password`` (:func:`secret_name`; names compare
  without case or separators, so ``apiKey`` = ``api_key`` = ``API-KEY``);
* it **looks like a key** wherever it appears, model text included: the major providers' key
  prefixes, ``Bearer`` tokens, JWTs, private key blocks (:data:`KEY_SHAPES`);
* it is a value the policy has **seen under a secret name** before (a header's key echoed back
  in an error body): a :class:`Redactor` remembers those.

JSON found inside a string (a tool call's ``arguments``) is redacted as JSON and written back,
so its structure stays readable. Hidden values become ``<redacted>``; ordinary words ("tokens",
``usage.input_tokens``) are left alone.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["KEY_SHAPES", "MIN_KNOWN", "REDACTED", "Redactor", "redact_text", "secret_name"]

REDACTED = "<redacted>"

#: Normalised names (lower case, letters and digits only) whose values are secrets.
SECRET_NAMES = frozenset({"pass", "pwd", "sessionid", "sid", "jwt", "bearer", "dsn", "connectionstring"})
#: Normalised name endings that make a name secret: ``openai_api_key``, ``github_token``,
#: ``x-amz-security-token``, ``db_password``, ``proxy-authorization``, ``set-cookie``.
#: Plural ``tokens`` is not one: it counts tokens (``max_tokens``, ``input_tokens``).
SECRET_ENDINGS = (
    "apikey", "token", "secret", "password", "passwd", "passphrase", "privatekey", "secretkey", "accesskey",
    "signingkey", "encryptionkey", "credential", "credentials", "authorization", "cookie",
)
#: Names that are secret only as URL query parameters, where they carry credentials: Google's
#: ``?key=``, a presigned URL's ``X-Amz-Signature``, an Azure SAS ``sig``. In a JSON body they
#: name ordinary things (a cache key, a thinking block's signature).
QUERY_NAMES = frozenset({"key", "sig", "signature", "xamzsignature"})
#: Seen values shorter than this are not remembered: hiding every later "secret" or "test"
#: would redact ordinary words, and real keys are far longer.
MIN_KNOWN = 8
#: How many learnt secrets a redactor keeps (the newest): each one is another scan of every string.
MAX_KNOWN = 256
#: Shorter strings cannot hold a key shape (the shortest, a ``Bearer`` token, takes 15).
_MIN_SHAPE = 15

#: Values that are keys wherever they appear.
KEY_SHAPES = re.compile(
    r"sk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic (sk-ant-api03-...)
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys (Gemini)
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"  # GitHub
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|gsk_[A-Za-z0-9]{20,}|xai-[A-Za-z0-9]{20,}|r8_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}"  # Groq, xAI, Replicate, GitLab
    r"|eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"  # JWTs
    r"|-----BEGIN[A-Z ]*PRIVATE KEY-----.*?-----END[A-Z ]*PRIVATE KEY-----"
    r"|(?P<scheme>[Bb]earer\s+)[A-Za-z0-9._~+/=-]{8,}",  # the token, not the word
    re.DOTALL,
)
#: A substring every key shape contains: looking for these (``in``, in C) is many times faster
#: than running :data:`KEY_SHAPES` over text that holds no key, as nearly all text does.
_MARKERS = (
    "sk-", "AIza", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "hf_", "xox", "k_live_",
    "k_test_", "gsk_", "xai-", "r8_", "glpat-", "eyJ", "PRIVATE KEY", "earer",
)
#: ``name=value`` in a URL query or a text; the value goes when the name is secret.
_ASSIGNED = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_.-]{0,60})=(?P<value>[^\s&#\"'<>,;]+)")
_SEPARATORS = re.compile(r"[^a-z0-9]")
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@lru_cache(maxsize=4096)
def secret_name(name: str) -> bool:
    """Whether a header, body key or parameter named ``name`` holds a secret (case and
    separators ignored: ``apiKey``, ``api_key``, ``X-API-KEY`` are all secret)."""
    norm = _SEPARATORS.sub("", name.lower())
    return norm in SECRET_NAMES or norm.endswith(SECRET_ENDINGS)


@lru_cache(maxsize=1024)
def _header_name(key: str) -> tuple[str, bool]:
    """A header's name as the journal writes it (lower case), and whether it is secret: one
    cached look-up per header on the hot path."""
    name = key.lower()
    return name, secret_name(name)


@lru_cache(maxsize=1024)
def _query_name(name: str) -> bool:
    return secret_name(name) or _SEPARATORS.sub("", name.lower()) in QUERY_NAMES


def _shape(m: re.Match[str]) -> str:
    start = m.start()
    if start and m.string[start - 1] in _WORD and m.group("scheme") is None:
        return m.group()  # inside a longer word: "task-..." is not "sk-..."
    return (m.group("scheme") or "") + REDACTED


def _assigned(m: re.Match[str]) -> str:
    name = m.group("name")
    start = m.start()
    in_query = start > 0 and m.string[start - 1] in "?&"
    if secret_name(name) or (in_query and _query_name(name)):
        return f"{name}={REDACTED}"
    return m.group()


def redact_text(text: str, known: Sequence[str] = ()) -> str:
    """``text`` with key-shaped values, secret ``name=value`` assignments (URL queries) and the
    ``known`` secret values replaced by ``<redacted>``; the same object when nothing was."""
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    if "=" in text:
        text = _ASSIGNED.sub(_assigned, text)
    if _may_hold_key(text):
        text = KEY_SHAPES.sub(_shape, text)
    return text


def _may_hold_key(text: str) -> bool:
    """Whether ``text`` is long enough and has a marker (:data:`_MARKERS`) to hold a key shape."""
    if len(text) < _MIN_SHAPE:
        return False
    for marker in _MARKERS:
        if marker in text:
            return True
    return False


class Redactor:
    """The policy with a memory: values seen under secret names are hidden wherever they
    appear later in the same journal. Thread-safe."""

    def __init__(self) -> None:
        self._known: tuple[str, ...] = ()  # replaced, never changed in place: readers need no lock
        self._lock = threading.Lock()

    @property
    def known(self) -> frozenset[str]:
        """The secret values seen so far (credentials sent in headers, secret query parameters, body keys)."""
        return frozenset(self._known)

    def learn(self, value: str) -> None:
        """Remember ``value`` as a secret (ignored when shorter than :data:`MIN_KNOWN`)."""
        if len(value) >= MIN_KNOWN and value not in self._known:
            with self._lock:
                if value not in self._known:  # the newest MAX_KNOWN: a proxy sees many keys over a night
                    self._known = (*self._known[-(MAX_KNOWN - 1):], value)

    def text(self, text: str) -> str:
        """A string with its secrets hidden (see :func:`redact_text`), the known values included."""
        return redact_text(text, self._known if len(text) >= MIN_KNOWN else ())

    def headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        """Headers as a dict with lower-case names: a secret one's value hidden (and remembered,
        without its ``Bearer``/``Basic`` scheme), key-shaped values hidden in the others."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        out: dict[str, str] = {}
        for key, value in items:
            name, secret = _header_name(key)
            if secret:
                if value:
                    self.learn(value)
                    scheme, _, token = value.partition(" ")
                    if token and scheme.isalpha():
                        self.learn(token)
                out[name] = REDACTED
            else:
                out[name] = value
        # One look over all the other values for a key shape; most requests have none.
        if _may_hold_key("\n".join(out.values())):
            for name, value in out.items():
                if value is not REDACTED:
                    out[name] = redact_text(value)
        return out

    def value(self, value: Any) -> Any:
        """Parsed JSON (or any nest of dicts, lists and scalars) with its secrets hidden: the
        values of secret keys, and secrets in every string, JSON inside strings included."""
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, dict):
            return {
                k: (self._named(v) if isinstance(k, str) and secret_name(k) else self.value(v)) for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def arguments(self, names: Sequence[str], args: Sequence[Any]) -> list[Any]:
        """A callable's positional arguments (``names``: its positional parameters, in order)
        with those whose parameter is secret hidden, the others as they are: keyword arguments
        and the rest go through :meth:`value` with the journal entry they are written in."""
        return [self._named(arg) if i < len(names) and secret_name(names[i]) else arg for i, arg in enumerate(args)]

    def _named(self, value: Any) -> Any:
        """The value of a secret-named key: hidden unless it is empty, a number, a boolean or null."""
        if value is None or isinstance(value, (bool, int, float)) or value == "":
            return value
        if isinstance(value, str):
            self.learn(value)
        return REDACTED

    def _string(self, text: str) -> str:
        if text[:1] in ("{", "[") and len(text) > 2:
            try:
                parsed = json.loads(text)
            except ValueError:
                pass
            else:
                if isinstance(parsed, (dict, list)):
                    hidden = self.value(parsed)
                    return text if hidden == parsed else json.dumps(hidden, ensure_ascii=False)
        return self.text(text)

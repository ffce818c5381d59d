"""Finding personal data in text: emails, phone numbers, card numbers, IBANs, national ids.

Used by ``chaos.assert_no_pii_sent()`` on every outgoing provider request. Each detector
checks what it can (Luhn for cards, mod-97 for IBANs, digit counts for phones), so numbers
that only look like PII (order ids, timestamps) are not reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PiiMatch", "find_pii", "luhn_ok", "iban_ok"]


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data found in a text."""

    kind: str  # email | phone | card | iban | ssn | nino
    value: str
    start: int
    end: int

    @property
    def masked(self) -> str:
        """The value with all but its last 2 characters hidden, for error messages."""
        keep = self.value[-2:]
        return "*" * max(len(self.value) - 2, 0) + keep


_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
_CARD = re.compile(r"(?<![\d+-])(?:\d[ -]?){12,18}\d(?![\d-])")  # after "+" it is a phone
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_NINO = re.compile(r"\b(?![DFIQUV])[A-CEGHJ-PR-TW-Z](?![DFIQUVO])[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_PHONE = re.compile(
    r"(?<![\w+./-])(?:"  # not inside a version number, a serial or a path
    r"\+\d{1,3}(?:[ .-]?\(0\))?[ .-]?(?:\(\d{1,5}\)[ .-]?)?\d{1,5}(?:[ .-]?\d{1,8}){0,5}"  # +33 1 83…, +1 (846) …
    r"|(?:\(\d{1,5}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,8}){1,4}"  # (415) 555-2671, 030 1234567
    r"|\(\d{2,5}\)[ .-]?\d{6,10}"  # (0909) 8790011
    r"|0\d{9,10}"  # 0612345678
    r")(?![\w]|[.-]\d)"
)
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27,
    "GB": 22, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "SE": 24,
}


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn check card numbers carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """Whether an IBAN (spaces allowed) has a known length for its country and passes mod-97."""
    compact = iban.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def find_pii(text: str) -> list[PiiMatch]:
    """Every piece of personal data in ``text``, in order, without overlaps."""
    found: list[PiiMatch] = []
    taken: list[tuple[int, int]] = []

    def add_span(kind: str, start: int, end: int) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(PiiMatch(kind, text[start:end], start, end))

    def add(kind: str, m: re.Match[str]) -> None:
        add_span(kind, m.start(), m.end())

    for m in _EMAIL.finditer(text):
        add("email", m)
    for m in _IBAN.finditer(text):
        trimmed = _iban_prefix(m.group())  # the regex may run on into the next word
        if trimmed:
            add_span("iban", m.start(), m.start() + len(trimmed))
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            add("card", m)
    for m in _SSN.finditer(text):
        add("ssn", m)
    for m in _NINO.finditer(text):
        add("nino", m)
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 9 <= len(digits) <= 15 and not _looks_like_date_or_time(m.group()):
            add("phone", m)
    return sorted(found, key=lambda p: p.start)


def _iban_prefix(candidate: str) -> str:
    """The longest prefix of ``candidate`` that is a valid IBAN, or ''."""
    while len(candidate.replace(" ", "")) >= 15:
        if iban_ok(candidate):
            return candidate
        candidate = candidate[:-1].rstrip()
    return ""


def _looks_like_date_or_time(value: str) -> bool:
    value = value.strip()
    return bool(
        re.fullmatch(r"\d{4}[-.]\d{2}[-.]\d{2}(?:[ T]\d{2}(?:[:.]\d{2}){0,2})?", value)
        or re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", value)  # an IPv4 address
    )

"""The PII detector behind assert_no_pii_sent: what it finds, and what only looks like PII."""

from __future__ import annotations

import pytest

import chaoskit
from chaoskit._pii import find_pii, iban_ok, luhn_ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.co.uk today", [("email", "jane.doe@example.co.uk")]),
        ("card 4111 1111 1111 1111 ok", [("card", "4111 1111 1111 1111")]),
        ("IBAN DE89370400440532013000 ASAP", [("iban", "DE89370400440532013000")]),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", [("iban", "DE89 3704 0044 0532 0130 00")]),
        ("ssn 123-45-6789", [("ssn", "123-45-6789")]),
        ("NI AB 12 34 56 C", [("nino", "AB 12 34 56 C")]),
        ("call +33 1 83 41 77 76", [("phone", "+33 1 83 41 77 76")]),
        ("call +1 (846) 337-4481", [("phone", "+1 (846) 337-4481")]),
        ("call +44(0)3069990917", [("phone", "+44(0)3069990917")]),
        ("call +49 151 33562301", [("phone", "+49 151 33562301")]),  # Luhn-valid digits, still a phone
        ("call (415) 555-2671 now", [("phone", "(415) 555-2671")]),
    ],
)
def test_finds(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(m.kind, m.value) for m in find_pii(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "order A100-2026 shipped 2026-11-14",
        "at 2015-10-21 10:54 the job ran",
        "server 104.155.244.183 answered",
        "Build 1.78.672.35086 crashed.",
        "Serial SN-5509-8382-9071",
        "tracking 1Z999AA10123456784",
        "id 4111111111111112",
        "total 12 345 678 items",
    ],
)
def test_does_not_find_what_only_looks_like_pii(text: str) -> None:
    assert find_pii(text) == []


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


@pytest.mark.parametrize("text", ["\u3000", "\xa0", "\u2003 ", "\xad", "\u200b\ufeff"])
def test_graceful_rejects_text_that_only_looks_filled(text: str) -> None:
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(AssertionError, match="the text is blank"):
        chaos.assert_graceful(text)

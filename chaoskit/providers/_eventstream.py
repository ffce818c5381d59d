"""The AWS event stream encoding (``application/vnd.amazon.eventstream``), for Bedrock streams.

One message is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes),
the headers, the payload and a CRC32 of everything before it. A header is a one-byte name
length, the name, a type byte and the value; chaoskit sends string headers (type 7, two-byte
length) only, which is all Bedrock uses. botocore's ``EventStreamBuffer`` checks both CRCs,
so a frame this module gets wrong fails in the real client, not silently.
"""

from __future__ import annotations

import json
import struct
from binascii import crc32
from collections.abc import Mapping
from typing import Any

__all__ = ["CONTENT_TYPE", "encode_event", "encode_exception", "encode_message"]

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7  # header value type: a UTF-8 string with a 16-bit length


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event stream message with ``headers`` (all strings) and ``payload``."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    prelude += struct.pack(">I", crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", crc32(message))


def encode_event(event_type: str, data: Mapping[str, Any]) -> bytes:
    """An ``event`` message of ``event_type`` with a JSON payload."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, _json(data))


def encode_exception(exception_type: str, data: Mapping[str, Any]) -> bytes:
    """An ``exception`` message (a modeled error inside a 200 stream) with a JSON payload."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, _json(data))


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
    return struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING, len(raw_value)) + raw_value


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

"""Headless Chromium for report tests: render a page, screenshot it, read the PNG."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

WINDOW = (1280, 2000)


def chromium(which: Callable[[str], str | None] = shutil.which, default: Path = Path("/usr/bin/chromium")) -> str:
    """The Chromium binary; the test fails, not skips, without it: CI must render the page."""
    found = which("chromium") or (str(default) if default.exists() else None)
    if found is None:
        pytest.fail(f"Chromium is not installed (no {default}): run scripts/ensure-chromium", pytrace=False)
    return found


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on its own profile, with nothing that reaches the network."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WINDOW[0]},{WINDOW[1]}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_colours(data: bytes, rows: int) -> int:
    """How many distinct colours the top ``rows`` rows of an 8-bit RGB(A) PNG hold."""
    return len({pixel for row in png_rows(data, rows) for pixel in row})


def png_rows(data: bytes, rows: int) -> list[list[bytes]]:
    """The top ``rows`` rows of an 8-bit RGB(A) PNG, each a list of its pixels' RGB bytes."""
    width, _ = png_size(data)
    bpp = {2: 3, 6: 4}[data[25]]
    assert data[24] == 8 and data[28] == 0, "8-bit, non-interlaced PNG expected"
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompressobj().decompress(idat, rows * (1 + width * bpp))
    stride, previous, out = width * bpp, bytearray(width * bpp), []
    for r in range(rows):
        kind, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], (previous[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out.append([bytes(line[i:i + 3]) for i in range(0, stride, bpp)])
        previous = line
    return out

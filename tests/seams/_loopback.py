"""A loopback HTTP server that fails the way networks do, to compare injected faults with real ones.

Paths: ``/ok``; ``/reset`` and ``/close`` (RST or FIN before any response); ``/sleep`` (no
answer); ``/body-reset``, ``/body-close``, ``/body-sleep`` (two SSE chunks of a chunked body,
then RST, FIN, or silence). ``blackhole()`` gives a port whose accept queue is full, so a connect
to it times out; ``closed_port()`` one that refuses (both from :mod:`chaoskit.fidelity`).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from chaoskit.fidelity import blackhole as blackhole
from chaoskit.fidelity import closed_port as closed_port

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
CHUNKS = (b"data: one\n\n", b"data: two\n\n")
SILENCE = 1.0  # how long /sleep and /body-sleep stay silent before closing


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _serve(conn: socket.socket) -> None:
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            got = conn.recv(65536)
            if not got:
                return
            data += got
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        while length and len(body) < int(length[1]):  # unread bytes would make close() an RST
            body += conn.recv(65536)
        path = head.split(b" ")[1].decode()
        if path == "/reset":
            return _reset(conn)
        if path == "/close":
            return
        if path == "/sleep":
            time.sleep(SILENCE)
            return
        if path.startswith("/body-"):
            conn.sendall(HEAD + b"".join(_chunk(c) for c in CHUNKS))
            time.sleep(0.02)
            if path == "/body-reset":
                return _reset(conn)
            if path == "/body-sleep":
                time.sleep(SILENCE)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")


@contextmanager
def misbehaving_server() -> Iterator[str]:
    """Serve on 127.0.0.1 for the block; yields the base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()

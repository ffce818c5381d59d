"""Side traffic that frameworks queue for a background thread, sent while chaoskit still answers it.

openai-agents queues the spans of every run and posts them to ``api.openai.com/v1/traces/ingest``
from a daemon thread every few seconds, and at interpreter exit (its ``BatchTraceProcessor``). A
test's spans would go out after its chaos session ended, to the real network: with no network the
exporter prints ``[non-fatal] Tracing request failed`` at exit, and with one it posts the test's
traces with the test's key. So a session sends what is queued before its seams come off, and the
provider profile answers it (``Profile.background``): the output stays clean and nothing leaves.

Each flush is looked up only when its framework is already imported, and never raises: a
framework that changed its internals loses the flush, not the test.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

__all__ = ["FLUSHES", "flush_background"]

_log = logging.getLogger("chaoskit.background")


def _openai_agents() -> None:
    from agents.tracing import get_trace_provider  # public API (agents/tracing/__init__.py)

    get_trace_provider().force_flush()  # posts the queued spans now, on this thread


#: (module whose import shows the framework is in use, what sends its queued side traffic now).
FLUSHES: tuple[tuple[str, Callable[[], None]], ...] = (("agents.tracing", _openai_agents),)


def flush_background() -> None:
    """Send the side traffic loaded frameworks have queued (see the module's docstring)."""
    for module, flush in FLUSHES:
        if module not in sys.modules:
            continue
        try:
            flush()
        except Exception:  # noqa: BLE001 - a framework's flush never breaks the session's end
            _log.debug("chaoskit: flushing %s's queued side traffic failed", module, exc_info=True)

"""``chaoskit proxy``: run a chaos proxy in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "main"]

TOKEN_ENV = "CHAOSKIT_PROXY_TOKEN"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("proxy", help="run the chaos proxy between an app and its providers",
                       description="A streaming reverse proxy that applies catalog faults to live traffic. Point the app's "
                                   "OPENAI_BASE_URL (or any *_BASE_URL) at http://LISTEN/NAME/v1 and put faults on through "
                                   "the control API.")
    p.add_argument("--upstream", action="append", default=[], metavar="NAME[:PROVIDER]=URL", required=True,
                   help="a real service the proxy may forward to, at /NAME/ (repeatable); e.g. openai=https://api.openai.com")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="where apps connect (default: 127.0.0.1:8080)")
    p.add_argument("--control", default="127.0.0.1:8475", metavar="HOST:PORT", help="the control API (default: 127.0.0.1:8475)")
    p.add_argument("--token", default=None,
                   help=f"the control API's bearer token (default: ${TOKEN_ENV}, else a random one written to --token-file)")
    p.add_argument("--token-file", default=".chaoskit-proxy-token", metavar="PATH",
                   help="where a generated token is written, readable by you only (default: .chaoskit-proxy-token)")
    p.add_argument("--seed", type=int, default=0, help="seed of every decision (default: 0)")
    p.add_argument("--journal", default=None, metavar="FILE", help="append each call, redacted, as a JSON line")
    p.add_argument("--max-active-faults", type=int, default=32, help="refuse adds beyond this many faults (default: 32)")
    p.add_argument("--default-ttl", type=float, default=60.0, help="seconds a fault stays on unless renewed (default: 60)")
    p.add_argument("--max-ttl", type=float, default=3600.0, help="the longest TTL a fault may ask for (default: 3600)")
    p.add_argument("--state", default=None, metavar="redis://HOST:PORT/DB",
                   help="share faults and counters with other replicas through Redis")
    p.add_argument("--allow-remote", action="store_true", help="allow --listen/--control on an address that is not loopback")


def main(ns: argparse.Namespace) -> int:
    from .._errors import ChaosConfigError
    from ._config import ProxyConfig, parse_address, parse_upstream
    from ._server import ChaosProxy

    written: str | None = None
    try:
        upstreams = tuple(parse_upstream(u) for u in ns.upstream)
        listen = parse_address(ns.listen, what="--listen", allow_remote=ns.allow_remote)
        control = parse_address(ns.control, what="--control", allow_remote=ns.allow_remote)
        token, written = _token(ns)  # after the checks: a refused start writes no token file
        config = ProxyConfig(
            upstreams=upstreams, token=token, listen=listen, control=control,
            seed=ns.seed, max_active_faults=ns.max_active_faults, default_ttl=ns.default_ttl, max_ttl=ns.max_ttl,
            journal_file=ns.journal, state=ns.state,
        )
        proxy = ChaosProxy(config)
    except ChaosConfigError as exc:
        _forget(written)
        print(f"chaoskit proxy: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        _forget(written)
        print(exc.strerror or str(exc), file=sys.stderr)
        return 3
    routes = ", ".join(f"{proxy.url}/{u.name}/ -> {u.url} ({u.provider})" for u in config.upstreams)
    print(f"chaoskit proxy: {routes}", flush=True)
    where = f"token in {written}" if written else "token as given"
    print(f"chaoskit proxy: control API on {proxy.control_url} ({where}); seed {config.seed}", flush=True)
    proxy.run()
    print("chaoskit proxy: stopped; every fault is off", flush=True)
    return 0


def _forget(written: str | None) -> None:
    """A proxy that did not start leaves no token file behind."""
    if written:
        Path(written).unlink(missing_ok=True)


def _token(ns: argparse.Namespace) -> tuple[str, str | None]:
    """The control token, and the file a generated one went to (never printed: logs keep it)."""
    given = ns.token or os.environ.get(TOKEN_ENV)
    if given:
        return given, None
    token = secrets.token_urlsafe(24)
    path = Path(ns.token_file)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, str(path)

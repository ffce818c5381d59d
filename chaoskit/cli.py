"""The ``chaoskit`` command: browse the fault catalog, see what faults do, run the proxy server.

    chaoskit faults [PATTERN]      list catalog ids (glob, e.g. 'openai.stream.*') with summaries
    chaoskit faults show ID        one fault: effect, parameters, their defaults and what they accept
    chaoskit doctor [PATTERN] [--json]
                                   what each fault does to the installed provider SDKs
    chaoskit doctor --verify [PATTERN] [--catalog FILE ...]
                                   compare each fault with the same failure from a real server
    chaoskit toxiproxy [--host H] [--port P] [--seed N]
                                   run the embedded Toxiproxy-compatible server
    chaoskit proxy --upstream NAME=URL [...]
                                   run the chaos proxy between an app and its providers
    chaoskit run SCENARIO [--dry-run] [--i-accept-production-risk]
                                   run a scenario against a deployed app; the exit code is the verdict
    chaoskit gameday SCENARIO [--auto]
                                   a game day: each phase after you confirm it, notes, a kill switch
    chaoskit validate SCENARIO...  check scenario files: ok, or file:line: field: problem (exit 2)
    chaoskit validate --schema     print the scenario files' JSON Schema
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _list(pattern: str) -> int:
    from . import faults

    ids = faults.ids(pattern)
    if not ids:
        print(f"chaoskit: no fault id matches {pattern!r}", file=sys.stderr)
        return 1
    width = max(len(i) for i in ids)
    for fault in faults.all(pattern):
        print(f"{fault.id:<{width}}  {fault.summary}")
    return 0


def _show(fault_id: str) -> int:
    from . import faults

    fault = faults.get(fault_id)
    print(fault.id)
    print(f"  {fault.summary}")
    print(f"  effect: {fault.effect}")
    print("  params (default, then what it accepts):")
    for key, value in fault.params.items():
        accepts = f"  # {fault.types[key].describe()}" if key in fault.types else ""
        print(f"    {key}: {json.dumps(value, default=str)}{accepts}")
    return 0


def _verify(pattern: str, catalogs: Sequence[str], providers: list[str]) -> int:
    """``chaoskit doctor --verify``: the oracle on the installed SDKs; 1 if any fault differs."""
    from pathlib import Path

    from . import _doctor as doctor
    from ._catalog import Catalog

    under_test = None
    if catalogs:
        paths = [Path(c) for c in catalogs]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            print(f"chaoskit doctor: --catalog {missing[0]}: no such file", file=sys.stderr)
            return 2
        under_test = list(Catalog.from_files(paths))
    colour = sys.stdout.isatty()
    mark = {True: "\033[32magrees\033[0m" if colour else "agrees", False: "\033[31mDIFFERS\033[0m" if colour else "DIFFERS"}

    def report(v: object) -> None:
        from .fidelity import Verdict

        assert isinstance(v, Verdict)
        print(f"{mark[v.agrees]}  {v.fault}  {v.sdk} {v.call}: {v.real.summary()}", flush=True)
        for difference in v.differences:
            print(f"    {difference}", flush=True)

    print(doctor.format_versions(doctor.sdk_versions()), flush=True)
    verdicts = doctor.verify_all(pattern, under_test=under_test, report=report)
    if not verdicts:
        print(f"chaoskit doctor: no fault of {', '.join(providers)} matches {pattern!r}", file=sys.stderr)
        return 1
    differ = [v for v in verdicts if not v.agrees]
    print(f"\n{len(verdicts)} checks of {len({v.fault for v in verdicts})} faults against a real server on loopback: "
          + (f"{len(differ)} differ ({', '.join(sorted({v.fault for v in differ}))})" if differ else "all agree"))
    return 1 if differ else 0


def _doctor(pattern: str, *, as_json: bool, as_markdown: bool = False, verify: bool = False, catalogs: Sequence[str] = ()) -> int:
    from . import _doctor as doctor

    providers = sorted(p for p in doctor.SDKS if doctor.installed(p))
    if not providers:
        print("chaoskit doctor: no provider SDK (openai, anthropic, google-genai, boto3, huggingface_hub) is installed; nothing to check", file=sys.stderr)
        return 1
    if verify:
        return _verify(pattern, catalogs, providers)
    if catalogs:
        print("chaoskit doctor: --catalog goes with --verify (the catalog to compare with the real failures)", file=sys.stderr)
        return 2
    rows = doctor.diagnose_all(pattern)
    if not rows:
        print(f"chaoskit doctor: no fault of {', '.join(providers)} matches {pattern!r}", file=sys.stderr)
        return 1
    if as_markdown:
        print(doctor.format_markdown(rows, doctor.sdk_versions()))
    elif as_json:
        print(doctor.to_json(rows))
    else:
        print(doctor.format_versions(doctor.sdk_versions()))
        print(doctor.format_table(rows))
        print(f"\n{len(rows)} faults; one call each with the SDK's default retries and a "
              f"{doctor.READ_TIMEOUT:g} s read timeout, on the virtual clock (times as the app sees them)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaoskit", description="Chaos and fault injection for AI applications.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_faults = sub.add_parser("faults", help="list or show catalog faults")
    p_faults.add_argument("args", nargs="*", metavar="PATTERN | show ID")
    p_toxiproxy = sub.add_parser("toxiproxy", help="run the embedded Toxiproxy-compatible server")
    p_toxiproxy.add_argument("--host", default="127.0.0.1", help="API address (default: 127.0.0.1)")
    p_toxiproxy.add_argument("--port", type=int, default=8474, help="API port; 0 picks a free one (default: 8474)")
    p_toxiproxy.add_argument("--seed", type=int, default=None, help="seed for toxicity and jitter (default: random)")
    p_doctor = sub.add_parser("doctor", help="what each catalog fault does to the installed provider SDKs")
    p_doctor.add_argument("pattern", nargs="?", default="*", help="a glob of fault ids (default: all)")
    p_doctor.add_argument("--json", action="store_true", help="print the results as JSON")
    p_doctor.add_argument("--markdown", action="store_true", help="print the results as a Markdown table (docs/fault-facts.md)")
    p_doctor.add_argument("--verify", action="store_true",
                          help="compare each fault with the same failure from a real server on loopback; exit 1 if any differs")
    p_doctor.add_argument("--catalog", action="append", default=[], metavar="FILE",
                          help="with --verify: check the faults of this catalog file instead of the shipped ones (repeatable)")
    from .gameday import _cli as gameday_cli
    from .proxy import _cli as proxy_cli
    from .run import _cli as run_cli
    from .scenario import _cli as validate_cli

    proxy_cli.add_parser(sub)
    run_cli.add_parser(sub)
    gameday_cli.add_parser(sub)
    validate_cli.add_parser(sub)
    ns = parser.parse_args(argv)
    from ._errors import ChaosError

    if ns.command == "proxy":
        return proxy_cli.main(ns)
    if ns.command == "run":
        return run_cli.main(ns)
    if ns.command == "gameday":
        return gameday_cli.main(ns)
    if ns.command == "validate":
        return validate_cli.main(ns)

    if ns.command == "toxiproxy":
        from .network._server import run

        return run(ns.host, ns.port, ns.seed)
    try:
        if ns.command == "doctor":
            return _doctor(ns.pattern, as_json=ns.json, as_markdown=ns.markdown, verify=ns.verify, catalogs=ns.catalog)
        if ns.command == "faults":
            if ns.args[:1] == ["show"]:
                if len(ns.args) != 2:
                    parser.error("usage: chaoskit faults show ID")
                return _show(ns.args[1])
            return _list(ns.args[0] if ns.args else "*")
    except ChaosError as exc:
        print(f"chaoskit: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

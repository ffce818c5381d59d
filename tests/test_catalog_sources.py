"""Every catalog entry names its source, and the sources it names can be checked.

A ``source`` says what a fault is modelled on: an SDK file and function, a documentation page,
an RFC section. The python citations (``pkg/mod.py`` or ``pkg/mod.py::Class.method``) are
checked against the packages installed here, so a citation that names a module or a function
that does not exist (a typo, or an SDK release that moved it) fails instead of rotting; a
citation of a package that is not installed (vllm) is skipped, with the reason. Pages must be
cited by their https:// URL.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

from chaoskit import ChaosConfigError, faults
from chaoskit._catalog import Catalog

_URL = re.compile(r"\b[a-zA-Z][\w+.-]*://\S+?(?=[;,)]?(?:\s|$))")
#: ``pkg/sub/mod.py`` with an optional ``::Name.attr``, starting at a word boundary.
_PY = re.compile(r"(?<![\w/.-])((?:[A-Za-z_]\w*/)+[A-Za-z_]\w*\.py)(?:::([A-Za-z_][\w.]*\w))?")
#: A host and path without a scheme (``console.groq.com/docs/errors``).
_BARE_HOST = re.compile(r"(?<![\w/.:@-])(?:[a-z0-9-]+\.)+[a-z]{2,}/\S*?(?=[;,)]?(?:\s|$))")


def citations(source: str) -> list[tuple[str, str | None]]:
    """The python citations in a source, as (file path, dotted name or None); URLs are left out."""
    return [(m.group(1), m.group(2)) for m in _PY.finditer(_URL.sub(" ", source))]


def problem(path: str, name: str | None) -> str | None:
    """What is wrong with citing ``path::name``, or None; skips when the package is not installed."""
    top, *rest = path.removesuffix(".py").split("/")
    spec = importlib.util.find_spec(top)
    if spec is None:
        pytest.skip(f"{path}: the package {top!r} is not installed here, so the citation cannot be checked")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])]
    relative = Path(*path.split("/")[1:])
    if not any((root / relative).is_file() for root in roots):
        return f"{path}: no such file in the installed {top!r} ({', '.join(map(str, roots)) or 'not a package'})"
    if name is None:
        return None
    module_name = ".".join([top, *rest]).removesuffix(".__init__")
    obj: object = importlib.import_module(module_name)
    walked = module_name
    for part in name.split("."):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif part in (getattr(obj, "model_fields", None) or {}) or part in getattr(obj, "__annotations__", {}):
            return None  # a pydantic field or an annotated attribute: it exists, but has no class value
        else:
            return f"{path}::{name}: {walked} has no attribute {part!r}"
        walked = f"{walked}.{part}"
    return None


def _cited() -> dict[tuple[str, str | None], list[str]]:
    """Every python citation in the catalog, with the ids of the faults that cite it."""
    cited: dict[tuple[str, str | None], list[str]] = {}
    for fault in faults.all():
        for citation in citations(fault.source):
            cited.setdefault(citation, []).append(fault.id)
    return cited


CITED = _cited()


def test_every_catalog_entry_names_its_source() -> None:
    missing = [fault.id for fault in faults.all() if not fault.source.strip()]
    assert missing == [], f"catalog entries without a source: {', '.join(missing)}"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [("    effect: status\n", "missing"), ("    effect: status\n    source: ''\n", "empty"),
     ("    effect: status\n    source:\n", "empty"), ("    effect: status\n    source: '  '\n", "empty")],
)
def test_a_catalog_entry_requires_a_source(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(f"provider: x\nfaults:\n  boom:\n{entry}")
    message = f"{path}: faults.boom.source: {problem}; name the documentation page or SDK file the fault is modelled on"
    with pytest.raises(ChaosConfigError, match=f"^{re.escape(message)}$"):
        Catalog.from_files([path])


def test_a_source_that_is_not_a_string_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("provider: x\nfaults:\n  boom:\n    effect: status\n    source: [a, b]\n")
    message = f"{path}: faults.boom.source: must be a string (the page or SDK file the fault is modelled on)"
    with pytest.raises(ChaosConfigError, match=f"^{re.escape(message)}$"):
        Catalog.from_files([path])


def test_the_source_survives_a_parameter_override() -> None:
    fault = faults.get("openai.rate_limit")
    assert fault.source and fault.with_params(retry_after=2).source == fault.source


def test_sources_are_one_line() -> None:
    multiline = [fault.id for fault in faults.all() if "\n" in fault.source]
    assert multiline == []


@pytest.mark.parametrize(("path", "name"), sorted(CITED, key=lambda c: (c[0], c[1] or "")), ids=lambda v: v or "")
def test_a_cited_python_file_and_name_exist(path: str, name: str | None) -> None:
    reason = problem(path, name)
    assert reason is None, f"{reason} (cited by {', '.join(CITED[(path, name)])})"


def test_urls_are_https() -> None:
    bad = [
        f"{fault.id}: {url}"
        for fault in faults.all()
        for url in _URL.findall(fault.source)
        if not url.startswith("https://")
    ]
    bare = [f"{fault.id}: {m}" for fault in faults.all() for m in _BARE_HOST.findall(_URL.sub(" ", fault.source))]
    assert bad == [], "URLs must start with https://"
    assert bare == [], "write a page as its full https:// URL"


def test_the_catalog_cites_sdk_code() -> None:
    """The check above must have something to check: the built-in providers cite their SDKs."""
    cited_packages = {path.split("/")[0] for path, _ in CITED}
    assert {"openai", "anthropic", "mcp", "httpx2"} <= cited_packages


# The checker itself: it must catch the mistakes it is there for.


def test_citations_are_found_and_urls_are_not_mistaken_for_files() -> None:
    source = (
        "openai/_base_client.py::BaseClient._should_retry (retried); "
        "https://example.com/docs/x.py; vllm/entrypoints/openai/protocol.py; toxics/latency.go"
    )
    assert citations(source) == [
        ("openai/_base_client.py", "BaseClient._should_retry"),
        ("vllm/entrypoints/openai/protocol.py", None),
    ]


def test_real_citations_pass() -> None:
    assert problem("openai/_client.py", "OpenAI._make_status_error") is None
    assert problem("openai/types/chat/chat_completion.py", "Choice.finish_reason") is None  # a pydantic field
    assert problem("anthropic/_streaming.py", None) is None


def test_a_missing_name_or_file_is_reported() -> None:
    assert problem("openai/_client.py", "OpenAI._no_such_method") == (
        "openai/_client.py::OpenAI._no_such_method: openai._client.OpenAI has no attribute '_no_such_method'"
    )
    message = problem("openai/_no_such_module.py", None)
    assert message is not None and message.startswith("openai/_no_such_module.py: no such file in the installed 'openai'")


def test_a_package_that_is_not_installed_is_skipped_with_the_reason() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"the package 'chaoskit_no_such_sdk' is not installed here"):
        problem("chaoskit_no_such_sdk/mod.py", "f")


def test_a_scheme_less_or_plain_http_page_is_caught() -> None:
    assert _BARE_HOST.findall("see console.groq.com/docs/errors; openai/_client.py") == ["console.groq.com/docs/errors"]
    assert [u for u in _URL.findall("http://x.example/a; https://y.example/b") if not u.startswith("https://")] == [
        "http://x.example/a"
    ]

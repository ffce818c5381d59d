"""What fault parameters accept: the declarations in faults/_params.yaml, checked at get and inject."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from chaoskit import Chaos, ChaosConfigError, Fault, faults
from chaoskit._catalog import Catalog
from chaoskit._params import ParamType, param_types

#: A value of each kind, and the declared types it satisfies.
SAMPLES: list[tuple[object, set[str]]] = [
    ("abc", {"string"}), (5, {"integer", "number"}), (1.5, {"number"}), (True, {"boolean"}),
    ({"a": 1}, {"object"}), (["a"], {"list"}), (None, {"null"}),
]


def _cases() -> list[Any]:
    return [pytest.param(f, name, id=f"{f.id}.{name}") for f in faults.all() for name in f.params]


@pytest.mark.parametrize(("fault", "name"), _cases())
def test_every_catalog_parameter_is_declared_accepts_its_default_and_rejects_bad_values(fault: Fault, name: str) -> None:
    declared = fault.types[name]
    default = fault.params[name]
    assert faults.get(fault.id, **{name: default}).params[name] == default
    if "any" in declared.types:
        return
    wrong_type = next(value for value, kinds in SAMPLES if not kinds & set(declared.types))
    with pytest.raises(ChaosConfigError, match=rf"^fault '{re.escape(fault.id)}': {name}=.* must be "):
        faults.get(fault.id, **{name: wrong_type})
    out_of_range = [declared.min - 1] if declared.min is not None else []
    out_of_range += [declared.max + 1] if declared.max is not None else []
    out_of_range += ["not-a-choice"] if declared.choices is not None else []
    for value in out_of_range:
        with pytest.raises(ChaosConfigError, match=rf"^fault '{re.escape(fault.id)}': {name}={value!r} must be "):
            faults.get(fault.id, **{name: value})


def test_the_walk_covers_ranges_in_the_places_they_matter() -> None:
    ranged = {(f.effect, name) for f in faults.all() for name, t in f.types.items() if t.min is not None}
    assert {("latency.fixed", "seconds"), ("status", "status"), ("toxic", "toxicity"),
            ("malformed.truncated_json", "keep"), ("stream.cut", "after_events")} <= ranged


@pytest.mark.parametrize(
    ("fault_id", "params", "message"),
    [
        ("openai.latency", {"seconds": "abc"}, "seconds='abc' must be a number >= 0"),
        ("openai.latency", {"seconds": -5}, "seconds=-5 must be a number >= 0"),
        ("openai.latency", {"seconds": True}, "seconds=True must be a number >= 0"),
        ("openai.latency", {"seconds": float("nan")}, "seconds=nan must be a number >= 0"),
        ("openai.rate_limit", {"status": 999}, "status=999 must be a whole number from 100 to 599"),
        ("openai.rate_limit", {"status": 429.5}, "status=429.5 must be a whole number from 100 to 599"),
        ("openai.rate_limit", {"retry_after": "soon"}, "retry_after='soon' must be a number >= 0, or None"),
        ("openai.rate_limit", {"should_retry": "yes"}, "should_retry='yes' must be True or False, or None"),
        ("openai.rate_limit", {"headers": "x-a: 1"}, "headers='x-a: 1' must be a mapping"),
        ("openai.malformed.truncated_json", {"keep": 1.5}, "keep=1.5 must be a number from 0 to 1"),
        ("openai.stream.cut", {"after_events": 1.5}, "after_events=1.5 must be a whole number >= 0"),
        ("net.latency", {"stream": "sideways"}, "stream='sideways' must be one of 'downstream', 'upstream'"),
        ("net.latency", {"toxicity": 2}, "toxicity=2 must be a number from 0 to 1"),
        ("mcp.tool_error", {"method": 5}, "method=5 must be a string or a list, or None"),
    ],
)
def test_bad_values_name_the_fault_the_parameter_and_what_is_allowed(fault_id: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ChaosConfigError) as info:
        faults.get(fault_id, **params)
    assert str(info.value) == f"fault {fault_id!r}: {message}"


def test_good_values_of_the_declared_types_pass() -> None:
    assert faults.get("openai.latency", seconds=0).params["seconds"] == 0
    assert faults.get("openai.rate_limit", retry_after=None, should_retry=False).params["should_retry"] is False
    assert faults.get("openai.rate_limit.tokens", status=503).params["status"] == 503
    assert faults.get("mcp.tool_error", method=("tools/call", "tools/list")).params["method"] == ("tools/call", "tools/list")
    assert faults.get("tool.raise", exception=KeyError).params["exception"] is KeyError


def test_inject_checks_parameters_before_any_call() -> None:
    with Chaos(seed=1) as chaos, pytest.raises(ChaosConfigError) as info:
        chaos.inject("openai.latency", seconds="abc")
    assert str(info.value) == "fault 'openai.latency': seconds='abc' must be a number >= 0"
    assert chaos.injections == []


def test_an_override_keeps_the_declarations() -> None:
    slower = faults.get("openai.latency", seconds=3)
    with pytest.raises(ChaosConfigError, match=r"^fault 'openai.latency': seconds=-1 must be a number >= 0$"):
        slower.with_params(seconds=-1)


def _catalog(tmp_path: Path, params: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(f"provider: x\nfaults:\n  slow:\n    effect: latency.fixed\n    source: RFC 9110\n    params:\n{params}")
    return path


def test_a_parameter_not_declared_for_its_effect_is_a_catalog_error(tmp_path: Path) -> None:
    path = _catalog(tmp_path, "      seconds: 1.0\n      pause: 2\n")
    with pytest.raises(ChaosConfigError) as info:
        Catalog.from_files([path])
    assert re.fullmatch(
        rf"{re.escape(str(path))}: faults\.slow\.params\.pause: not declared for effect 'latency\.fixed'; "
        r"declare it in .*_params\.yaml under effects\.latency\.fixed \(such as pause: \{type: number, min: 0\}\)",
        str(info.value),
    ), str(info.value)


def test_a_default_the_declaration_does_not_allow_is_a_catalog_error(tmp_path: Path) -> None:
    path = _catalog(tmp_path, "      seconds: -1.0\n")
    with pytest.raises(ChaosConfigError) as info:
        Catalog.from_files([path])
    assert str(info.value) == f"{path}: faults.slow.params.seconds: the default -1.0 must be a number >= 0"


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("[number]", "must be a mapping such as {type: number, min: 0}"),
        ("{type: float}", ".type: 'float' is not one of number, integer, string, boolean, object, list, any, null, or a list of them"),
        ("{type: number, minimum: 0}", ": unknown field 'minimum'; a parameter has choices, max, min, type"),
        ("{type: number, min: zero}", ".min: 'zero' must be a number"),
        ("{type: string, choices: a}", ".choices: must be a list of the allowed values"),
    ],
)
def test_bad_declarations_name_the_file_and_field(tmp_path: Path, declaration: str, message: str) -> None:
    path = tmp_path / "_params.yaml"
    path.write_text(f"effects:\n  latency.fixed:\n    seconds: {declaration}\n")
    with pytest.raises(ChaosConfigError) as info:
        param_types(path)
    assert str(info.value) == f"{path}: effects.latency.fixed.seconds{'' if message.startswith(('.', ':')) else ': '}{message}"


def test_declarations_are_for_known_effects(tmp_path: Path) -> None:
    path = tmp_path / "_params.yaml"
    path.write_text("effects:\n  latency.fixd:\n    seconds: {type: number}\n")
    with pytest.raises(ChaosConfigError, match=rf"^{re.escape(str(path))}: effects\.latency\.fixd: not an effect; the effects are body\.incomplete, "):
        param_types(path)


@pytest.mark.parametrize(
    ("declaration", "described"),
    [
        (ParamType(("number",), 0, 1), "a number from 0 to 1"),
        (ParamType(("integer", "null"), 0), "a whole number >= 0, or None"),
        (ParamType(("number",), max=10), "a number <= 10"),
        (ParamType(("string", "object")), "a string or a mapping"),
        (ParamType(("string", "null"), choices=("a", "b")), "one of 'a', 'b', or None"),
        (ParamType(("null",)), "None"),
    ],
)
def test_descriptions(declaration: ParamType, described: str) -> None:
    assert declaration.describe() == described

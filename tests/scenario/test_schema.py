"""The JSON Schema is the one description of a scenario file: valid, documented, closed, and in step
with the dataclasses the loader builds (field names and defaults)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chaoskit import scenario as sc
from chaoskit.scenario import load, parse_duration, schema, schema_path, shipped_scenarios
from chaoskit.scenario._values import COMPARATORS, StatusRanges

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA: Mapping[str, Any] = schema()
DEFS = SCHEMA["$defs"]
#: Schemas closed by the object that includes them (``unevaluatedProperties: false`` at the use site).
OPEN_PARTS = {"comparison", "httpProbe", "conversationProbe", "pythonProbe", "prometheusProbe"}


def test_the_schema_is_in_the_repo_and_valid_draft_2020_12() -> None:
    assert schema_path() == ROOT / "scenarios" / "scenario.schema.json"
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def walk(node: Any, where: str = "#") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every subschema and where it is, ``if`` conditions left out (they only select)."""
    if isinstance(node, Mapping):
        yield where, node
        for key, value in node.items():
            if key in ("if", "examples", "default", "enum", "const"):
                continue
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk(item, f"{where}/{index}")


def test_every_field_has_a_description() -> None:
    missing = [f"{where}/properties/{name}" for where, node in walk(SCHEMA)
               for name, field in node.get("properties", {}).items()
               if isinstance(node.get("properties"), Mapping) and "description" not in field]
    assert missing == []
    assert all("description" in d for d in DEFS.values())


def test_every_object_rejects_unknown_fields() -> None:
    open_objects = [where for where, node in walk(SCHEMA)
                    if isinstance(node.get("properties"), Mapping) and "properties" not in where.rsplit("/", 1)[-1:]
                    and node.get("additionalProperties") is not False and node.get("unevaluatedProperties") is not False
                    and where.split("/")[-1] not in OPEN_PARTS]
    assert open_objects == []
    validator = jsonschema.Draft202012Validator(SCHEMA)
    valid = {"title": "t", "target": {"url": "http://a"}, "method": [{"name": "p", "duration": 1}]}
    assert validator.is_valid(valid)
    for part, extra in [((), {"x": 1}), (("target",), {"x": 1}), (("method", 0), {"x": 1})]:
        bad = json.loads(json.dumps(valid))
        node = bad
        for key in part:
            node = node[key]
        node.update(extra)
        assert not validator.is_valid(bad), part
    probe = {"name": "p", "type": "python", "callable": "a:b", "expect": {"lt": 1, "x": 2}}
    assert not validator.is_valid({**valid, "steady_state": [probe]})
    assert validator.is_valid({**valid, "steady_state": [{**probe, "expect": {"lt": 1}}]})


def props(name: str) -> set[str]:
    return set(DEFS[name]["properties"]) if name in DEFS else set()


def at(*path: str) -> Mapping[str, Any]:
    node: Any = SCHEMA
    for key in path:
        node = node[key]
    return node  # type: ignore[no-any-return]


#: (schema object, dataclass, fields of the dataclass the file does not spell the same way or at all)
PAIRS: list[tuple[Mapping[str, Any], type, dict[str, str | None]]] = [
    (SCHEMA, sc.Scenario, {"file": None}),
    (at("properties", "target"), sc.Target, {}),
    (at("properties", "proxy"), sc.Proxy, {}),
    (DEFS["upstream"]["oneOf"][1], sc.Upstream, {"name": None}),
    (at("properties", "safety"), sc.Safety, {}),
    (DEFS["blackout"], sc.Blackout, {}),
    (at("properties", "load"), sc.Load, {"conversations_file": None}),
    (at("properties", "report"), sc.Report, {}),
    (DEFS["phase"], sc.Phase, {}),
    (DEFS["fault"], sc.FaultSpec, {}),
    (DEFS["match"], sc.Match, {}),
    (DEFS["toxic"], sc.ToxicSpec, {}),
    (DEFS["stopCondition"], sc.StopCondition, {}),
    (DEFS["probe"], sc.Probe, {"check": None}),
    (DEFS["probe"]["properties"]["window"], sc.WindowCheck, {}),
    (DEFS["probe"]["properties"]["window"]["properties"]["latency_percentile"], sc.LatencyBound, {}),
    (DEFS["httpProbe"], sc.HttpCheck, {}),
    (DEFS["httpProbe"]["properties"]["expect"], sc.HttpExpect, {}),
    (DEFS["conversationProbe"], sc.ConversationCheck, {}),
    (DEFS["conversationProbe"]["properties"]["turns"]["items"], sc.Turn, {}),
    (DEFS["conversationProbe"]["properties"]["turns"]["items"]["properties"]["expect"], sc.TurnExpect, {}),
    (DEFS["pythonProbe"], sc.PythonCheck, {}),
    (DEFS["prometheusProbe"], sc.PrometheusCheck, {}),
]


@pytest.mark.parametrize(("node", "cls", "renames"), PAIRS, ids=[p[1].__name__ for p in PAIRS])
def test_schema_fields_are_the_dataclass_fields(node: Mapping[str, Any], cls: type, renames: dict[str, str | None]) -> None:
    fields = {renames.get(f.name, f.name) for f in dataclasses.fields(cls)} - {None}
    assert set(node["properties"]) == fields


def test_comparisons_and_json_checks() -> None:
    assert list(DEFS["comparison"]["properties"]) == list(COMPARATORS)
    assert set(DEFS["jsonCheck"]["properties"]) == {"path"}  # JsonCheck(path, expect): the comparators are inline
    assert {f.name for f in dataclasses.fields(sc.JsonCheck)} == {"path", "expect"}


def _normal(value: Any, default: Any) -> Any:
    """The schema's default as the dataclass holds it."""
    if isinstance(default, StatusRanges):
        return StatusRanges.parse(value)
    if isinstance(default, float):
        return parse_duration(value)
    if isinstance(default, Path):
        return Path(value)
    if isinstance(default, tuple):
        return tuple(value)
    return value


@pytest.mark.parametrize(("node", "cls", "renames"), PAIRS, ids=[p[1].__name__ for p in PAIRS])
def test_schema_defaults_are_the_dataclass_defaults(node: Mapping[str, Any], cls: type, renames: dict[str, str | None]) -> None:
    for f in dataclasses.fields(cls):
        field = node["properties"].get(f.name, {})
        if "default" not in field:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        if default is dataclasses.MISSING:
            continue  # filled in by the loader: checked by tests/scenario/test_load.py::test_defaults
        assert _normal(field["default"], default) == default, f"{cls.__name__}.{f.name}"


def test_the_shipped_scenarios_are_the_six_of_the_issue() -> None:
    assert [p.name for p in shipped_scenarios()] == [
        "brownout.yaml", "cold-start-morning.yaml", "provider-outage.yaml", "rate-limit-storm.yaml",
        "slow-database.yaml", "stream-cuts.yaml",
    ]


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda p: p.stem)
def test_each_shipped_scenario_validates_and_points_editors_at_the_schema(path: Path) -> None:
    assert path.read_text().startswith("# yaml-language-server: $schema=./scenario.schema.json\n")
    scenario = load(path, env={})
    assert scenario.method and scenario.steady_state and scenario.stop_conditions
    assert scenario.target.url == "http://127.0.0.1:8000"
    assert scenario.safety.kill_switch is not None
    load(path, env={**os.environ, "APP_URL": "http://staging.example:9000"})


def test_shipped_scenarios_use_real_catalog_faults_on_their_upstreams() -> None:
    by_name = {p.stem: load(p, env={}) for p in shipped_scenarios()}
    assert [(f.fault, f.upstream, f.rate) for f in by_name["provider-outage"].faults] == [("openai.server_error", "openai", 1.0)]
    assert [(f.fault, f.rate) for f in by_name["brownout"].faults] == [("openai.latency", 0.5)]
    assert {f.fault for f in by_name["cold-start-morning"].faults} == {"openai.cold_start"}
    assert {f.fault for f in by_name["rate-limit-storm"].faults} == {"openai.rate_limit", "anthropic.rate_limit"}
    assert {f.fault for f in by_name["stream-cuts"].faults} == {"openai.stream.cut.unclean", "openai.stream.cut"}
    assert [(t.name, t.type, t.listen, t.upstream) for t in by_name["slow-database"].toxics] == [
        ("postgres", "latency", "127.0.0.1:25432", "127.0.0.1:5432"), ("postgres", "bandwidth", "127.0.0.1:25432", "127.0.0.1:5432")]

"""The fault catalog: ids, parameters, errors for typos and for bad data files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chaoskit import ChaosConfigError, Fault, UnknownFaultError, faults
from chaoskit._catalog import Catalog
from chaoskit._fault import EFFECTS


def test_every_fault_has_a_known_effect_a_summary_and_its_provider_prefix() -> None:
    ids = faults.ids()
    assert len(ids) >= 60
    for fault in faults.all():
        assert fault.effect in EFFECTS
        assert fault.summary, fault.id
        assert fault.provider in {
            "openai", "anthropic", "azure", "gemini", "bedrock", "huggingface", "tgi", "groq", "mistral", "ollama", "vllm",
            "http", "mcp", "net", "tool",
        }


def test_ids_named_in_the_architecture_exist() -> None:
    for fault_id in (
        "openai.rate_limit", "openai.timeout.read", "openai.stream.cut", "anthropic.overloaded",
        "openai.malformed.tool_args", "openai.latency", "openai.cold_start",
    ):
        assert fault_id in faults.ids()


def test_get_overrides_parameters_and_leaves_the_catalog_alone() -> None:
    slow = faults.get("openai.latency", seconds=30)
    assert slow.params["seconds"] == 30
    assert faults.get("openai.latency").params["seconds"] == 2.0
    assert isinstance(slow, Fault) and slow.id == "openai.latency"


def test_faults_are_immutable_values() -> None:
    fault = faults.get("openai.rate_limit")
    with pytest.raises(AttributeError):
        fault.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        fault.params["status"] = 500  # type: ignore[index]
    assert fault == faults.get("openai.rate_limit")
    assert hash(fault) == hash(faults.get("openai.rate_limit"))
    assert fault != faults.get("openai.rate_limit", retry_after=2)


def test_unknown_id_names_the_closest_ids() -> None:
    with pytest.raises(UnknownFaultError) as info:
        faults.get("openai.ratelimit")
    assert str(info.value) == (
        "unknown fault id 'openai.ratelimit'. Did you mean: openai.rate_limit, "
        "openai.rate_limit.tokens, anthropic.rate_limit? Run `chaoskit faults` to list the catalog."
    )
    assert isinstance(info.value, KeyError)


def test_a_kind_under_the_wrong_provider_suggests_the_right_one() -> None:
    with pytest.raises(UnknownFaultError, match=r"Did you mean: anthropic\.overloaded"):
        faults.get("openai.overloaded")


def test_unknown_parameter_lists_the_real_ones() -> None:
    with pytest.raises(ChaosConfigError, match=r"^fault 'openai.latency' has no parameter 'second'; its parameters are: jitter, seconds$"):
        faults.get("openai.latency", second=3)


def test_glob_patterns() -> None:
    assert faults.ids("anthropic.stream.*") == sorted(i for i in faults.ids() if i.startswith("anthropic.stream."))
    assert "openai.rate_limit" in faults.ids("*.rate_limit")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_bad_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "provider: x\nfaults:\n  a:\n    summary: one: two\n")
    with pytest.raises(ChaosConfigError, match=rf"^{re.escape(str(path))}:4: not valid YAML"):
        Catalog.from_files([path])


def test_bad_effect_names_the_file_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "provider: x\nfaults:\n  boom:\n    effect: explode\n")
    with pytest.raises(ChaosConfigError, match=rf"^{re.escape(str(path))}: faults.boom.effect: 'explode' is not one of "):
        Catalog.from_files([path])


def test_unknown_entry_field_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "provider: x\nfaults:\n  boom:\n    effect: status\n    parms: {}\n")
    with pytest.raises(ChaosConfigError, match=r"faults.boom: unknown field 'parms'$"):
        Catalog.from_files([path])


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("provider: x\nfaults:\n  boom:\n    effect: status\n    source: RFC 9110 §15\n")
    with pytest.raises(ChaosConfigError, match=r"^fault id 'x.boom' is defined twice in the catalog$"):
        Catalog.from_files([a, a])


def test_a_pattern_without_a_provider_is_a_family_across_providers() -> None:
    family = faults.ids("model.*")
    assert family == faults.ids("*.model.*") and {"openai.model.refusal", "anthropic.model.hallucination"} <= set(family)
    assert faults.ids("model.refusal") == ["azure.model.refusal", "openai.model.refusal"]  # only OpenAI's API has a refusal field
    assert faults.ids("openai.model.*") == [i for i in family if i.startswith("openai.")]  # a provider's name: as written
    assert faults.ids("opnai.*") == []  # a misspelt provider is no family

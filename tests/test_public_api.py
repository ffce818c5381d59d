"""The public surface: a sorted, complete ``__all__`` and typed package."""

from __future__ import annotations

from pathlib import Path

import chaoskit


def test_all_is_sorted_and_every_name_exists() -> None:
    assert chaoskit.__all__ == sorted(chaoskit.__all__)
    for name in chaoskit.__all__:
        assert hasattr(chaoskit, name), name


def test_public_names_from_the_architecture() -> None:
    for name in ("faults", "tool_call", "Chaos", "Fault", "Schedule", "ChaosError", "UnknownFaultError"):
        assert name in chaoskit.__all__


def test_package_is_typed() -> None:
    assert (Path(chaoskit.__file__).parent / "py.typed").exists()


def test_tool_call_arguments_on_the_wire() -> None:
    call = chaoskit.tool_call("lookup_order", {"order_id": "A100"})
    assert call.arguments_json == '{"order_id":"A100"}'
    assert chaoskit.tool_call("x", '{"broken').arguments_json == '{"broken'

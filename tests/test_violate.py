"""Schema violations: valid JSON that breaks its own schema in exactly one chosen way."""

from __future__ import annotations

import random
import re
from typing import Any, Literal

import pydantic
import pytest

from chaoskit import ChaosConfigError
from chaoskit._violate import KINDS, instance, violate

ORDER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "status": {"type": "string", "enum": ["shipped", "processing", "delivered"]},
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["order_id", "status", "items", "note"],
    "additionalProperties": False,
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
            "required": ["sku", "quantity"],
            "additionalProperties": False,
        }
    },
}


class Item(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    sku: str
    quantity: int


class Order(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    order_id: str
    status: Literal["shipped", "processing", "delivered"]
    items: list[Item]
    note: str | None


def test_the_instance_follows_the_schema() -> None:
    made = instance(ORDER)
    assert made == {"order_id": "order_id 1", "status": "shipped", "items": [{"sku": "sku 1", "quantity": 1}], "note": "note 1"}
    Order.model_validate(made)


@pytest.mark.parametrize(
    ("kind", "path", "description"),
    [
        ("missing_required", "status", "missing_required: removed the required field status"),
        ("missing_required", "items[0].quantity", "missing_required: removed the required field items[0].quantity"),
        ("wrong_type", "items[0].quantity", "wrong_type: items[0].quantity is a string ('unknown') where the schema allows integer"),
        ("wrong_type", "note", "wrong_type: note is an integer (3) where the schema allows null or string"),
        ("enum_outside", "status", "enum_outside: status is 'SHIPPED', not one of 'shipped', 'processing', 'delivered'"),
        ("extra_field", "$", "extra_field: added confidence, which the schema does not define"),
        ("extra_field", "items[0]", "extra_field: added items[0].confidence, which the schema does not define"),
    ],
)
def test_each_kind_breaks_the_schema_in_one_named_place(kind: str, path: str, description: str) -> None:
    broken, what = violate(ORDER, random.Random(1), kind=kind, path=path)
    assert (what.kind, what.description) == (kind, description)
    with pytest.raises(pydantic.ValidationError) as info:
        Order.model_validate(broken)
    assert info.value.error_count() == 1  # exactly one thing is wrong


def test_a_given_value_is_broken_not_replaced_and_is_not_changed_in_place() -> None:
    value = {"order_id": "A100", "status": "processing", "items": [], "note": None}
    broken, what = violate(ORDER, random.Random(1), value=value, kind="enum_outside")
    assert broken == {**value, "status": "PROCESSING"} and what.path == "status"
    assert value["status"] == "processing"


def test_the_draw_is_seeded_and_reaches_every_kind() -> None:
    draws = [violate(ORDER, random.Random(seed))[1] for seed in range(40)]
    assert {d.kind for d in draws} == set(KINDS)
    assert [violate(ORDER, random.Random(7))[1] for _ in range(3)] == [draws[7]] * 3


def test_a_kind_the_schema_cannot_break_names_what_it_can() -> None:
    flat = {"type": "object", "properties": {"city": {"type": "string"}}}
    with pytest.raises(ChaosConfigError) as info:
        violate(flat, random.Random(1), kind="enum_outside", where="the response format 'City'")
    assert str(info.value) == (
        "the response format 'City': nothing to break for kind='enum_outside'; its schema allows "
        "extra_field at $; wrong_type at city"
    )
    with pytest.raises(ChaosConfigError, match=r"^kind='typo' is not a schema violation; the kinds are missing_required, "):
        violate(flat, random.Random(1), kind="typo")
    with pytest.raises(ChaosConfigError, match=re.escape("nothing to break for path='town'")):
        violate(flat, random.Random(1), path="town")


def test_gemini_s_capitalised_types_are_read() -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]}
    assert instance(schema) == {"n": 1}
    broken, what = violate(schema, random.Random(1), kind="wrong_type")
    assert broken == {"n": "unknown"} and what.path == "n"

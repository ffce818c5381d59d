"""Schema drift: every variant on a nested JSON body, what it says it did, and its errors."""

from __future__ import annotations

import copy
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit import ChaosConfigError
from chaoskit._drift import EXTRA_FIELD, UNKNOWN_ENUM, VARIANTS, drift, paths

BODY = {
    "customer": {
        "id": 7,
        "email": "ada@example.com",
        "status": "active",
        "created_at": "2026-01-05T10:00:00Z",
        "tags": ["vip", "beta"],
    },
    "orders": [
        {"order_id": "A100", "total": 12.5, "state": "shipped", "placed": "2026-01-04", "lines": [{"sku": "X1", "qty": 2}]},
        {"order_id": "A101", "total": 3, "state": "pending", "placed": "2026-01-03", "lines": []},
    ],
    "next_cursor": "c2",
    "has_more": True,
}

# variant -> (path, what the value at the path becomes, the description)
PINNED = {
    "missing": ("customer.email", "<gone>", "missing customer.email"),
    "renamed": ("orders[0].order_id", "<gone>", "renamed orders[0].order_id -> orders[0].orderId"),
    "null": ("customer.status", None, "null customer.status"),
    "number_as_string": ("orders[0].total", "12.5", "number_as_string orders[0].total (12.5 -> '12.5')"),
    "object_as_list": ("customer", [BODY["customer"]], "object_as_list customer"),
    "extra_field": ("customer", {**BODY["customer"], EXTRA_FIELD: {"added_by": "chaoskit", "note": "a field this client never saw"}},
                    f"extra_field customer.{EXTRA_FIELD}"),
    "unknown_enum": ("orders[1].state", UNKNOWN_ENUM, f"unknown_enum orders[1].state ('pending' -> {UNKNOWN_ENUM!r})"),
    "empty_list": ("orders[0].lines", [], "empty_list orders[0].lines (1 items -> 0)"),
    "reordered_list": ("orders", BODY["orders"][::-1], "reordered_list orders (reversed 2 items)"),
    "date_format": ("customer.created_at", "Mon, 05 Jan 2026 10:00:00 GMT",
                    "date_format customer.created_at ('2026-01-05T10:00:00Z' -> 'Mon, 05 Jan 2026 10:00:00 GMT')"),
    "pagination_stops": ("$", None, "pagination_stops (next_cursor=None, has_more=False)"),
}


def get(body: object, path: str) -> object:
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if name:
            if name not in body:  # type: ignore[operator]
                return "<gone>"
            body = body[name]  # type: ignore[index]
        else:
            body = body[int(index)]  # type: ignore[index]
    return body


def test_every_variant_is_pinned_here() -> None:
    assert sorted(PINNED) == sorted(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_changes_one_place_and_says_so(variant: str) -> None:
    original = copy.deepcopy(BODY)
    path, becomes, description = PINNED[variant]
    changed, what = drift(BODY, random.Random(1), variant=variant, path=None if path == "$" else path)
    assert BODY == original  # the input is never changed in place
    assert (what.variant, what.description) == (variant, description)
    if path == "$":
        assert changed == {**BODY, "next_cursor": None, "has_more": False}
        return
    assert get(changed, path) == becomes
    renamed_to = description.rpartition(".")[2] if variant == "renamed" else None
    assert without(changed, path, renamed_to) == without(BODY, path)  # nothing else changed


def without(body: object, path: str, also: str | None = None) -> object:
    """A copy of ``body`` with the field at ``path`` (and its sibling ``also``) removed."""
    body = copy.deepcopy(body)
    parent_path, _, key = path.rpartition(".")
    parent = get(body, parent_path) if parent_path else body
    parent.pop(key, None)  # type: ignore[union-attr]
    if also:
        parent.pop(also, None)  # type: ignore[union-attr]
    return body


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_finds_a_place_by_itself(variant: str) -> None:
    changed, what = drift(BODY, random.Random(5), variant=variant)
    assert what.variant == variant
    assert changed != BODY
    assert what.description.startswith(variant)


def test_every_element_with_a_star() -> None:
    changed, what = drift(BODY, random.Random(1), variant="renamed", path="orders[*].order_id")
    assert [sorted(o) for o in changed["orders"]] == [
        ["lines", "orderId", "placed", "state", "total"], ["lines", "orderId", "placed", "state", "total"]
    ]
    assert what.description == "renamed orders[*].order_id (2 places)"


def test_the_seed_decides_and_the_same_seed_repeats() -> None:
    runs = {drift(BODY, random.Random(seed))[1].description for seed in range(40)}
    assert len(runs) > 10  # many different drifts across seeds
    assert drift(BODY, random.Random(3))[1] == drift(BODY, random.Random(3))[1]


def test_ids_are_not_enum_values() -> None:
    for seed in range(50):
        _, what = drift(BODY, random.Random(seed), variant="unknown_enum")
        assert what.path in {"customer.status", "customer.tags[0]", "customer.tags[1]", "orders[0].state", "orders[1].state"}


def test_renames_flip_snake_and_camel_case() -> None:
    body = {"orderId": 1, "order_id": 2, "email": 3}
    assert drift(body, random.Random(1), variant="renamed", path="orderId")[0] == {"orderId_v2": 1, "order_id": 2, "email": 3}
    assert list(drift(body, random.Random(1), variant="renamed", path="email")[0]) == ["orderId", "order_id", "email_v2"]
    assert list(drift({"orderId": 1}, random.Random(1), variant="renamed", path="orderId")[0]) == ["order_id"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variant": "nope"}, "schema drift variant='nope' is not one of: " + ", ".join(VARIANTS)),
        ({"path": "customer.emial"},
         "schema drift path='customer.emial' names nothing in the body; its fields: customer, customer.id, "
         "customer.email, customer.status, customer.created_at, customer.tags, orders, orders[0].order_id, "
         "orders[0].total, orders[0].state, orders[0].placed, orders[0].lines"),
        ({"variant": "date_format", "path": "customer.email"},
         "schema drift 'date_format' cannot apply to 'customer.email' in the body: it needs an ISO 8601 date or timestamp"),
    ],
)
def test_a_rule_that_cannot_apply_is_an_error(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ChaosConfigError, match=f"^{re.escape(message)}$"):
        drift(BODY, random.Random(1), **kwargs)


def test_a_body_without_the_kind_of_value_is_an_error() -> None:
    with pytest.raises(ChaosConfigError, match=r"^schema drift 'number_as_string' cannot apply to GET /x: it has no number$"):
        drift({"a": "text"}, random.Random(1), variant="number_as_string", where="GET /x")
    with pytest.raises(ChaosConfigError, match=r"^schema drift cannot apply to the body: it is not a JSON object or list$"):
        drift("text", random.Random(1))


def test_paths_lists_fields_not_list_elements() -> None:
    assert paths({"a": [{"b": 1}], "c": {"d": None}}) == ["a", "a[0].b", "c", "c.d"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), json_values, min_size=1, max_size=5), st.integers(0, 2**32))
def test_any_json_object_drifts_or_says_why_not(body: dict[str, object], seed: int) -> None:
    before = copy.deepcopy(body)
    changed, what = drift(body, random.Random(seed))  # an object always has a field to remove
    assert body == before
    assert what.variant in VARIANTS and what.description
    assert changed != body

"""``tool.*`` faults on Python callables: sync and async functions and methods, the journal,
schedules, restore, and the errors for a bad target or exception."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import httpx
import pytest

import chaoskit
from chaoskit import ChaosConfigError

from . import _tools
from ._tools import OrderClient

T = _tools.__name__  # "seams._tools" or "tests.seams._tools", as pytest imported it


@pytest.fixture(autouse=True)
def _clear() -> Iterator[None]:
    _tools.ORDERS.clear()
    yield
    _tools.ORDERS.clear()


def test_raise_fails_before_the_function_runs() -> None:
    with chaoskit.Chaos(seed=3) as chaos:
        chaos.inject("tool.raise", target=f"{T}:create_order")
        with pytest.raises(ConnectionError, match="^chaoskit: injected failure\n") as info:
            _tools.create_order("book")
    assert _tools.ORDERS == []
    assert info.value.__notes__ == [f"chaoskit: injected tool.raise on {T}:create_order [seed=3]"]
    (call,) = chaos.calls
    assert (call.provider, call.method, call.url, call.fault, call.error, call.side_effect) == (
        "tool", "CALL", f"{T}:create_order", "tool.raise", "ConnectionError", False,
    )
    assert call.request_body == {"args": ["book"], "kwargs": {}}


@pytest.mark.parametrize(
    ("exception", "cls"),
    [
        ("TimeoutError", TimeoutError),
        ("PermissionError", PermissionError),
        ("httpx.ReadTimeout", httpx.ReadTimeout),
        (f"{T}:ToolDown", _tools.ToolDown),
        (_tools.ToolDown, _tools.ToolDown),
        (_tools.ToolDown("the order service said no"), _tools.ToolDown),
    ],
)
def test_raise_any_exception_by_name_path_class_or_instance(exception: object, cls: type) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.raise", target=f"{T}:create_order", exception=exception)
        with pytest.raises(cls) as info:
            _tools.create_order("book")
    assert type(info.value) is cls
    if isinstance(exception, BaseException):
        assert str(info.value) == "the order service said no" and info.value is not exception


def test_raise_after_runs_the_side_effect_then_fails() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.raise_after", target=f"{T}:create_order", times=1)
        with pytest.raises(TimeoutError):
            _tools.create_order("book")
        retried = _tools.create_order("book")  # what a naive retry does
    assert _tools.ORDERS == ["book", "book"] and retried["id"] == 2
    assert [(c.fault, c.error, c.side_effect) for c in chaos.calls] == [
        ("tool.raise_after", "TimeoutError", True), (None, None, True),
    ]


def test_timeout_waits_then_raises_without_running() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.timeout", target=f"{T}:create_order", seconds=0.2)
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="^chaoskit: the call timed out\n"):
            _tools.create_order("book")
    assert time.monotonic() - start >= 0.2
    assert _tools.ORDERS == [] and chaos.calls[0].duration >= 0.2


def test_latency_runs_the_function_late() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.latency", target=f"{T}:create_order", seconds=0.1)
        assert _tools.create_order("book")["item"] == "book"
    assert chaos.calls[0].duration >= 0.1 and chaos.calls[0].side_effect


@pytest.mark.parametrize("value", [None, [], {}])
def test_empty_returns_a_value_without_running(value: object) -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.empty", target=f"{T}:create_order", value=value)
        assert _tools.create_order("book") == value
    assert _tools.ORDERS == [] and chaos.calls[0].side_effect is False


def test_malformed_drifts_the_real_result() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.malformed", target=f"{T}:OrderClient.lookup", variant="renamed", path="order_id")
        result = OrderClient(region="us").lookup("A100")
    assert result == {"orderId": "A100", "state": "shipped", "region": "us"}
    assert chaos.calls[0].detail == "renamed order_id -> orderId"
    assert "[renamed order_id -> orderId]" in chaos.calls.format()


def test_malformed_on_a_result_it_cannot_drift_is_an_error() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.malformed", target=f"{T}:OrderClient.ping")
        with pytest.raises(ChaosConfigError, match=rf"^schema drift cannot apply to the result of {T}:OrderClient\.ping: it is not a JSON object or list$"):
            OrderClient.ping()
    assert len(chaos.config_errors) == 1


def test_async_functions_and_methods() -> None:
    async def main() -> list[object]:
        out: list[object] = []
        for coro in (_tools.search("refund"), _tools.search("refund"), OrderClient().alookup("A1")):
            try:
                out.append(await coro)
            except Exception as exc:  # noqa: BLE001
                out.append(exc)
        return out

    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.timeout", target=f"{T}:search", seconds=0.05, times=1)
        chaos.inject("tool.malformed", target=f"{T}:OrderClient.alookup", variant="unknown_enum")
        timed_out, found, looked_up = asyncio.run(main())
    assert isinstance(timed_out, TimeoutError)
    assert found == [{"doc": "returns-policy", "score": 0.9}, {"doc": "shipping", "score": 0.5}]
    assert looked_up == {"order_id": "A1", "state": "chaoskit_unexpected_value"}
    assert [c.fault for c in chaos.calls] == ["tool.timeout", None, "tool.malformed"]


def test_static_and_class_methods_stay_what_they_were() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.raise", target=f"{T}:OrderClient.ping", sequence=["fail", "pass"])
        chaos.inject("tool.empty", target=f"{T}:OrderClient.default", value="none")
        with pytest.raises(ConnectionError):
            OrderClient.ping()
        assert OrderClient().ping() == "pong"
        assert OrderClient.default() == "none"
    assert isinstance(OrderClient.__dict__["ping"], staticmethod)
    assert isinstance(OrderClient.__dict__["default"], classmethod)
    assert OrderClient.default().region == "eu"


def test_everything_is_restored_even_when_the_body_raised() -> None:
    originals = (_tools.create_order, _tools.search, OrderClient.__dict__["lookup"])
    with pytest.raises(RuntimeError), chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.raise", target=f"{T}:create_order")
        chaos.inject("tool.raise", target=f"{T}:search")
        chaos.inject("tool.raise", target=f"{T}:OrderClient.lookup")
        raise RuntimeError("the test failed")
    assert (_tools.create_order, _tools.search, OrderClient.__dict__["lookup"]) == originals
    assert _tools.create_order("x")["id"] == 1


def test_watch_and_inject_on_one_target() -> None:
    with chaoskit.Chaos(seed=1) as chaos:
        chaos.inject("tool.raise_after", target=f"{T}:create_order", times=1)
        watch = chaos.watch(f"{T}:create_order", idempotent=False)
        with pytest.raises(TimeoutError):
            _tools.create_order("book")
        _tools.create_order("book")
    assert watch.call_count == 2 and isinstance(watch.calls[0].error, TimeoutError)


def test_off_journals_calls_but_injects_nothing() -> None:
    with chaoskit.Chaos(seed=1, enabled=False) as chaos:
        chaos.inject("tool.raise", target=f"{T}:create_order")
        assert _tools.create_order("book")["id"] == 1
    assert [(c.fault, c.side_effect) for c in chaos.calls] == [(None, True)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fault": "tool.raise"}, "tool.raise needs target=: the callable to patch, such as target='myapp.tools:lookup_order'"),
        ({"fault": "tool.raise", "target": f"{T}:create_ordr"},
         f"chaos.inject(target='{T}:create_ordr'): '{T}' has no attribute 'create_ordr'; did you mean: create_order?"),
        ({"fault": "tool.raise", "target": "no_such_module:f"}, "chaos.inject(target='no_such_module:f'): no module named 'no_such_module'"),
        ({"fault": "tool.raise", "target": f"{T}:create_order", "url": "https://x/*"},
         "tool.raise acts on a callable: give target=, not url= or method="),
        ({"fault": "tool.raise", "target": f"{T}:create_order", "exception": "Nope"},
         "tool.raise: exception='Nope' must be an exception class or instance, a dotted path such as "
         "'httpx.ReadTimeout', or one of: ConnectionError, ConnectionRefusedError, ConnectionResetError, "
         "TimeoutError, OSError, PermissionError, FileNotFoundError, KeyError, LookupError, ValueError, RuntimeError"),
        ({"fault": "tool.raise", "target": f"{T}:create_order", "exception": "httpx.NoSuchError"},
         "tool.raise: exception='httpx.NoSuchError': 'httpx' has no attribute 'NoSuchError'"),
    ],
)
def test_bad_targets_and_exceptions_are_named(kwargs: dict[str, object], message: str) -> None:
    original = _tools.create_order
    with chaoskit.Chaos(seed=1) as chaos, pytest.raises(ChaosConfigError, match=f"^{re.escape(message)}"):
        chaos.inject(**kwargs)  # type: ignore[arg-type]
    assert _tools.create_order is original

"""One app, four seams: a fault on each makes the correct app's fallback run, and a broken
variant of the app is caught (no timeout on the CRM, a duplicated order after an ambiguous
failure, a crash on a renamed CRM field, an MCP tool error shown to the user, a model failure
with no handoff). The CRM and the MCP server are real servers on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anyio
import openai
import pytest
from mcp.server.mcpserver import MCPServer

import chaoskit
from chaoskit._verdicts import judge

from . import _concierge as app
from ._servers import json_server, mcp_server

ORDER = chaoskit.tool_call("create_order", {"item": "espresso machine"})


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    mcp = MCPServer("shipping", log_level="WARNING")

    @mcp.tool()
    def shipping_eta(order_id: str) -> str:
        """When an order arrives."""
        return f"Order {order_id} arrives on Friday."

    def crm(path: str) -> tuple[int, Any]:
        return 200, {"customer": {"id": 7, "name": "Ada", "tier": "gold"}}

    with json_server(crm) as crm_url, mcp_server(mcp) as mcp_url:
        yield crm_url, mcp_url


@pytest.fixture(autouse=True)
def _clear() -> None:
    app.ORDERS.clear()
    app.HANDOFFS.clear()


def ask(servers: tuple[str, str], **flags: Any) -> app.Reply:
    crm, mcp = servers
    bot = app.Concierge(crm, mcp, **flags)
    return anyio.run(bot.handle, 7, "I'd like an espresso machine", "req-1")


@pytest.fixture
def chaos(servers: tuple[str, str]) -> Iterator[chaoskit.Chaos]:
    session = chaoskit.Chaos(seed=5, scope="concierge")
    with session:
        session.reply("openai", ORDER, "Done.")
        yield session


def test_healthy_run_through_all_four_seams(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    reply = ask(servers)
    assert reply.text == "Thanks Ada, order O1 is placed. Order O1 arrives on Friday."
    assert reply.notes == [] and len(app.ORDERS) == 1
    assert [c.provider for c in chaos.calls] == ["openai"]  # the CRM and MCP calls passed through
    chaos.assert_graceful(reply.text)


# ---- the CRM over HTTP ------------------------------------------------------------------------


def test_crm_down_degrades_to_a_greeting_without_a_name(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("http.unavailable", url=f"{servers[0]}/customers/*")
    reply = ask(servers)
    assert reply.text.startswith("Thanks there, order O1 is placed.")
    assert reply.notes == ["crm: HTTPStatusError"]


def test_crm_stall_times_out_with_a_timeout_and_hangs_without(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("http.timeout.read", url=f"{servers[0]}/*", seconds=1.5)
    with chaos.deadline(1.2):
        reply = ask(servers)
    assert reply.notes == ["crm: ReadTimeout"]
    assert [v.name for v in judge(list(chaos.calls))] == []


def test_broken_no_crm_timeout_is_caught(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("http.timeout.read", url=f"{servers[0]}/*", seconds=1.5)
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"^deadline: the block took 1\.\d\d s, more than its 1\.2 s deadline"):
        with chaos.deadline(1.2):
            ask(servers, crm_timeout=None)
    assert time.monotonic() - start >= 1.5
    verdicts = judge(list(chaos.calls))
    assert [v.name for v in verdicts] == ["no_timeout"]
    assert verdicts[0].calls == (0,)


def test_renamed_crm_field_is_handled(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("http.schema_drift", url=f"{servers[0]}/*", variant="renamed", path="customer.name")
    reply = ask(servers)
    assert reply.text.startswith("Thanks there,") and reply.notes == ["crm: no name"]
    assert chaos.calls[0].detail == "renamed customer.name -> customer.name_v2"


def test_broken_crash_on_a_renamed_field_is_caught(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("http.schema_drift", url=f"{servers[0]}/*", variant="renamed", path="customer.name")
    with pytest.raises(KeyError, match="'name'"):
        ask(servers, strict_crm=True)


@pytest.mark.parametrize("variant", ["missing", "null", "object_as_list", "number_as_string", "extra_field", "unknown_enum"])
def test_any_drift_of_the_crm_answer_still_gets_a_reply(servers: tuple[str, str], chaos: chaoskit.Chaos, variant: str) -> None:
    chaos.inject("http.schema_drift", url=f"{servers[0]}/*", variant=variant)
    reply = ask(servers)
    assert "order O1 is placed" in reply.text
    assert chaos.calls[0].detail and chaos.calls[0].detail.startswith(variant)


# ---- the order tool -----------------------------------------------------------------------------


def test_ambiguous_order_failure_does_not_duplicate_the_order(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("tool.raise_after", target=f"{app.__name__}:create_order", times=1)
    watch = chaos.watch(f"{app.__name__}:create_order", idempotent=False)
    reply = ask(servers)
    assert reply.order == "O1" and len(app.ORDERS) == 1
    assert reply.notes == ["order: TimeoutError"]
    assert watch.call_count == 1
    assert [v.name for v in judge(list(chaos.calls), watches=chaos.watches)] == []


def test_broken_blind_retry_is_caught(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("tool.raise_after", target=f"{app.__name__}:create_order", times=1)
    chaos.watch(f"{app.__name__}:create_order", idempotent=False)
    ask(servers, blind_retry=True)
    assert [o["request_id"] for o in app.ORDERS] == ["req-1", "req-1"]  # the customer is charged twice
    tools = [c for c in chaos.calls if c.provider == "tool"]
    assert [(c.fault, c.side_effect) for c in tools] == [("tool.raise_after", True), (None, True)]
    assert [v.name for v in judge(list(chaos.calls), watches=chaos.watches)] == ["duplicate_side_effect"]


def test_order_service_down_gets_an_apology(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("tool.raise", target=f"{app.__name__}:create_order")
    reply = ask(servers)
    assert reply.text == "Sorry Ada, I could not place the order; please try again later."
    assert app.ORDERS == [] and reply.notes == ["order: ConnectionError", "order: ConnectionError"]


# ---- the MCP server -------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["mcp.timeout", "mcp.tool_error", "mcp.tool_failed", "mcp.unavailable", "mcp.disconnect"])
def test_mcp_failures_leave_the_order_placed(servers: tuple[str, str], chaos: chaoskit.Chaos, fault: str) -> None:
    chaos.inject(fault, url=servers[1], tool="shipping_eta")
    reply = ask(servers)
    assert reply.text == "Thanks Ada, order O1 is placed. I can't check the delivery date right now."
    assert reply.notes and reply.notes[0].startswith("mcp: ")
    chaos.assert_graceful(reply.text)


def test_broken_trusting_a_tool_error_is_caught(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("mcp.tool_failed", url=servers[1], tool="shipping_eta")
    reply = ask(servers, trust_tools=True)
    assert reply.text.endswith("Error executing tool shipping_eta")  # what the customer would read


# ---- the model ------------------------------------------------------------------------------------


def test_model_down_hands_off_to_a_human(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("openai.server_error", retry_after=0.01)
    reply = ask(servers)
    assert reply.handed_off and app.HANDOFFS == ["I'd like an espresso machine"]
    assert reply.text == "Sorry Ada, a colleague will get back to you shortly."
    chaos.assert_graceful(reply.text)


def test_broken_no_handoff_is_caught(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("openai.server_error", retry_after=0.01)
    with pytest.raises(openai.InternalServerError):
        ask(servers, no_handoff=True)
    assert app.HANDOFFS == []


def test_drifted_tool_arguments_from_the_model(servers: tuple[str, str], chaos: chaoskit.Chaos) -> None:
    chaos.inject("openai.malformed.tool_args_drift", variant="renamed", path="item")
    reply = ask(servers)
    assert app.ORDERS == [] and reply.text == "Sorry Ada, which item would you like to order?"
    assert reply.notes == ["model: bad create_order arguments"]
    assert chaos.calls[0].detail == "create_order: renamed item -> item_v2"

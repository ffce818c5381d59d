"""Side traffic of the frameworks under chaos: answered by chaoskit, kept out of the journal and the faults.

openai-agents posts the traces of every run to ``api.openai.com/v1/traces/ingest`` from a daemon
thread and at interpreter exit. Without chaoskit's answer a test run prints ``[non-fatal] Tracing
request failed`` at exit (no network), or posts the test's traces with the test's key (network).
Only a fresh interpreter shows what happens at its exit, so the run is a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys

RUN = """
import json, openai
from agents import Agent, Runner, set_default_openai_client
import chaoskit

set_default_openai_client(openai.AsyncOpenAI(api_key="sk-test", max_retries=1))  # its key exports the traces
with chaoskit.Chaos(seed=7) as chaos:
    chaos.inject("openai.server_error", times=1)
    chaos.reply("openai", "Your refund is on its way.")
    result = Runner.run_sync(Agent(name="support", model="gpt-4o-mini"), "Where is my refund?")
    chaos.inject("openai.server_error")  # every call from here on, the trace posts at the session's end too
print(json.dumps({"output": result.final_output, "calls": [[c.url, c.fault, c.status] for c in chaos.calls],
                  "side": chaos.engine.side_traffic}))
"""


def test_an_openai_agents_run_exits_cleanly_and_journals_only_its_model_calls() -> None:
    done = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")  # no "[non-fatal] Tracing ..." at exit
    run = json.loads(done.stdout)
    assert run["output"] == "Your refund is on its way."
    responses = "https://api.openai.com/v1/responses"
    assert run["calls"] == [[responses, "openai.server_error", 500], [responses, None, 200]]  # the SDK's retry
    assert run["side"] == {"openai POST /v1/traces/ingest": 1}  # answered, not journaled, not faulted

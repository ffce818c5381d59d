"""chaoskit's Locust user: simulated users that play scripted conversations against a chat endpoint.

Locust loads this file by path in its own process (``python -m locust -f <this file>``). chaoskit
never imports it: importing Locust monkey-patches the standard library through gevent. It imports
nothing from chaoskit either; its parameters come from the environment variable CHAOSKIT_LOAD
(JSON, or the path of a JSON file) that :class:`chaoskit.load.LoadRun` sets.

The run's end belongs to this file, not to Locust's ``--run-time``: at the end (or on SIGTERM)
the master first stops every user gracefully, workers' users included, and only then quits, so
the requests in flight are finished and counted before the statistics are written.
"""

from __future__ import annotations

if __name__.startswith("chaoskit."):
    raise ImportError("chaoskit/load/_locustfile.py is Locust's: it runs in Locust's process, loaded by path")

import ast
import itertools
import json
import logging
import os
import random
import signal
import sys
from typing import Any

import gevent
from locust import HttpUser, between, events, task
from locust.exception import CatchResponseError
from locust.runners import MasterRunner, WorkerRunner

ENV = "CHAOSKIT_LOAD"
log = logging.getLogger("chaoskit.load")


def _params() -> dict[str, Any]:
    raw = os.environ.get(ENV, "")
    if not raw:
        sys.exit(f"chaoskit locustfile: {ENV} is not set; start Locust through chaoskit.load.LoadRun")
    if raw.lstrip().startswith("{"):
        return dict(json.loads(raw))
    with open(raw, encoding="utf-8") as file:
        return dict(json.load(file))


P = _params()
SPEC = P["spec"]
CONVERSATIONS: list[list[str]] = SPEC["conversations"]
_user_numbers = itertools.count()


def fill(template: Any, message: str, conversation_id: str) -> Any:
    """``template`` with ``{message}`` and ``{conversation_id}`` replaced in every string."""
    if isinstance(template, str):
        return template.replace("{message}", message).replace("{conversation_id}", conversation_id)
    if isinstance(template, dict):
        return {key: fill(value, message, conversation_id) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, message, conversation_id) for value in template]
    return template


def problem(response: Any) -> str | None:
    """Why a chat response counts as failed, or None: no answer, a status other than 2xx, an empty or non-JSON body."""
    if response.status_code == 0:  # no HTTP answer at all: refused, reset, timed out
        return f"no response: {type(response.error).__name__}"
    if not 200 <= response.status_code < 300:
        return f"HTTP {response.status_code}"
    if not response.content:
        return "empty body"
    try:
        response.json()
    except ValueError:
        return "body is not JSON"
    return None


class ConversationUser(HttpUser):
    """Plays conversations turn by turn: one task is one turn, so think time separates turns."""

    wait_time = between(*SPEC["think_time"])

    def on_start(self) -> None:
        self.number = next(_user_numbers)
        worker = max(getattr(self.environment.runner, "worker_index", 0), 0)
        self.prefix = f"{P['run_id']}-w{worker}-u{self.number}"
        self.rng = random.Random(f"{SPEC['seed']}:{worker}:{self.number}")
        self.played = 0
        self.turns: list[str] = []
        self.conversation_id = ""
        self.client.headers.update(SPEC["headers"])

    def next_conversation(self) -> None:
        if SPEC["order"] == "random":
            chosen = self.rng.randrange(len(CONVERSATIONS))
        else:
            chosen = (self.number + self.played) % len(CONVERSATIONS)
        self.conversation_id = f"{self.prefix}-c{self.played}"
        self.played += 1
        self.turns = list(CONVERSATIONS[chosen])

    @task
    def turn(self) -> None:
        if not self.turns:
            self.next_conversation()
        message = self.turns.pop(0)
        url = SPEC["path"].replace("{conversation_id}", self.conversation_id)
        body = fill(SPEC["body"], message, self.conversation_id)
        with self.client.post(url, json=body, name=SPEC["path"], timeout=SPEC["timeout"],
                              catch_response=True) as response:
            why = problem(response)
            if why is None:
                response.success()
            else:
                response.failure(why)


def _end_run(runner: Any) -> None:
    log.info("chaoskit: the run's %s s are over, stopping the users", SPEC["duration"])
    runner.stop()
    runner.quit()


def _watch_parent(parent: int) -> None:
    """Stop when the process that started Locust is gone (killed with no chance to stop us)."""
    while os.getppid() == parent:
        gevent.sleep(0.5)
    log.error("chaoskit: the process that started Locust (pid %s) is gone; stopping", parent)
    os.kill(os.getpid(), signal.SIGTERM)
    gevent.sleep(SPEC["stop_timeout"] + 10)
    os._exit(3)


# From the start, not from Locust's init: a worker whose master is gone never gets that far.
gevent.spawn(_watch_parent, P["parent_pid"])


@events.init.add_listener
def _on_init(environment: Any, runner: Any, **_: Any) -> None:
    if isinstance(runner, WorkerRunner):
        # A worker reports every few seconds, and the master forgets a worker once it has stopped
        # (so never tells it to quit): send the last report before "stopped", then quit.
        @environment.events.test_stop.add_listener
        def _report_and_quit(**_: Any) -> None:
            data: dict[str, Any] = {}
            environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
            runner.send_message("stats", data)
            gevent.spawn_later(0.5, runner.quit)

        return

    # Registered here, after the runner's own listener, so it runs first (quitting runs in reverse).
    @environment.events.quitting.add_listener
    def _stop_users_first(**_: Any) -> None:
        if isinstance(runner, MasterRunner):
            runner.stop()  # tells the workers to stop their users and waits until they have

    @environment.events.test_start.add_listener
    def _schedule_end(**_: Any) -> None:
        gevent.spawn_later(SPEC["duration"], _end_run, runner)

    @environment.events.quit.add_listener
    def _write_errors(**_: Any) -> None:
        errors = [{"method": e.method, "name": e.name, "error": reason(e.error), "occurrences": e.occurrences}
                  for e in runner.stats.errors.values()]
        with open(P["errors_file"], "w", encoding="utf-8") as file:
            json.dump(errors, file)


def reason(error: Any) -> str:
    """A failure's reason as the user gave it: Locust keeps it wrapped (``CatchResponseError('HTTP 500')``)."""
    if isinstance(error, CatchResponseError):
        return str(error.args[0])
    text = str(error)
    if text.startswith("CatchResponseError(") and text.endswith(")"):
        try:
            return str(ast.literal_eval(text[len("CatchResponseError("):-1]))
        except (ValueError, SyntaxError):
            pass
    return text

"""``chaoskit proxy`` as a real process: it starts, serves, and on SIGINT or SIGTERM resets
the answers it holds and exits within a second; bad arguments exit 2 with what to do."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from engine._upstream import TEXT

from ._proxy import TOKEN


def start(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[subprocess.Popen[str], str, str]:
    """A ``chaoskit proxy`` process on free ports: (the process, its URL, its control URL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chaoskit.cli", "proxy", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
        env={**os.environ, "CHAOSKIT_PROXY_TOKEN": TOKEN, **(env or {})},
    )
    assert process.stdout is not None
    first, second = process.stdout.readline(), process.stdout.readline()
    url = re.search(r"(http://[\d.:]+)/openai/", first)
    control = re.search(r"control API on (http://[\d.:]+)", second)
    if not (url and control):
        process.kill()
        raise AssertionError(f"the proxy did not start: {first!r} {second!r} {process.communicate()[1]!r}")
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(control.group(1) + "/health")
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the proxy did not answer on its control port"
            time.sleep(0.05)
    return process, url.group(1), control.group(1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_resets_held_answers_and_stops_within_a_second(upstream: str, sig: signal.Signals) -> None:
    process, url, control = start("--upstream", f"openai={upstream}")
    client = openai.OpenAI(base_url=f"{url}/openai/v1", api_key="sk-test", max_retries=0, timeout=30)
    assert client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content == TEXT
    httpx.post(control + "/faults", headers={"authorization": f"Bearer {TOKEN}"},
               json={"fault": "openai.latency", "params": {"seconds": 25, "jitter": 0}}).raise_for_status()
    outcome: list[Any] = []

    def held() -> None:
        try:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            outcome.append("answered")
        except openai.APIError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=held)
    thread.start()
    time.sleep(0.5)  # the answer is held
    sent = time.monotonic()
    process.send_signal(sig)
    out, err = process.communicate(timeout=10)
    assert time.monotonic() - sent < 1.0
    thread.join(5)
    assert process.returncode == 0, err
    assert "chaoskit proxy: stopped; every fault is off" in out
    assert isinstance(outcome[0], openai.APIConnectionError)  # its connection reset, not left hanging


def test_a_generated_token_goes_to_a_private_file_not_the_output(upstream: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CHAOSKIT_PROXY_TOKEN"}
    process = subprocess.Popen(
        [sys.executable, "-m", "chaoskit.cli", "proxy", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
         "--upstream", f"openai={upstream}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline(), process.stdout.readline()]
    control = re.search(r"control API on (http://[\d.:]+)", lines[1])
    assert control, lines
    token_file = tmp_path / ".chaoskit-proxy-token"
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert "token in .chaoskit-proxy-token" in lines[1]
    assert httpx.get(control.group(1) + "/faults", headers={"authorization": f"Bearer {token}"}).status_code == 200
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert token not in "".join(lines) + out + err


@pytest.mark.parametrize(("args", "error"), [
    (["--upstream", "openai"], "chaoskit proxy: --upstream 'openai' must be NAME=URL or NAME:PROVIDER=URL, such as openai=https://api.openai.com"),
    (["--upstream", "openai=ftp://x"], "chaoskit proxy: upstream openai='ftp://x' must be an http(s) URL such as https://api.openai.com, with no query"),
    (["--upstream", "llm=http://10.0.0.5:8000"], "chaoskit proxy: --upstream 'llm=http://10.0.0.5:8000': say which provider's API "
     "http://10.0.0.5:8000 speaks, as llm:PROVIDER=http://10.0.0.5:8000 (one of anthropic, azure, bedrock, gemini, groq, huggingface, "
     "mistral, ollama, openai, tgi, vllm; an OpenAI-compatible server is 'openai' or 'vllm')"),
    (["--upstream", "llm:gpt=http://10.0.0.5:8000"], "chaoskit proxy: --upstream 'llm:gpt=http://10.0.0.5:8000': unknown provider 'gpt'; "
     "one of anthropic, azure, bedrock, gemini, groq, huggingface, mistral, ollama, openai, tgi, vllm"),
    (["--upstream", "openai=http://a", "--upstream", "openai=http://b"], "chaoskit proxy: --upstream 'openai' is given twice; each upstream needs its own name"),
    (["--upstream", "openai=http://a", "--token", "short"], "chaoskit proxy: the control token must be at least 16 characters (or leave it out for a random one)"),
    (["--upstream", "openai=http://a", "--listen", "0.0.0.0:8080"], "chaoskit proxy: --listen '0.0.0.0:8080' is not a loopback address; the proxy binds "
     "to loopback unless started with --allow-remote (anyone who reaches it can inject faults through its control API with the token)"),
    (["--upstream", "openai=http://a", "--control", "8475"], "chaoskit proxy: --control '8475' must be HOST:PORT, such as 127.0.0.1:8080"),
])
def test_bad_arguments_exit_2_with_what_to_do(args: list[str], error: str) -> None:
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "proxy", *args], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr.strip(), done.stdout) == (2, error, "")


def test_a_port_in_use_exits_3(upstream: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "proxy", "--upstream", f"openai={upstream}",
                               "--listen", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "CHAOSKIT_PROXY_TOKEN": TOKEN})
    assert done.returncode == 3
    assert done.stderr.strip() == (f"chaoskit proxy: cannot listen on 127.0.0.1:{port}: Address already in use; "
                                   "choose another port (--listen/--control HOST:PORT)")


def test_a_refused_start_leaves_no_token_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CHAOSKIT_PROXY_TOKEN"}
    for args in (["--upstream", "openai=http://a", "--listen", "0.0.0.0:1"], ["--upstream", "openai=http://a", "--state", "redis://127.0.0.1:1/0"]):
        done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "proxy", *args], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, env=env)
        assert done.returncode == 2, done.stderr
        assert list(tmp_path.iterdir()) == []

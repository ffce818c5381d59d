"""docs/scenarios.md: its example validates as written, and its snippets are valid parts of a scenario."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chaoskit.scenario import loads

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "scenarios.md"
TEXT = DOC.read_text()


def yaml_blocks(heading: str) -> list[str]:
    """The YAML blocks of the section under ``heading``, up to the next heading of its level or above."""
    level = len(heading.split(" ", 1)[0])
    lines = TEXT.splitlines()
    start = lines.index(heading) + 1
    fenced = False
    section = []
    for line in lines[start:]:
        fenced ^= line.startswith("```")
        if not fenced and re.match(rf"#{{1,{level}}} ", line):
            break
        section.append(line)
    return re.findall(r"```yaml\n(.*?)```", "\n".join(section) + "\n", re.S)


def test_the_example_validates(tmp_path: Path) -> None:
    (tmp_path / "outage.yaml").write_text(yaml_blocks("## An example")[0])
    done = subprocess.run([sys.executable, "-m", "chaoskit.cli", "validate", "outage.yaml"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "ok: outage.yaml (2 phases, 1 fault, 2 probes)\n")
    assert "prints `ok: outage.yaml (2 phases, 1 fault, 2 probes)`" in TEXT


HEAD = "title: t\ntarget: {url: 'http://app.test'}\nproxy: {upstreams: {openai: 'http://openai.test'}}\n"


@pytest.mark.parametrize("block", yaml_blocks("## Probes"), ids=lambda b: b.split("type: ")[1].split()[0])
def test_probe_snippets_are_valid(block: str) -> None:
    text = HEAD + "method: [{name: p, duration: 1}]\nsteady_state:\n" + textwrap.indent(block, "  ")
    assert len(loads(text, env={}).steady_state) == 1


def test_every_probe_type_has_a_snippet() -> None:
    assert [b.split("type: ")[1].split()[0] for b in yaml_blocks("## Probes")] == [
        "http", "conversation", "python", "prometheus", "prometheus"]


def test_phase_fault_and_toxic_snippets_are_valid() -> None:
    phase, = yaml_blocks("### Phases")
    faults, = yaml_blocks("### Faults")
    toxics, = yaml_blocks("### Toxics")
    text = HEAD + phase.replace("    faults: [...]\n    toxics: [...]\n", textwrap.indent(faults + toxics, "    "))
    scenario = loads(text, env={})
    assert len(scenario.faults) == 1 and len(scenario.toxics) == 1


def test_stop_condition_snippet_is_valid() -> None:
    stops, = yaml_blocks("## Stop conditions")
    probes = "steady_state:\n  - {name: health, type: http, url: /h, mode: continuous}\n" \
             "  - {name: chat, type: http, url: /c, mode: during_fault}\n"
    scenario = loads(HEAD + "method: [{name: p, duration: 1}]\n" + probes + stops, env={})
    assert [s.probe for s in scenario.stop_conditions] == ["health", "health", "chat"]

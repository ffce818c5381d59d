"""The differential oracle over every model-provider fault: chaoskit's injection and a real
server on a loopback socket must make the installed SDK do the same thing.

Nothing here says what an SDK raises: each case runs the SDK twice, under chaoskit and
against :class:`chaoskit.fidelity.PlanServer` playing the same failure, and compares (see
``chaoskit/fidelity/_oracle.py`` for what is compared). A new SDK release can only turn a
case red where chaoskit really differs from the real thing.
"""

from __future__ import annotations

import pytest

from chaoskit import faults, fidelity
from chaoskit.fidelity._sdks import SDKS, installed

MODEL_FAULTS = [f for f in faults.all() if f.provider in SDKS]
CASES = [
    pytest.param(f.id, stream, asynchronous, id=f"{f.id}-{'async' if asynchronous else 'sync'}-{'stream' if stream else 'unary'}")
    for f in MODEL_FAULTS
    for stream, asynchronous in fidelity.modes(f)
]


def test_every_model_provider_fault_is_compared() -> None:
    compared = {p.values[0] for p in CASES}
    assert compared == {f.id for f in MODEL_FAULTS}
    assert {f.provider for f in MODEL_FAULTS} == set(SDKS)
    assert all(installed(p) for p in SDKS), "the test environment installs every provider's SDK"


@pytest.mark.parametrize(("fault", "stream", "asynchronous"), CASES)
def test_chaoskit_and_a_real_server_agree(fault: str, stream: bool, asynchronous: bool) -> None:
    verdict = fidelity.verify(fault, stream=stream, asynchronous=asynchronous)
    assert verdict.agrees, verdict.describe()


RESPONSES = [
    pytest.param(f, asynchronous, id=f"{f}-{'async' if asynchronous else 'sync'}")
    for f in faults.ids("openai.stream.*")
    for asynchronous in (False, True)
]


@pytest.mark.parametrize(("fault", "asynchronous"), RESPONSES)
def test_the_responses_api_agrees_with_a_real_server(fault: str, asynchronous: bool) -> None:
    """The Responses API streams its own event grammar: its broken streams are compared too."""
    verdict = fidelity.verify(fault, stream=True, asynchronous=asynchronous, api="responses")
    assert verdict.agrees, verdict.describe()

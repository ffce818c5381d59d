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
    pytest.param(f.id, stream, asynchronous, api,
                 id=f"{f.id}-{'async' if asynchronous else 'sync'}-{'stream' if stream else 'unary'}{'' if api is None else '-' + api}")
    for f in MODEL_FAULTS
    for stream, asynchronous, api in fidelity.modes(f)
]


def test_every_model_provider_fault_is_compared() -> None:
    compared = {p.values[0] for p in CASES}
    apis = {(p.values[0].split(".")[0], p.values[3]) for p in CASES if p.values[3] is not None}
    assert apis == {("openai", "responses"), ("anthropic", "stream"), ("bedrock", "invoke")}
    assert compared == {f.id for f in MODEL_FAULTS}
    assert {f.provider for f in MODEL_FAULTS} == set(SDKS)
    assert all(installed(p) for p in SDKS), "the test environment installs every provider's SDK"


@pytest.mark.parametrize(("fault", "stream", "asynchronous", "api"), CASES)
def test_chaoskit_and_a_real_server_agree(fault: str, stream: bool, asynchronous: bool, api: str | None) -> None:
    verdict = fidelity.verify(fault, stream=stream, asynchronous=asynchronous, api=api)
    assert verdict.agrees, verdict.describe()


def test_a_way_of_calling_the_sdk_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match=r"api='invoke': anthropic calls can use messages, stream"):
        fidelity.verify("anthropic.overloaded", api="invoke")

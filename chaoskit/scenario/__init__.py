"""Scenario files for staging runs and game days: the model, loading and checking, probes, stop conditions.

    from chaoskit.scenario import load, run_probe, ProbeWindow

    scenario = load("scenarios/provider-outage.yaml")      # ScenarioError lists every problem
    result = await run_probe(scenario.probe("chat"), client)

The file format is described by ``scenarios/scenario.schema.json`` (:func:`schema`) and in
docs/scenarios.md.
"""

from __future__ import annotations

from ._load import load as load
from ._load import loads as loads
from ._load import production_refusal as production_refusal
from ._model import Blackout as Blackout
from ._model import ConversationCheck as ConversationCheck
from ._model import FaultSpec as FaultSpec
from ._model import HttpCheck as HttpCheck
from ._model import HttpExpect as HttpExpect
from ._model import JsonCheck as JsonCheck
from ._model import LatencyBound as LatencyBound
from ._model import Load as Load
from ._model import Match as Match
from ._model import Phase as Phase
from ._model import Probe as Probe
from ._model import ProbeMode as ProbeMode
from ._model import ProbeType as ProbeType
from ._model import PrometheusCheck as PrometheusCheck
from ._model import Proxy as Proxy
from ._model import PythonCheck as PythonCheck
from ._model import Report as Report
from ._model import Safety as Safety
from ._model import Scenario as Scenario
from ._model import StopCondition as StopCondition
from ._model import Target as Target
from ._model import ToxicSpec as ToxicSpec
from ._model import Turn as Turn
from ._model import TurnExpect as TurnExpect
from ._model import Upstream as Upstream
from ._model import WindowCheck as WindowCheck
from ._probes import ProbeResult as ProbeResult
from ._probes import run_probe as run_probe
from ._problems import Problem as Problem
from ._problems import ScenarioError as ScenarioError
from ._schema import schema as schema
from ._schema import schema_path as schema_path
from ._schema import shipped_scenarios as shipped_scenarios
from ._values import MISSING as MISSING
from ._values import Comparison as Comparison
from ._values import StatusRanges as StatusRanges
from ._values import parse_duration as parse_duration
from ._values import read_path as read_path
from ._window import ProbeWindow as ProbeWindow

__all__ = [
    "MISSING", "Blackout", "Comparison", "ConversationCheck", "FaultSpec", "HttpCheck", "HttpExpect", "JsonCheck",
    "LatencyBound", "Load", "Match", "Phase", "Problem", "ProbeMode", "ProbeResult", "ProbeType", "ProbeWindow",
    "PrometheusCheck", "Probe", "Proxy", "PythonCheck", "Report", "Safety", "Scenario", "ScenarioError",
    "StopCondition", "Target", "ToxicSpec", "Turn", "TurnExpect", "Upstream", "WindowCheck", "load", "loads",
    "parse_duration", "production_refusal", "read_path", "run_probe", "schema", "schema_path", "shipped_scenarios",
]

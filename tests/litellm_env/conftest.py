"""Setup for the LiteLLM tests, which run in their own virtualenv, ``.venv-litellm``.

LiteLLM pins the openai SDK to a range of its own (``openai>=2.20,<4`` in 1.110) and brings a
large dependency tree, so it does not go into the main ``.venv``, which keeps the newest SDKs.
``make test`` builds ``.venv-litellm`` (``pip install -e '.[litellm-test]'``) and runs this
directory there after the main suite (``make test-litellm`` runs it alone). In an environment
without litellm (the main one) the tests here are not collected; were litellm missing from
``.venv-litellm``, that run would collect nothing and pytest's exit code 5 would fail ``make``.

LiteLLM fetches its model cost map from GitHub when it is first imported, unless
``LITELLM_LOCAL_MODEL_COST_MAP`` is set: set here, before anything imports litellm, so the
tests never reach for the network (chaoskit would block the fetch and litellm log the retries).
"""

from __future__ import annotations

import importlib.util
import os

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

if importlib.util.find_spec("litellm") is None:  # the main .venv: these tests are for .venv-litellm
    collect_ignore_glob = ["test_*.py"]
else:
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banner on every mapped error


def pytest_configure(config: pytest.Config) -> None:
    # pydantic's note about LiteLLM's own ReadOnly TypedDicts, raised while litellm builds its models
    config.addinivalue_line("filterwarnings", r"ignore:.*ReadOnly. qualifier:UserWarning")
    # and LiteLLM's own use of APIs pydantic deprecated (its cost calculator, on streamed usage)
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:litellm")

# Two commands for a fresh machine: `make test` and `make demo`. Both create .venv and install.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.chaoskit-installed
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
# LiteLLM's tests run in an environment of their own (tests/litellm_env/conftest.py says why).
LITELLM_VENV  := .venv-litellm
LITELLM_STAMP := $(LITELLM_VENV)/.chaoskit-installed
LITELLM_TEST  := $(LITELLM_VENV)/bin/python -m pytest -p no:cacheprovider tests/litellm_env

.PHONY: test test-litellm demo bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# looptime (a virtual-time asyncio loop) goes beside the venv, not in it: its pytest plugins
	@# need pytest-asyncio and would break every run. Tests load it from here in a subprocess.
	$(BIN)/python -m pip install --quiet --upgrade --target $(VENV)/looptime 'looptime>=0.9'
	touch $(STAMP)

$(LITELLM_STAMP): pyproject.toml
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LITELLM_VENV)/bin/python -m pip install --quiet -e '.[litellm-test]'
	touch $(LITELLM_STAMP)

test: $(STAMP) $(LITELLM_STAMP)
	scripts/ensure-chromium
	$(PYTEST) -n 2 tests examples
	$(LITELLM_TEST)

test-litellm: $(LITELLM_STAMP)
	$(LITELLM_TEST)

demo: $(STAMP)
	$(PYTEST) -n 2 examples/support_bot --chaos-report reports/demo.json --chaos-html reports/demo.html
	@echo ""
	@echo "chaoskit demo report: $(CURDIR)/reports/demo.html (open it in a browser)"
	@echo "              results and journals as JSON: $(CURDIR)/reports/demo.json"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_intercept.py
	$(BIN)/python benchmarks/bench_inputs.py
	$(BIN)/python benchmarks/bench_network.py
	$(BIN)/python benchmarks/bench_virtual_time.py

lint: $(STAMP)
	$(BIN)/ruff check chaoskit tests examples benchmarks
	$(BIN)/mypy chaoskit

clean:
	rm -rf $(VENV) $(LITELLM_VENV) build dist reports *.egg-info

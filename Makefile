# Two commands for a fresh machine: `make test` and `make demo`. Both create .venv and install.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.chaoskit-installed
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
UV     := $(BIN)/uv pip install --quiet --python $(BIN)/python
# LiteLLM's tests run in an environment of their own (tests/litellm_env/conftest.py says why).
LITELLM_VENV  := .venv-litellm
LITELLM_STAMP := $(LITELLM_VENV)/.chaoskit-installed
LITELLM_TEST  := $(LITELLM_VENV)/bin/python -m pytest -p no:cacheprovider tests/litellm_env
# The framework recipes (docs/frameworks.md) too, in three: the frameworks' own pins lead pip to three
# openai releases (tests/frameworks_env/conftest.py says which). Env NAME is .venv-NAME, installs
# extra NAME-test, is pinned in constraints/NAME.txt and runs FW_TESTS_NAME; pydantic-ai's recipes
# run in .venv.
FW_ENVS  := frameworks instructor llama-index
FW_STAMPS := $(FW_ENVS:%=.venv-%/.chaoskit-installed)
FW_TESTS_frameworks  := tests/frameworks_env/test_langchain.py tests/frameworks_env/test_openai_agents.py \
                        tests/frameworks_env/test_side_traffic.py
FW_TESTS_instructor  := tests/frameworks_env/test_instructor.py
FW_TESTS_llama-index := tests/frameworks_env/test_llama_index.py
# Pinned versions that pass, so a release elsewhere cannot change what CI runs (make constraints).
CONSTRAINTS         := constraints/main.txt
LITELLM_CONSTRAINTS := constraints/litellm.txt
# The newest releases of every provider SDK, for the fidelity oracle (make test-latest).
LATEST_VENV := .venv-latest
SDK_PACKAGES := openai anthropic google-genai boto3 huggingface_hub httpx2

.PHONY: test test-litellm test-frameworks envs frameworks-envs $(FW_ENVS:%=recipes-%) test-latest constraints fault-facts demo bench lint clean

# Installs go through uv (pinned in constraints/main.txt, installed by pip into .venv): the same
# pins as pip, in seconds instead of minutes (pip spent four of make test's minutes on the five
# environments). The venvs are made by Python's venv, so .venv keeps a pip of its own.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) uv
	$(UV) -c $(CONSTRAINTS) -e '.[test]'
	@# looptime (a virtual-time asyncio loop) goes beside the venv, not in it: its pytest plugins
	@# need pytest-asyncio and would break every run. Tests load it from here in a subprocess.
	$(UV) -c $(CONSTRAINTS) --target $(VENV)/looptime 'looptime>=0.9'
	touch $(STAMP)

# Every other environment: .venv-NAME installs extra NAME-test pinned by constraints/NAME.txt.
.venv-%/.chaoskit-installed: pyproject.toml constraints/%.txt | $(STAMP)
	$(PYTHON) -m venv --without-pip .venv-$*
	$(BIN)/uv pip install --quiet --python .venv-$*/bin/python -c constraints/$*.txt -e '.[$*-test]'
	touch $@

envs: $(STAMP)
	$(MAKE) --no-print-directory -j2 $(LITELLM_STAMP) $(FW_STAMPS)

frameworks-envs: $(STAMP)
	$(MAKE) --no-print-directory -j2 $(FW_STAMPS)

# lint first: ruff (private members included), mypy, and the import layers (tests/test_layers.py).
test: lint envs
	scripts/ensure-chromium
	$(PYTEST) -n 2 tests examples
	$(LITELLM_TEST)
	$(MAKE) --no-print-directory -j2 --output-sync=target $(FW_ENVS:%=recipes-%)

test-litellm: $(LITELLM_STAMP)
	$(LITELLM_TEST)

# The framework recipes, each environment's tests in it (recipes-NAME: one environment's).
test-frameworks: frameworks-envs
	$(MAKE) --no-print-directory -j2 --output-sync=target $(FW_ENVS:%=recipes-%)

$(FW_ENVS:%=recipes-%): recipes-%: .venv-%/.chaoskit-installed
	.venv-$*/bin/python -m pytest -p no:cacheprovider -q $(FW_TESTS_$*)

# The fidelity oracle (and the SDK tests) on the newest release of every provider SDK, unpinned:
# a red case here is a fault where chaoskit differs from a real server on that release.
test-latest:
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[test]' $(SDK_PACKAGES)
	@$(LATEST_VENV)/bin/python -c "from chaoskit import _doctor; print('newest', _doctor.format_versions(_doctor.sdk_versions()))"
	$(LATEST_VENV)/bin/python -m pytest -p no:cacheprovider -n 2 tests/fidelity

# Pin what make test installs to the versions in the working environments (after make test-latest).
constraints: $(STAMP) $(LITELLM_STAMP) frameworks-envs
	@head -2 $(CONSTRAINTS) > $(CONSTRAINTS).new
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^chaoskit' >> $(CONSTRAINTS).new
	echo 'looptime==0.9' >> $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	@head -1 $(LITELLM_CONSTRAINTS) > $(LITELLM_CONSTRAINTS).new
	$(BIN)/python -m pip --python $(LITELLM_VENV)/bin/python freeze --exclude-editable | grep -v '^chaoskit' >> $(LITELLM_CONSTRAINTS).new
	mv $(LITELLM_CONSTRAINTS).new $(LITELLM_CONSTRAINTS)
	@# --all: setuptools too, which llama-index-core requires
	@for env in $(FW_ENVS); do \
	  head -1 constraints/$$env.txt > constraints/$$env.txt.new && \
	  $(BIN)/python -m pip --python .venv-$$env/bin/python freeze --all --exclude-editable | grep -v '^chaoskit' >> constraints/$$env.txt.new && \
	  mv constraints/$$env.txt.new constraints/$$env.txt || exit 1; \
	done

demo: $(STAMP)
	$(PYTEST) -n 2 examples/support_bot --chaos-report reports/demo.json --chaos-html reports/demo.html
	@echo ""
	@echo "chaoskit demo report: $(CURDIR)/reports/demo.html (open it in a browser)"
	@echo "              results and journals as JSON: $(CURDIR)/reports/demo.json"

# docs/fault-facts.md: what each fault does to the pinned SDKs, as the doctor sees it.
fault-facts: $(STAMP)
	$(BIN)/python -m chaoskit.cli doctor --markdown > docs/fault-facts.md

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_intercept.py
	$(BIN)/python benchmarks/bench_inputs.py
	$(BIN)/python benchmarks/bench_network.py
	$(BIN)/python benchmarks/bench_virtual_time.py
	$(BIN)/python benchmarks/bench_event_loops.py
	$(BIN)/python benchmarks/bench_passthrough.py
	$(BIN)/python benchmarks/bench_proxy.py

lint: $(STAMP)
	$(BIN)/ruff check chaoskit tests examples benchmarks
	$(BIN)/mypy chaoskit
	$(PYTEST) -q tests/test_layers.py

clean:
	rm -rf $(VENV) $(LITELLM_VENV) $(FW_ENVS:%=.venv-%) $(LATEST_VENV) build dist reports *.egg-info

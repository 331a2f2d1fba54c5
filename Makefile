# The front door. `make demo` and `make test` work on a fresh clone with only python3.12.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON312 := $(shell scripts/find-python312)
TOOLS  ?= .tools
TOOLS_STAMP := $(TOOLS)/.installed
LOCK   := layers/constraints.txt
# sam build checks the functions' runtime against a python3.12 on PATH (a pyenv shim that
# cannot run 3.12 fails that check): put the interpreter we found first.
SAM_ENV := PATH="$(dir $(PYTHON312)):$$PATH" AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0

.PHONY: help venv tools demo test unit integration e2e lint build size smoke test-build bench lock clean

help:
	@echo "make demo   - set up .venv and run the whole pipeline locally on a bundled example"
	@echo "make test   - set up .venv, lint, and run unit, integration and e2e tests"
	@echo "make lint   - ruff, mypy, cfn-lint, sam validate --lint, checkov on template.yaml, statelint on the ASL"
	@echo "make build  - sam build: functions and the trimmed, pinned layers into .aws-sam/build"
	@echo "make size   - every built function's code + layers in MB (fails over Lambda's 250 MB)"
	@echo "make test-build - run every built function in a bare python3.12 against a moto server"
	@echo "make bench  - run the benchmarks"

$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON312)" || { echo "python3.12 not found (tried PATH and pyenv)"; exit 1; }
	test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' -c $(LOCK)
	touch $(STAMP)

# The SAM CLI and checkov live in their own venv: their dependencies never touch the runtime's.
$(TOOLS_STAMP): tools/requirements.txt
	@test -n "$(PYTHON312)" || { echo "python3.12 not found (tried PATH and pyenv)"; exit 1; }
	test -x $(TOOLS)/bin/python || $(PYTHON312) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --upgrade pip
	$(TOOLS)/bin/python -m pip install -q -r tools/requirements.txt
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/retrain demo --out retrain-out/demo

# Deployment is linted too: cfn-lint with informational findings, sam validate --lint, and checkov
# with zero failed checks (each skip is justified in the resource's own Metadata).
lint: $(STAMP) $(TOOLS_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml -c I
	$(PY) -m retrain.local.validate template.yaml
	$(SAM_ENV) $(TOOLS)/bin/sam validate --lint --template template.yaml
	$(TOOLS)/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet

# One native thread per process: on 2 cores, idle OpenMP workers of scikit-learn spin and make
# every small fit several times slower (measured: one fit 6.7 s threaded vs 0.32 s single-threaded).
# The fault suite (faults injected into moto's backends, timed-out handlers left running) and the
# load test (100 executions at once) each run in a process of their own, so neither leaves state
# behind for the other tests; so do the two engines' e2e tests (distributed drift, SageMaker training).
# Two lanes run at once, one per core, each test process single-threaded and with its own local
# cloud and temporary folder: the e2e suite, then the two engines' tests, in one; unit, integration,
# the fault suite and the load test in the other (so split to even the lanes' times). The e2e lane's
# output is printed when both are done.
LANE2_ISOLATED = tests/e2e/test_faults.py tests/e2e/test_load.py
E2E_ISOLATED = tests/e2e/test_distributed_drift.py tests/e2e/test_sagemaker_engine.py
ISOLATED = $(LANE2_ISOLATED) $(E2E_ISOLATED)
PYTEST = $(PY) -m pytest -q -m "not build" -p no:cacheprovider
test: export OMP_NUM_THREADS = 1
test: lint
	@rm -rf .pytest-lanes && mkdir -p .pytest-lanes
	@echo "lane e2e: tests/e2e, then $(E2E_ISOLATED) (output below when both lanes are done)"
	@( $(PYTEST) --basetemp=.pytest-lanes/e2e tests/e2e $(foreach t,$(ISOLATED),--ignore=$(t)) \
		$(foreach t,$(E2E_ISOLATED),&& $(PYTEST) --basetemp=.pytest-lanes/$(basename $(notdir $(t))) $(t)) ) \
		> .pytest-lanes/e2e.log 2>&1 & e2e=$$!; \
	echo "lane 2: tests/unit tests/integration, then $(LANE2_ISOLATED)"; \
	$(PYTEST) --basetemp=.pytest-lanes/main tests/unit tests/integration \
		$(foreach t,$(LANE2_ISOLATED),&& $(PYTEST) --basetemp=.pytest-lanes/$(basename $(notdir $(t))) $(t)); \
	other=$$?; wait $$e2e; lane=$$?; echo "== lane e2e (exit $$lane)"; cat .pytest-lanes/e2e.log; \
	test $$other -eq 0 -a $$lane -eq 0

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

e2e: $(STAMP)
	$(PY) -m pytest -q tests/e2e

# sam build is the build: the layers come from layers/Makefile (the trimmed, pinned recipe).
build: $(TOOLS_STAMP)
	@test -n "$(PYTHON312)" || { echo "make build: python3.12 not found (tried PATH and pyenv)"; exit 1; }
	$(SAM_ENV) $(TOOLS)/bin/sam build --template template.yaml

size: $(STAMP)
	$(PY) layers/build.py size

smoke: $(STAMP)
	$(PY) layers/build.py smoke

# The built artifact runs: each function from .aws-sam/build in a bare python3.12, against a moto server.
test-build: export OMP_NUM_THREADS = 1
test-build: build size
	$(PY) -m pytest -q -m build tests/build

lock: $(STAMP)
	$(PY) layers/lock.py

bench: $(STAMP) build  # benchmarks/cold_start.py times the built functions
	@shopt -s nullglob; files=(benchmarks/*.py); test $${#files[@]} -gt 0 || { echo "no benchmarks yet"; exit 0; }; \
	for f in "$${files[@]}"; do echo "== $$f"; $(PY) "$$f" || exit 1; done


clean:
	rm -rf $(VENV) $(TOOLS) retrain-out .aws-sam .lambda-runtime .pytest_cache .mypy_cache .ruff_cache

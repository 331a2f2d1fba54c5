# The front door. `make demo` and `make test` work on a fresh clone with only python3.12.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON312 := $(shell scripts/find-python312)

.PHONY: help venv demo test unit integration e2e lint layers bench clean

help:
	@echo "make demo   - set up .venv and run the whole pipeline locally on a bundled example"
	@echo "make test   - set up .venv, lint, and run unit, integration and e2e tests"
	@echo "make lint   - ruff, mypy, cfn-lint on template.yaml, statelint on the ASL"
	@echo "make layers - build the Lambda layers for python3.12/x86_64 and report their sizes"
	@echo "make bench  - run the benchmarks"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON312)" || { echo "python3.12 not found (tried PATH and pyenv)"; exit 1; }
	test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/retrain demo --out retrain-out/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) -m retrain.local.validate template.yaml

# One native thread per process: on 2 cores, idle OpenMP workers of scikit-learn spin and make
# every small fit several times slower (measured: one fit 6.7 s threaded vs 0.32 s single-threaded).
test: export OMP_NUM_THREADS = 1
test: lint
	$(PY) -m pytest -q

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

e2e: $(STAMP)
	$(PY) -m pytest -q tests/e2e

layers: $(STAMP)
	$(PY) layers/build.py --out .aws-layers --smoke

bench: $(STAMP)
	@shopt -s nullglob; files=(benchmarks/*.py); test $${#files[@]} -gt 0 || { echo "no benchmarks yet"; exit 0; }; \
	for f in "$${files[@]}"; do echo "== $$f"; $(PY) "$$f" || exit 1; done


clean:
	rm -rf $(VENV) retrain-out .aws-layers .pytest_cache .mypy_cache .ruff_cache

# hexbank developer commands. `make run` and `make test` are all a newcomer needs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
HOST ?= $(or $(HEXBANK_HOST),127.0.0.1)
PORT ?= $(or $(HEXBANK_PORT),8000)
BENCH ?=
FRONTEND_LOCK := $(wildcard frontend/package-lock.json)

.PHONY: help install run web test lint format bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

# Re-synced whenever pyproject.toml or a lock file is newer than the stamp.
$(STAMP): pyproject.toml requirements/main.lock requirements/dev.lock | $(PY)
	[ -x $(UV) ] && $(UV) --version | grep -q " $(UV_VERSION)" || $(VENV)/bin/pip install --quiet uv==$(UV_VERSION)
	$(UV) pip sync --python $(PY) requirements/dev.lock
	$(UV) pip install --python $(PY) --no-deps -e .
	touch $@

install: $(STAMP) ## Create or refresh .venv from the locks

run: install web ## Build the web app, migrate and serve (embedded mode) on HOST:PORT
	$(VENV)/bin/hexbank migrate
	exec $(VENV)/bin/hexbank serve --host $(HOST) --port $(PORT)

ifneq ($(wildcard frontend/package.json),)
web: frontend/node_modules/.package-lock.json
	cd frontend && npm run build

# npm rewrites this file on every install, so it tells whether node_modules matches the lock.
frontend/node_modules/.package-lock.json: frontend/package.json $(FRONTEND_LOCK)
	cd frontend && if [ -f package-lock.json ]; then npm ci; else npm install; fi
	touch $@
else
web:
	@echo "web: no frontend/package.json yet, nothing to build"
endif

test: lint ## Lint, then run the whole test suite
	$(PY) -m pytest tests

lint: install ## ruff (lint and format check), mypy, import-linter; reports every failure
	status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/ruff format --check . || status=1; \
	$(VENV)/bin/mypy || status=1; \
	$(VENV)/bin/lint-imports || status=1; \
	exit $$status

format: install ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(BENCH_STAMP): requirements/bench.lock $(STAMP)
	$(UV) pip install --python $(PY) -r requirements/bench.lock
	touch $@

bench: $(BENCH_STAMP) ## Run the benchmarks (BENCH=<name> for one) into bench/results.json
	$(PY) -m bench $(BENCH)

clean: ## Remove caches and build output (keeps .venv and the data in var/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage frontend/dist hexbank.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

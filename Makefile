# hexbank developer commands. `make run` and `make test` are all a newcomer needs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-main
BENCH_STAMP := $(VENV)/.bench-installed
HOST ?= $(or $(HEXBANK_HOST),127.0.0.1)
PORT ?= $(or $(HEXBANK_PORT),8000)
BENCH ?=
FRONTEND_LOCK := $(wildcard frontend/package-lock.json)

.PHONY: help install run run-distributed web web-test api-types test lint format bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

ENSURE_UV := [ -x $(UV) ] && $(UV) --version | grep -q " $(UV_VERSION)" \
	|| $(VENV)/bin/pip install --quiet uv==$(UV_VERSION)

# What serving needs (requirements/main.lock), for `make run`: added to whatever is there,
# so it never removes the dev toolchain of a contributor's .venv.
$(RUN_STAMP): pyproject.toml requirements/main.lock | $(PY)
	$(ENSURE_UV)
	$(UV) pip install --python $(PY) -r requirements/main.lock
	$(UV) pip install --python $(PY) --no-deps -e .
	touch $@

# The whole dev toolchain (a superset of main.lock); re-synced whenever pyproject.toml or a
# lock file is newer than the stamp.
$(STAMP): pyproject.toml requirements/main.lock requirements/dev.lock | $(PY)
	$(ENSURE_UV)
	$(UV) pip sync --python $(PY) requirements/dev.lock
	$(UV) pip install --python $(PY) --no-deps -e .
	touch $@ $(RUN_STAMP)

install: $(STAMP) ## Create or refresh .venv from the locks (with the dev toolchain)

run: $(RUN_STAMP) web ## Build the web app, migrate and serve (embedded mode) on HOST:PORT
	$(VENV)/bin/hexbank migrate
	exec $(VENV)/bin/hexbank serve --host $(HOST) --port $(PORT)

# PostgreSQL and Redis on this machine (HEXBANK_DATABASE_URL / HEXBANK_REDIS_URL, default local;
# database hexbank_dev created if missing), nginx on HOST:PORT in front of 2 web processes, 2 workers.
run-distributed: install web ## Distributed mode here: nginx on HOST:PORT, 2 web, 2 workers (honcho)
	LISTEN=$(HOST):$(PORT) deploy/local/run-distributed.sh

# npm rewrites node_modules/.package-lock.json on every install, so it tells whether
# node_modules matches the lock; dist is rebuilt only when a source is newer than it.
FRONTEND := frontend
FRONTEND_INSTALLED := $(FRONTEND)/node_modules/.package-lock.json
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src $(FRONTEND)/public $(FRONTEND)/scripts $(FRONTEND)/api-docs -type f 2>/dev/null) \
	$(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/svelte.config.js $(FRONTEND)/tsconfig.json

$(FRONTEND_INSTALLED): $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	touch $@

$(FRONTEND)/dist/index.html: $(FRONTEND_INSTALLED) $(FRONTEND_SOURCES)
	cd $(FRONTEND) && npm run build

web: $(FRONTEND)/dist/index.html ## Build the web app when its sources changed

web-test: $(FRONTEND_INSTALLED) ## Type-check and unit-test the web app (and check its generated API types)
	cd $(FRONTEND) && npm run types:check && npm run check && npm test

# The served OpenAPI document → frontend/openapi.json → src/lib/api-types.ts (openapi-typescript).
api-types: install $(FRONTEND_INSTALLED) ## Regenerate the web app's API types from the OpenAPI document
	$(PY) $(FRONTEND)/scripts/openapi_json.py > $(FRONTEND)/openapi.json
	cd $(FRONTEND) && npm run types

test: lint web-test web ## Lint, test the web app, then run the whole Python suite
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

.PHONY: soak
SOAK_MINUTES ?= 10
soak: install ## Reliability suite, long: each fault/load test runs SOAK_MINUTES (default 10)
	HEXBANK_SOAK_SECONDS=$$(( $(SOAK_MINUTES) * 60 )) $(PY) -m pytest tests/reliability --timeout=0 -rA

.PHONY: screenshots
screenshots: install web ## PNGs of every screen at 1280 and 360 px in frontend/screenshots
	$(PY) -m tests.e2e.screenshots

clean: ## Remove caches and build output (keeps .venv and the data in var/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage frontend/dist hexbank.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

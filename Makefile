# modelreg: `make run` serves a seeded catalog; `make test` runs every test. Both set up .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help run test check lint format bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP) ## Start the embedded PostgreSQL, migrate, seed and serve on 127.0.0.1:8000
	$(BIN)/modelreg db upgrade
	$(BIN)/modelreg seed
	$(BIN)/modelreg serve

test: $(STAMP) ## Run every test against a real PostgreSQL (embedded unless MODELREG_TEST_DATABASE_URL)
	@[ -x /usr/bin/chromium ] || [ -n "$$MODELREG_CHROMIUM" ] || echo "make test: no Chromium found (apt-get install chromium): the console's browser tests will be skipped"
	$(BIN)/pytest

check: $(STAMP) ## Lint, format check, types, package layers, dependencies, migration lint, alert rules
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench/*.py
	$(BIN)/lint-imports
	$(BIN)/deptry src --optional-dependencies-dev-groups dev
	$(BIN)/deptry src tests bench
	$(BIN)/modelreg db sql > $(VENV)/migrations.sql
	$(BIN)/squawk --config .squawk.toml $(VENV)/migrations.sql
	@command -v promtool >/dev/null || { echo "promtool not found: it comes with Debian's prometheus package (apt-get install prometheus)"; exit 1; }
	cd deploy/prometheus && promtool check rules alerts.yml && promtool test rules alerts.test.yml

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP) ## Run the benchmarks in bench/, print their tables (JSON in .venv/bench/)
	$(BIN)/python bench/migrate.py --output $(VENV)/bench/migrate.json
	timeout --kill-after=60 3600 $(BIN)/python bench/read_path.py --output $(VENV)/bench/read-path.json
	timeout --kill-after=60 1800 $(BIN)/python bench/propagation.py --output $(VENV)/bench/propagation.json
	timeout --kill-after=60 2400 $(BIN)/python bench/filtered.py --output $(VENV)/bench/filtered.json
	timeout --kill-after=60 1800 $(BIN)/python bench/servers.py --output $(VENV)/bench/servers.json

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

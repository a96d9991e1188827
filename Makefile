# The front door. `make run` and `make test` each create the environment from nothing.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export DAGSTER_HOME ?= $(CURDIR)/var/dagster
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
# dbt lives in its own environment (dbt_project/environment, synced to .venv-dbt): Dagster runs it
# as a subprocess and never imports it. The project venv's tools (dagster, dg) first on PATH, then
# dbt's: dagster-dbt looks dbt up there under `dg dev` (and dg checks that the project's .venv is
# the active one).
DBT_VENV := $(CURDIR)/.venv-dbt
export PATH := $(CURDIR)/.venv/bin:$(DBT_VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/.venv
# Absolute defaults so dbt, sqlfluff and Dagster agree whatever directory they run from.
export ATTACK_DETECTION_DUCKDB_PATH ?= $(CURDIR)/var/warehouse.duckdb
export ATTACK_DETECTION_LAKE_DIR ?= $(CURDIR)/var/lake
DBT_MANIFEST := dbt_project/target/manifest.json
# extra dependency groups to install, e.g. SYNC_GROUPS="--group engines --group browser" (Spark,
# PostgreSQL, Playwright: the scale-out and UI tests, which skip without them; .ci/run installs
# them and the system packages they need); `engines` installs dbt-spark in dbt's environment too
SYNC_GROUPS ?=
DBT_SYNC_GROUPS ?= $(if $(filter engines --group=engines --all-groups,$(SYNC_GROUPS)),--group engines,)

.PHONY: env manifest run ui test fuzz lint format bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

env: $(UV)
	$(UV) sync --frozen --quiet $(SYNC_GROUPS)
	UV_PROJECT_ENVIRONMENT=$(DBT_VENV) VIRTUAL_ENV= $(UV) sync --frozen --quiet \
		--project dbt_project/environment $(DBT_SYNC_GROUPS)

# dagster-dbt needs the dbt manifest before Dagster loads the definitions.
manifest: env
	cd dbt_project && $(DBT_VENV)/bin/dbt parse --profiles-dir . --quiet

$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml
	mkdir -p $(DAGSTER_HOME) && cp orchestration/dagster.yaml $@

run: manifest $(DAGSTER_HOME)/dagster.yaml
	.venv/bin/python -m orchestration.run

# the UI on :3000 and, beside it, the reports and runbook its links open (127.0.0.1:3001)
ui: manifest $(DAGSTER_HOME)/dagster.yaml
	.venv/bin/python -m orchestration.report_server & trap "kill $$!" EXIT; \
	.venv/bin/dg dev --host 0.0.0.0 --port 3000

test: manifest
	.venv/bin/pytest -q

# the parser's mutation fuzz at 20x the suite's cases (200,000; about 10 minutes)
fuzz: env
	ATTACK_DETECTION_FUZZ_CASES=200000 .venv/bin/pytest -q tests/detection/mail/test_fuzz.py

lint: manifest $(DAGSTER_HOME)/dagster.yaml
	.venv/bin/dg check defs
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/pyright
	mkdir -p $(dir $(ATTACK_DETECTION_DUCKDB_PATH))
	$(DBT_VENV)/bin/sqlfluff lint dbt_project/models

format: env
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: manifest
	.venv/bin/python -m bench.run_all

clean:
	rm -rf var dbt_project/target dbt_project/logs .pytest_cache

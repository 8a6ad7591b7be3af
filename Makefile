# Two commands for a fresh machine (Python 3.11 and make are all they assume):
#   make demo   install, then materialize the whole graph on the embedded demo exchange and print a summary
#   make test   install, then run the test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export KALSHI_WAREHOUSE ?= $(CURDIR)/data/warehouse.duckdb

.PHONY: demo test install ui lint bench clean dagster-home

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools prints a boxed BuildBackendWarning for every editable install: not news to a user of make
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# DAGSTER_HOME holds the instance (runs, event logs, schedules); its dagster.yaml is this repository's.
dagster-home:
	@mkdir -p "$(DAGSTER_HOME)"
	@ln -sf "$(CURDIR)/dagster.yaml" "$(DAGSTER_HOME)/dagster.yaml"

demo: install dagster-home
	$(BIN)/kalshi-assets demo

# Two workers, each test module whole on one of them (module fixtures such as a built warehouse are made once),
# the slow modules first (tests/conftest.py says why).
test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

ui: install dagster-home
	$(BIN)/dagster dev -w workspace.yaml

# The distributed path alone (docs/DEPLOY.md): Debian's PostgreSQL and Redis, then the tests that start them.
.PHONY: test-distributed
test-distributed: install
	bash scripts/install_services.sh
	$(BIN)/python -m pytest -q tests/test_servers.py tests/warehouse/test_lake_groundwork.py \
		tests/warehouse/test_lake_backend.py tests/warehouse/test_writes.py tests/deploy

lint: install
	$(BIN)/ruff check kalshi_assets tests benchmarks

bench: install
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .dagster_home data .pytest_cache

# The two set-up commands of the README: `make demo` and `make test`. Each builds what it needs.
PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
VENV ?= .venv
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-airflow-$(AIRFLOW_VERSION)
# Which tests `make test` runs; the version matrix narrows it on older Airflow.
PYTEST_ARGS ?=

# Every environment installs under a lock committed in locks/, one per Airflow and Python version, resolved by
# `make lock` as PyPI stood on a recorded date (uv's --exclude-newer): a release elsewhere never changes what an
# environment installs. The lock constrains (-c) every package; the project goes on top, editable.
PYTHON_MINOR := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCK := locks/airflow-$(AIRFLOW_VERSION)-py$(PYTHON_MINOR).txt
LOCK_INPUT := locks/airflow-$(AIRFLOW_VERSION).in
LOCKED_INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python -c $(LOCK)

.PHONY: venv lock test-latest test test-compat test-matrix test-topology topology-run test-ui ui-run ui-images lint typecheck demo bench screenshot dist clean

# __init__.py holds the version: the installed metadata follows it.
$(STAMP): pyproject.toml Makefile airflow_provider_ofs/__init__.py $(LOCK)
	@echo ">> creating $(VENV) with Airflow $(AIRFLOW_VERSION) under $(LOCK) (first run only; takes a minute)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(LOCKED_INSTALL) -e ".[test,yaml]" -r $(LOCK_INPUT)
	@rm -f $(VENV)/.installed-airflow-*
	@touch $@

venv: $(STAMP)

$(LOCK):
	@echo "No lock for Airflow $(AIRFLOW_VERSION) on Python $(PYTHON_MINOR): $(LOCK) is missing. Make it with"
	@echo "  make lock LOCK_AIRFLOWS=$(AIRFLOW_VERSION) LOCK_PYTHONS=$(PYTHON_MINOR)"; exit 1

# Resolves the locks again from PyPI as it stood on LOCK_DATE (default today), then lists what changed in each.
# Airflow 3.3.2's lock also holds the extras of the topology, ui, bench and dist environments built on it, and
# 2.11.2's the ui extra (the browser test of its connection form).
LOCK_DATE ?= $(shell date -u +%Y-%m-%d)
LOCK_AIRFLOWS ?= 3.3.2 2.11.2 3.0.0
LOCK_PYTHONS ?= 3.11 3.12
UV_TOOL := .venv-uv/bin/uv
$(UV_TOOL):
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

lock: $(UV_TOOL)
	@for airflow in $(LOCK_AIRFLOWS); do for python in $(LOCK_PYTHONS); do \
		extras="--extra test --extra yaml"; \
		[ $$airflow != 2.11.2 ] || extras="$$extras --extra ui"; \
		[ $$airflow != 3.3.2 ] || extras="$$extras --extra topology --extra ui --extra bench --extra dist"; \
		echo ">> locks/airflow-$$airflow-py$$python.txt: PyPI as of $(LOCK_DATE)"; \
		$(UV_TOOL) pip compile --quiet --python-version $$python --exclude-newer $(LOCK_DATE) \
			pyproject.toml $$extras locks/airflow-$$airflow.in -o locks/airflow-$$airflow-py$$python.txt || exit 1; \
	done; done
	@$(PYTHON) locks/changes.py

# Not in CI: each supported Airflow with the newest release of every other package (no lock) runs a short smoke
# set; where it fails, the locked versions go back in halves until the one package that broke it is named.
LATEST_AIRFLOWS ?= $(LOCK_AIRFLOWS)
test-latest: $(UV_TOOL)
	$(PYTHON) locks/latest.py --uv $(UV_TOOL) --python $(PYTHON) $(LATEST_AIRFLOWS)

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_ofs tests bench example_dags demo locks
	$(BIN)/ruff format --check airflow_provider_ofs tests bench example_dags demo locks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/pytest -m "not topology and not ui" $(PYTEST_ARGS)

# On an older Airflow: every test that needs no real Airflow process, plus the `compat` DAG runs.
test-compat: $(STAMP)
	$(BIN)/pytest -m "(not airflow_e2e or compat) and not topology and not ui" $(PYTEST_ARGS)

# The version matrix CI proves besides `make test` (newest 3.3.x): 2.11.x and the oldest 3.0.x.
test-matrix:
	$(MAKE) test-compat AIRFLOW_VERSION=2.11.2 VENV=.venv-2.11
	$(MAKE) test-compat AIRFLOW_VERSION=3.0.0 VENV=.venv-3.0

# Airflow's distributed engine (tests/reliability/test_topology.py): PostgreSQL, Redis, two Celery workers
# and two triggerers on 127.0.0.1; then the same with a network zone (tests/reliability/test_network_zones.py:
# triggerer and worker queues, a firewall outside the zone). Its own venv with the `topology` extra (Celery
# provider, psycopg, asyncpg), so `make test`'s stays as it is; Debian's postgresql and redis-server installed
# with apt-get when missing (as root). About 9 minutes on 2 cores; the measured figures go to $(TOPOLOGY_SUMMARY).
TOPOLOGY_VENV ?= .venv-topology
TOPOLOGY_SUMMARY ?= topology-summary.txt
test-topology:
	$(MAKE) topology-run VENV=$(TOPOLOGY_VENV)

topology-run: $(STAMP)
	$(LOCKED_INSTALL) -e ".[test,yaml,topology]" -r $(LOCK_INPUT)
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "PostgreSQL or Redis is missing: sudo apt-get install -y postgresql redis-server"; exit 1; \
		fi; \
		echo ">> installing PostgreSQL and Redis (apt-get install postgresql redis-server)"; \
		mkdir -p /etc/postgresql-common/createcluster.d; \
		echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/ofs-no-main-cluster.conf; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null; \
	fi
	OFS_TOPOLOGY_REQUIRED=1 OFS_TOPOLOGY_SUMMARY=$(TOPOLOGY_SUMMARY) \
		$(BIN)/pytest -m topology tests/reliability/test_topology.py tests/reliability/test_network_zones.py $(PYTEST_ARGS)
	@cat $(TOPOLOGY_SUMMARY)

# A new user's path through the Airflow 3 UI in headless Chromium (tests/ui/test_front_door.py), then Airflow 2.11's
# connection form in its own venv (tests/ui/test_connection_form_2_11.py): log in, create the
# OFS connection in the form, trigger ofs_daily_data_load from the Trigger dialog, follow the task's OFS Batch
# Monitor link. Debian's chromium is installed with apt-get when missing (as root); Playwright (the `ui` extra)
# drives it, no browser is downloaded. Pictures, the stored connection and the logs go to $(UI_ARTEFACTS)/.
UI_ARTEFACTS ?= ui-artefacts
test-ui: ui-run
	$(MAKE) ui-run AIRFLOW_VERSION=2.11.2 VENV=.venv-2.11 UI_ARTEFACTS=$(UI_ARTEFACTS)/airflow-2.11

ui-run: $(STAMP)
	$(LOCKED_INSTALL) -e ".[test,yaml,ui]" -r $(LOCK_INPUT)
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then echo "Chromium is missing: sudo apt-get install -y chromium"; exit 1; fi; \
		echo ">> installing Chromium (apt-get install chromium)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	OFS_UI_REQUIRED=1 OFS_UI_ARTEFACTS=$(UI_ARTEFACTS) $(BIN)/pytest -m ui tests/ui tests/reliability $(PYTEST_ARGS)
	@cat $(UI_ARTEFACTS)/connection-test.txt 2>/dev/null | sed 's/^/>> the UI'"'"'s connection Test button: /' || true

# The README's pictures of the UI, from the last `make test-ui`: the connection form, the Trigger dialog, the
# task's OFS Batch Monitor link and a failed run's question in Required Actions (docs/images/ui-*.png).
ui-images:
	@for name in connection-form trigger-dialog task-link required-action-form; do \
		cp -v $(UI_ARTEFACTS)/*-$$name.png docs/images/ui-$$name.png || exit 1; \
	done

# Simulator + a real Airflow on SQLite under .demo/ (git-ignored); runs an example DAG and summarises it.
demo: $(STAMP)
	$(BIN)/python -m demo

# README pictures by headless Chromium (apt-installed when missing): the demo DAG's run in the Airflow 3 UI
# (docs/images/demo-dag-run.png), then the Details tab of SCREENSHOT_TASK with its "OFS Batch Monitor" extra
# link (docs/images/demo-task-link.png). SCREENSHOT_TASK= (empty) takes only the first.
SCREENSHOT_TASK ?= run_eod_group
screenshot: $(STAMP)
	$(BIN)/python -m demo.screenshot
	$(if $(SCREENSHOT_TASK),$(BIN)/python -m demo.screenshot --task $(SCREENSHOT_TASK))

# Triggerer, sync and import cost against bare clients; writes bench/RESULTS.md and bench/scale_curve.png.
# BENCH_ARGS="--quick" for a one-minute run, "--n 1000" for more watchers.
bench: $(STAMP)
	$(LOCKED_INSTALL) -e ".[bench]"
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# A wheel and an sdist in $(DIST_DIR), built in an isolated environment and checked for PyPI.
DIST_DIR ?= dist
dist: $(STAMP)
	$(LOCKED_INSTALL) -e ".[dist]"
	rm -rf $(DIST_DIR)
	$(BIN)/uv build --quiet --out-dir $(DIST_DIR)
	$(BIN)/twine check --strict $(DIST_DIR)/*

clean:
	rm -rf $(VENV) .venv-* .mypy_cache .ruff_cache build dist

# guestlist — on a fresh Debian 12 machine `make run` and `make test` set everything up.
#
# DATABASE_URL (environment or `make … DATABASE_URL=…`) points every target at that
# database instead of the project-local cluster (scripts/local-db.sh, port 54329).
# The test suite starts a throwaway cluster of its own (or uses TEST_DATABASE_URL).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
LOCAL_DB := scripts/local-db.sh
PYTEST_ARGS ?=
SHELL_SCRIPTS := scripts/install.sh scripts/lock-runtime.sh scripts/local-db.sh scripts/pg_ctl .ci/run \
	scripts/failover.sh

export DATABASE_URL
# The database every target talks to: DATABASE_URL, else the local cluster's URL.
DB_URL = $${DATABASE_URL:-$$($(LOCAL_DB) url)}
# Start the local cluster unless DATABASE_URL names another server.
DB_ENSURE = if [[ -z "$${DATABASE_URL:-}" ]]; then $(LOCAL_DB) start; fi

.PHONY: help install install-test db-up db-down db-status migrate demo psql run \
	test test-sql test-py lint bench lock
# the local cluster (scripts/cluster.py, docs/deploy.md)
.PHONY: install-cluster cluster cluster-restart cluster-failover cluster-down cluster-status

help:
	@echo "make run        install, start the local database, migrate, load the demo, serve"
	@echo "make test       install-test, then the whole suite (pgTAP via pg_prove, pytest, browser)"
	@echo "make install    what serving needs: PostgreSQL 15 + pg_cron, node + npm (as root), .venv (runtime.lock), node_modules/ (jsqr)"
	@echo "make install-test   install, plus pgTAP, plpgsql_check, chromium, node, the test/bench extras and npm test tools (axe-core)"
	@echo "make lock       rewrite requirements/runtime.lock from pyproject's dependencies"
	@echo "make db-up | db-down | db-status   the project-local PostgreSQL cluster"
	@echo "make migrate | demo | psql         against DATABASE_URL or the local cluster"
	@echo "make test-sql | test-py | lint | bench"
	@echo "make cluster    HAProxy on CLUSTER_PORT (8080), pgbouncer, 3 app instances, 2 workers,"
	@echo "                PostgreSQL primary + hot standby, on 127.0.0.1 (state in .cluster/)"
	@echo "make cluster-restart | cluster-failover | cluster-status | cluster-down"

install:
	@scripts/install.sh runtime

install-test:
	@scripts/install.sh test

lock:
	@scripts/lock-runtime.sh

db-up: install
	@$(LOCAL_DB) start

db-down:
	@$(LOCAL_DB) stop

db-status:
	@$(LOCAL_DB) status

migrate: install
	@$(DB_ENSURE)
	$(VENV)/bin/guestlist migrate --database-url "$(DB_URL)"

demo: migrate
	$(VENV)/bin/guestlist demo --database-url "$(DB_URL)"

psql:
	@$(DB_ENSURE) >/dev/null
	psql "$(DB_URL)"

run: demo
	@export DATABASE_URL="$(DB_URL)" HTTPS="$${HTTPS:-0}"; \
	if [[ -z "$${ADMIN_TOKEN:-}" ]]; then \
		ADMIN_TOKEN=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))'); \
		export ADMIN_TOKEN; \
		echo "run: ADMIN_TOKEN=$$ADMIN_TOKEN (generated for this run; set ADMIN_TOKEN to keep one)"; \
	fi; \
	exec $(VENV)/bin/guestlist serve

test: install-test
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-sql: install-test
	$(VENV)/bin/pytest tests/db/test_pgtap.py tests/db/test_plpgsql_check.py $(PYTEST_ARGS)

test-py: install-test
	$(VENV)/bin/pytest --ignore=tests/db/test_pgtap.py --ignore=tests/db/test_plpgsql_check.py \
		$(PYTEST_ARGS)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@if command -v shellcheck >/dev/null; then shellcheck $(SHELL_SCRIPTS); \
	else bash -n $(SHELL_SCRIPTS) && echo "lint: shellcheck not installed, ran bash -n"; fi

bench: install-test
	bench/run.sh

# --- the local cluster: every tier as plain processes on 127.0.0.1 (scripts/cluster.py) ---
CLUSTER := $(PY) scripts/cluster.py

install-cluster:
	@scripts/install.sh cluster

cluster: install-cluster
	@$(CLUSTER) up

cluster-restart:
	@$(CLUSTER) restart

cluster-failover:
	@$(CLUSTER) failover

cluster-down:
	@$(CLUSTER) down

cluster-status:
	@$(CLUSTER) status

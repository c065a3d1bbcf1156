# The two commands: `make run` and `make test`. Everything else here serves them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.lock | cut -d' ' -f1)

# The first interpreter on PATH that is Python 3.12 or newer (pyenv honours .python-version).
PYTHON := $(shell for p in python3 python3.13 python3.12 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done)

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/oms
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/oms_bench
BENCH_ORDERS ?= 1000000
BENCH_RETAILERS ?= 20
LIVE_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/oms_live_bench
LIVE_BENCH_REDIS_URL ?= redis://127.0.0.1:6379/14

.PHONY: help install run test test-machine lint format migrations seed bench bench-peers bench-live reliability

help:
	@echo "make run   - install, migrate the embedded SQLite database, load demo data, serve on :8000"
	@echo "make test  - install and run lint, migration check and the whole test suite on Postgres and Redis"
	@echo "make bench - a fresh database of BENCH_ORDERS orders and the benchmarks (bench/README.md);"
	@echo "             BENCH_REUSE=1 BENCH_ARGS=\"--baseline HEAD~1\" times each page against a commit"
	@echo "make bench-peers - django-oscar's dashboard on the bench database's orders, timed side by side"
	@echo "make bench-live - one uvicorn process holding 200 live streams while changes are made"
	@echo "make reliability - the long runs of docs/reliability.md (1,000 worker faults, 2,000 order lives)"

$(STAMP): requirements.lock
	@if [ -z "$(PYTHON)" ]; then \
		echo "No Python 3.12 or newer found on PATH. Install one (pyenv install 3.12, apt install python3.12) and retry." >&2; \
		exit 1; fi
	@[ -x $(BIN)/python ] && $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
		|| { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $@

# Compiled translations are built here, not committed.
MESSAGES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

%.mo: %.po
	@command -v msgfmt >/dev/null || { echo "msgfmt not found: apt-get install gettext" >&2; exit 1; }
	msgfmt --check -o $@ $<

install: $(STAMP) $(MESSAGES)

run: export DEBUG ?= true
run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Demo logins (password for all: demo-password):"
	@echo "  agent        agent of acme"
	@echo "  manager      manager of acme"
	@echo "  admin        admin of acme"
	@echo "  globex.agent agent of globex"
	@echo "  multi.agent  agent of acme and globex"
	@echo ""
	@echo "Serving on http://127.0.0.1:8000  (Ctrl-C to stop)"
	$(BIN)/python manage.py runserver 127.0.0.1:8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations: install
	$(BIN)/python manage.py makemigrations

test: export DATABASE_URL = $(TEST_DATABASE_URL)
test: export TEST_REDIS_URL := $(TEST_REDIS_URL)
test: export DEBUG = false
test: export SECRET_KEY = test-only-secret-key-not-for-production-use-0123456789
test: export LOCK_ORDER_CHECK = raise
# test-machine first: it installs msgfmt, which `install` needs for the translations
test: test-machine install lint
	DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Postgres and Redis started when down, Chromium and gettext installed when missing (as root
# or through sudo); nothing when all is there. `make test` runs it with the test URLs.
test-machine:
	scripts/test-machine

# The benchmarks on a database of their own, made fresh unless BENCH_REUSE=1 (bench/README.md).
bench: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench: export DEBUG = false
bench: export SECRET_KEY = bench-only-secret-key-not-for-production-use-0123456789
bench: export ALLOWED_HOSTS = testserver,127.0.0.1,localhost
bench: install
	@if [ -z "$(BENCH_REUSE)" ]; then \
		$(BIN)/python bench/database.py --recreate && \
		$(BIN)/python manage.py migrate --no-input -v0 && \
		$(BIN)/python manage.py generate_data --orders $(BENCH_ORDERS) --retailers $(BENCH_RETAILERS); \
	else $(BIN)/python manage.py migrate --no-input -v0; fi
	$(BIN)/python manage.py collectstatic --no-input -v0
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# django-oscar's dashboard on the same orders, timed side by side (bench/README.md); needs the
# bench database, whose orders it copies into oms_oscar.
bench-peers: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench-peers: export BENCH_DATABASE_URL := $(BENCH_DATABASE_URL)
bench-peers: export DEBUG = false
bench-peers: export SECRET_KEY = bench-only-secret-key-not-for-production-use-0123456789
bench-peers: export ALLOWED_HOSTS = testserver,127.0.0.1,localhost
bench-peers: install
	bench/peers/setup_oscar.sh
	$(BIN)/python bench/peers/convert.py $(PEERS_CONVERT_ARGS)
	$(BIN)/python bench/peers/compare.py $(PEERS_ARGS)

# 200 live streams on one uvicorn process while changes are made (bench/README.md, "Live
# streams"): a small database of its own, made fresh, and a Redis database of its own.
bench-live: export DATABASE_URL = $(LIVE_BENCH_DATABASE_URL)
bench-live: export LIVE_REDIS_URL = $(LIVE_BENCH_REDIS_URL)
bench-live: export SECRET_KEY = bench-only-secret-key-not-for-production-use-0123456789
bench-live: install
	$(BIN)/python bench/live.py $(LIVE_ARGS)

# The long runs behind docs/reliability.md; `make test` runs the same tests shorter.
reliability: export DATABASE_URL = $(TEST_DATABASE_URL)
reliability: export TEST_REDIS_URL := $(TEST_REDIS_URL)
reliability: export DEBUG = false
reliability: export SECRET_KEY = test-only-secret-key-not-for-production-use-0123456789
reliability: export FAULT_RUNS = 1000
reliability: export HYPOTHESIS_EXAMPLES = 300
reliability: export HOSTILE_ALL = 1
reliability: export RESTART_DOWN_SECONDS = 10
reliability: export RESTART_AFTER_SECONDS = 15
reliability: export API_FUZZ_EXAMPLES = 250
reliability: export LIFE_EXAMPLES = 2000
reliability: export SOAK_SECONDS = 60
reliability: export LOCK_ORDER_CHECK = raise
reliability: test-machine install
	$(BIN)/python -m pytest -q tests/orders/test_worker_faults.py tests/orders/test_state_machine.py \
		tests/orders/test_concurrent_managers.py tests/oms/test_row_level_security.py \
		tests/test_isolation_sweep.py tests/test_url_safety_net.py tests/test_hostile_input.py \
		tests/test_database_restart.py tests/returns/test_api_fuzz.py tests/fulfilments/test_state_machine.py \
		tests/returns/test_state_machine.py tests/test_order_life.py tests/test_concurrency_soak.py \
		tests/test_hostile_values.py

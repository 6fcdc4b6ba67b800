# Flowline. `make run` and `make test` install whatever is missing (system packages, a local
# TimescaleDB, a virtualenv with pinned dependencies); every target is idempotent.
SHELL := /bin/bash
PY := .venv/bin/python
RUNTIME_STAMP := .venv/.runtime-installed
DEV_STAMP := .venv/.dev-installed

.PHONY: run test db db-stop demo sim lint format bench audit clean deps

run: deps
	@$(MAKE) --no-print-directory _embedded-db-if-needed
	$(PY) main.py db init
	$(PY) main.py record

test: deps $(DEV_STAMP)
	@scripts/localdb.sh start
	@# the report's render test screenshots it in Debian's headless Chromium; without it, skipped
	@bash scripts/install_chromium.sh || echo "chromium not installed: the report's render test will be skipped"
	@# the failover test runs pg_auto_failover from Debian's packages; without them, skipped
	@bash scripts/install_pgautofailover.sh || echo "pg_auto_failover not installed: the failover test will be skipped"
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	@# pytest exits 5 when it collects nothing; that is not a failure of the build
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran"; rc=0; fi; exit $$rc

db: deps
	@scripts/localdb.sh start
	@DATABASE_URL=$$(scripts/localdb.sh url) $(PY) main.py db init >/dev/null
	@echo "DATABASE_URL=$$(scripts/localdb.sh url)"
	@echo "$$(scripts/localdb.sh psql)"

db-stop:
	@scripts/localdb.sh stop
	@echo "embedded database stopped (data kept in var/pg)"

# `make demo MINUTES=5` stops by itself after five minutes; without it, Ctrl-C stops it
demo: deps
	@$(MAKE) --no-print-directory _embedded-db-if-needed
	$(PY) main.py demo $(if $(MINUTES),--minutes $(MINUTES))

sim: deps
	$(PY) main.py sim --symbols BTCUSDT,ETHUSDT --seed 1 --port 0

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(DEV_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: deps $(DEV_STAMP)
	@scripts/localdb.sh start
	$(PY) bench/indicators.py
	$(PY) bench/sim_throughput.py
	$(PY) bench/recorder.py
	$(PY) bench/recorder_e2e.py
	$(PY) bench/backtest.py
	$(PY) bench/storage.py
	@bash scripts/install_pgautofailover.sh
	$(PY) bench/failover.py

# Known vulnerabilities in the pinned requirements, from PyPI's advisory data: it needs the
# network, so it is not part of `make test`. pip-audit gets a virtualenv of its own, so its
# dependencies never mix with the project's.
AUDIT_VENV := var/build/audit
audit:
	@test -x $(AUDIT_VENV)/bin/pip-audit || { bash scripts/make_venv.sh $(AUDIT_VENV) \
		&& $(AUDIT_VENV)/bin/python -m pip install -q --disable-pip-version-check pip-audit==2.10.1; }
	@# --strict: a package the advisory data does not know fails the audit instead of passing it
	$(AUDIT_VENV)/bin/pip-audit --strict --progress-spinner off -r requirements.txt -r requirements-dev.txt

# Removes what `make` built; keeps the embedded database's data (var/pg), which may hold months
# of recordings. Delete var/pg by hand (after `make db-stop`) to start from nothing.
clean:
	rm -rf .venv var/build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

deps: $(RUNTIME_STAMP)
	@bash scripts/install_timescaledb.sh

$(RUNTIME_STAMP): requirements.txt
	@bash scripts/make_venv.sh .venv
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

_embedded-db-if-needed:
	@if $(PY) -c 'import sys; from settings import Settings; sys.exit(0 if Settings.from_env().database_is_embedded else 1)'; then \
		scripts/localdb.sh start; echo "using the embedded database: $$(scripts/localdb.sh url)"; fi

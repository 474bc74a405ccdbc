# ketamine-outcomes: `make demo` and `make test` work on a fresh machine (Python 3.11 + pip).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= data
DEMO := $(DATA)/demo
KEY_FILE ?= $(HOME)/.config/ketamine-outcomes/pseudonym.key
export OUTCOMES_WAREHOUSE ?= $(DATA)/warehouse.duckdb
# A key given in the environment wins; otherwise the demo uses (and creates) the key file.
ifeq ($(strip $(OUTCOMES_PSEUDONYM_KEY)$(OUTCOMES_PSEUDONYM_KEY_FILE)),)
export OUTCOMES_PSEUDONYM_KEY_FILE := $(KEY_FILE)
endif
DEMO_MONTHS ?= 6
DEMO_PATIENTS ?= 600
TEST_ARGS ?=

.PHONY: help venv system-deps key demo test test-fast fuzz serve bench clean

help:
	@echo "make demo   - build .venv, make a synthetic registry, load it, write a report"
	@echo "make test   - run the test suite"
	@echo "make fuzz   - random export histories in arrival and exported_at order (SEEDS=0-50)"
	@echo "make serve  - Prefect server + outcomes serve (event-driven loading)"
	@echo "make bench  - ingest benchmark, median of 3 runs (docs/benchmarks.md)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

venv: $(STAMP)

# Debian packages the report (PDF, its render check) needs; installed only when missing.
system-deps:
	@bash .ci/system-deps.sh

key: $(STAMP)
	@if [ -z "$$OUTCOMES_PSEUDONYM_KEY" ]; then $(BIN)/outcomes key init --path "$$OUTCOMES_PSEUDONYM_KEY_FILE"; fi

demo: $(STAMP) key system-deps
	rm -rf $(DEMO) $(OUTCOMES_WAREHOUSE) $(OUTCOMES_WAREHOUSE).wal
	$(BIN)/outcomes synth --registry northside-ketamine-clinic --patients $(DEMO_PATIENTS) \
	    --months $(DEMO_MONTHS) --start 2025-01-01 --seed 7 --bad-rows 0.002 --out $(DEMO)/exports
	$(BIN)/outcomes ingest $(DEMO)/exports
	$(BIN)/outcomes marts
	$(BIN)/outcomes report --month $$($(BIN)/outcomes sql "SELECT strftime(max(exported_at), '%Y-%m') FROM ops.loads WHERE status = 'loaded'" --format csv | tail -n 1) --out $(DEMO)/report
	@echo
	@echo "Warehouse: $(OUTCOMES_WAREHOUSE)"
	@echo "Report:    $(DEMO)/report/report.html (and report.pdf, figures.csv)"
	@echo "Try:       $(BIN)/outcomes sql \"SELECT drug, route, count(*) AS sessions FROM core.sessions GROUP BY ALL ORDER BY sessions DESC\""

# worksteal: the slowest tests (services, ~1 min each) would otherwise leave one worker idle at the end
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -n 2 --dist worksteal $(TEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal -m "not e2e" $(TEST_ARGS)

# Stops at the first seed whose two orders differ; `--show SEED` prints its exports.
fuzz: $(STAMP)
	$(BIN)/python tests/e2e/arrival_fuzz.py --seeds $(or $(SEEDS),0-50)

serve: $(STAMP) key
	$(BIN)/outcomes serve --with-server

bench: $(STAMP) key
	$(BIN)/python bench/ingest.py --rows 1000000 --repeat 3

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache

# The two commands in the README are `make demo` and `make test`; every target installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest system-deps bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	PYTHON=$(PYTHON) scripts/install-system-deps.sh base
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-installs only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

system-deps:
	scripts/install-system-deps.sh test

demo: $(VENV)/.installed
	scripts/install-system-deps.sh demo
	$(BIN)/evaluation-hub demo --reset --script --play E07

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# Two workers (pytest-xdist), each in Python's development mode like the controller: most of the
# suite's time is spent waiting on real processes (PostgreSQL, hubs, seat agents, Chromium).
WORKERS ?= 2
pytest: $(VENV)/.installed system-deps
	$(BIN)/python -X dev -m pytest --tx "$(WORKERS)*popen//python=$(abspath $(BIN))/python -X dev" \
		--dist load --durations=25 $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(VENV)/.installed
	scripts/install-system-deps.sh bench
	$(BIN)/python bench/booking.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/report_pdf.py
	$(BIN)/python bench/media.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

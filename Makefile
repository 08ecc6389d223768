# The two quickstart commands: `make run` (the main job) and `make test` (the checks).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck unit bench install generate screenshots

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# The main job, on the embedded default store (~/.codewhale/state.db or $$CODEWHALE_HOME):
# the session picker; with no sessions yet, `demo --if-empty` seeds sample ones first.
run: $(BIN)/.installed
	$(BIN)/threadloom demo --if-empty
	$(BIN)/threadloom threads
	@echo
	@echo "threadloom is installed in $(BIN)/: run $(BIN)/threadloom --help,"
	@echo "or activate the environment first (. $(BIN)/activate) and run threadloom --help."

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench examples tools
	$(BIN)/ruff format --check src tests bench examples tools

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest

test: lint typecheck unit

# The async store's methods, generated from the synchronous store's signatures
# (tests/test_async_generated.py fails while src/threadloom/aio/_generated.py is stale).
generate: $(BIN)/.installed
	$(BIN)/python tools/generate_async.py

# Benchmarks beside the original, the raw-SQL floor and peers (a few minutes):
# writes docs/benchmarks.md and docs/benchmarks.png.
bench: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench

# The viewer's screenshots in docs/screenshots/ (the README shows them), made by its
# browser tests: needs the browser extra and Chromium (see .ci/run).
screenshots: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[browser]'
	THREADLOOM_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/server/test_browser.py -q

# The two commands of the README: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test check bench setup

$(BIN)/kedge: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/kedge

setup: $(BIN)/kedge

## Run Kedge on its embedded default: ./kedge.db, ./specs, the local Docker socket.
run: setup
	mkdir -p specs
	$(BIN)/kedge serve --specs specs --db kedge.db

## Run the whole test suite (Docker tests skip without a daemon unless KEDGE_REQUIRE_DOCKER=1).
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The quality gates that CI runs before the tests.
check: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

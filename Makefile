# The two commands of the README: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# `make run`'s store, spec folder and address; an empty ADDR is kedge serve's default
# (127.0.0.1:8080), e.g. `make run ADDR=127.0.0.1:9000`
DB     ?= kedge.db
SPECS  ?= specs
ADDR   ?=
IMAGES := $(BIN)/python -m images --examples

.PHONY: run test check bench setup images

$(BIN)/kedge: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/kedge

setup: $(BIN)/kedge

## The local images of the examples and tests, each built once from Debian's packages and
## kept under its recipe's digest (no registry needed); where no registry answers, the
## examples are pointed at them (examples/.env, a copy of examples/offline.env).
images: setup
	$(IMAGES)

## Run Kedge on its embedded default: ./kedge.db, ./specs, the local Docker socket. The
## images first; the server is of use without them (a registry may answer), so it still runs
## when they cannot be made, after the line that says what to install.
run: setup
	-$(IMAGES)
	mkdir -p $(SPECS)
	$(BIN)/kedge serve --specs $(SPECS) --db $(DB) $(if $(ADDR),--addr $(ADDR))

## Run the whole test suite (Docker tests skip without a daemon unless KEDGE_REQUIRE_DOCKER=1).
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The quality gates that CI runs before the tests.
check: setup
	$(BIN)/ruff check src tests bench images
	$(BIN)/ruff format --check src tests bench images
	$(BIN)/mypy --strict src images
	$(BIN)/lint-imports

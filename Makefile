# The two commands that matter: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench setup clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/threadline serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The suite on PYTEST_WORKERS processes (pytest-xdist), at most one per core; PYTEST_WORKERS=0 runs it in
# this process. Each worker has its own temporary folder, PostgreSQL database and Redis database.
# --dist loadscope sends each module to one worker, so a module-scoped server process starts once
# (loadgroup would be finer, but xdist 3.8 cannot tag its groups on pytest 9).
CORES := $(shell nproc 2>/dev/null || echo 1)
PYTEST_WORKERS ?= $(shell [ $(CORES) -lt 2 ] && echo $(CORES) || echo 2)

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

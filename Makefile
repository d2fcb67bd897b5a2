# Everything a newcomer needs: `make run` and `make test`. Each sets up the
# virtualenv on first use, so a fresh machine needs only Python 3.11.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint format install clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever a requirements file changes.
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Run web (http://127.0.0.1:8000), Celery worker and beat with a demo clinic.
run: $(STAMP)
	$(BIN)/python -m devenv run

## Run the whole test suite against real PostgreSQL and Redis.
test: $(STAMP)
	$(BIN)/python -m devenv exec -- $(BIN)/python -m pytest $(PYTEST_ARGS)

## Lint and format checks (what CI enforces).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Delete the embedded servers' data (stop `make run` first).
clean-data:
	rm -rf .devdata

# Everything a newcomer needs: `make run` and `make test`. Each sets up the
# virtualenv on first use, so a fresh machine needs only Python 3.11.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
BENCH_ARGS ?= --patients 10000 100000

.PHONY: run test lint format install clean-data chromium bench load faults messages

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

## The browser test drives Debian's chromium; install it when we can (root), else say how.
chromium:
	@command -v chromium >/dev/null 2>&1 || test -n "$$CHROMIUM_PATH" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser test needs Chromium: sudo apt-get install chromium (or set CHROMIUM_PATH)"; \
	  fi; }

## Run the whole test suite against real PostgreSQL and Redis.
test: $(STAMP) chromium
	$(BIN)/python -m devenv exec -- $(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks at chain scale, each figure beside its limit, into BENCHMARKS.md (figures, not tests; 20-40 min).
bench: $(STAMP)
	TEST_DATABASE_NAME=clinic_bench $(BIN)/python -m devenv exec -- $(BIN)/python benchmarks/run.py $(BENCH_ARGS)

## Load: gunicorn (2 workers) under mixed API traffic for 60 s, then SQL checks; fails on any 5xx or lost booking.
load: $(STAMP)
	TEST_DATABASE_NAME=clinic_load $(BIN)/python -m devenv exec -- $(BIN)/python reliability/load.py

## Restarts: PostgreSQL and Redis restarted and a Celery worker SIGKILLed under traffic and mid-dispatch, on
## servers of its own (.devdata/faults/); fails on any 500, lost booking or lost message.
faults: $(STAMP)
	$(BIN)/python reliability/faults.py

## Translations: collect the strings patients read into locale/*/LC_MESSAGES/django.po, then compile them
## (needs GNU gettext: apt-get install gettext). Commit both the .po and the .mo.
messages: $(STAMP)
	$(BIN)/python -m devenv exec -- $(BIN)/python manage.py makemessages -l es --no-obsolete --ignore=.venv \
	  --ignore=tests --ignore=benchmarks --ignore=reliability --ignore=devenv --ignore='*/vendor/*' --ignore=.devdata
	$(BIN)/python -m devenv exec -- $(BIN)/python manage.py compilemessages --ignore=.venv

## Lint and format checks, type checks and the import rules between apps (what CI enforces).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# mypy's Django plugin imports the settings, which insist on real values;
	@# these placeholders only let them load (nothing connects to anything).
	DATABASE_URL=postgres://mypy@localhost/mypy REDIS_URL=redis://localhost:6379/0 \
	  SECRET_KEY=mypy-only $(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Delete the embedded servers' data (stop `make run` first).
clean-data:
	rm -rf .devdata

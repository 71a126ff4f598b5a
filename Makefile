# Passthrough: `make run` serves the demo, `make test` runs the whole suite. Both set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# `make run` passes PORT to every process it starts: SITE_URL (links in emails) defaults to http://127.0.0.1:$PORT.
PORT ?= 8000
# The first interpreter >= 3.12 that actually runs (pyenv shims exist for inactive versions too).
PYTHON_CANDIDATES := python3.13 python3.12 python3.14 \
	$(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3) \
	$(wildcard /usr/local/bin/python3.1[2-9]) python3
FIND_PYTHON = for c in $(PYTHON_CANDIDATES); do \
	  if command -v "$$c" >/dev/null 2>&1 && "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    command -v "$$c"; exit 0; fi; done; exit 1

.PHONY: help install run worker test lint format lock browser check-deploy clean

help:
	@echo "make run    - set up and serve the demo on http://127.0.0.1:$(PORT) (SQLite + embedded broker)"
	@echo "make test   - run the whole suite (unit, PostgreSQL/Redis when configured, browser)"
	@echo "make lint   - ruff check + format check + import layers (lint-imports)"
	@echo "make lock   - re-pin requirements/*.txt from requirements/*.in"

$(VENV)/.installed: requirements/dev.txt
	@python="$$($(FIND_PYTHON))" || { echo "No Python >= 3.12 found (tried: $(PYTHON_CANDIDATES))." >&2; exit 1; }; \
	  echo "Using $$python ($$($$python --version))"; \
	  [ -x $(PY) ] && $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null || "$$python" -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	PORT=$(PORT) $(PY) manage.py seed_demo
	@echo "Starting the Celery worker (with beat) and the web server on http://127.0.0.1:$(PORT)/ - Ctrl-C stops both."
	@trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	  PORT=$(PORT) $(VENV)/bin/celery -A config worker --beat --loglevel=INFO --concurrency=1 & worker=$$!; \
	  PORT=$(PORT) $(PY) manage.py runserver 127.0.0.1:$(PORT)

worker: install
	PORT=$(PORT) $(VENV)/bin/celery -A config worker --beat --loglevel=INFO

# Browser for the Playwright tests: system Chromium if present, else install one.
browser:
	@b="$$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"; \
	if [ -z "$$b" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Chromium with apt..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif [ -z "$$b" ]; then \
	  echo "Installing Playwright's Chromium..."; $(VENV)/bin/playwright install chromium; fi

test: install browser
	PYTHONDONTWRITEBYTECODE=1 $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock: install
	cd requirements && ../$(VENV)/bin/python -m pip install --quiet pip-tools && \
	  ../$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o base.txt base.in && \
	  ../$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o dev.txt dev.in

check-deploy: install
	DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY="$$(head -c 48 /dev/urandom | base64)" \
	  ALLOWED_HOSTS=passthrough.example EMAIL_URL="smtp+tls://mail.passthrough.example:587" \
	  $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf var/celery var/test-*.sqlite3 .pytest_cache

# `make book` and `make test` work on a fresh clone: both create .venv and install first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

SYSTEM := $(VENV)/.system-packages

.PHONY: book test test-fast bench release lint format clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

# Debian packages the tests use: bubblewrap (the grading sandbox) and chromium (browser tests).
$(SYSTEM): $(INSTALLED)
	@if command -v bwrap >/dev/null && command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap chromium; \
	else echo "Please install bubblewrap and chromium (Debian: sudo apt-get install bubblewrap chromium)"; fi
	touch $(SYSTEM)

## Build the textbook into _build/html (notebooks executed, results cached).
book: $(INSTALLED)
	$(BIN)/jupyter-book build . -W --keep-going

## Run the whole test suite (unit, notebooks, end-to-end, book build).
test: $(SYSTEM)
	$(BIN)/python -m pytest -n 2 --dist loadfile

## The quick layer only: skips the book build and nbgrader end-to-end runs.
test-fast: $(SYSTEM)
	$(BIN)/python -m pytest -m 'not slow'

## Regenerate exercises/ from solutions/ (nbgrader generate_assignment).
release: $(INSTALLED)
	$(BIN)/autograder release

lint: $(INSTALLED)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf _build course .pytest_cache test-artifacts

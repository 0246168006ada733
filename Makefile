# `make book` and `make test` work on a fresh clone: both create .venv and install first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

SYSTEM := $(VENV)/.system-packages

.PHONY: book test test-fast bench release lint format clean axe

# The whole toolchain (the dev extra), torch pinned by constraints.txt to the CPU wheel the
# build machines hold. A student's install is only `pip install cnn-course` (see README).
$(INSTALLED): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(INSTALLED)

# Debian packages the tests use: bubblewrap (the grading sandbox) and chromium (browser tests).
$(SYSTEM): $(INSTALLED)
	@if command -v bwrap >/dev/null && command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap chromium; \
	else echo "Please install bubblewrap and chromium (Debian: sudo apt-get install bubblewrap chromium)"; fi
	touch $(SYSTEM)

MATHJAX := _vendor/mathjax/tex-chtml.js

# MathJax 3 from the npm registry, served by the site itself (readers offline still get math).
$(MATHJAX):
	rm -rf $(VENV)/mathjax-pack && mkdir -p $(VENV)/mathjax-pack _vendor/mathjax
	cd $(VENV)/mathjax-pack && npm pack --silent mathjax@3.2.2 >/dev/null && tar xzf mathjax-3.2.2.tgz
	cp $(VENV)/mathjax-pack/package/es5/tex-chtml.js _vendor/mathjax/
	mkdir -p _vendor/mathjax/output/chtml/fonts
	cp -r $(VENV)/mathjax-pack/package/es5/output/chtml/fonts/woff-v2 _vendor/mathjax/output/chtml/fonts/

AXE := $(VENV)/axe-core/axe.min.js

# axe-core from the npm registry, for the browser tests' accessibility audit (injected into each
# page by tests/test_book.py; not part of the site).
$(AXE):
	rm -rf $(VENV)/axe-pack && mkdir -p $(VENV)/axe-pack $(VENV)/axe-core
	cd $(VENV)/axe-pack && npm pack --silent axe-core@4.14.1 >/dev/null && tar xzf axe-core-4.14.1.tgz
	cp $(VENV)/axe-pack/package/axe.min.js $(VENV)/axe-pack/package/LICENSE $(VENV)/axe-core/

axe: $(AXE)

## Build the textbook into _build/html (notebooks executed, results cached), with the student
## wheel the notebooks install in _build/html/_static/wheels/ (book/_ext/course_site.py).
book: $(INSTALLED) $(MATHJAX)
	$(BIN)/jupyter-book build . -W --keep-going

## Run the whole test suite (unit, notebooks, end-to-end, book build).
test: $(SYSTEM) $(MATHJAX) $(AXE)
	$(BIN)/python -m pytest -n 2 --dist loadfile

## The quick layer only: skips the book build and nbgrader end-to-end runs.
test-fast: $(SYSTEM)
	$(BIN)/python -m pytest -m 'not slow'

## Timings as ratios measured in one run (convolution, grading vs nbgrader, book builds).
bench: $(SYSTEM)
	$(BIN)/python bench/run.py

## Regenerate exercises/ from solutions/ (nbgrader generate_assignment).
release: $(INSTALLED)
	$(BIN)/autograder release

lint: $(INSTALLED)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf _build course .pytest_cache test-artifacts _vendor

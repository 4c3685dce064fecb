# The two commands of the quick start: `make book` and `make test`.
# Both create .venv and install everything first; nothing else is needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
VENDORED := _vendor/.installed
NOTEBOOKS := $(wildcard book/*.ipynb) $(wildcard solutions/*.ipynb)

.PHONY: install vendor book test test-fast test-browser execute bench clean

install: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=24"
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

# MathJax 3, the ipywidgets HTML manager and require.js, from the npm registry,
# served from the book's own static files so the HTML reads offline.
vendor: $(VENDORED)

$(VENDORED): tools/offline/package.json tools/offline/package-lock.json tools/offline/vendor.sh
	bash tools/offline/vendor.sh
	touch $@

book: install vendor
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --builder html -W --keep-going
	@echo "Book: _build/html/index.html"

NBVAL := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

# pytest runs two workers on two cores: one BLAS/OpenMP thread each avoids
# oversubscription (2-thread OpenBLAS made small triangular solves ~150x slower under load).
test test-fast execute: export OMP_NUM_THREADS = 1
test test-fast execute: export OPENBLAS_NUM_THREADS = 1
test test-fast execute: export MKL_NUM_THREADS = 1

# The whole suite: unit, statistical, grading and notebook tests, then strict nbval
# over every chapter and solution notebook (their stored outputs must match).
test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile tests --ignore=tests/browser
	$(BIN)/python -m pytest -n 2 --dist loadfile $(NBVAL) book solutions

test-fast: install
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow" tests --ignore=tests/browser

test-browser: install
	$(BIN)/python -m pytest -p no:xdist tests/browser/test_offline_book.py

# Re-execute every chapter and solution notebook in place (deterministic: fixed seeds).
execute: install
	$(BIN)/python tools/execute_notebooks.py $(or $(NB),$(NOTEBOOKS))

bench: install
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build _vendor

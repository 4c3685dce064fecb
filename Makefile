# The two commands of the quick start: `make book` and `make test`.
# Both create .venv and install everything first; nothing else is needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev
VENDORED := _vendor/.installed
NOTEBOOKS := $(wildcard book/*.ipynb) $(wildcard solutions/*.ipynb)

.PHONY: install install-dev vendor book lab test test-nbval test-fast test-browser execute bench clean

# The learner's install (requirements.txt: library, notebooks, JupyterLab, the book).
# On Linux x86-64 torch's CPU build comes first from PyTorch's index (falls back to the
# registry's pinned torch within seconds when that index is unreachable).
install: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml setup.py tools/install_torch_cpu.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=24"
	bash tools/install_torch_cpu.sh $(BIN)/python requirements.txt
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

# Tests, browser tests and benchmarks on top (requirements-dev.txt).
install-dev: $(DEV_INSTALLED)

$(DEV_INSTALLED): $(INSTALLED) requirements-dev.txt
	$(BIN)/python -m pip install -r requirements-dev.txt
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

# JupyterLab at the repository root with the course's kernel ("Python (pgnotes)").
# Port 8888, or the next free one; `make lab PORT=9000` asks for one (an error if it is busy).
lab: install
	$(BIN)/python -m ipykernel install --sys-prefix --name pgnotes --display-name "Python (pgnotes)" >/dev/null
	$(BIN)/python tools/lab.py $(if $(PORT),--port $(PORT))

NBVAL := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

# pytest runs two workers on two cores: one BLAS/OpenMP thread each avoids
# oversubscription (2-thread OpenBLAS made small triangular solves ~150x slower under load).
test test-fast test-nbval execute: export OMP_NUM_THREADS = 1
test test-fast test-nbval execute: export OPENBLAS_NUM_THREADS = 1
test test-fast test-nbval execute: export MKL_NUM_THREADS = 1

STANDALONE := tests/test_standalone_notebooks.py

# The whole suite: unit, statistical, grading and notebook tests, then every chapter,
# exercise and solution notebook run alone with pgnotes installed from its wheel, as on
# Colab: strict nbval on the chapters and solutions (their stored outputs must match).
test: install-dev
	$(BIN)/python -m pytest -n 2 --dist loadfile tests --ignore=tests/browser --ignore=$(STANDALONE)
	$(BIN)/python -m pytest -n 2 --dist load $(STANDALONE)

# Strict nbval in the clone itself (the standalone test above is what `make test` runs).
test-nbval: install-dev
	$(BIN)/python -m pytest -n 2 --dist loadfile $(NBVAL) book solutions

test-fast: install-dev
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow" tests --ignore=tests/browser --ignore=$(STANDALONE)

# Headless Chromium: the built book offline (after `make book`), and a learner's path
# through JupyterLab (open an exercise, run it, solve one function, re-run).
test-browser: install-dev
	$(BIN)/python -m pytest -p no:xdist tests/browser

# Re-execute every chapter and solution notebook in place (deterministic: fixed seeds).
execute: install
	$(BIN)/python tools/execute_notebooks.py $(or $(NB),$(NOTEBOOKS))

bench: install-dev
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build _vendor

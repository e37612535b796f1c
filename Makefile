# One-Shot Steel: the two commands a user needs are `make book` and `make test`.
# Everything else here is a building block of those two.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Colab and other managed environments keep their own torch; here we only install it when missing
# (or when torchvision does not import against the installed torch). TORCH_PIP_ENV lets CI point
# pip at a specific index; TORCH_SPEC lets it pin versions already in its cache.
TORCH_SPEC ?= torch torchvision
TORCH_PIP_ENV ?=
# Run mode of the notebooks: empty = each notebook's default (full on a GPU, quick on a CPU);
# smoke | quick | full to force one (CI's book test uses smoke).
MODE ?=
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help env install data data-vibration data-synthetic book book-student book-instructor browser-deps test test-package lint clean

help:
	@echo "make book   - set up, fetch data (or fall back to the synthetic stand-in), execute and build the HTML book"
	@echo "make book-student / book-instructor - the book without / with exercise solutions"
	@echo "make student-notebooks - the chapters without solutions, for the student edition's launch buttons"
	@echo "make test   - set up and run the whole test suite (what CI runs)"
	@echo "make test-package - the package tests only (tests/package): the quick loop"
	@echo "make data   - fetch and verify NEU-CLS into data/neu-cls"
	@echo "make data-vibration - fetch and verify the CWRU bearing recordings into data/cwru-bearings (chapter 11)"
	@echo "make lint   - ruff and the workflow audit (zizmor)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# The stamp re-installs when the packaging metadata changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(TORCH_PIP_ENV) $(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e ".[book,dev,onnx]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

env install: $(VENV)/.installed

data: install
	$(PY) -m oneshot_steel fetch-data

data-vibration: install
	$(PY) -m oneshot_steel fetch-vibration-data

data-synthetic: install
	$(PY) -m oneshot_steel make-synthetic

# Uses ONESHOT_STEEL_DATA when set; otherwise fetches the real set and, when that is impossible,
# builds on the synthetic stand-in and says so loudly (every page then carries a warning).
# Three editions, one execution cache (book/_ext/oneshot_book.py reads ONESHOT_STEEL_EDITION):
#   make book             the complete book, solutions folded        -> _build/html
#   make book-instructor  the same, kept apart for a course          -> _build/instructor/_build/html
#   make book-student     every solution left out                    -> _build/student/_build/html
BOOK_EDITION ?= complete
BOOK_OUTPUT ?=
book-instructor: BOOK_EDITION = instructor
book-instructor: BOOK_OUTPUT = --path-output _build/instructor
book-student: BOOK_EDITION = student
book-student: BOOK_OUTPUT = --path-output _build/student
book book-student book-instructor: install
	@set -e; \
	if [ -z "$$ONESHOT_STEEL_DATA" ]; then \
	  if $(PY) -m oneshot_steel fetch-data; then export ONESHOT_STEEL_DATA="$(CURDIR)/data/neu-cls"; \
	  else \
	    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	    echo "!!! The real NEU-CLS data could not be fetched: building the book on the       !!!"; \
	    echo "!!! SYNTHETIC stand-in. Numbers in this build say nothing about real steel.     !!!"; \
	    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	    export ONESHOT_STEEL_DATA=synthetic; fi; \
	fi; \
	export ONESHOT_STEEL_MODE="$${ONESHOT_STEEL_MODE:-$(MODE)}"; \
	export ONESHOT_STEEL_EDITION="$(BOOK_EDITION)"; \
	echo "Building the $(BOOK_EDITION) book: data=$$ONESHOT_STEEL_DATA mode=$${ONESHOT_STEEL_MODE:-auto (full on a GPU, quick on a CPU)}"; \
	$(VENV)/bin/jupyter-book build . -W -n --keep-going $(BOOK_OUTPUT)

# The student notebooks (src/oneshot_steel/student.py): every chapter of _toc.yml without its
# exercise solutions (text and gated code cells), written whole to _build/student-notebooks/book/
# and then swapped in. The book workflow publishes them to the `student` branch, which the
# student edition's Colab and Binder buttons open (see book/instructors.md).
.PHONY: student-notebooks
student-notebooks: install
	$(PY) -m oneshot_steel.student --out _build/student-notebooks

# What the browser test needs: Chromium (the Debian package; ONESHOT_STEEL_CHROMIUM may name
# another Chromium or Chrome instead) and a local MathJax 3, so the book renders offline.
MATHJAX_ES5 := _build/mathjax/node_modules/mathjax/es5
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps:
	@if [ -z "$$ONESHOT_STEEL_CHROMIUM" ] && [ ! -x /usr/bin/chromium ]; then \
	  $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; \
	fi
	@if [ ! -f $(MATHJAX_ES5)/tex-mml-chtml.js ]; then \
	  command -v npm >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y npm; }; \
	  npm install --prefix _build/mathjax --no-audit --no-fund mathjax@3; \
	fi

# Assignment variants (src/oneshot_steel/variants.py; see book/instructors.md): every variant of
# the course's catalogue, run in $(MODE) mode (smoke when MODE is empty) into _build/variants/ (one notebook each, plus
# variants.json). VARIANTS="name ..." runs only those; VARIANTS_FLAGS=--prepare-only writes the
# parameterised notebooks without running them (the hand-out for students).
VARIANTS ?=
VARIANTS_FLAGS ?=
.PHONY: variants
variants: install
	$(PY) -m oneshot_steel.variants --mode "$${ONESHOT_STEEL_MODE:-$(or $(MODE),smoke)}" --out _build/variants \
	  $(addprefix --only ,$(VARIANTS)) $(VARIANTS_FLAGS)

# Two pytest-xdist workers with one torch thread each (PYTEST_WORKERS=0: one process). The
# tests that execute chapters stay together on one worker, in book order (tests/book/conftest.py
# groups them); the rest share the other. On 2 idle cores the whole CI run takes 16 min 28 s
# (21 min 7 s in one process; benchmarks/RESULTS.md, "CI on 2 cores"). A run that stalled 600 s
# in chapter 3's widget cell was jupyter_client's lost wake-up, now worked around for every
# papermill run of the tests (tests/book/kernel_polling.py).
PYTEST_WORKERS ?= 2
PYTEST_THREADS ?= $(if $(filter 0,$(PYTEST_WORKERS)),,1)
test: install browser-deps lint
	$(if $(PYTEST_THREADS),OMP_NUM_THREADS=$(PYTEST_THREADS) )$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25

# The package tests only (tests/package, one file per module): a few minutes, for a quick loop.
test-package: install
	$(PY) -m pytest tests/package

# ruff (lint and formatting), and zizmor's offline audit of the GitHub workflows (actions pinned to commit SHAs,
# least permissions, no persisted credentials where nothing pushes).
lint: install
	$(VENV)/bin/ruff check src tests data_scripts benchmarks
	$(VENV)/bin/ruff format --check src tests data_scripts benchmarks
	$(VENV)/bin/zizmor --offline --no-progress .github/workflows/

clean:
	rm -rf _build build .pytest_cache

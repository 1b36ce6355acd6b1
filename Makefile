# The README's commands.  `make demo` and `make test` both set everything up from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.graphhyper-installed
SHARED_DATA := $(abspath ../shared/data)
export GRAPHHYPER_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
export DGLBACKEND := pytorch
PYTEST_ARGS ?=

.PHONY: setup test lint docs demo bench clean

setup: $(STAMP)

$(STAMP): requirements-dev.txt setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy graphhyper

test: setup lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d site

demo: setup
	$(PY) scripts/demo.py

bench: setup
	for s in scripts/bench/*.py; do echo "== $$s"; $(PY) $$s || exit 1; done

clean:
	rm -rf $(VENV) demo-output site .pytest_cache .ruff_cache .mypy_cache *.egg-info

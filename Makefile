# Everything a fresh machine needs: `make chat` and `make test` create the venv themselves.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: chat test lint bench demo clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

chat: $(STAMP)
	$(BIN)/backoffice chat

demo: $(STAMP)
	$(BIN)/backoffice demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check agent tools tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/store_bench.py
	$(BIN)/python bench/reports_bench.py
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/cli_bench.py --sizes 1000,10000 --runs 3

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Everything a fresh machine needs: `make chat` and `make test` create the venv themselves.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# In a checkout the book is the repository's data/ (an installed backoffice uses the per-user
# data folder instead; see "Where your data lives" in the README).
BOOK ?= $(CURDIR)/data

.PHONY: chat test lint bench demo clean eval

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

chat: $(STAMP)
	$(BIN)/backoffice --data-dir $(BOOK) chat

demo: $(STAMP)
	$(BIN)/backoffice --data-dir $(BOOK) demo

# Every test twice: on the files, then with the book on a PostgreSQL server the tests start
# (Debian's postgresql package: apt-get install -y postgresql; .ci/run installs it when absent).
test: $(STAMP)
	$(BIN)/python -m pytest
	bash tests/pg/ensure_server.sh
	$(BIN)/python -m pytest --backend=postgresql

# the scenario suite against the real Claude (ANTHROPIC_API_KEY), K runs each: pass^1 and pass^K
K ?= 3
eval: $(STAMP)
	$(BIN)/python -m tests.scenarios.eval --k $(K)

# mypy cannot follow the package-dir mapping (backoffice.agent is agent/): .lint/backoffice is
# the installed package's shape as symlinks, and mypy checks that (mypy_path in pyproject.toml).
lint: $(STAMP)
	@mkdir -p .lint/backoffice
	@for part in __init__.py __main__.py; do ln -sfn ../../backoffice/$$part .lint/backoffice/$$part; done
	@for part in agent tools; do ln -sfn ../../$$part .lint/backoffice/$$part; done
	$(BIN)/ruff check backoffice agent tools tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/store_bench.py
	$(BIN)/python bench/reports_bench.py
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/startup_bench.py
	$(BIN)/python bench/cli_bench.py --sizes 1000,10000 --runs 3
	$(BIN)/python bench/year_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache .lint build dist

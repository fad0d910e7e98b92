# qaudit: `make demo` runs the example cycle, `make test` runs the whole suite.
# Both create .venv on first use; only Python 3.11+ and make are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?=
PREFIX ?= $(HOME)/.local

.PHONY: demo test lint fixtures bench wheel install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "qaudit needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" DEMO_DIR="$(DEMO_DIR)" bash examples/demo.sh

# The whole suite with the record in SQLite, then the workflow tests again with it in
# PostgreSQL (a throwaway server the tests start; skipped, saying why, where there is none).
WORKFLOW_TESTS := tests/commands tests/mail
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 -q
	QAUDIT_TEST_BACKEND=postgresql $(BIN)/python -m pytest -n 2 -q $(WORKFLOW_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check qaudit tests examples benchmarks
	$(BIN)/mypy qaudit
	$(BIN)/lint-imports

fixtures: $(STAMP)
	$(BIN)/python tests/fixtures/build_exports.py

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_allocate.py
	$(BIN)/python benchmarks/bench_forms.py
	$(BIN)/python benchmarks/bench_send.py
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_reports.py
	$(BIN)/python benchmarks/bench_year_report.py --cycles 8
	$(BIN)/python benchmarks/bench_database.py --returns 960

# The wheel, for installing elsewhere (a council laptop: see README, "Installing qaudit").
wheel: $(STAMP)
	rm -rf dist
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation --quiet -w dist .

# qaudit on your PATH: its own environment in $(PREFIX)/share/qaudit and the command linked
# into $(PREFIX)/bin (pipx's layout, without needing pipx).
install: wheel
	$(PYTHON) -m venv --clear $(PREFIX)/share/qaudit
	$(PREFIX)/share/qaudit/bin/python -m pip install --quiet --upgrade pip
	$(PREFIX)/share/qaudit/bin/python -m pip install --quiet dist/qaudit-*.whl
	mkdir -p $(PREFIX)/bin
	ln -sf $(PREFIX)/share/qaudit/bin/qaudit $(PREFIX)/bin/qaudit
	@echo "qaudit installed: $(PREFIX)/bin/qaudit. If 'qaudit --version' says 'command not found',"
	@echo "add $(PREFIX)/bin to PATH (e.g. in ~/.profile: export PATH=\"$(PREFIX)/bin:\$$PATH\")."

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

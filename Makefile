# Two commands: `make run` and `make test`; both go through the idempotent `make install`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck unit workflows e2e bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: install
	$(PY) -m infra.devstack run

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy .

unit: install
	$(VENV)/bin/pytest -q tests/unit

workflows: install
	$(VENV)/bin/pytest -q tests/workflows tests/replay

e2e: install
	$(VENV)/bin/pytest -q tests/e2e

test: install lint typecheck
	$(VENV)/bin/pytest -q

bench: install
	$(PY) -m benchmarks.bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

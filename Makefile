VENV := .venv
PY := $(VENV)/bin/python
BIND ?= 127.0.0.1:8080

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(VENV)/bin/tilegate serve-develop --bind $(BIND)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Debian packages the tests use (Chromium, nginx, GDAL, ...), installed when missing.
system-packages:
	bash .ci/install-system-packages

# Azurite, the Azure Storage emulator the azureblob cache tests run (tests/object_servers.py),
# installed from its lock file into tests/azurite/node_modules.
AZURITE := tests/azurite/node_modules/.bin/azurite-blob
$(AZURITE): tests/azurite/package.json tests/azurite/package-lock.json
	npm ci --prefix tests/azurite --no-audit --no-fund --loglevel=error
	touch $@

# pouchdb-server, a CouchDB-compatible server the couchdb cache tests run in memory
# (tests/couchdb_server.py), installed from its lock file into tests/couchdb/node_modules.
POUCHDB := tests/couchdb/node_modules/.bin/pouchdb-server
$(POUCHDB): tests/couchdb/package.json tests/couchdb/package-lock.json
	npm ci --prefix tests/couchdb --no-audit --no-fund --loglevel=error
	touch $@

node-packages: system-packages $(AZURITE) $(POUCHDB)

test: venv system-packages node-packages lint docs-check
	$(PY) -m pytest

# Every snippet of docs/deployment.md through the tool that runs it (nginx -t, systemd-analyze,
# apache2 -t, Tilegate's config parser, bash -n); a few seconds, so part of `make test`.
docs-check: venv
	$(PY) -m tests.docs_check

bench: venv
	$(PY) -m tests.bench

# The reliability and security tests of `make test`, run longer: more fuzz examples, kill
# rounds and load (tests/reliability/conftest.py `amount`).
soak: venv system-packages
	TILEGATE_SOAK=1 $(PY) -m pytest tests/reliability

.PHONY: venv system-packages node-packages run lint test docs-check bench soak

# QuantGrid. `make run` and `make test` work from a fresh checkout: they build what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.cfg setup.py pyproject.toml | md5sum | cut -c1-8)

.PHONY: venv build assets lint test test-unit run bench services clean cluster cluster-down cluster-status exporter-venv load

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel 'cython>=3.0,<4' 'numpy>=2.0,<3'
	$(PY) -m pip install -q --no-build-isolation -e '.[test]'
	rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

## Front-end assets from the npm registry (package-lock.json) into the app's static files:
## lightweight-charts copied as it ships, CodeMirror bundled by esbuild (a devDependency) from
## assets/codemirror.js. axe-core (a devDependency) stays in node_modules: the browser tests inject
## it into the pages they check (tests/e2e/web/axe.py).
NPM_STAMP := node_modules/.installed-from-lock
CHARTS := app/static/vendor/lightweight-charts.standalone.production.js
EDITOR := app/static/vendor/codemirror.js
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHARTS): $(NPM_STAMP)
	mkdir -p app/static/vendor
	cp node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js $@

$(EDITOR): $(NPM_STAMP) assets/codemirror.js
	node_modules/.bin/esbuild assets/codemirror.js --bundle --minify --format=iife \
		--global-name=CodeMirror --target=es2020 --log-level=warning --outfile=$@

assets: $(CHARTS) $(EDITOR)

## Compile the Cython kernels in place (cythonize skips what has not changed).
build: venv assets
	$(PY) setup.py -q build_ext --inplace

lint: venv
	$(VENV)/bin/ruff check .

services:
	bash ops/scripts/ensure-services.sh

test: build services lint exporter-venv
	$(VENV)/bin/pytest

test-unit: build
	$(VENV)/bin/pytest tests/unit

## The service on the embedded default (SQLite, sqla+sqlite broker, var/): migrations, demo
## candles and a demo user once, then honcho on Procfile.embedded (web, worker, beat). Ctrl-C stops it.
run: build
	$(PY) ops/scripts/run.py start

bench: build services
	$(PY) -m pip install -q --no-build-isolation -e '.[test,bench]'
	$(PY) bench/kernel.py
	$(PY) bench/candles.py
	$(PY) bench/broker.py

clean:
	rm -rf build engine_ext/*.c engine_ext/*.so var

## The whole topology on this machine (docs/operations.md); everything under var/cluster.
EXPORTER_VENV := .venv-exporter
$(EXPORTER_VENV)/.installed:
	$(PYTHON) -m venv $(EXPORTER_VENV)
	$(EXPORTER_VENV)/bin/pip install -q 'prometheus-exporter-celery>=0.11,<0.12' 'SQLAlchemy>=2.0' psycopg2-binary
	touch $@

exporter-venv: $(EXPORTER_VENV)/.installed

cluster: build services exporter-venv
	$(PY) ops/scripts/cluster.py up

cluster-down:
	$(PY) ops/scripts/cluster.py down

cluster-status:
	$(PY) ops/scripts/cluster.py status

## 1,000 backtests + 10 sweeps of 1,000 from 50 clients through NGINX, on a private cluster
## (bench/load.py --short for the CI size, --embedded for the SQLite default).
load: build services exporter-venv
	$(PY) bench/load.py

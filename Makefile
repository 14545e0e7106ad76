# The two commands of the README: `make lab` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STATIC := src/confusion_widget/static/widget.js
ROOT   := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab lint test test-py test-js test-e2e bench build

$(STAMP): pyproject.toml package.json package-lock.json scripts/setup.sh
	bash scripts/setup.sh
	touch $@

$(STATIC): $(wildcard js/*.js) js/widget.css js/dynamics_view.css src/confusion_widget/colormaps.json $(STAMP)
	npm run build --silent

setup: $(STAMP) $(STATIC)

build: $(STATIC)

lab: setup
	$(VENV)/bin/jupyter lab $(ROOT) notebooks/quickstart.ipynb

# Lint, format and type checks fail the build like a failing test.
lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	npm run --silent lint

# lint, vitest, then one pytest run (unit + real JupyterLab/Chromium e2e),
# so the last line printed is pytest's summary of everything Python-side.
test: lint
	npx vitest run
	$(PY) -m pytest tests

test-py: setup
	$(PY) -m pytest tests -m "not e2e"

test-js: setup
	npx vitest run

test-e2e: setup
	$(PY) -m pytest tests/e2e

bench: setup
	$(PY) benchmarks/run_all.py

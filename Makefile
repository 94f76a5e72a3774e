# OrderLens: the two commands are `make demo` and `make test`; the rest are for development.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
export ORDERLENS_HOME ?= $(CURDIR)/.orderlens
export DAGSTER_HOME ?= $(ORDERLENS_HOME)/dagster
export GX_ANALYTICS_ENABLED := False
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export DO_NOT_TRACK := 1
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: install demo demo-data test dev dashboard lint bench bench-smoke clean

install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
	  || $(PYTHON) -m pip install --quiet uv \
	  || $(PYTHON) -m pip install --quiet --user --break-system-packages uv
	@$(UV) sync --frozen --quiet

demo-data: install
	$(RUN) orderlens demo-data

demo: demo-data
	$(RUN) orderlens dashboard --host $(HOST) --port $(PORT)

test: install
	$(RUN) pytest $(PYTEST_ARGS)

dev: install
	$(RUN) orderlens dev

dashboard: install
	$(RUN) orderlens dashboard --host $(HOST) --port $(PORT)

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) pyright

bench: install
	$(RUN) python -m benchmarks.run_all

bench-smoke: install
	$(RUN) python -m benchmarks.run_all --smoke

clean:
	rm -rf $(ORDERLENS_HOME)

# Every target bootstraps .venv by itself: on a fresh machine `make sim` and `make test` need nothing else.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: all sim test bench bench-baseline dict lint clean

all: test

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

venv: $(STAMP)

sim: $(STAMP)
	$(BIN)/qz sim --scenario nominal --out runs/nominal

test: $(STAMP)
	$(BIN)/python -m pytest

# Budget check vs flight.toml and regression check vs the saved baseline: tests/bench/conftest.py, sims/timing.py.
BENCH := $(BIN)/python -m pytest tests/bench --benchmark-only --benchmark-enable -p no:randomly

bench: $(STAMP)
	QZ_BENCH_REQUIRE_ALL=1 $(BENCH) --benchmark-autosave

bench-baseline: $(STAMP)
	QZ_BENCH_REQUIRE_ALL=1 QZ_BENCH_COMPARE=0 $(BENCH) --benchmark-save=baseline

dict: $(STAMP)
	$(BIN)/qz tlm dict --out telemetry/generated/DICTIONARY.md
	$(BIN)/qz tlm xtce --out telemetry/generated/qingzhou.xtce.xml

lint: $(STAMP)
	$(BIN)/ruff check fsw hal telemetry sims tests

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache .benchmarks runs build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Every target bootstraps .venv by itself: on a fresh machine `make sim` and `make test` need nothing else.
# `make help` lists the targets (the `## ` comment on each target's line). Bad input to a target (a variable
# such as PORT= or MC_RUNS=) is refused by qz in one line on stderr, before make's own "Error 2" line.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: all help venv sim test bench bench-baseline dict lint clean

all: test

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@echo "make: creating $(VENV) and installing qingzhou-fsw with its dependencies (first time only, a few minutes)"
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)
	@echo "make: $(VENV) ready; qz is $(BIN)/qz"

venv: $(STAMP) ## create .venv and install everything (every target does this first)

sim: $(STAMP) ## fly the nominal scenario into runs/nominal/ (the first run compiles the kernels, ~1 min)
	$(BIN)/qz sim --scenario nominal --out runs/nominal

test: lint ## ruff, then the test suite
	$(BIN)/python -m pytest

# Budget check vs flight.toml and regression check vs the saved baseline: tests/bench/conftest.py, ground/timing.py.
BENCH := $(BIN)/python -m pytest tests/bench --benchmark-only --benchmark-enable -p no:randomly

bench: $(STAMP) ## pytest-benchmark of kernels, apps, codecs and the truth; budget and regression checks
	QZ_BENCH_REQUIRE_ALL=1 $(BENCH) --benchmark-autosave

bench-baseline: $(STAMP) ## the same, saved as the new baseline in .benchmarks/
	QZ_BENCH_REQUIRE_ALL=1 QZ_BENCH_COMPARE=0 $(BENCH) --benchmark-save=baseline

# Hardware-in-the-loop (sims/hil.py). No PORT: a pseudo-terminal pair, the bench device emulator and the flight
# software as two processes, final_approach flown to docking in lockstep. PORT=/dev/ttyUSB0: the flight software
# against that port (a bench device or `qz bench-device` on the far end; HIL_ARGS= for real time). CHECK=1: then
# the slow test that lockstep HIL docks exactly as SIL. PORT is not taken from the environment.
PORT :=
HIL_ARGS ?= --lockstep
.PHONY: hil
hil: $(STAMP) ## hardware in the loop over a pty pair (PORT=/dev/ttyUSB0: a real port; CHECK=1: HIL = SIL test)
ifeq ($(strip $(PORT)),)
	$(BIN)/qz hil --pty --scenario final_approach $(HIL_ARGS) --out runs/hil
else
	$(BIN)/qz hil --port $(PORT) --scenario final_approach $(HIL_ARGS) --out runs/hil
endif
ifneq ($(strip $(CHECK)),)
	QZ_RUN_SLOW=1 $(BIN)/python -m pytest tests/hil -m slow -p no:randomly
endif

dict: $(STAMP) ## regenerate telemetry/generated/DICTIONARY.md and the XTCE database
	$(BIN)/qz tlm dict --out telemetry/generated/DICTIONARY.md
	$(BIN)/qz tlm xtce --out telemetry/generated/qingzhou.xtce.xml

# Monte Carlo (ground/campaign/, qz mc) over the whole approach, on MC_WORKERS local Dask workers: MC_RUNS_LONG
# dispersed cases each of nominal (5 km hold to docking) and fast_rendezvous (orbit insertion to docking), then
# MC_RUNS of final_approach (the last 400 m). Each campaign is resumable: run it again after an interruption
# and the finished cases are kept. MC_SCENARIOS=final_approach flies one of them.
MC_RUNS ?= 1000
MC_RUNS_LONG ?= 500
MC_SCENARIOS ?= nominal fast_rendezvous final_approach
MC_WORKERS ?= 2
MC_SPEEDUP_RUNS ?= 40
.PHONY: mc mc-bench

mc: $(STAMP) ## Monte Carlo campaigns of the approach on Dask (MC_SCENARIOS, MC_RUNS, MC_WORKERS)
	@for sc in $(MC_SCENARIOS); do \
	  runs=$(MC_RUNS_LONG); [ $$sc = final_approach ] && runs=$(MC_RUNS); \
	  $(BIN)/qz mc --scenario $$sc --runs $$runs --workers $(MC_WORKERS) --out runs/mc-$$sc || exit $$?; \
	done

# Not part of `make bench`: MC_SPEEDUP_RUNS cases on 1 then 2 workers (speed-up), then MC_RUNS cases on 2
# workers, timed against the 10-minute target. Results: runs/mc-bench/bench.md and bench.json.
mc-bench: $(STAMP) ## Monte Carlo throughput: 1 vs 2 workers, then MC_RUNS cases, timed
	$(BIN)/qz mc-bench --scenario final_approach --runs $(MC_RUNS) --speedup-runs $(MC_SPEEDUP_RUNS) --out runs/mc-bench

# Consistency of the relative navigation (ground/nees.py, docs/navigation.md): NEES_RUNS dispersed runs of
# NEES_SCENARIO (far_approach: 50 km to contact) on NEES_WORKERS local Dask workers, the average NEES at 50 km,
# 5 km, 400 m, 20 m and contact against the two-sided 95 % chi-square bounds. Resumable as `make mc` is: run it
# again after an interruption. Results: runs/nees-$(NEES_SCENARIO)/nees.png, nees.md, nees.json, nees.csv.
NEES_RUNS ?= 100
NEES_WORKERS ?= 2
NEES_SCENARIO ?= far_approach
.PHONY: nees

nees: $(STAMP) ## navigation consistency: average NEES at the range gates over NEES_RUNS far_approach runs
	$(BIN)/qz nees $(NEES_SCENARIO) --runs $(NEES_RUNS) --workers $(NEES_WORKERS) --out runs/nees-$(NEES_SCENARIO)

lint: $(STAMP) ## ruff (pinned in pyproject.toml)
	$(BIN)/ruff check fsw hal telemetry sims ground tests

# Screenshots for the README through headless Chromium (ground/screenshot.py: Debian's `chromium`, or CHROMIUM=path).
# One line per page: `$(SHOT) PAGE PNG` (PAGE a file or an http:// URL); the check first fails in one line when no
# Chromium is there. docs/report.png: the report of a real nominal run. docs/console.png: qz console's overview
# on a live final_approach flown at --pace 10 (ground/console/screenshot.py, through Playwright).
SHOT := $(BIN)/python -m ground.screenshot
.PHONY: screenshot
screenshot: $(STAMP) ## docs/report.png from a nominal run, docs/console.png from a live run, headless Chromium
	@$(SHOT) --check
	rm -rf runs/screenshot/nominal
	$(BIN)/qz sim --scenario nominal --out runs/screenshot/nominal --no-progress
	$(SHOT) runs/screenshot/nominal/report.html docs/report.png
	rm -rf runs/screenshot/console
	$(BIN)/python -m ground.console.screenshot docs/console.png --out runs/screenshot/console

clean: ## remove .venv, caches, runs/ and build files
	rm -rf $(VENV) .numba_cache .pytest_cache .benchmarks runs build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

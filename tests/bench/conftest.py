"""After the benchmarks of ``make bench``: budget check against flight.toml and regression check against a baseline.

Both run at session end when benchmarks were measured (never under ``--benchmark-skip``), print a table in the
terminal summary and make the session fail when a task is over budget, a slot's measured load is over the CPU
margin, or a median regressed. The logic is in :mod:`ground.timing`; here it is only fed from the live session.

Mapping benchmarks to tasks: ``benchmark.extra_info["task"] = "<task>"`` or a test named ``test_step_<task>``.

Settings (environment, so that they work whichever conftest pytest loads first):

- ``QZ_BENCH_GATE``: ``p99`` (default: median and p99 must be within budget) or ``median``.
- ``QZ_BENCH_REQUIRE_ALL=1``: a schedule task without a benchmark fails the check (default: listed only).
- ``QZ_BENCH_REGRESSION_PCT`` (default 50) and ``QZ_BENCH_REGRESSION_FLOOR_US`` (default 0.5): a median
  regressed when it grew by more than both.
- ``QZ_BENCH_COMPARE=0``: no regression check (``make bench-baseline`` sets it while saving a new baseline).

Baseline: the newest ``NNNN_baseline.json`` in pytest-benchmark's storage folder of this machine
(``.benchmarks/<machine id>/``), else the newest other saved run; files written by this session are never
their own baseline.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ground import timing

_REPORT_KEY = pytest.StashKey[list]()
_START_KEY = pytest.StashKey[float]()


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        raise pytest.UsageError(f"{name}={raw!r} is not a number") from None


def _entries(benchmarks, tasks) -> list[dict]:
    """pytest-benchmark JSON-shaped entries of the benchmarks that ran; round data only for task benchmarks."""
    out = []
    for b in benchmarks:
        if not b.stats:  # a benchmark that raised before measuring
            continue
        entry = {"name": b.name, "fullname": b.fullname, "extra_info": dict(b.extra_info),
                 "stats": {"median": b.stats.median, "max": b.stats.max}}
        if timing.task_of(entry) in tasks:
            entry["stats"]["data"] = list(b.stats.data)
        out.append(entry)
    return out


def pytest_sessionstart(session):
    session.config.stash[_START_KEY] = time.time()


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    bs = getattr(config, "_benchmarksession", None)
    if bs is None or bs.disabled or not bs.benchmarks:
        return
    gate = os.environ.get("QZ_BENCH_GATE", "p99")
    if gate not in timing.GATES:
        raise pytest.UsageError(f"QZ_BENCH_GATE={gate!r}: expected one of {timing.GATES}")
    table = timing.load_budget_table()
    entries = _entries(bs.benchmarks, {r.task for r in table.rows})
    failed = False
    texts = []

    report = timing.budget_check(entries, table, gate=gate)
    texts.append(report.format())
    failed |= not report.ok
    if os.environ.get("QZ_BENCH_REQUIRE_ALL") == "1" and report.unmeasured:
        texts.append(f"QZ_BENCH_REQUIRE_ALL: no benchmark for task(s) {', '.join(report.unmeasured)}")
        failed = True

    if os.environ.get("QZ_BENCH_COMPARE", "1") != "0":
        storage = Path(str(bs.storage))
        machine_id = getattr(bs.storage, "default_machine_id", None)
        folder = storage / machine_id if machine_id else storage
        started = config.stash.get(_START_KEY, time.time())
        fresh = [p for p in folder.glob("*.json") if p.stat().st_mtime >= started] if folder.is_dir() else []
        base = timing.find_baseline(folder, exclude=fresh)
        if base is None:
            texts.append(f"regression check: no saved run in {folder}; `make bench-baseline` saves one")
        else:
            reg = timing.compare_runs(entries, timing.load_benchmarks(base), base.name,
                                      _env_float("QZ_BENCH_REGRESSION_PCT", timing.DEFAULT_REGRESSION_PCT),
                                      _env_float("QZ_BENCH_REGRESSION_FLOOR_US", timing.DEFAULT_REGRESSION_FLOOR_US))
            texts.append(reg.format())
            failed |= not reg.ok
    config.stash[_REPORT_KEY] = texts
    if failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    texts = terminalreporter.config.stash.get(_REPORT_KEY, None)
    if not texts:
        return
    terminalreporter.section("timing budgets")
    for text in texts:
        terminalreporter.write_line(text)
        terminalreporter.write_line("")

"""The timing-budget machinery works, shown without timing anything: fake execution-time counters and
synthetic pytest-benchmark results stand in for measurements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fsw.downlink import Downlink
from fsw.executive import EventService, Executive, ScheduleError, SimClock, load_schedule_table
from fsw.executive.stats import histograms, relative_error_bound
from ground import cli, timing
from telemetry.archive import ArchiveWriter
from telemetry.dictionary import TM_BY_NAME, event_id

MINOR_NS = 10_000_000
US = 1e-6  # [s] pytest-benchmark reports seconds
TABLE = {"executive": {"minor_frame_ns": MINOR_NS, "major_frame_ns": 1_000_000_000, "cpu_fraction": 0.5},
         "schedule": [{"task": "fast", "rate_hz": 10, "offset": 0, "budget_us": 100},
                      {"task": "slow", "rate_hz": 10, "offset": 0, "budget_us": 100},
                      {"task": "hk", "rate_hz": 1, "offset": 5, "budget_us": 1000}]}


class FakeCpu:
    """Execution-time counter that advances only when a fake task 'runs'."""

    def __init__(self):
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


class FakeTask:
    """A task whose every call costs ``cost_us`` of fake CPU time."""

    def __init__(self, cpu: FakeCpu, cost_us: float):
        self.cpu, self.cost_ns, self.calls = cpu, round(cost_us * 1e3), 0

    def step(self, t_ns):
        self.calls += 1
        self.cpu.ns += self.cost_ns


def _executive(costs_us: dict, table=TABLE, timeline=None):
    cpu = FakeCpu()
    tasks = {name: FakeTask(cpu, cost) for name, cost in costs_us.items()}
    seen = []
    events = EventService(sinks=[seen.append])
    ex = Executive(load_schedule_table(table).build(tasks), SimClock(MINOR_NS), events=events, perf_ns=cpu,
                   timeline=timeline)
    return ex, seen


def _bench(name: str, median_us: float, data_us=None, task=None) -> dict:
    stats = {"median": median_us * US, "max": max(data_us or [median_us]) * US}
    if data_us is not None:
        stats["data"] = [d * US for d in data_us]
    return {"name": name, "fullname": f"tests/bench/test_x.py::{name}", "stats": stats,
            "extra_info": {"task": task} if task else {}}


def _table(**budgets):
    return load_schedule_table({"executive": TABLE["executive"], "schedule": [
        {"task": t, "rate_hz": 10, "offset": 0, "budget_us": b} for t, b in budgets.items()]})


# ------------------------------------------------------------------------- run-time monitor


def test_run_time_monitor_counts_every_call_of_a_slow_task_as_overrun():
    ex, _ = _executive({"fast": 20, "slow": 250, "hk": 10})
    ex.run(n_frames=100)
    assert ex.stats_by_task["slow"].overruns == ex.stats_by_task["slow"].calls == 10
    assert ex.stats_by_task["fast"].overruns == 0


def test_run_time_monitor_reports_the_slow_task_in_summary_telemetry_and_events():
    ex, seen = _executive({"fast": 20, "slow": 250, "hk": 10})
    ex.run(n_frames=100)
    summary = ex.summary()["tasks"]["slow"]
    assert summary["p50_us"] == pytest.approx(250, rel=relative_error_bound()) and summary["overruns"] == 10
    row = next(r for r in ex.task_timing() if r["task_name"] == "slow")
    assert row["overruns"] == 10 and row["budget_us"] == 100
    assert {e.source for e in seen if e.event_id == event_id("TASK_OVERRUN")} == {"slow"}


def test_histograms_for_the_run_summary_hold_every_call():
    ex, _ = _executive({"fast": 20, "slow": 250, "hk": 10})
    ex.run(n_frames=100)
    hist = histograms(ex)
    assert sum(c for _, _, c in hist["slow"]) == 10
    assert all(lo <= 250_000 < hi for lo, hi, _ in hist["slow"])


# ------------------------------------------------------------------------- budget check


def test_budget_check_fails_a_task_whose_median_is_over_budget():
    report = timing.budget_check([_bench("test_step[fast]", 20, [20] * 100, task="fast"),
                                  _bench("test_step[slow]", 250, [250] * 100, task="slow")], _table(fast=100, slow=100))
    assert not report.ok
    assert [f for f in report.failures if f.startswith("task")] == ["task slow: median 250.0 us > budget 100 us"]
    assert "OVER" in report.format() and "BUDGET CHECK FAILED" in report.format()


def test_budget_check_fails_a_p99_over_budget_unless_gated_on_the_median():
    data = [50] * 98 + [150, 150]  # nearest-rank p99 of 100 rounds is the 99th value
    benches = [_bench("test_step[fast]", 50, data, task="fast")]
    assert not timing.budget_check(benches, _table(fast=100), gate="p99").ok
    assert timing.budget_check(benches, _table(fast=100), gate="median").ok


def test_budget_check_maps_test_step_names_to_tasks():
    report = timing.budget_check([_bench("test_step_fast", 10, [10] * 10)], _table(fast=100, slow=100))
    rows = {r.task: r for r in report.rows}
    assert rows["fast"].median_us == pytest.approx(10) and not rows["slow"].measured
    assert report.ok and report.unmeasured == ["slow"]


def test_budget_check_judges_a_task_by_its_slowest_benchmark():
    report = timing.budget_check([_bench("test_step[fast]", 10, [10] * 10, task="fast"),
                                  _bench("test_step_fast_busy", 40, [40] * 10, task="fast")], _table(fast=100))
    assert report.rows[0].median_us == pytest.approx(40)


def test_budget_check_fails_a_slot_whose_measured_load_exceeds_the_cpu_margin():
    # budgets pass start-up (2 x 2500 us = 50 % of 10 ms), measured medians do not
    table = _table(fast=2500, slow=2500)
    benches = [_bench("a", 2400, [2400] * 10, task="fast"), _bench("b", 2700, [2700] * 10, task="slow")]
    report = timing.budget_check(benches, table, gate="median")
    assert [f for f in report.failures if f.startswith("slot")] == [
        "slot 0 (fast+slow): measured 5100.0 us > 50% of the 10000 us frame (5000 us)"]


def test_budget_check_reports_a_benchmark_naming_an_unknown_task():
    report = timing.budget_check([_bench("test_step[ghost]", 1, [1], task="ghost")], _table(fast=100))
    assert not report.ok and "ghost" in report.failures[0]


def test_p99_falls_back_to_the_maximum_without_round_data():
    value, from_data = timing.high_percentile_s({"median": 1.0, "max": 7.0})
    assert (value, from_data) == (7.0, False)


# ------------------------------------------------------------------------- start-up margin check


def test_slot_whose_budgets_exceed_the_margin_is_refused_at_start_up():
    table = _table(fast=3000, slow=2500)  # 5500 us > 50 % of 10 ms in slot 0
    with pytest.raises(ScheduleError, match=r"slot 0: 5500 us \(fast 3000 us \+ slow 2500 us\)"):
        timing.slot_layout(table)
    cpu = FakeCpu()
    with pytest.raises(ScheduleError, match="schedule refused"):
        table.build({"fast": FakeTask(cpu, 1), "slow": FakeTask(cpu, 1)})


def test_shipped_budget_table_passes_the_start_up_margin_check():
    schedule = timing.slot_layout(timing.load_budget_table())
    assert schedule.entries


# ------------------------------------------------------------------------- regression vs baseline


def test_regression_over_threshold_is_detected():
    base = [_bench("k1", 10.0), _bench("k2", 10.0)]
    now = [_bench("k1", 14.0), _bench("k2", 11.0)]
    report = timing.compare_runs(now, base, threshold_pct=25.0, floor_us=0.05)
    assert [c.name.split("::")[-1] for c in report.regressions] == ["k1"]
    assert not report.ok and "REGRESSED" in report.format()


def test_sub_floor_change_of_a_tiny_kernel_is_not_a_regression():
    report = timing.compare_runs([_bench("k", 0.14)], [_bench("k", 0.10)], threshold_pct=25.0, floor_us=0.05)
    assert report.ok


def test_new_and_missing_benchmarks_are_listed_not_failed():
    report = timing.compare_runs([_bench("new", 1.0)], [_bench("old", 1.0)])
    assert report.ok and report.new and report.gone


def test_saved_baseline_is_found_and_a_regression_against_it_detected(tmp_path):
    def save(name, median_us):
        path = tmp_path / name
        path.write_text(json.dumps({"benchmarks": [_bench("test_step[fast]", median_us, task="fast")]}))
        return path

    save("0001_baseline.json", 10.0)
    save("0002_abc_20250101.json", 9.0)  # an autosaved run after the baseline
    this_run = save("0003_def_20250102.json", 20.0)
    base = timing.find_baseline(tmp_path, exclude=[this_run])
    assert base.name == "0001_baseline.json"
    report = timing.compare_runs(timing.load_benchmarks(this_run), timing.load_benchmarks(base), base.name)
    assert len(report.regressions) == 1 and "0001_baseline.json" in report.format()


def test_without_a_baseline_the_previous_saved_run_is_used(tmp_path):
    for name in ("0001_a.json", "0002_b.json", "0003_c.json"):
        (tmp_path / name).write_text("{}")
    assert timing.find_baseline(tmp_path, exclude=[tmp_path / "0003_c.json"]).name == "0002_b.json"
    assert timing.find_baseline(tmp_path / "missing") is None


# ------------------------------------------------------------------------- qz timing


def _write_run(run_dir, ex, with_histograms=True):
    """A run folder as the SIL runner writes it: archive with EXEC_TASK_TIMING + EXEC_STATUS, summary.json."""
    run_dir.mkdir()
    t_ns = ex.clock.now_ns()
    with ArchiveWriter(run_dir / "telemetry.ccsds") as archive:
        down = Downlink(archive.write)
        fields = [f.name for f in TM_BY_NAME["EXEC_TASK_TIMING"].fields]
        for stale in (0, 1):  # an older packet per task first: the newest must win
            for row in ex.task_timing():
                row["task_name"] = row["task_name"].encode()
                row["calls"] -= 1 - stale
                down.send_values("EXEC_TASK_TIMING", t_ns // (2 - stale), tuple(row[f] for f in fields))
        status = ex.exec_status()
        down.send_values("EXEC_STATUS", t_ns, tuple(status[f.name] for f in TM_BY_NAME["EXEC_STATUS"].fields))
    summary = {"timing": ex.summary()}
    if with_histograms:
        summary["timing_histograms"] = histograms(ex)
    (run_dir / "summary.json").write_text(json.dumps(summary))


def test_run_timing_table_shows_the_overruns_of_the_slow_task(tmp_path):
    ex, _ = _executive({"fast": 20, "slow": 250, "hk": 10})
    ex.run(n_frames=300)
    _write_run(tmp_path / "run", ex)
    rows = {r["task"]: r for r in timing.run_timing(tmp_path / "run")["tasks"]}
    assert rows["slow"]["overruns"] == rows["slow"]["calls"] == 30
    assert rows["fast"]["overruns"] == 0 and rows["hk"]["group"] == "1Hz" and rows["fast"]["cycle_slips"] == 0


def test_qz_timing_prints_the_table_and_writes_a_plot_per_rate_group(tmp_path, capsys):
    ex, _ = _executive({"fast": 20, "slow": 250, "hk": 10}, timeline=3)
    ex.run(n_frames=300)
    run = tmp_path / "run"
    _write_run(run, ex)
    ex.write_timeline(run / "timeline.json")
    assert cli.main(["timing", str(run)]) == 1  # a task overran
    out = capsys.readouterr().out
    assert "slow" in out and "300 frames" in out
    assert {p.name for p in run.glob("*.png")} == {"timing_10Hz.png", "timing_1Hz.png", "timeline.png"}


def test_qz_timing_without_histogram_bins_still_plots_percentiles(tmp_path, capsys):
    ex, _ = _executive({"fast": 20, "slow": 50, "hk": 10})
    ex.run(n_frames=100)
    _write_run(tmp_path / "run", ex, with_histograms=False)
    assert cli.main(["timing", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "timing_10Hz.png").is_file()


def test_qz_timing_refuses_a_folder_without_an_archive(tmp_path, capsys):
    assert cli.main(["timing", str(tmp_path)]) == 2
    assert "no telemetry archive" in capsys.readouterr().err


def test_worst_frame_timeline_keeps_a_microsecond_task_visible_beside_a_100_ms_frame():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    frames = [{"frame": 7, "lateness_ns": 2_000, "tasks": [{"task": "navigation", "start_ns": 3_000,
                                                              "duration_ns": 100_000_000}]},
              {"frame": 9, "lateness_ns": 1_000, "tasks": [{"task": "attitude", "start_ns": 2_000,
                                                              "duration_ns": 5_000}]}]
    fig = timing.timeline_figure(frames)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    small = next(p for p in ax.patches if abs(p.get_width() - 5.0) < 1e-9)  # [us] the 5 us task
    width_px = abs(ax.transData.transform((small.get_x() + small.get_width(), 0))[0]
                   - ax.transData.transform((small.get_x(), 0))[0])
    assert width_px > 0.05 * ax.get_window_extent().width  # linear: 5 us of 100 ms would be 0.005 %
    assert ax.get_xlabel() and ax.get_ylabel()


# ------------------------------------------------------------------------- the make-bench plugin


def test_bench_plugin_prints_the_budget_table_and_fails_the_session_on_a_failed_check(tmp_path):
    # A benchmark naming a task that is not in flight.toml fails the check whatever the measured times.
    (tmp_path / "conftest.py").write_text((Path(__file__).parents[1] / "bench" / "conftest.py").read_text())
    (tmp_path / "test_ghost.py").write_text(
        "def test_step_ghost(benchmark):\n    benchmark.pedantic(lambda: None, rounds=3, iterations=1)\n")
    env = {**os.environ, "QZ_BENCH_COMPARE": "0"}
    env.pop("QZ_BENCH_REQUIRE_ALL", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "--benchmark-enable", "--benchmark-only", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "1 passed" in proc.stdout
    assert "benchmark names task 'ghost', which is not in the schedule table" in proc.stdout
    assert "NOT MEASURED" in proc.stdout  # the real table's tasks, none benchmarked here


def test_a_histograms_bars_are_drawn_as_one_outline_of_the_same_area():
    """_bars_outline: bins [lo_ns, hi_ns, count] (a gap between the second and third) as one polygon in us whose
    area above the floor (shoelace) is the bars' sum of width x (count - floor), with the gap on the floor."""
    bins = [[1000, 2000, 5], [2000, 3000, 2], [5000, 7000, 9]]
    x, y = map(np.array, timing._bars_outline(bins, floor=0.5))
    area = 0.5 * abs(np.dot(x, np.roll(y - 0.5, -1)) - np.dot(y - 0.5, np.roll(x, -1)))
    assert area == pytest.approx(sum((hi - lo) / 1e3 * (c - 0.5) for lo, hi, c in bins))
    assert y[3] == y[4] == 0.5 and y[7] == y[8] == 0.5  # back on the floor between bars and across the gap
    assert x[0] == 1.0 and x[-1] == 7.0

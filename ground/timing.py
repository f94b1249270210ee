"""Timing budgets checked three ways from the one schedule table (``[[schedule]]`` of ``fsw/config/flight.toml``).

- :func:`budget_check`: benchmark results (pytest-benchmark JSON, one benchmark per task) against each
  task's ``budget_us``, and the measured load of every slot against ``cpu_fraction`` of the minor frame.
  ``tests/bench/conftest.py`` runs it after ``make bench``.
- :func:`compare_runs`: medians of one benchmark run against a saved baseline (regression check).
- ``qz timing RUN_DIR``: the per-task timing table of a run from its telemetry archive, and a histogram
  plot per rate group.

A benchmark measures task ``T`` when its ``extra_info["task"]`` is ``T`` or, failing that, when its name is
``test_step_T`` (parameters in brackets ignored). A task with several benchmarks is judged by its slowest.

Statistics: "median" is pytest-benchmark's median of round times. "p99" is the nearest-rank 99th
percentile of the round times (``stats["data"]``, kept by the plugin and by ``--benchmark-json``); the
app benchmarks run one call per round, so it is a per-call percentile. When the round data are absent
(a ``--benchmark-save`` file without ``--benchmark-save-data``) the maximum stands in, which errs high.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import fsw
from fsw.executive.schedule import Schedule, ScheduleTable, load_schedule_table
from fsw.executive.stats import SUB_BITS

FLIGHT_TOML = Path(fsw.__file__).resolve().parent / "config" / "flight.toml"
P_HIGH = 99.0  # [%] the high percentile judged against the budget
GATES = ("median", "p99")  # "p99": median and p99 must both be within budget; "median": the median only
# Regression thresholds, from two back-to-back `make bench` runs of the same commit on the shared
# 2-core machine: sub-microsecond kernels moved by up to 0.29 us (+-50 %), app steps of a few us by
# up to 3 us, whole runs by 12 %. A change must exceed both to count; on a quiet dedicated machine
# tighten them with QZ_BENCH_REGRESSION_PCT / QZ_BENCH_REGRESSION_FLOOR_US.
DEFAULT_REGRESSION_PCT = 50.0
DEFAULT_REGRESSION_FLOOR_US = 0.5  # [us]
_US_PER_S = 1e6
_NS_PER_US = 1e3
_PCT = 100.0
_STEP_NAME = re.compile(r"^test_step_(\w+?)(?:\[.*\])?$")


def load_budget_table(path=None) -> ScheduleTable:
    """The schedule table (rates, offsets, budgets) from ``flight.toml`` or ``path``."""
    return load_schedule_table(FLIGHT_TOML if path is None else path)


class _SlotOnly:
    """Stands in for a task when only the slot layout of a table is wanted (never stepped)."""

    def step(self, t_ns):
        raise RuntimeError("a budget-table placeholder task is not meant to run")


def slot_layout(table: ScheduleTable) -> Schedule:
    """The validated slot table of ``table`` (ScheduleError if its budgets already break the margin)."""
    return table.build({r.task: _SlotOnly() for r in table.rows})


# ---------------------------------------------------------------------------------------------- budget check


def task_of(bench: dict) -> str | None:
    """Schedule task measured by one benchmark entry (pytest-benchmark JSON), or None."""
    task = (bench.get("extra_info") or {}).get("task")
    if task:
        return str(task)
    m = _STEP_NAME.match(bench.get("name", ""))
    return m.group(1) if m else None


def nearest_rank(sorted_values, q: float) -> float:
    """Nearest-rank ``q``-th percentile (numpy ``method="inverted_cdf"``) of ascending ``sorted_values``."""
    n = len(sorted_values)
    rank = max(1, math.ceil(q * n / _PCT - 1e-9))
    return float(sorted_values[rank - 1])


def high_percentile_s(stats: dict, q: float = P_HIGH) -> tuple[float, bool]:
    """[s] ``q``-th percentile of the round times and whether it came from the data (else: the maximum)."""
    data = stats.get("data")
    if data:
        return nearest_rank(sorted(data), q), True
    return float(stats["max"]), False


@dataclass
class TaskRow:
    """Budget-check line of one task (times in microseconds)."""

    task: str
    budget_us: float
    median_us: float | None = None
    p99_us: float | None = None
    p99_from_data: bool = True
    benchmark: str = ""

    @property
    def measured(self) -> bool:
        return self.median_us is not None

    def judged_us(self, gate: str) -> float:
        return self.median_us if gate == "median" else max(self.median_us, self.p99_us)

    def margin_pct(self, gate: str) -> float | None:
        """Headroom of the judged statistic, % of the budget (negative: over)."""
        if not self.measured or self.budget_us <= 0:
            return None
        return _PCT * (1.0 - self.judged_us(gate) / self.budget_us)

    def over(self, gate: str) -> bool:
        return self.measured and self.judged_us(gate) > self.budget_us


@dataclass
class SlotRow:
    """Measured load of one slot layout (slots with the same tasks are one row)."""

    slots: list[int]
    tasks: list[str]
    measured_us: float
    limit_us: float
    unmeasured: list[str]

    @property
    def load_pct(self) -> float:
        """Measured medians as % of the minor frame's allowed CPU (100 % = at the margin)."""
        return _PCT * self.measured_us / self.limit_us

    @property
    def over(self) -> bool:
        return self.measured_us > self.limit_us


@dataclass
class BudgetReport:
    """Outcome of :func:`budget_check`."""

    rows: list[TaskRow]
    slots: list[SlotRow]
    gate: str
    cpu_fraction: float
    minor_frame_us: float
    unknown: list[str] = field(default_factory=list)  # benchmarks naming a task that is not in the table

    @property
    def unmeasured(self) -> list[str]:
        return [r.task for r in self.rows if not r.measured]

    @property
    def failures(self) -> list[str]:
        out = []
        for r in self.rows:
            if r.over(self.gate):
                stat = "median" if r.median_us > r.budget_us else f"p{P_HIGH:g}"
                out.append(f"task {r.task}: {stat} {r.judged_us(self.gate):.1f} us > budget {r.budget_us:g} us")
        for s in self.slots:
            if s.over:
                out.append(f"slot {s.slots[0]} ({'+'.join(s.tasks)}): measured {s.measured_us:.1f} us > "
                           f"{self.cpu_fraction:.0%} of the {self.minor_frame_us:g} us frame ({s.limit_us:g} us)")
        out += [f"benchmark names task {t!r}, which is not in the schedule table" for t in self.unknown]
        return out

    @property
    def ok(self) -> bool:
        return not self.failures

    def format(self) -> str:
        """The budget table, the busiest slot layouts and the verdict, as text."""
        lines = [f"budget check ({'median' if self.gate == 'median' else 'median and p99'} vs budget_us of "
                 f"{FLIGHT_TOML.name}; p99 = nearest-rank {P_HIGH:g}th percentile of rounds)",
                 f"{'task':<16} {'budget us':>10} {'median us':>10} {'p99 us':>10} {'margin %':>9}  status"]
        for r in self.rows:
            if not r.measured:
                lines.append(f"{r.task:<16} {r.budget_us:>10g} {'-':>10} {'-':>10} {'-':>9}  NOT MEASURED")
                continue
            p99 = f"{r.p99_us:.2f}" + ("" if r.p99_from_data else "*")
            lines.append(f"{r.task:<16} {r.budget_us:>10g} {r.median_us:>10.2f} {p99:>10} "
                         f"{r.margin_pct(self.gate):>9.1f}  {'OVER' if r.over(self.gate) else 'ok'}")
        if any(r.measured and not r.p99_from_data for r in self.rows):
            lines.append("* no round data: the maximum stands in for p99")
        limit = self.cpu_fraction * self.minor_frame_us
        lines.append(f"slot load: sum of medians of the tasks due in a slot vs {self.cpu_fraction:.0%} x "
                     f"{self.minor_frame_us:g} us = {limit:g} us")
        for s in sorted(self.slots, key=lambda s: -s.measured_us)[:5]:
            note = f" (not measured: {', '.join(s.unmeasured)})" if s.unmeasured else ""
            lines.append(f"  slots {_slot_list(s.slots):<14} {'+'.join(s.tasks):<40} {s.measured_us:>9.2f} us "
                         f"{s.load_pct:>6.1f} %  {'OVER' if s.over else 'ok'}{note}")
        n_meas = sum(r.measured for r in self.rows)
        lines.append(f"{n_meas} of {len(self.rows)} tasks measured; "
                     + ("BUDGET CHECK PASSED" if self.ok else "BUDGET CHECK FAILED:\n  " + "\n  ".join(self.failures)))
        return "\n".join(lines)


def _slot_list(slots: list[int]) -> str:
    if len(slots) <= 3:
        return ",".join(map(str, slots))
    return f"{slots[0]},{slots[1]}..({len(slots)})"


def budget_check(benchmarks: list[dict], table: ScheduleTable, gate: str = "p99") -> BudgetReport:
    """Judge benchmark entries (pytest-benchmark JSON ``benchmarks`` list) against the table's budgets.

    Parameters
    ----------
    benchmarks : list of dict
        Entries with ``name``, ``extra_info`` and ``stats`` (``median``, ``max``, optional ``data``) [s].
    table : ScheduleTable
        The budget table.
    gate : {"p99", "median"}
        Which statistics must stay within the budget.
    """
    if gate not in GATES:
        raise ValueError(f"budget_check: gate must be one of {GATES}, got {gate!r}")
    budgets = table.budgets_us()
    rows = {t: TaskRow(t, b) for t, b in budgets.items()}
    unknown = []
    for bench in benchmarks:
        task = task_of(bench)
        if task is None:
            continue
        if task not in rows:
            unknown.append(task)
            continue
        stats = bench["stats"]
        median_us = float(stats["median"]) * _US_PER_S
        row = rows[task]
        if row.measured and row.median_us >= median_us:
            continue  # a task is judged by its slowest benchmark
        p_s, from_data = high_percentile_s(stats)
        row.median_us, row.p99_us, row.p99_from_data = median_us, p_s * _US_PER_S, from_data
        row.benchmark = bench.get("fullname", bench.get("name", ""))
    schedule = slot_layout(table)
    limit_us = schedule.cpu_fraction * schedule.minor_frame_ns / _NS_PER_US
    layouts: dict[tuple[int, ...], list[int]] = {}
    for slot, members in enumerate(schedule.slots):
        if members:
            layouts.setdefault(members, []).append(slot)
    slots = []
    for members, slot_ids in layouts.items():
        names = [schedule.entries[i].name for i in members]
        measured = sum(rows[n].median_us for n in names if rows[n].measured)
        slots.append(SlotRow(slot_ids, names, measured, limit_us, [n for n in names if not rows[n].measured]))
    return BudgetReport(list(rows.values()), slots, gate, schedule.cpu_fraction,
                        schedule.minor_frame_ns / _NS_PER_US, sorted(set(unknown)))


# ---------------------------------------------------------------------------------------------- regression


@dataclass
class Change:
    """Median of one benchmark now against the baseline."""

    name: str
    base_us: float
    now_us: float

    @property
    def change_pct(self) -> float:
        return _PCT * (self.now_us / self.base_us - 1.0) if self.base_us > 0 else math.inf


@dataclass
class RegressionReport:
    """Outcome of :func:`compare_runs`."""

    baseline: str
    changes: list[Change]
    threshold_pct: float
    floor_us: float
    new: list[str]
    gone: list[str]

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes
                if c.change_pct > self.threshold_pct and c.now_us - c.base_us > self.floor_us]

    @property
    def ok(self) -> bool:
        return not self.regressions

    def format(self) -> str:
        lines = [f"regression check: medians vs {self.baseline} (fail above +{self.threshold_pct:g} % "
                 f"and +{self.floor_us:g} us)"]
        worst = sorted(self.changes, key=lambda c: -c.change_pct)
        bad = {id(c) for c in self.regressions}
        for c in worst[:8]:
            lines.append(f"  {c.name:<70} {c.base_us:>10.2f} -> {c.now_us:>10.2f} us {c.change_pct:>+7.1f} %"
                         + ("  REGRESSED" if id(c) in bad else ""))
        if len(worst) > 8:
            lines.append(f"  ... {len(worst) - 8} more, best {worst[-1].change_pct:+.1f} %")
        if self.new:
            lines.append(f"  {len(self.new)} benchmark(s) not in the baseline (not compared)")
        if self.gone:
            lines.append(f"  {len(self.gone)} baseline benchmark(s) not run this time")
        lines.append("REGRESSION CHECK PASSED" if self.ok else
                     f"REGRESSION CHECK FAILED: {len(self.regressions)} median(s) regressed")
        return "\n".join(lines)


def compare_runs(current: list[dict], baseline: list[dict], baseline_name: str = "baseline",
                 threshold_pct: float = DEFAULT_REGRESSION_PCT,
                 floor_us: float = DEFAULT_REGRESSION_FLOOR_US) -> RegressionReport:
    """Compare the medians of two benchmark lists (pytest-benchmark JSON entries) by ``fullname``.

    A benchmark regressed when its median grew by more than ``threshold_pct`` % *and* by more than
    ``floor_us`` (so sub-microsecond kernels do not fail on timer and cache noise alone).
    """
    base = {b["fullname"]: b for b in baseline}
    now = {b["fullname"]: b for b in current}
    changes = [Change(name, base[name]["stats"]["median"] * _US_PER_S, b["stats"]["median"] * _US_PER_S)
               for name, b in now.items() if name in base]
    return RegressionReport(baseline_name, changes, threshold_pct, floor_us,
                            sorted(set(now) - set(base)), sorted(set(base) - set(now)))


def find_baseline(storage_dir, exclude=()) -> Path | None:
    """Newest ``*_baseline.json`` in a pytest-benchmark storage folder, else the newest other saved run."""
    folder = Path(storage_dir)
    if not folder.is_dir():
        return None
    excluded = {Path(p).resolve() for p in exclude}
    runs = sorted(p for p in folder.glob("*.json") if p.resolve() not in excluded)  # NNNN_ prefix orders them
    named = [p for p in runs if p.stem.endswith("_baseline")]
    if named:
        return named[-1]
    return runs[-1] if runs else None


def load_benchmarks(path) -> list[dict]:
    """The ``benchmarks`` list of a pytest-benchmark JSON file."""
    return json.loads(Path(path).read_text())["benchmarks"]


# ---------------------------------------------------------------------------------------------- run reports


def _last_by(columns: dict, key: str) -> dict[int, int]:
    """Key value -> row index of its newest packet."""
    order = sorted(range(len(columns["t_ns"])), key=lambda i: (int(columns["t_ns"][i]), i))
    return {int(columns[key][i]): i for i in order}


def run_timing(run_dir) -> dict:
    """Per-task timing of a run: the newest EXEC_TASK_TIMING packet of each task, the newest EXEC_STATUS,
    and per-rate-group cycle slips and histograms from ``summary.json`` when present.

    Returns ``{"tasks": [row, ...], "status": {...} or None, "groups": {name: {...}}, "histograms": {...},
    "notes": [str]}``; rows have ``task, group, calls, budget_us, p50_us, p99_us, max_us, overruns,
    errors, cycle_slips``.
    """
    from telemetry.archive import decode_apid

    run_dir = Path(run_dir)
    archive = run_dir / "telemetry.ccsds"
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: no telemetry archive in the run folder")
    notes = []
    summary = {}
    if (run_dir / "summary.json").is_file():
        try:
            summary = json.loads((run_dir / "summary.json").read_text())
        except ValueError as err:  # a damaged summary costs the cycle slips per group, not the table
            notes.append(f"summary.json is not valid JSON ({err}): rate groups from the current flight.toml")
        if not isinstance(summary, dict):
            summary = {}
    else:
        notes.append("no summary.json: rate groups from the current flight.toml, no cycle slips per group")
    timing = summary.get("timing") or {}
    rate_of = {name: t.get("rate_hz") for name, t in (timing.get("tasks") or {}).items()}
    if not rate_of:
        rate_of = {r.task: r.rate_hz for r in load_budget_table().rows}
    groups = dict(timing.get("rate_groups") or {})

    cols = decode_apid(archive, "EXEC_TASK_TIMING")
    rows = []
    for _, i in sorted(_last_by(cols, "task_id").items()):
        name = bytes(cols["task_name"][i]).rstrip(b"\0").decode("ascii", "replace")
        rate = rate_of.get(name)
        group = f"{rate:g}Hz" if rate else "?"
        rows.append({"task": name, "group": group, "calls": int(cols["calls"][i]),
                     "budget_us": float(cols["budget_us"][i]), "p50_us": float(cols["p50_us"][i]),
                     "p99_us": float(cols["p99_us"][i]), "max_us": float(cols["max_us"][i]),
                     "overruns": int(cols["overruns"][i]), "errors": int(cols["errors"][i]),
                     "cycle_slips": groups.get(group, {}).get("cycle_slips"), "t_ns": int(cols["t_ns"][i])})
    if not rows:
        notes.append("no EXEC_TASK_TIMING packets in the archive")
    st = decode_apid(archive, "EXEC_STATUS")
    status = None
    if len(st["t_ns"]):
        i = max(range(len(st["t_ns"])), key=lambda k: (int(st["t_ns"][k]), k))
        status = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in st.items()}
    final = timing.get("tasks") or {}
    behind = sum(final[r["task"]]["calls"] - r["calls"] for r in rows if r["task"] in final)
    if behind > 0 and rows:
        notes.append(f"the newest EXEC_TASK_TIMING packets are from t = {max(r['t_ns'] for r in rows) / 1e9:.1f} s; "
                     f"summary.json counts {behind} later call(s) (see its 'timing' section)")
    return {"tasks": rows, "status": status, "groups": groups, "worst_slots": timing.get("worst_slots") or [],
            "histograms": summary.get("timing_histograms") or {}, "notes": notes}


def format_run_timing(report: dict) -> str:
    """The per-task table of :func:`run_timing` as text."""
    lines = [f"{'task':<16} {'group':>6} {'calls':>9} {'budget us':>10} {'p50 us':>9} {'p99 us':>9} "
             f"{'max us':>9} {'overruns':>9} {'errors':>7} {'slips':>6}"]
    for r in report["tasks"]:
        slips = "-" if r["cycle_slips"] is None else str(r["cycle_slips"])
        lines.append(f"{r['task']:<16} {r['group']:>6} {r['calls']:>9} {r['budget_us']:>10g} {r['p50_us']:>9.1f} "
                     f"{r['p99_us']:>9.1f} {r['max_us']:>9.1f} {r['overruns']:>9} {r['errors']:>7} {slips:>6}")
    s = report["status"]
    if s is not None:
        lines.append(f"executive: {s['frame_count']} frames, {s['cycle_slips']} cycle slips, "
                     f"{s['skipped_slots']} skipped slots, lateness p99 {s['lateness_p99_us']:.1f} us / max "
                     f"{s['lateness_max_us']:.1f} us, cpu load {s['cpu_load_pct']:.2f} %, failed mask "
                     f"{s['tasks_failed']:#x}")
    for w in report.get("worst_slots", []):
        lines.append(f"slot {w['slot']:>4}: longest frame {w['max_busy_us']:.1f} us of {w['budget_us']:g} us budgeted "
                     f"({', '.join(w['tasks'])})")
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def _bars_outline(bins, floor: float) -> tuple[list[float], list[float]]:
    """The outline of a histogram's bars as one polygon, (x [us], y): each bin ([lo_ns, hi_ns, count], in
    increasing order) up from ``floor`` (the log axis' bottom) to its count and back; a gap between bins is on
    the floor."""
    x, y = [], []
    for lo, hi, count in bins:
        lo_us, hi_us = lo / _NS_PER_US, hi / _NS_PER_US
        x += [lo_us, lo_us, hi_us, hi_us]
        y += [floor, count, count, floor]
    return x, y


def group_figures(report: dict) -> list[tuple[str, object]]:
    """(rate group, matplotlib Figure) per rate group: each task's execution-time histogram with its budget.

    Uses ``timing_histograms`` of summary.json; without it, bars of p50/p99/max per task from the packets.
    """
    from matplotlib.figure import Figure  # no pyplot global state

    by_group: dict[str, list[dict]] = {}
    for r in report["tasks"]:
        by_group.setdefault(r["group"], []).append(r)
    out = []
    for group, rows in by_group.items():
        fig = Figure(figsize=(9, 4.5), layout="constrained")
        ax = fig.subplots()
        hist = report["histograms"]
        if all(r["task"] in hist for r in rows):
            floor = 0.5  # the count axis' bottom (log): under a single call, where the bars stand
            for k, r in enumerate(rows):
                bins = hist[r["task"]]
                color = f"C{k % 10}"
                if bins:
                    # log-linear bins have equal widths on a log axis, so raw counts compare fairly; each task's
                    # bars are one outline (a patch per bar took 1.6 s of a report's 14 s at 10 tasks)
                    ax.fill(*_bars_outline(bins, floor), alpha=0.5, color=color, lw=0,
                            label=f"{r['task']} (p50 {r['p50_us']:.1f} us, p99 {r['p99_us']:.1f} us)")
                ax.axvline(r["budget_us"], color=color, ls="--", lw=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(bottom=floor)
            ax.set_xlabel("execution time [us] (log; dashed: budget)")
            ax.set_ylabel(f"calls per 1/{1 << SUB_BITS}-octave bin [count]")
            ax.set_title(f"{group} rate group: execution-time histograms")
        else:
            x = range(len(rows))
            for off, key in ((-0.25, "p50_us"), (0.0, "p99_us"), (0.25, "max_us")):
                ax.bar([i + off for i in x], [r[key] for r in rows], width=0.25, label=key[:-3])
            ax.scatter(list(x), [r["budget_us"] for r in rows], marker="_", s=800, color="k", label="budget")
            ax.set_xticks(list(x), [r["task"] for r in rows])
            ax.set_yscale("log")
            ax.set_xlabel("task")
            ax.set_ylabel("execution time [us] (log)")
            ax.set_title(f"{group} rate group: percentiles (no histogram bins in summary.json)")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        out.append((group, fig))
    return out


def plot_groups(report: dict, out_dir) -> list[Path]:
    """One PNG per rate group, ``timing_<group>.png`` (:func:`group_figures`)."""
    written = []
    for group, fig in group_figures(report):
        path = Path(out_dir) / f"timing_{group}.png"
        fig.savefig(path, dpi=100)
        written.append(path)
    return written


def timeline_figure(frames: list[dict], n: int = 10):
    """Gantt chart of the ``n`` worst frames of a timeline (``Executive.write_timeline`` JSON).

    The time axis is logarithmic above 1 us (linear below): one frame that took 100 ms must not flatten
    the tasks of a few microseconds in the others."""
    from matplotlib.figure import Figure

    frames = frames[:n]
    names = sorted({s["task"] for f in frames for s in f["tasks"]})
    color = {t: f"C{k % 10}" for k, t in enumerate(names)}
    fig = Figure(figsize=(10, 0.4 * len(frames) + 1.8), layout="constrained")
    ax = fig.subplots()
    for y, f in enumerate(frames):
        ax.barh(y, f["lateness_ns"] / _NS_PER_US, left=0, color="0.8")
        for s in f["tasks"]:
            ax.barh(y, s["duration_ns"] / _NS_PER_US, left=s["start_ns"] / _NS_PER_US, color=color[s["task"]])
    for t, c in color.items():
        ax.barh(0, 0, color=c, label=t)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0.0)
    ax.set_yticks(range(len(frames)), [f"frame {f['frame']}" for f in frames])
    ax.invert_yaxis()
    ax.set_xlabel("time after the frame's nominal boundary [us] (log above 1 us; grey: start lateness)")
    ax.set_ylabel("frame (worst first)")
    ax.set_title("worst frames")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_timeline(frames: list[dict], path, n: int = 10) -> Path:
    """:func:`timeline_figure` written to ``path``."""
    timeline_figure(frames, n).savefig(path, dpi=100)
    return Path(path)


def register(sub) -> None:
    """``qz timing RUN_DIR``."""
    p = sub.add_parser(
        "timing", help="per-task timing table of a run and a histogram plot per rate group",
        description="Print the per-task timing of a run from its telemetry archive (newest EXEC_TASK_TIMING "
                    "packet per task: calls, budget, p50, p99, max, overruns; EXEC_STATUS totals) with cycle "
                    "slips per rate group from summary.json, and write RUN_DIR/timing_<group>.png. Histogram "
                    "bins come from summary.json's 'timing_histograms' (the packets carry only percentiles); "
                    "without them the plot shows p50/p99/max bars. A timeline.json in RUN_DIR (qz sim "
                    "--timeline N) is also drawn as timeline.png.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by qz sim")
    p.add_argument("--no-plots", action="store_true", help="print the table only")
    p.set_defaults(func=_timing_cmd)


def _timing_cmd(args) -> int:
    run_dir = Path(args.run_dir)
    try:
        report = run_timing(run_dir)
    except FileNotFoundError as err:
        print(f"qz timing: {err}", file=sys.stderr)
        return 2
    print(format_run_timing(report))
    over = [r["task"] for r in report["tasks"] if r["overruns"] or r["errors"]]
    if args.no_plots:
        return 1 if over else 0
    for path in plot_groups(report, run_dir):
        print(f"wrote {path}")
    timeline = run_dir / "timeline.json"
    if timeline.is_file():
        frames = json.loads(timeline.read_text())
        if frames:
            print(f"wrote {plot_timeline(frames, run_dir / 'timeline.png')} ({len(frames)} worst frames kept)")
    return 1 if over else 0

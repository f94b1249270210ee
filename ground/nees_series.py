"""The NEES through time: ``qz nees --every S`` (docs/navigation.md, "Running it" and "The couples of a burn").

A gate is one instant; a filter can be wrong for minutes between two of them (after a burn, on a coast) and
right again at the next. With ``--every S`` each run also records, at the first navigation step at or after
every multiple of S seconds of mission time, its NEES (6 dof), the position and velocity parts (3 dof each)
and the true range (``NeesProbe.series``, one JSON column ``nees.series`` of the campaign row). Here the runs
are averaged instant by instant: instant k holds the samples taken in [k S, (k + 1) S), and its average is
judged against the bounds of the number of runs that have one there (runs end at different times). At 95 %
bounds about one instant in twenty lies outside by chance; a span of many is a finding.

``OUT/nees_time.csv`` (one line per instant) and ``OUT/nees_time.png`` (the average against its bounds over
mission time, the runs' median true range below it) are written from the rows; ``nees.json`` holds the same
under ``series``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

SERIES_FILES = ("nees_time.csv", "nees_time.png")
SERIES_KEYS = ("t_s", "range_m", "nees", "nees_r", "nees_v")  # the columns of one run's series, in this order


def series_json(samples: list[tuple]) -> str:
    """One run's samples (tuples in the order of ``SERIES_KEYS``) as the JSON text of its ``nees.series``
    column."""
    cols = list(zip(*samples, strict=True)) if samples else [()] * len(SERIES_KEYS)
    return json.dumps({k: [float(v) for v in col] for k, col in zip(SERIES_KEYS, cols, strict=True)})


def series_summary(rows: list[dict], every_s: float, confidence: float) -> dict:
    """The average NEES at each instant k S over the runs that have a finite sample in [k S, (k + 1) S), its
    bounds for that many runs and its verdict; the position and velocity parts; the runs' median true range."""
    from ground.nees import NEES_DOF, nees_bounds

    bins: dict[int, list[tuple[float, float, float, float]]] = {}
    for r in rows:
        text = r.get("nees.series")
        if not text:
            continue
        d = json.loads(text)
        for t, rng, n, nr, nv in zip(*(d[k] for k in SERIES_KEYS), strict=True):
            if n is not None and math.isfinite(n):
                bins.setdefault(int(t // every_s), []).append((n, nr, nv, rng))
    bounds: dict[int, tuple[float, float]] = {}  # by number of runs: the chi-square quantiles are not free
    out: dict = {"every_s": every_s, "t_s": [], "runs": [], "mean_nees": [], "bounds": [], "verdict": [],
                 "mean_nees_r": [], "mean_nees_v": [], "median_range_m": []}
    for k in sorted(bins):
        v = np.array(bins[k])
        n = len(v)
        if n not in bounds:
            bounds[n] = nees_bounds(n, NEES_DOF, confidence)
        lo, hi = bounds[n]
        mean = float(v[:, 0].mean())
        out["t_s"].append(k * every_s)
        out["runs"].append(n)
        out["mean_nees"].append(mean)
        out["bounds"].append([lo, hi])
        out["verdict"].append("inside" if lo <= mean <= hi else ("above" if mean > hi else "below"))
        out["mean_nees_r"].append(float(v[:, 1].mean()))
        out["mean_nees_v"].append(float(v[:, 2].mean()))
        out["median_range_m"].append(float(np.median(v[:, 3])))
    return out


def outside_spans(series: dict) -> list[tuple[str, float, float]]:
    """The spans of consecutive instants outside the bounds on one side: (``above`` or ``below``, first instant
    [s], last instant [s])."""
    spans: list[tuple[str, float, float]] = []
    every = series["every_s"]
    for t, verdict in zip(series["t_s"], series["verdict"], strict=True):
        if verdict == "inside":
            continue
        if spans and spans[-1][0] == verdict and math.isclose(t - spans[-1][2], every):
            spans[-1] = (verdict, spans[-1][1], t)
        else:
            spans.append((verdict, t, t))
    return spans


def series_markdown(series: dict) -> str:
    """The paragraph of ``nees.md`` on the NEES through time."""
    n = len(series["t_s"])
    above = series["verdict"].count("above")
    below = series["verdict"].count("below")
    text = (f"NEES through time (`--every {series['every_s']:g}`): {n} instants, {above} above the bounds "
            f"(optimistic), {below} below (pessimistic); at these bounds about one instant in twenty lies outside "
            f"by chance. `nees_time.csv`, `nees_time.png`.")
    spans = [s for s in outside_spans(series) if s[2] > s[1]]  # two or more instants in a row
    if spans:
        shown = ", ".join(f"{a:,.0f}-{b:,.0f} s {side}" for side, a, b in spans[:12])
        more = f" and {len(spans) - 12} more" if len(spans) > 12 else ""
        text += f" Two or more instants in a row outside: {shown}{more}."
    return text


def write_series_outputs(out: Path, result: dict) -> list[Path]:
    """``nees_time.csv`` and ``nees_time.png`` of ``result["series"]``."""
    s = result["series"]
    csv_path, png_path = (Path(out) / f for f in SERIES_FILES)
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "runs", "mean_nees", "lo", "hi", "verdict", "mean_nees_r", "mean_nees_v",
                    "median_range_m"])
        for i, t in enumerate(s["t_s"]):
            w.writerow([t, s["runs"][i], s["mean_nees"][i], *s["bounds"][i], s["verdict"][i], s["mean_nees_r"][i],
                        s["mean_nees_v"][i], s["median_range_m"][i]])
    series_figure(result).savefig(png_path, dpi=100)
    return [csv_path, png_path]


def series_figure(result: dict):
    """The average NEES at each instant against its bounds over mission time; below, the runs' median range."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from ground.nees import NEES_DOF

    s = result["series"]
    fig = Figure(figsize=(11, 6.6), layout="constrained")
    ax, ax_r = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    t = np.array(s["t_s"], float)
    lo, hi = (np.array([b[i] for b in s["bounds"]], float) for i in (0, 1))
    mean = np.array(s["mean_nees"], float)
    c = result["confidence"]
    ax.fill_between(t, lo, hi, step="mid", color="C2", alpha=0.3, lw=0, label=f"{100 * c:g} % bounds of the average")
    ax.axhline(NEES_DOF, color="0.4", ls=":", lw=1, label="expected value 6")
    ax.plot(t, mean, "-", color="k", lw=1, label="average NEES of the runs at that instant")
    for verdict, color, what in (("above", "C3", "above: optimistic"), ("below", "C1", "below: pessimistic")):
        sel = np.array([v == verdict for v in s["verdict"]], bool)
        if sel.any():
            ax.scatter(t[sel], mean[sel], s=16, color=color, zorder=5, label=what)
    if len(mean) and np.nanmax(mean) > 5.0 * NEES_DOF:
        ax.set_yscale("log")
    ax.set_ylabel("NEES, position + velocity (6 dof)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"{result['scenario']}: relative-navigation NEES through time, {result['runs']} dispersed runs "
                 f"(campaign seed {result['campaign_seed']}), every {s['every_s']:g} s", fontsize=11)
    ax_r.plot(t, s["median_range_m"], "-", color="C0", lw=1.2)
    ax_r.set_yscale("log")
    ax_r.set_ylabel("median true\nrange [m]")
    ax_r.set_xlabel("mission time [s] (each instant: the first navigation step of each run at or after it)")
    ax_r.grid(alpha=0.3)
    return fig

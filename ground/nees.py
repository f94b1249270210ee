"""Consistency of the relative navigation over a Monte Carlo campaign: ``qz nees`` (issue #17).

The normalised estimation error squared of the filter's position and velocity,
``NEES = e^T P^-1 e`` with ``e = x_hat - x_true`` over the first six states (position, velocity of the
chaser CoM relative to the station docking port, LVLH; a filter with more states keeps these first) and
``P`` their covariance block, is recorded in each dispersed run at range gates: the first navigation
step at which the *true* range (chaser CoM to the port) is below 50 km, 5 km, 400 m and 20 m, and the
last navigation step before the truth's first docking contact. The true range, not the estimated one,
decides the instant: an instant chosen on the estimate is correlated with its error (the estimate
crosses early when it is short), which would bias the error sampled there. The estimate and the truth
are read in the same process at the same time stamp: after each frame in which the navigation task stepped,
outside the executive's timed calls (``sims.runner.run_sil(observer=...)``), before the truth advances.

For a consistent filter each NEES is chi-square with 6 degrees of freedom, and the average over N
independent runs, times N, is chi-square with 6N: the average lies in
``[chi2.ppf(0.025, 6N) / N, chi2.ppf(0.975, 6N) / N]`` 95 % of the time (Bar-Shalom, Li & Kirubarajan,
*Estimation with Applications to Tracking and Navigation*, 2001, sec. 5.4.2). The quantiles come from the
regularised incomplete gamma function here, so the harness needs no scipy.

The runs are a campaign of ``ground.campaign`` (its dispersion draws, seeds, Dask pool, progress bar,
resumable ``cases.jsonl`` and its outputs); each case's row carries the gate samples as ``nees.*``
columns. ``OUT/nees.json`` (every gate of every run, the summary, the bounds and what reproduces it),
``OUT/nees.csv`` (one line per run and gate), ``OUT/nees.md``, ``OUT/nees.png`` and
``OUT/nees_errors.png`` are written from those rows; with ``--every S`` the NEES through time as well
(``ground.nees_series``: ``OUT/nees_time.csv``, ``OUT/nees_time.png``).
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ground.campaign.cases import case_seed, draw_dispersions, row_from_summary
from ground.campaign.common import SCHEDULER_TIMEOUT_S, CampaignError
from ground.campaign.store import read_rows

log = logging.getLogger(__name__)

GATES_M = (50_000.0, 5_000.0, 400.0, 20.0)  # [m] true range gates (issue #17), then contact
CONTACT = "contact"
CONFIDENCE = 0.95  # two-sided
NEES_DOF = 6  # position and velocity
NAV_TASK = "navigation"  # the scheduled task whose step is observed (fsw/config/flight.toml)
DEFAULT_SCENARIO = "far_approach"
FILES = ("nees.json", "nees.csv", "nees.md", "nees.png", "nees_errors.png")
_VECTORS = ("e_r_m", "e_v_mps", "sigma_r_m", "sigma_v_mps")  # per gate, 3 components each
_SCALARS = ("t_s", "range_m", "range_est_m", "nees", "nees_r", "nees_v", "valid", "sensor", "n_states",
            "dt_truth_ns", "resets")


class NeesError(CampaignError):
    """A NEES campaign cannot start (an output folder holding something else, bad gates); the message says why."""


# ------------------------------------------------------------------------------------------------ statistics


def chi2_cdf(x: float, dof: float) -> float:
    """P(X <= x) for X chi-square with ``dof`` degrees of freedom.

    Notes
    -----
    The regularised lower incomplete gamma function P(dof/2, x/2): its series below a + 1, the continued
    fraction of its complement (modified Lentz) above (Press et al., *Numerical Recipes*, 3rd ed., sec. 6.2).
    Both converge in O(sqrt(a)) terms near the mean, so thousands of degrees of freedom cost microseconds.
    """
    if not dof > 0:
        raise ValueError(f"chi-square degrees of freedom must be > 0, got {dof!r}")
    if x <= 0.0:
        return 0.0
    if math.isinf(x):
        return 1.0
    a, z = 0.5 * dof, 0.5 * x
    log_front = a * math.log(z) - z
    eps, tiny = 1e-16, 1e-300
    if z < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(100_000):
            ap += 1.0
            term *= z / ap
            total += term
            if abs(term) < abs(total) * eps:
                break
        return min(1.0, total * math.exp(log_front - math.lgamma(a)))
    b = z + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return max(0.0, 1.0 - math.exp(log_front - math.lgamma(a)) * h)


def chi2_ppf(p: float, dof: float) -> float:
    """The ``p`` quantile of the chi-square distribution with ``dof`` degrees of freedom (bisection on
    :func:`chi2_cdf` to 1e-13 relative)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a quantile's probability must be in (0, 1), got {p!r}")
    lo, hi = 0.0, max(1.0, float(dof))
    while chi2_cdf(hi, dof) < p:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if chi2_cdf(mid, dof) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return 0.5 * (lo + hi)


def nees_bounds(runs: int, dof: int = NEES_DOF, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided ``confidence`` interval of the average NEES of ``runs`` independent runs of a consistent
    filter: ``[chi2.ppf(a/2, dof N) / N, chi2.ppf(1 - a/2, dof N) / N]``, a = 1 - confidence."""
    if runs < 1:
        raise ValueError(f"NEES bounds need at least one run, got {runs!r}")
    tail = 0.5 * (1.0 - confidence)
    k = dof * runs
    return chi2_ppf(tail, k) / runs, chi2_ppf(1.0 - tail, k) / runs


def nees(e, P) -> np.ndarray | float:
    """``e^T P^-1 e`` through the Cholesky factor of ``P``; NaN where ``P`` is not positive definite.

    ``e`` (..., n) and ``P`` (..., n, n) may carry leading batch dimensions.
    """
    e = np.asarray(e, float)
    P = np.asarray(P, float)
    try:
        L = np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        if P.ndim == 2:
            return math.nan
        return np.array([nees(ei, Pi) for ei, Pi in zip(e.reshape(-1, e.shape[-1]), P.reshape(-1, *P.shape[-2:]),
                                                         strict=True)]).reshape(e.shape[:-1])
    y = np.linalg.solve(L, e[..., None])[..., 0]
    d2 = np.sum(y * y, axis=-1)
    return float(d2) if d2.ndim == 0 else d2


# ------------------------------------------------------------------------------------------------ the probe


def gate_label(gate_m: float) -> str:
    """``50km``, ``400m``: a gate's name in rows, files and plots."""
    return f"{gate_m / 1000.0:g}km" if gate_m >= 1000.0 else f"{gate_m:g}m"


def check_every(every_s) -> float | None:
    """``--every``: None (no series) or a finite number of seconds above 0, as a float."""
    if every_s is None:
        return None
    try:
        v = float(every_s)
    except (TypeError, ValueError):
        raise NeesError(f"every_s: a number of seconds above 0, got {every_s!r}") from None
    if not (math.isfinite(v) and v > 0.0):
        raise NeesError(f"every_s: a number of seconds above 0, got {every_s!r}")
    return v


def check_gates(gates_m) -> tuple[float, ...]:
    """Gates as a strictly decreasing tuple of positive, finite ranges [m]."""
    try:
        g = tuple(float(x) for x in gates_m)
    except (TypeError, ValueError):
        raise NeesError(f"gates must be ranges in metres, got {gates_m!r}") from None
    if not g or any(not (0.0 < x < math.inf) for x in g) or any(b >= a for a, b in zip(g, g[1:], strict=False)):
        raise NeesError(f"gates must be finite ranges > 0 m in decreasing order, got {list(g)}")
    labels = [gate_label(x) for x in g]
    if len(set(labels)) < len(labels):  # rows, files and plots name a gate by its label
        raise NeesError(f"gates must differ in their first 6 digits (their names: {labels}), got {list(g)}")
    return g


class NeesProbe:
    """Records the filter's position/velocity error and covariance at the range gates of one SIL run.

    ``run_sil(..., observer=probe)`` calls :meth:`after_frame` after each frame that ran tasks, outside the
    executive's timed calls: the probe's work never counts against a task's budget, and a run flies the same
    however slow the host (the navigation task's own output sequence counter says whether it stepped in the
    frame). There, the filter's state ``x`` and covariance ``P`` (``RELNAV_FILTER``, sizes read from the record)
    hold the time ``t_prev_ns`` of this step, and the truth has not yet advanced past the frame: its relative state
    (``Truth.reference_state``: the centre of mass of the uplinked loading manifest rel. the port, LVLH, the
    point whose geometry the flight software knows; the true CoM differs by the cargo's placement error and the
    residual offset) is at the same time stamp
    (``dt_truth_ns`` records the difference, 0 by construction).
    A gate a run starts inside has no crossing: its sample (the first step after initialisation) is kept
    with ``resets`` etc. but flagged ``crossed = 0`` and left out of the averages. With ``every_s``, the first
    initialised step at or after each multiple of it is kept too (``series``: time, true range, NEES and its
    parts; ``ground.nees_series``).
    """

    def __init__(self, gates_m=GATES_M, every_s: float | None = None):
        self.gates_m = check_gates(gates_m)
        self.every_s = check_every(every_s)
        self.series: list[tuple[float, float, float, float, float]] = []  # ground.nees_series.SERIES_KEYS
        self._next_t_s = 0.0
        self.labels = [gate_label(g) for g in self.gates_m] + [CONTACT]
        self.samples: dict[str, dict] = {}
        self.contact_reason = "no contact"
        self.resets = 0
        self._next = 0  # index of the next gate to cross
        self._last: dict | None = None  # the latest step's sample once every range gate is crossed
        self._first = True  # no initialised step seen yet
        self._was_initialised = False
        self._done = False
        self._nav = self._truth = None

    # the runner's observer protocol
    def attach(self, flight, truth) -> None:
        nav = flight.apps[NAV_TASK]
        flt = nav.flt
        n = flt.dtype["x"].shape[0]
        if n < NEES_DOF or flt.dtype["P"].shape != (n, n):
            raise ValueError(f"navigation filter record: x {flt.dtype['x'].shape}, P {flt.dtype['P'].shape}; the "
                             f"NEES needs at least {NEES_DOF} states (position, velocity first) and an n x n P")
        self._nav, self._flt, self._out, self._n = nav, flt[0], nav.out, n
        self._seq = int(nav.out["seq"])
        self._truth = truth

    def after_frame(self, t_ns: int) -> None:
        seq = int(self._out["seq"])  # every navigation step publishes, valid or not, and counts
        if seq == self._seq:
            return
        self._seq = seq
        self._after_step()

    def _after_step(self) -> None:
        if self._done:
            return
        truth = self._truth
        if truth.contact is not None or truth.collided:  # the truth touched during the frames since the last step
            self._done = True
            self.contact_reason = "contact" if truth.contact is not None else "collision"
            if truth.contact is not None and self._last is not None:
                self.samples[CONTACT] = self._last
            return
        nav = self._nav
        if not nav.initialised or nav.docked:
            if self._was_initialised:
                self.resets += 1
            self._was_initialised = False
            return
        self._was_initialised = True
        rng = truth.range_m()
        gates = self.gates_m
        if self._next < len(gates) and rng < gates[self._next]:
            s = self._sample(rng)
            s["crossed"] = 0 if self._first else 1
            while self._next < len(gates) and rng < gates[self._next]:
                self.samples[self.labels[self._next]] = s
                self._next += 1
            if self._next == len(gates):
                self._last = s
        elif self._next == len(gates):
            self._last = self._sample(rng)
            self._last["crossed"] = 1
        self._first = False
        if self.every_s is not None:
            t_s = int(self._flt["t_prev_ns"]) * 1e-9
            if t_s >= self._next_t_s:
                s = self._sample(rng)
                self.series.append((t_s, rng, s["nees"], s["nees_r"], s["nees_v"]))
                self._next_t_s = (math.floor(t_s / self.every_s) + 1.0) * self.every_s

    def _sample(self, range_m: float) -> dict:
        f, truth = self._flt, self._truth
        x = f["x"][:NEES_DOF]
        P = f["P"][:NEES_DOF, :NEES_DOF]
        r, v = truth.reference_state()  # the manifest's CoM: the point the flight navigates
        e = np.concatenate((x[:3] - r, x[3:] - v))
        t_ns = int(f["t_prev_ns"])
        return {"t_s": t_ns * 1e-9, "range_m": range_m, "range_est_m": float(np.linalg.norm(x[:3])),
                "nees": nees(e, P), "nees_r": nees(e[:3], P[:3, :3]), "nees_v": nees(e[3:], P[3:, 3:]),
                "valid": int(self._out["valid"]), "sensor": int(self._out["sensor"]), "n_states": self._n,
                "dt_truth_ns": truth.t_ns - t_ns, "resets": self.resets,
                "e_r_m": e[:3].tolist(), "e_v_mps": e[3:].tolist(),
                "sigma_r_m": np.sqrt(np.diag(P)[:3]).tolist(), "sigma_v_mps": np.sqrt(np.diag(P)[3:]).tolist()}

    def row(self) -> dict:
        """The gate samples as flat ``nees.<gate>.<key>`` columns (vectors as ``key[i]``) of a campaign row."""
        out = {"nees.gates": " ".join([f"{g:g}" for g in self.gates_m] + [CONTACT]),
               "nees.resets": self.resets, "nees.contact_reason": self.contact_reason}
        if self.every_s is not None:
            from ground.nees_series import series_json

            out["nees.every_s"] = self.every_s
            out["nees.series"] = series_json(self.series)
        for label, s in self.samples.items():
            for k, v in s.items():
                if isinstance(v, list):
                    out.update({f"nees.{label}.{k}[{i}]": float(c) for i, c in enumerate(v)})
                else:
                    out[f"nees.{label}.{k}"] = v
        return out


def gate_sample(row: dict, label: str) -> dict | None:
    """One gate's sample of a campaign row (the inverse of :meth:`NeesProbe.row`), None if the run has none."""
    if f"nees.{label}.nees" not in row:
        return None
    s = {k: row.get(f"nees.{label}.{k}") for k in (*_SCALARS, "crossed")}
    for k in _VECTORS:
        s[k] = [row.get(f"nees.{label}.{k}[{i}]") for i in range(3)]
    return s


def gate_key(gates_m) -> str:
    return " ".join([f"{g:g}" for g in gates_m] + [CONTACT])


# ------------------------------------------------------------------------------------------------ one case


def nees_case(spec: dict, gates_m=GATES_M, every_s: float | None = None) -> dict:
    """Fly one campaign case (``ground.campaign.case_spec``) with a :class:`NeesProbe`; return its row: the
    campaign row of ``ground.campaign.row_from_summary`` plus the probe's ``nees.*`` columns."""
    from sims.runner import run_sil
    from sims.scenario import load_scenario

    t0 = time.perf_counter()
    sc = load_scenario(spec["scenario"])
    overrides, draws = draw_dispersions(sc, spec["campaign_seed"], spec["case"])
    seed = case_seed(spec["campaign_seed"], spec["case"])
    probe = NeesProbe(gates_m, every_s)
    tmp = tempfile.mkdtemp(prefix=f"qz-nees-{spec['case']}-")
    try:
        summary = run_sil(spec["scenario"], tmp, duration_s=spec["duration_s"], seed=seed, progress=False,
                          overrides=overrides, keep_telemetry=False, observer=probe)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    row = row_from_summary(spec, seed, summary, draws)
    row.update(probe.row())
    row["case_wall_s"] = time.perf_counter() - t0
    return row


# ------------------------------------------------------------------------------------------------ the campaign


def check_nees_folder(out: Path, gates_m, every_s: float | None = None) -> None:
    """Refuse (read only) a folder whose stored rows are not NEES rows of these gates and this ``--every``: a
    ``qz mc`` campaign, or a NEES campaign of other gates or another series, would mix with this one."""
    key = gate_key(gates_m)
    for case, row in read_rows(out).items():
        if row.get("error"):
            continue
        if "nees.gates" not in row:
            raise NeesError(f"--out {out}: holds a Monte Carlo campaign without NEES (case {case}); choose "
                            f"another --out")
        if row["nees.gates"] != key:
            raise NeesError(f"--out {out}: holds a NEES campaign of gates {row['nees.gates']!r}, not {key!r}; "
                            f"choose another --out")
        if row.get("nees.every_s") != every_s:
            had = f"--every {row['nees.every_s']:g}" if row.get("nees.every_s") is not None else "no --every"
            want = f"--every {every_s:g}" if every_s is not None else "none"
            raise NeesError(f"--out {out}: holds a NEES campaign flown with {had}, not {want}; fly it with the same "
                            f"option or choose another --out")


def run_nees(scenario: str = DEFAULT_SCENARIO, runs: int = 100, out_dir: str | Path | None = None, *,
             seed: int | None = None, workers: int | None = None, scheduler: str | None = None,
             duration_s: float | None = None, retries: int = 2, progress: bool = True, undispersed: bool = False,
             gates_m=GATES_M, confidence: float = CONFIDENCE, every_s: float | None = None,
             connect_timeout_s: float = SCHEDULER_TIMEOUT_S) -> dict:
    """Fly ``runs`` dispersed cases of ``scenario`` with the NEES probe (a resumable ``ground.campaign``
    campaign in ``out_dir``) and write the NEES outputs; return the content of ``nees.json``.

    Everything is checked before anything is written: the gates, the confidence, the folder's rows, then
    ``run_campaign``'s own checks (options, scenario, folder, campaign parameters, scheduler).
    """
    from ground.campaign.run import run_campaign

    gates_m = check_gates(gates_m)
    every_s = check_every(every_s)
    if not (isinstance(confidence, float) and 0.0 < confidence < 1.0):
        raise NeesError(f"confidence must be in (0, 1), got {confidence!r}")
    out = Path(out_dir) if out_dir is not None else Path("runs") / f"nees-{Path(scenario).stem}"
    if out.is_dir():
        check_nees_folder(out, gates_m, every_s)
    campaign = run_campaign(scenario, runs, out, seed=seed, workers=workers, scheduler=scheduler,
                            duration_s=duration_s, retries=retries, progress=progress, undispersed=undispersed,
                            connect_timeout_s=connect_timeout_s,
                            case_fn=functools.partial(nees_case, gates_m=gates_m, every_s=every_s))
    stored = read_rows(out)
    rows = [stored[c] for c in range(runs) if c in stored]
    result = nees_result(rows, gates_m, scenario=campaign["scenario"], campaign_seed=campaign["campaign_seed"],
                         confidence=confidence, duration_s=duration_s, every_s=every_s)
    result["run"] = {k: v for k, v in campaign["run"].items() if k != "done_at_s"}
    write_nees_outputs(out, result)
    return result


def nees_result(rows: list[dict], gates_m=GATES_M, *, scenario: str, campaign_seed: int,
                confidence: float = CONFIDENCE, duration_s: float | None = None, every_s: float | None = None) -> dict:
    """The content of ``nees.json``: per gate the average NEES against its bounds (runs that crossed the gate),
    and every run's gate samples; with ``every_s``, the NEES through time (``series``)."""
    labels = [gate_label(g) for g in gates_m] + [CONTACT]
    cases = []
    for r in rows:
        gates = {lb: gate_sample(r, lb) for lb in labels}
        cases.append({"case": r["case"], "seed": r.get("seed"), "stop_reason": r.get("stop_reason"),
                      "contact_reason": r.get("nees.contact_reason"), "resets": r.get("nees.resets"),
                      "error": r.get("error"), "gates": {lb: s for lb, s in gates.items() if s is not None}})
    summary = {lb: gate_summary([c["gates"].get(lb) for c in cases], confidence) for lb in labels}
    cmd = f"qz nees {scenario} --runs {len(rows)} --seed {campaign_seed}"
    if tuple(gates_m) != GATES_M:
        cmd += " --gates " + ",".join(f"{g:.12g}" for g in gates_m)
    if duration_s is not None:
        cmd += f" --duration {duration_s:g}"
    if every_s is not None:
        cmd += f" --every {every_s:g}"
    result = {"scenario": scenario, "campaign_seed": int(campaign_seed), "runs": len(rows),
            "errors": sum(1 for c in cases if c["error"]), "dof": NEES_DOF, "confidence": confidence,
            "gates_m": list(gates_m) + [CONTACT], "gate_labels": labels,
            "definition": "NEES = e^T P^-1 e over the first 6 filter states (chaser CoM rel. the station port, "
                          "LVLH: position, velocity), e = estimate - truth at the same time stamp; a gate is the "
                          "first navigation step at which the TRUE range is below it; contact is the last "
                          "navigation step before the truth's first docking contact; runs that start inside a "
                          "gate are left out of its average",
            "bounds": "average NEES of N runs: [chi2.ppf((1-c)/2, 6N)/N, chi2.ppf((1+c)/2, 6N)/N]",
            "reproduce": cmd, "summary": summary, "cases": cases}
    if every_s is not None:
        from ground.nees_series import series_summary

        result["series"] = series_summary(rows, every_s, confidence)
    return result


def gate_summary(samples: list[dict | None], confidence: float = CONFIDENCE) -> dict:
    """Average NEES of the runs that crossed a gate, its bounds and whether it lies inside, the position and
    velocity parts (3 dof each) against theirs, the share of single runs outside their own chi-square(6)
    interval, the RMS error and RMS 1-sigma per axis, and the RMS of each axis' error over its own 1-sigma
    (1 for a consistent filter; it ignores the correlations the NEES weighs)."""
    got = [s for s in samples if s is not None]
    crossed = [s for s in got if s.get("crossed")]
    finite = [s for s in crossed if s["nees"] is not None and math.isfinite(s["nees"])]
    out = {"n": len(finite), "started_inside": len(got) - len(crossed), "missing": len(samples) - len(got),
           "not_positive_definite": len(crossed) - len(finite)}
    if not finite:
        return out
    n = len(finite)
    vals = np.array([s["nees"] for s in finite])
    lo, hi = nees_bounds(n, NEES_DOF, confidence)
    mean = float(vals.mean())
    lo3, hi3 = nees_bounds(n, 3, confidence)
    one_lo, one_hi = nees_bounds(1, NEES_DOF, confidence)
    e = np.array([s["e_r_m"] + s["e_v_mps"] for s in finite])
    sig = np.array([s["sigma_r_m"] + s["sigma_v_mps"] for s in finite])
    out.update({
        "mean_nees": mean, "bounds": [lo, hi], "inside": bool(lo <= mean <= hi),
        "verdict": "inside" if lo <= mean <= hi else ("above: optimistic covariance" if mean > hi
                                                      else "below: pessimistic covariance"),
        "median_nees": float(np.median(vals)), "max_nees": float(vals.max()),
        "mean_nees_r": float(np.mean([s["nees_r"] for s in finite])),
        "mean_nees_v": float(np.mean([s["nees_v"] for s in finite])), "bounds_3dof": [lo3, hi3],
        "runs_outside_single_run_bounds": int(np.sum((vals < one_lo) | (vals > one_hi))),
        "single_run_bounds": [one_lo, one_hi],
        "median_range_m": float(np.median([s["range_m"] for s in finite])),
        "median_time_s": float(np.median([s["t_s"] for s in finite])),
        "nav_valid": int(sum(1 for s in finite if s["valid"])),
        "rms_error": np.sqrt(np.mean(e * e, axis=0)).tolist(),
        "rms_sigma": np.sqrt(np.mean(sig * sig, axis=0)).tolist(),
        "rms_normalised_error": np.sqrt(np.mean(np.square(e / sig), axis=0)).tolist(),
        "max_dt_truth_ns": int(max(abs(s["dt_truth_ns"]) for s in finite)),
    })
    return out


# ------------------------------------------------------------------------------------------------ outputs


def write_nees_outputs(out: Path, result: dict) -> list[Path]:
    """``nees.json``, ``nees.csv`` (one line per run and gate), ``nees.md``, ``nees.png``, ``nees_errors.png``."""
    out = Path(out)
    paths = [out / f for f in FILES]
    paths[0].write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")
    with open(paths[1], "w", newline="") as fh:
        w = csv.writer(fh)
        head = ["case", "seed", "gate", "crossed", *_SCALARS]
        vec_cols = [f"{k}[{i}]" for k in _VECTORS for i in range(3)]
        w.writerow(head + vec_cols)
        for c in result["cases"]:
            for lb in result["gate_labels"]:
                s = c["gates"].get(lb)
                if s is None:
                    continue
                w.writerow([c["case"], c["seed"], lb, s["crossed"], *(s[k] for k in _SCALARS),
                            *(v for k in _VECTORS for v in s[k])])
    paths[2].write_text(nees_markdown(result))
    nees_figure(result).savefig(paths[3], dpi=100)
    errors_figure(result).savefig(paths[4], dpi=90)
    if result.get("series") is not None:
        from ground.nees_series import write_series_outputs

        paths += write_series_outputs(out, result)
    return paths


def nees_markdown(result: dict) -> str:
    """The per-gate table of ``nees.md`` (and of ``qz nees``'s output)."""
    c = result["confidence"]
    lines = [f"# NEES of the relative navigation: {result['scenario']}, {result['runs']} runs "
             f"(campaign seed {result['campaign_seed']})", "",
             f"Average NEES (6 dof) at each gate against its two-sided {100 * c:g} % chi-square bounds; "
             f"position / velocity parts (3 dof) beside. Reproduce: `{result['reproduce']}`.", "",
             f"| gate | runs | mean NEES | {100 * c:g} % bounds | verdict | mean NEES r | mean NEES v | 3-dof bounds "
             "| single runs outside | RMS e/sigma: r x, y, z / v x, y, z |",
             "| --- | ---: | ---: | --- | --- | ---: | ---: | --- | ---: | --- |"]
    for lb in result["gate_labels"]:
        s = result["summary"][lb]
        if not s.get("n"):
            lines.append(f"| {lb} | 0 | - | - | no run crossed it | - | - | - | - | - |")
            continue
        z = s["rms_normalised_error"]
        ratio = ", ".join(f"{v:.2f}" for v in z[:3]) + " / " + ", ".join(f"{v:.2f}" for v in z[3:])
        lines.append(f"| {lb} | {s['n']} | {s['mean_nees']:.3g} | {s['bounds'][0]:.3f} - {s['bounds'][1]:.3f} | "
                     f"{s['verdict'] if s['inside'] else '**' + s['verdict'] + '**'} | {s['mean_nees_r']:.3g} | "
                     f"{s['mean_nees_v']:.3g} | {s['bounds_3dof'][0]:.3f} - {s['bounds_3dof'][1]:.3f} | "
                     f"{s['runs_outside_single_run_bounds']} of {s['n']} | {ratio} |")
    notes = []
    for lb in result["gate_labels"]:
        s = result["summary"][lb]
        parts = [f"{s[k]} {k.replace('_', ' ')}" for k in ("started_inside", "missing", "not_positive_definite")
                 if s.get(k)]
        if parts:
            notes.append(f"{lb}: " + ", ".join(parts))
    if notes:
        lines += ["", "Runs left out: " + "; ".join(notes) + "."]
    if result.get("errors"):
        lines += ["", f"{result['errors']} case(s) raised and have no samples (cases.jsonl)."]
    if result.get("series") is not None:
        from ground.nees_series import series_markdown

        lines += ["", series_markdown(result["series"])]
    return "\n".join(lines) + "\n"


def _gate_x(result: dict) -> dict[str, float]:
    """[m] where each gate sits on the range axis: the gate itself, contact at its runs' median true range."""
    x = {gate_label(g): float(g) for g in result["gates_m"] if g != CONTACT}
    s = result["summary"].get(CONTACT) or {}
    x[CONTACT] = s.get("median_range_m") or min(x.values(), default=20.0) / 5.0
    return x


CROWDED_GATES = 6  # a figure with more gates than this (``--gates``) packs its labels: shorter, in rows


def _range_axis(ax, xs: dict[str, float]) -> None:
    """A log range axis, decreasing to the right (the approach reads left to right), ticked at the gates."""
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ax.set_xlim(max(xs.values()) * 2.0, min(xs.values()) / 2.0)
    at = sorted(xs.values())
    crowded = len(xs) > CROWDED_GATES  # neighbours' tick labels on two lines
    ax.set_xticks(list(xs.values()), [f"{lb}\n({x:.3g} m)" if lb == CONTACT else
                                      ("\n" + lb if crowded and at.index(x) % 2 else lb) for lb, x in xs.items()])
    ax.xaxis.set_minor_locator(NullLocator())


def _crossed_nees(result: dict, label: str) -> np.ndarray:
    """The finite NEES of the runs that crossed gate ``label``."""
    vals = [c["gates"][label]["nees"] for c in result["cases"] if label in c["gates"] and c["gates"][label]["crossed"]]
    return np.array([v for v in vals if v is not None and math.isfinite(v)], float)


def nees_figure(result: dict):
    """Mean NEES per gate with its 95 % band on a log range axis, every run's NEES as a point."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 6.2), layout="constrained")
    ax = fig.subplots()
    xs = _gate_x(result)
    rng = np.random.default_rng(0)  # the points' horizontal jitter only
    one_lo, one_hi = nees_bounds(1, NEES_DOF, result["confidence"])
    ax.axhspan(one_lo, one_hi, color="0.85", alpha=0.5, lw=0,
               label=f"one run's {100 * result['confidence']:g} % interval, chi-square(6)")
    ax.axhline(NEES_DOF, color="0.4", ls=":", lw=1, label="expected value 6")
    mean_x, mean_y = [], []
    # many gates (``--gates``) sit close on the log axis: narrower bands, and short labels in three rows above
    # every run's point
    crowded = len(result["gate_labels"]) > CROWDED_GATES
    at = sorted(xs.values())
    runs = {lb: _crossed_nees(result, lb) for lb in result["gate_labels"]}  # every run's NEES at each gate
    highest = max((float(v.max()) for v in runs.values() if len(v)), default=NEES_DOF)
    for i, lb in enumerate(result["gate_labels"]):
        x = xs[lb]
        k = at.index(x)
        near = min([at[j] / at[j - 1] for j in (k, k + 1) if 0 < j < len(at)] or [2.25])
        half = min(1.5, near ** 0.45)  # the band's half-width, a factor on the log axis
        vals = runs[lb]
        if len(vals):
            jitter = x * np.exp(rng.uniform(-0.12, 0.12, len(vals)))
            ax.scatter(jitter, np.maximum(vals, 1e-3), s=9, color="C0", alpha=0.45, lw=0,
                       label="one run" if i == 0 else None)
        s = result["summary"][lb]
        if not s.get("n"):
            continue
        lo, hi = s["bounds"]
        ax.fill_between([x / half, x * half], lo, hi, color="C2", alpha=0.35, ec="C2", lw=1.2,
                        label=f"{100 * result['confidence']:g} % bounds of the average" if not mean_x else None)
        mean_x.append(x)
        mean_y.append(s["mean_nees"])
        top = max(s["mean_nees"], hi, float(vals.max()) if len(vals) else hi)  # above the runs' points
        if crowded:
            top = max(top, highest)
        verdict = "inside" if s["inside"] else "OUTSIDE"
        text = (f"{s['mean_nees']:.3g}\n{verdict}" if crowded else
                f"{s['mean_nees']:.3g}, {verdict}\n[{lo:.2f}, {hi:.2f}] n={s['n']}")
        ax.annotate(text, (x, top), textcoords="offset points", xytext=(0, 6 + (22 * (k % 3) if crowded else 0)),
                    ha="center", fontsize=8, color="C2" if s["inside"] else "C3")
    if mean_x:
        ax.plot(mean_x, mean_y, "-", color="k", lw=1)
        ax.scatter(mean_x, mean_y, s=60, marker="D", color=["C2" if result["summary"][lb]["inside"] else "C3"
                                                              for lb in result["gate_labels"]
                                                              if result["summary"][lb].get("n")],
                   edgecolor="k", zorder=5, label="average NEES (green: inside, red: outside)")
    _range_axis(ax, xs)
    ax.set_yscale("log")
    lo_y, hi_y = ax.get_ylim()
    ax.set_ylim(lo_y, hi_y * (20.0 if crowded else 8.0))  # room for the labels above the highest point
    ax.set_xlabel("gate: true range, chaser CoM to the station port (log; contact: the runs' median range at "
                  "the last navigation step before contact)")
    ax.set_ylabel("NEES, position + velocity (6 dof)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{result['scenario']}: relative-navigation NEES over {result['runs']} dispersed runs "
                 f"(campaign seed {result['campaign_seed']})", fontsize=11)
    return fig


def errors_figure(result: dict):
    """Every run's |error| per axis at each gate against the RMS 3-sigma the filter claimed there."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 3, sharex=True)
    xs = _gate_x(result)
    rng = np.random.default_rng(0)
    names = [("e_r_m", "sigma_r_m", "position", "m"), ("e_v_mps", "sigma_v_mps", "velocity", "m/s")]
    for row, (ek, sk, what, unit) in enumerate(names):
        for axis in range(3):
            ax = axes[row, axis]
            line_x, line_y = [], []
            for lb in result["gate_labels"]:
                x = xs[lb]
                got = [c["gates"][lb] for c in result["cases"] if lb in c["gates"] and c["gates"][lb]["crossed"]]
                if not got:
                    continue
                err = np.abs([s[ek][axis] for s in got])
                ax.scatter(x * np.exp(rng.uniform(-0.12, 0.12, len(err))), np.maximum(err, 1e-9), s=7, color="C0",
                           alpha=0.45, lw=0)
                line_x.append(x)
                line_y.append(3.0 * math.sqrt(np.mean(np.square([s[sk][axis] for s in got]))))
            ax.plot(line_x, line_y, "-o", color="C3", ms=4, label="RMS 3-sigma of the filter")
            _range_axis(ax, xs)
            if line_y:  # a log axis needs data: a campaign too short to cross any gate has none
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.set_title(f"{what} error, LVLH {'xyz'[axis]}", fontsize=9)
            if axis == 0:
                ax.set_ylabel(f"|estimate - truth| [{unit}]")
            if row == 1:
                ax.set_xlabel("gate (true range, log)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{result['scenario']}: navigation error of each run at each gate (points) against the filter's "
                 f"3-sigma (line), {result['runs']} runs", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------ qz nees


def register(sub) -> None:
    """``qz nees``."""
    from ground.options import count, nonneg_count, positive_seconds, seed

    p = sub.add_parser("nees", help="consistency of the relative navigation: average NEES at range gates over a "
                                    "dispersed campaign",
                       description="Fly N dispersed runs of SCENARIO (a resumable Monte Carlo campaign, as qz mc) "
                                   "and record the relative navigation's NEES (position + velocity, 6 dof) at the "
                                   "true ranges 50 km, 5 km, 400 m, 20 m (or --gates) and at the last step before "
                                   "contact; judge "
                                   "the average against the two-sided 95 % chi-square bounds. Writes OUT/nees.json, "
                                   "nees.csv, nees.md, nees.png, nees_errors.png (and the campaign's own files); "
                                   "with --every, the NEES through time too: nees_time.csv, nees_time.png.")
    p.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, metavar="SCENARIO",
                   help=f"scenario name or TOML path, with [dispersions] (default {DEFAULT_SCENARIO})")
    p.add_argument("--runs", type=count, default=100, help="dispersed runs (default 100)")
    p.add_argument("--seed", type=seed, default=None, help="campaign seed (default: the scenario's seed)")
    p.add_argument("--out", default=None, help="campaign folder (default runs/nees-<scenario>); the same command "
                                               "resumes an interrupted campaign, a larger --runs extends it")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=count, default=None, help="local Dask worker processes (default: CPU count)")
    g.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:8786)")
    p.add_argument("--gates", type=gates_arg, default=GATES_M, metavar="M,M,...",
                   help="true ranges [m] to judge at, decreasing, comma-separated (default "
                        + ",".join(f"{g:g}" for g in GATES_M) + "); contact is always judged. A campaign folder "
                        "keeps its gates")
    p.add_argument("--duration", type=positive_seconds, default=None, help="mission-time limit per run [s]")
    p.add_argument("--every", type=positive_seconds, default=None, metavar="SECONDS",
                   help="also the NEES through time: each run's first navigation step at or after every multiple "
                        "of SECONDS of mission time, averaged instant by instant (nees_time.csv, nees_time.png). "
                        "A campaign folder keeps its --every")
    p.add_argument("--retries", type=nonneg_count, default=2, help="further attempts of a run that raises (default 2)")
    p.add_argument("--undispersed", action="store_true", help="fly a scenario without [dispersions]")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_nees_cmd)


def gates_arg(text: str) -> tuple[float, ...]:
    """``--gates 400,300,20``: the gates as :func:`check_gates` returns them (argparse's one-line error otherwise)."""
    import argparse

    try:
        return check_gates(text.split(","))
    except NeesError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _nees_cmd(args) -> int:
    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    out = Path(args.out) if args.out else Path("runs") / f"nees-{Path(args.scenario).stem}"
    try:
        result = run_nees(args.scenario, args.runs, out, seed=args.seed, workers=args.workers,
                          scheduler=args.scheduler, duration_s=args.duration, retries=args.retries,
                          progress=not args.no_progress, undispersed=args.undispersed, gates_m=args.gates,
                          every_s=args.every)
    except KeyboardInterrupt:
        print(f"qz nees: interrupted; finished runs are kept in {out}/cases.jsonl: run the same command to resume",
              file=sys.stderr)
        return 130
    run = result["run"]
    print(f"{run['submitted']} runs flown ({run['skipped']} already done, {run['errors']} errors) in "
          f"{run['elapsed_s']:.1f} s")
    print(nees_markdown(result).split("\n\n", 1)[1].rstrip())
    from ground.nees_series import SERIES_FILES

    files = FILES + (SERIES_FILES if args.every is not None else ())
    print(f"NEES folder {out}: {', '.join(files)}")
    return 0

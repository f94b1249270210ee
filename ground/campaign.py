"""Monte Carlo campaigns on Dask: ``qz mc``, ``qz mc --rerun CASE`` and ``qz mc-bench``.

A campaign is a list of independent, seeded software-in-the-loop runs of one scenario. Case ``c`` of
a campaign with seed ``S``:

- flies with the truth-model seed ``case_seed(S, c)`` (sensor noise, gyro bias, each thruster's thrust
  error and misalignment are drawn by the truth model from it);
- has the scenario's ``[dispersions]`` drawn by :func:`draw_dispersions` into a ``load_scenario``
  overrides dict. Each dispersion has its own stream, ``SeedSequence([S, c, crc32(name)])``, so adding
  a dispersion to the table does not change the draws of the others. ``kind = "normal"``: nominal +
  sigma * N(0, 1) per element; ``kind = "uniform"``: a value drawn between ``lo`` and ``hi`` (bounds of
  the value itself, not offsets).

The cases run on Dask (a local cluster of K single-threaded worker processes, or an existing
scheduler). Each finished case is appended as one JSON line to ``OUT/cases.jsonl`` as it completes,
so an interrupted campaign resumes where it stopped; a worker that dies loses only the case it was
running, which the scheduler runs again elsewhere (``retries`` more attempts for a case that raises).
When the cases are done the campaign writes ``cases.csv`` (and ``cases.parquet`` with pyarrow),
``summary.json``, ``summary.md`` and ``plots/*.png``. ``qz mc --rerun CASE`` flies one case again as a
normal run folder (archive, summary, report) and checks that it reproduces the case's row.

Nothing touches the disk before everything is checked: the options, the scenario, the campaign folder
(a folder that holds something else is refused; one that holds a campaign is resumed only with the
same scenario, seed, duration and dispersions, and never shrunk to fewer cases) and the Dask
scheduler (an address with nothing behind it fails after ``connect_timeout_s``). A scenario without
``[dispersions]`` flies identical cases (they differ only in the truth's noise seed): that takes
``undispersed=True`` (``--undispersed``).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import numpy as np

from telemetry.errors import InputError

log = logging.getLogger(__name__)

ROWS_FILE = "cases.jsonl"
META_FILE = "campaign.json"
INDEX_FILE = "index.html"
PERCENTILES = (5, 25, 50, 75, 95)  # [%] of the time to docking in the campaign reports
Z95 = 1.959963984540054  # two-sided 95 % normal quantile (Wilson interval)
SIGMA_K = 3.0
DESIGN_FRACTION = 0.5  # docs/reference.md: GNC design target is 3-sigma within half of each limit
# The axial closing rate has a band, not a ceiling: its design target is the contact speed of the speed
# profile (gnc.toml profile_speed_mps[0]) +- this tolerance (docs/reference.md: 0.10 +- 0.02 m/s at contact).
CONTACT_SPEED_TOL_MPS = 0.02
# Row columns that depend on the machine, not on the case: left out when a rerun is compared.
NONDETERMINISTIC = ("wall_time_s", "case_wall_s")
SCHEDULER_TIMEOUT_S = 10.0  # [s] wait for an existing Dask scheduler to answer
# Contact quantities of a row: column -> (limit key(s) in [docking.limits], how the limit applies)
CONTACT_COLUMNS = {
    "axial_rate_mps": (("axial_rate_min_mps", "axial_rate_max_mps"), "range"),
    "lateral_rate_mps": ("lateral_rate_max_mps", "max"),
    "lateral_misalignment_m": ("lateral_misalignment_max_m", "max"),
    "pitch_deg": ("pitch_max_deg", "abs"),
    "yaw_deg": ("yaw_max_deg", "abs"),
    "roll_deg": ("roll_max_deg", "abs"),
    "rate_x_deg_s": ("angular_rate_max_deg_s", "abs"),
    "rate_y_deg_s": ("angular_rate_max_deg_s", "abs"),
    "rate_z_deg_s": ("angular_rate_max_deg_s", "abs"),
}


class CampaignError(InputError):
    """A campaign cannot start or resume (conflicting output folder, unknown case); the message says why."""


# ---------------------------------------------------------------------------------------------- seeds and draws


def case_seed(campaign_seed: int, case: int) -> int:
    """Truth-model seed of case ``case``: the first 32-bit word of ``SeedSequence([campaign_seed, case])``."""
    return int(np.random.SeedSequence([int(campaign_seed), int(case)]).generate_state(1, np.uint32)[0])


def _lookup(raw: dict, dotted: str):
    cur = raw
    for part in dotted.split("."):
        cur = cur[part]
    return cur


def _nest(dotted: str, value) -> dict:
    out: dict = {}
    cur = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return out


def _merge_into(base: dict, over: dict) -> dict:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge_into(base[k], v)
        else:
            base[k] = v
    return base


def draw_dispersions(sc, campaign_seed: int, case: int) -> tuple[dict, dict]:
    """This case's draws of the scenario's ``[dispersions]``.

    Parameters
    ----------
    sc : the undispersed, validated :class:`sims.scenario.Scenario`
    campaign_seed, case : the campaign seed and the case number

    Returns
    -------
    overrides : nested dict for ``load_scenario(..., overrides=...)`` / ``run_sil(..., overrides=...)``
    draws : flat ``{"disp.<name>" or "disp.<name>[i]": value}`` for the case's row
    """
    overrides: dict = {}
    draws: dict = {}
    for name in sorted(sc.dispersions):
        d = sc.dispersions[name]
        rng = np.random.default_rng(np.random.SeedSequence([int(campaign_seed), int(case),
                                                            zlib.crc32(name.encode())]))
        nominal = np.asarray(_lookup(sc.raw, d["path"]), float)
        if d["kind"] == "normal":
            value = nominal + np.asarray(d["sigma"], float) * rng.standard_normal(nominal.shape)
        else:
            lo, hi = np.asarray(d["lo"], float), np.asarray(d["hi"], float)
            value = lo + (hi - lo) * rng.random(nominal.shape)
        value = np.broadcast_to(value, nominal.shape)
        if value.ndim == 0:
            py = float(value)
            draws[f"disp.{name}"] = py
        else:
            py = [float(v) for v in value]
            draws.update({f"disp.{name}[{i}]": v for i, v in enumerate(py)})
        _merge_into(overrides, _nest(d["path"], py))
    return overrides, draws


# ---------------------------------------------------------------------------------------------- one case


def case_spec(scenario: str, campaign_seed: int, case: int, duration_s: float | None = None,
              run_dir: str | None = None, write_report: bool = False) -> dict:
    """Everything a worker needs to fly case ``case`` (plain data: it crosses process boundaries)."""
    return {"scenario": str(scenario), "campaign_seed": int(campaign_seed), "case": int(case),
            "duration_s": duration_s, "run_dir": run_dir, "write_report": bool(write_report)}


def row_from_summary(spec: dict, seed: int, summary: dict, draws: dict) -> dict:
    """One campaign row from a run summary: outcome, contact quantities, propellant, duration, aborts."""
    dock = summary.get("docking", {})
    guidance = summary.get("guidance", {})
    row = {"case": spec["case"], "campaign_seed": spec["campaign_seed"], "seed": seed,
           "scenario": summary.get("scenario"), "stop_reason": summary.get("stop_reason"),
           "captured": bool(dock.get("captured", False)), "contact": bool(dock.get("contact", False)),
           "collided": bool(dock.get("collided", False)),
           "failed_limits": ";".join(dock.get("failed_limits", [])), "contact_time_s": dock.get("time_s")}
    for col in CONTACT_COLUMNS:
        row[col] = None
    if dock.get("contact"):
        for col in ("axial_rate_mps", "lateral_rate_mps", "lateral_misalignment_m", "pitch_deg", "yaw_deg",
                    "roll_deg"):
            row[col] = dock[col]["value"]
        for axis, v in zip("xyz", dock["rates_deg_s"]["value"], strict=True):
            row[f"rate_{axis}_deg_s"] = v
    cam = guidance.get("cam_trigger")
    final = (summary.get("final_relative_state") or {}).get("r_LVLH_m")  # truth: CoM w.r.t. the station port
    fired = (summary.get("fdir") or {}).get("fired") or {}  # FDIR actionpoint -> times it fired
    ca = dock.get("collision_avoidance") or {}  # truth after a CAM: KOS exit and closest return
    row.update({"cam_time_s": ca.get("cam_time_s"), "cam_kos_exit_time_s": ca.get("exit_time_s"),
                "cam_min_range_after_exit_m": ca.get("min_range_after_exit_m"),
                "cam_reentered_kos": ca.get("reentered")})
    row.update({"propellant_used_kg": dock.get("propellant_used_kg"),
                "propellant_flight_estimate_kg": summary.get("propellant_flight_estimate_kg"),
                "dv_commanded_mps": guidance.get("dv_commanded_mps"),
                "mission_time_s": summary.get("mission_time_s"), "final_mode": summary.get("final_mode"),
                "cam_trigger": cam, "aborted": cam not in (None, "NONE"),
                "fdir_fired": ";".join(f"{k} x{v}" for k, v in fired.items()),
                "final_range_m": float(np.linalg.norm(final)) if final else None, "error": None,
                "wall_time_s": summary.get("wall_time_s")})
    far = summary.get("far_range")
    if far:  # issue #18: the far range from orbit insertion
        row.update({"far_range_dv_mps": far.get("dv_far_range_mps"),
                    "first_hold_arrival_s": (far.get("time_to_hold_s") or {}).get("5000 m"),
                    "far_plans_rejected": len(far.get("plans_rejected") or [])})
    row.update(draws)
    return row


def error_row(spec: dict, err: BaseException | str) -> dict:
    """The row of a case that could not be flown (it raised on every attempt, or its workers died)."""
    text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return {"case": spec["case"], "campaign_seed": spec["campaign_seed"],
            "seed": case_seed(spec["campaign_seed"], spec["case"]), "scenario": None, "stop_reason": "error",
            "captured": False, "contact": False, "collided": False, "failed_limits": "", "error": text[:2000]}


def run_case(spec: dict) -> dict:
    """Fly one case (on a Dask worker) and return its row.

    Without ``spec["run_dir"]`` the run folder is a temporary directory removed afterwards (a campaign
    keeps rows, not archives); with it, the folder is kept (and ``write_report`` builds report.html).
    """
    from sims.runner import run_sil
    from sims.scenario import load_scenario

    t0 = time.perf_counter()
    sc = load_scenario(spec["scenario"])
    overrides, draws = draw_dispersions(sc, spec["campaign_seed"], spec["case"])
    seed = case_seed(spec["campaign_seed"], spec["case"])
    kwargs = dict(duration_s=spec["duration_s"], seed=seed, progress=False, overrides=overrides)
    if spec.get("run_dir"):
        summary = run_sil(spec["scenario"], spec["run_dir"], **kwargs)
        if spec.get("write_report", False):
            from ground.report import write_report  # matplotlib only when asked

            write_report(spec["run_dir"])
    else:
        tmp = tempfile.mkdtemp(prefix=f"qz-mc-{spec['case']}-")
        try:
            summary = run_sil(spec["scenario"], tmp, keep_telemetry=False, **kwargs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    row = row_from_summary(spec, seed, summary, draws)
    row["case_wall_s"] = time.perf_counter() - t0
    return row


def rows_equal(a: dict, b: dict) -> list[str]:
    """Columns where two rows of the same case differ (machine-dependent timing columns ignored)."""
    keys = (set(a) | set(b)) - set(NONDETERMINISTIC)
    return sorted(k for k in keys if a.get(k) != b.get(k))


# ---------------------------------------------------------------------------------------------- persistence


def read_rows(out_dir: str | Path) -> dict[int, dict]:
    """Case -> its latest row in ``cases.jsonl``; a torn last line (killed mid-write) is ignored."""
    path = Path(out_dir) / ROWS_FILE
    rows: dict[int, dict] = {}
    if not path.is_file():
        return rows
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: unreadable row skipped (interrupted write?); the case will run again", path, n)
                continue
            rows[int(row["case"])] = row
    return rows


class RowLog:
    """Append-only ``cases.jsonl``: one line per finished case, flushed as it is written."""

    def __init__(self, out_dir: Path):
        path = Path(out_dir) / ROWS_FILE
        torn = path.is_file() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
        self._fh = open(path, "a")
        if torn:  # a killed writer left half a line: end it so the next row starts clean
            self._fh.write("\n")

    def append(self, row: dict) -> None:
        self._fh.write(json.dumps(row, allow_nan=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def _meta(scenario: str, seed: int, duration_s: float | None, sc, runs: int | None = None) -> dict:
    meta = {"scenario": str(scenario), "seed": int(seed), "duration_s": duration_s,
            "dispersions": sc.raw["dispersions"], "runs": runs}
    return json.loads(json.dumps(meta))  # as it will read back from campaign.json


def _check_folder(out: Path) -> None:
    """Refuse an output that is a file, or a folder holding something other than a campaign (read only)."""
    if out.exists() and not out.is_dir():
        raise CampaignError(f"--out {out}: is a file, expected a campaign folder")
    if out.is_dir() and not (out / META_FILE).is_file() and any(out.iterdir()):
        raise CampaignError(f"--out {out}: holds files but no campaign ({META_FILE}); choose an empty or new folder")
    probe = out
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise CampaignError(f"--out {out}: {probe} is not a writable folder")


def _check_meta(out: Path, meta: dict) -> None:
    """A campaign folder is resumed or extended with its own parameters only, never shrunk."""
    path = out / META_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CampaignError(f"{path}: unreadable ({err}); choose another --out") from None
    for key in ("scenario", "seed", "duration_s", "dispersions"):
        if old.get(key) != meta[key]:
            was = "" if key == "dispersions" else f" ({old.get(key)!r}, now {meta[key]!r})"
            raise CampaignError(f"{out}: holds a campaign with a different {key}{was}; resume it with the same "
                                f"arguments and scenario file, or choose another --out")
    before = max(old.get("runs") or 0, max(read_rows(out), default=-1) + 1)
    if meta["runs"] is not None and meta["runs"] < before:
        raise CampaignError(f"{out}: holds a campaign of {before} cases; --runs {meta['runs']} would shrink it "
                            f"(give --runs {before} or more, or choose another --out)")


def _check_options(runs: int, workers: int | None, retries: int, duration_s: float | None,
                   seed: int | None) -> None:
    for name, value, lo in (("--runs", runs, 1), ("--workers", workers, 1), ("--retries", retries, 0),
                            ("--seed", seed, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < lo):
            raise CampaignError(f"{name} must be an integer >= {lo}, got {value!r}")
    if duration_s is not None and not (isinstance(duration_s, (int, float)) and 0 < duration_s < math.inf):
        raise CampaignError(f"--duration must be a number of seconds > 0, got {duration_s!r}")


def _scenario_arg(scenario: str) -> str:
    """A shipped name stays a name; a file becomes its absolute path (workers may run elsewhere)."""
    from sims.scenario import SCENARIO_DIR, resolve_scenario

    path = resolve_scenario(scenario)
    return path.stem if path.parent == SCENARIO_DIR and path.stem == str(scenario) else str(path)


# ---------------------------------------------------------------------------------------------- Dask


def _client(workers: int | None, scheduler: str | None, timeout_s: float = SCHEDULER_TIMEOUT_S):
    """A Dask client: an existing scheduler, or a local cluster of single-threaded worker processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=timeout_s), None
        except Exception as err:  # distributed raises OSError, ValueError, TimeoutError ... for a bad address
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            if isinstance(err, ValueError):
                raise CampaignError(f"--scheduler {scheduler}: not a scheduler address ({reason})") from None
            raise CampaignError(f"--scheduler {scheduler}: no Dask scheduler answered within {timeout_s:g} s "
                                f"({type(err).__name__}: {reason})") from None
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_campaign(scenario: str, runs: int, out_dir: str | Path, *, seed: int | None = None,
                 workers: int | None = None, scheduler: str | None = None, duration_s: float | None = None,
                 retries: int = 2, progress: bool = True, keep_runs: bool = False, retry_errors: bool = False,
                 undispersed: bool = False, connect_timeout_s: float = SCHEDULER_TIMEOUT_S,
                 case_fn=run_case) -> dict:
    """Fly cases ``0 .. runs-1`` of ``scenario`` (those not already in ``OUT/cases.jsonl``) and write the outputs.

    Parameters
    ----------
    scenario : scenario name or TOML path (must resolve on the workers too)
    runs : number of cases; raising it later extends a campaign, finished cases are kept
    seed : campaign seed (default: the scenario's ``seed``)
    workers / scheduler : local cluster size (default: the CPU count) / address of an existing Dask scheduler
    duration_s : mission-time limit per case (default: the scenario's)
    retries : further attempts of a case that raised (a case whose worker died is rerun by the scheduler)
    keep_runs : keep each case's run folder (telemetry archive and all) under ``OUT/runs/``
    retry_errors : fly again the cases whose stored row is an error
    undispersed : fly a scenario without ``[dispersions]`` (its cases differ only in the truth's seed)
    connect_timeout_s : [s] wait for ``scheduler`` to answer
    case_fn : the function a worker calls with a :func:`case_spec` (tests substitute it)

    Returns
    -------
    dict : the campaign summary (also ``OUT/summary.json``) plus ``"run"``: this invocation's counts and times
    """
    from sims.scenario import load_scenario

    # everything is checked before anything is written
    _check_options(runs, workers, retries, duration_s, seed)
    scenario = _scenario_arg(scenario)
    sc = load_scenario(scenario)
    if not sc.raw["dispersions"] and not undispersed:
        raise CampaignError(f"scenario {sc.name} ({sc.source}) has no [dispersions]: its cases would differ only "
                            f"in the truth's noise seed; give --undispersed to fly them, or add a [dispersions] "
                            f"table (docs/scenarios.md)")
    seed = sc.seed if seed is None else int(seed)
    out = Path(out_dir)
    _check_folder(out)
    meta = _meta(scenario, seed, duration_s, sc, runs)
    _check_meta(out, meta)
    done = read_rows(out)
    todo = [c for c in range(runs) if c not in done or (retry_errors and done[c].get("error"))]
    stats = {"skipped": runs - len(todo), "submitted": len(todo), "errors": 0, "elapsed_s": 0.0,
             "startup_s": 0.0, "done_at_s": []}
    t0 = time.perf_counter()
    client = _client(workers, scheduler, connect_timeout_s) if todo else None
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    except BaseException:
        _close(client)
        raise
    if todo:
        _fly(todo, scenario, seed, duration_s, out, client, retries, progress, keep_runs, case_fn, stats, t0)
    stats["elapsed_s"] = time.perf_counter() - t0
    summary = write_outputs(out, sc, runs)
    summary["run"] = {k: v for k, v in stats.items() if k != "done_at_s"}
    summary["run"]["done_at_s"] = stats["done_at_s"]
    return summary


def _fly(todo, scenario, seed, duration_s, out, client_cluster, retries, progress, keep_runs, case_fn,
         stats, t0) -> None:
    from dask.distributed import as_completed
    from tqdm import tqdm

    client, cluster = client_cluster
    stats["startup_s"] = time.perf_counter() - t0
    rowlog = RowLog(out)
    token = uuid.uuid4().hex[:8]
    specs = {}
    try:
        futures = []
        for c in todo:
            run_dir = str((out / "runs" / f"case-{c:05d}").resolve()) if keep_runs else None
            spec = case_spec(scenario, seed, c, duration_s, run_dir)
            fut = client.submit(case_fn, spec, key=f"qz-mc-{token}-{c}", pure=False, retries=retries)
            specs[fut.key] = spec
            futures.append(fut)
        captured = 0
        with tqdm(total=len(todo), desc=f"qz mc {Path(scenario).stem}", unit="case", disable=not progress,
                  mininterval=0.5) as bar:
            for fut in as_completed(futures):
                spec = specs[fut.key]
                try:
                    row = fut.result()
                except Exception as err:  # raised on every attempt, or its workers kept dying
                    log.warning("case %d failed: %s", spec["case"], err)
                    row = error_row(spec, err)
                    stats["errors"] += 1
                rowlog.append(row)
                stats["done_at_s"].append(time.perf_counter() - t0)
                captured += bool(row.get("captured"))
                bar.update(1)
                bar.set_postfix_str(f"captured {captured}/{bar.n}")
                fut.release()
    finally:
        rowlog.close()
        _close(client_cluster)


def _close(client_cluster) -> None:
    if client_cluster is not None:
        client, cluster = client_cluster
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------------------------- outputs


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (Wilson 1927); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / den
    return (0.0 if k == 0 else centre - half), (1.0 if k == n else centre + half)


def _limit(limits, key):
    return [float(limits[k]) for k in key] if isinstance(key, tuple) else float(limits[key])


def contact_speed_design() -> list[float] | None:
    """[lo, hi] design band of the axial closing rate: the profile's contact speed +- CONTACT_SPEED_TOL_MPS."""
    import tomllib

    import fsw

    try:
        with open(Path(fsw.__file__).resolve().parent / "config" / "gnc.toml", "rb") as fh:
            v0 = float(tomllib.load(fh)["guidance"]["profile_speed_mps"][0])
    except (OSError, KeyError, IndexError, ValueError, tomllib.TOMLDecodeError):
        return None
    return [v0 - CONTACT_SPEED_TOL_MPS, v0 + CONTACT_SPEED_TOL_MPS]


def quantity_stats(values: np.ndarray, limit, how: str, design: list[float] | None = None) -> dict:
    """Mean, standard deviation and mean +- 3 sigma of one contact quantity, judged against its limit and its
    design target (half of the limit; for a ``range`` quantity the ``design`` band, when given)."""
    n = len(values)
    out = {"n": n, "limit": limit}
    if n == 0:
        return out
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if n > 1 else 0.0
    lo3, hi3 = mean - SIGMA_K * std, mean + SIGMA_K * std
    out.update(mean=mean, std=std, mean_minus_3sigma=lo3, mean_plus_3sigma=hi3, min=float(np.min(values)),
               max=float(np.max(values)))
    if how == "range":
        lo, hi = limit
        out["within_limit_3sigma"] = bool(lo <= lo3 and hi3 <= hi)
        if design is not None:
            out["design"] = list(design)
            out["within_design_3sigma"] = bool(design[0] <= lo3 and hi3 <= design[1])
    else:
        extent = max(abs(lo3), abs(hi3)) if how == "abs" else hi3
        out["within_limit_3sigma"] = bool(extent <= limit)
        out["within_design_3sigma"] = bool(extent <= DESIGN_FRACTION * limit)
    return out


def case_outcome(row: dict) -> tuple[str, str]:
    """(outcome, reason) of one case: how it ended and, unless it docked, why (stop reason, final mode and
    range, CAM trigger, FDIR responses, contact limits failed, error)."""
    if row.get("error"):
        return "error", str(row["error"]).splitlines()[0][:200]
    if row.get("captured"):
        return "docked", ""
    final = row.get("final_mode")
    rng = row.get("final_range_m")
    if row.get("collided"):
        outcome = "COLLISION"
    elif row.get("contact"):
        outcome = "contact outside the envelope"
    elif row.get("aborted") or final == "CAM":
        outcome = "CAM"
    elif final in ("HOLD", "RETREAT"):
        outcome = "held" if final == "HOLD" else "retreated"
    else:
        outcome = f"not docked ({final})"
    parts = [f"stop: {row.get('stop_reason')}", f"final mode {final}"]
    if rng is not None:
        parts.append(f"final range {rng:.0f} m")
    if row.get("aborted"):
        parts.append(f"CAM trigger {row.get('cam_trigger')}")
        if row.get("cam_reentered_kos"):
            parts.append("re-entered the keep-out sphere after the CAM")
    if row.get("fdir_fired"):
        parts.append(f"FDIR: {row['fdir_fired'].replace(';', ', ')}")
    if row.get("failed_limits"):
        parts.append(f"failed limits: {row['failed_limits'].replace(';', ', ')}")
    return outcome, "; ".join(parts)


def percentiles(values, qs=PERCENTILES) -> dict:
    """n, min, the ``qs`` percentiles (linear interpolation), max and mean of ``values`` ({"n": 0} if empty)."""
    v = np.asarray(values, float)
    if not len(v):
        return {"n": 0}
    out = {"n": len(v), "min": float(v.min())}
    out.update({f"p{q:g}": float(np.percentile(v, q)) for q in qs})
    out.update(max=float(v.max()), mean=float(v.mean()))
    return out


def summarise(rows: list[dict], limits, meta: dict) -> dict:
    """Capture rate with its Wilson 95 % interval, per-quantity statistics, the distribution of time to docking,
    outcome counts and the outcome and reason of every case that did not dock."""
    n = len(rows)
    k = sum(bool(r.get("captured")) for r in rows)
    lo, hi = wilson_interval(k, n)
    contact = [r for r in rows if r.get("contact")]
    design = contact_speed_design()
    quantities = {}
    for col, (key, how) in CONTACT_COLUMNS.items():
        vals = np.array([r[col] for r in contact if r.get(col) is not None], float)
        quantities[col] = quantity_stats(vals, _limit(limits, key), how, design if how == "range" else None)
    prop = np.array([r["propellant_used_kg"] for r in rows if r.get("propellant_used_kg") is not None], float)
    mt = np.array([r["mission_time_s"] for r in rows if r.get("mission_time_s") is not None], float)

    def counts(key):
        out: dict = {}
        for r in rows:
            v = r.get(key)
            for item in ((v or "").split(";") if key == "failed_limits" else [v]):
                if item not in (None, ""):
                    out[str(item)] = out.get(str(item), 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    outcomes: dict = {}
    not_docked = []
    for r in rows:
        outcome, reason = case_outcome(r)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome != "docked":
            not_docked.append({"case": r["case"], "seed": r.get("seed"), "outcome": outcome, "reason": reason,
                               **{k: r.get(k) for k in ("stop_reason", "final_mode", "final_range_m", "cam_trigger",
                                                        "fdir_fired", "failed_limits", "error")}})
    docked_at = [r["contact_time_s"] for r in rows if r.get("captured") and r.get("contact_time_s") is not None]
    return {
        "scenario": meta["scenario"], "campaign_seed": meta["seed"], "duration_s": meta["duration_s"],
        "cases": n, "captured": k, "capture_rate": k / n if n else None,
        "capture_rate_wilson95": [lo, hi], "contacts": len(contact),
        "errors": sum(1 for r in rows if r.get("error")), "aborted": sum(1 for r in rows if r.get("aborted")),
        "cam_reentered_kos": sum(1 for r in rows if r.get("cam_reentered_kos")),
        "stop_reasons": counts("stop_reason"), "cam_triggers": counts("cam_trigger"),
        "failed_limits": counts("failed_limits"), "contact_quantities": quantities,
        "propellant_used_kg": quantity_stats(prop, float("inf"), "max") if len(prop) else {"n": 0},
        "mission_time_s": {"mean": float(mt.mean()), "max": float(mt.max())} if len(mt) else {},
        "time_to_docking_s": percentiles(docked_at),
        "outcomes": dict(sorted(outcomes.items(), key=lambda kv: -kv[1])), "not_docked": not_docked,
        "design_target": f"3-sigma within {DESIGN_FRACTION:g} of each limit; axial rate within the profile's "
                         f"contact speed +- {CONTACT_SPEED_TOL_MPS:g} m/s (docs/reference.md)",
    }


def _columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    seen = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    # timing and dispersion draws last, so the outcome columns read first
    return sorted(cols, key=lambda c: (c.startswith("disp."), c in NONDETERMINISTIC, cols.index(c)))


def write_tables(out: Path, rows: list[dict]) -> list[Path]:
    """``cases.csv`` (floats as repr, so they read back exactly) and ``cases.parquet`` when pyarrow is there."""
    cols = _columns(rows)
    written = [out / "cases.csv"]
    with open(written[0], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r.get(c) is None else repr(r[c]) if isinstance(r[c], float) else r[c] for c in cols])
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        log.info("pyarrow not installed: cases.parquet not written")
        return written
    table = pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows])
    pq.write_table(table, out / "cases.parquet")
    written.append(out / "cases.parquet")
    return written


def _fmt(v, spec=".4g") -> str:
    return "-" if v is None else format(v, spec)


def contact_rows(s: dict, no: str = "NO") -> list[tuple[str, ...]]:
    """One row of text per contact quantity: name, n, mean, 3 sigma, mean -/+ 3 sigma, min, max, limit, and
    whether 3 sigma is within the limit and within the design target (``no`` when not)."""
    yes = {True: "yes", False: no, None: "-"}
    out = []
    for name, q in s["contact_quantities"].items():
        lim = q["limit"]
        lim_s = f"{lim[0]:g} .. {lim[1]:g}" if isinstance(lim, list) else f"abs <= {lim:g}" \
            if CONTACT_COLUMNS[name][1] == "abs" else f"<= {lim:g}"
        std3 = None if q.get("std") is None else SIGMA_K * q["std"]
        out.append((name, str(q["n"]), _fmt(q.get("mean")), _fmt(std3), _fmt(q.get("mean_minus_3sigma")),
                    _fmt(q.get("mean_plus_3sigma")), _fmt(q.get("min")), _fmt(q.get("max")), lim_s,
                    yes[q.get("within_limit_3sigma")], yes[q.get("within_design_3sigma")]))
    return out


def summary_markdown(s: dict) -> str:
    lo, hi = s["capture_rate_wilson95"]
    rate = s["capture_rate"]
    lines = [f"# Monte Carlo campaign: {s['scenario']} (seed {s['campaign_seed']})", "",
             f"- cases: {s['cases']}, captured: {s['captured']} "
             f"({_fmt(None if rate is None else 100 * rate, '.2f')} %, Wilson 95 %: {100 * lo:.2f} - {100 * hi:.2f} %)",
             f"- contacts: {s['contacts']}, aborted (CAM): {s['aborted']} (re-entered the keep-out sphere after "
             f"the CAM: {s['cam_reentered_kos']}), errors: {s['errors']}",
             f"- stop reasons: {s['stop_reasons']}",
             f"- CAM triggers: {s['cam_triggers']}",
             f"- failed limits: {s['failed_limits'] or 'none'}",
             f"- design target: {s['design_target']}", "",
             "| quantity | n | mean | 3-sigma | mean - 3 sigma | mean + 3 sigma | min | max | limit | 3-sigma within "
             "limit | within design |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for row in contact_rows(s, no="**NO**"):
        lines.append("| " + " | ".join(row) + " |")
    p = s["propellant_used_kg"]
    if p.get("n"):
        lines += ["", f"Propellant used: mean {p['mean']:.3f} kg, 3-sigma {SIGMA_K * p['std']:.3f} kg, "
                      f"max {p['max']:.3f} kg."]
    if s["mission_time_s"]:
        lines.append(f"Mission time: mean {s['mission_time_s']['mean']:.0f} s, max {s['mission_time_s']['max']:.0f} s.")
    ttd = s.get("time_to_docking_s") or {}
    if ttd.get("n"):
        lines.append(f"Time to docking (mission time at capture, {ttd['n']} cases): "
                     + ", ".join(f"{k} {ttd[k]:.0f} s" for k in ("min", *(f"p{q:g}" for q in PERCENTILES), "max"))
                     + ".")
    bad = s.get("not_docked") or []
    if bad:
        lines += ["", f"## The {len(bad)} case(s) that did not dock", "", "| case | seed | outcome | reason |",
                  "| ---: | ---: | --- | --- |"]
        lines += [f"| {b['case']} | {b['seed']} | {b['outcome']} | {b['reason']} |" for b in bad]
    return "\n".join(lines) + "\n"


def column_label(col: str) -> str:
    """Axis label of a row column: its name with the unit its suffix gives (``axial_rate_mps`` -> ``[m/s]``)."""
    for suffix, unit in (("_deg_s", "deg/s"), ("_mps", "m/s"), ("_deg", "deg"), ("_kg", "kg"), ("_m", "m"),
                         ("_s", "s")):
        if col.endswith(suffix):
            return f"{col.removesuffix(suffix).replace('_', ' ')} [{unit}]"
    return col.replace("_", " ")


def plot_campaign(out: Path, rows: list[dict], limits, summary: dict) -> list[Path]:
    """``plots/contact_scatter.png`` (contact pairs against the envelope), ``plots/histograms.png`` and
    ``plots/time_to_docking.png``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    contact = [r for r in rows if r.get("contact")]
    ok = [r for r in contact if r.get("captured")]
    bad = [r for r in contact if not r.get("captured")]

    def col(rs, c):
        return np.array([r[c] for r in rs], float)

    def max_rate(rs):
        return np.array([max(abs(r["rate_x_deg_s"]), abs(r["rate_y_deg_s"]), abs(r["rate_z_deg_s"])) for r in rs])

    L = {k: float(limits[k]) for k in limits}
    pairs = [  # (x column or fn, y column or fn, x label, y label, envelope box (x0, x1, y0, y1))
        ("axial_rate_mps", "lateral_rate_mps", "axial closing rate [m/s]", "lateral rate [m/s]",
         (L["axial_rate_min_mps"], L["axial_rate_max_mps"], 0.0, L["lateral_rate_max_mps"])),
        ("lateral_misalignment_m", "lateral_rate_mps", "lateral misalignment [m]", "lateral rate [m/s]",
         (0.0, L["lateral_misalignment_max_m"], 0.0, L["lateral_rate_max_mps"])),
        ("yaw_deg", "pitch_deg", "yaw [deg]", "pitch [deg]",
         (-L["yaw_max_deg"], L["yaw_max_deg"], -L["pitch_max_deg"], L["pitch_max_deg"])),
        ("roll_deg", max_rate, "roll [deg]", "largest body rate [deg/s]",
         (-L["roll_max_deg"], L["roll_max_deg"], 0.0, L["angular_rate_max_deg_s"])),
    ]
    fig = Figure(figsize=(11, 9), layout="constrained")
    axes = fig.subplots(2, 2)
    for ax, (cx, cy, lx, ly, box) in zip(axes.flat, pairs, strict=True):
        x0, x1, y0, y1 = box
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=True, color="C2", alpha=0.12, lw=0))
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="C2", lw=1.5, label="envelope"))
        for rs, style, label in ((ok, dict(marker="o", color="C0", s=10, alpha=0.6), "captured"),
                                 (bad, dict(marker="x", color="C3", s=30), "not captured")):
            if rs:
                xs = col(rs, cx) if isinstance(cx, str) else cx(rs)
                ys = col(rs, cy) if isinstance(cy, str) else cy(rs)
                ax.scatter(xs, ys, label=f"{label} ({len(rs)})", **style)
        ax.set_xlabel(lx)
        ax.set_ylabel(ly)
        pad_x, pad_y = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
        ax.set_xlim(x0 - pad_x, x1 + pad_x)
        ax.set_ylim(y0 - (pad_y if y0 < 0 else 0.03 * (y1 - y0)), y1 + pad_y)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    rate = summary["capture_rate"]
    lo, hi = summary["capture_rate_wilson95"]
    fig.suptitle(f"{summary['scenario']}: {summary['cases']} cases ({summary['contacts']} with contact), capture "
                 f"{'-' if rate is None else f'{100 * rate:.1f}'} % (95 % CI {100 * lo:.1f}-{100 * hi:.1f} %)")
    paths = [plots / "contact_scatter.png"]
    fig.savefig(paths[0], dpi=90)

    cols = list(CONTACT_COLUMNS) + ["propellant_used_kg", "mission_time_s"]
    fig = Figure(figsize=(13, 10), layout="constrained")
    axes = fig.subplots(4, 3)
    for ax, c in zip(axes.flat, cols, strict=False):
        vals = np.array([r[c] for r in (contact if c in CONTACT_COLUMNS else rows) if r.get(c) is not None], float)
        q = summary["contact_quantities"].get(c)
        if len(vals):
            span = [float(vals.min()), float(vals.max())]
            if q and q.get("n"):  # bins across the whole envelope, so the spread reads against the limits
                lim = np.atleast_1d(q["limit"]).astype(float)
                lim = np.concatenate((lim, -lim)) if CONTACT_COLUMNS[c][1] == "abs" else np.append(lim, 0.0)
                span = [min(span[0], float(lim.min())), max(span[1], float(lim.max()))]
            if span[1] <= span[0]:
                span = [span[0] - 0.5, span[1] + 0.5]
            ax.hist(vals, bins=60, range=tuple(span), color="C0", alpha=0.85)
        if q and q.get("n"):
            lim = q["limit"]
            for v in (lim if isinstance(lim, list) else
                      ([-lim, lim] if CONTACT_COLUMNS[c][1] == "abs" else [lim])):
                ax.axvline(v, color="C3", lw=1.5)
            ax.axvline(q["mean_minus_3sigma"], color="k", ls="--", lw=1)
            ax.axvline(q["mean_plus_3sigma"], color="k", ls="--", lw=1)
        ax.set_xlabel(column_label(c), fontsize=8)
        ax.set_ylabel("cases per bin", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(cols):]:
        ax.set_visible(False)
    fig.suptitle("contact quantities of the cases with contact (red: limits, dashed: mean +- 3 sigma), "
                 "propellant and mission time of every case", fontsize=10)
    paths.append(plots / "histograms.png")
    fig.savefig(paths[1], dpi=90)
    paths.append(plots / "time_to_docking.png")
    time_to_docking_figure(rows, summary).savefig(paths[2], dpi=90)
    return paths


def time_to_docking_figure(rows: list[dict], summary: dict):
    """Histogram of the mission time at capture of the docked cases, with its percentiles."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.subplots()
    t = np.array([r["contact_time_s"] for r in rows if r.get("captured") and r.get("contact_time_s") is not None])
    ttd = summary.get("time_to_docking_s") or {}
    if len(t):
        ax.hist(t, bins=min(60, max(10, len(t) // 10)), color="C0", alpha=0.85, label=f"docked cases ({len(t)})")
        for q, ls in zip(PERCENTILES, (":", "--", "-", "--", ":"), strict=False):
            v = ttd.get(f"p{q:g}")
            if v is not None:
                ax.axvline(v, color="C3", ls=ls, lw=1.2, label=f"p{q:g} {v:.0f} s", gid=f"p{q:g}")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.text(0.5, 0.5, "no case docked", ha="center", transform=ax.transAxes)
    ax.set_xlabel("time to docking: mission time at capture [s]")
    ax.set_ylabel("cases per bin")
    ax.grid(alpha=0.3)
    n = summary.get("cases", 0)
    ax.set_title(f"{summary.get('scenario')}: time to docking of the {len(t)} docked cases of {n}")
    return fig


def write_outputs(out: Path, sc, runs: int | None = None) -> dict:
    """Tables, summary (JSON and Markdown) and plots of the rows in ``OUT/cases.jsonl``."""
    meta = json.loads((out / META_FILE).read_text())
    stored = read_rows(out)
    rows = [stored[c] for c in sorted(stored) if runs is None or c < runs]
    summary = summarise(rows, sc.docking.limits, meta)
    if rows:
        write_tables(out, rows)
        plot_campaign(out, rows, sc.docking.limits, summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary))
    write_index(out, rows, summary)
    return summary


def rerun_command(out: Path, case: int) -> str:
    """The command that flies case ``case`` of the campaign in ``out`` again (from where the campaign was run)."""
    return f"qz mc --out {shlex.quote(str(out))} --rerun {int(case)}"


def write_index(out: Path, rows: list[dict] | None = None, summary: dict | None = None) -> Path:
    """``OUT/index.html``: capture rate, the cases that did not dock and why, time to docking, the contact
    statistics, the plots and the table of every case with the command that reruns it."""
    import html

    from ground.report import CSS

    out = Path(out)
    if rows is None:
        stored = read_rows(out)
        rows = [stored[c] for c in sorted(stored)]
    if summary is None:
        summary = json.loads((out / "summary.json").read_text())
    esc = html.escape

    def table(header, body, classes=None):
        head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
        trs = []
        for i, r in enumerate(body):
            cls = f" class='{classes[i]}'" if classes and classes[i] else ""
            trs.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table>"

    def rerun_cell(case):
        report = out / "rerun" / f"case-{case:05d}" / "report.html"
        link = f" (<a href='rerun/case-{case:05d}/report.html'>report</a>)" if report.is_file() else ""
        return f"<code>{esc(rerun_command(out, case))}</code>{link}"

    s = summary
    rate = s.get("capture_rate")
    lo, hi = s["capture_rate_wilson95"]
    title = f"Monte Carlo campaign: {s['scenario']} (campaign seed {s['campaign_seed']})"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{CSS}</style>"
             f"</head><body><h1>{esc(title)}</h1>",
             f"<p class='{'ok' if rate == 1.0 else 'bad'}'><b>Capture {s['captured']} of {s['cases']}"
             f" ({_fmt(None if rate is None else 100 * rate, '.2f')} %), Wilson 95 % interval "
             f"{100 * lo:.2f} - {100 * hi:.2f} %</b>; contacts {s['contacts']}, CAM {s['aborted']} (re-entered the "
             f"keep-out sphere after the CAM: {s['cam_reentered_kos']}), errors {s['errors']}.</p>",
             "<p>Outcomes: " + esc(", ".join(f"{k} {v}" for k, v in (s.get("outcomes") or {}).items())) + ". "
             f"Files: <a href='summary.md'>summary.md</a>, <a href='summary.json'>summary.json</a>, "
             f"<a href='cases.csv'>cases.csv</a>. A rerun command flies one case again as a normal run folder "
             f"(archive, events, report) under <code>{esc(str(out))}/rerun/</code>"
             + (", from the folder the campaign was started in" if not out.is_absolute() else "") + ".</p>",
             "<nav><a href='#not-docked'>Cases that did not dock</a><a href='#time-to-docking'>Time to docking</a>"
             "<a href='#contact'>Contact statistics</a><a href='#plots'>Plots</a><a href='#cases'>Every case</a></nav>"]
    bad = s.get("not_docked") or []
    parts.append(f"<section id='not-docked'><h2>Cases that did not dock ({len(bad)})</h2>")
    if bad:
        parts.append(table(["case", "seed", "outcome", "why", "rerun"],
                           [(b["case"], b["seed"], esc(b["outcome"]), esc(b["reason"]), rerun_cell(b["case"]))
                            for b in bad], ["bad"] * len(bad)))
    else:
        parts.append("<p class='ok'>Every case docked.</p>")
    ttd = s.get("time_to_docking_s") or {}
    parts.append("</section><section id='time-to-docking'><h2>Time to docking</h2>")
    if ttd.get("n"):
        keys = ["min", *(f"p{q:g}" for q in PERCENTILES), "max", "mean"]
        parts.append("<p>Mission time at capture of the docked cases.</p>"
                     + table(["cases", *keys], [(ttd["n"], *(f"{ttd[k]:.0f} s" for k in keys))]))
    parts.append("<img alt='time to docking' src='plots/time_to_docking.png'></section>")
    parts.append(f"<section id='contact'><h2>Contact statistics</h2><p>{esc(s['design_target'])}</p>")
    quantities = contact_rows(s)
    parts.append(table(["quantity", "n", "mean", "3-sigma", "mean - 3 sigma", "mean + 3 sigma", "min", "max", "limit",
                        "3-sigma within limit", "within design"], [[esc(c) for c in r] for r in quantities],
                       ["bad" if "NO" in r[-2:] else "" for r in quantities]))
    parts.append("</section><section id='plots'><h2>Plots</h2>")
    for name, caption in (("contact_scatter", "contact quantities in pairs against the envelope"),
                          ("histograms", "contact quantities, propellant and mission time")):
        if (out / "plots" / f"{name}.png").is_file():
            parts.append(f"<figure><img alt='{esc(caption)}' src='plots/{name}.png'>"
                         f"<figcaption>{esc(caption)}</figcaption></figure>")
    parts.append(f"</section><section id='cases'><h2>Every case ({len(rows)})</h2>")
    body, classes = [], []
    for r in rows:
        outcome, reason = case_outcome(r)
        body.append((r["case"], r.get("seed"), esc(outcome), _fmt(r.get("contact_time_s"), ".0f"),
                     _fmt(r.get("axial_rate_mps"), ".3f"), _fmt(r.get("lateral_misalignment_m"), ".3f"),
                     _fmt(r.get("propellant_used_kg"), ".2f"), esc(reason), rerun_cell(r["case"])))
        classes.append("" if outcome == "docked" else "bad")
    parts.append(table(["case", "seed", "outcome", "docked at [s]", "axial rate [m/s]", "lateral misalignment [m]",
                        "propellant [kg]", "why not docked", "rerun"], body, classes))
    parts.append("</section></body></html>\n")
    path = out / INDEX_FILE
    path.write_text("\n".join(parts))
    return path


# ---------------------------------------------------------------------------------------------- rerun


def rerun_case(out_dir: str | Path, case: int, *, scenario: str | None = None, seed: int | None = None,
               duration_s: float | None = None, run_dir: str | Path | None = None) -> tuple[dict, dict | None, list]:
    """Fly case ``case`` again as a normal run folder (archive, summary, report, ``row.json``).

    The scenario, campaign seed and duration come from ``OUT/campaign.json`` when it exists (arguments
    given must agree with it), else from the arguments. Returns (new row, stored row or None, differing
    columns).
    """
    from sims.scenario import load_scenario

    out = Path(out_dir)
    meta_path = out / META_FILE
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            for key in ("scenario", "seed", "duration_s"):
                meta[key]  # noqa: B018 - present, or the file is not a campaign's
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CampaignError(f"{meta_path}: unreadable ({type(err).__name__}: {err})") from None
        for key, given in (("scenario", scenario), ("seed", seed), ("duration_s", duration_s)):
            if given is not None and given != meta[key]:
                raise CampaignError(f"{meta_path}: the campaign's {key} is {meta[key]!r}, not {given!r}")
    elif scenario is None:
        raise CampaignError(f"{meta_path}: no campaign there; give --scenario (and --seed) to rerun a case")
    else:
        meta = {"scenario": scenario, "seed": load_scenario(scenario).seed if seed is None else seed,
                "duration_s": duration_s}
    if case < 0 or (meta.get("runs") and case >= meta["runs"]):
        raise CampaignError(f"--rerun {case}: no such case (the campaign's cases are 0 .. "
                            f"{(meta.get('runs') or 1) - 1})")
    run_dir = Path(run_dir) if run_dir else out / "rerun" / f"case-{case:05d}"
    spec = case_spec(meta["scenario"], meta["seed"], case, meta["duration_s"], str(run_dir), write_report=True)
    row = json.loads(json.dumps(run_case(spec)))  # through JSON, as the stored rows went
    (run_dir / "row.json").write_text(json.dumps(row, indent=2) + "\n")
    if (out / "summary.json").is_file() and (out / ROWS_FILE).is_file():
        write_index(out)  # the index links the rerun's report
    old = read_rows(out).get(case)
    return row, old, rows_equal(row, old) if old is not None else []


# ---------------------------------------------------------------------------------------------- benchmark


def throughput(summary: dict, workers: int) -> dict:
    """Cases per second of one campaign: overall (cluster start-up included) and after each worker's first case,
    and the aggregate simulation speed (mission seconds flown per wall second, all workers together)."""
    stats = summary["run"]
    done = stats["done_at_s"]
    n = len(done)
    out = {"workers": workers, "cases": n, "errors": stats["errors"], "elapsed_s": stats["elapsed_s"],
           "startup_s": stats["startup_s"], "cases_per_s": n / stats["elapsed_s"] if stats["elapsed_s"] > 0 else None}
    if n > workers:
        span = done[-1] - done[workers - 1]
        out["steady_cases_per_s"] = (n - workers) / span if span > 0 else None
    mt = summary.get("mission_time_s") or {}
    if mt and stats["elapsed_s"] > 0:
        out["mean_mission_s"] = mt["mean"]
        out["mission_s_per_wall_s"] = mt["mean"] * summary["cases"] / stats["elapsed_s"]
    return out


def mc_bench(out_dir: str | Path, *, scenario: str = "final_approach", runs: int = 1000, speedup_runs: int = 20,
             seed: int | None = None, full: bool = True, progress: bool = True) -> dict:
    """1 vs 2 workers on ``speedup_runs`` cases, then ``runs`` cases on 2 workers; writes bench.json / bench.md.

    Every campaign starts fresh: a previous benchmark in ``out_dir`` is moved aside to ``<out_dir>-N``
    (as run folders are), never deleted.
    """
    for name, value in (("--runs", runs), ("--speedup-runs", speedup_runs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CampaignError(f"{name} must be an integer >= 1, got {value!r}")
    _check_options(1, None, 0, None, seed)
    scenario = _scenario_arg(scenario)
    from sims.scenario import load_scenario

    if not load_scenario(scenario).raw["dispersions"]:
        raise CampaignError(f"scenario {scenario} has no [dispersions] to benchmark a campaign of")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CampaignError(f"--out {out}: is a file, expected a folder")
    if out.is_dir() and any(out.iterdir()):
        n = 1
        while out.with_name(f"{out.name}-{n}").exists():
            n += 1
        out.rename(out.with_name(f"{out.name}-{n}"))
        log.warning("previous benchmark in %s moved to %s", out, out.with_name(f"{out.name}-{n}"))
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"scenario": scenario, "cpu_count": os.cpu_count(), "speedup": {}}

    def fresh(name):
        return out / name

    for k in (1, 2):
        s = run_campaign(scenario, speedup_runs, fresh(f"speedup-{k}w"), seed=seed, workers=k, progress=progress)
        result["speedup"][f"{k}w"] = throughput(s, k)
    one, two = result["speedup"]["1w"], result["speedup"]["2w"]
    result["speedup"]["ratio_overall"] = two["cases_per_s"] / one["cases_per_s"]
    if one.get("steady_cases_per_s") and two.get("steady_cases_per_s"):
        result["speedup"]["ratio_steady"] = two["steady_cases_per_s"] / one["steady_cases_per_s"]
    if full:
        s = run_campaign(scenario, runs, fresh("full"), seed=seed, workers=2, progress=progress)
        result["full"] = throughput(s, 2)
        result["full"]["capture_rate"] = s["capture_rate"]
        result["full"]["capture_rate_wilson95"] = s["capture_rate_wilson95"]
        result["full"]["under_10_min"] = s["run"]["elapsed_s"] < 600.0
        if s["errors"]:
            log.warning("mc-bench: %d of %d cases raised; see %s", s["errors"], runs, out / "full" / ROWS_FILE)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "bench.md").write_text(bench_markdown(result))
    return result


def bench_markdown(r: dict) -> str:
    lines = [f"# qz mc-bench: {r['scenario']} on {r['cpu_count']} CPUs", "",
             "| campaign | workers | cases | errors | elapsed [s] | cluster start [s] | cases/s "
             "| cases/s after warm-up | mean mission [s] | mission s per wall s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    rows = [(f"speed-up {k}", v) for k, v in r["speedup"].items() if isinstance(v, dict)]
    if "full" in r:
        rows.append(("full", r["full"]))
    for name, v in rows:
        lines.append(f"| {name} | {v['workers']} | {v['cases']} | {v['errors']} | {v['elapsed_s']:.1f} | "
                     f"{v['startup_s']:.1f} | {_fmt(v['cases_per_s'], '.3f')} | "
                     f"{_fmt(v.get('steady_cases_per_s'), '.3f')} | {_fmt(v.get('mean_mission_s'), '.0f')} | "
                     f"{_fmt(v.get('mission_s_per_wall_s'), '.0f')} |")
    lines += ["", f"Speed-up 1 -> 2 workers: {r['speedup']['ratio_overall']:.2f} overall, "
                  f"{_fmt(r['speedup'].get('ratio_steady'), '.2f')} after warm-up."]
    if "full" in r:
        f = r["full"]
        lines.append(f"Full campaign: {f['cases']} cases in {f['elapsed_s']:.0f} s "
                     f"({'under' if f['under_10_min'] else 'OVER'} the 10 min target); capture rate "
                     f"{100 * f['capture_rate']:.2f} % (Wilson 95 % {100 * f['capture_rate_wilson95'][0]:.2f}"
                     f"-{100 * f['capture_rate_wilson95'][1]:.2f} %).")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- CLI


def register(sub) -> None:
    """``qz mc`` and ``qz mc-bench``."""
    from ground.options import count, nonneg_count, positive_seconds, seed

    p = sub.add_parser("mc", help="Monte Carlo campaign of a scenario on Dask (resumable), or rerun one case",
                       description="Fly N dispersed cases of a scenario on a local Dask cluster or an existing "
                                   "scheduler. Finished cases are kept in OUT/cases.jsonl: the same command resumes "
                                   "an interrupted campaign. Writes cases.csv/.parquet, summary.json/.md, plots/.")
    p.add_argument("--scenario", default=None, help="scenario name or TOML path (default: the campaign's in OUT, "
                                                    "else final_approach)")
    p.add_argument("--runs", type=count, default=None, help="number of cases (required unless --rerun)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=count, default=None, help="local Dask worker processes (default: CPU count)")
    g.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:8786)")
    p.add_argument("--connect-timeout", type=positive_seconds, default=SCHEDULER_TIMEOUT_S, metavar="S",
                   help=f"[s] wait for --scheduler to answer (default {SCHEDULER_TIMEOUT_S:g})")
    p.add_argument("--out", default=None, help="campaign folder (default runs/mc-<scenario>)")
    p.add_argument("--seed", type=seed, default=None, help="campaign seed (default: the scenario's seed)")
    p.add_argument("--duration", type=positive_seconds, default=None, help="mission-time limit per case [s]")
    p.add_argument("--retries", type=nonneg_count, default=2, help="further attempts of a case that raises "
                                                                   "(default 2)")
    p.add_argument("--keep-runs", action="store_true", help="keep every case's run folder (archives) in OUT/runs/")
    p.add_argument("--retry-errors", action="store_true", help="fly again the cases stored as errors")
    p.add_argument("--undispersed", action="store_true",
                   help="fly a scenario without [dispersions] (cases differ only in the truth's noise seed)")
    p.add_argument("--rerun", type=nonneg_count, default=None, metavar="CASE",
                   help="fly case CASE again as a normal run folder (OUT/rerun/case-CASE) and compare its row")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_mc_cmd)

    b = sub.add_parser("mc-bench", help="Monte Carlo throughput: 1 vs 2 workers, then a full campaign, timed")
    b.add_argument("--scenario", default="final_approach", help="scenario name or TOML path, with [dispersions]")
    b.add_argument("--runs", type=count, default=1000, help="cases of the full campaign (default 1000)")
    b.add_argument("--speedup-runs", type=count, default=20, help="cases of each 1- and 2-worker campaign")
    b.add_argument("--seed", type=seed, default=None)
    b.add_argument("--out", default="runs/mc-bench", help="benchmark folder (a previous one is moved aside)")
    b.add_argument("--no-full", action="store_true", help="only the 1-vs-2-worker comparison")
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=_bench_cmd)


def _out_dir(args) -> Path:
    if args.out:
        return Path(args.out)
    return Path("runs") / f"mc-{Path(args.scenario or 'final_approach').stem}"


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _mc_cmd(args) -> int:
    import signal

    signal.signal(signal.SIGTERM, _interrupt)  # a batch system's stop: close the cluster, keep the rows
    out = _out_dir(args)
    try:
        if args.rerun is not None:
            row, old, diff = rerun_case(out, args.rerun, scenario=args.scenario, seed=args.seed,
                                        duration_s=args.duration)
            run_dir = out / "rerun" / f"case-{args.rerun:05d}"
            print(f"case {args.rerun} (seed {row['seed']}): {row['stop_reason']}, captured {row['captured']}; "
                  f"run folder {run_dir}")
            if old is None:
                print("no stored row for this case to compare with")
                return 0
            if diff:
                for k in diff:
                    print(f"  differs: {k}: stored {old.get(k)!r}, rerun {row.get(k)!r}")
                return 1
            print("reproduces the stored row exactly")
            return 0
        if args.runs is None:
            raise CampaignError("--runs is required (or --rerun CASE)")
        scenario = args.scenario
        if scenario is None:
            meta = out / META_FILE
            try:
                scenario = json.loads(meta.read_text())["scenario"] if meta.is_file() else "final_approach"
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise CampaignError(f"{meta}: unreadable ({err}); give --scenario or choose another --out") from None
        s = run_campaign(scenario, args.runs, out, seed=args.seed, workers=args.workers, scheduler=args.scheduler,
                         duration_s=args.duration, retries=args.retries, progress=not args.no_progress,
                         keep_runs=args.keep_runs, retry_errors=args.retry_errors, undispersed=args.undispersed,
                         connect_timeout_s=args.connect_timeout)
    except KeyboardInterrupt:
        print(f"qz mc: interrupted; finished cases are kept in {out / ROWS_FILE}: run the same command to resume",
              file=sys.stderr)
        return 130
    run = s["run"]
    print(f"{run['submitted']} cases flown ({run['skipped']} already done, {run['errors']} errors) in "
          f"{run['elapsed_s']:.1f} s")
    print(summary_markdown(s).split("\n\n")[1])
    print(f"campaign folder {out}: index.html (open it in a browser), cases.csv, summary.md, plots/")
    return 0


def _bench_cmd(args) -> int:
    r = mc_bench(args.out, scenario=args.scenario, runs=args.runs, speedup_runs=args.speedup_runs, seed=args.seed,
                 full=not args.no_full, progress=not args.no_progress)
    print(bench_markdown(r))
    print(f"benchmark folder {args.out}: bench.md, bench.json")
    return 0

"""One case of a campaign: its seed, its dispersions drawn, its spec, its run and its row."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import zlib

import numpy as np

from ground.campaign.common import CONTACT_COLUMNS, TIMED_TASKS, is_timing

log = logging.getLogger(__name__)


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
              run_dir: str | None = None, write_report: bool = False, apps: dict | None = None) -> dict:
    """Everything a worker needs to fly case ``case`` (plain data: it crosses process boundaries). ``apps``:
    task -> implementation flown (the scenario's ``[flight.apps]`` over it; ``qz mc --compare``)."""
    return {"scenario": str(scenario), "campaign_seed": int(campaign_seed), "case": int(case),
            "duration_s": duration_s, "run_dir": run_dir, "write_report": bool(write_report),
            "apps": dict(apps or {})}


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
    tasks = (summary.get("timing") or {}).get("tasks") or {}
    for task in TIMED_TASKS:  # CPU time per step of the task against its budget (machine-dependent)
        t = tasks.get(task)
        if t:
            row.update({f"cpu_{task}_{k}": t[k] for k in ("mean_us", "p99_us", "max_us", "budget_us", "overruns")})
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
    if spec.get("apps"):
        _merge_into(overrides, {"flight": {"apps": dict(spec["apps"])}})
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
    keys = {k for k in set(a) | set(b) if not is_timing(k)}
    return sorted(k for k in keys if a.get(k) != b.get(k))

"""A campaign's statistics: capture rate with its Wilson interval, contact quantities against the envelope
and the design target, how each case that did not dock ended, time to docking."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ground.campaign.common import CONTACT_COLUMNS, CONTACT_SPEED_TOL_MPS, DESIGN_FRACTION, PERCENTILES, SIGMA_K, Z95

log = logging.getLogger(__name__)


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

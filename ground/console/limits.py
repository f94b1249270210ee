"""Yellow and red limits of the console's values, the way COSMOS colours them, from one place.

Every red limit is a threshold the flight software itself applies, read from its configuration
(:mod:`ground.console.config`) or from a field of the same packet that carries one (a task's
``budget_us``, the heater ``power_limit_W``, a zone's ``setpoint_C``). The yellow limit sits halfway
between the nominal value and the red one: the design margin of docs/reference.md ("within half of
each limit", ``DESIGN_FRACTION``), the GSFC 50 % CPU margin of flight.toml for budgets. A thermal
zone's nominal is its setpoint on the cold side (its heaters hold it) and the middle of its band on
the warm side (heaters only heat). Counters of
things that should not happen (CRC errors, cycle slips, rejections) are yellow above zero; flags of a
lost function (navigation invalid, a failed task, an autonomous abort) are red.

Some limits move with the flight: the closing-rate limit follows the speed profile at the current
axial distance and applies only in the modes where the docking monitor applies it (CLOSING,
FINAL_APPROACH: fsw/apps/docking.py), the corridor's radius grows with the distance, a zone's yellow
band follows its commanded setpoint. So limits are evaluated per packet, with its values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ground.console.config import FlightConfig

OK, YELLOW, RED = 0, 1, 2
DESIGN_FRACTION = 0.5  # docs/reference.md: GNC design target is 3-sigma within half of each limit
CLOSING_MODES = ("CLOSING", "FINAL_APPROACH")  # where the docking monitor judges the closing rate


@dataclass(frozen=True)
class Limit:
    """Inclusive allowed ranges: outside [red_lo, red_hi] red, else outside [yellow_lo, yellow_hi] yellow."""

    red_lo: float | None = None
    red_hi: float | None = None
    yellow_lo: float | None = None
    yellow_hi: float | None = None

    def state(self, value) -> int:
        if isinstance(value, float) and math.isnan(value):
            return RED
        if (self.red_lo is not None and value < self.red_lo) or (self.red_hi is not None and value > self.red_hi):
            return RED
        if (self.yellow_lo is not None and value < self.yellow_lo) or (
                self.yellow_hi is not None and value > self.yellow_hi):
            return YELLOW
        return OK

    def as_list(self) -> list:
        return [self.yellow_lo, self.yellow_hi, self.red_lo, self.red_hi]


def _num(x) -> float:
    return float(x) if isinstance(x, int | float) else math.nan


def margin(nominal: float, red: float) -> float:
    """The yellow limit between ``nominal`` and ``red``: the design margin (half of the way)."""
    return nominal + DESIGN_FRACTION * (red - nominal)


def upper(red_hi: float, nominal: float = 0.0) -> Limit:
    return Limit(red_hi=red_hi, yellow_hi=margin(nominal, red_hi))


def symmetric(red: float) -> Limit:
    return Limit(red_lo=-red, red_hi=red, yellow_lo=-margin(0.0, red), yellow_hi=margin(0.0, red))


NONZERO_YELLOW = Limit(yellow_hi=0)   # a count of things that should not happen
NONZERO_RED = Limit(red_hi=0)         # a failure flag or mask
TRUE_ELSE_RED = Limit(red_lo=1)       # a validity flag


def profile_speed(cfg: FlightConfig, axial_m: float) -> float:
    """[m/s] closing speed of the speed profile at axial distance ``axial_m`` (linear, clamped at both ends),
    as the flight's docking monitor computes it (fsw/core/guidance.py speed_profile)."""
    return float(np.interp(axial_m, cfg.profile_range_m, cfg.profile_speed_mps))


def closing_abort_mps(cfg: FlightConfig, profile_mps: float) -> float:
    """[m/s] closing speed above which the flight aborts (factor x profile + margin)."""
    return cfg.closing_rate_factor * profile_mps + cfg.closing_rate_margin_mps


def corridor_radius_m(cfg: FlightConfig, axial_m: float) -> float:
    """[m] radius of the approach corridor at axial distance ``axial_m`` (cone from the port, with a floor)."""
    return max(max(axial_m, 0.0) * math.tan(math.radians(cfg.corridor_half_angle_deg)), cfg.corridor_min_radius_m)


def axial_m(range_m: float, corridor_angle_deg: float) -> float:
    """[m] distance along the docking axis from the range and the line of sight's angle off the axis."""
    return range_m * math.cos(math.radians(corridor_angle_deg))


class Limits:
    """Limits of every limited field of a packet, given its values and the latest mode.

    ``for_packet(name, values, mode)``: ``{field: Limit | [Limit per element]}``; ``values`` maps each
    field to its value (a list for an array field).
    """

    def __init__(self, cfg: FlightConfig):
        self.cfg = cfg
        att_rad = math.radians(cfg.attitude_error_limit_deg)
        self.static = {
            "NAV_STATE": {"valid": TRUE_ELSE_RED, "sigma_r_m": upper(cfg.valid_max_sigma_r_m)},
            "ATT_STATE": {"valid": TRUE_ELSE_RED, "att_err_rad": symmetric(att_rad)},
            "DOCKING_MONITOR": {"corridor_angle_deg": upper(cfg.corridor_half_angle_deg),
                                "abort_trigger": NONZERO_RED},
            "EXEC_STATUS": {"cycle_slips": NONZERO_YELLOW, "skipped_slots": NONZERO_YELLOW,
                            "overruns_recent": NONZERO_YELLOW, "tasks_failed": NONZERO_RED,
                            "cpu_load_pct": upper(100.0 * cfg.cpu_fraction),
                            "lateness_p99_us": upper(cfg.minor_frame_us),
                            "lateness_max_us": upper(cfg.minor_frame_us)},
            "EXEC_TASK_TIMING": {"overruns": NONZERO_YELLOW, "errors": NONZERO_RED},
            "HK_STATUS": {"apps_failed": NONZERO_RED},
            "PROPULSION": {"prop_used_kg": upper(cfg.propellant_kg)},
            "THERMAL_ZONES": {"shed_mask": NONZERO_YELLOW},
            "GROUND_LINK": {k: NONZERO_YELLOW for k in (
                "clients_refused", "crc_errors", "bytes_skipped", "drops", "rej_unauthenticated", "rej_unknown_spi",
                "rej_bad_mac", "rej_replay", "rej_rate_limited", "rej_malformed")},
            "LINK_STATS": {"crc_errors": NONZERO_YELLOW, "gaps": NONZERO_YELLOW, "resyncs": NONZERO_YELLOW,
                           "reconnects": NONZERO_YELLOW, "stale_mask": NONZERO_RED},
        }

    def for_packet(self, name: str, v: dict, mode: str | None) -> dict:
        out = dict(self.static.get(name, {}))
        cfg = self.cfg
        if name == "DOCKING_MONITOR":
            d = axial_m(_num(v["range_m"]), _num(v["corridor_angle_deg"]))
            out["lateral_m"] = upper(corridor_radius_m(cfg, d))
            if mode in CLOSING_MODES:
                prof = profile_speed(cfg, d)
                # range rate < 0 is closing: closing faster than the profile is the lower side
                out["range_rate_mps"] = Limit(red_lo=-closing_abort_mps(cfg, prof),
                                              yellow_lo=-margin(prof, closing_abort_mps(cfg, prof)))
            if v["in_kos"]:
                out["in_corridor"] = TRUE_ELSE_RED
        elif name == "THERMAL_ZONES":
            zones = []
            for z, zone in enumerate(cfg.zones[:len(v["temp_C"])]):
                # heaters hold the setpoint from below only: the lower margin counts from the setpoint, the
                # upper one from the middle of the band (a survival-heated zone runs far above its setpoint)
                sp = min(max(_num(v["setpoint_C"][z]), zone.limit_lo_C), zone.limit_hi_C)
                mid = 0.5 * (zone.limit_lo_C + zone.limit_hi_C)
                zones.append(Limit(red_lo=zone.limit_lo_C, red_hi=zone.limit_hi_C,
                                   yellow_lo=margin(sp, zone.limit_lo_C), yellow_hi=margin(mid, zone.limit_hi_C)))
            out["temp_C"] = zones
            out["power_W"] = upper(_num(v["power_limit_W"]))
        elif name == "EXEC_TASK_TIMING":
            for f in ("p50_us", "p99_us", "max_us"):
                out[f] = upper(_num(v["budget_us"]))
        return out

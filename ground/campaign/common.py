"""Campaign-wide names: file names, the design target, the contact columns and the campaign error."""

from __future__ import annotations

import logging

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
# Row columns that depend on the machine, not on the case: left out when a rerun is compared; and the prefix of
# the columns of a task's CPU time per step (``cpu_<task>_mean_us`` ...), as machine-dependent.
NONDETERMINISTIC = ("wall_time_s", "case_wall_s")
CPU_PREFIX = "cpu_"
# Tasks whose CPU time per step each row carries (the swappable ones: fsw/contract.py BUILTIN)
TIMED_TASKS = ("guidance",)


def is_timing(col: str) -> bool:
    """A column that depends on the machine, not on the case."""
    return col in NONDETERMINISTIC or col.startswith(CPU_PREFIX)
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

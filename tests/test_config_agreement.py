"""Array sizes in the packet dictionary agree with the vehicle and thermal tables."""

from __future__ import annotations

import tomllib
from pathlib import Path

from telemetry import dictionary

ROOT = Path(__file__).resolve().parents[1]


def test_thruster_count_matches_flight_vehicle_table():
    vehicle = tomllib.loads((ROOT / "fsw/config/vehicle.toml").read_text())
    assert len(vehicle["propulsion"]["thrusters"]) == dictionary.N_THRUSTERS


def test_thruster_groups_are_pure_forces_or_couples():
    """Each translation group gives force without torque, each attitude group torque without force."""
    import numpy as np

    vehicle = tomllib.loads((ROOT / "fsw/config/vehicle.toml").read_text())
    sums: dict[str, np.ndarray] = {}
    for t in vehicle["propulsion"]["thrusters"]:
        f = np.asarray(t["dir"], float) * t["thrust_N"]
        sums.setdefault(t["group"], np.zeros(6))
        sums[t["group"]] += np.r_[f, np.cross(np.asarray(t["pos"], float), f)]
    for group, w in sums.items():
        if group[1:] in ("x", "y", "z"):
            assert np.allclose(w[3:], 0.0) and np.count_nonzero(w[:3]) == 1, group
        else:
            assert np.allclose(w[:3], 0.0) and np.count_nonzero(np.round(w[3:], 9)) == 1, group

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


def test_thermistor_plausible_range_agrees_with_the_fdir_range_watchpoints():
    """Thermal control stops using a reading where FDIR's range watchpoints call the sensor failed."""
    thermal = tomllib.loads((ROOT / "fsw/config/thermal.toml").read_text())
    fdir = tomllib.loads((ROOT / "fsw/config/fdir.toml").read_text())
    lo, hi = thermal["thermistors"]["plausible_range_C"]
    ranges = [w for w in fdir["watchpoint"] if w["message"] == "DEV_THERMISTORS" and w["op"] == "abs_gt"]
    assert len(ranges) == dictionary.N_HEATER_ZONES
    assert all(w["value"] == hi == -lo for w in ranges), (lo, hi, [w["value"] for w in ranges])


def test_gyro_plausibility_agrees_with_the_fdir_out_of_range_watchpoints():
    """The attitude filter stops integrating a gyro sample where FDIR calls the rate out of range."""
    gnc = tomllib.loads((ROOT / "fsw/config/gnc.toml").read_text())
    fdir = tomllib.loads((ROOT / "fsw/config/fdir.toml").read_text())
    limit = gnc["attitude"]["gyro_max_rate_rad_s"]
    ranges = [w for w in fdir["watchpoint"] if w["message"] == "DEV_GYRO" and w["op"] == "abs_gt"]
    assert len(ranges) == 3 and all(w["value"] == limit for w in ranges), (limit, ranges)


def test_the_flight_knows_the_valves_thrust_profile_the_truth_flies():
    """The flight's thruster control sends on-times that deliver full-thrust seconds through the valves' ramps
    (fsw/config/vehicle.toml rise_s, tail_s); the truth's shipped vehicle (sims/scenarios/_vehicle.toml) must fly
    the same figures, or every pulse delivers other than what the flight counts."""
    flight = tomllib.loads((ROOT / "fsw/config/vehicle.toml").read_text())["propulsion"]
    truth = tomllib.loads((ROOT / "sims/scenarios/_vehicle.toml").read_text())["propulsion"]
    for key in ("valve_delay_s", "rise_s", "tail_s", "valve_delay_translation_s", "rise_translation_s",
                "tail_translation_s"):
        assert flight[key] == truth[key], key


def test_the_flight_carries_the_target_calibration_error_the_truth_draws():
    """The filter's target states (fsw/config/gnc.toml [navigation] target_sigma_m, per LVLH axis) hold the sigma
    the shipped truth draws the station target's calibration error with (sims/scenarios/_defaults.toml [sensors]
    target_offset_m, per axis): a filter told less would be optimistic at contact by that much (docs/sensors.md
    section 11)."""
    flight = tomllib.loads((ROOT / "fsw/config/gnc.toml").read_text())["navigation"]["target_sigma_m"]
    truth = tomllib.loads((ROOT / "sims/scenarios/_defaults.toml").read_text())["sensors"]["target_offset_m"]
    assert truth > 0.0
    assert flight == [truth] * 3

"""Shared helpers for the truth-simulation tests."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sims.scenario import load_scenario
from sims.truth import Truth

QUIET_SENSORS = {  # all noise and errors off (ideal sensors: no bias, latency, dropout), so measurements can be
    # compared with geometry
    "ideal": True,
    "gyro": {"arw_deg_sqrt_h": 0.0, "bias_instability_deg_h": 0.0},
    "star_tracker": {"noise_cross_arcsec": 0.0, "noise_roll_arcsec": 0.0},
    "gnss_rel": {"noise_r_m": 0.0, "noise_v_mps": 0.0},
    "lidar": {"noise_range_m": 0.0, "noise_range_frac": 0.0, "noise_angle_deg": 0.0, "noise_angle_near_deg": 0.0},
    "camera": {"noise_lateral_m": 0.0, "noise_lateral_frac": 0.0, "noise_depth_m": 0.0, "noise_depth_per_m": 0.0,
               "noise_angle_deg": 0.0, "noise_angle_deg_per_m": 0.0},
    "thermistors": {"noise_C": 0.0, "quantum_C": 0.0},
}
IDEAL_VEHICLE = {"propulsion": {"thrust_error_sigma": 0.0, "misalignment_sigma_deg": 0.0,
                                 "valve_delay_s": 0.0, "rise_s": 0.0, "tail_s": 0.0, "valve_delay_translation_s": 0.0,
                                 "rise_translation_s": 0.0, "tail_translation_s": 0.0}}
# the environment the closed forms of these tests assume unless a test sets its own: a station holding LVLH
# ideally, an exact uplinked ephemeris, no drag
IDEAL_ENVIRONMENT = {"station": {"attitude": {"amplitude_deg": [0.0, 0.0, 0.0]},
                                 "ephemeris": {"error_rtn_m": [0.0, 0.0, 0.0], "error_rtn_mps": [0.0, 0.0, 0.0]}},
                     "drag": {"enabled": False}}


def _merge(base: dict, over: dict) -> dict:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def make_truth(r_LVLH_m, v_LVLH_mps=(0.0, 0.0, 0.0), quiet=True, **overrides) -> Truth:
    """A final_approach truth started at the given relative state, ideal vehicle and environment, quiet sensors;
    ``overrides`` merge key by key (the shared tables above are copied, never changed)."""
    ov = {"chaser": {"r_LVLH_m": list(map(float, r_LVLH_m)), "v_LVLH_mps": list(map(float, v_LVLH_mps))},
          "vehicle": copy.deepcopy(IDEAL_VEHICLE), **copy.deepcopy(IDEAL_ENVIRONMENT)}
    if quiet:
        ov["sensors"] = copy.deepcopy(QUIET_SENSORS)
    return Truth(load_scenario("final_approach", overrides=_merge(ov, overrides)))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)

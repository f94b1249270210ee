"""The station state the ground uplinks to the flight software: the truth's plus a seeded RTN error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sims.truth
from sims.core.sensors import SENSOR_MODELS
from sims.runner import flight_overrides
from sims.scenario import ScenarioError, load_scenario
from sims.truth import station_ephemeris_error, station_initial_state

SIGMA_R = np.array([5.0, 20.0, 5.0])  # [m] docs/sensors.md sec. 9
SIGMA_V = np.array([0.01, 0.002, 0.005])  # [m/s]
SC = load_scenario("nominal", overrides={"station": {"ephemeris": {"error_rtn_m": SIGMA_R.tolist(),
                                                                   "error_rtn_mps": SIGMA_V.tolist()}}})
N_SEEDS = 2000


def test_error_statistics_over_many_seeds_match_the_sigmas():
    """Per axis: the sample mean inside +-3.29 sigma / sqrt(n) and (n - 1) s^2 / sigma^2 inside the chi-square
    (n - 1) two-sided 99.9 % bounds; the axes uncorrelated (|r| < 3.29 / sqrt(n))."""
    draws = np.array([np.concatenate(station_ephemeris_error(SC, seed)) for seed in range(N_SEEDS)])
    sigma = np.concatenate([SIGMA_R, SIGMA_V])
    z = draws / sigma
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], N_SEEDS - 1)
    for k in range(6):
        assert abs(z[:, k].mean()) < 3.29 / np.sqrt(N_SEEDS)
        assert lo < (N_SEEDS - 1) * z[:, k].var(ddof=1) < hi
    corr = np.corrcoef(z.T)
    assert np.all(np.abs(corr[np.triu_indices(6, 1)]) < 3.29 / np.sqrt(N_SEEDS))


def test_uplinked_state_is_the_truth_plus_the_error_along_radial_along_track_and_cross_track():
    r, v = station_initial_state(SC)
    x = r / np.linalg.norm(r)
    z = np.cross(r, v) / np.linalg.norm(np.cross(r, v))
    C_LN = np.array([x, np.cross(z, x), z])
    for seed in (1, 7, 20250715):
        up = np.array(flight_overrides(SC, seed)["station_rv_N"])
        dr, dv = station_ephemeris_error(SC, seed)
        assert np.allclose(C_LN @ (up[:3] - r), dr, atol=1e-7) and np.allclose(C_LN @ (up[3:] - v), dv, atol=1e-10)
    assert not np.allclose(flight_overrides(SC, 1)["station_rv_N"], flight_overrides(SC, 2)["station_rv_N"])
    assert flight_overrides(SC)["station_rv_N"] == flight_overrides(SC, SC.seed)["station_rv_N"]


def test_zero_sigmas_uplink_the_truth_exactly():
    sc = load_scenario("nominal", overrides={"station": {"ephemeris": {"error_rtn_m": [0.0, 0.0, 0.0],
                                                                       "error_rtn_mps": [0.0, 0.0, 0.0]}}})
    assert flight_overrides(sc, 5)["station_rv_N"] == [float(x) for x in np.concatenate(station_initial_state(sc))]


def test_truth_reports_the_error_of_its_seed():
    truth = sims.truth.Truth(SC, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(truth.ephemeris_error_rtn, station_ephemeris_error(SC, 3),
                                                    strict=True))


def test_every_random_stream_has_its_own_spawn_key():
    keys = [v for k, v in vars(sims.truth).items() if k.endswith("_SPAWN_KEY")]
    keys += [m.spawn_key for m in SENSOR_MODELS if m.spawn_key is not None]
    assert len(keys) == len(set(keys)), sorted(keys)
    assert sims.truth.EPHEMERIS_SPAWN_KEY in keys


@pytest.mark.parametrize("table, key", [
    ({"attitude": {"amplitude_deg": [0.0, 20.0, 0.0]}}, "station.attitude.amplitude_deg"),
    ({"attitude": {"period_s": [600.0, 0.0, 600.0]}}, "station.attitude.period_s"),
    ({"ephemeris": {"error_rtn_m": [-1.0, 0.0, 0.0]}}, "station.ephemeris.error_rtn_m"),
])
def test_bad_station_keys_are_refused_naming_the_key(table, key):
    with pytest.raises(ScenarioError, match=rf": {key}: expected"):
        load_scenario("nominal", overrides={"station": table})

"""The truth's nonlinear two-body + J2 relative motion against the CW closed form (docs/reference.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.sims.conftest import make_truth

PORT_L = np.array([0.0, -12.0, 0.0])  # _defaults.toml station.port_LVLH_m


def mean_motion(truth):
    sc = truth.scenario
    return math.sqrt(sc.earth.mu_m3_s2 / (sc.earth.radius_m + sc.station.altitude_m) ** 3)


def cw_stm(n, t):
    s, c = math.sin(n * t), math.cos(n * t)
    rr = np.array([[4 - 3 * c, 0, 0], [6 * (s - n * t), 1, 0], [0, 0, c]])
    rv = np.array([[s / n, 2 * (1 - c) / n, 0], [2 * (c - 1) / n, (4 * s - 3 * n * t) / n, 0], [0, 0, s / n]])
    return rr, rv


def com_offset_state(truth):
    """Chaser CoM rel. station CoM (what CW describes), L."""
    r, v = truth.relative_state()
    return r + PORT_L, v


def test_short_arc_matches_cw_closed_form():
    rho0, v0 = np.array([20.0, -300.0, 10.0]), np.array([0.01, -0.05, 0.02])
    truth = make_truth(rho0 - PORT_L, v0)
    n = mean_motion(truth)
    t = 600.0
    truth.run(int(t * 100))
    rr, rv = cw_stm(n, t)
    rho_cw = rr @ rho0 + rv @ v0
    rho, _ = com_offset_state(truth)
    # nonlinear + J2 effects at 300 m over 10 min stay at the decimetre level
    assert np.linalg.norm(rho - rho_cw) < 0.5, (rho, rho_cw)


@pytest.mark.parametrize("axis, expected_m, orbits", [(0, -4 * 0.1, 0.5), (1, -6 * math.pi * 0.1, 1.0)],
                         ids=["radial_hop", "tangential_drift"])
def test_impulse_response_matches_cw_rule_of_thumb(axis, expected_m, orbits):
    rho0 = np.array([0.0, -100.0, 0.0])
    dv = np.zeros(3)
    dv[axis] = 0.1
    truth = make_truth(rho0 - PORT_L, dv)
    n = mean_motion(truth)
    truth.run(int(round(orbits * 2 * math.pi / n * 100)))
    rho, _ = com_offset_state(truth)
    along_track = rho[1] - rho0[1]
    assert along_track == pytest.approx(expected_m / n, rel=0.03)

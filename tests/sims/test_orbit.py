"""Orbit kernels of the truth: gravity against a finite-difference potential, conservation and J2 regression
of the frame kernel's RK4 step, the LVLH geometry against numpy."""

from __future__ import annotations

import math

import numpy as np

from sims.core.frame import GEOMETRY, TRUTH_PARAMS, TRUTH_STATE, relative_geometry, rk4_step
from sims.core.orbit import grav_j2_terms
from sims.scenario import load_scenario

SC = load_scenario("nominal")
MU, RE, J2 = SC.earth.mu_m3_s2, SC.earth.radius_m, SC.earth.j2


def potential(r):
    """Point mass + J2 potential (Vallado eq. 8-19), U such that a = grad U."""
    rn = np.linalg.norm(r)
    s = r[2] / rn
    return MU / rn * (1.0 - J2 * (RE / rn) ** 2 * 0.5 * (3 * s * s - 1))


def circular_state(alt_m, inc_deg):
    r = RE + alt_m
    i = math.radians(inc_deg)
    v = math.sqrt(MU / r)
    return np.array([r, 0, 0, 0, v * math.cos(i), v * math.sin(i)])


def propagate(y, j2, dt_s, n_steps):
    """``n_steps`` RK4 steps of the truth's frame step for an orbit state (r [m], v [m/s]), N; no drag."""
    orbit = tuple(map(float, y))
    attitude = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    thrust = (0.0,) * 6 + (1.0,) * 6
    for _ in range(n_steps):
        orbit, _, _ = rk4_step(orbit, orbit, attitude, dt_s, (MU, RE, j2, 0.0, 0.0, 0.0, 1.0), 0.0, 0.0, thrust,
                               False, False, False)
    y[:] = orbit


def test_j2_acceleration_is_the_gradient_of_the_j2_potential(rng):
    for _ in range(10):
        r = rng.standard_normal(3)
        r *= (RE + 400e3) / np.linalg.norm(r)
        out = np.array(grav_j2_terms(*r, MU, RE, J2)[:3])
        h = 1.0
        grad = np.array([(potential(r + h * e) - potential(r - h * e)) / (2 * h) for e in np.eye(3)])
        assert np.allclose(out, grad, rtol=1e-7, atol=1e-9)


def test_two_body_conserves_energy_and_angular_momentum():
    y = circular_state(390e3, 41.5)
    y[3] += 50.0  # slightly eccentric
    e0 = 0.5 * y[3:] @ y[3:] - MU / np.linalg.norm(y[:3])
    h0 = np.cross(y[:3], y[3:])
    propagate(y, 0.0, 1.0, 5600)
    e1 = 0.5 * y[3:] @ y[3:] - MU / np.linalg.norm(y[:3])
    h1 = np.cross(y[:3], y[3:])
    assert abs(e1 - e0) / abs(e0) < 1e-10
    assert np.linalg.norm(h1 - h0) / np.linalg.norm(h0) < 1e-10


def test_j2_nodal_regression_matches_secular_rate():
    alt, inc = 390e3, 41.5
    y = circular_state(alt, inc)
    a = RE + alt
    n = math.sqrt(MU / a ** 3)
    expected = -1.5 * n * J2 * (RE / a) ** 2 * math.cos(math.radians(inc))  # e = 0: p = a
    period = 2 * math.pi / n
    dt = 5.0
    steps = int(round(10 * period / dt))
    raan = []
    for _ in range(10):  # sample once per orbit to average the short-period terms
        h = np.cross(y[:3], y[3:])
        raan.append(math.atan2(h[0], -h[1]))
        propagate(y, J2, dt, steps // 10)
    rate = np.polyfit(np.arange(10) * (steps // 10) * dt, np.unwrap(raan), 1)[0]
    assert abs(rate - expected) / abs(expected) < 0.01


def test_relative_geometry_matches_numpy_transport_theorem(rng):
    """LVLH axes, LVLH rate (in-plane |h|/r^2, out-of-plane r a_h/|h|) and the chaser's relative state."""
    p, s, g = np.zeros(1, TRUTH_PARAMS)[0], np.zeros(1, TRUTH_STATE)[0], np.zeros(1, GEOMETRY)[0]
    p["mu_m3_s2"], p["earth_radius_m"], p["j2"], p["station_mass_kg"] = MU, RE, J2, 1.0
    p["port_S_m"] = [0.0, -12.0, 0.0]
    rs = circular_state(390e3, 41.5)
    rc = rs + np.r_[rng.standard_normal(3) * 100, rng.standard_normal(3) * 0.1]
    s["r_station_N_m"], s["v_station_N_mps"], s["r_chaser_N_m"], s["v_chaser_N_mps"] = rs[:3], rs[3:], rc[:3], rc[3:]
    s["q_BN"] = [1.0, 0.0, 0.0, 0.0]
    C_rows, _ = relative_geometry(p, s, g, 0.0)
    x = rs[:3] / np.linalg.norm(rs[:3])
    h = np.cross(rs[:3], rs[3:])
    z = h / np.linalg.norm(h)
    C = np.array([x, np.cross(z, x), z])
    assert np.allclose(np.reshape(C_rows, (3, 3)), C, atol=1e-15)
    a = np.array(grav_j2_terms(*rs[:3], MU, RE, J2)[:3])
    w = np.array([np.linalg.norm(rs[:3]) * (a @ z) / np.linalg.norm(h), 0.0, np.linalg.norm(h) / (rs[:3] @ rs[:3])])
    assert np.allclose(g["omega_LN_L_rad_s"], w, rtol=1e-12, atol=1e-20)
    r_L = C @ (rc[:3] - rs[:3])
    assert np.allclose(g["r_rel_L_m"], r_L - p["port_S_m"], atol=1e-9)
    assert np.allclose(g["v_rel_L_mps"], C @ (rc[3:] - rs[3:]) - np.cross(w, r_L), atol=1e-12)

"""Orbit kernels: gravity against a finite-difference potential, conservation, J2 regression."""

from __future__ import annotations

import math

import numpy as np

from sims.core.orbit import accel_j2, lvlh_dcm, lvlh_rate, relative_lvlh, rk4_two_body_j2
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


def test_j2_acceleration_is_the_gradient_of_the_j2_potential(rng):
    out = np.zeros(3)
    for _ in range(10):
        r = rng.standard_normal(3)
        r *= (RE + 400e3) / np.linalg.norm(r)
        accel_j2(r, MU, RE, J2, out)
        h = 1.0
        grad = np.array([(potential(r + h * e) - potential(r - h * e)) / (2 * h) for e in np.eye(3)])
        assert np.allclose(out, grad, rtol=1e-7, atol=1e-9)


def test_two_body_conserves_energy_and_angular_momentum():
    y = circular_state(390e3, 41.5)
    y[3] += 50.0  # slightly eccentric
    e0 = 0.5 * y[3:] @ y[3:] - MU / np.linalg.norm(y[:3])
    h0 = np.cross(y[:3], y[3:])
    rk4_two_body_j2(y, MU, RE, 0.0, 1.0, 5600, np.zeros(30))
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
        rk4_two_body_j2(y, MU, RE, J2, dt, steps // 10, np.zeros(30))
    rate = np.polyfit(np.arange(10) * (steps // 10) * dt, np.unwrap(raan), 1)[0]
    assert abs(rate - expected) / abs(expected) < 0.01


def test_relative_lvlh_matches_numpy_transport_theorem(rng):
    rs = circular_state(390e3, 41.5)
    rc = rs + np.r_[rng.standard_normal(3) * 100, rng.standard_normal(3) * 0.1]
    C = np.zeros((3, 3))
    lvlh_dcm(rs[:3], rs[3:], C)
    x = rs[:3] / np.linalg.norm(rs[:3])
    z = np.cross(rs[:3], rs[3:])
    z /= np.linalg.norm(z)
    assert np.allclose(C, [x, np.cross(z, x), z], atol=1e-15)
    w = np.zeros(3)
    a = np.zeros(3)
    accel_j2(rs[:3], MU, RE, J2, a)
    lvlh_rate(rs[:3], rs[3:], a, w)
    assert math.isclose(w[2], np.linalg.norm(np.cross(rs[:3], rs[3:])) / (rs[:3] @ rs[:3]), rel_tol=1e-14)
    out_r, out_v = np.zeros(3), np.zeros(3)
    relative_lvlh(rs[:3], rs[3:], rc[:3], rc[3:], C, w, out_r, out_v)
    r_L = C @ (rc[:3] - rs[:3])
    assert np.allclose(out_r, r_L, atol=1e-9)
    assert np.allclose(out_v, C @ (rc[3:] - rs[3:]) - np.cross(w, r_L), atol=1e-12)

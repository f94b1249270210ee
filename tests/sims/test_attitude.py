"""Rigid-body attitude dynamics of the frame kernel's RK4 step: conservation and gravity-gradient torque."""

from __future__ import annotations

import numpy as np

from sims.core.frame import chaser_rates, rk4_step
from tests.sims.test_quat import dcm

RE = 6378137.0


def env(mu_m3_s2):
    """The Earth model tuple of ``sims.core.frame.environment``; no drag."""
    return (mu_m3_s2, RE, 0.0, 0.0, 0.0, 0.0, 1.0)


def no_thrust(inertia):
    ix, iy, iz = map(float, inertia)
    return (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, ix, iy, iz, 1.0 / ix, 1.0 / iy, 1.0 / iz)


def test_torque_free_body_conserves_angular_momentum_and_energy():
    inertia = np.array([6800.0, 18000.0, 20000.0])
    q = np.array([0.9, 0.1, -0.3, 0.2])
    q /= np.linalg.norm(q)
    w0 = (0.05, 0.2, -0.03)  # near the intermediate axis: a tumbling case
    orbit = (7.0e6, 0.0, 0.0, 0.0, 0.0, 0.0)  # mu = 0: no gravity, no gravity-gradient torque
    att = (*map(float, q), *w0)

    def invariants(att):
        w = np.array(att[4:])
        H_N = dcm(att[:4]).T @ (inertia * w)
        return H_N, 0.5 * w @ (inertia * w)

    H0, T0 = invariants(att)
    g = no_thrust(inertia)
    for _ in range(20000):
        _, _, att = rk4_step(orbit, orbit, att, 0.01, env(0.0), 0.0, 0.0, g, False, False, False)
    H1, T1 = invariants(att)
    assert np.linalg.norm(H1 - H0) / np.linalg.norm(H0) < 1e-8
    assert abs(T1 - T0) / T0 < 1e-8


def test_gravity_gradient_torque_matches_numpy_reference(rng):
    mu = 3.986004418e14
    inertia = np.array([6800.0, 20000.0, 21000.0])
    r = rng.standard_normal(3) * 6.8e6 / np.sqrt(3)
    q = rng.standard_normal(4)
    q /= np.linalg.norm(q)
    w = rng.standard_normal(3) * 0.01
    _, dw = chaser_rates((*r, 0.0, 0.0, 0.0), (*q, *w), env(mu), 0.0, no_thrust(inertia), False, False, False)
    r_B = dcm(q) @ r
    rn = np.linalg.norm(r_B)
    I = np.diag(inertia)
    torque = 3 * mu / rn ** 5 * np.cross(r_B, I @ r_B)  # Schaub & Junkins eq. 4.85 form
    wdot = np.linalg.solve(I, torque - np.cross(w, I @ w))
    assert np.allclose(dw[4:], wdot, rtol=1e-10, atol=1e-16)

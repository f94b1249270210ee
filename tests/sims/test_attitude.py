"""Rigid-body attitude dynamics of the frame kernel: conservation and gravity-gradient torque."""

from __future__ import annotations

import numpy as np

from sims.core import layout as L
from sims.core.frame import rk4_step, truth_deriv
from tests.sims.test_quat import dcm


def torque_free_params():
    p = np.zeros(L.N_P)
    p[L.P_RE] = 6378137.0  # mu = 0: no gravity, no gravity-gradient torque
    return p


def test_torque_free_body_conserves_angular_momentum_and_energy():
    p = torque_free_params()
    inertia = np.array([6800.0, 18000.0, 20000.0])
    y = np.zeros(L.N_Y)
    y[0] = y[6] = 7.0e6
    y[L.X_Q:L.X_Q + 4] = [0.9, 0.1, -0.3, 0.2]
    y[L.X_Q:L.X_Q + 4] /= np.linalg.norm(y[L.X_Q:L.X_Q + 4])
    y[L.X_W:L.X_W + 3] = [0.05, 0.2, -0.03]  # near the intermediate axis: a tumbling case

    def invariants(y):
        w = y[L.X_W:L.X_W + 3]
        H_N = dcm(y[L.X_Q:L.X_Q + 4]).T @ (inertia * w)
        return H_N, 0.5 * w @ (inertia * w)

    H0, T0 = invariants(y)
    zero = np.zeros(3)
    for _ in range(20000):
        rk4_step(y, p, zero, zero, 5000.0, inertia, False, 0.01)
    H1, T1 = invariants(y)
    assert np.linalg.norm(H1 - H0) / np.linalg.norm(H0) < 1e-8
    assert abs(T1 - T0) / T0 < 1e-8


def test_gravity_gradient_torque_matches_numpy_reference(rng):
    mu = 3.986004418e14
    p = np.zeros(L.N_P)
    p[L.P_MU], p[L.P_RE] = mu, 6378137.0
    inertia = np.array([6800.0, 20000.0, 21000.0])
    y = np.zeros(L.N_Y)
    y[6:9] = rng.standard_normal(3) * 6.8e6 / np.sqrt(3)
    q = rng.standard_normal(4)
    y[L.X_Q:L.X_Q + 4] = q / np.linalg.norm(q)
    w = rng.standard_normal(3) * 0.01
    y[L.X_W:L.X_W + 3] = w
    y[0:3] = y[6:9] + 100.0
    out = np.zeros(L.N_Y)
    truth_deriv(y, p, np.zeros(3), np.zeros(3), 5000.0, inertia, False, out)
    r_B = dcm(y[L.X_Q:L.X_Q + 4]) @ y[6:9]
    rn = np.linalg.norm(r_B)
    I = np.diag(inertia)
    torque = 3 * mu / rn ** 5 * np.cross(r_B, I @ r_B)  # Schaub & Junkins eq. 4.85 form
    wdot = np.linalg.solve(I, torque - np.cross(w, I @ w))
    assert np.allclose(out[L.X_W:L.X_W + 3], wdot, rtol=1e-10, atol=1e-16)

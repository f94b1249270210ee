import math

import numpy as np
import pytest
from fsw_core_refs import dcm_axis_angle, qmult, quat_axis_angle, random_quat, rk4_step

from fsw.core.attitude import (
    lvlh_dcm,
    lvlh_target_attitude,
    quat_conj,
    quat_error,
    quat_feedback_torque,
    quat_from_dcm,
    quat_mult,
    quat_normalize,
    quat_to_dcm,
)

# Docking attitude relative to LVLH: x_B = +y_L, y_B = -z_L, z_B = -x_L (rows are B axes in LVLH).
C_DOCK_RL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
INERTIA = np.diag([6800.0, 20000.0, 20000.0])  # docs/reference.md [est]


def _dcm(q):
    C = np.empty((3, 3))
    quat_to_dcm(np.asarray(q, dtype=float), C)
    return C


def _mult(p, q):
    out = np.empty(4)
    quat_mult(np.asarray(p, dtype=float), np.asarray(q, dtype=float), out)
    return out


def test_quat_mult_matches_hamilton_matrix_product():
    rng = np.random.default_rng(1)
    for _ in range(20):
        p, q = rng.normal(size=4), rng.normal(size=4)
        np.testing.assert_allclose(_mult(p, q), qmult(p, q), rtol=1e-14, atol=1e-14)


def test_quat_to_dcm_matches_axis_angle_rotation():
    rng = np.random.default_rng(2)
    for _ in range(20):
        e = rng.normal(size=3)
        e /= np.linalg.norm(e)
        theta = rng.uniform(-math.pi, math.pi)
        np.testing.assert_allclose(_dcm(quat_axis_angle(e, theta)), dcm_axis_angle(e, theta), atol=1e-14)


def test_dcm_of_product_composes_right_to_left():
    rng = np.random.default_rng(3)
    q_BN, q_CB = random_quat(rng), random_quat(rng)
    np.testing.assert_allclose(_dcm(_mult(q_BN, q_CB)), _dcm(q_CB) @ _dcm(q_BN), atol=1e-14)


@pytest.mark.parametrize("angle_rad", [0.3, 2.0, math.pi - 1e-9, math.pi])
def test_quat_from_dcm_inverts_quat_to_dcm(angle_rad):
    rng = np.random.default_rng(4)
    for _ in range(10):
        e = rng.normal(size=3)
        e /= np.linalg.norm(e)
        q = quat_axis_angle(e, angle_rad)
        q_back = np.empty(4)
        quat_from_dcm(_dcm(q), q_back)
        # q and -q are the same attitude; compare the DCMs and the unit norm.
        np.testing.assert_allclose(_dcm(q_back), _dcm(q), atol=1e-13)
        assert abs(np.linalg.norm(q_back) - 1.0) < 1e-14
        assert q_back[0] >= 0.0


def test_quat_conj_inverts_unit_quaternion():
    q = random_quat(np.random.default_rng(5))
    qc = np.empty(4)
    quat_conj(q, qc)
    np.testing.assert_allclose(_mult(q, qc), [1.0, 0.0, 0.0, 0.0], atol=1e-15)


def test_quat_normalize_gives_unit_norm_and_non_negative_scalar():
    q = np.array([-2.0, 1.0, 0.5, -0.3])
    out = np.empty(4)
    quat_normalize(q, out)
    np.testing.assert_allclose(out, -q / np.linalg.norm(q), rtol=1e-15)


def test_quat_error_gives_relative_dcm():
    rng = np.random.default_rng(6)
    q_BN, q_RN = random_quat(rng), random_quat(rng)
    q_BR = np.empty(4)
    quat_error(q_BN, q_RN, q_BR)
    np.testing.assert_allclose(_dcm(q_BR), _dcm(q_BN) @ _dcm(q_RN).T, atol=1e-14)


def test_lvlh_dcm_axes_and_rate_of_circular_orbit():
    mu, r = 3.986004418e14, 6378137.0 + 390e3
    incl = math.radians(41.5)
    r_N = r * np.array([0.6, 0.8, 0.0])
    v_N = math.sqrt(mu / r) * np.array([-0.8 * math.cos(incl), 0.6 * math.cos(incl), math.sin(incl)])
    C_LN, w = np.empty((3, 3)), np.empty(3)
    lvlh_dcm(r_N, v_N, C_LN, w)
    h = np.cross(r_N, v_N)
    np.testing.assert_allclose(C_LN[0], r_N / r, atol=1e-15)
    np.testing.assert_allclose(C_LN[2], h / np.linalg.norm(h), atol=1e-15)
    np.testing.assert_allclose(C_LN[1], v_N / np.linalg.norm(v_N), atol=1e-15)  # circular: y along v
    np.testing.assert_allclose(C_LN @ C_LN.T, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(w, [0.0, 0.0, math.sqrt(mu / r**3)], rtol=1e-13)


def test_docking_target_attitude_puts_body_axes_on_lvlh_axes():
    rng = np.random.default_rng(7)
    C_LN = _dcm(random_quat(rng))
    w_LN_L = np.array([0.0, 0.0, 1.1339e-3])
    q_RN, w_RN_R, scratch = np.empty(4), np.empty(3), np.empty((3, 3))
    lvlh_target_attitude(C_LN, w_LN_L, C_DOCK_RL, scratch, q_RN, w_RN_R)
    C_RL = _dcm(q_RN) @ C_LN.T
    np.testing.assert_allclose(C_RL.T[:, 0], [0.0, 1.0, 0.0], atol=1e-14)   # x_B = +y_LVLH
    np.testing.assert_allclose(C_RL.T[:, 1], [0.0, 0.0, -1.0], atol=1e-14)  # y_B = -z_LVLH
    np.testing.assert_allclose(C_RL.T[:, 2], [-1.0, 0.0, 0.0], atol=1e-14)  # z_B = -x_LVLH
    # Orbit rate about +z_LVLH is about -y_B in the docking attitude.
    np.testing.assert_allclose(w_RN_R, [0.0, -1.1339e-3, 0.0], atol=1e-18)


def _torque_reference(q_BN, w_BN, q_RN, w_RN_R, K, P):
    """Numpy form of u = -K sign(dq0) dq_v - P w_BR + w x (I w) from DCMs and Hamilton products."""
    dq = qmult(np.array([q_RN[0], *(-q_RN[1:])]), q_BN)
    C_BR = _dcm(q_BN) @ _dcm(q_RN).T
    w_BR = w_BN - C_BR @ w_RN_R
    return -K * np.sign(dq[0]) * dq[1:] - P * w_BR + np.cross(w_BN, INERTIA @ w_BN)


def test_feedback_torque_matches_numpy_reference():
    rng = np.random.default_rng(8)
    K, P, u_max = np.array([140.0, 400.0, 400.0]), np.array([950.0, 2800.0, 2800.0]), np.full(3, 1e9)
    for _ in range(10):
        q_BN, q_RN = random_quat(rng), random_quat(rng)
        w_BN, w_RN = rng.normal(scale=0.01, size=3), rng.normal(scale=0.001, size=3)
        u, err = np.empty(3), np.empty(6)
        quat_feedback_torque(q_BN, w_BN, q_RN, w_RN, INERTIA, K, P, u_max, err, u)
        np.testing.assert_allclose(u, _torque_reference(q_BN, w_BN, q_RN, w_RN, K, P), rtol=1e-12, atol=1e-12)


def test_feedback_torque_is_clipped_per_axis():
    K, P, u_max = np.full(3, 1e4), np.full(3, 1e4), np.array([10.0, 20.0, 30.0])
    q_BN = quat_axis_angle([0.0, 0.0, 1.0], 0.0)
    q_RN = quat_axis_angle(np.array([1.0, 1.0, 1.0]) / math.sqrt(3.0), 1.0)
    u, err = np.empty(3), np.empty(6)
    quat_feedback_torque(q_BN, np.zeros(3), q_RN, np.zeros(3), INERTIA, K, P, u_max, err, u)
    np.testing.assert_allclose(np.abs(u), u_max)


def test_feedback_returns_principal_error_angle():
    q_RN = quat_axis_angle([0.0, 1.0, 0.0], 0.2)
    q_BN = _mult(q_RN, quat_axis_angle([1.0, 0.0, 0.0], 0.3))
    u, err = np.empty(3), np.empty(6)
    angle = quat_feedback_torque(q_BN, np.zeros(3), q_RN, np.zeros(3), INERTIA, np.ones(3), np.ones(3),
                                 np.full(3, 1e9), err, u)
    assert abs(angle - 0.3) < 1e-12
    np.testing.assert_allclose(err[:3], [2.0 * math.sin(0.15), 0.0, 0.0], atol=1e-14)


def test_closed_loop_tracks_rotating_docking_attitude():
    """Rigid body (Euler + quaternion kinematics, RK4) under the law converges onto a rotating LVLH target."""
    n = 1.1339e-3
    w_RN_R = np.array([0.0, -n, 0.0])
    q_RN0 = np.array([1.0, 0.0, 0.0, 0.0])
    # Gains for w_n = 0.1 rad/s, zeta = 0.9 per axis: K = 2 I w_n^2, P = 2 zeta w_n I.
    diag = np.diag(INERTIA)
    K, P, u_max = 2.0 * diag * 0.01, 2.0 * 0.9 * 0.1 * diag, np.full(3, 130.0)
    e = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    state = np.concatenate([quat_axis_angle(e, math.radians(20.0)), np.radians([0.3, -0.2, 0.4])])
    u, err = np.empty(3), np.empty(6)
    dt, t = 0.1, 0.0

    def q_ref(t):
        return qmult(q_RN0, quat_axis_angle(w_RN_R / n, n * t))

    for _ in range(3000):
        quat_feedback_torque(state[:4], state[4:], q_ref(t), w_RN_R, INERTIA, K, P, u_max, err, u)
        torque = u.copy()  # zero-order hold over the control period

        def f(s, torque=torque):
            q, w = s[:4], s[4:]
            qd = 0.5 * qmult(q, np.concatenate([[0.0], w]))
            wd = np.linalg.solve(INERTIA, torque - np.cross(w, INERTIA @ w))
            return np.concatenate([qd, wd])

        state = rk4_step(f, state, dt)
        state[:4] /= np.linalg.norm(state[:4])
        t += dt
    angle = quat_feedback_torque(state[:4], state[4:], q_ref(t), w_RN_R, INERTIA, K, P, u_max, err, u)
    # 300 s = 27 closed-loop time constants (1/(zeta w_n) = 11 s): the 20 deg error decays below 1e-6 rad.
    assert angle < 1e-6
    assert np.max(np.abs(err[3:])) < 1e-7

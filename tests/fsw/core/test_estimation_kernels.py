import math

import numpy as np
import pytest
from fsw_core_refs import N_RAD_S, chi2_quantile, cw_rk4, qmult, quat_axis_angle, random_quat, rk4_step

from fsw.core.attitude import quat_to_dcm
from fsw.core.estimation import (
    RN_ACCEL,
    RN_GNSS_BIAS,
    RN_GNSS_VBIAS,
    RN_LIDAR_BIAS,
    RN_STATES,
    RN_TARGET,
    WORK_SHAPE,
    lidar_model,
    mekf_propagate,
    mekf_update_star_tracker,
    port_los_B,
    relnav_predict,
    relnav_predict_accel,
    relnav_predict_biases,
    relnav_predict_ephemeris_error,
    relnav_reset_biases,
    relnav_update_camera,
    relnav_update_gnss,
    relnav_update_lidar,
)
from fsw.core.relmotion import cw_stm

N = N_RAD_S
SENSOR_B = np.array([3.0, 0.0, 0.0])  # chaser docking port, B (vehicle.toml)
TARGET_L = np.zeros(3)  # reflector / camera target at the station port
# Docking attitude: rows are the B axes in LVLH.
C_DOCK = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
CHI2_6_99 = 16.812  # chi-square 6 dof, 99 %
CHI2_3_99 = 11.345  # chi-square 3 dof, 99 %
Z_995 = 2.5758  # standard normal 99.5 % quantile (two-sided 99 %)


def _work():
    return np.zeros(WORK_SHAPE)


def _tilted_attitude(rng, deg=3.0):
    """Docking attitude with a small random error, as C_B_LVLH."""
    C = np.empty((3, 3))
    e = rng.normal(size=3)
    quat_to_dcm(quat_axis_angle(e / np.linalg.norm(e), math.radians(deg)), C)
    return C @ C_DOCK


# ---------------------------------------------------------------- relative navigation

def test_relnav_predict_matches_cw_integration_and_covariance_propagation():
    x = np.array([5.0, -300.0, 2.0, 0.01, 0.2, -0.005])
    P = np.diag([4.0, 9.0, 1.0, 1e-4, 2e-4, 3e-4])
    dv, q, dt = np.array([0.01, -0.02, 0.003]), 1e-8, 0.1
    x_k, P_k, work = x.copy(), P.copy(), _work()
    relnav_predict(x_k, P_k, N, dt, dv, q, work)
    x_ref = cw_rk4(np.concatenate([x[:3], x[3:] + dv]), N, dt, h=0.01)
    Phi = np.empty((6, 6))
    cw_stm(N, dt, Phi)
    Q = q * np.block([[dt**3 / 3 * np.eye(3), dt**2 / 2 * np.eye(3)], [dt**2 / 2 * np.eye(3), dt * np.eye(3)]])
    # RK4 over 0.1 s: error ~ (n h)^5 |x| — nil; covariance is the same algebra in numpy.
    np.testing.assert_allclose(x_k, x_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(P_k, Phi @ P @ Phi.T + Q, rtol=1e-12, atol=1e-18)


def test_relnav_filter_is_consistent_on_linear_gaussian_cw_truth():
    """Average NEES over a seeded Monte Carlo lies in the 99 % chi-square interval (Bar-Shalom Sec. 5.4)."""
    rng = np.random.default_rng(21)
    runs, steps, dt, q = 40, 60, 1.0, 1e-8
    sig_r, sig_v = 1.0, 0.01  # docs/reference.md relative GNSS
    h_off = np.array([0.0, 12.0, 0.0, 0.0, 0.0, 0.0])  # station port w.r.t. station CoM
    Phi = np.empty((6, 6))
    cw_stm(N, dt, Phi)
    Q = q * np.block([[dt**3 / 3 * np.eye(3), dt**2 / 2 * np.eye(3)], [dt**2 / 2 * np.eye(3), dt * np.eye(3)]])
    LQ = np.linalg.cholesky(Q)
    P0 = np.diag([25.0, 25.0, 25.0, 1e-3, 1e-3, 1e-3])
    nees_sum = 0.0
    for _ in range(runs):
        x_true = np.array([0.0, -3000.0, 0.0, 0.0, 0.0, 0.0])
        x = x_true + np.sqrt(np.diag(P0)) * rng.normal(size=6)
        P, work = P0.copy(), _work()
        for _ in range(steps):
            x_true = Phi @ x_true + LQ @ rng.normal(size=6)
            relnav_predict(x, P, N, dt, np.zeros(3), q, work)
            z = x_true + h_off + np.concatenate([sig_r * rng.normal(size=3), sig_v * rng.normal(size=3)])
            ok, _ = relnav_update_gnss(x, P, z[:3], z[3:], h_off, sig_r, sig_v, math.inf, work)
            assert ok
            e = x - x_true
            nees_sum += e @ np.linalg.solve(P, e)
    dof = 6 * runs * steps
    assert chi2_quantile(-Z_995, dof) <= nees_sum <= chi2_quantile(Z_995, dof)


def test_gnss_update_rejects_10_sigma_outlier():
    x, P, work = np.array([0.0, -3000.0, 0.0, 0.0, 0.0, 0.0]), np.eye(6), _work()
    x0, P0 = x.copy(), P.copy()
    # S_xx = P_xx + sigma^2 = 2: a 10-sigma innovation on x gives d2 = 100 > 16.8.
    z_r = x[:3] + np.array([10.0 * math.sqrt(2.0), 0.0, 0.0])
    ok, d2 = relnav_update_gnss(x, P, z_r, x[3:].copy(), np.zeros(6), 1.0, 1.0, CHI2_6_99, work)
    assert not ok
    assert abs(d2 - 100.0) < 1e-9
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(P, P0)


def test_lidar_update_rejects_10_sigma_range_outlier():
    rng = np.random.default_rng(22)
    C = _tilted_attitude(rng)
    P0 = np.diag([1e-4] * 3 + [1e-6] * 3)
    x, P, work = np.array([0.5, -80.0, -0.3, 0.0, 0.1, 0.0]), P0.copy(), _work()
    x0 = x.copy()
    h, H = np.empty(3), np.empty((3, 6))
    lidar_model(x, C, SENSOR_B, TARGET_L, h, H)
    sig_ang = math.radians(0.05)
    S = H @ P0 @ H.T + np.diag([(0.02 + 0.001 * h[0]) ** 2, sig_ang**2, sig_ang**2])
    range_meas = h[0] + 10.0 * math.sqrt(S[0, 0])
    # The caller gives the range sigma at the measured range (here it grows 0.1 % of range).
    S[0, 0] += (0.02 + 0.001 * range_meas) ** 2 - (0.02 + 0.001 * h[0]) ** 2
    y = np.array([range_meas - h[0], 0.0, 0.0])
    ok, d2 = relnav_update_lidar(x, P, range_meas, h[1], h[2], C, SENSOR_B, TARGET_L, 0.02 + 0.001 * range_meas,
                                 sig_ang, CHI2_3_99, work)
    assert not ok
    assert abs(d2 - y @ np.linalg.solve(S, y)) < 1e-9 * d2
    assert d2 > 90.0  # ~10 sigma: far beyond the 11.3 gate
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(P, P0)


def test_lidar_model_matches_numpy_geometry():
    rng = np.random.default_rng(23)
    C = _tilted_attitude(rng)
    x = np.array([2.0, -60.0, 1.0, 0.0, 0.0, 0.0])
    h, H = np.empty(3), np.empty((3, 6))
    lidar_model(x, C, SENSOR_B, TARGET_L, h, H)
    los = C @ (TARGET_L - x[:3]) - SENSOR_B
    rng_m = np.linalg.norm(los)
    np.testing.assert_allclose(h, [rng_m, math.atan2(los[1], los[0]), math.asin(los[2] / rng_m)], rtol=1e-14)


def test_lidar_jacobian_matches_central_differences():
    rng = np.random.default_rng(24)
    C = _tilted_attitude(rng, deg=20.0)
    x = np.array([3.0, -40.0, -2.0, 0.01, 0.1, 0.0])
    h, H = np.empty(3), np.empty((3, 6))
    lidar_model(x, C, SENSOR_B, TARGET_L, h, H)
    step = 1e-3
    fd = np.zeros((3, 6))
    for j in range(6):
        hp, hm, dummy = np.empty(3), np.empty(3), np.empty((3, 6))
        xp, xm = x.copy(), x.copy()
        xp[j] += step
        xm[j] -= step
        lidar_model(xp, C, SENSOR_B, TARGET_L, hp, dummy)
        lidar_model(xm, C, SENSOR_B, TARGET_L, hm, dummy)
        fd[:, j] = (hp - hm) / (2.0 * step)
    # Central-difference truncation ~ step^2 |h'''| ~ 1e-6 / r^3 and rounding ~ 1e-16 r / step: both < 1e-10.
    np.testing.assert_allclose(H, fd, atol=1e-10)


def test_camera_jacobian_matches_central_differences():
    rng = np.random.default_rng(25)
    C = _tilted_attitude(rng, deg=10.0)
    x, P, work = np.array([0.2, -20.0, 0.1, 0.0, 0.1, 0.0]), np.eye(6) * 1e-2, _work()
    los = np.empty(3)
    port_los_B(x, C, SENSOR_B, TARGET_L, los)
    relnav_update_camera(x.copy(), P, los, C, SENSOR_B, TARGET_L, np.full(3, 0.005), math.inf, work)
    H = work[0, :3, :6]
    step = 1e-3
    fd = np.zeros((3, 6))
    for j in range(6):
        lp, lm = np.empty(3), np.empty(3)
        xp, xm = x.copy(), x.copy()
        xp[j] += step
        xm[j] -= step
        port_los_B(xp, C, SENSOR_B, TARGET_L, lp)
        port_los_B(xm, C, SENSOR_B, TARGET_L, lm)
        fd[:, j] = (lp - lm) / (2.0 * step)
    # The model is linear: central differences are exact up to rounding (~1e-16 * 20 m / 1e-3 m).
    np.testing.assert_allclose(H, fd, atol=1e-10)


def test_camera_update_matches_textbook_kalman_update():
    rng = np.random.default_rng(26)
    C = _tilted_attitude(rng)
    x, work = np.array([0.3, -30.0, -0.2, 0.0, 0.1, 0.01]), _work()
    A = rng.normal(size=(6, 6))
    P = A @ A.T * 1e-2 + np.eye(6) * 1e-3
    z = rng.normal(size=3) * 0.01 + C @ (-x[:3]) - SENSOR_B
    x_k, P_k = x.copy(), P.copy()
    sig = np.array([0.008, 0.003, 0.003])  # depth along the boresight noisier than lateral
    ok, _ = relnav_update_camera(x_k, P_k, z, C, SENSOR_B, TARGET_L, sig, math.inf, work)
    H = np.hstack([-C, np.zeros((3, 3))])
    R = np.diag(sig ** 2)
    K = P @ H.T @ np.linalg.inv(H @ P @ H.T + R)
    x_ref = x + K @ (z - (C @ (-x[:3]) - SENSOR_B))
    P_ref = (np.eye(6) - K @ H) @ P
    assert ok
    # With the optimal gain the Joseph and short forms agree up to rounding in the 6x6 products.
    np.testing.assert_allclose(x_k, x_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(P_k, P_ref, rtol=1e-8, atol=1e-13)


# ---------------------------------------------------------------- sensor biases and latency (issue #17)

def _Q_white_accel(q, dt):
    return q * np.block([[dt**3 / 3 * np.eye(3), dt**2 / 2 * np.eye(3)], [dt**2 / 2 * np.eye(3), dt * np.eye(3)]])


def test_relnav_predict_with_bias_and_acceleration_states_matches_the_full_transition_in_numpy():
    """21 states: CW on [r, v], the acceleration states acting on [r, v] over the step, Gauss-Markov on the
    biases and the accelerations, the station target's constant error left as it is, cross-covariances through
    all of them."""
    rng = np.random.default_rng(41)
    A = rng.normal(size=(RN_STATES, RN_STATES))
    P = A @ A.T * 1e-2 + np.eye(RN_STATES) * 1e-3
    x = rng.normal(size=RN_STATES)
    dt, q = 0.1, 1e-8
    tau_g, sig_g = np.array([600.0, 500.0, 700.0]), np.array([1.5, 1.4, 1.6])
    tau_l, sig_l = np.full(3, 1000.0), np.array([0.07, 5e-4, 5e-4])
    sig_c = np.array([0.005, 0.004, 0.006])
    tau_a, sig_a = np.array([150.0, 5400.0, 150.0]), np.array([5.7e-6, 7.4e-7, 5.7e-6])
    x_k, P_k, work = x.copy(), P.copy(), _work()
    relnav_predict(x_k, P_k, N, dt, np.zeros(3), q, work)
    relnav_predict_biases(x_k, P_k, RN_GNSS_BIAS, 3, tau_g, sig_g, dt)
    relnav_predict_biases(x_k, P_k, RN_LIDAR_BIAS, 3, tau_l, sig_l, dt)
    relnav_predict_biases(x_k, P_k, RN_GNSS_VBIAS, 3, tau_g, sig_c, dt)
    relnav_predict_accel(x_k, P_k, RN_ACCEL, tau_a, sig_a, dt)
    assert (RN_GNSS_BIAS, RN_GNSS_VBIAS, RN_LIDAR_BIAS, RN_ACCEL, RN_TARGET, RN_STATES) == (
        6, 9, 12, 15, 18, 21)
    C = np.eye(RN_STATES)  # the dynamics on [r, v]
    cw_stm(N, dt, C[:6, :6])
    F = np.eye(RN_STATES)  # the acceleration over the step: r += a dt^2 / 2, v += a dt
    F[0:3, RN_ACCEL:RN_ACCEL + 3] = dt**2 / 2 * np.eye(3)
    F[3:6, RN_ACCEL:RN_ACCEL + 3] = dt * np.eye(3)
    phi = np.exp(-dt / np.concatenate([tau_g, tau_g, tau_l, tau_a]))
    D = np.eye(RN_STATES)  # Gauss-Markov decay; the station target's error (the last 3) is a constant
    D[6:RN_TARGET, 6:RN_TARGET] = np.diag(phi)
    Phi = D @ F @ C
    Q = np.zeros((RN_STATES, RN_STATES))
    Q[:6, :6] = _Q_white_accel(q, dt)
    Q[6:RN_TARGET, 6:RN_TARGET] = np.diag(np.concatenate([sig_g, sig_c, sig_l, sig_a]) ** 2
                                                        * (1.0 - phi**2))
    np.testing.assert_allclose(P_k, Phi @ P @ Phi.T + Q, rtol=1e-11, atol=1e-16)
    np.testing.assert_allclose(x_k, Phi @ x, rtol=1e-12, atol=1e-14)


def test_a_steady_acceleration_state_moves_the_vehicle_as_a_t2_over_2_and_its_variance_as_t4_over_4():
    """Closed forms: with the dynamics' own motion left out (r += v dt by hand, free space) and a correlation
    time far beyond the run, an acceleration a held by the state gives r = a t^2 / 2, v = a t, and an
    uncertain one (sigma_a, nothing else uncertain) gives var r = sigma_a^2 t^4 / 4, var v = sigma_a^2 t^2."""
    x, P = np.zeros(RN_STATES), np.zeros((RN_STATES, RN_STATES))
    a, sig = np.array([2e-6, -7e-7, 5e-6]), np.array([5.7e-6, 7.4e-7, 5.7e-6])
    x[RN_ACCEL:RN_ACCEL + 3] = a
    for i in range(3):
        P[RN_ACCEL + i, RN_ACCEL + i] = sig[i] ** 2
    dt, steps, tau = 0.1, 600, np.full(3, 1e15)
    for _ in range(steps):
        x[:3] += x[3:6] * dt
        P[:] = _free_flight(dt) @ P @ _free_flight(dt).T
        relnav_predict_accel(x, P, RN_ACCEL, tau, sig, dt)
    t = dt * steps
    np.testing.assert_allclose(x[:3], a * t**2 / 2, rtol=1e-12)
    np.testing.assert_allclose(x[3:6], a * t, rtol=1e-12)
    np.testing.assert_allclose(np.diag(P)[:3], sig**2 * t**4 / 4, rtol=1e-9)
    np.testing.assert_allclose(np.diag(P)[3:6], sig**2 * t**2, rtol=1e-9)


def _free_flight(dt):
    Phi = np.eye(RN_STATES)
    Phi[0:3, 3:6] = dt * np.eye(3)
    return Phi


def test_ephemeris_error_states_move_as_a_relative_orbit_with_their_cross_covariances():
    """The station ephemeris' error (GNSS bias and velocity-error states) under the CW transition, the
    vehicle's own states under theirs: the full 21-state transition and process noise built in numpy."""
    rng = np.random.default_rng(45)
    A = rng.normal(size=(RN_STATES, RN_STATES))
    P = A @ A.T * 1e-2 + np.eye(RN_STATES) * 1e-3
    x = rng.normal(size=RN_STATES)
    dt, q, q_eph = 1.0, 1e-8, 5e-9
    x_k, P_k, work = x.copy(), P.copy(), _work()
    relnav_predict(x_k, P_k, N, dt, np.zeros(3), q, work)
    relnav_predict_ephemeris_error(x_k, P_k, RN_GNSS_BIAS, N, dt, q_eph, work)
    Phi = np.eye(RN_STATES)
    cw_stm(N, dt, Phi[:6, :6])
    cw_stm(N, dt, Phi[RN_GNSS_BIAS:RN_GNSS_BIAS + 6, RN_GNSS_BIAS:RN_GNSS_BIAS + 6])
    Q = np.zeros((RN_STATES, RN_STATES))
    Q[:6, :6] = _Q_white_accel(q, dt)
    Q[RN_GNSS_BIAS:RN_GNSS_BIAS + 6, RN_GNSS_BIAS:RN_GNSS_BIAS + 6] = _Q_white_accel(q_eph, dt)
    np.testing.assert_allclose(P_k, Phi @ P @ Phi.T + Q, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(x_k, Phi @ x, rtol=1e-12, atol=1e-14)


def test_gauss_markov_bias_states_hold_their_steady_state_variance_and_restart_uncorrelated():
    x, P = np.zeros(RN_STATES), np.zeros((RN_STATES, RN_STATES))
    sig = np.array([1.5, 2.0, 0.5])
    relnav_reset_biases(x, P, RN_GNSS_BIAS, 3, sig)
    P[0, RN_GNSS_BIAS] = P[RN_GNSS_BIAS, 0] = 0.3  # some correlation learnt from the measurements
    for _ in range(1000):
        relnav_predict_biases(x, P, RN_GNSS_BIAS, 3, np.full(3, 600.0), sig, 0.1)
    np.testing.assert_allclose(np.diag(P)[RN_GNSS_BIAS:RN_GNSS_BIAS + 3], sig**2, rtol=1e-12)
    assert P[0, RN_GNSS_BIAS] == pytest.approx(0.3 * math.exp(-100.0 / 600.0), rel=1e-12)  # decays with phi
    relnav_reset_biases(x, P, RN_GNSS_BIAS, 3, np.array([7.0, 30.0, 7.0]))
    assert P[0, RN_GNSS_BIAS] == 0.0 and P[RN_GNSS_BIAS + 1, RN_GNSS_BIAS + 1] == 900.0


def _numpy_update(x, P, H, R, y):
    S = H @ P @ H.T + R
    K = P @ H.T @ np.linalg.inv(S)
    return x + K @ y, (np.eye(len(x)) - K @ H) @ P


@pytest.mark.parametrize("gain", [1.0, 2.44])
def test_a_late_gnss_sample_is_fused_against_the_state_when_it_was_taken(gain):
    """h = Phi(-lag) [r, v] + g [b, c] + [port, 0]: the textbook update with H = [Phi(-lag), g I (b), g I (c)]."""
    rng = np.random.default_rng(42)
    A = rng.normal(size=(RN_STATES, RN_STATES))
    P = A @ A.T * 1e-2 + np.eye(RN_STATES) * 1e-2
    x = np.concatenate([[10.0, -3000.0, 5.0, 0.1, 0.5, -0.02], rng.normal(size=RN_STATES - 6)])
    port, lag, sig_r, sig_v = np.array([0.0, 14.0, 0.0]), 0.5, 1.0, 0.01
    z = rng.normal(size=6)
    x_k, P_k, work = x.copy(), P.copy(), _work()
    ok, _ = relnav_update_gnss(x_k, P_k, z[:3], z[3:], port, sig_r, sig_v, math.inf, work, lag, N, RN_GNSS_BIAS,
                               gain, RN_GNSS_VBIAS)
    Phi_b = np.empty((6, 6))
    cw_stm(N, -lag, Phi_b)
    H = np.zeros((6, RN_STATES))
    H[:, :6] = Phi_b
    H[:3, RN_GNSS_BIAS:RN_GNSS_BIAS + 3] = gain * np.eye(3)
    H[3:, RN_GNSS_VBIAS:RN_GNSS_VBIAS + 3] = gain * np.eye(3)
    y = z - H @ x - np.concatenate([port, np.zeros(3)])
    x_ref, P_ref = _numpy_update(x, P, H, np.diag([sig_r**2] * 3 + [sig_v**2] * 3), y)
    assert ok
    np.testing.assert_allclose(x_k, x_ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(P_k, P_ref, rtol=1e-7, atol=1e-12)


def test_a_late_lidar_sample_with_bias_states_matches_numpy():
    rng = np.random.default_rng(43)
    C = _tilted_attitude(rng)
    A = rng.normal(size=(RN_STATES, RN_STATES))
    P = A @ A.T * 1e-3 + np.eye(RN_STATES) * 1e-4
    x = np.zeros(RN_STATES)
    x[:6] = [0.5, -80.0, -0.3, 0.01, 0.12, 0.0]
    x[RN_LIDAR_BIAS:RN_LIDAR_BIAS + 3] = [0.05, 2e-4, -1e-4]
    lag = 0.2
    Phi_b = np.empty((6, 6))
    cw_stm(N, -lag, Phi_b)
    xm = Phi_b @ x[:6]
    h, Hm = np.empty(3), np.empty((3, 6))
    lidar_model(xm, C, SENSOR_B, TARGET_L, h, Hm)
    z = h + x[RN_LIDAR_BIAS:RN_LIDAR_BIAS + 3] + np.array([0.02, 3e-4, -2e-4])
    x_k, P_k, work = x.copy(), P.copy(), _work()
    ok, _ = relnav_update_lidar(x_k, P_k, *z, C, SENSOR_B, TARGET_L, 0.03, 5e-4, math.inf, work, lag, N,
                                RN_LIDAR_BIAS)
    H = np.zeros((3, RN_STATES))
    H[:, :6] = Hm @ Phi_b
    H[:, RN_LIDAR_BIAS:RN_LIDAR_BIAS + 3] = np.eye(3)
    y = z - h - x[RN_LIDAR_BIAS:RN_LIDAR_BIAS + 3]
    x_ref, P_ref = _numpy_update(x, P, H, np.diag([0.03**2, 5e-4**2, 5e-4**2]), y)
    assert ok
    np.testing.assert_allclose(x_k, x_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(P_k, P_ref, rtol=1e-7, atol=1e-14)


def _target_case(seed, lag):
    """A filter 8 m out with the target states set: (C_B_LVLH, P, x, b, Phi(-lag)) for the target-state tests."""
    rng = np.random.default_rng(seed)
    C = _tilted_attitude(rng)
    A = rng.normal(size=(RN_STATES, RN_STATES))
    P = A @ A.T * 1e-4 + np.eye(RN_STATES) * 1e-5
    x = np.zeros(RN_STATES)
    x[:6] = [0.05, -8.0, -0.03, 0.001, 0.1, 0.0]
    b = x[RN_TARGET:RN_TARGET + 3] = [0.003, -0.002, 0.004]
    Phi_b = np.empty((6, 6))
    cw_stm(N, -lag, Phi_b)
    return C, P, x, b, Phi_b


def test_a_late_camera_sample_with_the_target_states_matches_numpy():
    """h = C (target + b - r_m) - sensor with r_m the state taken back over the lag and b the target's calibration
    error (states RN_TARGET, LVLH, not taken back): the update against numpy's Kalman update."""
    lag = 0.15
    C, P, x, b, Phi_b = _target_case(44, lag)
    h = C @ (TARGET_L + b - (Phi_b @ x[:6])[:3]) - SENSOR_B
    z = h + np.array([0.004, -0.001, 0.002])
    sig = np.array([0.004, 0.0025, 0.0025])
    x_k, P_k, work = x.copy(), P.copy(), _work()
    ok, _ = relnav_update_camera(x_k, P_k, z, C, SENSOR_B, TARGET_L, sig, math.inf, work, lag, N, RN_TARGET)
    H = np.zeros((3, RN_STATES))
    H[:, :6] = np.hstack([-C, np.zeros((3, 3))]) @ Phi_b
    H[:, RN_TARGET:RN_TARGET + 3] = C
    x_ref, P_ref = _numpy_update(x, P, H, np.diag(sig**2), z - h)
    assert ok
    np.testing.assert_allclose(x_k, x_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(P_k, P_ref, rtol=1e-7, atol=1e-15)


def test_a_late_lidar_sample_with_the_target_states_matches_numpy_and_central_differences():
    """The reflector at target + b (b: states RN_TARGET, LVLH): h = lidar_model at that target, and dh/db = -dh/dr_m
    (central differences in b); the update against numpy's."""
    lag = 0.2
    C, P, x, b, Phi_b = _target_case(45, lag)
    h, Hm, dummy = np.empty(3), np.empty((3, 6)), np.empty((3, 6))
    lidar_model(Phi_b @ x[:6], C, SENSOR_B, TARGET_L + b, h, Hm)
    step, fd = 1e-4, np.zeros((3, 3))
    for j in range(3):
        hp, hm, db = np.empty(3), np.empty(3), np.eye(3)[j] * step
        lidar_model(Phi_b @ x[:6], C, SENSOR_B, TARGET_L + b + db, hp, dummy)
        lidar_model(Phi_b @ x[:6], C, SENSOR_B, TARGET_L + b - db, hm, dummy)
        fd[:, j] = (hp - hm) / (2.0 * step)
    z = h + np.array([0.02, 3e-4, -2e-4])
    x_k, P_k, work = x.copy(), P.copy(), _work()
    ok, _ = relnav_update_lidar(x_k, P_k, *z, C, SENSOR_B, TARGET_L, 0.03, 5e-4, math.inf, work, lag, N, -1,
                                RN_TARGET)
    np.testing.assert_allclose(work[0, :3, RN_TARGET:RN_TARGET + 3], fd, rtol=1e-6, atol=1e-9)
    H = np.zeros((3, RN_STATES))
    H[:, :6] = Hm @ Phi_b
    H[:, RN_TARGET:RN_TARGET + 3] = -Hm[:, :3]
    x_ref, P_ref = _numpy_update(x, P, H, np.diag([0.03**2, 5e-4**2, 5e-4**2]), z - h)
    assert ok
    np.testing.assert_allclose(x_k, x_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(P_k, P_ref, rtol=1e-7, atol=1e-15)


def test_filter_with_late_biased_gnss_is_consistent_on_linear_gaussian_truth():
    """Truth: CW with white acceleration; GNSS of the state one step (0.5 s) earlier, plus a Gauss-Markov
    error (1.5 m, 60 s) and white noise. The filter with the lag and the bias states gives an
    average NEES (position, velocity and GNSS bias: 9 dof) over the runs at the last step inside its 99 %
    chi-square interval (one sample per run: NEES at neighbouring steps are correlated); a filter that
    ignored the correlated error would not (the second assertion)."""
    rng = np.random.default_rng(44)
    runs, steps, dt, q = 200, 200, 0.5, 1e-8
    sig_r, sig_v, sig_b, tau = 1.0, 0.01, np.full(3, 1.5), np.full(3, 60.0)
    port = np.array([0.0, 14.0, 0.0])
    Phi = np.empty((6, 6))
    cw_stm(N, dt, Phi)
    LQ = np.linalg.cholesky(_Q_white_accel(q, dt))
    phi = math.exp(-dt / 60.0)
    nees, nees_white = 0.0, 0.0
    for _ in range(runs):
        x_true = np.array([0.0, -3000.0, 0.0, 0.0, 0.0, 0.0])
        b_true = sig_b * rng.normal(size=3)
        P0 = np.diag([25.0] * 3 + [1e-3] * 3 + list(sig_b**2) + [0.0] * (RN_STATES - 9))
        x = np.zeros(RN_STATES)
        x[:6] = x_true + np.sqrt(np.diag(P0)[:6]) * rng.normal(size=6)
        P, work = P0.copy(), _work()
        xw, Pw = x.copy(), P0.copy()  # the same filter without the bias states (biases held at 0, variance 0)
        Pw[6:9, 6:9] = 0.0
        for _ in range(steps):
            x_prev = x_true
            x_true = Phi @ x_true + LQ @ rng.normal(size=6)
            b_true = phi * b_true + sig_b * math.sqrt(1 - phi**2) * rng.normal(size=3)
            z = x_prev + np.concatenate([port + b_true, np.zeros(3)])
            z += np.concatenate([sig_r * rng.normal(size=3), sig_v * rng.normal(size=3)])
            for xf, Pf, bias in ((x, P, RN_GNSS_BIAS), (xw, Pw, -1)):
                relnav_predict(xf, Pf, N, dt, np.zeros(3), q, work)
                if bias >= 0:
                    relnav_predict_biases(xf, Pf, RN_GNSS_BIAS, 3, tau, sig_b, dt)
                ok, _ = relnav_update_gnss(xf, Pf, z[:3], z[3:], port, sig_r, sig_v, math.inf, work, dt, N, bias)
                assert ok
        e = np.concatenate([x[:6] - x_true, x[6:9] - b_true])
        nees += e @ np.linalg.solve(P[:9, :9], e)
        ew = xw[:6] - x_true
        nees_white += ew @ np.linalg.solve(Pw[:6, :6], ew)
    assert chi2_quantile(-Z_995, 9 * runs) <= nees <= chi2_quantile(Z_995, 9 * runs)
    assert nees_white > chi2_quantile(Z_995, 6 * runs)


# ---------------------------------------------------------------- attitude MEKF

ARW = math.radians(0.01) / 60.0  # 0.01 deg/sqrt(h) in rad/sqrt(s)
RRW = 1e-9  # [rad/s^1.5] bias random walk for the filter
ST_SIGMA = math.radians(10.0 / 3600.0)  # 10 arcsec


def test_mekf_attitude_propagation_matches_rk4_kinematics():
    rng = np.random.default_rng(31)
    q = random_quat(rng)
    w = np.array([0.02, -0.01, 0.03])
    q_k, b, P, work, w_out = q.copy(), np.zeros(3), np.eye(6) * 1e-6, _work(), np.empty(3)
    for _ in range(100):
        mekf_propagate(q_k, b, P, w, 0.1, ARW, RRW, work, w_out)
    q_ref = q.copy()
    for _ in range(1000):
        q_ref = rk4_step(lambda s: 0.5 * qmult(s, np.concatenate([[0.0], w])), q_ref, 0.01)
    # RK4 at 0.01 s with |w| = 0.04 rad/s: local error ~ (|w| h)^5, global ~1e-16.
    np.testing.assert_allclose(q_k * np.sign(q_k[0]), q_ref * np.sign(q_ref[0]), atol=1e-12)


def test_mekf_transition_matrix_predicts_error_growth():
    rng = np.random.default_rng(32)
    w_meas, dt = np.array([0.05, -0.08, 0.02]), 5.0
    q_true, b_true = random_quat(rng), np.array([1e-4, -2e-4, 5e-5])
    dtheta0, dbias = np.array([2e-6, -1e-6, 3e-6]), np.array([1e-7, 2e-7, -1e-7])
    # q_true = q_est (x) dq(dtheta0), b_true = b_est + dbias
    q_est = qmult(q_true, np.concatenate([[1.0], -0.5 * dtheta0]))
    q_est /= np.linalg.norm(q_est)
    b_est = b_true - dbias
    work, w_out = _work(), np.empty(3)
    mekf_propagate(q_true, b_true, np.eye(6), w_meas, dt, 0.0, 0.0, work, w_out)
    mekf_propagate(q_est, b_est, np.eye(6), w_meas, dt, 0.0, 0.0, work, w_out)
    Phi = work[4, :6, :6].copy()
    dq = qmult(np.array([q_est[0], *(-q_est[1:])]), q_true)
    dtheta1 = 2.0 * np.sign(dq[0]) * dq[1:]
    # Second-order terms ~ |dx|^2 ~ 1e-11 relative to first-order 1e-6: linearization holds to 1e-10.
    np.testing.assert_allclose(dtheta1, (Phi @ np.concatenate([dtheta0, dbias]))[:3], atol=1e-10)


def _mekf_bias_run(seed):
    rng = np.random.default_rng(seed)
    dt_gyro, st_every, duration = 0.1, 2, 900.0  # 10 Hz gyro, 5 Hz star tracker
    b_true = np.radians([20.0, -15.0, 10.0]) / 3600.0  # constant 10-20 deg/h bias
    q_true = random_quat(rng)
    q, b = q_true.copy(), np.zeros(3)
    P = np.diag([1e-6] * 3 + [(np.radians(30.0) / 3600.0) ** 2] * 3)
    work, w_out, norms = _work(), np.empty(3), []
    for k in range(int(duration / dt_gyro)):
        t = k * dt_gyro
        w_true = np.array([0.01 * math.sin(0.01 * t), 0.005, -0.008 * math.cos(0.02 * t)])
        w_meas = w_true + b_true + ARW / math.sqrt(dt_gyro) * rng.normal(size=3)
        q_true = qmult(q_true, quat_axis_angle(w_true / np.linalg.norm(w_true), np.linalg.norm(w_true) * dt_gyro))
        mekf_propagate(q, b, P, w_meas, dt_gyro, ARW, RRW, work, w_out)
        if k % st_every == st_every - 1:
            e = rng.normal(size=3) * ST_SIGMA
            q_meas = qmult(q_true, np.concatenate([[1.0], 0.5 * e]))
            q_meas /= np.linalg.norm(q_meas)
            mekf_update_star_tracker(q, b, P, q_meas, ST_SIGMA, CHI2_3_99, work)
        norms.append(np.linalg.norm(q))
    return b, b_true, P, np.array(norms), q, q_true


def test_mekf_estimates_constant_gyro_bias():
    b, b_true, P, _, _, _ = _mekf_bias_run(33)
    sigma_b = np.sqrt(np.diag(P)[3:])
    # Within 3 sigma per axis (99.7 %), and the bias sigma has shrunk far below its 30 deg/h prior.
    assert np.all(np.abs(b - b_true) < 3.0 * sigma_b)
    assert np.all(sigma_b < 0.1 * np.radians(30.0) / 3600.0)


def test_mekf_quaternion_stays_unit():
    _, _, _, norms, _, _ = _mekf_bias_run(34)
    assert np.max(np.abs(norms - 1.0)) < 1e-14


def test_star_tracker_noise_is_larger_about_the_boresight():
    """R = sigma^2 I + (sigma_roll^2 - sigma^2) u u^T: the update is the textbook one with that R."""
    rng = np.random.default_rng(35)
    q = random_quat(rng)
    A = rng.normal(size=(6, 6))
    P = A @ A.T * 1e-9 + np.eye(6) * 1e-10
    u = np.array([0.0, 0.6, -0.8])
    s_c, s_r = math.radians(5.0 / 3600.0), math.radians(40.0 / 3600.0)
    e = np.array([2e-5, -1e-5, 3e-5])
    q_meas = qmult(q, np.concatenate([[1.0], 0.5 * e]))
    q_meas /= np.linalg.norm(q_meas)
    q_k, b_k, P_k, work = q.copy(), np.zeros(3), P.copy(), _work()
    ok, _ = mekf_update_star_tracker(q_k, b_k, P_k, q_meas, s_c, math.inf, work, s_r, u)
    R = s_c**2 * np.eye(3) + (s_r**2 - s_c**2) * np.outer(u, u)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    dq = qmult(np.array([q[0], *(-q[1:])]), q_meas)
    _, P_ref = _numpy_update(np.zeros(6), P, H, R, 2.0 * dq[1:])
    assert ok
    np.testing.assert_allclose(P_k, P_ref, rtol=1e-7, atol=1e-20)


def test_a_late_star_tracker_sample_of_a_turning_body_gives_no_innovation():
    """The sample of the attitude 0.1 s ago, exact: compared with the estimate taken back by the body rate,
    it changes nothing (to second order in the rotation); compared with the current estimate it would
    look like a 0.6 deg/s x 0.1 s = 0.06 deg error."""
    rng = np.random.default_rng(36)
    q_then = random_quat(rng)
    w = np.radians([0.3, -0.4, 0.35])
    lag = 0.1
    q_now = qmult(q_then, quat_axis_angle(w / np.linalg.norm(w), np.linalg.norm(w) * lag))
    P = np.diag([1e-8] * 3 + [1e-12] * 3)
    s = math.radians(5.0 / 3600.0)
    for lag_used, small in ((lag, True), (0.0, False)):
        q_k, b_k, work = q_now.copy(), np.zeros(3), _work()
        mekf_update_star_tracker(q_k, b_k, P.copy(), q_then, s, math.inf, work, s, np.array([0.0, 0.0, 1.0]),
                                 lag_used, w)
        innovation = np.linalg.norm(work[7, 0, :3])
        assert (innovation < 1e-9) if small else (innovation > 0.9 * np.linalg.norm(w) * lag)

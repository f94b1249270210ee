"""Timing of the GNC kernels (fsw.core) with a warm JIT: `pytest tests/bench --benchmark-only --benchmark-enable`."""

import math

import numpy as np
import pytest

from fsw.core import attitude, control, estimation, guidance, relmotion

N = 1.1339e-3
PERIOD_S = 2.0 * math.pi / N
AXIS = np.array([0.0, -1.0, 0.0])
RANGE_BP = np.array([0.0, 19.0, 200.0, 400.0])
SPEED_BP = np.array([0.10, 0.10, 0.20, 0.50])
C_DOCK = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
INERTIA = np.diag([6800.0, 20000.0, 20000.0])
SENSOR_B = np.array([3.0, 0.0, 0.0])


def _timed(benchmark, fn, *args):
    fn(*args)  # compile / load from cache before timing
    benchmark(fn, *args)


def test_bench_cw_propagate(benchmark):
    _timed(benchmark, relmotion.cw_propagate, np.array([1.0, -400.0, 2.0, 0.0, 0.1, 0.0]), N, 0.1, np.empty(6))


def test_bench_cw_two_impulse(benchmark):
    _timed(benchmark, relmotion.cw_two_impulse, np.array([0.0, -5000.0, 0.0]), np.zeros(3),
           np.array([0.0, -400.0, 0.0]), np.zeros(3), N, 0.45 * PERIOD_S, 1e-6, np.empty(3), np.empty(3))


def test_bench_glideslope_plan_8_pulses(benchmark):
    _timed(benchmark, guidance.glideslope_plan, np.array([0.0, -400.0, 0.0]), np.zeros(3),
           np.array([0.0, -200.0, 0.0]), np.zeros(3), -0.5, -0.2, N, np.empty(9), np.empty((9, 3)),
           np.empty((9, 3)))


def test_bench_closing_law(benchmark):
    _timed(benchmark, guidance.closing_law, np.array([1.0, -150.0, 2.0]), np.array([0.0, 0.15, 0.0]), AXIS,
           RANGE_BP, SPEED_BP, N, 0.2, 0.05, 0.05, 0.1, np.empty(3), np.empty(3))


def test_bench_hold_point_accel(benchmark):
    _timed(benchmark, guidance.hold_point_accel, np.array([1.0, -398.0, 0.5]), np.array([0.0, 0.01, 0.0]),
           np.array([0.0, -400.0, 0.0]), N, 4e-4, 0.04, 0.1, np.empty(3))


def test_bench_go_no_go(benchmark):
    _timed(benchmark, guidance.go_no_go, np.array([1.0, -398.0, 0.5]), np.array([0.0, 0.01, 0.0]),
           np.array([0.0, -400.0, 0.0]), np.full(3, 2.0), np.full(3, 0.02), True)


def test_bench_approach_monitor(benchmark):
    _timed(benchmark, guidance.approach_monitor, np.array([1.0, -150.0, 2.0]), np.array([0.0, 0.15, 0.0]), AXIS,
           RANGE_BP, SPEED_BP, np.empty(7))


def test_bench_cam_select_4x3_candidates_2_orbits(benchmark):
    s = math.sqrt(0.5)
    _timed(benchmark, guidance.cam_select, np.array([0.0, -100.0, 0.0, 0.0, 0.2, 0.0]), N,
           np.array([0.5, 1.0, 1.5, 2.0]), np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [s, s, 0.0]]), 200.0, 50.0,
           2.0 * PERIOD_S, 4000, np.empty(6), np.empty(6), np.empty(3), np.empty(3))


@pytest.fixture
def relnav():
    """The flight filter's size (estimation.RN_STATES): position, velocity, GNSS position and velocity errors,
    laser radar bias, the acceleration left out, the target's calibration error."""
    x = np.zeros(estimation.RN_STATES)
    x[:6] = [0.5, -80.0, -0.3, 0.0, 0.1, 0.0]
    P = np.diag([1.0, 1.0, 1.0, 1e-4, 1e-4, 1e-4, 2.25, 2.25, 2.25, 2.5e-5, 2.5e-5, 2.5e-5, 0.0049, 2.7e-7, 2.7e-7,
                 1.6e-11, 4.5e-13, 1.6e-11, 9e-6, 9e-6, 9e-6])
    assert P.shape[0] == estimation.RN_STATES
    return x, P, np.zeros(estimation.WORK_SHAPE)


def test_bench_relnav_predict(benchmark, relnav):
    x, P, work = relnav
    _timed(benchmark, estimation.relnav_predict, x, P, N, 0.1, np.zeros(3), 1e-8, work)


def test_bench_relnav_update_gnss(benchmark, relnav):
    x, P, work = relnav
    _timed(benchmark, estimation.relnav_update_gnss, x, P, x[:3].copy(), x[3:6].copy(), np.zeros(3), 1.0, 0.01,
           math.inf, work, 0.5, N, estimation.RN_GNSS_BIAS)


def test_bench_relnav_update_lidar(benchmark, relnav):
    x, P, work = relnav
    h, H = np.empty(3), np.empty((3, 6))
    estimation.lidar_model(x, C_DOCK, SENSOR_B, np.zeros(3), h, H)
    _timed(benchmark, estimation.relnav_update_lidar, x, P, h[0], h[1], h[2], C_DOCK, SENSOR_B, np.zeros(3),
           0.03, math.radians(0.05), math.inf, work, 0.2, N, estimation.RN_LIDAR_BIAS, estimation.RN_TARGET)


def test_bench_relnav_update_camera(benchmark, relnav):
    x, P, work = relnav
    los = np.empty(3)
    estimation.port_los_B(x, C_DOCK, SENSOR_B, np.zeros(3), los)
    _timed(benchmark, estimation.relnav_update_camera, x, P, los, C_DOCK, SENSOR_B, np.zeros(3),
           np.array([0.005, 0.02, 0.02]), math.inf, work, 0.15, N, estimation.RN_TARGET)


@pytest.fixture
def mekf():
    q = np.array([1.0, 0.0, 0.0, 0.0])
    return q, np.zeros(3), np.eye(6) * 1e-6, np.zeros(estimation.WORK_SHAPE)


def test_bench_mekf_propagate(benchmark, mekf):
    q, b, P, work = mekf
    _timed(benchmark, estimation.mekf_propagate, q, b, P, np.array([1e-3, -2e-3, 5e-4]), 0.1, 4.8e-6, 1e-9,
           work, np.empty(3))


def test_bench_mekf_update_star_tracker(benchmark, mekf):
    q, b, P, work = mekf
    _timed(benchmark, estimation.mekf_update_star_tracker, q, b, P, q.copy(), 2.4e-5, math.inf, work, 1.9e-4,
           np.array([0.0, 0.0, -1.0]), 0.1, np.array([1e-3, -1e-3, 0.0]))


def test_bench_quat_feedback_torque(benchmark):
    q_BN = np.array([0.99, 0.1, -0.05, 0.02])
    q_BN /= np.linalg.norm(q_BN)
    _timed(benchmark, attitude.quat_feedback_torque, q_BN, np.array([0.001, -0.002, 0.0]),
           np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, -N, 0.0]), INERTIA, np.full(3, 400.0),
           np.full(3, 2800.0), np.full(3, 100.0), np.empty(6), np.empty(3))


def test_bench_lvlh_target_attitude(benchmark):
    C_LN, w = np.empty((3, 3)), np.empty(3)
    attitude.lvlh_dcm(np.array([6.768e6, 0.0, 0.0]), np.array([0.0, 5.8e3, 5.1e3]), C_LN, w)
    _timed(benchmark, attitude.lvlh_target_attitude, C_LN, w, C_DOCK, np.empty((3, 3)), np.empty(4), np.empty(3))


def test_bench_thruster_on_times(benchmark):
    group = np.repeat(np.arange(12), [2, 2, 2, 2, 2, 2, 4, 4, 2, 2, 2, 2]).astype(np.int64)
    authority = np.array([300.0] * 6 + [165.0, 165.0, 137.5, 137.5, 137.5, 137.5])
    _timed(benchmark, control.thruster_on_times, np.array([120.0, -80.0, 35.0]), np.array([40.0, -25.0, 60.0]),
           0.1, authority, np.full(12, 0.01), group, np.zeros(6), np.empty(12), np.empty(group.shape[0]))

"""The engine-burn attitude kernels (fsw/core/engines.py) against closed forms and an independent LP solver."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from fsw.core.engines import engine_duty, engine_torque_observer

ARM_N_M = 245.0  # yaw torque of one 490 N engine 0.5 m off the axis (fsw/config/vehicle.toml)


def _duty(T, limit):
    h = np.zeros(2)
    engine_duty(np.asarray(T, float), np.asarray(limit, float), h)
    return h


def test_a_thrust_line_through_the_centre_of_mass_fires_both_engines_fully():
    T = [[0.0, 0.0, -ARM_N_M], [0.0, 0.0, ARM_N_M]]
    np.testing.assert_array_equal(_duty(T, [80.0, 68.75, 68.75]), [1.0, 1.0])


@pytest.mark.parametrize("d", [-300.0, -150.0, 100.0, 200.0, 400.0])
def test_a_yaw_torque_beyond_the_limit_off_pulses_the_engine_that_makes_it(d):
    """Unknown yaw torque d at full duty, half on each engine: the engine whose torque has d's sign is cut back
    until the pair's yaw is the limit, the other fires fully (closed form)."""
    L = 68.75
    a = np.array([-ARM_N_M + d / 2, ARM_N_M + d / 2])
    T = [[0.0, 0.0, a[0]], [0.0, 0.0, a[1]]]
    h = _duty(T, [80.0, L, L])
    big = 1 if d > 0 else 0
    expected = np.ones(2)
    expected[big] = (np.sign(d) * L - a[1 - big]) / a[big]
    np.testing.assert_allclose(h, expected, rtol=1e-12)
    assert abs(h @ a) == pytest.approx(L, rel=1e-12)


@pytest.mark.parametrize("p", [50.0, 137.5, 400.0])
def test_a_pitch_torque_the_engines_cannot_turn_lowers_both_alike(p):
    T = [[0.0, p / 2, 0.0], [0.0, p / 2, 0.0]]
    h = _duty(T, [80.0, 68.75, 68.75])
    np.testing.assert_allclose(h, [min(1.0, 68.75 / p)] * 2, rtol=1e-12)


def test_duty_agrees_with_an_independent_lp_solver_on_random_torques():
    rng = np.random.default_rng(20261206)
    for _ in range(300):
        T = rng.normal(0.0, 150.0, (2, 3))
        limit = rng.uniform(5.0, 150.0, 3)
        h = _duty(T, limit)
        A = np.vstack([T.T, -T.T])
        ref = linprog(-np.ones(2), A_ub=A, b_ub=np.concatenate([limit, limit]), bounds=[(0, 1), (0, 1)],
                      method="highs")
        assert ref.status == 0
        assert h.sum() == pytest.approx(-ref.fun, abs=1e-9)
        assert np.all(np.abs(T.T @ h) <= limit * (1 + 1e-9) + 1e-9) and np.all((h >= 0) & (h <= 1))


def test_observer_converges_geometrically_to_the_unpredicted_torque():
    """A body whose rate changes by exactly what the thrusters, the predicted engine torque and an unknown one
    give (gyroscopic term included): the estimate after n steps is d (1 - (1 - gain)^n)."""
    inertia = np.diag([6800.0, 20000.0, 20000.0])
    T_nom = np.array([[0.0, 0.0, -ARM_N_M], [0.0, 0.0, ARM_N_M]])
    d_true = np.array([3.0, -60.0, 95.0])
    duty = np.array([1.0, 0.6])
    dt, gain = 0.1, 0.05
    d = np.zeros(3)
    w = np.array([1e-3, -2e-3, 5e-4])
    for n in range(1, 61):
        thr = np.array([-2.0, 40.0, -70.0])
        torque = thr + duty @ T_nom + duty.mean() * d_true
        alpha = np.linalg.solve(inertia, torque - np.cross(w, inertia @ w))
        w_new = w + alpha * dt
        # the kernel takes the gyroscopic term at the new rate; give it the rate change that matches that
        alpha = np.linalg.solve(inertia, torque - np.cross(w_new, inertia @ w_new))
        w_new = w + alpha * dt
        assert engine_torque_observer(w_new, w, inertia, thr, T_nom, duty, dt, gain, 0.3, d)
        w = w_new
        np.testing.assert_allclose(d, d_true * (1 - (1 - gain) ** n), rtol=1e-6, atol=1e-6)


def test_observer_skips_steps_with_too_little_engine_duty():
    d = np.array([1.0, 2.0, 3.0])
    ok = engine_torque_observer(np.ones(3), np.zeros(3), np.eye(3), np.zeros(3), np.zeros((2, 3)),
                                np.array([0.2, 0.2]), 0.1, 0.5, 0.3, d)
    assert not ok
    np.testing.assert_array_equal(d, [1.0, 2.0, 3.0])

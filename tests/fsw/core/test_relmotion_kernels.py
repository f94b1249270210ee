import math

import numpy as np
from fsw_core_refs import N_RAD_S, cw_rk4

from fsw.core.relmotion import (
    TWO_IMPULSE_IN_PLANE_SINGULAR,
    TWO_IMPULSE_OK,
    TWO_IMPULSE_OUT_OF_PLANE_SINGULAR,
    cw_gravity_accel,
    cw_propagate,
    cw_stm,
    cw_two_impulse,
)

N = N_RAD_S
PERIOD_S = 2.0 * math.pi / N
MIN_DET = 1e-6


def _propagate(x0, dt):
    out = np.empty(6)
    cw_propagate(np.asarray(x0, dtype=float), N, dt, out)
    return out


def _stm(dt):
    Phi = np.empty((6, 6))
    cw_stm(N, dt, Phi)
    return Phi


def test_radial_impulse_hops_4dv_over_n_along_track_after_half_orbit():
    dv = 0.1
    x = _propagate([0, 0, 0, dv, 0, 0], PERIOD_S / 2.0)
    # Closed form y(T/2) = 2(c-1)/n dv = -4 dv/n exactly; only trig rounding remains.
    assert abs(x[1] + 4.0 * dv / N) < 1e-9
    assert abs(abs(x[1]) - 353.0) < 0.5  # docs/reference.md quotes 353 m (rounded)
    assert abs(x[0]) < 1e-9  # back on V-bar


def test_tangential_impulse_drifts_6pi_dv_over_n_per_orbit():
    dv = 0.1
    x = _propagate([0, 0, 0, 0, dv, 0], PERIOD_S)
    assert abs(x[1] + 6.0 * math.pi * dv / N) < 1e-9
    assert abs(abs(x[1]) - 1660.0) < 5.0  # docs/reference.md quotes 1.66 km (rounded)


def test_stm_composes_over_consecutive_intervals():
    t1, t2 = 700.0, 1900.0
    lhs = _stm(t1 + t2)
    rhs = _stm(t2) @ _stm(t1)
    # Entries reach ~6 n t / n ~ 1e4 s; double rounding of the product leaves ~1e-12 relative.
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-9)


def test_stm_matches_rk4_integration_of_cw_ode():
    x0 = np.array([30.0, -400.0, 12.0, 0.05, -0.02, 0.01])
    t = 3000.0
    ref = cw_rk4(x0, N, t, h=5.0)
    # RK4 global error ~ (n h)^4 n t |x| ~ 1e-12 |x|: far below the 1e-8 relative tolerance.
    np.testing.assert_allclose(_stm(t) @ x0, ref, rtol=1e-8, atol=1e-8)


def test_propagate_equals_stm_times_state():
    x0 = np.array([-5.0, 200.0, 3.0, 0.01, 0.2, -0.03])
    np.testing.assert_allclose(_propagate(x0, 1234.0), _stm(1234.0) @ x0, rtol=1e-13, atol=1e-12)


def test_propagate_backwards_inverts_forwards():
    x0 = np.array([-5.0, 200.0, 3.0, 0.01, 0.2, -0.03])
    np.testing.assert_allclose(_propagate(_propagate(x0, 800.0), -800.0), x0, rtol=1e-12, atol=1e-10)


def test_gravity_accel_matches_cw_ode():
    x = np.array([10.0, -400.0, 5.0, 0.02, -0.1, 0.03])
    a = np.empty(3)
    cw_gravity_accel(x, N, a)
    expected = np.array([3 * N * N * x[0] + 2 * N * x[4], -2 * N * x[3], -N * N * x[2]])
    np.testing.assert_allclose(a, expected, rtol=1e-15)


def test_two_impulse_transfer_reaches_target_state():
    r0, v0 = np.array([0.0, -5000.0, 0.0]), np.array([0.0, 0.0, 0.0])
    rf, vf = np.array([0.0, -400.0, 0.0]), np.array([0.0, 0.0, 0.0])
    tof = 0.45 * PERIOD_S
    dv1, dv2 = np.empty(3), np.empty(3)
    assert cw_two_impulse(r0, v0, rf, vf, N, tof, MIN_DET, dv1, dv2) == TWO_IMPULSE_OK
    x_end = cw_rk4(np.concatenate([r0, v0 + dv1]), N, tof, h=2.0)  # independent integration
    # RK4 over ~1250 steps: error << 1 mm at km scale.
    np.testing.assert_allclose(x_end[:3], rf, atol=1e-3)
    np.testing.assert_allclose(x_end[3:] + dv2, vf, atol=1e-6)


def test_two_impulse_flags_full_orbit_as_in_plane_singular():
    dv1, dv2 = np.empty(3), np.empty(3)
    status = cw_two_impulse(np.array([0.0, -5000.0, 0.0]), np.zeros(3), np.array([0.0, -400.0, 0.0]),
                            np.zeros(3), N, PERIOD_S, MIN_DET, dv1, dv2)
    assert status & TWO_IMPULSE_IN_PLANE_SINGULAR


def test_two_impulse_flags_half_orbit_as_out_of_plane_singular():
    dv1, dv2 = np.empty(3), np.empty(3)
    status = cw_two_impulse(np.array([0.0, -5000.0, 10.0]), np.zeros(3), np.array([0.0, -400.0, 0.0]),
                            np.zeros(3), N, PERIOD_S / 2.0, MIN_DET, dv1, dv2)
    assert status == TWO_IMPULSE_OUT_OF_PLANE_SINGULAR
    assert dv1[2] == 0.0

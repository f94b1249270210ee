import math

import numpy as np
import pytest
from fsw_core_refs import N_RAD_S, cw_deriv, cw_rk4, cw_rk4_track, rk4_step

from fsw.core.guidance import (
    NOGO_NAV_INVALID,
    NOGO_POSITION,
    NOGO_VELOCITY,
    approach_monitor,
    cam_select,
    closing_law,
    glideslope_plan,
    go_no_go,
    hold_point_accel,
    speed_profile,
)

N = N_RAD_S
PERIOD_S = 2.0 * math.pi / N
AXIS = np.array([0.0, -1.0, 0.0])  # aft port on -V-bar: docking axis points backwards along V-bar
# docs/reference.md speed profile: <= 0.5 m/s at 400 m, 0.2 at 200 m, 0.1 at 19 m, 0.10 at contact.
RANGE_BP = np.array([0.0, 19.0, 200.0, 400.0])
SPEED_BP = np.array([0.10, 0.10, 0.20, 0.50])
KOS_M = 200.0


# ---------------------------------------------------------------- glideslope

def _plan(n_pulses, r0, rT, rd0=-1.0, rdT=-0.1):
    t, rw, dv = np.empty(n_pulses + 1), np.empty((n_pulses + 1, 3)), np.empty((n_pulses + 1, 3))
    T = glideslope_plan(np.asarray(r0, float), np.zeros(3), np.asarray(rT, float), np.zeros(3), rd0, rdT, N,
                        t, rw, dv)
    return T, t, rw, dv


def test_glideslope_waypoints_follow_range_rate_law_integrated_numerically():
    r0, rT = np.array([100.0, -1000.0, 20.0]), np.array([0.0, -400.0, 0.0])
    rd0, rdT = -1.0, -0.1
    T, t, rw, _ = _plan(8, r0, rT, rd0, rdT)
    rho0 = np.linalg.norm(r0 - rT)
    a = (rd0 - rdT) / rho0
    # Independent: integrate rho' = a rho + rdT with RK4 from rho0 and sample at the pulse times.
    rho_num, rho, h = [rho0], rho0, T / 8000
    for k in range(8000):
        rho = rk4_step(lambda r: a * r + rdT, rho, h)
        if (k + 1) % 1000 == 0:
            rho_num.append(rho)
    rho_kernel = np.linalg.norm(rw - rT, axis=1)
    # RK4 on a linear ODE with a h ~ 1e-4: relative error ~ 1e-18; 1e-9 m covers rounding.
    np.testing.assert_allclose(rho_kernel, rho_num, atol=1e-8)
    np.testing.assert_allclose(t, np.linspace(0.0, T, 9), rtol=1e-14)
    # Waypoints lie on the straight line from rT towards r0.
    u = (r0 - rT) / rho0
    np.testing.assert_allclose(np.cross(rw - rT, u), 0.0, atol=1e-9)


def test_glideslope_pulses_fly_through_every_waypoint():
    r0, rT, vT = np.array([0.0, -1000.0, 10.0]), np.array([0.0, -400.0, 0.0]), np.zeros(3)
    T, t, rw, dv = _plan(6, r0, rT)
    x = np.concatenate([r0, np.zeros(3)])
    for m in range(6):
        x[3:] += dv[m]
        x = cw_rk4(x, N, t[m + 1] - t[m], h=1.0)
        # Independent RK4 at 1 s steps: position error << 1 mm.
        np.testing.assert_allclose(x[:3], rw[m + 1], atol=1e-4)
    np.testing.assert_allclose(x[3:] + dv[6], vT, atol=1e-7)


def test_glideslope_rejects_range_rate_that_speeds_up():
    T, _, _, _ = _plan(4, [0.0, -1000.0, 0.0], [0.0, -400.0, 0.0], rd0=-0.1, rdT=-1.0)
    assert T == -1.0


# ---------------------------------------------------------------- closing law

def _closing(r, v, k_v=0.2, k_lat=0.05, v_lat_max=0.05, a_max=0.1):
    v_cmd, a_cmd = np.empty(3), np.empty(3)
    d = closing_law(np.asarray(r, float), np.asarray(v, float), AXIS, RANGE_BP, SPEED_BP, N, k_v, k_lat,
                    v_lat_max, a_max, v_cmd, a_cmd)
    return d, v_cmd, a_cmd


def test_speed_profile_interpolates_reference_table():
    assert speed_profile(300.0, RANGE_BP, SPEED_BP) == pytest.approx(0.35, abs=1e-15)
    assert speed_profile(10.0, RANGE_BP, SPEED_BP) == pytest.approx(0.10, abs=1e-15)
    assert speed_profile(5000.0, RANGE_BP, SPEED_BP) == 0.5
    assert speed_profile(-1.0, RANGE_BP, SPEED_BP) == 0.1


def test_closing_law_commands_profile_speed_down_the_axis():
    d, v_cmd, _ = _closing([0.0, -300.0, 0.0], [0.0, 0.35, 0.0])
    assert d == 300.0
    np.testing.assert_allclose(v_cmd, [0.0, 0.35, 0.0], atol=1e-15)


def test_closing_law_limits_lateral_speed_command():
    _, v_cmd, _ = _closing([30.0, -100.0, -40.0], [0.0, 0.0, 0.0], k_lat=0.05, v_lat_max=0.05)
    lateral = v_cmd - (v_cmd @ AXIS) * AXIS
    np.testing.assert_allclose(np.linalg.norm(lateral), 0.05, rtol=1e-14)
    np.testing.assert_allclose(lateral / 0.05, -np.array([30.0, 0.0, -40.0]) / 50.0, atol=1e-14)


def test_closing_law_limits_acceleration_norm():
    _, _, a_cmd = _closing([0.0, -100.0, 0.0], [0.0, -3.0, 0.0], a_max=0.02)
    np.testing.assert_allclose(np.linalg.norm(a_cmd), 0.02, rtol=1e-14)


def test_closing_law_arrives_at_contact_speed_on_axis():
    """CW truth (RK4, ZOH accel at 10 Hz) from 400 m with 3 m lateral and 1 m radial offset."""
    x = np.array([1.0, -400.0, 3.0, 0.0, 0.0, 0.0])
    dt = 0.1
    for _ in range(200000):
        d, _, a_cmd = _closing(x[:3], x[3:])
        if d <= 0.0:
            break
        a = a_cmd.copy()
        x = rk4_step(lambda s, a=a: cw_deriv(s, N, a), x, dt)
    closing = -(x[3:] @ AXIS)
    lateral = np.linalg.norm(x[:3] - (x[:3] @ AXIS) * AXIS)
    # Lateral loop time constant 1/(k_v k_lat)^0.5 ~ 10 s vs ~1 h of approach: the offset is gone,
    # and the 19 m -> 0 profile is flat, so the velocity loop has no lag at contact.
    assert abs(closing - 0.10) < 1e-3
    assert lateral < 1e-3
    assert np.linalg.norm(x[3:] + 0.10 * AXIS) < 1e-3


# ---------------------------------------------------------------- station keeping, go/no-go, monitor

def _hold(r, v, r_hold, kp=4e-4, kd=0.04, a_max=1.0):
    a = np.empty(3)
    err = hold_point_accel(np.asarray(r, float), np.asarray(v, float), np.asarray(r_hold, float), N, kp, kd,
                           a_max, a)
    return err, a


def test_hold_point_at_rest_commands_exact_cw_cancellation():
    r = np.array([10.0, -400.0, 5.0])
    err, a = _hold(r, np.zeros(3), r)
    assert err == 0.0
    np.testing.assert_allclose(a, [-3.0 * N * N * 10.0, 0.0, N * N * 5.0], rtol=1e-14)


def test_hold_point_closed_loop_converges_to_hold():
    r_hold = np.array([0.0, -200.0, 0.0])
    x = np.array([4.0, -195.0, -2.0, 0.01, -0.02, 0.0])
    dt = 0.1
    for _ in range(6000):
        _, a = _hold(x[:3], x[3:], r_hold)
        x = rk4_step(lambda s, a=a: cw_deriv(s, N, a), x, dt)
    # w_n = 0.02 rad/s, zeta = 1: after 600 s (12 time constants, e^-12 (1+12) ~ 8e-5) of a 7 m error.
    assert np.linalg.norm(x[:3] - r_hold) < 1e-3
    assert np.linalg.norm(x[3:]) < 1e-4


def test_hold_point_accel_is_limited():
    _, a = _hold([50.0, -400.0, 0.0], [0.0, 0.0, 0.0], [0.0, -400.0, 0.0], a_max=0.01)
    np.testing.assert_allclose(np.linalg.norm(a), 0.01, rtol=1e-14)


POS_TOL = np.array([2.0, 5.0, 2.0])
VEL_TOL = np.array([0.02, 0.02, 0.02])
HOLD = np.array([0.0, -400.0, 0.0])


def test_go_when_nav_valid_and_errors_within_limits():
    assert go_no_go(HOLD + [1.0, -4.0, 1.5], np.array([0.01, -0.01, 0.0]), HOLD, POS_TOL, VEL_TOL, True) == 0


def test_nogo_flags_invalid_navigation():
    assert go_no_go(HOLD, np.zeros(3), HOLD, POS_TOL, VEL_TOL, False) == NOGO_NAV_INVALID


def test_nogo_flags_position_error_on_one_axis():
    assert go_no_go(HOLD + [0.0, 0.0, 2.5], np.zeros(3), HOLD, POS_TOL, VEL_TOL, True) == NOGO_POSITION


def test_nogo_flags_velocity_error_on_one_axis():
    assert go_no_go(HOLD, np.array([0.0, 0.03, 0.0]), HOLD, POS_TOL, VEL_TOL, True) == NOGO_VELOCITY


def test_approach_monitor_geometry_matches_numpy():
    r, v = np.array([3.0, -40.0, -4.0]), np.array([0.01, 0.15, 0.0])
    out = np.empty(7)
    approach_monitor(r, v, AXIS, RANGE_BP, SPEED_BP, out)
    rng = np.linalg.norm(r)
    lateral = np.linalg.norm(r - (r @ AXIS) * AXIS)
    expected = [rng, r @ v / rng, 40.0, lateral, math.atan(lateral / 40.0), 0.15,
                0.1 + (40.0 - 19.0) / 181.0 * 0.1]
    np.testing.assert_allclose(out, expected, rtol=1e-14)


# ---------------------------------------------------------------- collision avoidance

CAM_MAGS = np.array([0.5, 1.0, 1.5, 2.0])
CAM_DIRS = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [math.sqrt(0.5), math.sqrt(0.5), 0.0]])
MIN_CLEAR_M = 50.0
HORIZON_S = 2.0 * PERIOD_S
# Closing at 0.2 m/s from 100 m behind the port (inside the KOS), as at an ABORT on final approach.
ABORT_STATE = np.array([0.0, -100.0, 0.0, 0.0, 0.2, 0.0])


def _dense_ranges(x0, dv):
    x = np.array(x0, float)
    x[3:] += dv
    return np.linalg.norm(cw_rk4_track(x, N, HORIZON_S, h=2.0)[:, :3], axis=1)


def _safe_by_dense_reference(x0, dv):
    ranges = _dense_ranges(x0, dv)
    outside = np.nonzero(ranges >= KOS_M)[0]
    if outside.size == 0:
        return False
    first = outside[0]
    return ranges[:first].min(initial=np.inf) >= MIN_CLEAR_M and ranges[first:].min() >= KOS_M


def _cam(x):
    dv, report = np.empty(3), np.empty(3)
    k = cam_select(x, N, CAM_MAGS, CAM_DIRS, KOS_M, MIN_CLEAR_M, HORIZON_S, 4000, np.empty(6), np.empty(6), dv,
                   report)
    return k, dv, report


def test_posigrade_only_burn_from_closing_abort_state_is_unsafe():
    for mag in CAM_MAGS:
        assert not _safe_by_dense_reference(ABORT_STATE, mag * CAM_DIRS[0])


def test_cam_burn_is_safe_by_independent_dense_propagation():
    k, dv, report = _cam(ABORT_STATE)
    assert k >= 0
    assert 0.5 <= np.linalg.norm(dv) <= 2.0
    assert _safe_by_dense_reference(ABORT_STATE, dv)
    assert report[0] >= KOS_M


def test_cam_picks_first_safe_candidate_smallest_magnitude_first():
    k, dv, _ = _cam(ABORT_STATE)
    for i in range(k):
        cand = CAM_MAGS[i // 3] * CAM_DIRS[i % 3]
        assert not _safe_by_dense_reference(ABORT_STATE, cand)


def test_cam_from_hold_rejects_radial_only_which_returns_after_one_orbit():
    hold = np.array([0.0, -150.0, 0.0, 0.0, 0.0, 0.0])
    assert not _safe_by_dense_reference(hold, 0.5 * CAM_DIRS[1])
    k, dv, _ = _cam(hold)
    assert k >= 0 and k % 3 != 1
    assert _safe_by_dense_reference(hold, dv)


def test_cam_reports_no_safe_candidate_when_all_fail():
    x = np.array([0.0, -100.0, 0.0, 0.0, 0.2, 0.0])
    dv, report = np.empty(3), np.empty(3)
    k = cam_select(x, N, np.array([0.5]), CAM_DIRS[:1], KOS_M, MIN_CLEAR_M, HORIZON_S, 4000, np.empty(6),
                   np.empty(6), dv, report)
    assert k == -1
    np.testing.assert_allclose(dv, [0.0, 0.5, 0.0])

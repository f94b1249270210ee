"""The one-call-per-step kernels the apps use agree with the separate kernels and with numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fsw.config_loader import load_vehicle
from fsw.core.attitude import quat_from_dcm, quat_to_dcm
from fsw.core.control import (
    N_GROUPS,
    group_authority,
    thruster_control_step,
    thruster_group_wrench,
    thruster_torque_check,
)
from fsw.core.estimation import RN_ACCEL, RN_LIDAR_BIAS, RN_STATES, WORK_SHAPE, relnav_predict, relnav_update_lidar
from fsw.core.navigation import (
    RELNAV_FILTER,
    RELNAV_PARAMS,
    SENSOR_CAMERA,
    SENSOR_GNSS,
    SENSOR_LIDAR,
    attitude_at,
    relnav_step,
)
from fsw.messages import new_message
from hal.devices import new_record

N = 1.1339e-3


def rotation(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return np.r_[np.cos(angle / 2), np.sin(angle / 2) * axis]


@pytest.fixture
def vehicle():
    return load_vehicle()


def authority(vehicle):
    wrench = np.zeros((N_GROUPS, 6))
    thruster_group_wrench(vehicle.pos_B_m, vehicle.dir_B, vehicle.thrust_N, vehicle.group_idx, np.zeros(3), wrench)
    auth, cross = np.zeros(N_GROUPS), np.zeros(N_GROUPS)
    group_authority(wrench, auth, cross)
    return auth


def test_relnav_step_equals_predict_then_lidar_update():
    rng = np.random.default_rng(3)
    x0 = np.zeros(RN_STATES)
    x0[:6] = [1.0, -250.0, 0.5, 0.0, 0.2, 0.0]
    x0[RN_LIDAR_BIAS:RN_LIDAR_BIAS + 3] = [0.05, 1e-4, -2e-4]
    P0 = np.zeros((RN_STATES, RN_STATES))  # no GNSS error states in play: their variance 0
    P0[:6, :6] = np.diag([4.0, 9.0, 4.0, 1e-3, 1e-3, 1e-3])
    P0[RN_LIDAR_BIAS:RN_LIDAR_BIAS + 3, RN_LIDAR_BIAS:RN_LIDAR_BIAS + 3] = np.diag([0.07 ** 2, 5e-4 ** 2, 5e-4 ** 2])
    q = rotation(rng.normal(size=3), 0.3)
    C_LN = quat_to_dcm_np(rotation(rng.normal(size=3), 1.0))
    att, orbit, thr = new_message("ATT_STATE"), new_message("ORBIT_REF"), new_message("THRUSTER_PERIOD")
    att["q_BN"], att["valid"] = q, 1
    orbit["C_LVLH_N"], orbit["n_rad_s"] = C_LN, N
    gnss, lidar, cam, out = (new_record("DEV_GNSS_REL"), new_record("DEV_LIDAR"), new_record("DEV_CAMERA"),
                             new_message("NAV_STATE"))
    lidar["range_m"], lidar["az_rad"], lidar["el_rad"], lidar["valid"], lidar["seq"] = 251.0, 0.01, -0.02, 1, 1
    prm = np.zeros(1, RELNAV_PARAMS)
    p = prm[0]
    p["q_accel_m2_s3"], p["gate_chi2_3dof"] = 1e-8, 1e6
    p["lidar_sigma_range_m"], p["lidar_sigma_range_frac"], p["lidar_sigma_angle_rad"] = 0.02, 1e-3, 8.7e-4
    p["lidar_sigma_angle_near_rad"], p["lidar_angle_near_range_m"] = 1.9e-3, 15.0
    p["lidar_bias_sigma"], p["lidar_bias_tau_s"] = [0.07, 5e-4, 5e-4], [1000.0] * 3
    p["gnss_band_m"], p["lidar_band_m"], p["camera_band_m"] = [200.0, 1e6], [0.0, 5000.0], [0.0, 150.0]
    p["sensor_B_m"] = [3.0, 0.0, 0.0]
    x0_rec = np.zeros(1, RELNAV_FILTER)
    x0_rec[0]["x"], x0_rec[0]["P"] = x0, P0
    flt, work = x0_rec.copy(), np.zeros(WORK_SHAPE)
    eng, gabs = new_message("ENGINE_PERIOD"), new_record("DEV_GNSS_ABS")
    result = relnav_step(prm, flt, work, *(r.reshape(1) for r in (att, orbit, thr, eng, gnss, gabs, lidar, cam, out)),
                         0.1)
    x, P, C = flt[0]["x"], flt[0]["P"], flt[0]["C_B_LVLH"]
    geo = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert result == SENSOR_LIDAR
    # the same with the separate kernels
    x2, P2, work2 = x0.copy(), P0.copy(), np.zeros(WORK_SHAPE)
    C_B_LVLH = quat_to_dcm_np(q) @ C_LN.T
    relnav_predict(x2, P2, N, 0.1, np.zeros(3), 1e-8, work2)
    # the laser radar's bias states: Gauss-Markov over the step (their steady-state variance is kept)
    phi = np.exp(-0.1 / 1000.0)
    b = slice(RN_LIDAR_BIAS, RN_LIDAR_BIAS + 3)
    x2[b] *= phi
    P2[b, :] *= phi
    P2[:, b] *= phi
    P2[b, b] += np.diag([0.07 ** 2, 5e-4 ** 2, 5e-4 ** 2]) * (1.0 - phi ** 2)
    # the sensor's noise at 251 m: range sqrt(floor^2 + (frac range)^2), angle floor + near part
    s_r, s_a = np.hypot(0.02, 1e-3 * 251.0), 8.7e-4 + 1.9e-3 * 15.0 / (251.0 + 15.0)
    relnav_update_lidar(x2, P2, 251.0, 0.01, -0.02, C_B_LVLH, geo[0], geo[1], s_r, s_a, 1e6, work2, 0.0, N,
                        RN_LIDAR_BIAS)
    assert np.allclose(C, C_B_LVLH, atol=1e-14)
    assert np.allclose(x, x2, atol=1e-12) and np.allclose(P, P2, atol=1e-12)
    assert np.allclose(out["r_LVLH_m"], x[:3]) and np.allclose(out["sigma_v_mps"], np.sqrt(np.diag(P)[3:6]))
    assert out["accepted"] == 1 and out["sensor"] == SENSOR_LIDAR


def test_attitude_at_carries_the_attitude_and_the_lvlh_frame_to_the_sample_time():
    """ATT_STATE (0.1 s old: attitude runs after navigation) and ORBIT_REF (now) are each carried at their own
    rate to the sample's time; the reference is scipy's rotation-vector exponential, exp(-[w dt x])."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(11)
    att, orbit = new_message("ATT_STATE"), new_message("ORBIT_REF")
    q = rotation(rng.normal(size=3), 0.7)
    w_B, w_L = np.array([0.02, -0.01, 0.03]), np.array([1e-6, 0.0, -N])
    C_LN = quat_to_dcm_np(rotation(rng.normal(size=3), 1.0))
    att["q_BN"], att["omega_BN_B_rad_s"], att["t_ns"] = q, w_B, 900_000_000
    orbit["C_LVLH_N"], orbit["omega_LN_L_rad_s"], orbit["t_ns"] = C_LN, w_L, 1_000_000_000
    t_sample = 850_000_000
    out, scratch = np.zeros((3, 3)), np.zeros((4, 3, 3))
    attitude_at(att.reshape(1), orbit.reshape(1), t_sample, scratch, out)
    C_BN = Rotation.from_rotvec(-w_B * (t_sample - 900_000_000) * 1e-9).as_matrix() @ quat_to_dcm_np(q)
    C_LN_t = Rotation.from_rotvec(-w_L * (t_sample - 1_000_000_000) * 1e-9).as_matrix() @ C_LN
    assert np.allclose(out, C_BN @ C_LN_t.T, atol=1e-14)
    assert np.allclose(out @ out.T, np.eye(3), atol=1e-14)
    # an LVLH-held body (w_BN = the LVLH rate) read 0.1 s late against the frame of now: off by the frame's
    # turn over 0.1 s (what the navigation did before), and exact once carried
    C_BL = quat_to_dcm_np(rotation(rng.normal(size=3), 0.4))
    att["omega_BN_B_rad_s"] = C_BL @ w_L
    orbit["t_ns"], att["t_ns"] = 1_000_000_000, 900_000_000
    C_LN_then = Rotation.from_rotvec(w_L * 0.1).as_matrix() @ C_LN   # the frame 0.1 s ago, when q_BN held
    quat_from_dcm(C_BL @ C_LN_then, att["q_BN"].reshape(4))
    attitude_at(att.reshape(1), orbit.reshape(1), 1_000_000_000, scratch, out)
    assert np.allclose(out, C_BL, atol=1e-12)
    stale = quat_to_dcm_np(att["q_BN"].reshape(4)) @ C_LN.T
    turn = Rotation.from_matrix(stale @ C_BL.T).magnitude()
    assert turn == pytest.approx(N * 0.1, rel=1e-6)


def _relnav_setup(**params):
    """RELNAV_PARAMS with ``params`` set, the filter, and the records relnav_step reads (ORBIT_REF's mean motion set):
    (prm, flt, thr, out, views)."""
    prm = np.zeros(1, RELNAV_PARAMS)
    for k, v in params.items():
        prm[0][k] = v
    att, orbit, thr, out = (new_message(n) for n in ("ATT_STATE", "ORBIT_REF", "THRUSTER_PERIOD", "NAV_STATE"))
    orbit["n_rad_s"] = N
    recs = (att, orbit, thr, new_message("ENGINE_PERIOD"), new_record("DEV_GNSS_REL"), new_record("DEV_GNSS_ABS"),
            new_record("DEV_LIDAR"), new_record("DEV_CAMERA"), out)
    return prm, np.zeros(1, RELNAV_FILTER), thr, out, tuple(r.reshape(1) for r in recs)


def test_relnav_step_inflates_velocity_covariance_by_the_delta_v_error_along_and_across_the_burn():
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=0.02, dv_sigma_across_frac=0.01)
    thr["dv_LVLH_mps"], thr["seq"] = [0.3, 0.0, 0.4], 1
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 1e-9)
    u = np.array([0.6, 0.0, 0.8])  # |dv| = 0.5 m/s along u: 2 % along it, 1 % on each axis across it
    want = 0.5**2 * (0.02**2 * np.outer(u, u) + 0.01**2 * (np.eye(3) - np.outer(u, u)))
    np.testing.assert_allclose(flt[0]["P"][3:6, 3:6], want, rtol=1e-6, atol=1e-18)


def test_relnav_step_treats_the_delta_v_error_of_a_burn_as_systematic():
    """Two periods of 0.5 m/s each: sigma 2 % of the burn's 1 m/s (not of sqrt(2) x 0.5); a quiet period ends it."""
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=0.02, dv_sigma_across_frac=0.02)
    for seq, dv in ((1, [0.3, 0.0, 0.4]), (2, [0.0, 0.5, 0.0])):
        thr["dv_LVLH_mps"], thr["seq"] = dv, seq
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 1e-9)
    assert np.sum(np.diag(flt[0]["P"])[3:6]) == pytest.approx(3 * (0.02 * 1.0) ** 2, rel=1e-6)
    assert flt[0]["burn_dv_mps"] == pytest.approx(1.0)
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 1e-9)  # no new period: the burn is over
    assert flt[0]["burn_dv_mps"] == 0.0


def test_a_pulsed_burn_stays_one_systematic_error_across_its_gaps_and_fades_over_quiet_time():
    """burn_gap_tau_s 10 s: a pulse, a quiet 0.5 s, a pulse: the second pulse's variance is that of the sum (S = 0.1
    faded by exp(-0.05) then + 0.1); then 60 s of quiet leave exp(-6) of the sum."""
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=0.02, dv_sigma_across_frac=0.02, burn_gap_tau_s=10.0)
    thr["dv_LVLH_mps"], thr["seq"] = [0.0, 0.1, 0.0], 1
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 1e-9)
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 0.5)  # quiet: no new thruster period
    S = 0.1 * math.exp(-0.05)
    assert flt[0]["burn_dv_mps"] == pytest.approx(S, rel=1e-12)
    P_before = flt[0]["P"][4, 4]
    thr["seq"] = 2
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 1e-9)
    assert flt[0]["P"][4, 4] - P_before == pytest.approx(0.02**2 * ((S + 0.1) ** 2 - S**2), rel=1e-6)
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 60.0)
    assert flt[0]["burn_dv_mps"] == pytest.approx((S + 0.1) * math.exp(-6.0), rel=1e-12)


@pytest.mark.parametrize("sensor", [SENSOR_GNSS, SENSOR_LIDAR, SENSOR_CAMERA])
def test_the_acceleration_states_sigma_follows_the_thrusters_level_and_the_port_only_where_it_is_seen(sensor):
    """sigma_i^2 = (the differential drag^2 on y) + (port^2 on x and z, with the laser radar or the camera, which
    measure the port; not with GNSS, which measures centre to centre) + (frac x level)^2 + (the
    sustained net thrust's)^2, the level being the impulses that cancel in the net delta-v (impulse_sum less |net|;
    couples) per second, low-passed over thrust_level_tau_s; a period whose pulses all add up (impulse_sum = |net|)
    adds nothing to it, but to the net thrust's term. The drag, the chaser at the station's height:
    q sqrt((u_mean - w)^2 + u_sd^2) (fsw.core.navigation.drag_sigma_mps2)."""
    prm, flt, thr, out, views = _relnav_setup(drag_pressure_Pa=2.4e-4, drag_scale_height_m=59e3,
                                              drag_station_cda_m2_kg=0.012, drag_chaser_cda_m2_kg=[0.011, 0.0025],
                                              port_accel_sigma_mps2=5e-6, accel_tau_s=150.0, thrust_level_tau_s=10.0,
                                              thrust_share_tau_s=8.0, thrust_net_tau_s=5.0, dv_sigma_along_frac=0.02,
                                              dv_sigma_across_frac=0.01, dv_sigma_frac=0.01,
                                              earth=[3.986004418e14, 6378137.0, 1.08263e-3])
    out["sensor"] = sensor
    dt, level = 0.1, 0.0
    for k in range(50):  # 5 s of pulses whose impulses add to 2e-5 m/s a period: 2e-4 m/s^2
        thr["seq"], thr["impulse_sum_mps"] = k + 1, 2e-5
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
        level += (2e-5 / dt - level) * dt / 10.0
    assert flt[0]["thrust_level_mps2"] == pytest.approx(level, rel=1e-12)
    thr["seq"], thr["impulse_sum_mps"], thr["dv_LVLH_mps"] = 51, 5e-5, [0.0, 3e-5, 4e-5]  # one burn: nothing cancels
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
    level -= level * dt / 10.0
    assert flt[0]["thrust_level_mps2"] == pytest.approx(level, rel=1e-9)
    port = 5e-6 if sensor in (SENSOR_CAMERA, SENSOR_LIDAR) else 0.0
    drag = 2.4e-4 * math.hypot(0.011 - 0.012, 0.0025)
    env = np.array([port, drag, port]) ** 2
    # one period alone is a burn: its error is the burn's (in the velocity), none of it the sustained thrust's
    lv = _net_levels([None] * 50 + [np.array([0.0, 3e-5, 4e-5])], dt, (10.0, 8.0, 5.0))
    assert np.linalg.norm(lv[0]) > 0.0 and np.all(lv[1:] == 0.0)
    np.testing.assert_allclose(flt[0]["thrust_net_mps2"], lv, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(flt[0]["accel_sigma_mps2"], np.sqrt(env + (0.01 * level) ** 2), rtol=1e-12)


def _net_levels(steps, dt, taus, gap_s=0.0):
    """numpy reference of the low-pass of the net delta-v per second (row 0, over ``taus[0]``) and of the share of it
    no burn's model carries (rows 1 and 2, over ``taus[1]`` and ``taus[2]``): ``steps`` is a list of (dv or None).
    The burn's accumulated delta-v S fades over quiet periods with ``gap_s`` (0: a quiet period ends the burn)."""
    return list(_net_level_steps(steps, dt, taus, gap_s))[-1][0]


def _net_level_steps(steps, dt, taus, gap_s=0.0):
    """:func:`_net_levels` after each step (a copy per step), with that step's share."""
    lv, burn = np.zeros((3, 3)), 0.0
    for dv in steps:
        a = np.zeros(3) if dv is None else np.asarray(dv, float) / dt
        lv[0] += (a - lv[0]) * min(1.0, dt / taus[0])
        mag = 0.0 if dv is None else float(np.linalg.norm(dv))
        window = np.linalg.norm(lv[0]) * taus[0]
        share = max(0.0, 1.0 - (burn + mag) / window) if window > 0.0 else 0.0
        for row in (1, 2):
            lv[row] += (share * a - lv[row]) * min(1.0, dt / taus[row])
        if dv is not None:
            burn += mag
        else:
            burn = burn * math.exp(-dt / gap_s) if gap_s > 0.0 else 0.0
        yield lv.copy(), share


def _sustained_sigma(lv, al, ac):
    """numpy reference of the sustained thrust's sigma per axis from the levels: the share's level a (row 1), in
    proportion min(1, |row 2| / |row 1|), al along it and ac across."""
    a, held = lv[1], np.linalg.norm(lv[1])
    k = min(1.0, np.linalg.norm(lv[2]) / held) if held > 0.0 else 0.0
    return k * np.sqrt(al**2 * a**2 + ac**2 * (held**2 - a**2))


@pytest.mark.parametrize("quiet_s", [0.0, 30.0])
def test_a_sustained_net_thrust_carries_its_execution_error_as_an_acceleration(quiet_s):
    """A net thrust held for minutes (pulses 0.4 s apart: 8e-4 m/s^2 radial, 2.5e-4 along-track) gives the
    acceleration states a sigma of its level a (the share no burn carries, low-passed over thrust_share_tau_s) x the
    along fraction on its own direction and the across fraction on the others: sigma_i^2 = al^2 a_i^2 + ac^2 (|a|^2 -
    a_i^2). Once it stops, it drops out with the short low-pass (thrust_net_tau_s): the level is weighted by
    min(1, |fast| / |level|). Every pulse's impulse adds to the net (impulse_sum = |dv|), so the couples' term
    stays 0."""
    al, ac, dt, gap = 0.02, 0.01, 0.1, 2.0
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=al, dv_sigma_across_frac=ac, thrust_level_tau_s=100.0,
                                            thrust_share_tau_s=30.0, thrust_net_tau_s=10.0, accel_tau_s=150.0,
                                            burn_gap_tau_s=gap)
    pulse = np.array([-3.2e-4, 1.0e-4, 0.0])
    steps = [pulse if k % 4 == 0 else None for k in range(6000)] + [None] * int(round(quiet_s / dt))
    seq = 0
    for dv in steps:
        if dv is not None:
            seq += 1
            thr["seq"], thr["dv_LVLH_mps"], thr["impulse_sum_mps"] = seq, dv, float(np.linalg.norm(dv))
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
    lv = _net_levels(steps, dt, (100.0, 30.0, 10.0), gap)
    np.testing.assert_allclose(flt[0]["thrust_net_mps2"], lv, rtol=1e-9, atol=1e-15)
    assert flt[0]["thrust_level_mps2"] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(flt[0]["accel_sigma_mps2"], _sustained_sigma(lv, al, ac), rtol=1e-9)
    k = np.linalg.norm(lv[2]) / np.linalg.norm(lv[1])
    if quiet_s == 0.0:  # held for 10 min: the level is the thrust's mean less the share of a few pulses that the
        assert k > 0.9  # burn's model carries (S ~ 7 pulses of the window's 250): 0.967 of it, within the 1 % a
        np.testing.assert_allclose(lv[0], pulse / (4 * dt), rtol=0.01)  # pulse every 4 periods moves a 30 s
        np.testing.assert_allclose(lv[1], 0.967 * pulse / (4 * dt), rtol=0.01)  # low-pass by (3 x 0.1 / 30)
    else:  # 30 s after it stopped: exp(-3) of the short low-pass against exp(-1) of the share's level
        assert k == pytest.approx(math.exp(-3.0 + 1.0), rel=0.1)


def test_a_sustained_thrust_that_starts_after_a_burn_counts_in_full_within_the_shares_time():
    """A hold's departure (0.2 m/s thrust in every period for 10 s) and then the radial thrust of the approach, pulsed
    0.4 s apart (8e-4 m/s^2): the burn is the burn's error alone, and the radial thrust's level counts at once, not
    as the departure's window fades. 60 s after the pulses start, two of thrust_share_tau_s, its sigma is
    (1 - exp(-2)) of al x the pulses' mean less the few percent of the share the burn's model carries, with
    nothing taken off for the departure still in the 100 s window; the level over thrust_level_tau_s, the form
    flown up to 8b12c28, held 1 - exp(-0.6) = 45 % of it, and less again in proportion to the departure's window."""
    al, ac, dt, gap = 0.02, 0.01, 0.1, 2.0
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=al, dv_sigma_across_frac=ac, thrust_level_tau_s=100.0,
                                            thrust_share_tau_s=30.0, thrust_net_tau_s=10.0, accel_tau_s=150.0,
                                            burn_gap_tau_s=gap)
    pulse = np.array([3.2e-4, 0.0, 0.0])
    steps = [np.array([0.0, 0.002, 0.0])] * 100 + [pulse if k % 4 == 0 else None for k in range(600)]
    for seq, dv in enumerate(steps, start=1):
        if dv is not None:
            thr["seq"], thr["dv_LVLH_mps"], thr["impulse_sum_mps"] = seq, dv, float(np.linalg.norm(dv))
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
        if seq == 100:  # the departure: the burn's, none of it the sustained thrust's
            np.testing.assert_array_equal(flt[0]["accel_sigma_mps2"], 0.0)
    lv = _net_levels(steps, dt, (100.0, 30.0, 10.0), gap)
    np.testing.assert_allclose(flt[0]["thrust_net_mps2"], lv, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(flt[0]["accel_sigma_mps2"], _sustained_sigma(lv, al, ac), rtol=1e-9)
    assert flt[0]["accel_sigma_mps2"][0] > 0.8 * al * 8e-4  # 0.865 x the share, 0.96-0.98 here
    assert flt[0]["accel_sigma_mps2"][0] < al * 8e-4 * (1.0 - math.exp(-2.0)) * 1.01


def test_a_burn_thrust_in_every_period_is_the_burns_error_alone_not_the_sustained_thrusts():
    """A transfer burn (0.05 m/s^2 for 60 s, every period) carries its execution error in the velocity (the burn's
    model); the sustained thrust's level takes none of it (S + |dv| >= W at every period), so it is not counted twice.
    Pulses 0.4 s apart that follow it count again at once (their S, a few pulses' worth, against the window of
    the burn's level)."""
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=0.02, dv_sigma_across_frac=0.01,
                                            thrust_level_tau_s=100.0, thrust_share_tau_s=30.0, thrust_net_tau_s=10.0,
                                            accel_tau_s=150.0, burn_gap_tau_s=2.0)
    dt, burn = 0.1, np.array([0.0, 0.005, 0.0])
    steps = [burn] * 600
    for k, dv in enumerate(steps):
        thr["seq"], thr["dv_LVLH_mps"], thr["impulse_sum_mps"] = k + 1, dv, float(np.linalg.norm(dv))
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
    assert np.linalg.norm(flt[0]["thrust_net_mps2"][0]) == pytest.approx(0.05 * (1.0 - math.exp(-0.6)), rel=1e-3)
    np.testing.assert_array_equal(flt[0]["thrust_net_mps2"][1:], 0.0)
    np.testing.assert_array_equal(flt[0]["accel_sigma_mps2"], 0.0)
    pulse, seq = np.array([1e-4, 0.0, 0.0]), len(steps)
    pulses = [pulse if k % 4 == 0 else None for k in range(100)]
    for dv in pulses:
        if dv is not None:
            seq += 1
            thr["seq"], thr["dv_LVLH_mps"], thr["impulse_sum_mps"] = seq, dv, float(np.linalg.norm(dv))
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
    lv = _net_levels(steps + pulses, dt, (100.0, 30.0, 10.0), 2.0)
    np.testing.assert_allclose(flt[0]["thrust_net_mps2"], lv, rtol=1e-9, atol=1e-15)
    assert lv[1][0] > 0.0 and np.all(flt[0]["accel_sigma_mps2"] > 0.0)


def test_the_sustained_thrusts_part_of_the_acceleration_variance_is_there_at_once_and_fades_with_tau():
    """A Gauss-Markov state admits a new sigma^2 only as 1 - exp(-2 t / tau); a thrust's error is there from its
    first pulse. With the port's part stationary (sigma_port^2 already in P), a radial thrust pulsed 0.4 s apart
    starts (8e-4 m/s^2) for 5 min, then stops for 1 min. Its part of the state's variance, want = (k al a_x)^2
    (numpy reference of the levels), is admitted at once: the state holds sigma_port^2 + adm at every step, adm
    decaying as the state's own variance, (1 - phi^2) of want added, and never below want. Once it stops
    nothing is taken back: adm decays with tau."""
    tau, al, ac, port, dt, gap = 150.0, 0.02, 0.01, 5e-6, 0.1, 2.0
    prm, flt, thr, out, views = _relnav_setup(port_accel_sigma_mps2=port, accel_tau_s=tau, thrust_level_tau_s=100.0,
                                              thrust_share_tau_s=30.0, thrust_net_tau_s=10.0, dv_sigma_along_frac=al,
                                              dv_sigma_across_frac=ac, burn_gap_tau_s=gap)
    out["sensor"] = SENSOR_CAMERA
    x = RN_ACCEL  # x: the port's part and the thrust's (no drag on x)
    flt[0]["P"][x, x] = port**2
    pulse = np.array([3.2e-4, 0.0, 0.0])
    steps = [pulse if k % 4 == 0 else None for k in range(3000)] + [None] * 600
    phi2 = math.exp(-2.0 * dt / tau)
    adm = gm = top = 0.0  # gm: what the state alone would hold of the part
    seq = 0
    for k, (dv, (lv, _)) in enumerate(zip(steps, _net_level_steps(steps, dt, (100.0, 30.0, 10.0), gap), strict=True)):
        if dv is not None:
            seq += 1
            thr["seq"], thr["dv_LVLH_mps"], thr["impulse_sum_mps"] = seq, dv, float(np.linalg.norm(dv))
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
        want = _sustained_sigma(lv, al, ac)[0] ** 2
        adm = max(phi2 * adm + (1.0 - phi2) * want, want)
        gm = phi2 * gm + (1.0 - phi2) * want
        assert flt[0]["P"][x, x] == pytest.approx(port**2 + adm, rel=1e-9, abs=1e-24)
        if k == 296:  # a pulse 30 s in: its part in full, where the state alone would hold less than half of it
            assert want > 0.0 and adm == want and gm < 0.5 * want
        if k == 2999:
            top = adm
    decay = math.exp(-2.0 * 60.0 / tau)  # stopped: nothing taken back, it decays with tau (plus what the falling
    assert top * decay <= adm < 1.1 * top * decay  # part still added in its first seconds)


def test_the_couples_part_of_the_acceleration_variance_is_not_topped_up():
    """The couples' term (impulses that cancel in the net delta-v) over-bounds already (a coherent error of every
    group; docs/navigation.md): it enters as a Gauss-Markov state admits it, 1 - exp(-2 t / tau), not at once."""
    tau, frac, dt = 150.0, 0.01, 0.1
    prm, flt, thr, _, views = _relnav_setup(accel_tau_s=tau, thrust_level_tau_s=10.0, dv_sigma_frac=frac)
    level, gm, phi2 = 0.0, 0.0, math.exp(-2.0 * dt / tau)
    for k in range(300):
        thr["seq"], thr["impulse_sum_mps"] = k + 1, 2e-5
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
        level += (2e-5 / dt - level) * dt / 10.0
        gm = phi2 * gm + (1.0 - phi2) * (frac * level) ** 2
        assert flt[0]["P"][RN_ACCEL, RN_ACCEL] == pytest.approx(gm, rel=1e-9)
    assert gm < 0.25 * (frac * level) ** 2


def test_the_couples_that_fire_with_a_burns_thrust_are_the_burns_error_in_the_velocity_not_the_level():
    """A transfer burn thrusts every period (0.005 m/s along y) while the attitude thrusters hold against its torque
    (couples: 0.002 m/s a period of impulses that cancel). The burn's model carries the whole thrust (its share is
    0), so it carries its couples too: one systematic error over the burn, dv_sigma_frac per axis of their sum,
    in the velocity at once; the couples' level takes none of it. (Steps of 1 ns: no dynamics, no fading.)"""
    al, ac, fc = 0.02, 0.01, 0.01
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=al, dv_sigma_across_frac=ac, dv_sigma_frac=fc,
                                            thrust_level_tau_s=100.0, thrust_share_tau_s=30.0, thrust_net_tau_s=10.0,
                                            accel_tau_s=150.0, burn_gap_tau_s=2.0)
    for k in range(50):
        thr["seq"], thr["dv_LVLH_mps"], thr["impulse_sum_mps"] = k + 1, [0.0, 0.005, 0.0], 0.005 + 0.002
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 1e-9)
    S, C = 50 * 0.005, 50 * 0.002
    assert flt[0]["thrust_level_mps2"] == 0.0
    assert flt[0]["burn_couples_mps"] == pytest.approx(C, rel=1e-12)
    want = np.diag([ac**2, al**2, ac**2]) * S**2 + np.eye(3) * (fc * C) ** 2
    np.testing.assert_allclose(flt[0]["P"][3:6, 3:6], want, rtol=1e-6, atol=1e-12)  # 50 ns of CW: 7e-16 off-diagonal
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 4.0)  # quiet: the burn and its couples fade alike
    assert flt[0]["burn_couples_mps"] == pytest.approx(C * math.exp(-2.0), rel=1e-12)
    assert flt[0]["burn_dv_mps"] == pytest.approx(S * math.exp(-2.0), rel=1e-12)


@pytest.mark.parametrize("residual", [0.0, 1e-20])
def test_a_limit_cycles_couples_stay_in_the_level_whatever_the_rounding_of_their_net(residual):
    """Couples alone (no thrust; their net delta-v 0, or the 1e-20 m/s a float sum of opposed pulses may leave)
    are the couples' level, low-passed over thrust_level_tau_s, and nothing of the burn's."""
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=0.02, dv_sigma_across_frac=0.01, dv_sigma_frac=0.01,
                                            thrust_level_tau_s=10.0, thrust_share_tau_s=8.0, thrust_net_tau_s=5.0,
                                            burn_gap_tau_s=2.0)
    dt, level = 0.1, 0.0
    for k in range(100):
        thr["seq"], thr["dv_LVLH_mps"], thr["impulse_sum_mps"] = k + 1, [residual, 0.0, 0.0], 2e-5
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
        level += ((2e-5 - residual) / dt - level) * dt / 10.0
    assert flt[0]["thrust_level_mps2"] == pytest.approx(level, rel=1e-12)
    assert flt[0]["burn_couples_mps"] == 0.0


def test_a_pulsed_thrusts_couples_split_by_the_share_between_its_burn_and_the_level():
    """A radial thrust pulsed 0.4 s apart, couples firing in every period (1e-5 m/s of impulses that cancel): in a
    pulse's period they are the burn's in the share its model carries (1 - share, a few percent once the thrust
    is sustained), the rest and every quiet period's go to the level (numpy reference of the share, the level and
    the burn's couples, which fade as its delta-v between pulses)."""
    dt, gap, c = 0.1, 2.0, 1e-5
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=0.02, dv_sigma_across_frac=0.01, dv_sigma_frac=0.01,
                                            thrust_level_tau_s=100.0, thrust_share_tau_s=30.0, thrust_net_tau_s=10.0,
                                            accel_tau_s=150.0, burn_gap_tau_s=gap)
    pulse = np.array([3.2e-4, 0.0, 0.0])
    steps = [pulse if k % 4 == 0 else None for k in range(3000)]
    level = burn_c = 0.0
    shares = []
    levels = _net_level_steps(steps, dt, (100.0, 30.0, 10.0), gap)
    for k, (dv, (_, share)) in enumerate(zip(steps, levels, strict=True)):
        thr["seq"], thr["impulse_sum_mps"] = k + 1, c + (0.0 if dv is None else float(np.linalg.norm(dv)))
        thr["dv_LVLH_mps"] = np.zeros(3) if dv is None else dv
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, dt)
        to_burn = c * (1.0 - share) if dv is not None else 0.0
        level += ((c - to_burn) / dt - level) * dt / 100.0
        burn_c = burn_c + to_burn if dv is not None else burn_c * math.exp(-dt / gap)
        if dv is not None:
            shares.append(share)
    assert flt[0]["thrust_level_mps2"] == pytest.approx(level, rel=1e-9)
    assert flt[0]["burn_couples_mps"] == pytest.approx(burn_c, rel=1e-9)
    assert shares[0] == 0.0 and shares[-1] > 0.95  # the first pulse is a burn alone; sustained, almost all counts


def test_the_sustained_thrust_term_is_off_with_no_short_time_constant():
    prm, flt, thr, _, views = _relnav_setup(dv_sigma_along_frac=0.02, dv_sigma_across_frac=0.01,
                                            thrust_level_tau_s=100.0)
    for k in range(100):
        thr["seq"], thr["dv_LVLH_mps"], thr["impulse_sum_mps"] = k + 1, [1e-4, 0.0, 0.0], 1e-4
        relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 0.1)
    np.testing.assert_array_equal(flt[0]["accel_sigma_mps2"], 0.0)


def quat_to_dcm_np(q):
    C = np.zeros((3, 3))
    quat_to_dcm(np.asarray(q, float), C)
    return C


def test_thruster_control_delivers_the_commanded_force_and_accounts_propellant(vehicle):
    auth = authority(vehicle)
    q = rotation([0.2, -0.4, 1.0], 0.7)
    C_LN = quat_to_dcm_np(rotation([1.0, 0.3, 0.0], -0.5))
    mass, period = 4800.0, 0.1
    C_BL = quat_to_dcm_np(q) @ C_LN.T
    force_B = np.array([120.0, -90.0, 60.0])  # every channel above one minimum pulse, below saturation
    accel_L = C_BL.T @ force_B / mass
    on = np.zeros(len(vehicle.thruster_names), dtype=np.float32)
    delivered, torque, dv, totals = np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(4)
    mdot = vehicle.thrust_N / (vehicle.isp_s * 9.80665)
    thruster_control_step(q, C_LN, accel_L, np.zeros(3), 1e-4, np.zeros(3), mass, period, auth,
                          np.full(N_GROUPS, 0.01), vehicle.group_idx, mdot, np.zeros(6), np.zeros(N_GROUPS), on,
                          np.zeros((3, 3)), np.zeros(3), delivered, torque, dv, totals, np.zeros((6, 3)))
    # independent: sum of on-time x thrust x direction over the period
    force = (on[:, None].astype(float) * vehicle.thrust_N[:, None] * vehicle.dir_B).sum(axis=0) / period
    assert np.allclose(force, force_B, rtol=1e-5)  # float32 on-times
    assert np.allclose(dv, C_BL.T @ force * period / mass, rtol=1e-5)
    assert totals[0] == pytest.approx(float(on.astype(float) @ mdot), rel=1e-6)


def _fire(vehicle, com, force_B, torque_B, mass=4800.0, period=0.1):
    """thruster_control_step with the CoM at ``com``; the force and torque the on-times give about it, summed
    over the thrusters (independent of the group tables), and the kernel's outputs."""
    wrench = np.zeros((N_GROUPS, 6))
    thruster_group_wrench(vehicle.pos_B_m, vehicle.dir_B, vehicle.thrust_N, vehicle.group_idx, np.asarray(com), wrench)
    on = np.zeros(len(vehicle.thruster_names), dtype=np.float32)
    force_out, torque_out = np.zeros(3), np.zeros(3)
    thruster_control_step(np.array([1.0, 0, 0, 0]), np.eye(3), np.asarray(force_B, float) / mass, np.zeros(3), 1e-4,
                          np.asarray(torque_B, float), mass, period, authority(vehicle), np.full(N_GROUPS, 1e-3),
                          vehicle.group_idx, np.zeros(len(on)), np.zeros(6), np.zeros(N_GROUPS), on, np.zeros((3, 3)),
                          np.zeros(3), force_out, torque_out, np.zeros(3), np.zeros(4), wrench[:6, 3:].copy())
    F = vehicle.thrust_N[:, None] * vehicle.dir_B
    imp = on.astype(float)[:, None] / period
    force = (imp * F).sum(axis=0)
    torque = (imp * np.cross(vehicle.pos_B_m - np.asarray(com), F)).sum(axis=0)
    return force, torque, force_out, torque_out


def test_translation_about_an_offset_centre_of_mass_keeps_the_commanded_torque(vehicle):
    """CoM 0.3 m aft: a lateral force's groups make a torque about it; the attitude groups take it off, so the
    net torque (summed thruster by thruster) is the commanded one, and the kernel reports it."""
    force, torque, force_out, torque_out = _fire(vehicle, [-0.3, 0.02, 0.0], [0.0, 120.0, -90.0], [4.0, -6.0, 3.0])
    np.testing.assert_allclose(force, [0.0, 120.0, -90.0], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(torque, [4.0, -6.0, 3.0], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(torque_out, torque, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(force_out, force, rtol=1e-5, atol=1e-3)


def test_translation_gives_way_when_its_torque_exceeds_the_attitude_authority(vehicle):
    """CoM 0.6 m aft: 300 N of +y makes +180 N m of yaw, beyond the 137.5 N m couples. The force is cut until the
    couples can hold what the command leaves: with -20 N m asked, they give -20 - 0.6 F >= -137.5."""
    force, torque, _, _ = _fire(vehicle, [-0.6, 0.0, 0.0], [0.0, 300.0, 0.0], [0.0, 0.0, -20.0])
    parasitic_per_N = 0.6  # yaw per newton of +y about a CoM 0.6 m aft: r x F = (0.6, 0, 0) x (0, 1, 0)
    allowed = (137.5 - 20.0) / parasitic_per_N
    assert force[1] == pytest.approx(allowed, rel=1e-4)
    np.testing.assert_allclose(torque, [0.0, 0.0, -20.0], atol=1e-3)


def test_with_the_centre_of_mass_at_the_table_origin_nothing_changes(vehicle):
    force, torque, _, torque_out = _fire(vehicle, [0.0, 0.0, 0.0], [50.0, 120.0, -90.0], [4.0, -6.0, 3.0])
    np.testing.assert_allclose(force, [50.0, 120.0, -90.0], rtol=1e-5)
    np.testing.assert_allclose(torque, [4.0, -6.0, 3.0], rtol=1e-4, atol=1e-3)


def test_an_impulse_takes_the_period_and_is_spent_when_delivered(vehicle):
    auth = authority(vehicle)
    pending = np.array([0.0, 0.001, 0.0])  # 1 mm/s along V-bar: within one period's authority
    on = np.zeros(len(vehicle.thruster_names), dtype=np.float32)
    dv = np.zeros(3)
    thruster_control_step(np.array([1.0, 0, 0, 0]), np.eye(3), np.array([0.0, 0.05, 0.0]), pending, 1e-4,
                          np.zeros(3), 5000.0, 0.1, auth, np.full(N_GROUPS, 0.01), vehicle.group_idx,
                          np.zeros(len(on)), np.zeros(6), np.zeros(N_GROUPS), on, np.zeros((3, 3)), np.zeros(3),
                          np.zeros(3), np.zeros(3), dv, np.zeros(4), np.zeros((6, 3)))
    assert dv == pytest.approx([0.0, 0.001, 0.0], abs=1e-6)  # the impulse, not the 0.05 m/s^2 acceleration
    assert np.all(pending == 0.0)


def test_torque_check_residual_is_zero_for_a_consistent_response_and_the_couple_for_a_stuck_thruster():
    inertia = np.diag([6800.0, 20000.0, 20000.0])
    torque = np.array([10.0, 0.0, 0.0])  # about a principal axis: omega x I omega stays exactly 0
    w0 = np.zeros(3)
    w1 = w0 + torque / np.diag(inertia) * 0.1
    resid = np.zeros(3)
    assert thruster_torque_check(w1, w0, torque, False, inertia, 0.1, 0.0, resid) == pytest.approx(0.0, abs=1e-12)
    stuck = np.array([0.0, 75.0, 0.0])  # one aft 25 N thruster at 3 m, unseen by the command
    w2 = w0 + (torque + stuck) / np.diag(inertia) * 0.1
    assert thruster_torque_check(w2, w0, torque, False, inertia, 0.1, 0.0, resid) == pytest.approx(75.0 / 20000.0)
    # while translation thrusters fire, their torque about the unknown centre of mass is not judged
    assert thruster_torque_check(w2, w0, torque, True, inertia, 0.1, 0.0, resid) == 0.0


def test_attitude_step_equals_the_separate_kernels():
    from fsw.core.adcs import ATT_FILTER, ATT_PARAMS, attitude_step
    from fsw.core.attitude import lvlh_target_attitude, quat_feedback_torque
    from fsw.core.control import TR_CHECK
    from fsw.core.estimation import mekf_propagate, mekf_update_star_tracker

    rng = np.random.default_rng(11)
    q0 = rotation(rng.normal(size=3), 0.4)
    P0 = np.diag([1e-4, 1e-4, 1e-4, 1e-10, 1e-10, 1e-10])
    inertia = np.diag([6800.0, 20000.0, 20000.0])
    C_RL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    prm = np.zeros(1, ATT_PARAMS)
    p = prm[0]
    p["arw_rad_sqrt_s"], p["rrw_rad_s_sqrt_s"], p["star_tracker_sigma_rad"], p["gate_chi2"] = 2.9e-6, 1e-9, 4.85e-5, 1e6
    p["K_Nm"], p["P_Nms"], p["u_max_Nm"], p["check_tau_s"] = 60.0, 700.0, 150.0, 0.5
    p["inertia_kg_m2"], p["C_RL"] = inertia, C_RL
    p["star_tracker_sigma_roll_rad"], p["star_tracker_boresight_B"] = 1.9e-4, [0.0, 0.0, -1.0]
    gyro, st = new_record("DEV_GYRO"), new_record("DEV_STAR_TRACKER")
    gyro["omega_BN_B_rad_s"], gyro["valid"] = [1e-3, -2e-3, 5e-4], 1
    st["q_BN"] = rotation(rng.normal(size=3), 0.401)
    orbit, thr = new_message("ORBIT_REF"), new_message("THRUSTER_PERIOD")
    orbit["C_LVLH_N"] = quat_to_dcm_np(rotation([0.0, 0.0, 1.0], 0.2))
    orbit["omega_LN_L_rad_s"] = [0.0, 0.0, N]
    out, torque, check = new_message("ATT_STATE"), new_message("TORQUE_CMD"), new_message("THRUSTER_CHECK")
    flt = np.zeros(1, ATT_FILTER)
    flt[0]["q_BN"], flt[0]["P"] = q0, P0
    st["t_ns"] = -100_000_000  # taken 0.1 s before the step: fused against the attitude of then
    attitude_step(prm, flt, np.zeros(1, TR_CHECK), np.zeros(WORK_SHAPE),
                  *(r.reshape(1) for r in (gyro, st, orbit, thr, new_message("ENGINE_PERIOD"), new_message("NAV_STATE"),
                                           out, torque, check)), 0, 0.1, True, True)
    q, P = flt[0]["q_BN"], flt[0]["P"]
    # separately
    q2, b2, P2, w2, work = q0.copy(), np.zeros(3), P0.copy(), np.zeros(3), np.zeros(WORK_SHAPE)
    mekf_propagate(q2, b2, P2, gyro["omega_BN_B_rad_s"].copy(), 0.1, 2.9e-6, 1e-9, work, w2)
    mekf_update_star_tracker(q2, b2, P2, st["q_BN"].copy(), 4.85e-5, 1e6, work, 1.9e-4, np.array([0.0, 0.0, -1.0]),
                             0.1, w2)
    q_RN2, w_RN2, err2, u2 = np.zeros(4), np.zeros(3), np.zeros(6), np.zeros(3)
    lvlh_target_attitude(orbit["C_LVLH_N"].copy(), orbit["omega_LN_L_rad_s"].copy(), C_RL, np.zeros((3, 3)), q_RN2,
                         w_RN2)
    quat_feedback_torque(q2, w2, q_RN2, w_RN2, inertia, np.full(3, 60.0), np.full(3, 700.0), np.full(3, 150.0),
                         err2, u2)
    assert np.allclose(q, q2, atol=1e-15) and np.allclose(P, P2, atol=1e-18)
    assert np.allclose(torque["torque_B_Nm"], u2, atol=1e-12) and np.allclose(out["q_BN"], q2, atol=1e-15)
    assert np.allclose(out["att_err_rad"], err2[:3], rtol=1e-6)  # float32 telemetry field


def test_the_docking_attitude_follows_the_port_the_camera_sees():
    """NAV_STATE's port tilt turns the reference: the same frame as rotating C_RL by the tilt's quaternion."""
    from fsw.core.adcs import ATT_FILTER, ATT_PARAMS, attitude_step, tilted_reference
    from fsw.core.control import TR_CHECK

    C_RL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    tilt = np.radians([0.1, -0.4, 0.3])
    C = np.zeros((3, 3))
    tilted_reference(C_RL, tilt, C)
    a = np.linalg.norm(tilt)
    # the frame turned by tilt (docking-attitude axes): C = C(q) C_RL with q = [cos a/2, sin a/2 tilt / a]
    np.testing.assert_allclose(C, quat_to_dcm_np(rotation(tilt, a)) @ C_RL, atol=1e-15)
    prm = np.zeros(1, ATT_PARAMS)
    prm[0]["C_RL"], prm[0]["inertia_kg_m2"] = C_RL, np.diag([6800.0, 20000.0, 20000.0])
    orbit, nav = new_message("ORBIT_REF"), new_message("NAV_STATE")
    orbit["C_LVLH_N"] = np.eye(3)
    nav["port_tilt_rad"], nav["valid"] = tilt, 1
    for valid, expected in ((1, C), (0, C_RL)):
        nav["port_tilt_valid"] = valid
        flt = np.zeros(1, ATT_FILTER)
        flt[0]["q_BN"] = [1.0, 0.0, 0.0, 0.0]
        recs = (new_record("DEV_GYRO"), new_record("DEV_STAR_TRACKER"), orbit, new_message("THRUSTER_PERIOD"),
                new_message("ENGINE_PERIOD"), nav, new_message("ATT_STATE"), new_message("TORQUE_CMD"),
                new_message("THRUSTER_CHECK"))
        attitude_step(prm, flt, np.zeros(1, TR_CHECK), np.zeros(WORK_SHAPE), *(r.reshape(1) for r in recs), 0, 0.1,
                      False, True)
        np.testing.assert_allclose(flt[0]["C_RN"], expected, atol=1e-6)  # f32 tilt field; C_LN = I


def _lidar_at_the_edge(predicted_m, measured_m):
    """One relnav_step with a laser-radar sample on the boresight (azimuth and elevation 0): identity attitude and
    frames, the state on -x_L at ``predicted_m`` + 3 m (the sensor is 3 m ahead of the CoM on +x_B), so that the state
    predicts ``predicted_m``; the band [0, 5,000] m, plausible within 5 of its sigmas (2.5 m at 5 km).
    Returns (accepted, rejected)."""
    prm, flt, _, out, views = _relnav_setup(
        q_accel_m2_s3=1e-8, gate_chi2_3dof=1e6, lidar_sigma_range_m=0.0333, lidar_sigma_range_frac=5e-4,
        lidar_sigma_angle_rad=3.5e-4, lidar_bias_sigma=[0.07, 5e-4, 5e-4], lidar_bias_tau_s=[1000.0] * 3,
        lidar_band_m=[0.0, 5000.0], band_plausible_sigma=5.0, sensor_B_m=[3.0, 0.0, 0.0])
    att, orbit, lidar = views[0][0], views[1][0], views[6][0]
    att["q_BN"], att["valid"] = [1.0, 0.0, 0.0, 0.0], 1
    orbit["C_LVLH_N"] = np.eye(3)
    f = flt[0]
    f["x"][:3] = [-(predicted_m + 3.0), 0.0, 0.0]
    f["P"][:6, :6] = np.diag([4.0, 4.0, 4.0, 1e-4, 1e-4, 1e-4])
    lidar["range_m"], lidar["valid"], lidar["seq"] = measured_m, 1, 1
    relnav_step(prm, flt, np.zeros(WORK_SHAPE), *views, 1e-9)
    return int(out["accepted"]), int(out["rejected"])


def test_the_laser_radar_band_is_decided_on_the_predicted_range_not_the_measured_one():
    """At the band's edge: a sample measured 4 m beyond it while the state predicts 4,999 m is fused (deciding on
    the measured range dropped it, and with it every sample whose noise was long); a sample measured inside while
    the state predicts 5,001 m is not; a range-ambiguity sample (11 km) is out of the band, not a rejection."""
    assert _lidar_at_the_edge(4999.0, 5004.0) == (1, 0)
    assert _lidar_at_the_edge(4999.0, 4990.0) == (1, 0)
    assert _lidar_at_the_edge(5001.0, 4990.0) == (0, 0)
    assert _lidar_at_the_edge(4999.0, 11000.0) == (0, 0)
    assert _lidar_at_the_edge(4999.0, 5000.0 + 5 * 2.5) == (1, 0)  # the bound: 5 sigmas of 2.507 m
    assert _lidar_at_the_edge(4999.0, 5000.0 + 5 * 2.51) == (0, 0)


def test_deciding_on_the_predicted_range_removes_the_band_edge_selection_bias():
    """Samples of a true range at the band's edge, 5,000 m, with 2.5 m of Gaussian noise: those the measured range
    keeps have a mean error of -sigma phi(0) / Phi(0) = -2.0 m (the half-normal's mean, a closed form); those the
    predicted range keeps (every plausible one) have none."""
    from fsw.core.navigation import _in_band
    rng = np.random.default_rng(20261206)
    sigma, band = 2.5, np.array([0.0, 5000.0])
    err = rng.normal(0.0, sigma, 40_000)
    by_measured = np.array([_in_band(band, 5000.0 + e, 5000.0 + e, sigma, 5.0) for e in err])
    by_predicted = np.array([_in_band(band, 5000.0, 5000.0 + e, sigma, 5.0) for e in err])
    se = sigma / math.sqrt(len(err) / 2)
    assert err[by_measured].mean() == pytest.approx(-sigma * math.sqrt(2.0 / math.pi), abs=4 * se)
    assert abs(err[by_predicted].mean()) < 4 * sigma / math.sqrt(len(err))
    assert by_predicted.mean() > 0.999

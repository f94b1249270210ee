"""Timing of the one-call-per-step kernels the apps use, and the onboard ephemeris, with a warm JIT."""

from __future__ import annotations

import numpy as np

from fsw.config_loader import load_vehicle
from fsw.core import adcs, attitude, control, ephemeris, guidance, navigation
from fsw.core.estimation import WORK_SHAPE
from fsw.messages import new_message
from hal.devices import new_record

N = 1.1339e-3
C_DOCK = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
INERTIA = np.diag([6800.0, 20000.0, 20000.0])
Q = np.array([0.9, 0.1, -0.3, 0.2]) / np.linalg.norm([0.9, 0.1, -0.3, 0.2])


def _timed(benchmark, fn, *args):
    fn(*args)  # compile / load from cache before timing
    benchmark(fn, *args)


def _views(*records):
    return tuple(r.reshape(1) for r in records)


def test_bench_ephemeris_step(benchmark):
    rv = np.array([6.768e6, 0.0, 0.0, 0.0, 5.735e3, 5.076e3])
    _timed(benchmark, ephemeris.ephemeris_step, rv, 3.986004418e14, 6378137.0, 1.08263e-3, 0.1, np.zeros((6, 6)))


def test_bench_c_b_lvlh(benchmark):
    _timed(benchmark, attitude.c_b_lvlh, Q, C_DOCK, np.zeros((3, 3)))


def test_bench_goto_point_accel(benchmark):
    _timed(benchmark, guidance.goto_point_accel, np.array([0.0, -150.0, 0.0]), np.zeros(3),
           np.array([0.0, -203.0, 0.0]), N, 0.02, 0.3, 0.2, 0.04, np.zeros(3), np.zeros(3))


def test_bench_relnav_step_with_a_lidar_sample(benchmark):
    att, orbit, thr = new_message("ATT_STATE"), new_message("ORBIT_REF"), new_message("THRUSTER_PERIOD")
    att["q_BN"], att["valid"], orbit["n_rad_s"] = Q, 1, N
    # a published ephemeris (390 km, 41.5 deg): the filter propagates the two orbits, as in flight
    incl = np.radians(41.5)
    orbit["rv_N"] = [6_768_137.0, 0.0, 0.0, 0.0, 7_668.6 * np.cos(incl), 7_668.6 * np.sin(incl)]
    ephemeris.lvlh_frame_j2(orbit["rv_N"], 3.986004418e14, 6378137.0, 1.08263e-3, np.zeros((6, 6)), orbit["C_LVLH_N"],
                            orbit["omega_LN_L_rad_s"])
    orbit["seq"] = 1
    gnss, lidar, cam, out = new_record("DEV_GNSS_REL"), new_record("DEV_LIDAR"), new_record("DEV_CAMERA"), \
        new_message("NAV_STATE")
    lidar["range_m"], lidar["valid"] = 250.0, 1
    prm = np.zeros(1, navigation.RELNAV_PARAMS)
    p = prm[0]
    p["earth"] = 3.986004418e14, 6378137.0, 1.08263e-3
    p["gate_chi2_3dof"] = 1e9
    p["lidar_sigma_range_m"], p["lidar_sigma_angle_rad"] = 0.04, 8.7e-4
    p["gnss_band_m"], p["lidar_band_m"], p["camera_band_m"] = [200.0, 1e6], [0.0, 5000.0], [0.0, 150.0]
    p["sensor_B_m"] = [3.0, 0.0, 0.0]
    flt = np.zeros(1, navigation.RELNAV_FILTER)
    flt[0]["x"][:6] = [0.0, -253.0, 0.0, 0.0, 0.2, 0.0]
    flt[0]["P"][:6, :6] = np.diag([4.0, 9.0, 4.0, 1e-4, 1e-4, 1e-4])
    views = _views(att, orbit, thr, new_message("ENGINE_PERIOD"), gnss, new_record("DEV_GNSS_ABS"), lidar, cam, out)
    lidar_view = views[6]
    relnav_step = navigation.relnav_step
    work = np.zeros(WORK_SHAPE)

    def step():  # a new lidar sample each call, as at 5 Hz
        lidar_view[0]["seq"] += 1
        return relnav_step(prm, flt, work, *views, 0.1)

    _timed(benchmark, step)


def test_bench_attitude_step(benchmark):
    """The whole step with the translation-thruster check running: a +x translation group firing in the
    period before, the thruster table of the flight vehicle, gyro valid now and at the last step."""
    prm = np.zeros(1, adcs.ATT_PARAMS)
    p = prm[0]
    p["arw_rad_sqrt_s"], p["star_tracker_sigma_rad"], p["gate_chi2"] = 2.9e-6, 4.85e-5, 16.0
    p["K_Nm"], p["P_Nms"], p["u_max_Nm"], p["check_tau_s"] = 60.0, 700.0, 150.0, 0.5
    p["inertia_kg_m2"], p["C_RL"] = INERTIA, C_DOCK
    v = load_vehicle()
    wrench = np.zeros((control.N_GROUPS, 6))
    control.thruster_group_wrench(v.pos_B_m, v.dir_B, v.thrust_N, v.group_idx, np.zeros(3), wrench)
    auth = np.zeros(control.N_GROUPS)
    control.group_authority(wrench, auth, np.zeros(control.N_GROUPS))
    tr = np.zeros(1, control.TR_CHECK)
    tr[0]["prior_N2s2"], tr[0]["memory_N2s2"], tr[0]["gate_Nm"], tr[0]["tau_s"] = 100.0, 900.0, 25.0, 0.5
    tr[0]["ratio"], tr[0]["weakest"] = np.nan, -1
    control.translation_signatures(v.pos_B_m, v.dir_B, v.thrust_N, v.group_idx, auth, tr)
    flt = np.zeros(1, adcs.ATT_FILTER)
    flt[0]["q_BN"], flt[0]["P"], flt[0]["gyro_ok_prev"] = Q, np.eye(6) * 1e-6, 1
    gyro, st = new_record("DEV_GYRO"), new_record("DEV_STAR_TRACKER")
    gyro["valid"], st["q_BN"] = 1, Q
    orbit = new_message("ORBIT_REF")
    orbit["C_LVLH_N"] = np.eye(3)
    thr = new_message("THRUSTER_PERIOD")
    thr["force_B_N"] = [150.0, 0.0, 0.0]
    thr["t_ns"] = -100_000_000  # the period commanded at the previous step
    views = _views(gyro, st, orbit, thr, new_message("ENGINE_PERIOD"), new_message("NAV_STATE"),
                   new_message("ATT_STATE"), new_message("TORQUE_CMD"), new_message("THRUSTER_CHECK"))
    _timed(benchmark, adcs.attitude_step, prm, flt, tr, np.zeros(WORK_SHAPE), *views, 0, 0.1, True, True)


def test_bench_thruster_control_step(benchmark):
    v = load_vehicle()
    wrench = np.zeros((control.N_GROUPS, 6))
    control.thruster_group_wrench(v.pos_B_m, v.dir_B, v.thrust_N, v.group_idx, np.zeros(3), wrench)
    auth = np.zeros(control.N_GROUPS)
    control.group_authority(wrench, auth, np.zeros(control.N_GROUPS))
    on = np.zeros(len(v.thrust_N), dtype=np.float32)
    about_com = np.zeros((control.N_GROUPS, 6))  # a CoM off the table's origin: the parasitic-torque path runs
    control.thruster_group_wrench(v.pos_B_m, v.dir_B, v.thrust_N, v.group_idx, np.array([-0.3, 0.05, 0.05]),
                                  about_com)
    parasitic = about_com[:6, 3:].copy()
    _timed(benchmark, control.thruster_control_step, Q, np.eye(3), np.array([0.01, -0.02, 0.005]), np.zeros(3),
           1e-4, np.array([5.0, -3.0, 1.0]), 4800.0, 0.1, auth, np.full(control.N_GROUPS, 0.01), v.group_idx,
           v.thrust_N / (v.isp_s * 9.80665), np.zeros(6), np.zeros(control.N_GROUPS), on, np.zeros((3, 3)),
           np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(4), parasitic)


def test_bench_thruster_torque_check(benchmark):
    _timed(benchmark, control.thruster_torque_check, np.array([1e-3, 0.0, 0.0]), np.zeros(3),
           np.array([5.0, 0.0, 0.0]), False, INERTIA, 0.1, 0.5, np.zeros(3))

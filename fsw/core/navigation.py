"""One navigation-filter step as a single kernel call: predict, hand-over, gated updates, publish.

The relative-navigation app calls :func:`relnav_step` once per 10 Hz cycle; initialisation (rare)
stays in Python. Records are 1-element views of the software-bus / HAL records (numba reads and
writes their fields in place), so nothing is copied between the app and the kernel.
"""

from __future__ import annotations

import math

from numba import njit

from .attitude import c_b_lvlh
from .estimation import (
    relnav_predict,
    relnav_predict_orbit,
    relnav_update_camera,
    relnav_update_gnss,
    relnav_update_lidar,
)

# prm indices
PRM_Q_ACCEL = 0          # [m^2/s^3] process noise PSD
PRM_GATE3 = 1            # chi-square gate, 3 dof
PRM_GATE6 = 2            # chi-square gate, 6 dof
PRM_GNSS_SR = 3          # [m]
PRM_GNSS_SV = 4          # [m/s]
PRM_LIDAR_SR = 5         # [m]
PRM_LIDAR_SF = 6         # [-] range-proportional sigma
PRM_LIDAR_SA = 7         # [rad]
PRM_CAM_S = 8            # [m]
PRM_BAND = 9             # range bands [lo, hi] for GNSS, lidar, camera (6)
PRM_DV_FRAC = 15         # [-] 1-sigma execution error of a commanded delta-v, fraction of its size
PRM_CAM_SA = 16          # [rad] camera bearing noise: its position noise grows with range
PRM_EARTH = 17           # (3) mu [m^3/s^2], equatorial radius [m], J2: the relative motion's gravity model
N_PRM = 20
# station memory (the ``station_prev`` argument): the ephemeris at the filter's time
SP_RV = 0                # (6) [m, m/s] station inertial state at the time the filter state holds
SP_SET = 6               # 1 once set: the relative motion is propagated on the two orbits (else CW)
N_SP = 7
# geo rows
GEO_SENSOR_B = 0         # [m] lidar/camera position rel. CoM, B
GEO_REFLECTOR = 1        # [m] lidar reflector rel. station port, LVLH
GEO_CAM_TARGET = 2       # [m] camera target rel. station port, LVLH
# last_seq indices
SEQ_GNSS, SEQ_LIDAR, SEQ_CAMERA, SEQ_THR = 0, 1, 2, 3
SENSOR_GNSS, SENSOR_LIDAR, SENSOR_CAMERA = 1, 2, 3
REJECT_SHIFT = 4         # return bit (REJECT_SHIFT + sensor) set: that sensor's measurement was rejected


@njit(cache=True)
def relnav_step(x, P, work, dv, C_B_LVLH, h_offset, geo, prm, last_seq, station_prev, dt_s, att, orbit, thr, gnss,
                lidar, cam, out):
    """Advance the relative-navigation EKF to now and fuse every new, in-band, valid measurement.

    Parameters
    ----------
    x, P, work : filter state (6,), covariance (6, 6), ``estimation.WORK_SHAPE`` scratch.
    dv : (3,) scratch for the thruster delta-v of the period.
    C_B_LVLH : (3, 3) out, rotation LVLH -> B from the attitude estimate (when it is valid).
    h_offset : (6,) GNSS measurement offset [station port rel. station CoM (3) m, 0, 0, 0], LVLH.
    geo : (3, 3) rows GEO_SENSOR_B, GEO_REFLECTOR, GEO_CAM_TARGET. prm : (N_PRM,) parameters.
    last_seq : (4,) int64 in/out, ``seq`` of the last GNSS, lidar, camera sample and thruster period used.
    station_prev : (N_SP,) in/out, the station's ephemeris at the filter's time (layout SP_*).
    dt_s : [s] time since the last step.
    att, orbit, thr : 1-element views of ATT_STATE, ORBIT_REF, THRUSTER_PERIOD.
    gnss, lidar, cam : 1-element views of DEV_GNSS_REL, DEV_LIDAR, DEV_CAMERA.
    out : 1-element view of NAV_STATE: r, v, sigmas, sensor, accepted and rejected are written.

    Returns
    -------
    int : the sensor last used (0 none) OR'ed with ``1 << (REJECT_SHIFT + sensor)`` per rejection.

    Notes
    -----
    Hand-over by range and validity: a sample is used when its own measured range lies in the
    sensor's band (GNSS beyond 200 m, lidar inside 5 km, camera inside 150 m in the shipped
    configuration). Lidar and camera need a valid attitude to map B into LVLH.
    """
    result = 0
    att_ok = att[0].valid != 0
    if att_ok:
        c_b_lvlh(att[0].q_BN, orbit[0].C_LVLH_N, C_B_LVLH)
    o = out[0]
    for i in range(3):
        dv[i] = 0.0
    t = thr[0]
    if t.seq != last_seq[SEQ_THR]:
        last_seq[SEQ_THR] = t.seq
        for i in range(3):
            dv[i] = t.dv_LVLH_mps[i]
    ob = orbit[0]
    if dt_s > 0.0:
        if station_prev[SP_SET] != 0.0 and ob.seq != 0:
            relnav_predict_orbit(x, P, station_prev[SP_RV:SP_RV + 6], ob.rv_N, ob.C_LVLH_N, ob.omega_LN_L_rad_s,
                                 h_offset[0:3], prm[PRM_EARTH:PRM_EARTH + 3], dt_s, dv, prm[PRM_Q_ACCEL], work)
        else:
            relnav_predict(x, P, ob.n_rad_s, dt_s, dv, prm[PRM_Q_ACCEL], work)
        # Thrust magnitude and direction errors: the executed delta-v is uncertain in proportion
        # to its size (thruster tolerance, misalignment), on top of the white acceleration noise.
        dv2 = dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]
        if dv2 > 0.0:
            var = prm[PRM_DV_FRAC] * prm[PRM_DV_FRAC] * dv2
            for i in range(3):
                P[3 + i, 3 + i] += var
    if ob.seq != 0:  # an ephemeris is published: from now on the relative motion is that of the two orbits
        for i in range(6):
            station_prev[SP_RV + i] = ob.rv_N[i]
        station_prev[SP_SET] = 1.0
    g = gnss[0]
    if g.seq != last_seq[SEQ_GNSS]:
        last_seq[SEQ_GNSS] = g.seq
        rng = math.sqrt((g.r_LVLH_m[0] - h_offset[0]) ** 2 + (g.r_LVLH_m[1] - h_offset[1]) ** 2
                        + (g.r_LVLH_m[2] - h_offset[2]) ** 2)
        if g.valid != 0 and prm[PRM_BAND] <= rng <= prm[PRM_BAND + 1]:
            ok, _ = relnav_update_gnss(x, P, g.r_LVLH_m, g.v_LVLH_mps, h_offset, prm[PRM_GNSS_SR],
                                       prm[PRM_GNSS_SV], prm[PRM_GATE6], work)
            result = _count(o, ok, SENSOR_GNSS, result)
    li = lidar[0]
    if li.seq != last_seq[SEQ_LIDAR]:
        last_seq[SEQ_LIDAR] = li.seq
        if li.valid != 0 and att_ok and prm[PRM_BAND + 2] <= li.range_m <= prm[PRM_BAND + 3]:
            ok, _ = relnav_update_lidar(x, P, li.range_m, li.az_rad, li.el_rad, C_B_LVLH, geo[GEO_SENSOR_B],
                                        geo[GEO_REFLECTOR], prm[PRM_LIDAR_SR], prm[PRM_LIDAR_SF],
                                        prm[PRM_LIDAR_SA], prm[PRM_GATE3], work)
            result = _count(o, ok, SENSOR_LIDAR, result)
    c = cam[0]
    if c.seq != last_seq[SEQ_CAMERA]:
        last_seq[SEQ_CAMERA] = c.seq
        rng = math.sqrt(c.r_B_m[0] ** 2 + c.r_B_m[1] ** 2 + c.r_B_m[2] ** 2)
        if c.valid != 0 and att_ok and prm[PRM_BAND + 4] <= rng <= prm[PRM_BAND + 5]:
            sigma = prm[PRM_CAM_S] + prm[PRM_CAM_SA] * rng
            ok, _ = relnav_update_camera(x, P, c.r_B_m, C_B_LVLH, geo[GEO_SENSOR_B], geo[GEO_CAM_TARGET], sigma,
                                         prm[PRM_GATE3], work)
            result = _count(o, ok, SENSOR_CAMERA, result)
    for i in range(3):
        o.r_LVLH_m[i] = x[i]
        o.v_LVLH_mps[i] = x[3 + i]
        o.sigma_r_m[i] = math.sqrt(max(P[i, i], 0.0))
        o.sigma_v_mps[i] = math.sqrt(max(P[3 + i, 3 + i], 0.0))
    return result


@njit(cache=True)
def _count(o, accepted, sensor, result):
    if accepted:
        o.accepted += 1
        o.sensor = sensor
        return (result & ~0xF) | sensor
    o.rejected += 1
    return result | (1 << (REJECT_SHIFT + sensor))


# relnav_app_step state (int64)
ST_T_PREV = 0        # [ns] time the filter state holds
ST_LAST_ACCEPT = 1   # [ns] last accepted measurement
ST_TIMEOUT = 2       # [ns] valid only if a measurement was accepted this recently (parameter)
ST_WAS_VALID = 3     # valid flag published at the last step
N_ST = 4
F_VALID_CHANGED = 1 << 12  # returned: NAV_STATE.valid changed at this step


@njit(cache=True)
def relnav_app_step(t_ns, st, rejects, max_sigma_r_m, x, P, work, dv, C_B_LVLH, h_offset, geo, prm, last_seq,
                    station_prev, att, orbit, thr, gnss, lidar, cam, out):
    """The navigation app's step once the filter is initialised: :func:`relnav_step`, then validity.

    ``st`` : (N_ST,) int64 in/out. ``rejects`` : (4,) int64 in/out, rejections in a row per sensor
    code (an accepted measurement zeroes its sensor's count). The solution is valid while a
    measurement was accepted within ``st[ST_TIMEOUT]`` and every position sigma is at most
    ``max_sigma_r_m``. Writes NAV_STATE (``out``) valid / t_ns / seq as well.

    Returns :func:`relnav_step`'s bits, OR'ed with F_VALID_CHANGED.
    """
    dt = (t_ns - st[ST_T_PREV]) * 1e-9
    st[ST_T_PREV] = t_ns
    result = relnav_step(x, P, work, dv, C_B_LVLH, h_offset, geo, prm, last_seq, station_prev, dt, att, orbit, thr,
                         gnss, lidar, cam, out)
    used = result & 0xF
    if used:
        st[ST_LAST_ACCEPT] = t_ns
        rejects[used] = 0
    for s in range(1, 4):
        if result & (1 << (REJECT_SHIFT + s)):
            rejects[s] += 1
    o = out[0]
    sig = max(o.sigma_r_m[0], o.sigma_r_m[1], o.sigma_r_m[2])
    valid = t_ns - st[ST_LAST_ACCEPT] <= st[ST_TIMEOUT] and sig <= max_sigma_r_m
    o.valid = valid
    o.t_ns = t_ns
    o.seq += 1
    v = 1 if valid else 0
    if v != st[ST_WAS_VALID]:
        st[ST_WAS_VALID] = v
        result |= F_VALID_CHANGED
    return result

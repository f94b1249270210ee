"""One navigation-filter step as a single kernel call: predict, hand-over, gated updates, publish.

The relative-navigation app calls :func:`relnav_step` once per 10 Hz cycle; initialisation (rare)
stays in Python. Records are 1-element views of the software-bus / HAL records (numba reads and
writes their fields in place), so nothing is copied between the app and the kernel.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .attitude import c_b_lvlh
from .ephemeris import lvlh_frame_j2, orbit_ref_step
from .estimation import (
    RN_ACCEL,
    RN_GNSS_BIAS,
    RN_GNSS_VBIAS,
    RN_LIDAR_BIAS,
    RN_STATES,
    RN_TARGET,
    port_los_B,
    relnav_predict,
    relnav_predict_accel,
    relnav_predict_biases,
    relnav_predict_ephemeris_error,
    relnav_predict_orbit,
    relnav_reset_biases,
    relnav_update_camera,
    relnav_update_gnss,
    relnav_update_lidar,
    sample_age_s,
)

#: The filter's parameters (fsw/config/gnc.toml [navigation], [station], [earth]), one record. The sensor
#: models are those of docs/sensors.md; docs/navigation.md gives the filter's design.
RELNAV_PARAMS = np.dtype([
    ("q_accel_m2_s3", "f8"),            # process noise PSD of a white acceleration, per axis (a floor)
    ("accel_tau_s", "f8", (3,)),        # the relative acceleration left out (LVLH): correlation time of a
                                        # Gauss-Markov state per axis, whose sigma is the differential drag's (y,
                                        # drag_sigma_mps2), the port's (x, z) and dv_sigma_frac x the thrusters'
                                        # sustained level, in quadrature
    ("drag_pressure_Pa", "f8"),         # the differential drag: 1/2 v^2 rho_rms, the dynamic pressure at the
                                        # station's height for the RMS of the density's spread ...
    ("drag_scale_height_m", "f8"),      # ... the density's scale height ...
    ("drag_station_cda_m2_kg", "f8"),   # ... Cd A / m of the station ...
    ("drag_chaser_cda_m2_kg", "f8", (2,)),  # ... and of the chaser: mean and standard deviation (its area's spread)
    ("thrust_level_tau_s", "f8"),       # the sustained level: (impulse_sum - |net dv|) / period, low-passed with this,
                                        # and the thrusters' net delta-v per second (a vector) too, the window
                                        # against which a period's share no burn's model carries is judged ...
    ("thrust_share_tau_s", "f8"),       # ... that share, low-passed over this: a sustained net thrust's level ...
    ("thrust_net_tau_s", "f8"),         # ... which counts only while the same low-pass over this shorter time still
                                        # sees it (a thrust that stopped drops out); 0: the term is off
    ("gate_chi2_3dof", "f8"),           # innovation gates
    ("gate_chi2_6dof", "f8"),
    ("gnss_sigma_r_m", "f8"),           # relative GNSS white noise per axis, far from the station ...
    ("gnss_multipath_range_m", "f8"),   # ... times (1 + (this / range)^2): multipath near the station
    ("gnss_sigma_v_mps", "f8"),
    ("gnss_bias_sigma_m", "f8", (3,)),  # relative GNSS correlated error: steady-state sigma per LVLH axis
    ("gnss_bias_tau_s", "f8", (3,)),    # and correlation time (of the velocity error too)
    ("gnss_vbias_sigma_mps", "f8", (3,)),  # relative GNSS correlated velocity error: steady-state sigma per axis
    ("lidar_sigma_range_m", "f8"),      # laser radar: range sigma = sqrt(floor^2 + (fraction x range)^2)
    ("lidar_sigma_range_frac", "f8"),
    ("lidar_sigma_angle_rad", "f8"),    # angle sigma = floor + near-field part x near_range / (range + near_range)
    ("lidar_sigma_angle_near_rad", "f8"),
    ("lidar_angle_near_range_m", "f8"),
    ("lidar_bias_sigma", "f8", (3,)),   # laser radar bias [m, rad, rad]: steady-state sigma ...
    ("lidar_bias_tau_s", "f8", (3,)),   # ... and correlation time
    ("camera_sigma_lateral_m", "f8"),   # docking camera: lateral sigma = floor + fraction x range,
    ("camera_sigma_lateral_frac", "f8"),
    ("camera_sigma_depth_m", "f8"),     # depth (boresight) sigma = floor + coefficient x range^2
    ("camera_sigma_depth_per_m", "f8"),
    ("target_sigma_m", "f8", (3,)),     # the station target's calibration error (its laser radar reflectors and
                                        # camera pattern against the docking axis), 1-sigma per LVLH axis: a constant
    ("gnss_abs_sigma_r_m", "f8"),       # absolute GNSS against the station ephemeris, white per axis
    ("gnss_abs_sigma_v_mps", "f8"),
    ("gnss_abs_bias_sigma_m", "f8", (3,)),  # its correlated error (receiver and uplinked ephemeris), per LVLH axis
    ("gnss_abs_vbias_sigma_mps", "f8", (3,)),  # and velocity error, per LVLH axis: the two move as a relative orbit
    ("gnss_abs_q_accel_m2_s3", "f8"),   # ... with this white acceleration (what the onboard ephemeris leaves out)
    ("gnss_band_m", "f8", (2,)),        # hand-over: each sensor used while the predicted range is in its band ...
    ("gnss_abs_band_m", "f8", (2,)),
    ("lidar_band_m", "f8", (2,)),
    ("camera_band_m", "f8", (2,)),
    ("band_plausible_sigma", "f8"),     # ... and its measured range inside the band widened by this many of its sigmas
    ("dv_sigma_frac", "f8"),            # 1-sigma execution error of a commanded delta-v per axis, fraction of its
                                        # size (RMS of the two below over the three axes)
    ("dv_sigma_along_frac", "f8"),      # ... along a burn's delta-v (thrust error) ...
    ("dv_sigma_across_frac", "f8"),     # ... and across it (misalignment), per axis
    ("burn_gap_tau_s", "f8"),           # a burn's accumulated delta-v fades with this over quiet periods (0: ends)
    ("port_accel_sigma_mps2", "f8"),    # the port's acceleration (station attitude), x and z, while navigation
                                        # rests on a sensor that measures the port (the laser radar, the camera)
    ("earth", "f8", (3,)),              # mu [m^3/s^2], equatorial radius [m], J2: the relative motion's gravity
    ("port_L_m", "f8", (3,)),           # station port w.r.t. the station CoM, LVLH (relative GNSS measures CoMs)
    ("sensor_B_m", "f8", (3,)),         # lidar / camera w.r.t. the chaser CoM, B
    ("reflector_L_m", "f8", (3,)),      # lidar reflector w.r.t. the station port, LVLH
    ("camera_target_L_m", "f8", (3,)),  # camera target w.r.t. the station port, LVLH
    ("valid_timeout_ns", "i8"),         # valid only while a measurement was accepted this recently ...
    ("valid_max_sigma_r_m", "f8"),      # ... and every position sigma is at most this ...
    ("valid_max_sigma_frac", "f8"),     # ... or this fraction of the range, far out
    ("blind_range_m", "f8"),            # inside this estimated port-to-port range no sensor sees the port: the
                                        # solution stays valid on its covariance alone (the last metre's coast)
    ("docked_r_L_m", "f8", (3,)),       # the state when the ports coincide (CoM w.r.t. the port, LVLH)
    ("camera_att_range_m", "f8"),       # the camera's relative attitude is used inside this range
    ("port_tilt_tau_s", "f8"),          # low-pass time constant of the port's attitude
    ("port_tilt_timeout_ns", "i8"),     # the port's attitude is fresh this long after a camera sample
    ("C_RL", "f8", (3, 3)),             # docking attitude in LVLH (rows: B axes in L)
], align=True)

DV_HIST = 16   # steps of delta-v kept (1.6 s at 10 Hz): more than a GNSS sample's 0.5 s latency
NET_DV_FLOOR_MPS = 1e-9  # [m/s] a period's net delta-v below this is the rounding of pulses that cancel (couples),
                         # not a burn's thrust: a translation thruster's shortest pulse gives 3e-4 m/s
N_SENSORS = 5  # sensor codes 0 (none), GNSS, LIDAR, CAMERA, GNSS_ABS (telemetry.dictionary.NAV_SENSORS)

#: The filter: its state, covariance and bookkeeping between steps.
RELNAV_FILTER = np.dtype([
    ("x", "f8", (RN_STATES,)),          # [r m, v m/s] chaser CoM w.r.t. the station port, LVLH; then the GNSS
                                        # position and velocity errors [m, m/s] (LVLH), the laser radar bias [m,
                                        # rad, rad], the acceleration left out [m/s^2] (LVLH) and the station
                                        # target's calibration error [m] (LVLH); estimation.RN_*
    ("P", "f8", (RN_STATES, RN_STATES)),  # its covariance
    ("t_prev_ns", "i8"),                # time the state holds
    ("last_accept_ns", "i8"),           # last accepted measurement
    ("was_valid", "i8"),                # valid flag published at the last step
    ("seq_gnss", "i8"),                 # seq of the last GNSS, lidar, camera sample and thruster period used
    ("seq_lidar", "i8"),
    ("seq_camera", "i8"),
    ("seq_thr", "i8"),
    ("rejects", "i8", (N_SENSORS,)),    # rejections in a row, by sensor code
    ("station_rv_N", "f8", (6,)),       # the station ephemeris at the time the state holds ...
    ("station_set", "u1"),              # ... once set: the relative motion is that of the two orbits (else CW)
    ("C_B_LVLH", "f8", (3, 3)),         # rotation LVLH -> B from the attitude estimate, at the time of the last
                                        # laser radar or camera sample (attitude_at)
    ("dv_L_mps", "f8", (3,)),           # the thruster delta-v of the period
    ("burn_dv_mps", "f8"),              # |delta-v| accumulated over the burn in progress (fading between burns)
    ("burn_couples_mps", "f8"),         # ... and the impulses that cancel in its net delta-v (couples) it carries
    ("thrust_ns", "i8"),                # the last thrust acted until this time [ns] ...
    ("thrust_acc_mps2", "f8"),          # ... at this acceleration (its period's mean)
    ("seq_gnss_abs", "i8"),             # seq of the last absolute GNSS sample and engine period used
    ("seq_eng", "i8"),
    ("gabs_r_L_m", "f8", (3,)),         # the absolute GNSS sample as a relative one: chaser CoM w.r.t. the station
    ("gabs_v_L_mps", "f8", (3,)),       # CoM, LVLH (the onboard station ephemeris subtracted)
    ("gnss_bias_source", "i8"),         # sensor code whose error the GNSS bias states hold (0: none yet)
    ("last_gnss_ns", "i8"),             # time of the last relative GNSS sample fused
    ("sigma_cam_B_m", "f8", (3,)),      # the camera's noise at the current sample, B (scratch)
    ("port_tilt_rad", "f8", (3,)),      # low-passed port attitude w.r.t. LVLH, docking-attitude axes
    ("port_tilt_ns", "i8"),             # time of its last camera sample (0: none)
    ("C_scratch", "f8", (4, 3, 3)),     # scratch of attitude_at
    ("refined_N", "f8", (6,)),          # ORBIT_REF.refined_N already moved into station_rv_N
    ("dv_hist_L_mps", "f8", (DV_HIST, 3)),  # the last steps' delta-v (thrusters and engines), LVLH ...
    ("dv_hist_ns", "i8", (DV_HIST, 2)),  # ... and the period each acted over [start, end] (ring, by dv_hist_next)
    ("dv_hist_next", "i8"),
    ("meas_r_L_m", "f8", (3,)),         # a GNSS sample with the thrust since it was taken added (scratch)
    ("meas_v_L_mps", "f8", (3,)),
    ("thrust_dr_m", "f8", (3,)),        # that thrust's position and velocity (scratch of _thrust_after)
    ("thrust_dv_mps", "f8", (3,)),
    ("thrust_level_mps2", "f8"),        # the thrusters' sustained level: the impulses that cancel in the net
                                        # delta-v (couples) per second, low-passed (thrust_level_tau_s)
    ("thrust_net_mps2", "f8", (3, 3)),  # the thrusters' net delta-v per second, LVLH, low-passed over
                                        # thrust_level_tau_s (row 0); the share of it no burn's model carries,
                                        # over thrust_share_tau_s (row 1) and thrust_net_tau_s (row 2)
    ("accel_sigma_mps2", "f8", (3,)),   # the acceleration states' sigma of this step (scratch) ...
    ("thrust_var_m2_s4", "f8", (3,)),   # ... the sustained net thrust's part of its square (scratch) ...
    ("thrust_admitted_m2_s4", "f8", (3,)),  # ... and the variance the states' process has admitted of that part:
                                        # topped up to it at once when it rises (_top_up_thrust)
    ("los_B_m", "f8", (3,)),            # a laser radar / camera sample's predicted line of sight, B (scratch)
], align=True)
SENSOR_GNSS, SENSOR_LIDAR, SENSOR_CAMERA, SENSOR_GNSS_ABS = 1, 2, 3, 4
REJECT_SHIFT = 4         # return bit (REJECT_SHIFT + sensor) set: that sensor's measurement was rejected
F_VALID_CHANGED = 1 << 12  # returned: NAV_STATE.valid changed at this step


@njit(cache=True)
def relnav_step(prm, flt, work, att, orbit, thr, eng, gnss, gabs, lidar, cam, out, dt_s):
    """Advance the relative-navigation EKF to now and fuse every new, in-band, valid measurement.

    Parameters
    ----------
    prm : RELNAV_PARAMS (1,). flt : RELNAV_FILTER (1,), in/out. work : ``estimation.WORK_SHAPE`` scratch.
    att, orbit, thr, eng : 1-element views of ATT_STATE, ORBIT_REF, THRUSTER_PERIOD, ENGINE_PERIOD.
    gnss, gabs, lidar, cam : 1-element views of DEV_GNSS_REL, DEV_GNSS_ABS, DEV_LIDAR, DEV_CAMERA.
    out : 1-element view of NAV_STATE: r, v, sigmas, sensor, accepted and rejected are written.
    dt_s : [s] time since the last step.

    Returns
    -------
    int : the sensor last used (0 none) OR'ed with ``1 << (REJECT_SHIFT + sensor)`` per rejection.

    Notes
    -----
    Hand-over by range and validity: a sample is used when the range the state predicts for it lies in
    the sensor's band (gnc.toml [navigation] *_range_m) and its measured range is plausible, inside the
    band widened by ``band_plausible_sigma`` of its error (:func:`_in_band`). Lidar and camera need a valid
    attitude to map B into LVLH. Absolute GNSS (far out, beyond the relative GNSS link) is turned into a relative
    measurement against the onboard station ephemeris (transport theorem); it is not used while relative
    GNSS is. Each sample is fused against the state of the time it was taken (its ``t_ns``; sensor
    latency). The GNSS solution's correlated error (relative GNSS, or absolute GNSS with the ephemeris'
    error) and the laser radar's bias are Gauss-Markov states of the filter; the GNSS states restart
    when the other GNSS source takes over. docs/navigation.md.
    """
    p = prm[0]
    f = flt[0]
    x = f.x
    P = f.P
    C_B_LVLH = f.C_B_LVLH
    dv = f.dv_L_mps
    result = 0
    att_ok = att[0].valid != 0
    o = out[0]
    for i in range(3):
        dv[i] = 0.0
    t = thr[0]
    impulses = 0.0
    thr_new = t.seq != f.seq_thr
    if thr_new:
        f.seq_thr = t.seq
        for i in range(3):
            dv[i] = t.dv_LVLH_mps[i]
        # the impulses that cancel in the period's net delta-v (couples, opposed pulses): the net's own error is
        # the burn's (below), theirs is left over as an acceleration
        impulses = max(t.impulse_sum_mps - math.sqrt(dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]), 0.0)
    e = eng[0]
    if e.seq != f.seq_eng:
        f.seq_eng = e.seq
        for i in range(3):
            dv[i] += e.dv_LVLH_mps[i]
    ob = orbit[0]
    abs_bias = f.gnss_bias_source == SENSOR_GNSS_ABS
    if f.station_set != 0:  # the ephemeris was refined since the last step: knowledge, not motion (orbit_ref)
        for i in range(6):
            d = ob.refined_N[i] - f.refined_N[i]
            f.station_rv_N[i] += d
            f.refined_N[i] = ob.refined_N[i]
    if dt_s > 0.0:
        if f.station_set != 0 and ob.seq != 0:
            relnav_predict_orbit(x, P, f.station_rv_N, ob.rv_N, ob.C_LVLH_N, ob.omega_LN_L_rad_s, p.port_L_m,
                                 p.earth, dt_s, dv, p.q_accel_m2_s3, work)
        else:
            relnav_predict(x, P, ob.n_rad_s, dt_s, dv, p.q_accel_m2_s3, work)
        if abs_bias:  # the station ephemeris' error: a relative orbit
            relnav_predict_ephemeris_error(x, P, RN_GNSS_BIAS, ob.n_rad_s, dt_s, p.gnss_abs_q_accel_m2_s3, work)
        else:  # the relative receiver's correlated errors
            relnav_predict_biases(x, P, RN_GNSS_BIAS, 3, p.gnss_bias_tau_s, p.gnss_bias_sigma_m, dt_s)
            relnav_predict_biases(x, P, RN_GNSS_VBIAS, 3, p.gnss_bias_tau_s, p.gnss_vbias_sigma_mps, dt_s)
        relnav_predict_biases(x, P, RN_LIDAR_BIAS, 3, p.lidar_bias_tau_s, p.lidar_bias_sigma, dt_s)
        # The acceleration left out: the environment's (accel_sigma_mps2), and the execution error of the
        # thrusters' pulses that cancel in the net delta-v (couples: a systematic error per thruster, the same
        # over minutes of pulses) but those a burn carries (below; docs/navigation.md)
        gain = min(1.0, dt_s / p.thrust_level_tau_s) if p.thrust_level_tau_s > 0.0 else 1.0
        share = _sustained_thrust(p, f, t.dv_LVLH_mps, 1.0 if thr_new else 0.0, dt_s, gain)
        # The couples that fire with a burn's thrust (holding attitude against the burn's torque: a transfer's
        # 7 s) are the burn's in the share its model carries: their error is a velocity error at once, like the
        # burn's (below), not an acceleration held for the level's 100 s and the states' tau after the burn
        # ended. A pulsed sustained thrust's and a limit cycle's couples stay in the level (docs/navigation.md,
        # "The couples of a burn")
        dv2 = dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]
        burn_couples = impulses * (1.0 - share) if dv2 > NET_DV_FLOOR_MPS * NET_DV_FLOOR_MPS else 0.0
        f.thrust_level_mps2 += ((impulses - burn_couples) / dt_s - f.thrust_level_mps2) * gain
        s_thr = p.dv_sigma_frac * f.thrust_level_mps2
        # the state is w.r.t. the port, which moves as the station holds attitude (0.4 mm/s RMS across track): it
        # counts wherever the leading sensor measures the port, the laser radar's reflectors and the camera's
        # pattern; not with GNSS, which measures centre to centre (docs/navigation.md, "The 5 km gate, traced")
        s_port = p.port_accel_sigma_mps2 if o.sensor == SENSOR_CAMERA or o.sensor == SENSOR_LIDAR else 0.0
        if f.station_set != 0:
            r_s = _norm3(f.station_rv_N[0], f.station_rv_N[1], f.station_rv_N[2])
        elif ob.n_rad_s > 0.0:  # CW: the circular orbit of the reference mean motion
            r_s = (p.earth[0] / (ob.n_rad_s * ob.n_rad_s)) ** (1.0 / 3.0)
        else:
            r_s = p.earth[1]
        s_drag = drag_sigma_at_mps2(p, x, r_s)
        for i in range(3):
            s_env = s_drag if i == 1 else s_port
            s_net = f.accel_sigma_mps2[i]  # _sustained_thrust's
            f.thrust_var_m2_s4[i] = s_net * s_net
            f.accel_sigma_mps2[i] = math.sqrt(s_env * s_env + s_thr * s_thr + f.thrust_var_m2_s4[i])
        relnav_predict_accel(x, P, RN_ACCEL, p.accel_tau_s, f.accel_sigma_mps2, dt_s)
        _top_up_thrust(p, f, P, dt_s)
        # Thrust magnitude and direction errors (thruster tolerance, misalignment, the loaded mass): the
        # executed delta-v is uncertain in proportion to its size, and the error is systematic over a burn,
        # so its sigma grows with the burn's accumulated delta-v S (variance frac^2 S^2), not as a random
        # walk of independent periods (which, over a 6 m/s burn of 0.1 s periods, understated it 30-fold).
        if dv2 > 0.0:
            k = f.dv_hist_next % DV_HIST
            f.dv_hist_next += 1
            f.dv_hist_ns[k, 0] = f.t_prev_ns - int(dt_s * 1e9 + 0.5)
            f.dv_hist_ns[k, 1] = f.t_prev_ns
            for i in range(3):
                f.dv_hist_L_mps[k, i] = dv[i]
            mag = math.sqrt(dv2)
            acc = f.burn_dv_mps
            grow = (acc + mag) * (acc + mag) - acc * acc
            f.burn_dv_mps = acc + mag
            # along the burn (the thrust's error) and across it (the thrusters' misalignment)
            va = p.dv_sigma_along_frac * p.dv_sigma_along_frac * grow
            vc = p.dv_sigma_across_frac * p.dv_sigma_across_frac * grow
            # its couples: one systematic error over the burn as well, dv_sigma_frac per axis (their direction
            # is every attitude group's)
            c = f.burn_couples_mps
            f.burn_couples_mps = c + burn_couples
            vq = p.dv_sigma_frac * p.dv_sigma_frac * ((c + burn_couples) * (c + burn_couples) - c * c)
            for i in range(3):
                for j in range(3):
                    P[3 + i, 3 + j] += (va - vc) * dv[i] * dv[j] / dv2 + (vc + vq if i == j else 0.0)
        elif p.burn_gap_tau_s > 0.0:  # a quiet period: the burn fades (a pulsed burn's gaps do not end it)
            fade = math.exp(-dt_s / p.burn_gap_tau_s)
            f.burn_dv_mps *= fade
            f.burn_couples_mps *= fade
        else:
            f.burn_dv_mps = 0.0
            f.burn_couples_mps = 0.0
    if ob.seq != 0:  # an ephemeris is published: from now on the relative motion is that of the two orbits
        for i in range(6):
            f.station_rv_N[i] = ob.rv_N[i]
        f.station_set = 1
    # A sample's t_ns is when it was taken; it is fused against the state of that time (lag_s back)
    n_rad_s = ob.omega_LN_L_rad_s[2] if ob.seq != 0 else ob.n_rad_s
    now = f.t_prev_ns
    # ... along the orbit, not through a burn: a GNSS sample gets the delta-v of the periods since it was taken
    # added (_thrust_after: 0.03 m/s for the 0.5 s latency of a 0.06 m/s^2 thruster burn, which the filter
    # otherwise learnt as a lag of its velocity), and as extra noise what stays unknown of it (_during_burn)
    acc_mps2 = math.sqrt(dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]) / dt_s if dt_s > 0.0 else 0.0
    if acc_mps2 > 0.0:
        f.thrust_ns = now
        f.thrust_acc_mps2 = acc_mps2
    g = gnss[0]
    if g.seq != f.seq_gnss:
        f.seq_gnss = g.seq
        rng = math.sqrt((g.r_LVLH_m[0] - p.port_L_m[0]) ** 2 + (g.r_LVLH_m[1] - p.port_L_m[1]) ** 2
                        + (g.r_LVLH_m[2] - p.port_L_m[2]) ** 2)
        mp = p.gnss_multipath_range_m / max(rng, 1.0)
        grow = 1.0 + mp * mp  # multipath: the white and the correlated errors both grow (docs/sensors.md s.5)
        s_rng = grow * math.sqrt(p.gnss_sigma_r_m ** 2 + max(p.gnss_bias_sigma_m[0], p.gnss_bias_sigma_m[1],
                                                              p.gnss_bias_sigma_m[2]) ** 2)
        if g.valid != 0 and _in_band(p.gnss_band_m, _norm3(x[0], x[1], x[2]), rng, s_rng, p.band_plausible_sigma):
            if f.gnss_bias_source != SENSOR_GNSS:  # a new error source takes the bias states over
                relnav_reset_biases(x, P, RN_GNSS_BIAS, 3, p.gnss_bias_sigma_m)
                relnav_reset_biases(x, P, RN_GNSS_VBIAS, 3, p.gnss_vbias_sigma_mps)
                f.gnss_bias_source = SENSOR_GNSS
            lag = sample_age_s(now, g.t_ns)
            # compared with the state of its time, less the thrust since (the transition takes back the orbit only)
            du = _thrust_after(f, g.t_ns, g.t_ns)
            for i in range(3):
                f.meas_r_L_m[i] = g.r_LVLH_m[i] + f.thrust_dr_m[i]
                f.meas_v_L_mps[i] = g.v_LVLH_mps[i] + f.thrust_dv_mps[i]
            sr, sv = _during_burn(p.gnss_sigma_r_m * grow, p.gnss_sigma_v_mps * grow, f.thrust_acc_mps2,
                                  _thrust_since(f.thrust_ns, g.t_ns, lag), dt_s, p.dv_sigma_frac * du)
            ok, _ = relnav_update_gnss(x, P, f.meas_r_L_m, f.meas_v_L_mps, p.port_L_m, sr, sv, p.gate_chi2_6dof,
                                       work, lag, n_rad_s, RN_GNSS_BIAS, grow, RN_GNSS_VBIAS)
            f.last_gnss_ns = now
            result = _count(o, ok, SENSOR_GNSS, result)
    ga = gabs[0]
    if ga.seq != f.seq_gnss_abs:
        f.seq_gnss_abs = ga.seq
        # relative GNSS, when it is there, is the better measurement of the same thing: no absolute GNSS then
        rel_recent = f.gnss_bias_source == SENSOR_GNSS and now - f.last_gnss_ns <= _GNSS_ABS_BACKUP_NS
        if ga.valid != 0 and ob.seq != 0 and not rel_recent:
            # carried to now by the conversion, so fused with no lag of its own
            lag = sample_age_s(now, ga.t_ns)
            rng = gnss_abs_relative(ga.r_N_m, ga.v_N_mps, ob.rv_N, ob.C_LVLH_N, ob.omega_LN_L_rad_s, p.port_L_m,
                                    f.gabs_r_L_m, f.gabs_v_L_mps, lag, p.earth[0])
            ab = p.gnss_abs_bias_sigma_m
            s_rng = math.sqrt(p.gnss_abs_sigma_r_m ** 2 + max(ab[0], ab[1], ab[2]) ** 2)
            if _in_band(p.gnss_abs_band_m, _norm3(x[0], x[1], x[2]), rng, s_rng, p.band_plausible_sigma):
                if f.gnss_bias_source != SENSOR_GNSS_ABS:
                    relnav_reset_biases(x, P, RN_GNSS_BIAS, 3, p.gnss_abs_bias_sigma_m)
                    relnav_reset_biases(x, P, RN_GNSS_VBIAS, 3, p.gnss_abs_vbias_sigma_mps)
                    f.gnss_bias_source = SENSOR_GNSS_ABS
                du = _thrust_after(f, ga.t_ns, now)  # carried to now on its orbit, not through the thrust since
                for i in range(3):
                    f.gabs_r_L_m[i] += f.thrust_dr_m[i]
                    f.gabs_v_L_mps[i] += f.thrust_dv_mps[i]
                sr, sv = _during_burn(p.gnss_abs_sigma_r_m, p.gnss_abs_sigma_v_mps, f.thrust_acc_mps2,
                                      _thrust_since(f.thrust_ns, ga.t_ns, lag), dt_s, p.dv_sigma_frac * du)
                ok, _ = relnav_update_gnss(x, P, f.gabs_r_L_m, f.gabs_v_L_mps, p.port_L_m, sr, sv, p.gate_chi2_6dof,
                                           work, 0.0, n_rad_s, RN_GNSS_BIAS, 1.0, RN_GNSS_VBIAS)
                result = _count(o, ok, SENSOR_GNSS_ABS, result)
    li = lidar[0]
    if li.seq != f.seq_lidar:
        f.seq_lidar = li.seq
        rng = li.range_m
        sr = math.sqrt(p.lidar_sigma_range_m ** 2 + (p.lidar_sigma_range_frac * rng) ** 2)
        in_band = False
        if li.valid != 0 and att_ok:
            attitude_at(att, orbit, li.t_ns, f.C_scratch, C_B_LVLH)
            predicted = _sensor_range(x, C_B_LVLH, p.sensor_B_m, p.reflector_L_m, f.los_B_m)
            in_band = _in_band(p.lidar_band_m, predicted, rng, math.sqrt(sr * sr + p.lidar_bias_sigma[0] ** 2),
                               p.band_plausible_sigma)
        if in_band:
            r0 = p.lidar_angle_near_range_m
            sa = p.lidar_sigma_angle_rad + p.lidar_sigma_angle_near_rad * r0 / (rng + r0)
            ok, _ = relnav_update_lidar(x, P, rng, li.az_rad, li.el_rad, C_B_LVLH, p.sensor_B_m, p.reflector_L_m, sr,
                                        sa, p.gate_chi2_3dof, work, sample_age_s(now, li.t_ns), n_rad_s, RN_LIDAR_BIAS,
                                        RN_TARGET)
            result = _count(o, ok, SENSOR_LIDAR, result)
    c = cam[0]
    if c.seq != f.seq_camera:
        f.seq_camera = c.seq
        rng = math.sqrt(c.r_B_m[0] ** 2 + c.r_B_m[1] ** 2 + c.r_B_m[2] ** 2)
        sig = f.sigma_cam_B_m
        sig[0] = p.camera_sigma_depth_m + p.camera_sigma_depth_per_m * rng * rng  # along the boresight x_B
        sig[1] = sig[2] = p.camera_sigma_lateral_m + p.camera_sigma_lateral_frac * rng
        in_band = False
        if c.valid != 0 and att_ok:
            attitude_at(att, orbit, c.t_ns, f.C_scratch, C_B_LVLH)
            predicted = _sensor_range(x, C_B_LVLH, p.sensor_B_m, p.camera_target_L_m, f.los_B_m)
            in_band = _in_band(p.camera_band_m, predicted, rng, sig[0], p.band_plausible_sigma)
        if in_band:
            ok, _ = relnav_update_camera(x, P, c.r_B_m, C_B_LVLH, p.sensor_B_m, p.camera_target_L_m, sig,
                                         p.gate_chi2_3dof, work, sample_age_s(now, c.t_ns), n_rad_s, RN_TARGET)
            result = _count(o, ok, SENSOR_CAMERA, result)
            if ok and rng <= p.camera_att_range_m:
                _port_tilt(p, f, c.att_rad, C_B_LVLH, now)
    fresh = f.port_tilt_ns != 0 and now - f.port_tilt_ns <= p.port_tilt_timeout_ns
    o.port_tilt_valid = 1 if fresh else 0
    for i in range(3):
        o.port_tilt_rad[i] = f.port_tilt_rad[i]
    for i in range(3):
        o.r_LVLH_m[i] = x[i]
        o.v_LVLH_mps[i] = x[3 + i]
        o.sigma_r_m[i] = math.sqrt(max(P[i, i], 0.0))
        o.sigma_v_mps[i] = math.sqrt(max(P[3 + i, 3 + i], 0.0))
    return result


@njit(cache=True)
def _sustained_thrust(p, f, dv_thr, new, dt_s, gain):
    """The execution error of a sustained net thrust, as the acceleration states' sigma per LVLH axis, in
    ``f.accel_sigma_mps2`` (the caller adds the other terms in quadrature).

    A thrust held for minutes (the radial thrust that keeps a V-bar approach straight against the Coriolis
    acceleration, 2 n v: 9e-4 m/s^2 at 0.4 m/s) is often pulsed a second or more apart: the burn's model
    (``burn_dv_mps``) lets it fade between pulses and counts each as its own, while the thrusters' error is the
    same for all of them, an acceleration of 1-2 % of the thrust. The net delta-v per second (``dv_thr``, the
    last thruster period's delta-v, times ``new``: 1 when that period is new at this step, else 0) is low-passed
    over ``thrust_level_tau_s`` (``gain``, row 0): the window W = |row 0| x thrust_level_tau_s against which each
    period's delta-v is judged. The share of it that the burn's model does not carry, 1 - (S + |dv|) / W (a burn
    that thrusts every period, a transfer or a hold's departure, has S + |dv| >= W and adds nothing: its error is
    the burn's, in the velocity), is low-passed over ``thrust_share_tau_s`` (row 1, the level that counts: a
    thrust that starts counts in full within about that time, where the 100 s window took minutes and left the
    legs after a hold's departure optimistic; docs/navigation.md, "The rise of a sustained thrust") and over
    ``thrust_net_tau_s`` (row 2); the level counts in proportion as the shorter low-pass still holds it,
    min(1, |row 2| / |row 1|): a sustained thrust that stopped drops out within about the shorter time. Its
    error is ``dv_sigma_along_frac`` along it and ``dv_sigma_across_frac`` across, per LVLH axis (the
    acceleration states' noise is diagonal: the cross terms (al^2 - ac^2) a_i a_j / |a|^2 are left out). A thrust
    that turns about within the share's window averages out of the vector mean and is carried by neither this term
    nor the couples'. docs/navigation.md, "The acceleration left out" and "Between the gates".

    Returns the share (0-1; 1 with the term off), which also splits the couples that fire with the period's
    thrust between the burn and the couples' level (relnav_step)."""
    lvl = f.thrust_net_mps2
    if p.thrust_net_tau_s <= 0.0:  # the term is off: no share is computed, every couple stays in the level
        for i in range(3):
            f.accel_sigma_mps2[i] = 0.0
        return 1.0
    for i in range(3):
        lvl[0, i] += (new * dv_thr[i] / dt_s - lvl[0, i]) * gain
    # the share of this period's delta-v that the burn's model does not carry: S, the burn's accumulated delta-v,
    # against W, the slow window's (|row 0| x thrust_level_tau_s). A pulsed thrust's S fades between pulses
    # (burn_gap_tau_s) to a few pulses' worth, and almost all of it counts
    mag = new * _norm3(dv_thr[0], dv_thr[1], dv_thr[2])
    window = _norm3(lvl[0, 0], lvl[0, 1], lvl[0, 2]) * p.thrust_level_tau_s
    share = max(0.0, 1.0 - (f.burn_dv_mps + mag) / window) if window > 0.0 else 0.0
    g_share = min(1.0, dt_s / p.thrust_share_tau_s)
    g_fast = min(1.0, dt_s / p.thrust_net_tau_s)
    for i in range(3):
        a = share * new * dv_thr[i] / dt_s
        lvl[1, i] += (a - lvl[1, i]) * g_share
        lvl[2, i] += (a - lvl[2, i]) * g_fast
    held = _norm3(lvl[1, 0], lvl[1, 1], lvl[1, 2])
    k = min(1.0, _norm3(lvl[2, 0], lvl[2, 1], lvl[2, 2]) / held) if held > 0.0 else 0.0
    al = p.dv_sigma_along_frac * k
    ac = p.dv_sigma_across_frac * k
    for i in range(3):
        a = lvl[1, i]
        f.accel_sigma_mps2[i] = math.sqrt(al * al * a * a + ac * ac * max(held * held - a * a, 0.0))
    return share


@njit(cache=True)
def _top_up_thrust(p, f, P, dt_s):
    """The sustained net thrust's part of the acceleration states' variance (``f.thrust_var_m2_s4``), admitted
    at once.

    A Gauss-Markov state of correlation time tau admits a new sigma^2 only as 1 - exp(-2 t / tau): 57 % after
    250 s along track (600 s). A thrust's execution error is there in full from its first pulse. So the variance
    the process has admitted of the part is followed (``f.thrust_admitted_m2_s4``: it decays as the states' own
    variance and takes (1 - phi^2) of the part each step, as relnav_predict_accel does), and when the part rises
    above it the difference is added to the state's variance at once: the prior is topped up to the part, never
    beyond it. A learnt state keeps what it learnt: only the diagonal grows. When the thrust stops, the part
    falls and nothing is taken back (the state forgets with tau, as before). The couples' term is not topped
    up: it over-bounds already (every group's error added as one coherent error, where each thruster's is its
    own), and topping it up too brought `far_approach`'s 5 km gate from 5.33 back to 5.04. docs/navigation.md,
    "The 5 km gate, traced"."""
    for i in range(3):
        phi2 = math.exp(-2.0 * dt_s / p.accel_tau_s[i]) if p.accel_tau_s[i] > 0.0 else 0.0  # 0: white
        want = f.thrust_var_m2_s4[i]
        admitted = f.thrust_admitted_m2_s4[i] * phi2 + (1.0 - phi2) * want
        if want > admitted:
            P[RN_ACCEL + i, RN_ACCEL + i] += want - admitted
            admitted = want
        f.thrust_admitted_m2_s4[i] = admitted


@njit(cache=True)
def _in_band(band_m, predicted_m, measured_m, sigma_m, k):
    """Whether a sample is the sensor's to fuse: the range the state predicts lies in the band, and the measured
    range inside the band widened by ``k`` sigmas of its error (a plausibility bound).

    The band is decided on the prediction, which does not depend on the sample's noise. Decided on the measured
    range, the band keeps, at its edge, the samples whose noise happens to be short and drops the long ones: a
    selection bias that the filter, told the samples are unbiased, averages into its state (at the laser radar's
    5 km edge, a range about a metre short against a 0.4 m sigma; docs/navigation.md, "The band's edge"). The
    plausibility bound keeps a wild sample (a range-ambiguity error of kilometres) out of the band, as before,
    instead of counting it as a rejection; at ``k`` = 5 it truncates 3e-7 of a Gaussian sample's tail.
    """
    m = k * sigma_m
    return band_m[0] <= predicted_m <= band_m[1] and band_m[0] - m <= measured_m <= band_m[1] + m


@njit(cache=True)
def height_above_station_m(x, port_L_m, r_s_m):
    """[m] The chaser's height above the station (a spherical Earth, as the truth's atmosphere): |r_s + r| - r_s,
    r its position w.r.t. the station's centre of mass in LVLH (x radial), the state ``x`` (w.r.t. the port) plus
    ``port_L_m``; ``r_s_m`` the station's orbit radius. Along track the Earth's curvature counts: 300 km behind
    along LVLH y (a straight line, not the orbit's arc), the chaser is 6.6 km higher than the station."""
    a = r_s_m + x[0] + port_L_m[0]
    b = x[1] + port_L_m[1]
    c = x[2] + port_L_m[2]
    return math.sqrt(a * a + b * b + c * c) - r_s_m


@njit(cache=True)
def drag_sigma_mps2(p, dh_m, r_s_m):
    """[m/s^2] Sigma of the differential drag along track, the chaser ``dh_m`` above the station (below: < 0),
    whose orbit radius is ``r_s_m``.

    Each vehicle's drag is 1/2 rho v^2 Cd A / m in an exponential atmosphere, rho = rho_s exp(-dh / H) at the
    chaser (the truth's model, docs/sensors.md s.7), and the chaser's v^2 is the station's times r_s / (r_s + dh)
    (circular orbits). The density (shared) and the chaser's area (its own) are unknown within their spread, so
    the sigma is the RMS of the difference over the two: with u the chaser's Cd A / m (mean u_m, sd u_s), w the
    station's, f = exp(-dh / H) r_s / (r_s + dh) and q = 1/2 v^2 rho_rms,

        sigma^2 = q^2 ((u_m f - w)^2 + (u_s f)^2)

    (the density and the area independent). At the station's height 6.7e-7 m/s^2; 50 km below, 3.5e-6; 190 km
    below (orbit insertion), 6.6e-5. tests/fsw/apps/test_navigation_drag.py checks it against the truth's drag
    over the dispersions. docs/navigation.md, "The acceleration left out".
    """
    if p.drag_pressure_Pa == 0.0:  # no drag modelled
        return 0.0
    f = math.exp(-dh_m / p.drag_scale_height_m) * r_s_m / (r_s_m + dh_m)
    u_m, u_s = p.drag_chaser_cda_m2_kg[0], p.drag_chaser_cda_m2_kg[1]
    d = u_m * f - p.drag_station_cda_m2_kg
    return p.drag_pressure_Pa * math.sqrt(d * d + u_s * u_s * f * f)


@njit(cache=True)
def drag_sigma_at_mps2(p, x, r_s_m):
    """[m/s^2] :func:`drag_sigma_mps2` at the height of the state ``x`` above the station
    (:func:`height_above_station_m`), the station's orbit radius ``r_s_m``: the filter's initialisation and its
    every step."""
    return drag_sigma_mps2(p, height_above_station_m(x, p.port_L_m, r_s_m), r_s_m)


@njit(cache=True)
def _norm3(a, b, c):
    return math.sqrt(a * a + b * b + c * c)


@njit(cache=True)
def _sensor_range(x, C_B_LVLH, sensor_B_m, target_L_m, los_B):
    """The range the state predicts from the lidar / camera (``sensor_B_m``, B) to a target on the station
    (``target_L_m``, w.r.t. the port, LVLH): the norm of :func:`estimation.port_los_B` (``los_B``: its scratch)."""
    port_los_B(x, C_B_LVLH, sensor_B_m, target_L_m, los_B)
    return _norm3(los_B[0], los_B[1], los_B[2])


@njit(cache=True)
def _rotation(wx, wy, wz, dt_s, R):
    """R <- exp(-[phi x]), phi = w dt: how a frame turning at w [rad/s] (its own axes) sees fixed axes after dt."""
    px, py, pz = wx * dt_s, wy * dt_s, wz * dt_s
    th2 = px * px + py * py + pz * pz
    if th2 < 1e-12:  # series: sin(th)/th = 1 - th^2/6, (1 - cos th)/th^2 = 1/2 - th^2/24
        a, b = 1.0 - th2 / 6.0, 0.5 - th2 / 24.0
    else:
        th = math.sqrt(th2)
        a, b = math.sin(th) / th, (1.0 - math.cos(th)) / th2
    # exp(-[phi x]) = I - a [phi x] + b [phi x]^2, [phi x]^2 = phi phi^T - th^2 I
    R[0, 0] = 1.0 + b * (px * px - th2)
    R[1, 1] = 1.0 + b * (py * py - th2)
    R[2, 2] = 1.0 + b * (pz * pz - th2)
    R[0, 1] = a * pz + b * px * py
    R[1, 0] = -a * pz + b * px * py
    R[0, 2] = -a * py + b * px * pz
    R[2, 0] = a * py + b * px * pz
    R[1, 2] = a * px + b * py * pz
    R[2, 1] = -a * px + b * py * pz


@njit(cache=True)
def attitude_at(att, orbit, t_ns, scratch, C_BL_out):
    """Rotation LVLH -> B at ``t_ns`` (a sample's time), from the attitude estimate and the LVLH frame.

    ATT_STATE holds the attitude of its own step (``t_ns``): the attitude task runs after navigation in the
    10 Hz slot, so navigation reads the estimate of the previous period, 0.1 s old, while ORBIT_REF holds
    this period's LVLH frame. Combined as they are, the two differ by the LVLH frame's turn over 0.1 s
    (0.0065 deg of pitch, 2.3 mm across the line of sight at 20 m), an error no sensor model covers. Each is
    carried at its own rate to ``t_ns``: C_BN(t) = exp(-[w_BN dt_a x]) C_BN(t_a), C_LN(t) = exp(-[w_LN
    dt_o x]) C_LN(t_o), and C_BL = C_BN C_LN^T. ``att``, ``orbit`` : 1-element ATT_STATE and ORBIT_REF views;
    ``scratch`` : (4, 3, 3) floats.
    """
    a, o = att[0], orbit[0]
    M, RB, RL, T = scratch[0], scratch[1], scratch[2], scratch[3]
    c_b_lvlh(a.q_BN, o.C_LVLH_N, M)
    w = a.omega_BN_B_rad_s
    _rotation(w[0], w[1], w[2], (t_ns - a.t_ns) * 1e-9, RB)
    w = o.omega_LN_L_rad_s
    _rotation(w[0], w[1], w[2], (t_ns - o.t_ns) * 1e-9, RL)
    for i in range(3):  # T = M RL^T
        for j in range(3):
            T[i, j] = M[i, 0] * RL[j, 0] + M[i, 1] * RL[j, 1] + M[i, 2] * RL[j, 2]
    for i in range(3):  # C_BL = RB T
        for j in range(3):
            C_BL_out[i, j] = RB[i, 0] * T[0, j] + RB[i, 1] * T[1, j] + RB[i, 2] * T[2, j]


@njit(cache=True)
def _port_tilt(p, f, cam_att_rad, C_B_LVLH, now_ns):
    """Low-pass the station port's attitude w.r.t. LVLH from one camera sample, in docking-attitude axes.

    The camera measures the chaser's attitude w.r.t. the port (roll, pitch, yaw: 3-2-1 angles from the
    docking attitude, small); the attitude estimate gives it w.r.t. LVLH, delta_BL = vee(C_BL C_RL^T)
    (E = I - [delta x] to first order). Their difference is the port's own small rotation w.r.t. LVLH:
    tilt = delta_BL - delta_BS. The station's attitude limit cycle is slow (minutes), the camera's
    attitude noisy (0.1 deg at 30 m): a first-order low-pass of ``port_tilt_tau_s`` (the first sample
    starts it).
    """
    C, R = C_B_LVLH, p.C_RL
    e01 = C[0, 0] * R[1, 0] + C[0, 1] * R[1, 1] + C[0, 2] * R[1, 2]  # E = C_BL C_RL^T, E[i, j] = C[i] . R[j]
    e10 = C[1, 0] * R[0, 0] + C[1, 1] * R[0, 1] + C[1, 2] * R[0, 2]
    e02 = C[0, 0] * R[2, 0] + C[0, 1] * R[2, 1] + C[0, 2] * R[2, 2]
    e20 = C[2, 0] * R[0, 0] + C[2, 1] * R[0, 1] + C[2, 2] * R[0, 2]
    e12 = C[1, 0] * R[2, 0] + C[1, 1] * R[2, 1] + C[1, 2] * R[2, 2]
    e21 = C[2, 0] * R[1, 0] + C[2, 1] * R[1, 1] + C[2, 2] * R[1, 2]
    d0, d1, d2 = 0.5 * (e12 - e21), 0.5 * (e20 - e02), 0.5 * (e01 - e10)
    t = f.port_tilt_rad
    k = 1.0
    if f.port_tilt_ns != 0:
        k = min(max(now_ns - f.port_tilt_ns, 0) * 1e-9 / p.port_tilt_tau_s, 1.0)
    t[0] += k * (d0 - cam_att_rad[0] - t[0])
    t[1] += k * (d1 - cam_att_rad[1] - t[1])
    t[2] += k * (d2 - cam_att_rad[2] - t[2])
    f.port_tilt_ns = now_ns


_GNSS_ABS_BACKUP_NS = 10 * 1_000_000_000  # absolute GNSS stands in once relative GNSS has been silent this long


@njit(cache=True)
def _thrust_since(thrust_ns, sample_ns, lag_s):
    """[s] How long of a sample's age (``lag_s``, taken at ``sample_ns``) the vehicle was thrusting: the thrust
    up to ``thrust_ns`` after the sample was taken. A sample taken just before a burn's end still holds the
    burn's last fraction of a second (0.4 s of the engines is 0.08 m/s)."""
    if thrust_ns <= sample_ns:
        return 0.0
    return min(lag_s, (thrust_ns - sample_ns) * 1e-9)


@njit(cache=True)
def _during_burn(sigma_r_m, sigma_v_mps, acc_mps2, lag_s, period_s, dv_error_mps):
    """(sigma_r, sigma_v) of a sample taken ``lag_s`` before the thrust at ``acc_mps2`` ended.

    The thrust since the sample was taken has been added to it (:func:`_thrust_after`) as impulses of whole
    periods (``period_s``); what stays unknown is when inside its period the thrust acted (uniform over the
    period: sigma period / sqrt(12), as long as the lag holds thrust) and how well it executed
    (``dv_error_mps``, 1-sigma). Until 3eae83b the thrust was not added, and this noise was the whole thrust of
    the lag: the filter took a biased sample for a noisy one."""
    t = min(lag_s, period_s) / math.sqrt(12.0)
    dv = acc_mps2 * t
    dr = 0.5 * dv * t
    return math.sqrt(sigma_r_m * sigma_r_m + dr * dr), math.sqrt(sigma_v_mps * sigma_v_mps + dv * dv
                                                                  + dv_error_mps * dv_error_mps)


@njit(cache=True)
def _thrust_after(f, sample_ns, ref_ns):
    """|delta-v| [m/s] of the thrust after ``sample_ns``, whose velocity (``f.thrust_dv_mps``) and position
    (``f.thrust_dr_m``) a sample taken then lacks and the state holds.

    The state takes each period's delta-v as an impulse at the period's start (the prediction); a period that
    straddles the sample counts for the part after it, its thrust spread evenly. Compared at ``ref_ns`` (the
    sample's time, where the transition carries the state back, or now for a sample carried forward on its
    orbit), the state's position holds dv (ref - start) of it.
    """
    dr, du = f.thrust_dr_m, f.thrust_dv_mps
    for i in range(3):
        dr[i] = 0.0
        du[i] = 0.0
    for k in range(DV_HIST):
        a, b = f.dv_hist_ns[k, 0], f.dv_hist_ns[k, 1]
        if b <= sample_ns or b <= a:
            continue
        frac = min(1.0, (b - sample_ns) / (b - a))
        age = (ref_ns - a) * 1e-9
        for i in range(3):
            d = frac * f.dv_hist_L_mps[k, i]
            du[i] += d
            dr[i] += d * age
    return math.sqrt(du[0] * du[0] + du[1] * du[1] + du[2] * du[2])


@njit(cache=True)
def gnss_abs_relative(r_N_m, v_N_mps, station_rv_N, C_LN, omega_LN_L, port_L_m, r_L_out, v_L_out, lag_s=0.0,
                      mu_m3_s2=0.0):
    """An absolute GNSS sample as a relative one: chaser CoM w.r.t. the station CoM, LVLH [m, m/s], now.

    The sample, taken ``lag_s`` ago, is first carried to now on a two-body arc (r + v lag + a lag^2 / 2,
    v + (a + a_now) lag / 2, a = -mu r / |r|^3; the J2 part of a 0.5 s step is below a millimetre): the station
    ephemeris and the LVLH frame are those of now, and in 0.5 s the station moves 3.8 km. Then
    ``r_L = C_LN (r - r_s)``, ``v_L = C_LN (v - v_s) - omega_LN x r_L`` (transport theorem). Returns the
    port-to-CoM range [m] it implies (what decides the sensor's band).
    """
    r0, r1, r2 = r_N_m[0], r_N_m[1], r_N_m[2]
    u0, u1, u2 = v_N_mps[0], v_N_mps[1], v_N_mps[2]
    rr = r0 * r0 + r1 * r1 + r2 * r2
    if lag_s > 0.0 and mu_m3_s2 > 0.0 and rr > 0.0:  # (no sample yet: zeros)
        k = -mu_m3_s2 / rr ** 1.5
        h = 0.5 * lag_s * lag_s * k
        r0, r1, r2 = r0 + u0 * lag_s + h * r0, r1 + u1 * lag_s + h * r1, r2 + u2 * lag_s + h * r2
        k1 = -mu_m3_s2 / (r0 * r0 + r1 * r1 + r2 * r2) ** 1.5  # the velocity with the mean of both accelerations
        hv = 0.5 * lag_s
        u0 += hv * (k * r_N_m[0] + k1 * r0)
        u1 += hv * (k * r_N_m[1] + k1 * r1)
        u2 += hv * (k * r_N_m[2] + k1 * r2)
    d0, d1, d2 = r0 - station_rv_N[0], r1 - station_rv_N[1], r2 - station_rv_N[2]
    e0, e1, e2 = u0 - station_rv_N[3], u1 - station_rv_N[4], u2 - station_rv_N[5]
    for i in range(3):
        r_L_out[i] = C_LN[i, 0] * d0 + C_LN[i, 1] * d1 + C_LN[i, 2] * d2
        v_L_out[i] = C_LN[i, 0] * e0 + C_LN[i, 1] * e1 + C_LN[i, 2] * e2
    w = omega_LN_L
    v_L_out[0] -= w[1] * r_L_out[2] - w[2] * r_L_out[1]
    v_L_out[1] -= w[2] * r_L_out[0] - w[0] * r_L_out[2]
    v_L_out[2] -= w[0] * r_L_out[1] - w[1] * r_L_out[0]
    return math.sqrt((r_L_out[0] - port_L_m[0]) ** 2 + (r_L_out[1] - port_L_m[1]) ** 2
                     + (r_L_out[2] - port_L_m[2]) ** 2)


@njit(cache=True)
def _count(o, accepted, sensor, result):
    if accepted:
        o.accepted += 1
        o.sensor = sensor
        return (result & ~0xF) | sensor
    o.rejected += 1
    return result | (1 << (REJECT_SHIFT + sensor))


@njit(cache=True)
def relnav_app_step(prm, flt, work, att, orbit, thr, eng, gnss, gabs, lidar, cam, out, t_ns):
    """The navigation app's step once the filter is initialised: :func:`relnav_step`, then validity.

    ``flt.rejects`` counts rejections in a row per sensor code (an accepted measurement zeroes its
    sensor's count). The solution is valid while a measurement was accepted within
    ``prm.valid_timeout_ns`` (or the estimated port-to-port range is inside ``prm.blind_range_m``, where
    the sensors' minimum ranges leave the last metre to propagation) and every position sigma is at most
    ``prm.valid_max_sigma_r_m`` (or ``prm.valid_max_sigma_frac`` of the range, far out). Writes
    NAV_STATE (``out``) valid / t_ns / seq as well.

    Returns :func:`relnav_step`'s bits, OR'ed with F_VALID_CHANGED.
    """
    f = flt[0]
    p = prm[0]
    dt = (t_ns - f.t_prev_ns) * 1e-9
    f.t_prev_ns = t_ns
    result = relnav_step(prm, flt, work, att, orbit, thr, eng, gnss, gabs, lidar, cam, out, dt)
    used = result & 0xF
    if used:
        f.last_accept_ns = t_ns
        f.rejects[used] = 0
    for s in range(1, N_SENSORS):
        if result & (1 << (REJECT_SHIFT + s)):
            f.rejects[s] += 1
    o = out[0]
    sig = max(o.sigma_r_m[0], o.sigma_r_m[1], o.sigma_r_m[2])
    d = p.docked_r_L_m
    x = f.x
    port_range = math.sqrt((x[0] - d[0]) ** 2 + (x[1] - d[1]) ** 2 + (x[2] - d[2]) ** 2)
    recent = t_ns - f.last_accept_ns <= p.valid_timeout_ns or port_range <= p.blind_range_m
    rng = math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
    valid = recent and sig <= max(p.valid_max_sigma_r_m, p.valid_max_sigma_frac * rng)
    o.valid = valid
    o.t_ns = t_ns
    o.seq += 1
    v = 1 if valid else 0
    if v != f.was_valid:
        f.was_valid = v
        result |= F_VALID_CHANGED
    return result


# ---------------------------------------------------------------- the onboard station ephemeris, refined
#: The orbit-reference app's parameters (fsw/config/gnc.toml [earth], [orbit], [station]), one record.
ORBIT_REF_PARAMS = np.dtype([
    ("earth", "f8", (3,)),              # mu [m^3/s^2], equatorial radius [m], J2
    ("refine_tau_s", "f8"),             # the ephemeris moves dt / tau of the way to the station fixed (0: never)
    ("port_L_m", "f8", (3,)),           # station port w.r.t. the station CoM, LVLH
], align=True)

#: Its state between steps.
ORBIT_REF_STATE = np.dtype([
    ("t_ns", "i8", (1,)),               # the time rv_N holds (ephemeris.orbit_ref_step's last_t_ns)
    ("gabs_seq", "i8"),                 # DEV_GNSS_ABS.seq of the last fix seen, and when it was seen
    ("gabs_ns", "i8"),
    ("scratch", "f8", (6, 6)),
    ("fix_r_L_m", "f8", (3,)),          # the fix as a relative state against the ephemeris (scratch)
    ("fix_v_L_mps", "f8", (3,)),
], align=True)


@njit(cache=True)
def orbit_ref_app_step(prm, st, rec, gabs, nav, t_ns):
    """The orbit-reference app's step: propagate ORBIT_REF.rv_N to ``t_ns`` and refresh its LVLH frame; on a new
    fix of the chaser's own GNSS, refine the ephemeris toward the station that fix and the relative navigation
    place (fsw/apps/orbit_ref.py, docs/navigation.md "The station ephemeris").

    ``prm``, ``st`` : 1-element ORBIT_REF_PARAMS, ORBIT_REF_STATE. ``rec``, ``gabs``, ``nav`` : 1-element views
    of ORBIT_REF (written), DEV_GNSS_ABS and NAV_STATE (navigation publishes after this task: last period's).

    Refined only while navigation is valid and last fed by a relative sensor (relative GNSS, laser radar,
    camera): absolute GNSS is measured against this ephemeris. The ephemeris' error, onboard less true station,
    is d = (r_nav + port) - r_fix in LVLH; its rate, the two relative velocities being rates seen in the same
    frame, dv = v_nav - v_fix + w x d. Both move by k = dt / tau (at most 1) toward the fix, and
    ``refined_N`` adds up what moved.
    """
    p, s, o = prm[0], st[0], rec[0]
    mu, re, j2 = p.earth[0], p.earth[1], p.earth[2]
    rv = o.rv_N
    orbit_ref_step(s.t_ns, mu, re, j2, s.scratch, rec, t_ns)
    g, nv = gabs[0], nav[0]
    if p.refine_tau_s <= 0.0 or g.seq == s.gabs_seq:
        return
    s.gabs_seq = g.seq
    since = (t_ns - s.gabs_ns) / 1e9 if s.gabs_ns != 0 else 0.0
    s.gabs_ns = t_ns
    used = nv.sensor == SENSOR_GNSS or nv.sensor == SENSOR_LIDAR or nv.sensor == SENSOR_CAMERA
    if g.valid == 0 or nv.valid == 0 or not used or since <= 0.0:
        return
    C, w, port = o.C_LVLH_N, o.omega_LN_L_rad_s, p.port_L_m
    fr, fv = s.fix_r_L_m, s.fix_v_L_mps
    gnss_abs_relative(g.r_N_m, g.v_N_mps, rv, C, w, port, fr, fv, sample_age_s(t_ns, g.t_ns), mu)
    age = sample_age_s(t_ns, nv.t_ns)
    d0 = nv.r_LVLH_m[0] + nv.v_LVLH_mps[0] * age + port[0] - fr[0]
    d1 = nv.r_LVLH_m[1] + nv.v_LVLH_mps[1] * age + port[1] - fr[1]
    d2 = nv.r_LVLH_m[2] + nv.v_LVLH_mps[2] * age + port[2] - fr[2]
    e0 = nv.v_LVLH_mps[0] - fv[0] + (w[1] * d2 - w[2] * d1)
    e1 = nv.v_LVLH_mps[1] - fv[1] + (w[2] * d0 - w[0] * d2)
    e2 = nv.v_LVLH_mps[2] - fv[2] + (w[0] * d1 - w[1] * d0)
    k = min(since / p.refine_tau_s, 1.0)
    for i in range(3):  # N = C^T L
        cr = -k * (C[0, i] * d0 + C[1, i] * d1 + C[2, i] * d2)
        cv = -k * (C[0, i] * e0 + C[1, i] * e1 + C[2, i] * e2)
        rv[i] += cr
        rv[3 + i] += cv
        o.refined_N[i] += cr
        o.refined_N[3 + i] += cv
    lvlh_frame_j2(rv, mu, re, j2, s.scratch, C, w)

"""One attitude determination and control step as a single kernel call (the attitude app's 10 Hz step).

MEKF propagation with the gyro, star-tracker update, the docking reference fixed in LVLH, the
quaternion-feedback torque and the thruster-health checks (angular-acceleration residual; response
of the translation thrusters), reading and writing the bus records in place (1-element views), so
the app's Python side is one call.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .attitude import lvlh_target_attitude, quat_feedback_torque
from .control import thruster_torque_check, translation_response_check
from .estimation import mekf_propagate, mekf_update_star_tracker, sample_age_s

#: Attitude determination and control parameters (fsw/config/gnc.toml [attitude]), one record.
ATT_PARAMS = np.dtype([
    ("arw_rad_sqrt_s", "f8"),             # gyro angle random walk
    ("gyro_hold_sigma_rad_s", "f8"),      # how far the body rate may drift from a held one (no new gyro sample)
    ("rrw_rad_s_sqrt_s", "f8"),           # gyro bias random walk
    ("star_tracker_sigma_rad", "f8"),     # across the boresight
    ("star_tracker_sigma_roll_rad", "f8"),  # about it
    ("star_tracker_boresight_B", "f8", (3,)),  # its unit vector, B
    ("gate_chi2", "f8"),                  # star-tracker innovation gate, 3 dof
    ("K_Nm", "f8", (3,)),                 # attitude gain per body axis [N m per unit quaternion]
    ("P_Nms", "f8", (3,)),                # rate gain per body axis [N m s/rad]
    ("u_max_Nm", "f8", (3,)),             # torque limit per axis
    ("check_tau_s", "f8"),                # low-pass of the thruster-health residual
    ("gyro_max_rad_s", "f8"),             # a gyro increment with a mean rate component above this is not used
    ("inertia_kg_m2", "f8", (3, 3)),      # B frame
    ("C_RL", "f8", (3, 3)),               # docking attitude in LVLH (rows: B axes in L)
    ("engine_settle_ns", "i8"),           # the thruster checks stay blind this long after an engine firing
], align=True)

#: The attitude filter and controller state between steps, and the outputs of the last step.
ATT_FILTER = np.dtype([
    ("q_BN", "f8", (4,)),                 # MEKF attitude estimate, scalar first
    ("bias_B_rad_s", "f8", (3,)),         # gyro bias estimate
    ("P", "f8", (6, 6)),                  # covariance of [dtheta_B rad, dbias rad/s]
    ("omega_BN_B_rad_s", "f8", (3,)),     # bias-corrected rate now ...
    ("omega_prev_B_rad_s", "f8", (3,)),   # ... and at the last step
    ("gyro_theta_B_rad", "f8", (3,)),     # the rate-integrating gyro's last sample used: its angle counter,
    ("gyro_rate_B_rad_s", "f8", (3,)),    # the mean rate of its last increment (held without a new sample),
    ("gyro_seq", "i8"),                   # its record seq,
    ("gyro_t_ns", "i8"),                  # the flight's time when it was taken,
    ("gyro_set", "u1"),                   # 1 once a sample has been taken
    ("alpha_resid_rad_s2", "f8", (3,)),   # filtered angular-acceleration residual (thruster checks)
    ("gyro_ok_prev", "u1"),               # the last step's gyro sample was valid (its rate is a measurement)
    ("C_RN", "f8", (3, 3)),               # reference attitude, its quaternion and rate (R frame)
    ("q_RN", "f8", (4,)),
    ("omega_RN_R_rad_s", "f8", (3,)),
    ("err", "f8", (6,)),                  # attitude error (2 x vector part of q_BR) and rate error
    ("u_B_Nm", "f8", (3,)),               # commanded torque
    ("eng_seq", "i8"),                    # ENGINE_PERIOD.seq at the last step (a change: the engines fired)
    ("C_RL_port", "f8", (3, 3)),          # the docking attitude turned with the station port (NAV_STATE port tilt)
], align=True)
ST_REJECTED = 1      # return bit: the star-tracker sample was rejected by the gate


@njit(cache=True)
def gyro_mean_rate(gyro, flt, t_ns):
    """Mean body rate since the last gyro sample used, from the rate-integrating gyro's angle counter.

    A new sample (its record ``seq`` changed) read at flight time ``t_ns``: rate = (theta - theta_prev)
    / (t_ns - t_prev), the exact mean over the interval, however many 100 Hz samples it spans and
    however the rate varied inside it (a rate sample held over the 10 Hz step is wrong by up to
    alpha dt^2 / 2 per step during slews and burns). The interval is the flight's own (the counter is
    read at the step, as a flight computer latches it), not the device's time stamp, which a packet
    carries only to 1/65,536 s. The first sample uses the unit's own mean rate. Without a new sample
    the last rate is held. The memory (``flt``: ATT_FILTER (1,)) advances on every new sample, so a
    glitch affects one increment only. Returns True when the rate comes from a new sample.
    """
    g = gyro[0]
    f = flt[0]
    if g.valid == 0 or (f.gyro_set != 0 and g.seq == f.gyro_seq):
        return False
    th = g.theta_B_rad
    dt = (t_ns - f.gyro_t_ns) * 1e-9
    for i in range(3):
        if f.gyro_set != 0 and dt > 0.0:
            f.gyro_rate_B_rad_s[i] = (th[i] - f.gyro_theta_B_rad[i]) / dt
        else:
            f.gyro_rate_B_rad_s[i] = g.omega_BN_B_rad_s[i]
        f.gyro_theta_B_rad[i] = th[i]
    f.gyro_seq = g.seq
    f.gyro_t_ns = t_ns
    f.gyro_set = 1
    return True


@njit(cache=True)
def tilted_reference(C_RL, tilt_rad, out):
    """``out`` = the docking attitude ``C_RL`` turned by the station port's small rotation ``tilt_rad``
    (docking-attitude axes): C = exp(-[t x]) C_RL = (I - (sin a / a) [t x] + ((1 - cos a) / a^2) [t x]^2) C_RL,
    a = |t| (the frame turns with the port: Rodrigues' formula, exact for any angle)."""
    t0, t1, t2 = float(tilt_rad[0]), float(tilt_rad[1]), float(tilt_rad[2])
    a2 = t0 * t0 + t1 * t1 + t2 * t2
    if a2 < 1e-12:
        s, c = 1.0 - a2 / 6.0, 0.5 - a2 / 24.0
    else:
        a = math.sqrt(a2)
        s, c = math.sin(a) / a, (1.0 - math.cos(a)) / a2
    # I - s [t x] + c [t x]^2, with [t x]^2 = t t^T - a^2 I
    m00, m01, m02 = 1.0 + c * (t0 * t0 - a2), s * t2 + c * t0 * t1, -s * t1 + c * t0 * t2
    m10, m11, m12 = -s * t2 + c * t1 * t0, 1.0 + c * (t1 * t1 - a2), s * t0 + c * t1 * t2
    m20, m21, m22 = s * t1 + c * t2 * t0, -s * t0 + c * t2 * t1, 1.0 + c * (t2 * t2 - a2)
    for j in range(3):
        r0, r1, r2 = C_RL[0, j], C_RL[1, j], C_RL[2, j]
        out[0, j] = m00 * r0 + m01 * r1 + m02 * r2
        out[1, j] = m10 * r0 + m11 * r1 + m12 * r2
        out[2, j] = m20 * r0 + m21 * r1 + m22 * r2


@njit(cache=True)
def attitude_step(prm, flt, tr, work, gyro, st, orbit, thr, eng, nav, out, torque, check, t_ns, dt_s, new_st,
                  controlled):
    """Propagate, update, control; write ATT_STATE, TORQUE_CMD and THRUSTER_CHECK.

    Parameters
    ----------
    prm : ATT_PARAMS (1,). flt : ATT_FILTER (1,), in/out. tr : control.TR_CHECK (1,), in/out: the
        translation-thruster response check (with no signature rows, response_ratio stays nan).
    work : ``estimation.WORK_SHAPE`` scratch.
    gyro, st, orbit, thr : 1-element views of DEV_GYRO, DEV_STAR_TRACKER, ORBIT_REF, THRUSTER_PERIOD.
    eng : 1-element view of ENGINE_PERIOD: while the orbit-control engines fire, the torque command holds the
        torque far-range guidance predicts for them (feed-forward); what it does not predict makes the thruster
        checks skip those steps, as they skip translation.
    nav : 1-element view of NAV_STATE: while the docking camera sees the station port's attitude
        (port_tilt_valid), the docking attitude follows the port (:func:`tilted_reference`).
    out, torque, check : 1-element views of ATT_STATE, TORQUE_CMD, THRUSTER_CHECK (written).
    t_ns : [ns] mission time of the step; dt_s : [s] since the last step.
    new_st : a new valid star-tracker sample is waiting. controlled : 0 in modes without attitude control.

    Returns
    -------
    int : ST_REJECTED when the star-tracker sample failed the gate.

    Notes
    -----
    THRUSTER_PERIOD is read as what fired over the step that ends now (the thruster app runs after
    this one at the same rate); the translation check skips a step whose record is not from the
    previous step.
    """
    p = prm[0]
    f = flt[0]
    q, bias, P, omega, omega_prev = f.q_BN, f.bias_B_rad_s, f.P, f.omega_BN_B_rad_s, f.omega_prev_B_rad_s
    inertia = p.inertia_kg_m2
    flags = 0
    fresh = gyro_mean_rate(gyro, flt, t_ns)
    w = f.gyro_rate_B_rad_s
    gyro_ok = gyro[0].valid != 0 and f.gyro_set != 0
    gm = p.gyro_max_rad_s
    if gyro_ok and gm > 0.0:
        gyro_ok = abs(w[0]) <= gm and abs(w[1]) <= gm and abs(w[2]) <= gm
    if dt_s > 0.0:
        if gyro_ok:  # an implausible increment is neither integrated nor used to judge the thrusters
            arw = p.arw_rad_sqrt_s
            if not fresh:  # no new sample (a silent gyro): the held rate is wrong by what the body's rate changed
                arw = math.sqrt(arw * arw + p.gyro_hold_sigma_rad_s * p.gyro_hold_sigma_rad_s * dt_s)
            mekf_propagate(q, bias, P, w, dt_s, arw, p.rrw_rad_s_sqrt_s, work, omega)
        c = check[0]
        tp = thr[0]
        fB = tp.force_B_N
        # the engines fired over this step, or did so lately: their torque and the attitude loop's recovery from the
        # burn's attitude error are not predicted
        firing = eng[0].seq != f.eng_seq or (eng[0].seq != 0 and t_ns - eng[0].t_ns < p.engine_settle_ns)
        f.eng_seq = eng[0].seq
        translating = fB[0] != 0.0 or fB[1] != 0.0 or fB[2] != 0.0 or firing
        if gyro_ok:  # without a measured rate the residual keeps its last value
            c.alpha_resid_rad_s2 = thruster_torque_check(omega, omega_prev, tp.resp_torque_B_Nm, translating,
                                                         inertia, dt_s, p.check_tau_s, f.alpha_resid_rad_s2)
        if tr[0].n_thrusters > 0:
            rates = gyro_ok and f.gyro_ok_prev != 0  # measured now and one step ago
            f.gyro_ok_prev = 1 if gyro_ok else 0
            if rates and not firing and abs(float(t_ns - tp.t_ns) - dt_s * 1e9) < 1e6:  # what fired over this step
                c.response_ratio = translation_response_check(omega, omega_prev, tp.resp_torque_B_Nm,
                                                              tp.resp_group_force_N, inertia, dt_s, tr)
        else:
            c.response_ratio = math.nan
        c.t_ns = t_ns
        c.seq += 1
    for i in range(3):
        omega_prev[i] = omega[i]
    if new_st:  # fused against the attitude of the time the sample was taken (its t_ns: latency)
        lag = sample_age_s(t_ns, st[0].t_ns)
        ok, _ = mekf_update_star_tracker(q, bias, P, st[0].q_BN, p.star_tracker_sigma_rad, p.gate_chi2, work,
                                         p.star_tracker_sigma_roll_rad, p.star_tracker_boresight_B, lag, omega)
        if not ok:
            flags |= ST_REJECTED
    o = orbit[0]
    err, u = f.err, f.u_B_Nm
    nv = nav[0]
    if nv.port_tilt_valid != 0 and nv.valid != 0:
        tilted_reference(p.C_RL, nv.port_tilt_rad, f.C_RL_port)
    else:
        for i in range(3):
            for j in range(3):
                f.C_RL_port[i, j] = p.C_RL[i, j]
    lvlh_target_attitude(o.C_LVLH_N, o.omega_LN_L_rad_s, f.C_RL_port, f.C_RN, f.q_RN, f.omega_RN_R_rad_s)
    quat_feedback_torque(q, omega, f.q_RN, f.omega_RN_R_rad_s, inertia, p.K_Nm, p.P_Nms, p.u_max_Nm, err, u)
    ev = eng[0]
    if ev.seq != 0 and t_ns - ev.t_ns <= int(dt_s * 1.5e9):  # the engines fire: hold their predicted torque
        for i in range(3):
            u[i] = min(p.u_max_Nm[i], max(-p.u_max_Nm[i], u[i] - ev.torque_B_Nm[i]))
    tq = torque[0]
    for i in range(3):
        tq.torque_B_Nm[i] = u[i] if controlled else 0.0
    tq.t_ns = t_ns
    tq.seq += 1
    a = out[0]
    for i in range(4):
        a.q_BN[i] = q[i]
    for i in range(3):
        a.omega_BN_B_rad_s[i] = omega[i]
        a.bias_B_rad_s[i] = bias[i]
        a.att_err_rad[i] = err[i]
        a.rate_err_rad_s[i] = err[3 + i]
    a.valid = 1
    a.t_ns = t_ns
    a.seq += 1
    return flags

"""One attitude determination and control step as a single kernel call (the attitude app's 10 Hz step).

MEKF propagation with the gyro, star-tracker update, the docking reference fixed in LVLH, the
quaternion-feedback torque and the thruster-health checks (angular-acceleration residual; response
of the translation thrusters), reading and writing the bus records in place (1-element views), so
the app's Python side is one call.
"""

from __future__ import annotations

import math

from numba import njit

from .attitude import lvlh_target_attitude, quat_feedback_torque
from .control import N_SIG, N_TR, thruster_torque_check, translation_response_check
from .estimation import mekf_propagate, mekf_update_star_tracker

# prm indices
PRM_ARW = 0          # [rad/s^0.5] gyro angle random walk
PRM_RRW = 1          # [rad/s^1.5] gyro bias random walk
PRM_ST_SIGMA = 2     # [rad] star tracker, per axis
PRM_GATE = 3         # chi-square gate, 3 dof
PRM_K = 4            # [N m] attitude gain per axis (3)
PRM_P = 7            # [N m s] rate gain per axis (3)
PRM_U_MAX = 10       # [N m] torque limit per axis (3)
PRM_CHECK_TAU = 13   # [s] low-pass of the thruster-health residual
PRM_TR_PRIOR = 14    # [N^2 s^2] translation check: information before a group is judged
PRM_TR_MEMORY = 15   # [N^2 s^2] translation check: forgetting
PRM_TR_GATE = 16     # [N m] translation check: no learning above this unexplained torque
PRM_TR_N = 17        # number of rows of the translation-thruster signature table
PRM_GYRO_MAX = 18    # [rad/s] gyro plausibility: a sample with a component above this is not used (0: no limit)
PRM_TR_SIG = 19      # the table, PRM_TR_N rows of control.N_SIG (control.translation_signatures)
MAX_TR = 16          # rows the table can hold
N_PRM = PRM_TR_SIG + MAX_TR * N_SIG
# check state (the ``resid`` argument)
CHK_ALPHA = 0        # (3) [rad/s^2] filtered angular-acceleration residual
CHK_GYRO_OK = 3      # 1 when the last step's gyro sample was valid (its rate is a measurement)
CHK_TR = 4           # (control.N_TR) translation-response estimator
N_CHECK = CHK_TR + N_TR
ST_REJECTED = 1      # return bit: the star-tracker sample was rejected by the gate
# gyro memory (the ``gyro_mem`` argument): the rate-integrating gyro's last sample used
GM_THETA = 0         # (3) [rad] its angle counter
GM_RATE = 3          # (3) [rad/s] the mean rate of the last increment (held while no new sample arrives)
GM_T_NS = 6          # [ns] its sample time (float64 holds any mission time to the nanosecond)
GM_SET = 7           # 1 once a sample has been taken
N_GYRO_MEM = 8


@njit(cache=True)
def gyro_mean_rate(gyro, mem):
    """Mean body rate since the last gyro sample used, from the rate-integrating gyro's angle counter.

    A new sample (time stamp changed): rate = (theta - theta_prev) / (t - t_prev), the exact mean over
    the interval, however many 100 Hz samples it spans and however the rate varied inside it (a rate
    sample held over the 10 Hz step is wrong by up to alpha dt^2 / 2 per step during slews and burns).
    The first sample uses the unit's own mean rate. Without a new sample the last rate is held. The
    memory advances on every new sample, so a glitch affects one increment only. Returns True when the
    rate comes from a new sample.
    """
    g = gyro[0]
    t = float(g.t_ns)
    if g.valid == 0 or (mem[GM_SET] != 0.0 and t == mem[GM_T_NS]):
        return False
    th = g.theta_B_rad
    dt = (t - mem[GM_T_NS]) * 1e-9
    for i in range(3):
        if mem[GM_SET] != 0.0 and dt > 0.0:
            mem[GM_RATE + i] = (th[i] - mem[GM_THETA + i]) / dt
        else:
            mem[GM_RATE + i] = g.omega_BN_B_rad_s[i]
        mem[GM_THETA + i] = th[i]
    mem[GM_T_NS] = t
    mem[GM_SET] = 1.0
    return True


@njit(cache=True)
def attitude_step(t_ns, dt_s, new_st, controlled, q, bias, P, work, omega, omega_prev, gyro_mem, resid, prm, inertia,
                  C_RL, C_RN, q_RN, w_RN_R, err, u, gyro, st, orbit, thr, out, torque, check):
    """Propagate, update, control; write ATT_STATE, TORQUE_CMD and THRUSTER_CHECK.

    Parameters
    ----------
    t_ns : [ns] mission time of the step; dt_s : [s] since the last step.
    new_st : a new valid star-tracker sample is waiting. controlled : 0 in modes without attitude control.
    q, bias, P, work : MEKF state, covariance and scratch (``estimation.WORK_SHAPE``).
    omega, omega_prev : (3,) bias-corrected rate now / at the last step [rad/s].
    gyro_mem : (N_GYRO_MEM,) the last gyro sample used (:func:`gyro_mean_rate`).
    resid : (N_CHECK,) thruster-check state (layout CHK_*): the filtered angular-acceleration
        residual [rad/s^2] and the translation-response estimator; a (3,) array holds the residual
        alone and the translation check is not run (response_ratio nan).
    prm : (N_PRM,) parameters; inertia : (3, 3) [kg m^2]; C_RL : (3, 3) docking attitude in LVLH.
    C_RN, q_RN, w_RN_R, err, u : scratch / outputs of the reference, error and torque.
    gyro, st, orbit, thr : 1-element views of DEV_GYRO, DEV_STAR_TRACKER, ORBIT_REF, THRUSTER_PERIOD.
    out, torque, check : 1-element views of ATT_STATE, TORQUE_CMD, THRUSTER_CHECK (written).

    Returns
    -------
    int : ST_REJECTED when the star-tracker sample failed the gate.

    Notes
    -----
    THRUSTER_PERIOD is read as what fired over the step that ends now (the thruster app runs after
    this one at the same rate); the translation check skips a step whose record is not from the
    previous step.
    """
    flags = 0
    gyro_mean_rate(gyro, gyro_mem)
    w = gyro_mem[GM_RATE:GM_RATE + 3]
    gyro_ok = gyro[0].valid != 0 and gyro_mem[GM_SET] != 0.0
    gm = prm[PRM_GYRO_MAX] if prm.shape[0] > PRM_GYRO_MAX else 0.0
    if gyro_ok and gm > 0.0:
        gyro_ok = abs(w[0]) <= gm and abs(w[1]) <= gm and abs(w[2]) <= gm
    if dt_s > 0.0:
        if gyro_ok:  # an implausible increment is neither integrated nor used to judge the thrusters
            mekf_propagate(q, bias, P, w, dt_s, prm[PRM_ARW], prm[PRM_RRW], work, omega)
        c = check[0]
        tp = thr[0]
        f = tp.force_B_N
        translating = f[0] != 0.0 or f[1] != 0.0 or f[2] != 0.0
        if gyro_ok:  # without a measured rate the residual keeps its last value
            c.alpha_resid_rad_s2 = thruster_torque_check(omega, omega_prev, tp.torque_B_Nm, translating, inertia,
                                                         dt_s, prm[PRM_CHECK_TAU], resid[CHK_ALPHA:CHK_ALPHA + 3])
        if resid.shape[0] >= N_CHECK and prm.shape[0] >= N_PRM:
            n = min(max(int(prm[PRM_TR_N]), 0), MAX_TR)
            rates = gyro_ok and resid[CHK_GYRO_OK] != 0.0  # measured now and one step ago
            resid[CHK_GYRO_OK] = 1.0 if gyro_ok else 0.0
            if rates and abs(float(t_ns - tp.t_ns) - dt_s * 1e9) < 1e6:  # and what fired over this step
                c.response_ratio = translation_response_check(
                    omega, omega_prev, tp.torque_B_Nm, f, inertia, dt_s,
                    prm[PRM_TR_SIG:PRM_TR_SIG + n * N_SIG].reshape((n, N_SIG)), prm[PRM_TR_PRIOR],
                    prm[PRM_TR_MEMORY], prm[PRM_TR_GATE], prm[PRM_CHECK_TAU], resid[CHK_TR:CHK_TR + N_TR])
        else:
            c.response_ratio = math.nan
        c.t_ns = t_ns
        c.seq += 1
    for i in range(3):
        omega_prev[i] = omega[i]
    if new_st:
        ok, _ = mekf_update_star_tracker(q, bias, P, st[0].q_BN, prm[PRM_ST_SIGMA], prm[PRM_GATE], work)
        if not ok:
            flags |= ST_REJECTED
    o = orbit[0]
    lvlh_target_attitude(o.C_LVLH_N, o.omega_LN_L_rad_s, C_RL, C_RN, q_RN, w_RN_R)
    quat_feedback_torque(q, omega, q_RN, w_RN_R, inertia, prm[PRM_K:PRM_K + 3], prm[PRM_P:PRM_P + 3],
                         prm[PRM_U_MAX:PRM_U_MAX + 3], err, u)
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

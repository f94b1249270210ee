"""Attitude kernels: quaternion algebra, docking reference attitude, quaternion-feedback control.

Conventions
-----------
Quaternions are scalar-first ``[q0, q1, q2, q3]`` with the Hamilton product. ``q_BN`` maps
N-frame components to B-frame ones: ``v_B = C(q_BN) v_N`` with

    C(q) = (q0^2 - |qv|^2) I + 2 qv qv^T - 2 q0 [qv x],

so that compositions read right to left in frames: ``q_CN = q_BN (x) q_CB`` and
``C(q_BN (x) q_CB) = C(q_CB) C(q_BN)``. Kinematics: ``dq_BN/dt = 1/2 q_BN (x) [0, omega_BN_B]``.
This is the attitude matrix of Markley & Crassidis (2014), Eq. 2.125, and Basilisk's ``EP2C``.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def quat_mult(p, q, out):
    """Hamilton product ``out = p (x) q`` (scalar first). ``out`` may alias neither input.

    Notes
    -----
    (p (x) q)_0 = p0 q0 - pv.qv ;  (p (x) q)_v = p0 qv + q0 pv + pv x qv.
    Markley & Crassidis (2014), Eq. 2.82a with the Hamilton sign of the cross product.
    """
    p0, p1, p2, p3 = p[0], p[1], p[2], p[3]
    q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
    out[0] = p0 * q0 - p1 * q1 - p2 * q2 - p3 * q3
    out[1] = p0 * q1 + p1 * q0 + p2 * q3 - p3 * q2
    out[2] = p0 * q2 - p1 * q3 + p2 * q0 + p3 * q1
    out[3] = p0 * q3 + p1 * q2 - p2 * q1 + p3 * q0


@njit(cache=True)
def quat_conj(q, out):
    """Conjugate ``out = [q0, -qv]`` (the inverse of a unit quaternion)."""
    out[0] = q[0]
    out[1] = -q[1]
    out[2] = -q[2]
    out[3] = -q[3]


@njit(cache=True)
def quat_normalize(q, out):
    """Unit quaternion ``out = q / |q|`` with the scalar part made non-negative (``out`` may alias ``q``)."""
    norm = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    s = 1.0 / norm if q[0] >= 0.0 else -1.0 / norm
    out[0] = q[0] * s
    out[1] = q[1] * s
    out[2] = q[2] * s
    out[3] = q[3] * s


@njit(cache=True)
def dcm_elements(q0, q1, q2, q3):
    """The nine elements of C(q), row by row (the one place this formula is written)."""
    return (q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3, 2.0 * (q1 * q2 + q0 * q3), 2.0 * (q1 * q3 - q0 * q2),
            2.0 * (q1 * q2 - q0 * q3), q0 * q0 - q1 * q1 + q2 * q2 - q3 * q3, 2.0 * (q2 * q3 + q0 * q1),
            2.0 * (q1 * q3 + q0 * q2), 2.0 * (q2 * q3 - q0 * q1), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3)


@njit(cache=True)
def quat_to_dcm(q, C_out):
    """Direction-cosine matrix of a unit quaternion: ``C_out = C(q)`` (maps N components to B for q_BN).

    Notes
    -----
    C(q) = (q0^2 - |qv|^2) I + 2 qv qv^T - 2 q0 [qv x]. Markley & Crassidis (2014), Eq. 2.125.
    """
    (C_out[0, 0], C_out[0, 1], C_out[0, 2], C_out[1, 0], C_out[1, 1], C_out[1, 2], C_out[2, 0], C_out[2, 1],
     C_out[2, 2]) = dcm_elements(q[0], q[1], q[2], q[3])


@njit(cache=True)
def quat_from_dcm(C, q_out):
    """Unit quaternion (scalar part >= 0) of a rotation matrix, inverse of :func:`quat_to_dcm`.

    Notes
    -----
    Shepperd's method: pick the largest of (trace, C11, C22, C33) to avoid dividing by a small
    number. Markley & Crassidis (2014), Eqs. 2.134-2.135.
    """
    tr = C[0, 0] + C[1, 1] + C[2, 2]
    if tr >= C[0, 0] and tr >= C[1, 1] and tr >= C[2, 2]:
        q0 = 0.5 * math.sqrt(1.0 + tr)
        f = 0.25 / q0
        q1 = (C[1, 2] - C[2, 1]) * f
        q2 = (C[2, 0] - C[0, 2]) * f
        q3 = (C[0, 1] - C[1, 0]) * f
    elif C[0, 0] >= C[1, 1] and C[0, 0] >= C[2, 2]:
        q1 = 0.5 * math.sqrt(1.0 + 2.0 * C[0, 0] - tr)
        f = 0.25 / q1
        q0 = (C[1, 2] - C[2, 1]) * f
        q2 = (C[0, 1] + C[1, 0]) * f
        q3 = (C[0, 2] + C[2, 0]) * f
    elif C[1, 1] >= C[2, 2]:
        q2 = 0.5 * math.sqrt(1.0 + 2.0 * C[1, 1] - tr)
        f = 0.25 / q2
        q0 = (C[2, 0] - C[0, 2]) * f
        q1 = (C[0, 1] + C[1, 0]) * f
        q3 = (C[1, 2] + C[2, 1]) * f
    else:
        q3 = 0.5 * math.sqrt(1.0 + 2.0 * C[2, 2] - tr)
        f = 0.25 / q3
        q0 = (C[0, 1] - C[1, 0]) * f
        q1 = (C[0, 2] + C[2, 0]) * f
        q2 = (C[1, 2] + C[2, 1]) * f
    s = 1.0 if q0 >= 0.0 else -1.0
    q_out[0] = s * q0
    q_out[1] = s * q1
    q_out[2] = s * q2
    q_out[3] = s * q3


@njit(cache=True)
def quat_error(q_BN, q_RN, q_BR_out):
    """Error quaternion ``q_BR = q_RN* (x) q_BN`` (attitude of B relative to the reference R).

    ``C(q_BR) = C(q_BN) C(q_RN)^T = C_BR``. Markley & Crassidis (2014), Eq. 2.87 (Hamilton form).
    """
    r0, r1, r2, r3 = q_RN[0], -q_RN[1], -q_RN[2], -q_RN[3]
    q0, q1, q2, q3 = q_BN[0], q_BN[1], q_BN[2], q_BN[3]
    q_BR_out[0] = r0 * q0 - r1 * q1 - r2 * q2 - r3 * q3
    q_BR_out[1] = r0 * q1 + r1 * q0 + r2 * q3 - r3 * q2
    q_BR_out[2] = r0 * q2 - r1 * q3 + r2 * q0 + r3 * q1
    q_BR_out[3] = r0 * q3 + r1 * q2 - r2 * q1 + r3 * q0


@njit(cache=True)
def lvlh_dcm(r_N_m, v_N_m_s, C_LN_out, omega_LN_L_rad_s_out):
    """LVLH frame of an orbiting body and its angular velocity.

    Parameters
    ----------
    r_N_m, v_N_m_s : (3,) position [m] and velocity [m/s] of the station, inertial frame N.
    C_LN_out : (3, 3) out, rotation N -> LVLH (rows: x radial out, y completing (along-track),
        z orbit normal).
    omega_LN_L_rad_s_out : (3,) out, [rad/s] LVLH rate w.r.t. N in LVLH, ``[0, 0, |h| / r^2]``.

    Notes
    -----
    x = r/|r|, z = h/|h| with h = r x v, y = z x x. The two-body rate of the Hill frame is h/r^2
    about z (Vallado 2013, Sec. 6.8); perturbations add a small x component, neglected here.
    """
    rn = math.sqrt(r_N_m[0] ** 2 + r_N_m[1] ** 2 + r_N_m[2] ** 2)
    hx = r_N_m[1] * v_N_m_s[2] - r_N_m[2] * v_N_m_s[1]
    hy = r_N_m[2] * v_N_m_s[0] - r_N_m[0] * v_N_m_s[2]
    hz = r_N_m[0] * v_N_m_s[1] - r_N_m[1] * v_N_m_s[0]
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    for j in range(3):
        C_LN_out[0, j] = r_N_m[j] / rn
    C_LN_out[2, 0] = hx / hn
    C_LN_out[2, 1] = hy / hn
    C_LN_out[2, 2] = hz / hn
    C_LN_out[1, 0] = C_LN_out[2, 1] * C_LN_out[0, 2] - C_LN_out[2, 2] * C_LN_out[0, 1]
    C_LN_out[1, 1] = C_LN_out[2, 2] * C_LN_out[0, 0] - C_LN_out[2, 0] * C_LN_out[0, 2]
    C_LN_out[1, 2] = C_LN_out[2, 0] * C_LN_out[0, 1] - C_LN_out[2, 1] * C_LN_out[0, 0]
    omega_LN_L_rad_s_out[0] = 0.0
    omega_LN_L_rad_s_out[1] = 0.0
    omega_LN_L_rad_s_out[2] = hn / (rn * rn)


@njit(cache=True)
def lvlh_target_attitude(C_LN, omega_LN_L_rad_s, C_RL, C_RN_scratch, q_RN_out, omega_RN_R_rad_s_out):
    """Reference attitude fixed in LVLH (e.g. the docking attitude) and its inertial rate.

    Parameters
    ----------
    C_LN : (3, 3) rotation N -> LVLH (from :func:`lvlh_dcm`).
    omega_LN_L_rad_s : (3,) [rad/s] LVLH rate w.r.t. N, LVLH frame.
    C_RL : (3, 3) rotation LVLH -> R (the target attitude relative to LVLH, from config). The
        docking attitude (x_B = +y_L, y_B = -z_L, z_B = -x_L) is rows [[0,1,0],[0,0,-1],[-1,0,0]].
    C_RN_scratch : (3, 3) scratch.
    q_RN_out : (4,) out, reference quaternion.
    omega_RN_R_rad_s_out : (3,) out, [rad/s] reference rate w.r.t. N in R: ``C_RL omega_LN_L``
        (R is fixed in LVLH).
    """
    for i in range(3):
        for j in range(3):
            C_RN_scratch[i, j] = C_RL[i, 0] * C_LN[0, j] + C_RL[i, 1] * C_LN[1, j] + C_RL[i, 2] * C_LN[2, j]
        omega_RN_R_rad_s_out[i] = (C_RL[i, 0] * omega_LN_L_rad_s[0] + C_RL[i, 1] * omega_LN_L_rad_s[1]
                                   + C_RL[i, 2] * omega_LN_L_rad_s[2])
    quat_from_dcm(C_RN_scratch, q_RN_out)


@njit(cache=True)
def quat_feedback_torque(q_BN, omega_BN_B_rad_s, q_RN, omega_RN_R_rad_s, I_B_kg_m2, K_Nm, P_Nms,
                         u_max_Nm, err_out, u_B_Nm_out):
    """Quaternion-feedback PD attitude control law with gyroscopic feed-forward.

    Parameters
    ----------
    q_BN : (4,) estimated attitude.
    omega_BN_B_rad_s : (3,) [rad/s] estimated body rate, B frame.
    q_RN : (4,) reference attitude; omega_RN_R_rad_s : (3,) [rad/s] reference rate, R frame.
    I_B_kg_m2 : (3, 3) inertia about the CoM, B frame.
    K_Nm : (3,) attitude gain per body axis [N m per unit quaternion].
    P_Nms : (3,) rate gain per body axis [N m s/rad].
    u_max_Nm : (3,) per-axis torque limit [N m] (the command is clipped to +-u_max).
    err_out : (6,) out, ``[theta_BR (3) = 2 sign(dq0) dq_vec  (small-angle error, rad),
        omega_BR_B (3) rad/s]``.
    u_B_Nm_out : (3,) out, [N m] commanded torque, B frame.

    Returns
    -------
    float : [rad] principal attitude error angle ``2 acos(|dq0|)``.

    Notes
    -----
    dq = q_RN* (x) q_BN, omega_BR = omega_BN - C_BR omega_RN_R,
    u = -K sign(dq0) dq_vec - P omega_BR + omega_BN x (I omega_BN).
    Wie (2008), Sec. 7.3 (quaternion feedback, Eq. 7.65); Schaub & Junkins / Basilisk
    ``mrpFeedback`` for the gyroscopic term. sign(dq0) picks the short way round.
    """
    r0, r1, r2, r3 = q_RN[0], -q_RN[1], -q_RN[2], -q_RN[3]
    q0, q1, q2, q3 = q_BN[0], q_BN[1], q_BN[2], q_BN[3]
    d0 = r0 * q0 - r1 * q1 - r2 * q2 - r3 * q3
    d1 = r0 * q1 + r1 * q0 + r2 * q3 - r3 * q2
    d2 = r0 * q2 - r1 * q3 + r2 * q0 + r3 * q1
    d3 = r0 * q3 + r1 * q2 - r2 * q1 + r3 * q0
    sgn = 1.0 if d0 >= 0.0 else -1.0
    # C_BR of dq, applied to omega_RN_R.
    wr0, wr1, wr2 = omega_RN_R_rad_s[0], omega_RN_R_rad_s[1], omega_RN_R_rad_s[2]
    c00, c01, c02, c10, c11, c12, c20, c21, c22 = dcm_elements(d0, d1, d2, d3)
    w0, w1, w2 = omega_BN_B_rad_s[0], omega_BN_B_rad_s[1], omega_BN_B_rad_s[2]
    e0 = w0 - (c00 * wr0 + c01 * wr1 + c02 * wr2)
    e1 = w1 - (c10 * wr0 + c11 * wr1 + c12 * wr2)
    e2 = w2 - (c20 * wr0 + c21 * wr1 + c22 * wr2)
    h0 = I_B_kg_m2[0, 0] * w0 + I_B_kg_m2[0, 1] * w1 + I_B_kg_m2[0, 2] * w2
    h1 = I_B_kg_m2[1, 0] * w0 + I_B_kg_m2[1, 1] * w1 + I_B_kg_m2[1, 2] * w2
    h2 = I_B_kg_m2[2, 0] * w0 + I_B_kg_m2[2, 1] * w1 + I_B_kg_m2[2, 2] * w2
    u0 = -K_Nm[0] * sgn * d1 - P_Nms[0] * e0 + (w1 * h2 - w2 * h1)
    u1 = -K_Nm[1] * sgn * d2 - P_Nms[1] * e1 + (w2 * h0 - w0 * h2)
    u2 = -K_Nm[2] * sgn * d3 - P_Nms[2] * e2 + (w0 * h1 - w1 * h0)
    u_B_Nm_out[0] = min(max(u0, -u_max_Nm[0]), u_max_Nm[0])
    u_B_Nm_out[1] = min(max(u1, -u_max_Nm[1]), u_max_Nm[1])
    u_B_Nm_out[2] = min(max(u2, -u_max_Nm[2]), u_max_Nm[2])
    err_out[0] = 2.0 * sgn * d1
    err_out[1] = 2.0 * sgn * d2
    err_out[2] = 2.0 * sgn * d3
    err_out[3] = e0
    err_out[4] = e1
    err_out[5] = e2
    return 2.0 * math.acos(min(abs(d0), 1.0))


@njit(cache=True)
def c_b_lvlh(q_BN, C_LN, C_BL_out):
    """Rotation LVLH -> B from the attitude and the LVLH frame: ``C_BL = C(q_BN) C_LN^T``.

    Parameters
    ----------
    q_BN : (4,) attitude, scalar first. C_LN : (3, 3) rotation N -> LVLH.
    C_BL_out : (3, 3) out.
    """
    c00, c01, c02, c10, c11, c12, c20, c21, c22 = dcm_elements(q_BN[0], q_BN[1], q_BN[2], q_BN[3])
    for j in range(3):
        # column j of C_BL is C_BN applied to row j of C_LN
        a, b, c = C_LN[j, 0], C_LN[j, 1], C_LN[j, 2]
        C_BL_out[0, j] = c00 * a + c01 * b + c02 * c
        C_BL_out[1, j] = c10 * a + c11 * b + c12 * c
        C_BL_out[2, j] = c20 * a + c21 * b + c22 * c

"""The truth's per-minor-frame kernel: thrusters, orbits + attitude (RK4), contact, fast sensors.

One call advances the whole dynamic state by one minor frame and writes the sensor records that
are due at the new time, so Python dispatches one kernel per frame (the thermal network runs in
``sims.core.thermal`` on its own, slower frame). Layout of ``x``, ``p``, ``iw``: ``layout.py``.

Modelling choices (documented here because the flight software meets them):

- Thruster on-times act as their mean force over the frame (impulse / frame), constant in B
  during the RK4 step. Impulse below half the minimum impulse bit (MIB) is not delivered (the
  valve driver rejects it); between half the MIB and the MIB the valve delivers the MIB.
- Propellant flow = impulse / (Isp g0); thrust stops when the propellant is exhausted.
- Inertia scales with mass: I = I_full m / m_full (mass distributed like the full-load vehicle).
- After capture the vehicles are joined: the chaser keeps its relative position and attitude in
  LVLH, thrust no longer moves it.
"""

from __future__ import annotations

import math

from numba import njit

from .contact import contact_quantities, docking_angles, station_body_distance, within_envelope
from .layout import (
    EV_CAPTURE,
    EV_COLLISION,
    EV_CONTACT,
    FB_CAMERA,
    FB_GNSS,
    FB_GYRO,
    FB_LIDAR,
    FB_ST,
    I_CAPTURED,
    I_COLLIDED,
    I_CONTACT_PENDING,
    I_DIV,
    I_FRAME,
    I_FRAME_NS,
    I_HOLD_LVLH,
    I_OFF,
    I_T_NS,
    I_THR_MODE,
    I_THR_SEQ,
    N_CONTACT,
    N_THR,
    N_Y,
    NS_CAMERA,
    NS_DROPOUT,
    NS_GNSS,
    NS_GYRO,
    NS_LIDAR,
    NS_ST,
    P_BODY_LEN,
    P_BODY_R,
    P_CAM_COSFOV,
    P_CAM_MAX,
    P_CAM_SIG,
    P_CAM_SIGA,
    P_CDA_C,
    P_CDA_S,
    P_CHASER_R,
    P_DRAG_ON,
    P_DROP,
    P_DT,
    P_GNSS_MIN_RANGE,
    P_GNSS_SIG_R,
    P_GNSS_SIG_V,
    P_GYRO_BSIG,
    P_GYRO_PHI,
    P_GYRO_SIG,
    P_H0,
    P_HSCALE,
    P_INERTIA_FULL,
    P_ISP_G0,
    P_J2,
    P_LIDAR_COSFOV,
    P_LIDAR_MAX,
    P_LIDAR_POS_B,
    P_LIDAR_SIG0,
    P_LIDAR_SIGA,
    P_LIDAR_SIGF,
    P_LIM,
    P_MASS_FULL,
    P_MASS_S,
    P_MU,
    P_PORT_B,
    P_PORT_L,
    P_RE,
    P_RESTITUTION,
    P_RHO0,
    P_RING_R,
    P_ST_SIG,
    P_THR,
    P_WE,
    S_CAMERA,
    S_DOCK,
    S_GNSS,
    S_GYRO,
    S_LIDAR,
    S_ST,
    THR_DIR,
    THR_F,
    THR_MIB,
    THR_POS,
    THR_STRIDE,
    THRUSTER_FAILED_OFF,
    THRUSTER_STUCK_ON,
    X_CONTACT,
    X_FAULT_BIAS,
    X_GYRO_BIAS,
    X_INERTIA,
    X_JOIN_Q_BL,
    X_JOIN_R_L,
    X_MASS,
    X_OMEGA_BL_B,
    X_OMEGA_LN_L,
    X_PORT_Y_PREV,
    X_PROP,
    X_PROP_USED,
    X_Q,
    X_Q_BL,
    X_R_L,
    X_RC,
    X_RS,
    X_THR_LEFT,
    X_V_L,
    X_VC,
    X_VS,
    X_W,
)
from .orbit import drag, grav_j2, lvlh_axes
from .quat import q_from_dcm, q_mul, q_small, rot, rot_t
from .sensors import draw, lidar_geometry, uniform_from_normal

# work-array regions (float64 scratch owned by the caller, see WORK_SIZE)
W_Y0 = 0
W_K = N_Y  # four stages of N_Y
W_YT = 5 * N_Y
W_CQ0 = 6 * N_Y  # contact quantities at frame start (N_CONTACT)
W_CQ1 = W_CQ0 + N_CONTACT  # at frame end
W_REL = W_CQ1 + N_CONTACT  # new r_L(3) v_L(3) q_BL(4) omega_BL_B(3) omega_LN_L(3)
WORK_SIZE = W_REL + 16


@njit(cache=True)
def truth_deriv(y, p, f_B_N, tq_B_Nm, mass_kg, inertia_kg_m2, joined, out):
    """Time derivative of y = [r_s, v_s, r_c, v_c (N), q_BN, omega_BN_B] (19).

    Gravity two-body + J2 on both vehicles, optional drag, chaser thrust (force/torque constant in
    B over the frame), gravity-gradient torque (Schaub & Junkins eq. 4.85), Euler's equations with
    a principal inertia, Euler-parameter kinematics (Schaub eq. 3.104).
    """
    mu, re, j2 = p[P_MU], p[P_RE], p[P_J2]
    a = grav_j2(y[0], y[1], y[2], mu, re, j2)
    ax, ay, az = a[0], a[1], a[2]
    if p[P_DRAG_ON] > 0.0:
        d = drag(y[0], y[1], y[2], y[3], y[4], y[5], p[P_WE], re, p[P_RHO0], p[P_H0], p[P_HSCALE],
                 p[P_CDA_S] / p[P_MASS_S])
        ax += d[0]
        ay += d[1]
        az += d[2]
    out[0], out[1], out[2] = y[3], y[4], y[5]
    out[3], out[4], out[5] = ax, ay, az
    q0, q1, q2, q3 = y[X_Q], y[X_Q + 1], y[X_Q + 2], y[X_Q + 3]
    if joined:
        for i in range(6, 12):
            out[i] = 0.0
    else:
        a = grav_j2(y[6], y[7], y[8], mu, re, j2)
        ax, ay, az = a[0], a[1], a[2]
        if p[P_DRAG_ON] > 0.0:
            d = drag(y[6], y[7], y[8], y[9], y[10], y[11], p[P_WE], re, p[P_RHO0], p[P_H0],
                     p[P_HSCALE], p[P_CDA_C] / mass_kg)
            ax += d[0]
            ay += d[1]
            az += d[2]
        fN = rot_t(q0, q1, q2, q3, f_B_N[0], f_B_N[1], f_B_N[2])
        out[6], out[7], out[8] = y[9], y[10], y[11]
        out[9] = ax + fN[0] / mass_kg
        out[10] = ay + fN[1] / mass_kg
        out[11] = az + fN[2] / mass_kg
    wx, wy, wz = y[X_W], y[X_W + 1], y[X_W + 2]
    out[12] = -0.5 * (q1 * wx + q2 * wy + q3 * wz)
    out[13] = 0.5 * (q0 * wx + q2 * wz - q3 * wy)
    out[14] = 0.5 * (q0 * wy + q3 * wx - q1 * wz)
    out[15] = 0.5 * (q0 * wz + q1 * wy - q2 * wx)
    ix, iy, iz = inertia_kg_m2[0], inertia_kg_m2[1], inertia_kg_m2[2]
    rx, ry, rz = y[6], y[7], y[8]
    rn2 = rx * rx + ry * ry + rz * rz
    rB = rot(q0, q1, q2, q3, rx, ry, rz)
    kgg = 3.0 * mu / (rn2 * rn2 * math.sqrt(rn2))
    tx = tq_B_Nm[0] + kgg * rB[1] * rB[2] * (iz - iy)
    ty = tq_B_Nm[1] + kgg * rB[2] * rB[0] * (ix - iz)
    tz = tq_B_Nm[2] + kgg * rB[0] * rB[1] * (iy - ix)
    out[16] = (tx - (iz - iy) * wy * wz) / ix
    out[17] = (ty - (ix - iz) * wz * wx) / iy
    out[18] = (tz - (iy - ix) * wx * wy) / iz


@njit(cache=True)
def rk4_step(y, p, f_B_N, tq_B_Nm, mass_kg, inertia_kg_m2, joined, dt_s, work):
    """One classical RK4 step of :func:`truth_deriv` in place; renormalises q_BN."""
    for i in range(N_Y):
        work[W_Y0 + i] = y[i]
    yt = work[W_YT:W_YT + N_Y]
    for stage in range(4):
        k = work[W_K + stage * N_Y:W_K + (stage + 1) * N_Y]
        truth_deriv(yt if stage > 0 else y, p, f_B_N, tq_B_Nm, mass_kg, inertia_kg_m2, joined, k)
        if stage < 3:
            h = 0.5 * dt_s if stage < 2 else dt_s
            for i in range(N_Y):
                yt[i] = work[W_Y0 + i] + h * k[i]
    c = dt_s / 6.0
    for i in range(N_Y):
        y[i] = work[W_Y0 + i] + c * (work[W_K + i] + 2.0 * work[W_K + N_Y + i]
                                     + 2.0 * work[W_K + 2 * N_Y + i] + work[W_K + 3 * N_Y + i])
    qn = math.sqrt(y[X_Q] ** 2 + y[X_Q + 1] ** 2 + y[X_Q + 2] ** 2 + y[X_Q + 3] ** 2)
    for i in range(4):
        y[X_Q + i] /= qn


@njit(cache=True)
def relative_geometry(x, p, out):
    """Station LVLH geometry of the current state, written to ``out`` (16).

    out = [r_L (chaser CoM rel. station port) (3), v_L (3), q_BL (4), omega_BL_B (3),
    omega_LN_L (3)]; also returns C_LN rows (9 floats) and q_LN.
    """
    rs0, rs1, rs2 = x[X_RS], x[X_RS + 1], x[X_RS + 2]
    vs0, vs1, vs2 = x[X_VS], x[X_VS + 1], x[X_VS + 2]
    c = lvlh_axes(rs0, rs1, rs2, vs0, vs1, vs2)
    # LVLH rate: in-plane |h|/r^2, plus r a_h/|h| about x from the out-of-plane perturbation
    hx = rs1 * vs2 - rs2 * vs1
    hy = rs2 * vs0 - rs0 * vs2
    hz = rs0 * vs1 - rs1 * vs0
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    r2 = rs0 * rs0 + rs1 * rs1 + rs2 * rs2
    a = grav_j2(rs0, rs1, rs2, p[P_MU], p[P_RE], p[P_J2])
    ax, ay, az = a[0], a[1], a[2]
    if p[P_DRAG_ON] > 0.0:
        d = drag(rs0, rs1, rs2, vs0, vs1, vs2, p[P_WE], p[P_RE], p[P_RHO0], p[P_H0], p[P_HSCALE],
                 p[P_CDA_S] / p[P_MASS_S])
        ax += d[0]
        ay += d[1]
        az += d[2]
    wLx = math.sqrt(r2) * (ax * c[6] + ay * c[7] + az * c[8]) / hn
    wLz = hn / r2
    dr0, dr1, dr2 = x[X_RC] - rs0, x[X_RC + 1] - rs1, x[X_RC + 2] - rs2
    dv0, dv1, dv2 = x[X_VC] - vs0, x[X_VC + 1] - vs1, x[X_VC + 2] - vs2
    rL0 = c[0] * dr0 + c[1] * dr1 + c[2] * dr2
    rL1 = c[3] * dr0 + c[4] * dr1 + c[5] * dr2
    rL2 = c[6] * dr0 + c[7] * dr1 + c[8] * dr2
    # transport theorem with omega_LN = [wLx, 0, wLz]
    out[3] = c[0] * dv0 + c[1] * dv1 + c[2] * dv2 + wLz * rL1
    out[4] = c[3] * dv0 + c[4] * dv1 + c[5] * dv2 - (wLz * rL0 - wLx * rL2)
    out[5] = c[6] * dv0 + c[7] * dv1 + c[8] * dv2 - wLx * rL1
    out[0] = rL0 - p[P_PORT_L]
    out[1] = rL1 - p[P_PORT_L + 1]
    out[2] = rL2 - p[P_PORT_L + 2]
    qLN = q_from_dcm(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8])
    q = q_mul(x[X_Q], x[X_Q + 1], x[X_Q + 2], x[X_Q + 3], qLN[0], -qLN[1], -qLN[2], -qLN[3])
    out[6], out[7], out[8], out[9] = q[0], q[1], q[2], q[3]
    wB = rot(q[0], q[1], q[2], q[3], wLx, 0.0, wLz)
    out[10] = x[X_W] - wB[0]
    out[11] = x[X_W + 1] - wB[1]
    out[12] = x[X_W + 2] - wB[2]
    out[13], out[14], out[15] = wLx, 0.0, wLz
    return c, qLN


@njit(cache=True)
def impose_lvlh_relative(x, p, join_r_L, q_BL_hold, set_position, set_attitude):
    """Place the chaser at a fixed LVLH-relative position and/or attitude (joined or held)."""
    rs0, rs1, rs2 = x[X_RS], x[X_RS + 1], x[X_RS + 2]
    vs0, vs1, vs2 = x[X_VS], x[X_VS + 1], x[X_VS + 2]
    c = lvlh_axes(rs0, rs1, rs2, vs0, vs1, vs2)
    hx = rs1 * vs2 - rs2 * vs1
    hy = rs2 * vs0 - rs0 * vs2
    hz = rs0 * vs1 - rs1 * vs0
    wLz = math.sqrt(hx * hx + hy * hy + hz * hz) / (rs0 * rs0 + rs1 * rs1 + rs2 * rs2)
    if set_position:
        # rigid joint: CoM fixed in L, so its inertial velocity is omega_LN x r
        a0 = join_r_L[0] + p[P_PORT_L]
        a1 = join_r_L[1] + p[P_PORT_L + 1]
        a2 = join_r_L[2] + p[P_PORT_L + 2]
        u0, u1 = -wLz * a1, wLz * a0
        for i in range(3):
            x[X_RC + i] = x[X_RS + i] + c[i] * a0 + c[3 + i] * a1 + c[6 + i] * a2
            x[X_VC + i] = x[X_VS + i] + c[i] * u0 + c[3 + i] * u1
    if set_attitude:
        qLN = q_from_dcm(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8])
        q = q_mul(q_BL_hold[0], q_BL_hold[1], q_BL_hold[2], q_BL_hold[3], qLN[0], qLN[1], qLN[2], qLN[3])
        for i in range(4):
            x[X_Q + i] = q[i]
        wB = rot(q_BL_hold[0], q_BL_hold[1], q_BL_hold[2], q_BL_hold[3], 0.0, 0.0, wLz)
        for i in range(3):
            x[X_W + i] = wB[i]


@njit(cache=True)
def truth_refresh(x, p, work):
    """Recompute the derived LVLH quantities of ``x`` (after initialisation or an external edit)."""
    rel = work[W_REL:W_REL + 16]
    relative_geometry(x, p, rel)
    for i in range(6):
        x[X_R_L + i] = rel[i]
    for i in range(4):
        x[X_Q_BL + i] = rel[6 + i]
    for i in range(3):
        x[X_OMEGA_BL_B + i] = rel[10 + i]
        x[X_OMEGA_LN_L + i] = rel[13 + i]
    cq = work[W_CQ1:W_CQ1 + N_CONTACT]
    contact_quantities(x[X_R_L:X_R_L + 3], x[X_V_L:X_V_L + 3], x[X_Q_BL:X_Q_BL + 4],
                       x[X_OMEGA_BL_B:X_OMEGA_BL_B + 3], p[P_PORT_B:P_PORT_B + 3], cq)
    x[X_PORT_Y_PREV] = cq[9]


@njit(cache=True)
def _sample_due(iw, sensor, frame):
    div = iw[I_DIV + sensor]
    return div > 0 and frame % div == 0


@njit(cache=True)
def _dropped(p, iw, noise, sensor):
    u = uniform_from_normal(draw(noise, iw, NS_DROPOUT))
    return iw[I_OFF + sensor] != 0 or u < p[P_DROP + sensor]


@njit(cache=True)
def truth_frame(x, p, iw, noise, work, thr, gyro, st, gnss, lidar, cam, dock):
    """Advance the truth by one minor frame; write the sensor records due at the new time.

    Parameters
    ----------
    x, p, iw : packed state, parameters, counters (``sims.core.layout``)
    noise : float64 standard-normal buffer, per-stream segments
    work : float64 scratch of ``WORK_SIZE``
    thr : ACT_THRUSTERS record array (1,), read: a new command (new ``seq``) gives each thruster its
        on_time_s [s] from now; the valve drive fires it over as many frames as it takes
    gyro, st, gnss, lidar, cam, dock : DEV_* record arrays (1,), written when due

    Returns
    -------
    int
        event bits ``EV_CONTACT | EV_CAPTURE | EV_COLLISION`` that happened in this frame
    """
    dt = p[P_DT]
    events = 0
    captured = iw[I_CAPTURED] != 0
    # --- thrusters: on-times -> mean force and torque over the frame, B
    fx = fy = fz = tx = ty = tz = 0.0
    impulse = 0.0
    fresh = thr[0].seq != iw[I_THR_SEQ]
    if fresh:
        iw[I_THR_SEQ] = thr[0].seq
        on_time = thr[0].on_time_s
        for i in range(N_THR):
            x[X_THR_LEFT + i] = max(float(on_time[i]), 0.0)
    for i in range(N_THR):
        mode = iw[I_THR_MODE + i]
        if mode == THRUSTER_STUCK_ON:
            on = dt
        elif mode == THRUSTER_FAILED_OFF:
            on = 0.0
        else:
            on = min(x[X_THR_LEFT + i], dt)
            x[X_THR_LEFT + i] -= on
        if on <= 0.0:
            continue
        b = P_THR + i * THR_STRIDE
        imp = p[b + THR_F] * on
        mib = p[b + THR_MIB]
        # The minimum impulse bit shapes a pulse that opens and closes inside this frame; the
        # tail of a longer pulse (valve already open) delivers its on-time exactly.
        if fresh and on < dt:
            if imp < 0.5 * mib:
                continue
            if imp < mib:
                imp = mib
        impulse += imp
        f = imp / dt
        dx, dy, dz = f * p[b + THR_DIR], f * p[b + THR_DIR + 1], f * p[b + THR_DIR + 2]
        px, py, pz = p[b + THR_POS], p[b + THR_POS + 1], p[b + THR_POS + 2]
        fx += dx
        fy += dy
        fz += dz
        tx += py * dz - pz * dy
        ty += pz * dx - px * dz
        tz += px * dy - py * dx
    dm = 0.0
    if impulse > 0.0:
        dm = impulse / p[P_ISP_G0]
        if dm > x[X_PROP]:
            s = x[X_PROP] / dm
            fx, fy, fz, tx, ty, tz = s * fx, s * fy, s * fz, s * tx, s * ty, s * tz
            dm = x[X_PROP]
    if captured:
        fx = fy = fz = tx = ty = tz = 0.0
    fB = work[W_CQ0:W_CQ0 + 3]
    tB = work[W_CQ0 + 3:W_CQ0 + 6]
    fB[0], fB[1], fB[2] = fx, fy, fz
    tB[0], tB[1], tB[2] = tx, ty, tz
    # --- dynamics
    rk4_step(x, p, fB, tB, x[X_MASS], x[X_INERTIA:X_INERTIA + 3], captured, dt, work)
    x[X_PROP] -= dm
    x[X_PROP_USED] += dm
    x[X_MASS] -= dm
    for i in range(3):
        x[X_INERTIA + i] = p[P_INERTIA_FULL + i] * x[X_MASS] / p[P_MASS_FULL]
    if captured:
        impose_lvlh_relative(x, p, x[X_JOIN_R_L:X_JOIN_R_L + 3], x[X_JOIN_Q_BL:X_JOIN_Q_BL + 4], True, True)
    elif iw[I_HOLD_LVLH] != 0:
        impose_lvlh_relative(x, p, x[X_JOIN_R_L:X_JOIN_R_L + 3], x[X_JOIN_Q_BL:X_JOIN_Q_BL + 4], False, True)
    # --- relative geometry at the new time; contact with interpolation inside the frame
    rel = work[W_REL:W_REL + 16]
    c, _ = relative_geometry(x, p, rel)
    cq1 = work[W_CQ1:W_CQ1 + N_CONTACT]
    contact_quantities(rel[0:3], rel[3:6], rel[6:10], rel[10:13], p[P_PORT_B:P_PORT_B + 3], cq1)
    if not captured:
        y0 = x[X_PORT_Y_PREV]
        y1 = cq1[9]
        if y0 < 0.0 <= y1:
            cq0 = work[W_CQ0:W_CQ0 + N_CONTACT]
            contact_quantities(x[X_R_L:X_R_L + 3], x[X_V_L:X_V_L + 3], x[X_Q_BL:X_Q_BL + 4],
                               x[X_OMEGA_BL_B:X_OMEGA_BL_B + 3], p[P_PORT_B:P_PORT_B + 3], cq0)
            frac = y0 / (y0 - y1)
            for i in range(N_CONTACT - 1):
                x[X_CONTACT + i] = cq0[i] + frac * (cq1[i] - cq0[i])
            x[X_CONTACT + N_CONTACT - 1] = (iw[I_T_NS] * 1e-9) + frac * dt
            if x[X_CONTACT + 2] <= p[P_RING_R]:
                events |= EV_CONTACT
                iw[I_CONTACT_PENDING] = 1
                if within_envelope(x[X_CONTACT:X_CONTACT + N_CONTACT], p[P_LIM:P_LIM + 8]) == 0:
                    events |= EV_CAPTURE
                    iw[I_CAPTURED] = 1
                    for i in range(3):
                        x[X_JOIN_R_L + i] = rel[i]
                    for i in range(4):
                        x[X_JOIN_Q_BL + i] = rel[6 + i]
                    impose_lvlh_relative(x, p, x[X_JOIN_R_L:X_JOIN_R_L + 3],
                                         x[X_JOIN_Q_BL:X_JOIN_Q_BL + 4], True, True)
                    relative_geometry(x, p, rel)
                else:
                    # failed docking: the rings bounce apart along the docking axis
                    if iw[I_COLLIDED] == 0:
                        events |= EV_COLLISION
                    iw[I_COLLIDED] = 1
                    k = -(1.0 + p[P_RESTITUTION]) * cq1[0]
                    for i in range(3):
                        x[X_VC + i] += k * c[3 + i]
                    rel[4] += k
            elif x[X_CONTACT + 2] <= p[P_BODY_R] and iw[I_COLLIDED] == 0:
                # the port reached the station's aft face outside the capture ring
                events |= EV_COLLISION
                iw[I_COLLIDED] = 1
        if iw[I_COLLIDED] == 0 and (station_body_distance(rel[0:3], p[P_BODY_R], p[P_BODY_LEN])
                                    < p[P_CHASER_R]):
            events |= EV_COLLISION
            iw[I_COLLIDED] = 1
    x[X_PORT_Y_PREV] = cq1[9]
    for i in range(6):
        x[X_R_L + i] = rel[i]
    for i in range(4):
        x[X_Q_BL + i] = rel[6 + i]
    for i in range(3):
        x[X_OMEGA_BL_B + i] = rel[10 + i]
        x[X_OMEGA_LN_L + i] = rel[13 + i]
    # --- time
    frame = iw[I_FRAME] + 1
    iw[I_FRAME] = frame
    t_ns = iw[I_T_NS] + iw[I_FRAME_NS]
    iw[I_T_NS] = t_ns
    # --- sensors due at the new time
    q0, q1, q2, q3 = x[X_Q], x[X_Q + 1], x[X_Q + 2], x[X_Q + 3]
    fb = X_FAULT_BIAS
    if _sample_due(iw, S_GYRO, frame):
        drop = _dropped(p, iw, noise, S_GYRO)
        phi, bsig, sig = p[P_GYRO_PHI], p[P_GYRO_BSIG], p[P_GYRO_SIG]
        for i in range(3):
            x[X_GYRO_BIAS + i] = phi * x[X_GYRO_BIAS + i] + bsig * draw(noise, iw, NS_GYRO)
        if not drop:
            r = gyro[0]
            for i in range(3):
                r.omega_BN_B_rad_s[i] = (x[X_W + i] + x[X_GYRO_BIAS + i] + x[fb + FB_GYRO + i]
                                         + sig * draw(noise, iw, NS_GYRO))
            r.valid = 1
            r.t_ns = t_ns
            r.seq += 1
    if _sample_due(iw, S_ST, frame):
        drop = _dropped(p, iw, noise, S_ST)
        sig = p[P_ST_SIG]
        e = q_small(x[fb + FB_ST] + sig * draw(noise, iw, NS_ST), x[fb + FB_ST + 1] + sig * draw(noise, iw, NS_ST),
                    x[fb + FB_ST + 2] + sig * draw(noise, iw, NS_ST))
        if not drop:
            qm = q_mul(e[0], e[1], e[2], e[3], q0, q1, q2, q3)
            r = st[0]
            for i in range(4):
                r.q_BN[i] = qm[i]
            r.valid = 1
            r.t_ns = t_ns
            r.seq += 1
    if _sample_due(iw, S_GNSS, frame):
        drop = _dropped(p, iw, noise, S_GNSS)
        # relative GNSS measures CoM to CoM (station CoM, not its port)
        g0, g1, g2 = rel[0] + p[P_PORT_L], rel[1] + p[P_PORT_L + 1], rel[2] + p[P_PORT_L + 2]
        valid = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2) > p[P_GNSS_MIN_RANGE]
        sr, sv = p[P_GNSS_SIG_R], p[P_GNSS_SIG_V]
        n0, n1, n2 = draw(noise, iw, NS_GNSS), draw(noise, iw, NS_GNSS), draw(noise, iw, NS_GNSS)
        m0, m1, m2 = draw(noise, iw, NS_GNSS), draw(noise, iw, NS_GNSS), draw(noise, iw, NS_GNSS)
        if not drop:
            r = gnss[0]
            if valid:
                r.r_LVLH_m[0] = g0 + sr * n0 + x[fb + FB_GNSS]
                r.r_LVLH_m[1] = g1 + sr * n1 + x[fb + FB_GNSS + 1]
                r.r_LVLH_m[2] = g2 + sr * n2 + x[fb + FB_GNSS + 2]
                r.v_LVLH_mps[0] = rel[3] + sv * m0 + x[fb + FB_GNSS + 3]
                r.v_LVLH_mps[1] = rel[4] + sv * m1 + x[fb + FB_GNSS + 4]
                r.v_LVLH_mps[2] = rel[5] + sv * m2 + x[fb + FB_GNSS + 5]
            else:
                for i in range(3):
                    r.r_LVLH_m[i] = 0.0
                    r.v_LVLH_mps[i] = 0.0
            r.valid = 1 if valid else 0
            r.t_ns = t_ns
            r.seq += 1
    qb0, qb1, qb2, qb3 = rel[6], rel[7], rel[8], rel[9]
    if _sample_due(iw, S_LIDAR, frame):
        drop = _dropped(p, iw, noise, S_LIDAR)
        # line of sight sensor -> reflector at the station port, B
        los = rot(qb0, qb1, qb2, qb3, -rel[0], -rel[1], -rel[2])
        lx = los[0] - p[P_LIDAR_POS_B]
        ly = los[1] - p[P_LIDAR_POS_B + 1]
        lz = los[2] - p[P_LIDAR_POS_B + 2]
        rng, az, el = lidar_geometry(lx, ly, lz)
        valid = rng < p[P_LIDAR_MAX] and lx > p[P_LIDAR_COSFOV] * rng
        n0, n1, n2 = draw(noise, iw, NS_LIDAR), draw(noise, iw, NS_LIDAR), draw(noise, iw, NS_LIDAR)
        if not drop:
            r = lidar[0]
            if valid:
                r.range_m = rng + (p[P_LIDAR_SIG0] + p[P_LIDAR_SIGF] * rng) * n0 + x[fb + FB_LIDAR]
                r.az_rad = az + p[P_LIDAR_SIGA] * n1 + x[fb + FB_LIDAR + 1]
                r.el_rad = el + p[P_LIDAR_SIGA] * n2 + x[fb + FB_LIDAR + 2]
            else:
                r.range_m = 0.0
                r.az_rad = 0.0
                r.el_rad = 0.0
            r.valid = 1 if valid else 0
            r.t_ns = t_ns
            r.seq += 1
    if _sample_due(iw, S_CAMERA, frame):
        drop = _dropped(p, iw, noise, S_CAMERA)
        los = rot(qb0, qb1, qb2, qb3, -rel[0], -rel[1], -rel[2])
        cx = los[0] - p[P_PORT_B]
        cy = los[1] - p[P_PORT_B + 1]
        cz = los[2] - p[P_PORT_B + 2]
        rng = math.sqrt(cx * cx + cy * cy + cz * cz)
        valid = rng < p[P_CAM_MAX] and cx > p[P_CAM_COSFOV] * rng
        roll, pitch, yaw = docking_angles(qb0, qb1, qb2, qb3)
        sg, sa = p[P_CAM_SIG], p[P_CAM_SIGA]
        n0, n1, n2 = draw(noise, iw, NS_CAMERA), draw(noise, iw, NS_CAMERA), draw(noise, iw, NS_CAMERA)
        m0, m1, m2 = draw(noise, iw, NS_CAMERA), draw(noise, iw, NS_CAMERA), draw(noise, iw, NS_CAMERA)
        if not drop:
            r = cam[0]
            if valid:
                r.r_B_m[0] = cx + sg * n0 + x[fb + FB_CAMERA]
                r.r_B_m[1] = cy + sg * n1 + x[fb + FB_CAMERA + 1]
                r.r_B_m[2] = cz + sg * n2 + x[fb + FB_CAMERA + 2]
                r.att_rad[0] = roll + sa * m0 + x[fb + FB_CAMERA + 3]
                r.att_rad[1] = pitch + sa * m1 + x[fb + FB_CAMERA + 4]
                r.att_rad[2] = yaw + sa * m2 + x[fb + FB_CAMERA + 5]
            else:
                for i in range(3):
                    r.r_B_m[i] = 0.0
                    r.att_rad[i] = 0.0
            r.valid = 1 if valid else 0
            r.t_ns = t_ns
            r.seq += 1
    if _sample_due(iw, S_DOCK, frame) and iw[I_OFF + S_DOCK] == 0:
        r = dock[0]
        r.contact = 1 if (iw[I_CONTACT_PENDING] != 0 or iw[I_CAPTURED] != 0) else 0
        r.captured = 1 if iw[I_CAPTURED] != 0 else 0
        r.t_ns = t_ns
        r.seq += 1
        iw[I_CONTACT_PENDING] = 0
    return events

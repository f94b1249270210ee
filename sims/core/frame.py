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

Cost (the truth runs every 10 ms minor frame, so SIL at 2,000x real time leaves it ~1 us):

- The arrays of one truth travel as one argument, a :class:`FrameContext` (numba StructRef) made
  once by :func:`new_frame_context`; :func:`compiled_entry` gives the compiled entry point for it,
  which skips numba's per-call type dispatch (~0.1 us per array argument, record arrays more).
- RK4 runs on scalars (tuples of the station orbit, the chaser orbit, the attitude), no arrays and
  no division by the mass or the inertia inside the stages (their reciprocals are taken once). Once
  captured, the chaser's free step is overwritten by the join, as before.
- Work that only matters sometimes is skipped when it cannot matter, with identical results: the
  thruster table when no valve is open or pending and no thruster fault is set, the full contact
  quantities (docking angles) unless the port plane is crossed in this frame, the hull distance
  while the chaser is farther aft than its hull radius, the dropout draw's normal CDF when the
  dropout probability is 0 (the draw is still taken, so the streams stay aligned), the inertia
  update when no propellant flowed. Sensor due-checks compare against a next-due frame instead of
  an integer modulo.
- ``error_model="numpy"``: float division follows IEEE (no Python ZeroDivisionError branch).
  No ``fastmath``: contraction to FMA and reassociation would make results depend on the CPU, and
  a Monte Carlo case must replay bit for bit from its seed on another machine.
"""

from __future__ import annotations

import math

from numba import njit, typeof
from numba.core import types
from numba.experimental import structref
from numba.extending import overload

from .contact import contact_quantities, docking_angles, station_body_distance, within_envelope
from .layout import (
    EV_CAPTURE,
    EV_COLLISION,
    EV_CONTACT,
    F_SERVICE,
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
    I_NEXT_DUE,
    I_OFF,
    I_SERVICE_AT,
    I_T_NS,
    I_THR_BUSY,
    I_THR_MODE,
    I_THR_SEQ,
    N_CONTACT,
    N_THR,
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
    X_GYRO_ANGLE,
    X_GYRO_BIAS,
    X_GYRO_DANGLE,
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
from .orbit import drag, grav_j2_terms, lvlh_axes
from .quat import q_from_dcm, q_mul, q_small, rot, rot_t
from .sensors import draw, lidar_geometry, uniform_from_normal

# work-array regions (float64 scratch owned by the caller, see WORK_SIZE)
W_CQ0 = 0  # contact quantities at frame start (N_CONTACT)
W_CQ1 = W_CQ0 + N_CONTACT  # at frame end
W_REL = W_CQ1 + N_CONTACT  # new r_L(3) v_L(3) q_BL(4) omega_BL_B(3) omega_LN_L(3)
WORK_SIZE = W_REL + 16


# ------------------------------------------------------------------ the frame context (one argument per frame)
@structref.register
class FrameContextType(types.StructRef):
    """numba type of a :class:`FrameContext`: its field types are those of the arrays it was made from."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class FrameContext(structref.StructRefProxy):
    """The arrays of one truth (``x``, ``p``, ``iw``, ``noise``, ``work`` and the device records), bundled.

    Made by :func:`new_frame_context`; it holds references to the arrays (not copies): the truth and
    the kernel share them, and an array replaced on the Python side is not seen by the kernel.
    """


structref.define_boxing(FrameContextType, FrameContext)
CONTEXT_FIELDS = ("x", "p", "iw", "noise", "work", "thr", "gyro", "st", "gnss", "lidar", "cam", "dock")


def _new_context(x, p, iw, noise, work, thr, gyro, st, gnss, lidar, cam, dock):
    raise NotImplementedError("numba only: see new_frame_context")


@overload(_new_context)
def _new_context_impl(x, p, iw, noise, work, thr, gyro, st, gnss, lidar, cam, dock):
    ctx_type = FrameContextType(list(zip(CONTEXT_FIELDS, (x, p, iw, noise, work, thr, gyro, st, gnss, lidar, cam,
                                                          dock), strict=True)))

    def impl(x, p, iw, noise, work, thr, gyro, st, gnss, lidar, cam, dock):
        c = structref.new(ctx_type)
        c.x, c.p, c.iw, c.noise, c.work = x, p, iw, noise, work
        c.thr, c.gyro, c.st, c.gnss, c.lidar, c.cam, c.dock = thr, gyro, st, gnss, lidar, cam, dock
        return c

    return impl


@njit(cache=True)
def new_frame_context(x, p, iw, noise, work, thr, gyro, st, gnss, lidar, cam, dock):
    """The :class:`FrameContext` of :func:`truth_frame` (see its parameters)."""
    return _new_context(x, p, iw, noise, work, thr, gyro, st, gnss, lidar, cam, dock)


def compiled_entry(kernel, *args):
    """The compiled entry point of numba ``kernel`` for the types of ``args``, else ``kernel`` itself.

    Calling the entry point skips numba's dispatch (``typeof`` of every argument and the overload
    lookup, ~0.1 us per array and more for record arrays) but checks no argument type: call it only
    with the same objects as ``args`` (or objects of exactly their numba types).
    """
    sig = tuple(typeof(a) for a in args)
    try:
        kernel.compile(sig)  # loads the cached machine code, or compiles
        return kernel.overloads[sig].entry_point
    except (AttributeError, KeyError, TypeError):  # a numba without these internals: dispatch as usual
        return kernel


# ------------------------------------------------------------------ dynamics on scalars
# The rate helpers are inlined into the RK4 stage loop by numba (inline="always": LLVM does not inline across
# numba functions). The stages stay a loop: four inlined copies ran ~25 % faster but compiled 4x slower.
@njit(cache=True, inline="always", error_model="numpy")
def _accel(s, env, cda_over_m, drag_on):
    """[m/s^2] Gravity (two-body + J2) and, when ``drag_on``, drag at orbit state ``s`` = (r, v) (6), N;
    then mu / r^3 and 1 / r^2 (``grav_j2_terms``).

    ``env`` = (mu, re, j2, drag_on, we, rho0, h0, hscale) as in ``p``.
    """
    a = grav_j2_terms(s[0], s[1], s[2], env[0], env[1], env[2])
    if drag_on:
        d = drag(s[0], s[1], s[2], s[3], s[4], s[5], env[4], env[1], env[5], env[6], env[7], cda_over_m)
        return a[0] + d[0], a[1] + d[1], a[2] + d[2], a[3], a[4]
    return a


@njit(cache=True, inline="always", error_model="numpy")
def _axpy6(y, h, k):
    return (y[0] + h * k[0], y[1] + h * k[1], y[2] + h * k[2], y[3] + h * k[3], y[4] + h * k[4],
            y[5] + h * k[5])


@njit(cache=True, inline="always", error_model="numpy")
def _axpy7(y, h, k):
    return (y[0] + h * k[0], y[1] + h * k[1], y[2] + h * k[2], y[3] + h * k[3], y[4] + h * k[4],
            y[5] + h * k[5], y[6] + h * k[6])


@njit(cache=True, inline="always", error_model="numpy")
def _orbit_rate(s, env, cda_over_m, drag_on):
    """d/dt of an unforced orbit state (r, v) (6)."""
    a = _accel(s, env, cda_over_m, drag_on)
    return s[3], s[4], s[5], a[0], a[1], a[2]


@njit(cache=True, inline="always", error_model="numpy")
def _chaser_rates(o, w, env, cda_over_m, g, drag_on, joined, thrust):
    """d/dt of the chaser orbit ``o`` = (r_c, v_c) (6), N, and attitude ``w`` = (q_BN, omega_BN_B) (7).

    ``g`` = (f_B / m (3) [m/s^2], torque_B (3) [N m], ix, iy, iz [kg m^2], 1/ix, 1/iy, 1/iz): thrust
    constant in B over the frame, rotated to N with the stage attitude. Gravity-gradient torque
    (Schaub & Junkins eq. 4.85), Euler's equations with a principal inertia, Euler-parameter
    kinematics (Schaub eq. 3.104). ``joined``: the chaser orbit does not move (rates 0). ``thrust``
    False: the force is 0 (skips its rotation, same result).
    """
    q0, q1, q2, q3, wx, wy, wz = w[0], w[1], w[2], w[3], w[4], w[5], w[6]
    a = _accel(o, env, cda_over_m, drag_on)
    if joined:
        do = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    elif thrust:
        fN = rot_t(q0, q1, q2, q3, g[0], g[1], g[2])
        do = (o[3], o[4], o[5], a[0] + fN[0], a[1] + fN[1], a[2] + fN[2])
    else:
        do = (o[3], o[4], o[5], a[0], a[1], a[2])
    ix, iy, iz = g[6], g[7], g[8]
    rB = rot(q0, q1, q2, q3, o[0], o[1], o[2])
    kgg = 3.0 * a[3] * a[4]  # 3 mu / r^5
    tx = g[3] + kgg * rB[1] * rB[2] * (iz - iy)
    ty = g[4] + kgg * rB[2] * rB[0] * (ix - iz)
    tz = g[5] + kgg * rB[0] * rB[1] * (iy - ix)
    dw = (-0.5 * (q1 * wx + q2 * wy + q3 * wz),
          0.5 * (q0 * wx + q2 * wz - q3 * wy),
          0.5 * (q0 * wy + q3 * wx - q1 * wz),
          0.5 * (q0 * wz + q1 * wy - q2 * wx),
          (tx - (iz - iy) * wy * wz) * g[9],
          (ty - (ix - iz) * wz * wx) * g[10],
          (tz - (iy - ix) * wx * wy) * g[11])
    return do, dw


@njit(cache=True, error_model="numpy")
def _rk4_all(s, o, w, dt, env, cda_s, cda_c, g, drag_on, joined, thrust):
    """One classical RK4 step of the station orbit ``s`` (6), the chaser orbit ``o`` (6) and attitude ``w`` (7).

    ``y + dt/6 (k1 + 2 k2 + 2 k3 + k4)``, the sum accumulated in that order; q_BN renormalised at the end.
    """
    h = 0.5 * dt
    ys, yo, yw = s, o, w
    acs, aco, acw = s, o, w
    for stage in range(4):
        ks = _orbit_rate(ys, env, cda_s, drag_on)
        ko, kw = _chaser_rates(yo, yw, env, cda_c, g, drag_on, joined, thrust)
        if stage == 0:
            acs, aco, acw = ks, ko, kw
        else:
            f = 1.0 if stage == 3 else 2.0
            acs, aco, acw = _axpy6(acs, f, ks), _axpy6(aco, f, ko), _axpy7(acw, f, kw)
        if stage < 3:
            hs = h if stage < 2 else dt
            ys, yo, yw = _axpy6(s, hs, ks), _axpy6(o, hs, ko), _axpy7(w, hs, kw)
    c = dt / 6.0
    wn = _axpy7(w, c, acw)
    qn = math.sqrt(wn[0] * wn[0] + wn[1] * wn[1] + wn[2] * wn[2] + wn[3] * wn[3])
    return (_axpy6(s, c, acs), _axpy6(o, c, aco),
            (wn[0] / qn, wn[1] / qn, wn[2] / qn, wn[3] / qn, wn[4], wn[5], wn[6]))


@njit(cache=True, inline="always", error_model="numpy")
def _env(p):
    return p[P_MU], p[P_RE], p[P_J2], p[P_DRAG_ON], p[P_WE], p[P_RHO0], p[P_H0], p[P_HSCALE]


@njit(cache=True, inline="always", error_model="numpy")
def _thrust_terms(f_B_N, tq_B_Nm, mass_kg, inertia_kg_m2):
    ix, iy, iz = inertia_kg_m2[0], inertia_kg_m2[1], inertia_kg_m2[2]
    return (f_B_N[0] / mass_kg, f_B_N[1] / mass_kg, f_B_N[2] / mass_kg, tq_B_Nm[0], tq_B_Nm[1], tq_B_Nm[2],
            ix, iy, iz, 1.0 / ix, 1.0 / iy, 1.0 / iz)


@njit(cache=True, inline="always", error_model="numpy")
def _station(y):
    return y[X_RS], y[X_RS + 1], y[X_RS + 2], y[X_VS], y[X_VS + 1], y[X_VS + 2]


@njit(cache=True, inline="always", error_model="numpy")
def _chaser(y):
    return ((y[X_RC], y[X_RC + 1], y[X_RC + 2], y[X_VC], y[X_VC + 1], y[X_VC + 2]),
            (y[X_Q], y[X_Q + 1], y[X_Q + 2], y[X_Q + 3], y[X_W], y[X_W + 1], y[X_W + 2]))


@njit(cache=True, inline="always", error_model="numpy")
def _store(y, s, o, w):
    for i in range(3):
        y[X_RS + i] = s[i]
        y[X_VS + i] = s[3 + i]
        y[X_RC + i] = o[i]
        y[X_VC + i] = o[3 + i]
        y[X_W + i] = w[4 + i]
    for i in range(4):
        y[X_Q + i] = w[i]


@njit(cache=True, error_model="numpy")
def truth_deriv(y, p, f_B_N, tq_B_Nm, mass_kg, inertia_kg_m2, joined, out):
    """Time derivative of y = [r_s, v_s, r_c, v_c (N), q_BN, omega_BN_B] (19), written to ``out``.

    Gravity two-body + J2 on both vehicles, optional drag, chaser thrust (force/torque constant in
    B over the frame), gravity-gradient torque, Euler's equations, Euler-parameter kinematics. The
    array form of what :func:`rk4_step` and :func:`truth_frame` evaluate on scalars.
    """
    env = _env(p)
    drag_on = p[P_DRAG_ON] > 0.0
    ks = _orbit_rate(_station(y), env, p[P_CDA_S] / p[P_MASS_S], drag_on)
    o, w = _chaser(y)
    kc, kw = _chaser_rates(o, w, env, p[P_CDA_C] / mass_kg, _thrust_terms(f_B_N, tq_B_Nm, mass_kg, inertia_kg_m2),
                           drag_on, joined, True)
    for i in range(6):
        out[i] = ks[i]
        out[6 + i] = kc[i]
    for i in range(7):
        out[X_Q + i] = kw[i]


@njit(cache=True, error_model="numpy")
def rk4_step(y, p, f_B_N, tq_B_Nm, mass_kg, inertia_kg_m2, joined, dt_s):
    """One classical RK4 step of :func:`truth_deriv` on ``y`` (19) in place; renormalises q_BN."""
    o, w = _chaser(y)
    s, o, w = _rk4_all(_station(y), o, w, dt_s, _env(p), p[P_CDA_S] / p[P_MASS_S], p[P_CDA_C] / mass_kg,
                       _thrust_terms(f_B_N, tq_B_Nm, mass_kg, inertia_kg_m2), p[P_DRAG_ON] > 0.0, joined, True)
    _store(y, s, o, w)


# ------------------------------------------------------------------ relative geometry
@njit(cache=True, error_model="numpy")
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
    a = _accel((rs0, rs1, rs2, vs0, vs1, vs2), _env(p), p[P_CDA_S] / p[P_MASS_S], p[P_DRAG_ON] > 0.0)
    # |r| a_h / |h| with a_h = a . z_L, and |h| / r^2 (a[4] = 1 / r^2)
    wLx = math.sqrt(rs0 * rs0 + rs1 * rs1 + rs2 * rs2) * (a[0] * c[6] + a[1] * c[7] + a[2] * c[8]) / hn
    wLz = hn * a[4]
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


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, inline="always", error_model="numpy")
def _port_axial(rel, p):
    """[m] Axial (y_L) port-to-port distance of ``rel`` (< 0 before contact): ``contact_quantities`` out[9]."""
    aL = rot_t(rel[6], rel[7], rel[8], rel[9], p[P_PORT_B], p[P_PORT_B + 1], p[P_PORT_B + 2])
    return rel[1] + aL[1]


@njit(cache=True, error_model="numpy")
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


# ------------------------------------------------------------------ the frame
@njit(cache=True, inline="always", error_model="numpy")
def _due(iw, sensor, frame):
    """True when ``sensor`` samples at ``frame`` (every ``I_DIV`` frames); moves its next-due frame on."""
    if frame < iw[I_NEXT_DUE + sensor]:
        return False
    iw[I_NEXT_DUE + sensor] += iw[I_DIV + sensor]
    return True


@njit(cache=True, inline="always", error_model="numpy")
def _dropped(p, iw, noise, sensor):
    """A sample lost to the sensor_dropout fault or to random dropout (one draw of the dropout stream)."""
    z = draw(noise, iw, NS_DROPOUT)
    prob = p[P_DROP + sensor]
    return iw[I_OFF + sensor] != 0 or (prob > 0.0 and uniform_from_normal(z) < prob)


@njit(cache=True, error_model="numpy")
def truth_frame(ctx):
    """Advance the truth by one minor frame; write the sensor records due at the new time.

    Parameters
    ----------
    ctx : FrameContext of (:func:`new_frame_context`)
        x, p, iw : packed state, parameters, counters (``sims.core.layout``)
        noise : float64 standard-normal buffer, per-stream segments
        work : float64 scratch of ``WORK_SIZE``
        thr : ACT_THRUSTERS record array (1,), read: a new command (new ``seq``) gives each thruster
            its on_time_s [s] from now; the valve drive fires it over as many frames as it takes
        gyro, st, gnss, lidar, cam, dock : DEV_* record arrays (1,), written when due

    Returns
    -------
    int
        event bits ``EV_CONTACT | EV_CAPTURE | EV_COLLISION`` that happened in this frame, and
        ``F_SERVICE`` when the frame count reached ``iw[I_SERVICE_AT]`` (Python work due)
    """
    x, p, iw, noise, work = ctx.x, ctx.p, ctx.iw, ctx.noise, ctx.work
    thr = ctx.thr
    dt = p[P_DT]
    events = 0
    captured = iw[I_CAPTURED] != 0
    # --- thrusters: on-times -> mean force and torque over the frame, B
    fx = fy = fz = tx = ty = tz = 0.0
    impulse = 0.0
    fresh = thr[0].seq != iw[I_THR_SEQ]
    busy = fresh or iw[I_THR_BUSY] != 0
    if not busy:  # no on-time left: only a thruster fault can fire (or hold) a valve
        modes = 0
        for i in range(N_THR):
            modes |= iw[I_THR_MODE + i]
        busy = modes != 0
    if busy:
        if fresh:
            iw[I_THR_SEQ] = thr[0].seq
            on_time = thr[0].on_time_s
            for i in range(N_THR):
                x[X_THR_LEFT + i] = max(float(on_time[i]), 0.0)
        pending = False
        for i in range(N_THR):
            mode = iw[I_THR_MODE + i]
            left = x[X_THR_LEFT + i]
            if mode == THRUSTER_STUCK_ON:
                on = dt
            elif mode == THRUSTER_FAILED_OFF:
                on = 0.0
            else:
                on = min(left, dt)
                left -= on
                x[X_THR_LEFT + i] = left
            if left > 0.0:
                pending = True
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
        iw[I_THR_BUSY] = 1 if pending else 0
    dm = 0.0
    if impulse > 0.0:
        dm = impulse / p[P_ISP_G0]
        if dm > x[X_PROP]:
            s = x[X_PROP] / dm
            fx, fy, fz, tx, ty, tz = s * fx, s * fy, s * fz, s * tx, s * ty, s * tz
            dm = x[X_PROP]
    if captured:
        fx = fy = fz = tx = ty = tz = 0.0
    # --- dynamics
    mass = x[X_MASS]
    ix, iy, iz = x[X_INERTIA], x[X_INERTIA + 1], x[X_INERTIA + 2]
    g = (fx / mass, fy / mass, fz / mass, tx, ty, tz, ix, iy, iz, 1.0 / ix, 1.0 / iy, 1.0 / iz)
    w_start = (x[X_W], x[X_W + 1], x[X_W + 2])
    o, w = _chaser(x)  # once captured the join below places the chaser: its free step is overwritten
    s, o, w = _rk4_all(_station(x), o, w, dt, _env(p), p[P_CDA_S] / p[P_MASS_S], p[P_CDA_C] / mass, g,
                       p[P_DRAG_ON] > 0.0, False, fx != 0.0 or fy != 0.0 or fz != 0.0)
    _store(x, s, o, w)
    if dm > 0.0:
        x[X_PROP] -= dm
        x[X_PROP_USED] += dm
        x[X_MASS] -= dm
        for i in range(3):
            x[X_INERTIA + i] = p[P_INERTIA_FULL + i] * x[X_MASS] / p[P_MASS_FULL]
    if captured:
        impose_lvlh_relative(x, p, x[X_JOIN_R_L:X_JOIN_R_L + 3], x[X_JOIN_Q_BL:X_JOIN_Q_BL + 4], True, True)
    elif iw[I_HOLD_LVLH] != 0:
        impose_lvlh_relative(x, p, x[X_JOIN_R_L:X_JOIN_R_L + 3], x[X_JOIN_Q_BL:X_JOIN_Q_BL + 4], False, True)
    # what a rate-integrating gyro senses: the body rate integrated over the frame (trapezoid: the torque is
    # constant within a frame, so the rate is linear in time but for the small gyroscopic term)
    for i in range(3):
        x[X_GYRO_DANGLE + i] += 0.5 * (w_start[i] + x[X_W + i]) * dt
    # --- relative geometry at the new time; contact with interpolation inside the frame
    rel = work[W_REL:W_REL + 16]
    c, _ = relative_geometry(x, p, rel)
    y1 = _port_axial(rel, p)
    if not captured:
        y0 = x[X_PORT_Y_PREV]
        if y0 < 0.0 <= y1:
            cq1 = work[W_CQ1:W_CQ1 + N_CONTACT]
            contact_quantities(rel[0:3], rel[3:6], rel[6:10], rel[10:13], p[P_PORT_B:P_PORT_B + 3], cq1)
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
        # the hull distance to the station body is at least the axial distance aft of the port plane
        if (iw[I_COLLIDED] == 0 and rel[1] >= -p[P_CHASER_R]
                and station_body_distance(rel[0:3], p[P_BODY_R], p[P_BODY_LEN]) < p[P_CHASER_R]):
            events |= EV_COLLISION
            iw[I_COLLIDED] = 1
    x[X_PORT_Y_PREV] = y1
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
    if frame >= iw[I_SERVICE_AT]:
        events |= F_SERVICE
    # --- sensors due at the new time
    fb = X_FAULT_BIAS
    if _due(iw, S_GYRO, frame):
        # A rate-integrating gyro: its counter accumulates the angle turned over each sample interval, with
        # bias and angle random walk, whether or not the sample reaches the flight software; the rate it
        # reports is that increment over the interval (the mean rate, not an instantaneous one).
        drop = _dropped(p, iw, noise, S_GYRO)
        phi, bsig, sig = p[P_GYRO_PHI], p[P_GYRO_BSIG], p[P_GYRO_SIG]
        dts = iw[I_DIV + S_GYRO] * dt
        for i in range(3):
            x[X_GYRO_BIAS + i] = phi * x[X_GYRO_BIAS + i] + bsig * draw(noise, iw, NS_GYRO)
        r = ctx.gyro[0]
        for i in range(3):
            d = x[X_GYRO_DANGLE + i] + (x[X_GYRO_BIAS + i] + x[fb + FB_GYRO + i] + sig * draw(noise, iw, NS_GYRO)) * dts
            x[X_GYRO_DANGLE + i] = 0.0
            x[X_GYRO_ANGLE + i] += d
            if not drop:
                r.theta_B_rad[i] = x[X_GYRO_ANGLE + i]
                r.omega_BN_B_rad_s[i] = d / dts
        if not drop:
            r.valid = 1
            r.t_ns = t_ns
            r.seq += 1
    if _due(iw, S_ST, frame):
        drop = _dropped(p, iw, noise, S_ST)
        sig = p[P_ST_SIG]
        e = q_small(x[fb + FB_ST] + sig * draw(noise, iw, NS_ST), x[fb + FB_ST + 1] + sig * draw(noise, iw, NS_ST),
                    x[fb + FB_ST + 2] + sig * draw(noise, iw, NS_ST))
        if not drop:
            qm = q_mul(e[0], e[1], e[2], e[3], x[X_Q], x[X_Q + 1], x[X_Q + 2], x[X_Q + 3])
            r = ctx.st[0]
            for i in range(4):
                r.q_BN[i] = qm[i]
            r.valid = 1
            r.t_ns = t_ns
            r.seq += 1
    if _due(iw, S_GNSS, frame):
        drop = _dropped(p, iw, noise, S_GNSS)
        # relative GNSS measures CoM to CoM (station CoM, not its port)
        g0, g1, g2 = rel[0] + p[P_PORT_L], rel[1] + p[P_PORT_L + 1], rel[2] + p[P_PORT_L + 2]
        valid = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2) > p[P_GNSS_MIN_RANGE]
        sr, sv = p[P_GNSS_SIG_R], p[P_GNSS_SIG_V]
        n0, n1, n2 = draw(noise, iw, NS_GNSS), draw(noise, iw, NS_GNSS), draw(noise, iw, NS_GNSS)
        m0, m1, m2 = draw(noise, iw, NS_GNSS), draw(noise, iw, NS_GNSS), draw(noise, iw, NS_GNSS)
        if not drop:
            r = ctx.gnss[0]
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
    if _due(iw, S_LIDAR, frame):
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
            r = ctx.lidar[0]
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
    if _due(iw, S_CAMERA, frame):
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
            r = ctx.cam[0]
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
    if _due(iw, S_DOCK, frame) and iw[I_OFF + S_DOCK] == 0:
        r = ctx.dock[0]
        r.contact = 1 if (iw[I_CONTACT_PENDING] != 0 or iw[I_CAPTURED] != 0) else 0
        r.captured = 1 if iw[I_CAPTURED] != 0 else 0
        r.t_ns = t_ns
        r.seq += 1
        iw[I_CONTACT_PENDING] = 0
    return events


FRAMES_SHIFT = 1 << 16  # truth_frames packs the frames done above the flag bits


@njit(cache=True, error_model="numpy")
def truth_frames(ctx, n_frames):
    """Up to ``n_frames`` frames of :func:`truth_frame` with the actuator records as they stand.

    Stops after the first frame that returns flags (an event or ``F_SERVICE``: Python work due
    before the next frame). Returns ``frames_done * FRAMES_SHIFT + flags``.
    """
    for k in range(n_frames):
        flags = truth_frame(ctx)
        if flags:
            return (k + 1) * FRAMES_SHIFT + flags
    return n_frames * FRAMES_SHIFT

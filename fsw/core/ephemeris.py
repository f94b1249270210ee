"""Onboard station ephemeris: two-body + J2 propagation of an uplinked state vector.

The flight software needs the station's LVLH frame (for attitude references and to turn body
measurements into LVLH). It keeps the station's inertial state, uplinked by the ground, and
propagates it onboard, as real vehicles do between state-vector uplinks.
"""

from __future__ import annotations

import math

from numba import njit

from fsw.core.attitude import lvlh_dcm


@njit(cache=True)
def _accel_j2(x, mu, re, j2, k, a_out):
    """Two-body + J2 acceleration of state row ``k`` of ``x`` (r in x[k, 0:3]), into ``a_out``."""
    rx, ry, rz = x[k, 0], x[k, 1], x[k, 2]
    r2 = rx * rx + ry * ry + rz * rz
    r = math.sqrt(r2)
    mu_r3 = mu / (r2 * r)
    f = 1.5 * j2 * re * re / r2
    zz = 5.0 * rz * rz / r2
    a_out[0] = -mu_r3 * rx * (1.0 + f * (1.0 - zz))
    a_out[1] = -mu_r3 * ry * (1.0 + f * (1.0 - zz))
    a_out[2] = -mu_r3 * rz * (1.0 + f * (3.0 - zz))


@njit(cache=True)
def ephemeris_step(rv_N, mu_m3_s2, re_m, j2, dt_s, scratch):
    """Advance the station state ``rv_N`` = [r m, v m/s] (inertial) by ``dt_s`` with RK4, in place.

    Parameters
    ----------
    rv_N : (6,) in/out state.
    mu_m3_s2, re_m, j2 : Earth's gravity parameter, equatorial radius and J2.
    dt_s : step [s] (the app's period; RK4 error ~ (n dt)^5 is negligible at 0.1-1 s).
    scratch : (6, 6) scratch (rows: stage states and derivatives).

    Notes
    -----
    a = -mu r / r^3 [1 + 3/2 J2 (Re/r)^2 (1 - 5 z^2/r^2)] (+2 on the z axis), Vallado (2013),
    Eq. 8-30; classical fourth-order Runge-Kutta.
    """
    # scratch rows: 0 stage state, 1..4 stage derivatives (k1..k4), 5 acceleration
    acc = scratch[5]
    for stage in range(4):
        h = 0.0 if stage == 0 else (0.5 * dt_s if stage < 3 else dt_s)
        for i in range(6):
            scratch[0, i] = rv_N[i] + (h * scratch[stage, i] if stage > 0 else 0.0)
        _accel_j2(scratch, mu_m3_s2, re_m, j2, 0, acc)
        k = stage + 1
        scratch[k, 0] = scratch[0, 3]
        scratch[k, 1] = scratch[0, 4]
        scratch[k, 2] = scratch[0, 5]
        scratch[k, 3] = acc[0]
        scratch[k, 4] = acc[1]
        scratch[k, 5] = acc[2]
    for i in range(6):
        rv_N[i] += dt_s / 6.0 * (scratch[1, i] + 2.0 * scratch[2, i] + 2.0 * scratch[3, i] + scratch[4, i])


@njit(cache=True)
def lvlh_frame_j2(rv_N, mu_m3_s2, re_m, j2, scratch, C_LN_out, omega_LN_L_rad_s_out):
    """LVLH frame of a body on a two-body + J2 orbit, with its exact rate.

    Parameters
    ----------
    rv_N : (6,) [r m, v m/s] inertial. mu_m3_s2, re_m, j2 : gravity model. scratch : (6, 6).
    C_LN_out : (3, 3) out, rotation N -> LVLH; omega_LN_L_rad_s_out : (3,) out, [rad/s] LVLH rate in LVLH.

    Notes
    -----
    The z rate is |h| / r^2; the out-of-plane acceleration a_h = a . z_L turns the orbit plane about
    the radius at r a_h / |h| (the x rate: ~1.6e-6 rad/s from J2 at 390 km, 41.5 deg, which moves the
    relative velocity seen in LVLH by 0.08 m/s at 50 km along-track); the y rate is zero (Casotto 1993,
    Eqs. 8-9; the truth's LVLH uses the same definition).
    """
    lvlh_dcm(rv_N[:3], rv_N[3:], C_LN_out, omega_LN_L_rad_s_out)
    for i in range(6):
        scratch[0, i] = rv_N[i]
    acc = scratch[5]
    _accel_j2(scratch, mu_m3_s2, re_m, j2, 0, acc)
    a_h = acc[0] * C_LN_out[2, 0] + acc[1] * C_LN_out[2, 1] + acc[2] * C_LN_out[2, 2]
    r = math.sqrt(rv_N[0] ** 2 + rv_N[1] ** 2 + rv_N[2] ** 2)
    h = omega_LN_L_rad_s_out[2] * r * r
    omega_LN_L_rad_s_out[0] = r * a_h / h


@njit(cache=True)
def orbit_ref_step(last_t_ns, mu_m3_s2, re_m, j2, scratch, rec, t_ns):
    """The orbit-reference app's step: propagate ORBIT_REF.rv_N to ``t_ns``, refresh its LVLH frame.

    ``last_t_ns`` : (1,) int64 in/out, the time rv_N holds. ``rec`` : 1-element ORBIT_REF view.
    """
    o = rec[0]
    dt = (t_ns - last_t_ns[0]) * 1e-9
    if dt > 0.0:
        rv = o.rv_N
        ephemeris_step(rv, mu_m3_s2, re_m, j2, dt, scratch)
        lvlh_frame_j2(rv, mu_m3_s2, re_m, j2, scratch, o.C_LVLH_N, o.omega_LN_L_rad_s)
        last_t_ns[0] = t_ns
    o.t_ns = t_ns
    o.seq += 1

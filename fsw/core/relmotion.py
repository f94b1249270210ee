"""Relative motion about a circular orbit: Clohessy-Wiltshire state-transition and targeting kernels.

Frame: station LVLH, x radial out, y along-track (V-bar), z orbit normal. A relative state is
``x_LVLH = [r (3) m, v (3) m/s]``. CW equations (Clohessy & Wiltshire 1960; Vallado 2013, Sec. 6.8):

    xdd - 3 n^2 x - 2 n yd = ax,   ydd + 2 n xd = ay,   zdd + n^2 z = az.
"""

from __future__ import annotations

import math

from numba import njit

# Status bits returned by cw_two_impulse.
TWO_IMPULSE_OK = 0
TWO_IMPULSE_IN_PLANE_SINGULAR = 1
TWO_IMPULSE_OUT_OF_PLANE_SINGULAR = 2


@njit(cache=True)
def cw_stm(n_rad_s, dt_s, Phi_out):
    """CW state-transition matrix ``x(t0 + dt) = Phi x(t0)`` for state ``[r, v]``.

    Parameters
    ----------
    n_rad_s : mean motion of the reference (station) orbit [rad/s].
    dt_s : propagation interval [s] (may be negative).
    Phi_out : (6, 6) out.

    Notes
    -----
    With s = sin(n dt), c = cos(n dt) (Vallado 2013, Eq. 6-66; docs/reference.md):
    Phi_rr = [[4-3c,0,0],[6(s-nt),1,0],[0,0,c]];
    Phi_rv = [[s/n,2(1-c)/n,0],[2(c-1)/n,(4s-3nt)/n,0],[0,0,s/n]];
    Phi_vr = [[3ns,0,0],[6n(c-1),0,0],[0,0,-ns]]; Phi_vv = [[c,2s,0],[-2s,4c-3,0],[0,0,c]].
    """
    n = n_rad_s
    nt = n * dt_s
    s = math.sin(nt)
    c = math.cos(nt)
    for i in range(6):
        for j in range(6):
            Phi_out[i, j] = 0.0
    Phi_out[0, 0] = 4.0 - 3.0 * c
    Phi_out[1, 0] = 6.0 * (s - nt)
    Phi_out[1, 1] = 1.0
    Phi_out[2, 2] = c
    Phi_out[0, 3] = s / n
    Phi_out[0, 4] = 2.0 * (1.0 - c) / n
    Phi_out[1, 3] = 2.0 * (c - 1.0) / n
    Phi_out[1, 4] = (4.0 * s - 3.0 * nt) / n
    Phi_out[2, 5] = s / n
    Phi_out[3, 0] = 3.0 * n * s
    Phi_out[4, 0] = 6.0 * n * (c - 1.0)
    Phi_out[5, 2] = -n * s
    Phi_out[3, 3] = c
    Phi_out[3, 4] = 2.0 * s
    Phi_out[4, 3] = -2.0 * s
    Phi_out[4, 4] = 4.0 * c - 3.0
    Phi_out[5, 5] = c


@njit(cache=True)
def cw_propagate(x_LVLH, n_rad_s, dt_s, out):
    """Free-drift CW propagation ``out = Phi(dt) x_LVLH`` (closed form, no matrix built).

    Parameters
    ----------
    x_LVLH : (6,) relative state [m, m/s], LVLH.
    n_rad_s : mean motion [rad/s]; dt_s : interval [s].
    out : (6,) out; may alias ``x_LVLH``.

    Notes
    -----
    Same entries as :func:`cw_stm` (Clohessy & Wiltshire 1960; Vallado 2013, Eq. 6-66).
    """
    n = n_rad_s
    nt = n * dt_s
    s = math.sin(nt)
    c = math.cos(nt)
    x, y, z, vx, vy, vz = x_LVLH[0], x_LVLH[1], x_LVLH[2], x_LVLH[3], x_LVLH[4], x_LVLH[5]
    out[0] = (4.0 - 3.0 * c) * x + (s / n) * vx + (2.0 * (1.0 - c) / n) * vy
    out[1] = 6.0 * (s - nt) * x + y + (2.0 * (c - 1.0) / n) * vx + ((4.0 * s - 3.0 * nt) / n) * vy
    out[2] = c * z + (s / n) * vz
    out[3] = 3.0 * n * s * x + c * vx + 2.0 * s * vy
    out[4] = 6.0 * n * (c - 1.0) * x - 2.0 * s * vx + (4.0 * c - 3.0) * vy
    out[5] = -n * s * z + c * vz


@njit(cache=True)
def cw_gravity_accel(x_LVLH, n_rad_s, a_out):
    """Relative acceleration of free CW motion: ``a = [3n^2 x + 2n yd, -2n xd, -n^2 z]`` [m/s^2].

    Subtracting it from a commanded acceleration is the CW feed-forward of hold and closing laws.
    Clohessy & Wiltshire (1960).
    """
    n = n_rad_s
    a_out[0] = 3.0 * n * n * x_LVLH[0] + 2.0 * n * x_LVLH[4]
    a_out[1] = -2.0 * n * x_LVLH[3]
    a_out[2] = -n * n * x_LVLH[2]


@njit(cache=True)
def cw_two_impulse(r0_LVLH_m, v0_LVLH_m_s, rf_LVLH_m, vf_LVLH_m_s, n_rad_s, tof_s, min_det,
                   dv1_out, dv2_out):
    """Two-impulse CW transfer from ``(r0, v0)`` to ``(rf, vf)`` in ``tof_s``.

    Parameters
    ----------
    r0_LVLH_m, v0_LVLH_m_s : (3,) current relative state.
    rf_LVLH_m, vf_LVLH_m_s : (3,) target relative state at ``t0 + tof_s``.
    n_rad_s : mean motion [rad/s]; tof_s : time of flight [s] (> 0).
    min_det : dimensionless singularity threshold on the normalised determinants
        ``det(Phi_rv_inplane) / t^2`` and ``sin(nt) / (nt)`` (both 1 at t -> 0); e.g. 1e-6.
    dv1_out : (3,) out, [m/s] first impulse at t0 (``v0+ - v0``).
    dv2_out : (3,) out, [m/s] second impulse at t0 + tof (``vf - v(tf-)``).

    Returns
    -------
    int : status bits, 0 ok; 1 in-plane Phi_rv singular (nt near 2 pi k or where
        8(1-c) = 3 nt s): no in-plane solution, in-plane dv set to 0;
        2 out-of-plane singular (nt near pi k): z(tf) = cos(nt) z0 whatever vz, out-of-plane dv1 = 0.

    Notes
    -----
    v0+ = Phi_rv^-1 (rf - Phi_rr r0); v(tf-) = Phi_vr r0 + Phi_vv v0+. The in-plane block of
    Phi_rv has determinant (8(1-c) - 3 nt s) / n^2. Vallado (2013), Alg. 48; Clohessy &
    Wiltshire (1960).
    """
    n = n_rad_s
    nt = n * tof_s
    s = math.sin(nt)
    c = math.cos(nt)
    status = 0
    x0, y0, z0 = r0_LVLH_m[0], r0_LVLH_m[1], r0_LVLH_m[2]
    # Right-hand side rf - Phi_rr r0.
    bx = rf_LVLH_m[0] - (4.0 - 3.0 * c) * x0
    by = rf_LVLH_m[1] - 6.0 * (s - nt) * x0 - y0
    bz = rf_LVLH_m[2] - c * z0
    a11 = s / n
    a12 = 2.0 * (1.0 - c) / n
    a21 = 2.0 * (c - 1.0) / n
    a22 = (4.0 * s - 3.0 * nt) / n
    det = a11 * a22 - a12 * a21
    if abs(det) <= min_det * tof_s * tof_s:
        status |= TWO_IMPULSE_IN_PLANE_SINGULAR
        vx = v0_LVLH_m_s[0]
        vy = v0_LVLH_m_s[1]
    else:
        vx = (a22 * bx - a12 * by) / det
        vy = (-a21 * bx + a11 * by) / det
    if abs(s) <= min_det * abs(nt):
        status |= TWO_IMPULSE_OUT_OF_PLANE_SINGULAR
        vz = v0_LVLH_m_s[2]
    else:
        vz = bz * n / s
    dv1_out[0] = vx - v0_LVLH_m_s[0]
    dv1_out[1] = vy - v0_LVLH_m_s[1]
    dv1_out[2] = vz - v0_LVLH_m_s[2]
    dv2_out[0] = vf_LVLH_m_s[0] - (3.0 * n * s * x0 + c * vx + 2.0 * s * vy)
    dv2_out[1] = vf_LVLH_m_s[1] - (6.0 * n * (c - 1.0) * x0 - 2.0 * s * vx + (4.0 * c - 3.0) * vy)
    dv2_out[2] = vf_LVLH_m_s[2] - (-n * s * z0 + c * vz)
    return status

"""Far-range targeting kernels: two-body propagation, Lambert's problem, J2 shooting, passive-trajectory safety.

Inertial frame N throughout; states are ``rv_N = [r m, v m/s]``. The onboard planner (the far-range
app, fsw/apps/far_range.py) solves each leg of a manoeuvre plan with :func:`lambert_uv` and refines it
against two-body + J2 with :func:`lambert_j2` (the same RK4 step as the station ephemeris,
:func:`fsw.core.ephemeris.ephemeris_step`), then checks every passive-abort trajectory with
:func:`passive_min_ellipsoid`.
"""

from __future__ import annotations

import math

from numba import njit

from .attitude import lvlh_dcm
from .ephemeris import ephemeris_step

# lambert_uv / lambert_j2 status
LAMBERT_OK = 0
LAMBERT_DEGENERATE = 1      # r1 and r2 collinear (transfer angle 0 or 180 deg): the plane is undefined
LAMBERT_NO_CONVERGENCE = 2  # the time equation did not converge (or the J2 shooting missed by more than its tolerance)


@njit(cache=True)
def stumpff(z):
    """Stumpff functions (c2, c3) of ``z`` = psi (Vallado 2013, Alg. 1; series near 0)."""
    if z > 1e-6:
        s = math.sqrt(z)
        return (1.0 - math.cos(s)) / z, (s - math.sin(s)) / (s * s * s)
    if z < -1e-6:
        s = math.sqrt(-z)
        return (1.0 - math.cosh(s)) / z, (math.sinh(s) - s) / (s * s * s)
    return 0.5 - z / 24.0 + z * z / 720.0, 1.0 / 6.0 - z / 120.0 + z * z / 5040.0


@njit(cache=True)
def kepler_uv(rv_N, mu_m3_s2, dt_s, out):
    """Two-body propagation of ``rv_N`` by ``dt_s`` with the universal variable (``out`` may alias ``rv_N``).

    Notes
    -----
    Newton iteration on chi of sqrt(mu) dt = chi^3 c3 + (r.v)/sqrt(mu) chi^2 c2 + r0 chi (1 - psi c3),
    then the f and g functions (Vallado 2013, Alg. 8). Returns the iterations used (<= 50).
    """
    r0 = math.sqrt(rv_N[0] ** 2 + rv_N[1] ** 2 + rv_N[2] ** 2)
    v2 = rv_N[3] ** 2 + rv_N[4] ** 2 + rv_N[5] ** 2
    rdv = rv_N[0] * rv_N[3] + rv_N[1] * rv_N[4] + rv_N[2] * rv_N[5]
    smu = math.sqrt(mu_m3_s2)
    alpha = 2.0 / r0 - v2 / mu_m3_s2
    chi = smu * dt_s * alpha if alpha > 1e-12 else smu * dt_s / r0
    r = r0
    c2 = 0.5
    c3 = 1.0 / 6.0
    used = 50
    for it in range(50):
        psi = chi * chi * alpha
        c2, c3 = stumpff(psi)
        r = chi * chi * c2 + rdv / smu * chi * (1.0 - psi * c3) + r0 * (1.0 - psi * c2)
        d = (smu * dt_s - chi ** 3 * c3 - rdv / smu * chi * chi * c2 - r0 * chi * (1.0 - psi * c3)) / r
        chi += d
        if abs(d) < 1e-9:
            used = it + 1
            break
    psi = chi * chi * alpha
    c2, c3 = stumpff(psi)
    r = chi * chi * c2 + rdv / smu * chi * (1.0 - psi * c3) + r0 * (1.0 - psi * c2)
    f = 1.0 - chi * chi / r0 * c2
    g = dt_s - chi ** 3 / smu * c3
    gd = 1.0 - chi * chi / r * c2
    fd = smu / (r * r0) * chi * (psi * c3 - 1.0)
    x0, x1, x2, u0, u1, u2 = rv_N[0], rv_N[1], rv_N[2], rv_N[3], rv_N[4], rv_N[5]
    out[0] = f * x0 + g * u0
    out[1] = f * x1 + g * u1
    out[2] = f * x2 + g * u2
    out[3] = fd * x0 + gd * u0
    out[4] = fd * x1 + gd * u1
    out[5] = fd * x2 + gd * u2
    return used


@njit(cache=True)
def lambert_uv(r1_N_m, r2_N_m, tof_s, mu_m3_s2, h_ref_N, v1_out, v2_out):
    """Zero-revolution Lambert problem by the universal variable, bisection on psi.

    Parameters
    ----------
    r1_N_m, r2_N_m : (3,) positions [m] at departure and arrival. tof_s : [s] time of flight (> 0).
    mu_m3_s2 : gravitational parameter. h_ref_N : (3,) the orbit normal the transfer must share (prograde
        motion about it; e.g. the chaser's angular momentum): the transfer angle is below 180 deg when
        (r1 x r2) . h_ref >= 0, above otherwise.
    v1_out, v2_out : (3,) out, [m/s] velocities on the transfer at departure and arrival.

    Returns
    -------
    int : LAMBERT_OK, LAMBERT_DEGENERATE or LAMBERT_NO_CONVERGENCE.

    Notes
    -----
    A = t_m sqrt(r1 r2 (1 + cos dnu)); y(psi) = r1 + r2 + A (psi c3 - 1) / sqrt(c2);
    sqrt(mu) dt = (y / c2)^(3/2) c3 + A sqrt(y); bisection of psi in (-4 pi^2, 4 pi^2) on dt (increasing in
    psi for one revolution at most); f = 1 - y / r1, g = A sqrt(y / mu), gdot = 1 - y / r2,
    v1 = (r2 - f r1) / g, v2 = (gdot r2 - r1) / g. Vallado (2013), Alg. 58 (universal variables).
    """
    r1 = math.sqrt(r1_N_m[0] ** 2 + r1_N_m[1] ** 2 + r1_N_m[2] ** 2)
    r2 = math.sqrt(r2_N_m[0] ** 2 + r2_N_m[1] ** 2 + r2_N_m[2] ** 2)
    cx = r1_N_m[1] * r2_N_m[2] - r1_N_m[2] * r2_N_m[1]
    cy = r1_N_m[2] * r2_N_m[0] - r1_N_m[0] * r2_N_m[2]
    cz = r1_N_m[0] * r2_N_m[1] - r1_N_m[1] * r2_N_m[0]
    cos_dnu = (r1_N_m[0] * r2_N_m[0] + r1_N_m[1] * r2_N_m[1] + r1_N_m[2] * r2_N_m[2]) / (r1 * r2)
    sin_abs = math.sqrt(cx * cx + cy * cy + cz * cz) / (r1 * r2)
    if sin_abs < 1e-10 or tof_s <= 0.0:
        return LAMBERT_DEGENERATE
    tm = 1.0 if cx * h_ref_N[0] + cy * h_ref_N[1] + cz * h_ref_N[2] >= 0.0 else -1.0
    A = tm * math.sqrt(r1 * r2 * (1.0 + cos_dnu))
    smu = math.sqrt(mu_m3_s2)
    lo = -4.0 * math.pi * math.pi
    hi = 4.0 * math.pi * math.pi
    psi = 0.0
    y = 0.0
    ok = False
    for _ in range(200):
        c2, c3 = stumpff(psi)
        y = r1 + r2 + A * (psi * c3 - 1.0) / math.sqrt(c2)
        if A > 0.0 and y < 0.0:
            lo = psi  # y must be positive: the solution lies at a larger psi
            psi = 0.5 * (lo + hi)
            continue
        chi = math.sqrt(y / c2)
        dt = (chi ** 3 * c3 + A * math.sqrt(y)) / smu
        if abs(dt - tof_s) <= 1e-9 * tof_s:
            ok = True
            break
        if dt <= tof_s:
            lo = psi
        else:
            hi = psi
        psi = 0.5 * (lo + hi)
        if hi - lo < 1e-14:
            ok = abs(dt - tof_s) <= 1e-6 * tof_s
            break
    if not ok or y <= 0.0:
        return LAMBERT_NO_CONVERGENCE
    f = 1.0 - y / r1
    g = A * math.sqrt(y / mu_m3_s2)
    gd = 1.0 - y / r2
    for i in range(3):
        v1_out[i] = (r2_N_m[i] - f * r1_N_m[i]) / g
        v2_out[i] = (gd * r2_N_m[i] - r1_N_m[i]) / g
    return LAMBERT_OK


@njit(cache=True)
def propagate_j2(rv_N, dt_s, step_s, mu_m3_s2, re_m, j2, scratch):
    """Advance ``rv_N`` in place by ``dt_s`` (either sign) on two-body + J2 in RK4 steps of at most ``step_s``.

    The step is the station ephemeris' (:func:`fsw.core.ephemeris.ephemeris_step`); ``scratch`` (6, 6).
    """
    n = max(1, int(math.ceil(abs(dt_s) / step_s)))
    h = dt_s / n
    for _ in range(n):
        ephemeris_step(rv_N, mu_m3_s2, re_m, j2, h, scratch)


@njit(cache=True)
def lambert_j2(r1_N_m, r2_N_m, tof_s, h_ref_N, mu_m3_s2, re_m, j2, step_s, max_iter, tol_m, v1_out, v2_out, work):
    """Lambert's problem with J2: the departure velocity whose two-body + J2 arc from ``r1`` reaches ``r2``.

    Parameters
    ----------
    r1_N_m, r2_N_m, tof_s, h_ref_N : as :func:`lambert_uv`. mu_m3_s2, re_m, j2 : gravity model.
    step_s : [s] RK4 step of the J2 propagation. max_iter : shooting iterations at most. tol_m : [m] miss
        distance accepted. v1_out, v2_out : (3,) out, departure and (J2) arrival velocity.
    work : (8, 6) scratch.

    Returns
    -------
    (int, float) : status and the final miss distance [m].

    Notes
    -----
    Target shifting: solve the two-body problem to an aim point, propagate with J2, move the aim point by
    the miss, repeat (the J2 arc departs from the two-body one smoothly, so the miss shrinks by a factor of
    tens per iteration). The two-body Lambert solution is :func:`lambert_uv`.
    """
    aim = work[6]
    rv = work[7]
    for i in range(3):
        aim[i] = r2_N_m[i]
    miss = math.inf
    for _ in range(max_iter):
        st = lambert_uv(r1_N_m, aim[:3], tof_s, mu_m3_s2, h_ref_N, v1_out, v2_out)
        if st != LAMBERT_OK:
            return st, miss
        for i in range(3):
            rv[i] = r1_N_m[i]
            rv[3 + i] = v1_out[i]
        propagate_j2(rv, tof_s, step_s, mu_m3_s2, re_m, j2, work[0:6])
        e0, e1, e2 = rv[0] - r2_N_m[0], rv[1] - r2_N_m[1], rv[2] - r2_N_m[2]
        miss = math.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
        for i in range(3):
            v2_out[i] = rv[3 + i]
        if miss <= tol_m:
            return LAMBERT_OK, miss
        aim[0] -= e0
        aim[1] -= e1
        aim[2] -= e2
    return LAMBERT_NO_CONVERGENCE, miss


@njit(cache=True)
def lvlh_to_inertial(station_rv_N, C_LN, omega_LN_L, r_L_m, v_L_mps, out):
    """Inertial state of a point given relative to the station CoM in its LVLH frame (transport theorem).

    ``r = r_s + C_LN^T r_L``, ``v = v_s + C_LN^T (v_L + omega_LN x r_L)``; ``out`` (6,).
    """
    w = omega_LN_L
    u0 = v_L_mps[0] + w[1] * r_L_m[2] - w[2] * r_L_m[1]
    u1 = v_L_mps[1] + w[2] * r_L_m[0] - w[0] * r_L_m[2]
    u2 = v_L_mps[2] + w[0] * r_L_m[1] - w[1] * r_L_m[0]
    for i in range(3):
        out[i] = station_rv_N[i] + C_LN[0, i] * r_L_m[0] + C_LN[1, i] * r_L_m[1] + C_LN[2, i] * r_L_m[2]
        out[3 + i] = station_rv_N[3 + i] + C_LN[0, i] * u0 + C_LN[1, i] * u1 + C_LN[2, i] * u2


@njit(cache=True)
def passive_min_ellipsoid(chaser_rv_N, station_rv_N, dt_s, step_s, semi_axes_m, mu_m3_s2, re_m, j2, work, out):
    """Free drift of both vehicles: the least ellipsoid ratio of the chaser about the station over ``dt_s``.

    Parameters
    ----------
    chaser_rv_N, station_rv_N : (6,) states at the same time (not changed).
    dt_s : [s] span; step_s : [s] RK4 step and sampling interval.
    semi_axes_m : (3,) the approach ellipsoid's semi-axes (radial, along-track, cross-track) about the station CoM.
    mu_m3_s2, re_m, j2 : gravity model. work : (12, 6) scratch. out : (4,) out: [least ratio, its time [s]
        from the start, the relative position there (x, y) [m] in LVLH ... (radial, along-track)].

    Returns
    -------
    float : the least ratio sqrt((x/a)^2 + (y/b)^2 + (z/c)^2) of the sampled relative positions (< 1: inside).
    """
    c = work[0]
    s = work[1]
    C = work[2:5, 0:3]
    w = work[5, 0:3]
    sc = work[6:12]
    for i in range(6):
        c[i] = chaser_rv_N[i]
        s[i] = station_rv_N[i]
    n = max(1, int(math.ceil(dt_s / step_s)))
    h = dt_s / n
    best = math.inf
    for k in range(n + 1):
        if k > 0:
            ephemeris_step(c, mu_m3_s2, re_m, j2, h, sc)
            ephemeris_step(s, mu_m3_s2, re_m, j2, h, sc)
        lvlh_dcm(s[0:3], s[3:6], C, w)
        d0, d1, d2 = c[0] - s[0], c[1] - s[1], c[2] - s[2]
        x = C[0, 0] * d0 + C[0, 1] * d1 + C[0, 2] * d2
        y = C[1, 0] * d0 + C[1, 1] * d1 + C[1, 2] * d2
        z = C[2, 0] * d0 + C[2, 1] * d1 + C[2, 2] * d2
        q = math.sqrt((x / semi_axes_m[0]) ** 2 + (y / semi_axes_m[1]) ** 2 + (z / semi_axes_m[2]) ** 2)
        if q < best:
            best = q
            out[0] = q
            out[1] = k * h
            out[2] = x
            out[3] = y
    return best

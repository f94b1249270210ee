"""Thermal environment and lumped-parameter network kernels.

Network (docs/reference.md, Thermal; Gilmore, *Spacecraft Thermal Control Handbook* vol. 1, ch. 5):
``C_i dT_i/dt = Q_ext,i + Q_int,i + Q_htr,i + sum_j G_ij (T_j - T_i)
+ sum_j sigma R_ij (T_j^4 - T_i^4) - sigma eps_i A_i T_i^4`` with R_ij = eps_eff A F [m^2].

External fluxes on flat-plate faces (area A, normal n in B, absorptance alpha, emittance eps):
solar ``alpha A S nu max(0, n.s)``; albedo ``alpha A S a max(0, r_hat.s) F``; Earth IR ``eps A q_IR F``;
plate-to-Earth view factor approximated by ``F = (R_E/r)^2 max(0, n.nadir)`` (exact for a
nadir-facing plate). Shadow nu: cylindrical (0/1) or conical umbra/penumbra (Montenbruck & Gill,
*Satellite Orbits*, sec. 3.4.2, eq. 3.85-3.87).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .constants import AU_M, SIGMA_W_M2_K4, SUN_RADIUS_M
from .quat import rot
from .sensors import thermistors

THERMAL_PARAMS = np.dtype([
    ("dt_s", "f8"),              # [s] thermal frame
    ("substeps", "i8"),          # [-] forward-Euler substeps per thermal frame
    ("solar_flux_W_m2", "f8"),   # [W/m^2]
    ("albedo", "f8"),            # [-]
    ("earth_ir_W_m2", "f8"),     # [W/m^2]
    ("earth_radius_m", "f8"),    # [m] (shadow, view factor)
    ("shadow", "i8"),            # SHADOW_CYLINDRICAL or SHADOW_CONICAL
    ("beta_rad", "f8"),          # [rad] Sun elevation above the station orbit plane
    ("sun_phase_rad", "f8"),     # [rad] Sun azimuth in the orbit plane from the ascending node
], align=True)
SHADOW_CYLINDRICAL = 0
SHADOW_CONICAL = 1

THERMAL_NODE = np.dtype([        # one row per node of the network
    ("T_K", "f8"),               # [K] temperature (the network's state)
    ("capacity_J_K", "f8"),      # [J/K]
    ("q_int_W", "f8"),           # [W] internal dissipation
    ("area_m2", "f8"),           # [m^2] external (space-viewing) area, 0 for an internal node
    ("alpha", "f8"),             # [-] solar absorptance
    ("eps", "f8"),               # [-] IR emittance
    ("normal_B", "f8", (3,)),    # [-] outward normal of the external face, B
], align=True)

LINK = np.dtype([                # one per pair of nodes (i, j), symmetric
    ("G_W_K", "f8"),             # [W/K] conductance
    ("R_m2", "f8"),              # [m^2] radiative exchange area eps_eff A F
], align=True)

HEATER = np.dtype([              # one row per heater: 2z primary and 2z+1 backup of zone z
    ("node", "i8"),              # node it heats
    ("power_W", "f8"),           # [W] rated power
    ("open", "i8"),              # 1 while a heater_open fault holds it off
    ("energy_J", "f8"),          # [J] energy delivered since the start
], align=True)


@njit(cache=True, inline="always")
def shadow_cylindrical(rx, ry, rz, sx, sy, sz, re_m):
    """Illuminated fraction (0 or 1) at (rx, ry, rz) [m], N, behind a cylindrical Earth shadow along -s (unit s)."""
    d = rx * sx + ry * sy + rz * sz
    if d >= 0.0:
        return 1.0
    p2 = rx * rx + ry * ry + rz * rz - d * d
    return 1.0 if p2 > re_m * re_m else 0.0


@njit(cache=True, inline="always")
def shadow_conical(rx, ry, rz, sx, sy, sz, re_m):
    """Visible fraction of the solar disk at (rx, ry, rz) [m], N: conical umbra + penumbra
    (Montenbruck & Gill eq. 3.85-3.87). The Sun is at 1 AU along the unit vector s with the IAU nominal radius.
    """
    ux, uy, uz = AU_M * sx - rx, AU_M * sy - ry, AU_M * sz - rz
    rn = math.sqrt(rx * rx + ry * ry + rz * rz)
    un = math.sqrt(ux * ux + uy * uy + uz * uz)
    a = math.asin(SUN_RADIUS_M / un)  # apparent solar radius
    b = math.asin(re_m / rn)  # apparent Earth radius
    cc = -(rx * ux + ry * uy + rz * uz) / (rn * un)
    c = math.acos(min(1.0, max(-1.0, cc)))  # apparent separation of the centres
    if c >= a + b:
        return 1.0
    if c <= b - a:
        return 0.0
    if c <= a - b:
        return 1.0 - (b * b) / (a * a)
    xx = (c * c + a * a - b * b) / (2.0 * c)
    yy = math.sqrt(max(a * a - xx * xx, 0.0))
    area = a * a * math.acos(min(1.0, xx / a)) + b * b * math.acos(min(1.0, (c - xx) / b)) - c * yy
    return 1.0 - area / (math.pi * a * a)


@njit(cache=True, inline="always")
def sun_direction(rx, ry, rz, vx, vy, vz, beta_rad, phase_rad):
    """Unit Sun direction, N, at angle beta above the current orbit plane of (r [m], v [m/s]).

    ``s = sin(beta) h_hat + cos(beta) (cos(phase) n_hat + sin(phase) h_hat x n_hat)``, n_hat the
    ascending-node direction; tied to the orbit plane so that beta stays at the scenario value
    (a 24 h thermal case at a beta extreme).
    """
    hx = ry * vz - rz * vy
    hy = rz * vx - rx * vz
    hz = rx * vy - ry * vx
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    hx, hy, hz = hx / hn, hy / hn, hz / hn
    # node line = z_N x h_hat; an equatorial orbit has none, use x_N
    nx, ny = -hy, hx
    nn = math.sqrt(nx * nx + ny * ny)
    if nn < 1e-12:
        nx, ny, nn = 1.0, 0.0, 1.0
    nx, ny = nx / nn, ny / nn
    # m = h_hat x n_hat (n has no z component)
    mx, my, mz = -hz * ny, hz * nx, hx * ny - hy * nx
    cb, sb = math.cos(beta_rad), math.sin(beta_rad)
    cp, sp = math.cos(phase_rad), math.sin(phase_rad)
    return (sb * hx + cb * (cp * nx + sp * mx),
            sb * hy + cb * (cp * ny + sp * my),
            sb * hz + cb * sp * mz)


@njit(cache=True)
def external_flux(nodes, r_N_m, q_BN, s_N, illum, solar_W_m2, albedo, ir_W_m2, re_m, out_W):
    """[W] Absorbed solar + albedo + Earth-IR power per node of the ``THERMAL_NODE`` table (0 for internal nodes).

    ``illum`` is the visible solar fraction from the shadow model; s_N the unit Sun direction.
    """
    q0, q1, q2, q3 = q_BN[0], q_BN[1], q_BN[2], q_BN[3]
    sB = rot(q0, q1, q2, q3, s_N[0], s_N[1], s_N[2])
    rn = math.sqrt(r_N_m[0] ** 2 + r_N_m[1] ** 2 + r_N_m[2] ** 2)
    nad = rot(q0, q1, q2, q3, -r_N_m[0] / rn, -r_N_m[1] / rn, -r_N_m[2] / rn)
    cos_ss = -(nad[0] * sB[0] + nad[1] * sB[1] + nad[2] * sB[2])  # r_hat . s
    fe0 = (re_m / rn) ** 2
    for i in range(nodes.shape[0]):
        nd = nodes[i]
        area = nd.area_m2
        if area <= 0.0:
            out_W[i] = 0.0
            continue
        n = nd.normal_B
        nx, ny, nz = n[0], n[1], n[2]
        cs = nx * sB[0] + ny * sB[1] + nz * sB[2]
        ce = nx * nad[0] + ny * nad[1] + nz * nad[2]
        fe = fe0 * ce if ce > 0.0 else 0.0
        q = nd.alpha * area * solar_W_m2 * illum * (cs if cs > 0.0 else 0.0)
        if cos_ss > 0.0:
            q += nd.alpha * area * solar_W_m2 * albedo * cos_ss * fe
        q += nd.eps * area * ir_W_m2 * fe
        out_W[i] = q


@njit(cache=True)
def network_step(nodes, links, q_W, rate_scratch, dt_s, n_sub):
    """Advance the nodal network by ``dt_s`` with ``n_sub`` forward-Euler substeps: ``nodes.T_K`` in place.

    ``nodes`` the ``THERMAL_NODE`` table, ``links`` the (n, n) ``LINK`` table, ``q_W`` [W] the node powers
    held constant over the step (external + internal + heaters). Stability is the caller's: dt_s / n_sub
    below the smallest C_i / (sum_j G_ij + 4 sigma R T^3) (``sims.scenario`` checks it at load time).
    """
    n = nodes.shape[0]
    h = dt_s / n_sub
    s = SIGMA_W_M2_K4
    for _ in range(n_sub):
        for i in range(n):
            ti = nodes[i].T_K
            ti4 = ti * ti * ti * ti
            rate = q_W[i] - s * nodes[i].eps * nodes[i].area_m2 * ti4
            for j in range(n):
                g = links[i, j].G_W_K
                rr = links[i, j].R_m2
                if g != 0.0 or rr != 0.0:
                    tj = nodes[j].T_K
                    rate += g * (tj - ti) + s * rr * (tj * tj * tj * tj - ti4)
            rate_scratch[i] = rate / nodes[i].capacity_J_K
        for i in range(n):
            nodes[i].T_K += h * rate_scratch[i]


@njit(cache=True)
def thermal_frame(params, nodes, links, heaters, scratch, truth_params, truth_state, noise, streams, duties, therm):
    """One thermal frame: Sun and shadow, external fluxes, heaters, network, the thermistors when due.

    Parameters
    ----------
    params : ``THERMAL_PARAMS`` record array (1,)
    nodes : ``THERMAL_NODE`` table (n,), temperatures advanced in place; links : ``LINK`` table (n, n)
    heaters : ``HEATER`` table, energy_J updated; scratch : (2, max(n, 3)) float64
    truth_params, truth_state : ``sims.core.frame`` TRUTH_PARAMS, TRUTH_STATE record arrays (1,)
    noise, streams : noise buffer and its ``STREAM`` rows
    duties : ACT_HEATERS record array (1,), read; therm : DEV_THERMISTORS record array (1,), written

    Returns
    -------
    float
        heater power drawn in this frame [W]
    """
    p, tp, ts = params[0], truth_params[0], truth_state[0]
    dt = p.dt_s
    rs, vs, rc = ts.r_station_N_m, ts.v_station_N_mps, ts.r_chaser_N_m
    s = sun_direction(rs[0], rs[1], rs[2], vs[0], vs[1], vs[2], p.beta_rad, p.sun_phase_rad)
    rx, ry, rz = rc[0], rc[1], rc[2]
    if p.shadow == SHADOW_CONICAL:
        illum = shadow_conical(rx, ry, rz, s[0], s[1], s[2], p.earth_radius_m)
    else:
        illum = shadow_cylindrical(rx, ry, rz, s[0], s[1], s[2], p.earth_radius_m)
    q = scratch[0]
    sv = scratch[1]
    sv[0], sv[1], sv[2] = s[0], s[1], s[2]
    external_flux(nodes, rc, ts.q_BN, sv, illum, p.solar_flux_W_m2, p.albedo, p.earth_ir_W_m2, p.earth_radius_m, q)
    for i in range(nodes.shape[0]):
        q[i] += nodes[i].q_int_W
    duty = duties[0].duty
    total = 0.0
    for k in range(heaters.shape[0]):
        h = heaters[k]
        d = min(max(float(duty[k]), 0.0), 1.0)
        pw = 0.0 if h.open != 0 else d * h.power_W
        q[h.node] += pw
        h.energy_J += pw * dt
        total += pw
    network_step(nodes, links, q, sv, dt, p.substeps)
    thermistors(tp.thermistors, ts.thermistors, therm[0], tp, ts, noise, streams, nodes)
    return total

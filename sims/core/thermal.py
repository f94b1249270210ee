"""Thermal environment and lumped-parameter network kernels.

Network (REFERENCE.md, Thermal; Gilmore, *Spacecraft Thermal Control Handbook* vol. 1, ch. 5):
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

from numba import njit

from .constants import AU_M, KELVIN_OFFSET_K, SIGMA_W_M2_K4, SUN_RADIUS_M
from .layout import (
    FB_THERM,
    I_OFF,
    I_T_NS,
    NS_DROPOUT,
    NS_THERM,
    S_THERM,
    X_FAULT_BIAS,
    X_Q,
    X_RC,
    X_RS,
    X_VS,
)
from .quat import rot
from .sensors import draw, quantize, uniform_from_normal

# thermal parameter vector tp
TP_DT = 0  # [s] thermal frame
TP_NSUB = 1  # [-] Euler substeps per thermal frame
TP_SOLAR = 2  # [W/m^2]
TP_ALBEDO = 3  # [-]
TP_IR = 4  # [W/m^2]
TP_RE = 5  # [m] Earth radius (shadow, view factor)
TP_SHADOW = 6  # 0 cylindrical, 1 conical
TP_BETA = 7  # [rad] sun elevation above the station orbit plane
TP_PHASE = 8  # [rad] sun azimuth in the orbit plane from the ascending node
TP_TH_SIG = 9  # [degC] thermistor noise
TP_TH_Q = 10  # [degC] thermistor quantum
TP_TH_DROP = 11  # [-] thermistor packet dropout probability
TP_TH_DIV = 12  # [thermal frames] thermistor sample divisor
TP_COUNT = 13  # thermal frames done
N_TP = 14
SHADOW_CYLINDRICAL = 0
SHADOW_CONICAL = 1
# ext columns per node
E_AREA = 0  # [m^2] external (space-viewing) area, 0 for an internal node
E_ALPHA = 1  # [-] solar absorptance
E_EPS = 2  # [-] IR emittance
E_N = 3  # [-] outward normal, B (3)
N_EXT = 6


@njit(cache=True, inline="always")
def _shadow_cyl(rx, ry, rz, sx, sy, sz, re_m):
    d = rx * sx + ry * sy + rz * sz
    if d >= 0.0:
        return 1.0
    p2 = rx * rx + ry * ry + rz * rz - d * d
    return 1.0 if p2 > re_m * re_m else 0.0


@njit(cache=True, inline="always")
def _shadow_con(rx, ry, rz, sx, sy, sz, re_m):
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


@njit(cache=True)
def shadow_cylindrical(r_N_m, s_N, re_m):
    """Illuminated fraction (0 or 1) behind a cylindrical Earth shadow along -s (unit s)."""
    return _shadow_cyl(r_N_m[0], r_N_m[1], r_N_m[2], s_N[0], s_N[1], s_N[2], re_m)


@njit(cache=True)
def shadow_conical(r_N_m, s_N, re_m):
    """Visible fraction of the solar disk, conical umbra + penumbra (Montenbruck & Gill eq. 3.85-3.87).

    The Sun is at 1 AU along the unit vector ``s_N`` with the IAU nominal radius.
    """
    return _shadow_con(r_N_m[0], r_N_m[1], r_N_m[2], s_N[0], s_N[1], s_N[2], re_m)


@njit(cache=True, inline="always")
def _sun_dir(rx, ry, rz, vx, vy, vz, beta_rad, phase_rad):
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
def sun_fixed_beta(r_N_m, v_N_mps, beta_rad, phase_rad, out_s_N):
    """Unit Sun direction at angle beta above the current orbit plane of (r, v).

    ``s = sin(beta) h_hat + cos(beta) (cos(phase) n_hat + sin(phase) h_hat x n_hat)``, n_hat the
    ascending-node direction; tied to the orbit plane so that beta stays at the scenario value
    (a 24 h thermal case at a beta extreme).
    """
    s = _sun_dir(r_N_m[0], r_N_m[1], r_N_m[2], v_N_mps[0], v_N_mps[1], v_N_mps[2], beta_rad, phase_rad)
    out_s_N[0], out_s_N[1], out_s_N[2] = s[0], s[1], s[2]


@njit(cache=True)
def external_flux(ext, r_N_m, q_BN, s_N, illum, solar_W_m2, albedo, ir_W_m2, re_m, out_W):
    """[W] Absorbed solar + albedo + Earth-IR power per node (0 for internal nodes).

    ``illum`` is the visible solar fraction from the shadow model; s_N the unit Sun direction.
    """
    q0, q1, q2, q3 = q_BN[0], q_BN[1], q_BN[2], q_BN[3]
    sB = rot(q0, q1, q2, q3, s_N[0], s_N[1], s_N[2])
    rn = math.sqrt(r_N_m[0] ** 2 + r_N_m[1] ** 2 + r_N_m[2] ** 2)
    nad = rot(q0, q1, q2, q3, -r_N_m[0] / rn, -r_N_m[1] / rn, -r_N_m[2] / rn)
    cos_ss = -(nad[0] * sB[0] + nad[1] * sB[1] + nad[2] * sB[2])  # r_hat . s
    fe0 = (re_m / rn) ** 2
    for i in range(ext.shape[0]):
        area = ext[i, E_AREA]
        if area <= 0.0:
            out_W[i] = 0.0
            continue
        nx, ny, nz = ext[i, E_N], ext[i, E_N + 1], ext[i, E_N + 2]
        cs = nx * sB[0] + ny * sB[1] + nz * sB[2]
        ce = nx * nad[0] + ny * nad[1] + nz * nad[2]
        fe = fe0 * ce if ce > 0.0 else 0.0
        q = ext[i, E_ALPHA] * area * solar_W_m2 * illum * (cs if cs > 0.0 else 0.0)
        if cos_ss > 0.0:
            q += ext[i, E_ALPHA] * area * solar_W_m2 * albedo * cos_ss * fe
        q += ext[i, E_EPS] * area * ir_W_m2 * fe
        out_W[i] = q


@njit(cache=True)
def network_step(T_K, cap_J_K, G_W_K, R_m2, ext, q_W, rate_scratch, dt_s, n_sub):
    """Advance the nodal network by ``dt_s`` with ``n_sub`` forward-Euler substeps, in place.

    ``q_W`` holds the node powers held constant over the step (external + internal + heaters).
    Stability is the caller's: dt_s / n_sub below the smallest C_i / (sum_j G_ij + 4 sigma R T^3)
    (``sims.scenario`` checks it at load time).
    """
    n = T_K.shape[0]
    h = dt_s / n_sub
    s = SIGMA_W_M2_K4
    for _ in range(n_sub):
        for i in range(n):
            ti = T_K[i]
            ti4 = ti * ti * ti * ti
            rate = q_W[i] - s * ext[i, E_EPS] * ext[i, E_AREA] * ti4
            for j in range(n):
                g = G_W_K[i, j]
                rr = R_m2[i, j]
                if g != 0.0 or rr != 0.0:
                    tj = T_K[j]
                    rate += g * (tj - ti) + s * rr * (tj * tj * tj * tj - ti4)
            rate_scratch[i] = rate / cap_J_K[i]
        for i in range(n):
            T_K[i] += h * rate_scratch[i]


@njit(cache=True)
def thermal_frame(T_K, cap_J_K, G_W_K, R_m2, ext, q_int_W, heater_node, heater_power_W, heater_open,
                  heater_energy_J, zone_node, tp, x, iw, noise, duties, therm, scratch):
    """One thermal frame: Sun and shadow, external fluxes, heaters, network, thermistor sample.

    Parameters
    ----------
    T_K : (n,) node temperatures [K], advanced in place
    cap_J_K, G_W_K, R_m2 : capacities [J/K], conductances [W/K], radiative exchange areas [m^2]
    ext : (n, N_EXT) external face table: area [m^2], alpha, eps, outward normal in B
    q_int_W : (n,) internal dissipation [W]
    heater_node, heater_power_W, heater_open : per heater: node index, rated power [W], 1 = open
    heater_energy_J : (n_heaters,) accumulated delivered energy [J], updated
    zone_node : (n_zones,) node read by each zone's two thermistors (2z primary, 2z+1 backup)
    tp : thermal parameters (TP_*); x, iw, noise : truth state, counters, noise buffer
    duties : ACT_HEATERS record array (1,), read; therm : DEV_THERMISTORS record array (1,), written
    scratch : (2, n) float64 scratch

    Returns
    -------
    float
        heater power drawn in this frame [W]
    """
    n = T_K.shape[0]
    dt = tp[TP_DT]
    s = _sun_dir(x[X_RS], x[X_RS + 1], x[X_RS + 2], x[X_VS], x[X_VS + 1], x[X_VS + 2], tp[TP_BETA],
                 tp[TP_PHASE])
    rx, ry, rz = x[X_RC], x[X_RC + 1], x[X_RC + 2]
    if tp[TP_SHADOW] == SHADOW_CONICAL:
        illum = _shadow_con(rx, ry, rz, s[0], s[1], s[2], tp[TP_RE])
    else:
        illum = _shadow_cyl(rx, ry, rz, s[0], s[1], s[2], tp[TP_RE])
    q = scratch[0]
    sv = scratch[1]
    sv[0], sv[1], sv[2] = s[0], s[1], s[2]
    external_flux(ext, x[X_RC:X_RC + 3], x[X_Q:X_Q + 4], sv, illum, tp[TP_SOLAR], tp[TP_ALBEDO],
                  tp[TP_IR], tp[TP_RE], q)
    for i in range(n):
        q[i] += q_int_W[i]
    duty = duties[0].duty
    total = 0.0
    for h in range(heater_node.shape[0]):
        d = min(max(float(duty[h]), 0.0), 1.0)
        pw = 0.0 if heater_open[h] != 0 else d * heater_power_W[h]
        q[heater_node[h]] += pw
        heater_energy_J[h] += pw * dt
        total += pw
    network_step(T_K, cap_J_K, G_W_K, R_m2, ext, q, sv, dt, int(tp[TP_NSUB]))
    count = int(tp[TP_COUNT]) + 1
    tp[TP_COUNT] = count
    div = int(tp[TP_TH_DIV])
    if div > 0 and count % div == 0:
        u = uniform_from_normal(draw(noise, iw, NS_DROPOUT))
        sig, quantum = tp[TP_TH_SIG], tp[TP_TH_Q]
        r = therm[0]
        fresh = iw[I_OFF + S_THERM] == 0 and u >= tp[TP_TH_DROP]
        for k in range(zone_node.shape[0]):
            for unit in range(2):
                ch = 2 * k + unit
                val = (T_K[zone_node[k]] - KELVIN_OFFSET_K + sig * draw(noise, iw, NS_THERM)
                       + x[X_FAULT_BIAS + FB_THERM + ch])
                if fresh:
                    r.temp_C[ch] = quantize(val, quantum)
        if fresh:
            r.valid_mask = (1 << (2 * zone_node.shape[0])) - 1
            r.t_ns = iw[I_T_NS]
            r.seq += 1
    return total

"""Orbit kernels: two-body + J2 gravity, exponential drag, the station LVLH frame.

Sources: Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed., eq. 8-30 (J2
acceleration), eq. 8-28 (drag); LVLH frame rate: Schaub & Junkins sec. 14.4 (Hill frame).
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True, inline="always")
def grav_j2_terms(x, y, z, mu, re, j2):
    """Point-mass + J2 acceleration [m/s^2] at ECI position (x, y, z) [m] (Vallado eq. 8-30), with the
    factors it shares with the gravity-gradient torque: (a_x, a_y, a_z, mu / r^3 [1/s^2], 1 / r^2 [1/m^2]).

    One square root and one division (the divider is the slow unit in the truth's RK4 stages).
    """
    r2 = x * x + y * y + z * z
    inv_r = 1.0 / math.sqrt(r2)
    inv_r2 = inv_r * inv_r
    mu_r3 = mu * inv_r2 * inv_r
    f = 1.5 * j2 * re * re * inv_r2
    zz = 5.0 * z * z * inv_r2
    k = -mu_r3 * (1.0 + f * (1.0 - zz))
    return k * x, k * y, -mu_r3 * z * (1.0 + f * (3.0 - zz)), mu_r3, inv_r2


@njit(cache=True, inline="always")
def grav_j2(x, y, z, mu, re, j2):
    """[m/s^2] Point-mass + J2 acceleration at ECI position (x, y, z) [m] (Vallado eq. 8-30)."""
    a = grav_j2_terms(x, y, z, mu, re, j2)
    return a[0], a[1], a[2]


@njit(cache=True, inline="always")
def drag(x, y, z, vx, vy, vz, we, re, rho0, h0, hscale, cda_over_m):
    """[m/s^2] Drag of an exponential atmosphere co-rotating with the Earth (Vallado eq. 8-28).

    ``rho = rho0 exp(-(h - h0)/H)`` with h the height above a spherical Earth of radius ``re``.
    """
    h = math.sqrt(x * x + y * y + z * z) - re
    rho = rho0 * math.exp(-(h - h0) / hscale)
    # velocity relative to the rotating atmosphere: v - omega_E x r, omega_E along z_N
    ux = vx + we * y
    uy = vy - we * x
    uz = vz
    k = -0.5 * rho * cda_over_m * math.sqrt(ux * ux + uy * uy + uz * uz)
    return k * ux, k * uy, k * uz


@njit(cache=True, inline="always")
def lvlh_axes(rx, ry, rz, vx, vy, vz):
    """Rows of C_LN (9 floats, row-major): x = r/|r|, z = h/|h|, y = z x x."""
    hx = ry * vz - rz * vy
    hy = rz * vx - rx * vz
    hz = rx * vy - ry * vx
    irn = 1.0 / math.sqrt(rx * rx + ry * ry + rz * rz)
    ihn = 1.0 / math.sqrt(hx * hx + hy * hy + hz * hz)
    x0, x1, x2 = rx * irn, ry * irn, rz * irn
    z0, z1, z2 = hx * ihn, hy * ihn, hz * ihn
    return x0, x1, x2, z1 * x2 - z2 * x1, z2 * x0 - z0 * x2, z0 * x1 - z1 * x0, z0, z1, z2


@njit(cache=True)
def accel_j2(r_N_m, mu_m3_s2, re_m, j2, out_N_m_s2):
    """Array form of :func:`grav_j2` for tests and tools; writes ``out_N_m_s2``."""
    a = grav_j2(r_N_m[0], r_N_m[1], r_N_m[2], mu_m3_s2, re_m, j2)
    out_N_m_s2[0] = a[0]
    out_N_m_s2[1] = a[1]
    out_N_m_s2[2] = a[2]


@njit(cache=True)
def lvlh_dcm(r_N_m, v_N_mps, out_C_LN):
    """Rows of ``out_C_LN`` [3x3] are the LVLH axes in N: x = r/|r|, z = h/|h|, y = z x x."""
    rx, ry, rz = r_N_m[0], r_N_m[1], r_N_m[2]
    hx = ry * v_N_mps[2] - rz * v_N_mps[1]
    hy = rz * v_N_mps[0] - rx * v_N_mps[2]
    hz = rx * v_N_mps[1] - ry * v_N_mps[0]
    rn = math.sqrt(rx * rx + ry * ry + rz * rz)
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    out_C_LN[0, 0], out_C_LN[0, 1], out_C_LN[0, 2] = rx / rn, ry / rn, rz / rn
    out_C_LN[2, 0], out_C_LN[2, 1], out_C_LN[2, 2] = hx / hn, hy / hn, hz / hn
    out_C_LN[1, 0] = out_C_LN[2, 1] * out_C_LN[0, 2] - out_C_LN[2, 2] * out_C_LN[0, 1]
    out_C_LN[1, 1] = out_C_LN[2, 2] * out_C_LN[0, 0] - out_C_LN[2, 0] * out_C_LN[0, 2]
    out_C_LN[1, 2] = out_C_LN[2, 0] * out_C_LN[0, 1] - out_C_LN[2, 1] * out_C_LN[0, 0]


@njit(cache=True)
def lvlh_rate(r_N_m, v_N_mps, a_N_m_s2, out_omega_LN_L):
    """[rad/s] Angular velocity of LVLH w.r.t. N in L: ``[r a_h / |h|, 0, |h| / r^2]``.

    ``a_h`` is the acceleration along the orbit normal (J2, drag); it turns the orbit plane
    (d h_hat/dt = r x a_h / |h| rotates L about x). The z term is the in-plane rotation of r.
    """
    rx, ry, rz = r_N_m[0], r_N_m[1], r_N_m[2]
    hx = ry * v_N_mps[2] - rz * v_N_mps[1]
    hy = rz * v_N_mps[0] - rx * v_N_mps[2]
    hz = rx * v_N_mps[1] - ry * v_N_mps[0]
    r2 = rx * rx + ry * ry + rz * rz
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    a_h = (a_N_m_s2[0] * hx + a_N_m_s2[1] * hy + a_N_m_s2[2] * hz) / hn
    out_omega_LN_L[0] = math.sqrt(r2) * a_h / hn
    out_omega_LN_L[1] = 0.0
    out_omega_LN_L[2] = hn / r2


@njit(cache=True)
def relative_lvlh(r_s_N_m, v_s_N_mps, r_c_N_m, v_c_N_mps, C_LN, omega_LN_L_rad_s, out_r_L_m, out_v_L_mps):
    """Chaser CoM relative to station CoM in L: position, and velocity as seen in the rotating L.

    ``r_L = C_LN (r_c - r_s)``, ``v_L = C_LN (v_c - v_s) - omega_LN x r_L`` (transport theorem).
    """
    for i in range(3):
        out_r_L_m[i] = 0.0
        out_v_L_mps[i] = 0.0
        for j in range(3):
            out_r_L_m[i] += C_LN[i, j] * (r_c_N_m[j] - r_s_N_m[j])
            out_v_L_mps[i] += C_LN[i, j] * (v_c_N_mps[j] - v_s_N_mps[j])
    wx, wy, wz = omega_LN_L_rad_s[0], omega_LN_L_rad_s[1], omega_LN_L_rad_s[2]
    rx, ry, rz = out_r_L_m[0], out_r_L_m[1], out_r_L_m[2]
    out_v_L_mps[0] -= wy * rz - wz * ry
    out_v_L_mps[1] -= wz * rx - wx * rz
    out_v_L_mps[2] -= wx * ry - wy * rx


@njit(cache=True)
def rk4_two_body_j2(y_m_mps, mu_m3_s2, re_m, j2, dt_s, n_steps, work):
    """Propagate one ECI state [r (m), v (m/s)] by ``n_steps`` RK4 steps of ``dt_s``; in place.

    A standalone propagator for tests and tools (the truth's frame kernel integrates both
    vehicles together). ``work`` is a float64 scratch array of at least 30 entries.
    """
    for _ in range(n_steps):
        for i in range(6):
            work[i] = y_m_mps[i]
        for stage in range(4):
            a = grav_j2(work[0], work[1], work[2], mu_m3_s2, re_m, j2)
            base = 6 + 6 * stage
            work[base + 0] = work[3]
            work[base + 1] = work[4]
            work[base + 2] = work[5]
            work[base + 3] = a[0]
            work[base + 4] = a[1]
            work[base + 5] = a[2]
            if stage < 3:
                h = 0.5 * dt_s if stage < 2 else dt_s
                for i in range(6):
                    work[i] = y_m_mps[i] + h * work[base + i]
        for i in range(6):
            y_m_mps[i] += dt_s / 6.0 * (work[6 + i] + 2.0 * work[12 + i] + 2.0 * work[18 + i] + work[24 + i])

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
def drag_factor(x, y, z, vx, vy, vz, we, re, rho0, h0, hscale, cda_over_m):
    """[1/s] k = -1/2 rho (Cd A / m) |v_rel| of the drag k v_rel of an exponential atmosphere co-rotating with the
    Earth (Vallado eq. 8-28), v_rel = v - omega_E x r (omega_E along z_N).

    ``rho = rho0 exp(-(h - h0)/H)`` with h the height above a spherical Earth of radius ``re``.
    """
    h = math.sqrt(x * x + y * y + z * z) - re
    rho = rho0 * math.exp(-(h - h0) / hscale)
    ux = vx + we * y
    uy = vy - we * x
    return -0.5 * rho * cda_over_m * math.sqrt(ux * ux + uy * uy + vz * vz)


@njit(cache=True, inline="always")
def drag(x, y, z, vx, vy, vz, we, re, rho0, h0, hscale, cda_over_m):
    """[m/s^2] Drag of an exponential atmosphere co-rotating with the Earth (Vallado eq. 8-28): k v_rel
    (:func:`drag_factor`)."""
    k = drag_factor(x, y, z, vx, vy, vz, we, re, rho0, h0, hscale, cda_over_m)
    return k * (vx + we * y), k * (vy - we * x), k * vz


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

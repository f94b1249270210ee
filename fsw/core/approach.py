"""Point-to-point translation at short range (retreats and re-positioning inside the approach ellipsoid)."""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def goto_point_accel(r_LVLH_m, v_LVLH_m_s, r_target_LVLH_m, n_rad_s, k_pos_1_s, v_max_m_s, k_v_1_s,
                     a_max_m_s2, a_cmd_out):
    """Fly to a point at a limited speed: velocity command toward it, velocity loop, CW feed-forward.

    Parameters
    ----------
    r_LVLH_m, v_LVLH_m_s : (3,) relative state, LVLH.
    r_target_LVLH_m : (3,) point to reach, LVLH.
    n_rad_s : mean motion [rad/s].
    k_pos_1_s : [1/s] position-to-velocity gain (the approach slows as exp(-k t) near the point).
    v_max_m_s : [m/s] speed limit of the velocity command.
    k_v_1_s : [1/s] velocity-loop gain.
    a_max_m_s2 : [m/s^2] limit on the command norm.
    a_cmd_out : (3,) out, [m/s^2] commanded control acceleration, LVLH.

    Returns
    -------
    float : [m] distance to the point.

    Notes
    -----
    v_cmd = -sat(k_pos e, v_max) (vector saturation of e = r - r_target);
    a = k_v (v_cmd - v) - [3n^2 x + 2n yd, -2n xd, -n^2 z]. The CW feed-forward leaves a double
    integrator (Fehse 2003, Sec. 6.3), so the loop behaves the same at every range.
    """
    ex = r_LVLH_m[0] - r_target_LVLH_m[0]
    ey = r_LVLH_m[1] - r_target_LVLH_m[1]
    ez = r_LVLH_m[2] - r_target_LVLH_m[2]
    dist = math.sqrt(ex * ex + ey * ey + ez * ez)
    g = k_pos_1_s
    if k_pos_1_s * dist > v_max_m_s:
        g = v_max_m_s / dist
    n = n_rad_s
    ax = k_v_1_s * (-g * ex - v_LVLH_m_s[0]) - (3.0 * n * n * r_LVLH_m[0] + 2.0 * n * v_LVLH_m_s[1])
    ay = k_v_1_s * (-g * ey - v_LVLH_m_s[1]) + 2.0 * n * v_LVLH_m_s[0]
    az = k_v_1_s * (-g * ez - v_LVLH_m_s[2]) + n * n * r_LVLH_m[2]
    an = math.sqrt(ax * ax + ay * ay + az * az)
    f = 1.0 if an <= a_max_m_s2 else a_max_m_s2 / an
    a_cmd_out[0] = f * ax
    a_cmd_out[1] = f * ay
    a_cmd_out[2] = f * az
    return dist

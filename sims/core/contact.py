"""Docking-contact geometry: port-to-port state and the quantities the capture envelope limits.

Docking attitude D (the chaser attitude that mates with the station's aft port, which faces -y_L):
x_D = +y_L, y_D = -z_L, z_D = -x_L. Misalignment angles are the 3-2-1 (yaw, pitch, roll) angles
of B relative to D (Schaub & Junkins eq. 3.33); rates are omega_BL_B (the station holds LVLH).
"""

from __future__ import annotations

import math

from numba import njit

from .quat import euler321_of_q, q_mul, rot_t

# q_DL of the docking attitude: C_DL rows (0,1,0), (0,0,-1), (-1,0,0), via Sheppard's method.
Q_DL = (0.5, -0.5, -0.5, 0.5)
RAD_DEG = 180.0 / math.pi


@njit(cache=True, inline="always")
def docking_angles(q0, q1, q2, q3):
    """(roll, pitch, yaw) [rad]: 3-2-1 angles of B relative to the docking attitude, from q_BL."""
    qd = q_mul(q0, q1, q2, q3, Q_DL[0], -Q_DL[1], -Q_DL[2], -Q_DL[3])
    return euler321_of_q(qd[0], qd[1], qd[2], qd[3])


@njit(cache=True)
def contact_quantities(r_L_m, v_L_mps, q_BL, omega_BL_B_rad_s, port_B_m, out):
    """Port-to-port contact quantities of the chaser w.r.t. the station port.

    Parameters
    ----------
    r_L_m, v_L_mps : (3,) chaser CoM rel. station port, L [m], [m/s] (rate seen in L)
    q_BL : (4,) chaser attitude w.r.t. LVLH, scalar first
    omega_BL_B_rad_s : (3,) chaser rate w.r.t. LVLH, B [rad/s]
    port_B_m : (3,) chaser docking port rel. chaser CoM, B [m]
    out : (10,) written: axial closing rate [m/s] (+ = closing), lateral rate [m/s], lateral
        misalignment [m], pitch, yaw, roll [deg], rates about x_B, y_B, z_B [deg/s],
        axial port-to-port distance d_y [m] (< 0 before contact)
    """
    q0, q1, q2, q3 = q_BL[0], q_BL[1], q_BL[2], q_BL[3]
    px, py, pz = port_B_m[0], port_B_m[1], port_B_m[2]
    wx, wy, wz = omega_BL_B_rad_s[0], omega_BL_B_rad_s[1], omega_BL_B_rad_s[2]
    aL = rot_t(q0, q1, q2, q3, px, py, pz)
    # port velocity adds omega x arm (the arm rotates w.r.t. L)
    wa = rot_t(q0, q1, q2, q3, wy * pz - wz * py, wz * px - wx * pz, wx * py - wy * px)
    dx, dy, dz = r_L_m[0] + aL[0], r_L_m[1] + aL[1], r_L_m[2] + aL[2]
    ux, uy, uz = v_L_mps[0] + wa[0], v_L_mps[1] + wa[1], v_L_mps[2] + wa[2]
    out[0] = uy
    out[1] = math.sqrt(ux * ux + uz * uz)
    out[2] = math.sqrt(dx * dx + dz * dz)
    roll, pitch, yaw = docking_angles(q0, q1, q2, q3)
    out[3] = pitch * RAD_DEG
    out[4] = yaw * RAD_DEG
    out[5] = roll * RAD_DEG
    out[6] = wx * RAD_DEG
    out[7] = wy * RAD_DEG
    out[8] = wz * RAD_DEG
    out[9] = dy


@njit(cache=True)
def within_envelope(c, lim):
    """Bit mask of violated limits (0 = capture) for contact quantities ``c`` (see above).

    ``lim`` = [axial min, axial max [m/s], lateral rate max [m/s], lateral misalignment max [m],
    pitch max, yaw max, roll max [deg], angular rate max per axis [deg/s]].
    Bits: 0 axial rate, 1 lateral rate, 2 lateral misalignment, 3 pitch, 4 yaw, 5 roll, 6 rates.
    """
    bad = 0
    if c[0] < lim[0] or c[0] > lim[1]:
        bad |= 1
    if c[1] > lim[2]:
        bad |= 2
    if c[2] > lim[3]:
        bad |= 4
    if abs(c[3]) > lim[4]:
        bad |= 8
    if abs(c[4]) > lim[5]:
        bad |= 16
    if abs(c[5]) > lim[6]:
        bad |= 32
    if abs(c[6]) > lim[7] or abs(c[7]) > lim[7] or abs(c[8]) > lim[7]:
        bad |= 64
    return bad


@njit(cache=True)
def station_body_distance(r_L_m, body_radius_m, body_length_m):
    """[m] Distance from a point (rel. station port, L) to the station body cylinder.

    The body is a cylinder of the given radius along +y_L from the port plane (y = 0) to y = length.
    """
    rho = math.sqrt(r_L_m[0] * r_L_m[0] + r_L_m[2] * r_L_m[2])
    y = r_L_m[1]
    dy = -y if y < 0.0 else (y - body_length_m if y > body_length_m else 0.0)
    dr = rho - body_radius_m if rho > body_radius_m else 0.0
    return math.sqrt(dy * dy + dr * dr)

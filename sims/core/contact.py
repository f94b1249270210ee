"""Docking-contact geometry: port-to-port state and the quantities the capture envelope limits.

Everything is in the station port's frame S (the station body frame, which the station holds about
LVLH with its attitude limit cycle; S = L when it holds LVLH ideally). Docking attitude D (the
chaser attitude that mates with the station's aft port, which faces -y_S): x_D = +y_S, y_D = -z_S,
z_D = -x_S. Misalignment angles are the 3-2-1 (yaw, pitch, roll) angles of B relative to D
(Schaub & Junkins eq. 3.33); rates are omega_BS_B, the chaser's rate relative to the station body.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .quat import euler321_of_q, q_mul, rot_t

CONTACT = np.dtype([                   # port-to-port quantities of the chaser w.r.t. the station port
    ("axial_rate_mps", "f8"),          # [m/s] closing rate along the docking axis (+ = closing)
    ("lateral_rate_mps", "f8"),        # [m/s] rate across the docking axis
    ("lateral_misalignment_m", "f8"),  # [m] port-to-port offset across the docking axis
    ("pitch_deg", "f8"),               # [deg] 3-2-1 misalignment w.r.t. the docking attitude
    ("yaw_deg", "f8"),                 # [deg]
    ("roll_deg", "f8"),                # [deg]
    ("rates_deg_s", "f8", (3,)),       # [deg/s] chaser rate w.r.t. the station body S, B
    ("axial_distance_m", "f8"),        # [m] axial port-to-port distance (< 0 before contact)
    ("time_s", "f8"),                  # [s] time of a contact, interpolated inside its frame
], align=True)

CAPTURE_LIMITS = np.dtype([            # the capture envelope: the keys of the scenario's [docking.limits]
    ("axial_rate_min_mps", "f8"),      # [m/s]
    ("axial_rate_max_mps", "f8"),      # [m/s]
    ("lateral_rate_max_mps", "f8"),    # [m/s]
    ("lateral_misalignment_max_m", "f8"),  # [m]
    ("pitch_max_deg", "f8"),           # [deg]
    ("yaw_max_deg", "f8"),             # [deg]
    ("roll_max_deg", "f8"),            # [deg]
    ("angular_rate_max_deg_s", "f8"),  # [deg/s] per body axis
], align=True)

# The docking attitude w.r.t. the port's frame (q_DS; q_DL w.r.t. LVLH, the same rows): C rows (0,1,0),
# (0,0,-1), (-1,0,0), via Sheppard's method.
Q_DL = (0.5, -0.5, -0.5, 0.5)
RAD_DEG = 180.0 / math.pi


@njit(cache=True, inline="always")
def docking_angles(q0, q1, q2, q3):
    """(roll, pitch, yaw) [rad]: 3-2-1 angles of B relative to the docking attitude, from q_BS (q_BL when the
    docking attitude is taken w.r.t. LVLH)."""
    qd = q_mul(q0, q1, q2, q3, Q_DL[0], -Q_DL[1], -Q_DL[2], -Q_DL[3])
    return euler321_of_q(qd[0], qd[1], qd[2], qd[3])


@njit(cache=True)
def contact_quantities(r_S_m, v_S_mps, q_BS, omega_BS_B_rad_s, port_B_m, out):
    """Port-to-port contact quantities of the chaser w.r.t. the station port, written to ``CONTACT`` record ``out``
    (all but ``time_s``).

    Parameters
    ----------
    r_S_m, v_S_mps : (3,) chaser CoM rel. station port, S [m], [m/s] (rate seen in S)
    q_BS : (4,) chaser attitude w.r.t. the station port's frame S, scalar first
    omega_BS_B_rad_s : (3,) chaser rate w.r.t. S, B [rad/s]
    port_B_m : (3,) chaser docking port rel. chaser CoM, B [m]
    """
    q0, q1, q2, q3 = q_BS[0], q_BS[1], q_BS[2], q_BS[3]
    px, py, pz = port_B_m[0], port_B_m[1], port_B_m[2]
    wx, wy, wz = omega_BS_B_rad_s[0], omega_BS_B_rad_s[1], omega_BS_B_rad_s[2]
    aS = rot_t(q0, q1, q2, q3, px, py, pz)
    # port velocity adds omega x arm (the arm rotates w.r.t. S)
    wa = rot_t(q0, q1, q2, q3, wy * pz - wz * py, wz * px - wx * pz, wx * py - wy * px)
    dx, dy, dz = r_S_m[0] + aS[0], r_S_m[1] + aS[1], r_S_m[2] + aS[2]
    ux, uy, uz = v_S_mps[0] + wa[0], v_S_mps[1] + wa[1], v_S_mps[2] + wa[2]
    out.axial_rate_mps = uy
    out.lateral_rate_mps = math.sqrt(ux * ux + uz * uz)
    out.lateral_misalignment_m = math.sqrt(dx * dx + dz * dz)
    roll, pitch, yaw = docking_angles(q0, q1, q2, q3)
    out.pitch_deg = pitch * RAD_DEG
    out.yaw_deg = yaw * RAD_DEG
    out.roll_deg = roll * RAD_DEG
    out.rates_deg_s[0] = wx * RAD_DEG
    out.rates_deg_s[1] = wy * RAD_DEG
    out.rates_deg_s[2] = wz * RAD_DEG
    out.axial_distance_m = dy


@njit(cache=True, inline="always")
def interpolate_contact(c0, c1, frac, out):
    """``CONTACT`` record ``out`` = ``c0 + frac (c1 - c0)``, quantity by quantity (all but ``time_s``)."""
    out.axial_rate_mps = c0.axial_rate_mps + frac * (c1.axial_rate_mps - c0.axial_rate_mps)
    out.lateral_rate_mps = c0.lateral_rate_mps + frac * (c1.lateral_rate_mps - c0.lateral_rate_mps)
    out.lateral_misalignment_m = c0.lateral_misalignment_m + frac * (c1.lateral_misalignment_m
                                                                     - c0.lateral_misalignment_m)
    out.pitch_deg = c0.pitch_deg + frac * (c1.pitch_deg - c0.pitch_deg)
    out.yaw_deg = c0.yaw_deg + frac * (c1.yaw_deg - c0.yaw_deg)
    out.roll_deg = c0.roll_deg + frac * (c1.roll_deg - c0.roll_deg)
    for i in range(3):
        out.rates_deg_s[i] = c0.rates_deg_s[i] + frac * (c1.rates_deg_s[i] - c0.rates_deg_s[i])
    out.axial_distance_m = c0.axial_distance_m + frac * (c1.axial_distance_m - c0.axial_distance_m)


@njit(cache=True)
def within_envelope(c, lim):
    """Bit mask of the limits of ``CAPTURE_LIMITS`` record ``lim`` that ``CONTACT`` record ``c`` violates (0 = capture).

    Bits: 0 axial rate, 1 lateral rate, 2 lateral misalignment, 3 pitch, 4 yaw, 5 roll, 6 rates.
    """
    bad = 0
    if c.axial_rate_mps < lim.axial_rate_min_mps or c.axial_rate_mps > lim.axial_rate_max_mps:
        bad |= 1
    if c.lateral_rate_mps > lim.lateral_rate_max_mps:
        bad |= 2
    if c.lateral_misalignment_m > lim.lateral_misalignment_max_m:
        bad |= 4
    if abs(c.pitch_deg) > lim.pitch_max_deg:
        bad |= 8
    if abs(c.yaw_deg) > lim.yaw_max_deg:
        bad |= 16
    if abs(c.roll_deg) > lim.roll_max_deg:
        bad |= 32
    w, w_max = c.rates_deg_s, lim.angular_rate_max_deg_s
    if abs(w[0]) > w_max or abs(w[1]) > w_max or abs(w[2]) > w_max:
        bad |= 64
    return bad


@njit(cache=True)
def station_body_distance(r_S_m, body_radius_m, body_length_m):
    """[m] Distance from a point (rel. station port, S) to the station body cylinder.

    The body is a cylinder of the given radius along +y_S from the port plane (y = 0) to y = length.
    """
    rho = math.sqrt(r_S_m[0] * r_S_m[0] + r_S_m[2] * r_S_m[2])
    y = r_S_m[1]
    dy = -y if y < 0.0 else (y - body_length_m if y > body_length_m else 0.0)
    dr = rho - body_radius_m if rho > body_radius_m else 0.0
    return math.sqrt(dy * dy + dr * dr)

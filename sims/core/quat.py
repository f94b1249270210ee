"""Quaternion and rotation helpers, scalar style (tuples of floats, no allocation).

Convention (Schaub & Junkins, *Analytical Mechanics of Space Systems*, 4th ed., sec. 3.5):
scalar-first Euler parameters; ``q_BN`` gives the direction cosine matrix
``C_BN = (q0^2 - qv.qv) I + 2 qv qv^T - 2 q0 [qv x]`` that maps N components to B components.
Composition ``C(q_a * q_b) = C(q_a) C(q_b)`` with the product of :func:`q_mul`.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True, inline="always")
def rot(q0, q1, q2, q3, x, y, z):
    """``C(q) v``: N components of v to B components when q = q_BN."""
    s = q0 * q0 - (q1 * q1 + q2 * q2 + q3 * q3)
    d = 2.0 * (q1 * x + q2 * y + q3 * z)
    cx = q2 * z - q3 * y
    cy = q3 * x - q1 * z
    cz = q1 * y - q2 * x
    return (s * x + d * q1 - 2.0 * q0 * cx,
            s * y + d * q2 - 2.0 * q0 * cy,
            s * z + d * q3 - 2.0 * q0 * cz)


@njit(cache=True, inline="always")
def rot_t(q0, q1, q2, q3, x, y, z):
    """``C(q)^T v``: B components of v to N components when q = q_BN."""
    return rot(q0, -q1, -q2, -q3, x, y, z)


@njit(cache=True, inline="always")
def q_mul(a0, a1, a2, a3, b0, b1, b2, b3):
    """Product with ``C(a * b) = C(a) C(b)`` (Schaub eq. 3.96 ordering)."""
    return (a0 * b0 - a1 * b1 - a2 * b2 - a3 * b3,
            a0 * b1 + b0 * a1 - (a2 * b3 - a3 * b2),
            a0 * b2 + b0 * a2 - (a3 * b1 - a1 * b3),
            a0 * b3 + b0 * a3 - (a1 * b2 - a2 * b1))


@njit(cache=True, inline="always")
def q_from_dcm(c00, c01, c02, c10, c11, c12, c20, c21, c22):
    """Quaternion of a DCM (Sheppard's method, Schaub eq. 3.94-3.95), scalar >= 0."""
    tr = c00 + c11 + c22
    b = (0.25 * (1.0 + tr), 0.25 * (1.0 + 2.0 * c00 - tr),
         0.25 * (1.0 + 2.0 * c11 - tr), 0.25 * (1.0 + 2.0 * c22 - tr))
    k = 0
    for i in range(1, 4):
        if b[i] > b[k]:
            k = i
    if k == 0:
        q0 = math.sqrt(b[0])
        f = 0.25 / q0
        q1 = (c12 - c21) * f
        q2 = (c20 - c02) * f
        q3 = (c01 - c10) * f
    elif k == 1:
        q1 = math.sqrt(b[1])
        f = 0.25 / q1
        q0 = (c12 - c21) * f
        q2 = (c01 + c10) * f
        q3 = (c20 + c02) * f
    elif k == 2:
        q2 = math.sqrt(b[2])
        f = 0.25 / q2
        q0 = (c20 - c02) * f
        q1 = (c01 + c10) * f
        q3 = (c12 + c21) * f
    else:
        q3 = math.sqrt(b[3])
        f = 0.25 / q3
        q0 = (c01 - c10) * f
        q1 = (c20 + c02) * f
        q2 = (c12 + c21) * f
    if q0 < 0.0:
        return -q0, -q1, -q2, -q3
    return q0, q1, q2, q3


@njit(cache=True, inline="always")
def q_small(ax, ay, az):
    """Unit quaternion of a small rotation vector [rad] (exact axis-angle form)."""
    ang = math.sqrt(ax * ax + ay * ay + az * az)
    if ang < 1e-300:
        return 1.0, 0.0, 0.0, 0.0
    s = math.sin(0.5 * ang) / ang
    return math.cos(0.5 * ang), ax * s, ay * s, az * s


@njit(cache=True, inline="always")
def euler321_of_q(q0, q1, q2, q3):
    """(roll, pitch, yaw) [rad] of the 3-2-1 sequence whose DCM is C(q) (Schaub eq. 3.33)."""
    c01 = 2.0 * (q1 * q2 + q0 * q3)
    c00 = q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3
    c02 = 2.0 * (q1 * q3 - q0 * q2)
    c12 = 2.0 * (q2 * q3 + q0 * q1)
    c22 = q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3
    s = -c02
    s = 1.0 if s > 1.0 else (-1.0 if s < -1.0 else s)
    return math.atan2(c12, c22), math.asin(s), math.atan2(c01, c00)

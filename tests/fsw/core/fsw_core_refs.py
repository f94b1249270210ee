"""Plain-numpy references shared by the fsw.core kernel tests (independent of the kernels)."""

from __future__ import annotations

import numpy as np

N_RAD_S = 1.1339e-3  # docs/reference.md: Tiangong mean motion


def cw_deriv(x, n, a=None):
    """CW right-hand side written from the ODE, not from the STM."""
    ax, ay, az = (0.0, 0.0, 0.0) if a is None else a
    return np.array([
        x[3], x[4], x[5],
        3.0 * n * n * x[0] + 2.0 * n * x[4] + ax,
        -2.0 * n * x[3] + ay,
        -n * n * x[2] + az,
    ])


def rk4_step(f, x, h):
    k1 = f(x)
    k2 = f(x + 0.5 * h * k1)
    k3 = f(x + 0.5 * h * k2)
    k4 = f(x + h * k3)
    return x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def cw_rk4(x0, n, t, h):
    """RK4 over exactly t with the largest step <= h."""
    x = np.array(x0, dtype=float)
    steps = int(np.ceil(t / h))
    h = t / steps
    for _ in range(steps):
        x = rk4_step(lambda s: cw_deriv(s, n), x, h)
    return x


def skew(v):
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def qmult(p, q):
    """Hamilton product via the left-multiplication matrix L(p) q."""
    p0, p1, p2, p3 = p
    L = np.array([[p0, -p1, -p2, -p3],
                  [p1, p0, -p3, p2],
                  [p2, p3, p0, -p1],
                  [p3, -p2, p1, p0]])
    return L @ np.asarray(q)


def dcm_axis_angle(e, theta):
    """Frame rotation by theta about unit axis e (maps old-frame components to the new frame)."""
    e = np.asarray(e, dtype=float)
    return np.cos(theta) * np.eye(3) + (1.0 - np.cos(theta)) * np.outer(e, e) - np.sin(theta) * skew(e)


def quat_axis_angle(e, theta):
    e = np.asarray(e, dtype=float)
    return np.concatenate([[np.cos(theta / 2.0)], np.sin(theta / 2.0) * e])


def random_quat(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def chi2_quantile(p_z, dof):
    """Wilson-Hilferty chi-square quantile for standard-normal quantile p_z (accurate for dof >~ 30)."""
    k = float(dof)
    return k * (1.0 - 2.0 / (9.0 * k) + p_z * np.sqrt(2.0 / (9.0 * k))) ** 3


def cw_rk4_track(x0, n, t, h):
    """RK4 states at every step over exactly t (independent dense CW trajectory)."""
    x = np.array(x0, dtype=float)
    steps = int(np.ceil(t / h))
    h = t / steps
    track = np.empty((steps + 1, 6))
    track[0] = x
    for k in range(steps):
        x = rk4_step(lambda s: cw_deriv(s, n), x, h)
        track[k + 1] = x
    return track

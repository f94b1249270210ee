"""Onboard station ephemeris against closed forms: a circular two-body orbit and J2 nodal regression."""

from __future__ import annotations

import math

import numpy as np

from fsw.core.ephemeris import ephemeris_step

MU = 3.986004418e14  # docs/reference.md
RE = 6378137.0
J2 = 1.08263e-3
A_M = RE + 390e3  # Tiangong, circular
INC = math.radians(41.5)


def circular_state(a, inc, u):
    v = math.sqrt(MU / a)
    r = np.array([a * math.cos(u), a * math.sin(u) * math.cos(inc), a * math.sin(u) * math.sin(inc)])
    vel = np.array([-v * math.sin(u), v * math.cos(u) * math.cos(inc), v * math.cos(u) * math.sin(inc)])
    return np.concatenate([r, vel])


def propagate(rv, t_s, dt_s, j2):
    scratch = np.zeros((6, 6))
    for _ in range(int(round(t_s / dt_s))):
        ephemeris_step(rv, MU, RE, j2, dt_s, scratch)
    return rv


def test_two_body_circular_orbit_matches_the_closed_form_after_a_quarter_orbit():
    period = 2 * math.pi * math.sqrt(A_M**3 / MU)
    rv = propagate(circular_state(A_M, INC, 0.0), period / 4, period / 4 / 2000, 0.0)
    expected = circular_state(A_M, INC, math.pi / 2)
    # RK4 at 2000 steps per quarter orbit: position error ~ a (n h)^4 ~ mm
    assert np.linalg.norm(rv[:3] - expected[:3]) < 0.05


def test_j2_regresses_the_node_at_the_secular_rate():
    """dRAAN/dt = -1.5 n J2 (R/p)^2 cos i (circular: p = a), over one orbit."""
    n = math.sqrt(MU / A_M**3)
    period = 2 * math.pi / n
    rv = propagate(circular_state(A_M, INC, 0.0), period, 1.0, J2)
    h = np.cross(rv[:3], rv[3:])
    raan = math.atan2(h[0], -h[1])
    expected = -1.5 * n * J2 * (RE / A_M) ** 2 * math.cos(INC) * period
    assert abs(raan - expected) < 0.02 * abs(expected)  # short-period terms: a few per cent over one orbit

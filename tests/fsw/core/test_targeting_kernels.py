"""Far-range targeting kernels against closed forms, Vallado's published examples, an independent
propagation (scipy DOP853 on two-body + J2) and an independent Lambert solver (lamberthub, Izzo 2015).

scipy and lamberthub are test-only dependencies (pyproject's dev extras)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fsw.core.targeting import (
    LAMBERT_DEGENERATE,
    LAMBERT_OK,
    kepler_uv,
    lambert_j2,
    lambert_uv,
    passive_min_ellipsoid,
)

MU = 3.986004418e14
RE = 6378137.0
J2 = 1.08263e-3
Z = np.array([0.0, 0.0, 1.0])


def _solve_ivp():
    return pytest.importorskip("scipy.integrate").solve_ivp


def _rhs(j2):
    def f(_t, s):
        r = s[:3]
        r2 = r @ r
        rn = math.sqrt(r2)
        k = -MU / (r2 * rn)
        fj = 1.5 * j2 * RE * RE / r2
        zz = 5.0 * r[2] ** 2 / r2
        a = k * r * np.array([1.0 + fj * (1.0 - zz), 1.0 + fj * (1.0 - zz), 1.0 + fj * (3.0 - zz)])
        return np.concatenate([s[3:], a])
    return f


def reference_propagate(rv, dt, j2=0.0):
    """scipy DOP853 (rtol 1e-12), independent of the project's propagators."""
    sol = _solve_ivp()(_rhs(j2), (0.0, dt), rv, method="DOP853", rtol=1e-12, atol=1e-6)
    return sol.y[:, -1]


INC_RAD = math.radians(41.5)


def circular(alt_m, u_rad, inc_rad=INC_RAD):
    r = RE + alt_m
    v = math.sqrt(MU / r)
    R = np.array([[1, 0, 0], [0, math.cos(inc_rad), -math.sin(inc_rad)], [0, math.sin(inc_rad), math.cos(inc_rad)]])
    return np.concatenate([R @ [r * math.cos(u_rad), r * math.sin(u_rad), 0.0],
                           R @ [-v * math.sin(u_rad), v * math.cos(u_rad), 0.0]])


def test_kepler_uv_agrees_with_an_independent_two_body_propagation():
    rv = np.array([6578137.0, 0.0, 0.0, 0.0, 7839.6, 1200.0])  # an inclined ellipse
    out = np.zeros(6)
    kepler_uv(rv, MU, 4000.0, out)
    ref = reference_propagate(rv, 4000.0)
    assert np.linalg.norm(out[:3] - ref[:3]) < 1e-2
    assert np.linalg.norm(out[3:] - ref[3:]) < 1e-5


def test_lambert_matches_vallado_example_7_5():
    # Vallado (2013), Example 7-5: r0 = 15945.34 I km, r = 12214.83899 I + 10249.46731 J km, 76 min.
    r1 = np.array([15945.34e3, 0.0, 0.0])
    r2 = np.array([12214.83899e3, 10249.46731e3, 0.0])
    v1, v2 = np.zeros(3), np.zeros(3)
    assert lambert_uv(r1, r2, 76.0 * 60.0, MU, Z, v1, v2) == LAMBERT_OK
    assert np.allclose(v1, [2058.913, 2915.965, 0.0], atol=0.05)
    assert np.allclose(v2, [-3451.565, 910.315, 0.0], atol=0.05)


def test_lambert_long_way_matches_lamberthub_izzo():
    izzo = pytest.importorskip("lamberthub").izzo2015
    s1 = circular(200e3, 0.0)
    s2 = circular(390e3, math.radians(250.0))
    tof = 3500.0
    h = np.cross(s1[:3], s1[3:])
    v1, v2 = np.zeros(3), np.zeros(3)
    assert lambert_uv(s1[:3], s2[:3], tof, MU, h, v1, v2) == LAMBERT_OK
    ref1, ref2 = izzo(MU, s1[:3], s2[:3], tof, M=0, prograde=True, low_path=True, maxiter=50, atol=1e-10,
                      rtol=1e-12)
    assert np.allclose(v1, ref1, atol=1e-4) and np.allclose(v2, ref2, atol=1e-4)


def test_lambert_arc_arrives_where_it_was_aimed():
    s1 = circular(200e3, 0.3)
    r2 = circular(390e3, 0.3 + 2.0)[:3]
    v1, v2 = np.zeros(3), np.zeros(3)
    assert lambert_uv(s1[:3], r2, 2400.0, MU, np.cross(s1[:3], s1[3:]), v1, v2) == LAMBERT_OK
    end = reference_propagate(np.concatenate([s1[:3], v1]), 2400.0)
    assert np.linalg.norm(end[:3] - r2) < 0.05
    assert np.linalg.norm(end[3:] - v2) < 1e-4


def test_lambert_refuses_collinear_positions():
    v1, v2 = np.zeros(3), np.zeros(3)
    r = np.array([7e6, 0.0, 0.0])
    assert lambert_uv(r, -r, 3000.0, MU, Z, v1, v2) == LAMBERT_DEGENERATE


def test_lambert_near_hohmann_gives_the_hohmann_delta_v():
    # Hohmann 200 km -> 390 km circular (closed form), by a Lambert transfer of 179.9 deg.
    r1, r2 = RE + 200e3, RE + 390e3
    a = 0.5 * (r1 + r2)
    dv1_ref = math.sqrt(MU / r1) * (math.sqrt(2 * r2 / (r1 + r2)) - 1.0)
    dv2_ref = math.sqrt(MU / r2) * (1.0 - math.sqrt(2 * r1 / (r1 + r2)))
    nu = math.radians(179.9)
    tof = math.pi * math.sqrt(a ** 3 / MU)
    s1 = circular(200e3, 0.0, 0.0)
    s2 = circular(390e3, nu, 0.0)
    v1, v2 = np.zeros(3), np.zeros(3)
    assert lambert_uv(s1[:3], s2[:3], tof, MU, Z, v1, v2) == LAMBERT_OK
    assert abs(np.linalg.norm(v1 - s1[3:]) - dv1_ref) < 0.2
    assert abs(np.linalg.norm(s2[3:] - v2) - dv2_ref) < 0.2
    assert abs(dv1_ref + dv2_ref - 110.03) < 0.01  # the closed form itself: 55.21 + 54.82 m/s


def test_lambert_gives_the_phasing_manoeuvre_of_the_closed_form():
    # Phasing on a 390 km circular orbit: come back to the same inertial point after one revolution of a
    # phasing orbit of period T0 - dT: the target (on the circle) then lies dT n ahead of the start point's
    # circular-orbit position. Closed form: a_ph = (mu (T_ph / 2 pi)^2)^(1/3), dv = v_c - v_ph at the apse.
    r = RE + 390e3
    n = math.sqrt(MU / r ** 3)
    T0 = 2 * math.pi / n
    dT = 120.0
    T_ph = T0 - dT
    a_ph = (MU * (T_ph / (2 * math.pi)) ** 2) ** (1.0 / 3.0)
    v_ph = math.sqrt(MU * (2.0 / r - 1.0 / a_ph))
    dv_ref = math.sqrt(MU / r) - v_ph  # retrograde at the apogee of the phasing orbit, twice
    s0 = circular(390e3, 0.0, 0.0)
    # the same manoeuvre propagated independently returns to the start point after T_ph
    after = s0.copy()
    after[3:] *= v_ph / np.linalg.norm(s0[3:])
    back = reference_propagate(after, T_ph)
    assert np.linalg.norm(back[:3] - s0[:3]) < 0.5
    # Lambert over half the phasing period to the opposite... use a quarter-orbit leg of the phasing ellipse
    end = reference_propagate(after, 0.3 * T_ph)
    v1, v2 = np.zeros(3), np.zeros(3)
    assert lambert_uv(s0[:3], end[:3], 0.3 * T_ph, MU, Z, v1, v2) == LAMBERT_OK
    assert abs(np.linalg.norm(s0[3:] - v1) - dv_ref) < 1e-3
    assert abs(dv_ref - 2.0 * math.pi * r / T0 * dT / (3.0 * T0) * 1.0) < 0.05 * dv_ref  # dv ~ v dT / (3 T)


def test_lambert_j2_arc_arrives_under_j2():
    s1 = circular(200e3, 0.0)
    r2 = circular(390e3, math.radians(200.0))[:3]
    h = np.cross(s1[:3], s1[3:])
    v1, v2 = np.zeros(3), np.zeros(3)
    work = np.zeros((8, 6))
    status, miss = lambert_j2(s1[:3], r2, 3000.0, h, MU, RE, J2, 10.0, 8, 1.0, v1, v2, work)
    assert status == LAMBERT_OK and miss < 1.0
    end = reference_propagate(np.concatenate([s1[:3], v1]), 3000.0, j2=J2)
    assert np.linalg.norm(end[:3] - r2) < 3.0
    two_body = np.zeros(3)
    lambert_uv(s1[:3], r2, 3000.0, MU, h, two_body, np.zeros(3))
    assert np.linalg.norm(two_body - v1) > 1.0  # J2 matters at this level: the shooting changed the answer


def test_passive_check_sees_an_entry_and_a_clear_drift():
    st = circular(390e3, 0.0)
    # 1 km below, 10 km behind: a lower orbit drifts forward (1.5 n |x| ~ 1.7 m/s) and passes below the station
    C = np.array([st[:3] / np.linalg.norm(st[:3]), np.zeros(3), np.cross(st[:3], st[3:])])
    C[2] /= np.linalg.norm(C[2])
    C[1] = np.cross(C[2], C[0])
    n = np.linalg.norm(np.cross(st[:3], st[3:])) / (st[:3] @ st[:3])
    axes = np.array([1000.0, 2000.0, 1000.0])
    out = np.zeros(4)
    work = np.zeros((12, 6))
    for x, expect_inside in ((-600.0, True), (-3000.0, False)):
        rL = np.array([x, -10000.0, 0.0])
        vL = np.array([0.0, -1.5 * n * x, 0.0])
        ch = np.concatenate([st[:3] + C.T @ rL, st[3:] + C.T @ (vL + np.cross([0, 0, n], rL))])
        q = passive_min_ellipsoid(ch, st, 9000.0, 10.0, axes, MU, RE, J2, work, out)
        assert (q < 1.0) == expect_inside

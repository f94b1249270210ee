"""Drag of both vehicles against closed forms: the decay of the semi-major axis over one orbit and the differential
drift of the chaser against Clohessy-Wiltshire with a constant along-track acceleration.

J2 is off in these runs so that the orbits stay circular at one altitude: the closed forms then hold to the
density change over the decay (Delta a / H ~ 3e-4 of the density, so half that on the orbit's mean), which
sets the tolerances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.sims.conftest import make_truth

HOLD_400 = [0.0, -403.0, 0.0]
RHO = 5.3e-12  # [kg/m^3] docs/sensors.md sec. 7, moderate activity at 390 km
H_SCALE = 59000.0  # [m]
STATION = {"mass_kg": 90000.0, "drag_cd": 2.2, "drag_area_m2": 500.0}
CHASER_AREA_M2 = 15.0


def drag_truth(drag_on=True, rotation_rad_s=0.0):
    return make_truth(HOLD_400, earth={"j2": 0.0, "rotation_rad_s": rotation_rad_s},
                      drag={"enabled": drag_on, "rho0_kg_m3": RHO, "ref_altitude_m": 390000.0,
                            "scale_height_m": H_SCALE},
                      station=STATION, vehicle={"geometry": {"drag_cd": 2.2, "drag_area_m2": CHASER_AREA_M2},
                                                "propulsion": {"thrust_error_sigma": 0.0,
                                                               "misalignment_sigma_deg": 0.0}})


def semi_major_axis(r, v, mu):
    return 1.0 / (2.0 / np.linalg.norm(r) - (v @ v) / mu)


def one_orbit(truth):
    sc = truth.scenario
    mu = sc.earth.mu_m3_s2
    a0 = semi_major_axis(truth.r_station_N_m, truth.v_station_N_mps, mu)
    period = 2.0 * math.pi * math.sqrt(a0 ** 3 / mu)
    frames = round(period / 0.01)
    start = (truth.r_station_N_m, truth.v_station_N_mps, truth.r_chaser_N_m, truth.v_chaser_N_mps)
    truth.run(frames)
    end = (truth.r_station_N_m, truth.v_station_N_mps, truth.r_chaser_N_m, truth.v_chaser_N_mps)
    return start, end, frames * 0.01, mu


def test_each_vehicle_decays_by_its_ballistic_coefficient_per_orbit():
    """Circular orbit, non-rotating atmosphere: Delta a per orbit = -2 pi rho (Cd A / m) a^2 (Vallado sec. 9.6)."""
    truth = drag_truth()
    mass = truth.mass_kg
    start, end, _, mu = one_orbit(truth)
    for (r0, v0), (r1, v1), b in (((start[0], start[1]), (end[0], end[1]), 2.2 * 500.0 / 90000.0),
                                  ((start[2], start[3]), (end[2], end[3]), 2.2 * CHASER_AREA_M2 / mass)):
        a0, a1 = semi_major_axis(r0, v0, mu), semi_major_axis(r1, v1, mu)
        expected = -2.0 * math.pi * RHO * b * a0 ** 2
        assert a1 - a0 == pytest.approx(expected, rel=abs(expected) / H_SCALE)


def test_chaser_drifts_from_the_station_as_clohessy_wiltshire_predicts_for_the_differential_drag():
    """From rest, a constant along-track acceleration f gives after one orbit T: y = -1.5 f T^2, x = 4 pi f / n^2
    (CW). f = -1/2 rho v^2 (B_chaser - B_station); the drag-free run's own relative motion is taken off."""
    truth, control = drag_truth(), drag_truth(drag_on=False)
    mass = truth.mass_kg
    _, _, period, mu = one_orbit(truth)
    one_orbit(control)
    r_drag, _ = truth.relative_state()
    r_free, _ = control.relative_state()
    a = np.linalg.norm(truth.scenario.earth.radius_m + truth.scenario.station.altitude_m)
    n = math.sqrt(mu / a ** 3)
    f = -0.5 * RHO * (n * a) ** 2 * (2.2 * CHASER_AREA_M2 / mass - 2.2 * 500.0 / 90000.0)
    d = r_drag - r_free
    assert abs(d[1]) > 10.0  # [m] the effect is tens of metres per orbit (docs/sensors.md sec. 7)
    # the density change (~1.6e-4 of it) and CW's linearisation (40 m of 6,768 km): a few 1e-4
    assert d[1] == pytest.approx(-1.5 * f * period ** 2, rel=5e-4)
    assert d[0] == pytest.approx(4.0 * math.pi * f / n ** 2, rel=5e-4)


def test_co_rotating_atmosphere_decays_the_orbit_by_the_relative_wind():
    """Earth rotation on: da/dt = -(a^2 / mu) rho B |v_rel| (v . v_rel), v_rel = v - w_E x r, integrated over the
    unperturbed circular orbit (numpy quadrature, 2,000 points)."""
    we = 7.2921159e-5
    truth = drag_truth(rotation_rad_s=we)
    start, end, period, mu = one_orbit(truth)
    r0, v0 = start[0], start[1]
    a0 = semi_major_axis(r0, v0, mu)
    n = math.sqrt(mu / a0 ** 3)
    h = np.cross(r0, v0)
    t = np.linspace(0.0, period, 2001)[:-1]
    rhat, that = r0 / np.linalg.norm(r0), np.cross(h / np.linalg.norm(h), r0 / np.linalg.norm(r0))
    r = a0 * (np.outer(np.cos(n * t), rhat) + np.outer(np.sin(n * t), that))
    v = n * a0 * (-np.outer(np.sin(n * t), rhat) + np.outer(np.cos(n * t), that))
    v_rel = v - np.cross([0.0, 0.0, we], r)
    b = 2.2 * 500.0 / 90000.0
    rate = -(a0 ** 2 / mu) * RHO * b * np.linalg.norm(v_rel, axis=1) * np.einsum("ij,ij->i", v, v_rel)
    expected = rate.mean() * period
    got = semi_major_axis(end[0], end[1], mu) - a0
    assert got == pytest.approx(expected, rel=abs(expected) / H_SCALE)
    assert abs(got) < 0.97 * 2.0 * math.pi * RHO * b * a0 ** 2  # the wind is slower than the orbit

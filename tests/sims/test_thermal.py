"""Thermal kernels: eclipse geometry, external fluxes and the nodal network against references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.core.constants import SIGMA_W_M2_K4
from sims.core.thermal import (
    LINK,
    THERMAL_NODE,
    external_flux,
    network_step,
    shadow_conical,
    shadow_cylindrical,
    sun_direction,
)
from tests.sims.conftest import make_truth

RE = 6378137.0
MU = 3.986004418e14
R_ORBIT = RE + 390e3


def orbit_points(inc_deg=41.5, k=20000):
    i = math.radians(inc_deg)
    u = np.linspace(0.0, 2 * math.pi, k, endpoint=False)
    r = R_ORBIT * np.stack([np.cos(u), np.sin(u) * math.cos(i), np.sin(u) * math.sin(i)], axis=1)
    v0 = np.array([0.0, math.cos(i), math.sin(i)]) * math.sqrt(MU / R_ORBIT)
    return r, v0


def eclipse_fraction(beta_deg, shadow):
    r, v0 = orbit_points()
    s = sun_direction(*r[0], *v0, math.radians(beta_deg), 0.3)
    return np.mean([shadow(*ri, *s, RE) < 0.5 for ri in r])


@pytest.mark.parametrize("shadow", [shadow_cylindrical, shadow_conical], ids=["cylindrical", "conical"])
def test_eclipse_fraction_at_beta_zero_is_0391(shadow):
    assert abs(eclipse_fraction(0.0, shadow) - 0.391) < 0.005


def test_eclipse_fraction_at_beta_65_matches_closed_form():
    h = R_ORBIT - RE
    expected = math.acos(math.sqrt(h * h + 2 * RE * h) / (R_ORBIT * math.cos(math.radians(65.0)))) / math.pi
    assert abs(eclipse_fraction(65.0, shadow_cylindrical) - expected) < 0.002


def test_sun_direction_has_the_requested_beta():
    r, v0 = orbit_points()
    s = np.array(sun_direction(*r[0], *v0, math.radians(37.0), 1.0))
    h = np.cross(r[0], v0)
    assert math.degrees(math.asin(s @ h / np.linalg.norm(h))) == pytest.approx(37.0, abs=1e-9)
    assert np.linalg.norm(s) == pytest.approx(1.0, abs=1e-12)


def test_conical_penumbra_lies_between_sun_and_umbra():
    y = np.linspace(RE - 40e3, RE + 40e3, 400)  # across the shadow edge behind the Earth
    nu = np.array([shadow_conical(-R_ORBIT * 0.3, yy, 0.0, 1.0, 0.0, 0.0, RE) for yy in y])
    assert nu[0] == 0.0 and nu[-1] == 1.0
    assert np.all(np.diff(nu) >= -1e-12)
    assert np.any((nu > 0.0) & (nu < 1.0))


def nodes(n, **columns):
    """A THERMAL_NODE table of ``n`` rows with the given columns (capacity 1 J/K unless given)."""
    table = np.zeros(n, THERMAL_NODE)
    table["capacity_J_K"] = 1.0
    for name, values in columns.items():
        table[name] = values
    return table


def test_external_flux_matches_numpy_reference(rng):
    ext = nodes(3, area_m2=[2.0, 0.0, 1.5], alpha=[0.3, 0.0, 0.5], eps=[0.8, 0.0, 0.6])
    ext["normal_B"][0] = [0.0, 0.0, 1.0]
    ext["normal_B"][2] = np.array([1.0, 1.0, 0.0]) / math.sqrt(2)
    q = rng.standard_normal(4)
    q /= np.linalg.norm(q)
    r = np.array([R_ORBIT, 0.0, 0.0])
    s = np.array([0.6, 0.8, 0.0])
    out = np.zeros(3)
    S, a, ir = 1361.0, 0.3, 237.0
    external_flux(ext, r, q, s, 1.0, S, a, ir, RE, out)
    from tests.sims.test_quat import dcm

    C = dcm(q)
    for i, nd in enumerate(ext):
        if nd["area_m2"] == 0:
            assert out[i] == 0.0
            continue
        n_N = C.T @ nd["normal_B"]
        F = (RE / R_ORBIT) ** 2 * max(0.0, n_N @ (-r / R_ORBIT))
        area, alpha, eps = nd["area_m2"], nd["alpha"], nd["eps"]
        ref = alpha * area * S * max(0.0, n_N @ s)
        ref += alpha * area * S * a * max(0.0, s @ r / R_ORBIT) * F + eps * area * ir * F
        assert out[i] == pytest.approx(ref, rel=1e-12)


def links(G, R):
    table = np.zeros(np.shape(G), LINK)
    table["G_W_K"], table["R_m2"] = G, R
    return table


def test_network_step_matches_numpy_euler_reference(rng):
    n = 3
    T = np.array([250.0, 300.0, 320.0])
    cap = np.array([1000.0, 2000.0, 500.0])
    G = np.array([[0, 2.0, 0], [2.0, 0, 1.0], [0, 1.0, 0]])
    R = np.array([[0, 0.1, 0.2], [0.1, 0, 0], [0.2, 0, 0]])
    ext = nodes(n, T_K=T, capacity_J_K=cap, area_m2=[1.0, 0.0, 0.0], eps=[0.8, 0.0, 0.0])
    q = np.array([50.0, 0.0, 10.0])
    ref = T.copy()
    for _ in range(4):
        rate = q - SIGMA_W_M2_K4 * ext["eps"] * ext["area_m2"] * ref ** 4
        rate += (G * (ref[None, :] - ref[:, None])).sum(1)
        rate += SIGMA_W_M2_K4 * (R * (ref[None, :] ** 4 - ref[:, None] ** 4)).sum(1)
        ref = ref + 0.25 * rate / cap
    network_step(ext, links(G, R), q, np.zeros(n), 1.0, 4)
    assert np.allclose(ext["T_K"], ref, rtol=1e-13)


def test_isolated_sunlit_plate_reaches_radiative_equilibrium():
    alpha, eps, area, S = 0.4, 0.8, 2.0, 1361.0
    ext = nodes(1, T_K=200.0, capacity_J_K=500.0, area_m2=area, alpha=alpha, eps=eps)
    ext["normal_B"] = [0.0, 1.0, 0.0]  # faces the Sun, edge-on to the Earth
    q = np.zeros(1)
    external_flux(ext, np.array([R_ORBIT, 0, 0.0]), np.array([1.0, 0, 0, 0]), np.array([0.0, 1.0, 0.0]), 1.0,
                  S, 0.0, 0.0, RE, q)
    none = links(np.zeros((1, 1)), np.zeros((1, 1)))
    for _ in range(200):
        network_step(ext, none, q, np.zeros(1), 10.0, 10)
    assert ext["T_K"][0] == pytest.approx((alpha * S / (eps * SIGMA_W_M2_K4)) ** 0.25, rel=1e-9)


def test_heater_delivers_rated_power_and_open_fault_removes_it():
    faults = [{"kind": "heater_open", "target": 3, "start_s": 0.0, "duration_s": 100.0}]
    truth = make_truth([0.0, -403.0, 0.0], faults=faults)
    duty = truth.devices["ACT_HEATERS"]["duty"]
    duty[2] = 1.0  # zone 1 primary
    duty[3] = 1.0  # zone 1 backup, open circuit
    duty[0] = 0.5
    truth.run(1000)  # 10 s = 10 thermal frames
    e = truth.heater_energy_J
    power = truth.scenario.thermal.heater_power_W
    assert e[2] == pytest.approx(power[2] * 10.0)
    assert e[0] == pytest.approx(0.5 * power[0] * 10.0)
    assert e[3] == 0.0


def test_thermistors_read_their_zone_node_quantised():
    truth = make_truth([0.0, -403.0, 0.0], quiet=False)
    truth.run(100)
    rec = truth.devices["DEV_THERMISTORS"]
    nodes = truth.thermal_nodes_C
    zones = truth.scenario.thermal.zones
    q = truth.scenario.sensors.thermistors.quantum_C
    for z, zone in enumerate(zones):
        for ch in (2 * z, 2 * z + 1):
            value = float(rec["temp_C"][ch])
            assert abs(value - nodes[zone.node]) < 0.6  # 0.1 C noise, 5 sigma + quantum
            assert abs(value / q - round(value / q)) < 1e-3
    assert rec["valid_mask"] == 0x3FF and rec["seq"] == 1

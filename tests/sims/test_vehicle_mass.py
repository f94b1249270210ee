"""The chaser's centre of mass and inertia from its cargo load and placement, against a two-body sum about the CoM."""

from __future__ import annotations

import numpy as np
import pytest

from sims.scenario import ScenarioError, load_scenario, mass_properties
from tests.sims.conftest import make_truth

HOLD_400 = [0.0, -403.0, 0.0]
CARGO = {"ref_kg": 1800.0, "centroid_B_m": [1.2, 0.0, 0.0], "gyration_radius_m": [1.0, 1.1, 1.2]}


def mass_table(cargo_kg=800.0, error=(0.1, -0.2, 0.05), dry_kg=2450.0, propellant_kg=800.0, offset=(0.0, 0.0, 0.0)):
    return {"dry_kg": dry_kg, "cargo_kg": cargo_kg, "propellant_kg": propellant_kg,
            "inertia_kg_m2": [6800.0, 20000.0, 20000.0], "com_offset_B_m": list(offset),
            "inertia_ref_mass_kg": 5000.0, "manifest_error_kg": 0.0,
            "cargo": dict(CARGO, placement_error_B_m=list(error))}


def about_com(bodies, com):
    """Inertia diagonal about ``com`` of bodies (mass, position, own diagonal inertia): own + m (|r|^2 - r_i^2)."""
    total = np.zeros(3)
    for m, r, own in bodies:
        d = np.asarray(r, float) - com
        total += np.asarray(own, float) + m * (d @ d - d * d)
    return total


def test_cargo_moves_the_centre_of_mass_and_the_inertia_follows_the_two_bodies():
    m = mass_table()
    com, inertia, at_mass = mass_properties(m)
    # the reference load defines the rest body: CoM at the origin, inertia as tabulated
    m_cr, m_r0 = 1800.0, 3200.0
    c0 = np.array(CARGO["centroid_B_m"])
    r_rest = -m_cr * c0 / m_r0
    k2 = np.array(CARGO["gyration_radius_m"]) ** 2
    own_cargo_ref = m_cr * k2  # radius of gyration about each axis through the centroid
    own_rest0 = np.array(m["inertia_kg_m2"]) - about_com([(m_cr, c0, own_cargo_ref), (m_r0, r_rest, [0, 0, 0])],
                                                         np.zeros(3))
    # as loaded: 3,250 kg of rest (its inertia scaled with its mass) and 800 kg of cargo placed 0.1, -0.2, 0.05 off
    c = c0 + np.array([0.1, -0.2, 0.05])
    bodies = [(3250.0, r_rest, own_rest0 * 3250.0 / m_r0), (800.0, c, own_cargo_ref * 800.0 / m_cr)]
    expected_com = (3250.0 * r_rest + 800.0 * c) / 4050.0
    assert np.allclose(com, expected_com, atol=1e-12)
    assert com[0] == pytest.approx(-0.285, abs=1e-3)  # a light load moves the CoM aft by ~0.3 m
    assert np.allclose(inertia, about_com(bodies, expected_com), rtol=1e-12)
    assert at_mass == 4050.0


def test_reference_load_keeps_the_tabulated_values_and_the_residual_offset_adds():
    m = mass_table(cargo_kg=1800.0, error=(0.0, 0.0, 0.0), dry_kg=2400.0, offset=(0.05, 0.0, -0.02))
    com, inertia, at_mass = mass_properties(m)
    assert np.array_equal(com, [0.05, 0.0, -0.02]) and np.array_equal(inertia, m["inertia_kg_m2"])
    assert at_mass == 5000.0


def test_without_a_cargo_table_the_centre_of_mass_is_the_residual_offset_and_the_inertia_the_tabulated_one():
    m = mass_table(cargo_kg=800.0, offset=(0.05, 0.0, -0.02)) | {"cargo": None}
    com, inertia, at_mass = mass_properties(m)
    assert np.array_equal(com, [0.05, 0.0, -0.02]) and np.array_equal(inertia, m["inertia_kg_m2"])
    assert at_mass == 5000.0  # the truth scales the inertia with mass from the full load


def test_truth_takes_the_loaded_centre_of_mass_and_inertia():
    cargo = dict(CARGO, placement_error_B_m=[0.1, -0.2, 0.05])
    truth = make_truth(HOLD_400, vehicle={"mass": {"cargo_kg": 800.0, "dry_kg": 2450.0, "cargo": cargo},
                                          "propulsion": {"thrust_error_sigma": 0.0, "misalignment_sigma_deg": 0.0}})
    com, inertia, _ = mass_properties(truth.scenario.vehicle.mass)
    assert np.allclose(truth._p["port_B_m"], np.array([3.0, 0.0, 0.0]) - com, atol=1e-15)
    assert np.allclose(truth._thrusters["pos_B_m"][0], np.array([-3.0, 1.0, 0.0]) - com, atol=1e-15)
    assert np.allclose(truth.inertia_kg_m2, inertia, rtol=1e-15) and truth.mass_kg == 4050.0


def test_cargo_that_leaves_no_real_inertia_is_refused_naming_the_key():
    heavy = dict(CARGO, gyration_radius_m=[5.0, 5.0, 5.0])
    with pytest.raises(ScenarioError, match=r"vehicle\.mass\.cargo: refused: .* no real inertia"):
        load_scenario("final_approach", overrides={"vehicle": {"mass": {"cargo": heavy}}})

"""The GNC as a whole, flown software-in-the-loop against the truth model (issue 5's "what must be shown").

Each scenario runs once per test session (module fixtures); assertions check the truth's docking
contact against the mechanism envelope, never the flight software's own estimate of it.
"""

from __future__ import annotations

import pytest
from envelope import assert_captured_inside_envelope

from sims.runner import run_sil

THREE_HOURS_S = 3 * 3600.0


def fly(name, tmp_path_factory):
    return run_sil(name, tmp_path_factory.mktemp(name) / "run", progress=False)


@pytest.fixture(scope="module")
def nominal(tmp_path_factory):
    return fly("nominal", tmp_path_factory)


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    return fly("fast_rendezvous", tmp_path_factory)


@pytest.fixture(scope="module")
def abort(tmp_path_factory):
    return fly("abort_100m", tmp_path_factory)


@pytest.fixture(scope="module")
def no_camera(tmp_path_factory):
    return fly("camera_failed", tmp_path_factory)


def test_nominal_docks_inside_the_envelope(nominal):
    assert_captured_inside_envelope(nominal)
    assert nominal["stop_reason"] == "docked"


def test_nominal_contact_is_within_half_the_envelope(nominal):
    """The GNC design target (docs/reference.md): contact values within half of each limit."""
    dock = nominal["docking"]
    lo, hi = dock["axial_rate_mps"]["limit"]
    assert abs(dock["axial_rate_mps"]["value"] - 0.5 * (lo + hi)) <= 0.25 * (hi - lo) + 0.02
    for key in ("lateral_rate_mps", "lateral_misalignment_m", "pitch_deg", "yaw_deg", "roll_deg"):
        assert abs(dock[key]["value"]) <= 0.5 * dock[key]["limit"], key
    assert max(abs(w) for w in dock["rates_deg_s"]["value"]) <= 0.5 * dock["rates_deg_s"]["limit"]


def test_nominal_holds_at_every_hold_point_it_passes(nominal):
    holds = nominal["docking"]["hold_time_s"]
    assert all(holds[k] > 0 for k in ("5000 m", "400 m", "200 m", "19 m")), holds


def test_fast_rendezvous_docks_within_three_hours(fast):
    assert_captured_inside_envelope(fast)
    assert fast["docking"]["time_s"] < THREE_HOURS_S


def test_abort_at_100m_ends_in_cam(abort):
    assert abort["final_mode"] == "CAM"
    assert abort["guidance"]["cam_trigger"] == "COMMAND"
    assert not abort["docking"]["collided"] and not abort["docking"]["contact"]


def test_abort_at_100m_stays_outside_the_keep_out_sphere_for_two_orbits(abort):
    cam = abort["docking"]["collision_avoidance"]
    two_orbits_s = 2 * 5544.0  # docs/reference.md: period 5,544 s
    assert cam["exit_time_s"] is not None
    assert abort["mission_time_s"] - cam["cam_time_s"] >= two_orbits_s
    assert not cam["reentered"] and cam["min_range_after_exit_m"] >= cam["keep_out_radius_m"]


def test_dead_camera_docks_on_the_radar_or_retreats_and_never_collides(no_camera):
    dock = no_camera["docking"]
    assert not dock["collided"]
    if dock["captured"]:
        assert_captured_inside_envelope(no_camera)
    else:
        assert no_camera["final_mode"] in ("RETREAT", "HOLD", "CAM"), no_camera["final_mode"]

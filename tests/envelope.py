"""Shared check of a docking run's truth contact values against the mechanism envelope."""

from __future__ import annotations

CONTACT_QUANTITIES = ("axial_rate_mps", "lateral_rate_mps", "lateral_misalignment_m", "pitch_deg", "yaw_deg",
                      "roll_deg", "rates_deg_s")


def assert_captured_inside_envelope(summary: dict) -> None:
    """Captured, not collided, no failed limit, every quantity inside its limit, final mode DOCKED."""
    dock = summary["docking"]
    assert dock["captured"] and not dock["collided"], dock
    assert dock["failed_limits"] == []
    for key in CONTACT_QUANTITIES:
        assert dock[key]["ok"], (key, dock[key])
    assert summary["final_mode"] == "DOCKED"

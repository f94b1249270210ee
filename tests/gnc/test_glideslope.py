"""The glideslope guidance (fsw/apps/glideslope.py, issue #21's worked example) flies the approach scenarios the
shipped guidance flies, chosen by the scenario's ``[flight.apps]``; the truth's contact is judged against the
mechanism envelope."""

from __future__ import annotations

import pytest
from envelope import assert_captured_inside_envelope

from sims.runner import run_sil

GLIDESLOPE = {"flight": {"apps": {"guidance": "glideslope"}}}


def fly(name, tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp(f"glideslope-{name}") / "run"
    summary = run_sil(name, out, progress=False, overrides=GLIDESLOPE)
    return summary, (out / "events.log").read_text()


@pytest.mark.parametrize("name", ["final_approach", "nominal", "far_approach", "fast_rendezvous", "camera_failed"])
def test_glideslope_guidance_docks_inside_the_envelope(name, tmp_path_factory):
    summary, events = fly(name, tmp_path_factory)
    assert_captured_inside_envelope(summary)
    assert summary["stop_reason"] == "docked"
    assert summary["guidance"]["cam_trigger"] == "NONE"
    # flown by glideslope pulses: planned at each segment between the holds, none refused by the CW targeting
    assert events.count("glideslope:") >= 3 and "glideslope pulse 10/10" in events
    assert "CW targeting singular" not in events


def test_glideslope_guidance_keeps_the_crews_abort(tmp_path_factory):
    summary, _ = fly("abort_100m", tmp_path_factory)
    cam = summary["docking"]["collision_avoidance"]
    assert summary["final_mode"] == "CAM" and summary["guidance"]["cam_trigger"] == "COMMAND"
    assert not summary["docking"]["contact"] and not cam["reentered"]

"""``qz mc --compare TASK=A,B``: refusals before anything is written, and the side-by-side result of two campaigns."""

from __future__ import annotations

import pytest

from ground.campaign.common import CampaignError
from ground.campaign.compare import compare_markdown, compare_results, parse_compare
from ground.cli import main


@pytest.mark.parametrize("text", ["guidance", "guidance=glideslope", "=a,b", "guidance=a,,b", "guidance=a,a"])
def test_a_malformed_compare_is_refused(text):
    with pytest.raises(CampaignError, match="--compare"):
        parse_compare(text)


@pytest.mark.parametrize("spec, why", [("guidance=closing_profile,nope", "no such implementation"),
                                       ("guidance=closing_profile,fsw.apps.modes:ModeManager", "declares task")])
def test_a_wrong_implementation_is_refused_in_one_line_before_the_disk(spec, why, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["mc", "--compare", spec, "--runs", "2", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err
    assert not out.exists()


def _summary(captured):
    q = {"n": 2, "mean": 0.1, "std": 0.01, "limit": 1.0, "within_limit_3sigma": True, "within_design_3sigma": True}
    return {"scenario": "final_approach", "campaign_seed": 400, "cases": 2, "captured": captured,
            "capture_rate": captured / 2, "capture_rate_wilson95": [0.1, 1.0], "outcomes": {},
            "propellant_used_kg": {"mean": 5.0, "std": 0.1, "max": 5.2}, "time_to_docking_s": {"p50": 2700.0},
            "contact_quantities": {k: q for k in ("axial_rate_mps", "lateral_rate_mps", "lateral_misalignment_m",
                                                  "pitch_deg", "yaw_deg", "roll_deg")}}


def test_the_cases_whose_outcome_differs_are_listed_with_the_command_that_reruns_them(tmp_path):
    docked = {"captured": True, "seed": 11, "cpu_guidance_mean_us": 3.0, "cpu_guidance_p99_us": 9.0,
              "cpu_guidance_max_us": 40.0, "cpu_guidance_budget_us": 500.0, "cpu_guidance_overruns": 0}
    cam = dict(docked, captured=False, aborted=True, final_mode="CAM", cam_trigger="CORRIDOR",
               stop_reason="duration")
    rows = {"a": {0: dict(docked, case=0), 1: dict(docked, case=1)},
            "b": {0: dict(docked, case=0), 1: dict(cam, case=1)}}
    subs = {"a": tmp_path / "a", "b": tmp_path / "b"}
    r = compare_results("guidance", ["a", "b"], {"a": _summary(2), "b": _summary(1)}, rows, subs)
    assert [d["case"] for d in r["disagreements"]] == [1]
    d = r["disagreements"][0]
    assert d["a"]["outcome"] == "docked" and d["b"]["outcome"] == "CAM"
    assert d["rerun"]["b"] == f"qz mc --out {tmp_path / 'b'} --rerun 1"
    assert r["results"]["a"]["cpu_per_step"]["budget_us"] == 500.0
    assert "qz mc --out" in compare_markdown(r)

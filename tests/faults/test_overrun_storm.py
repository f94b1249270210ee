"""An overrun storm injected around the navigation task: the executive measures it, FDIR holds the approach,
and retries it once the frame timing has been clean for 30 s."""

from __future__ import annotations

import pytest

from sims.runner import run_sil


@pytest.fixture(scope="module")
def storm(tmp_path_factory):
    return run_sil("overrun_storm", tmp_path_factory.mktemp("storm") / "run", progress=False)


def test_the_executive_counts_every_overrun_of_the_storm(storm):
    nav = storm["timing"]["tasks"]["navigation"]
    assert nav["overruns"] >= 300  # 30 s at 10 Hz, each call 700 us over a 500 us budget
    assert nav["max_us"] > nav["budget_us"]


def test_fdir_sees_the_storm_and_holds_the_approach(storm):
    assert storm["fdir"]["fired"] == {"overrun_storm": 1, "overrun_storm_approach": 1}
    assert storm["fdir"]["by_kind"]["HOLD"] == 1


def test_fdir_retries_the_approach_once_the_storm_has_passed(storm):
    assert storm["fdir"]["retries"] == {"timing_recovered": 1}
    assert storm["fdir"]["by_kind"]["RETRY"] == 1
    assert storm["final_mode"] != "HOLD"


def test_the_vehicle_stays_safe(storm):
    dock = storm["docking"]
    assert not dock["collided"] and not dock["contact"]


def test_an_overrun_fault_on_an_unknown_task_is_refused_by_name(tmp_path):
    faults = [{"kind": "task_overrun", "target": "warp_core", "start_s": 1.0, "duration_s": 1.0, "value": 10.0}]
    with pytest.raises(ValueError, match="warp_core"):
        run_sil("final_approach", tmp_path / "run", duration_s=2.0, progress=False, overrides={"faults": faults})

"""A flight task that raises (issue 6: "an app that raised or overran repeatedly"), flown SIL.

The scenario fault ``task_exception`` makes the target task raise inside its window (sims/runner.py
TaskFaults); the executive catches it, marks the task failed and stops calling it. What must follow
is in the FDIR tables and the docking monitor: a HOLD on the approach, and a CAM when the failed
task was the navigation (its users see NAV_STATE go stale).
"""

from __future__ import annotations

import pytest
from flying import ORBIT_S, Flight, assert_never_collided, fly


@pytest.fixture(scope="module")
def docking_failed(tmp_path_factory) -> Flight:
    return fly("fault_task_exception_docking", tmp_path_factory)


@pytest.fixture(scope="module")
def navigation_failed(tmp_path_factory) -> Flight:
    return fly("fault_task_exception_navigation", tmp_path_factory)


def test_the_raising_task_is_marked_failed_and_reported(docking_failed):
    run = docking_failed
    failed = run.first("docking", "docking failed: RuntimeError")
    assert failed is not None and 460.0 <= failed.t_s < 460.2, failed
    assert run.summary["timing"]["failed_tasks"] == ["docking"]
    fired = run.summary["fdir"]["fired"]
    assert fired == {"task_failed": 1, "task_failed_in_approach": 1}, fired
    hold = run.first("fdir", "task failed during approach, hold")
    assert hold is not None and 0.0 <= hold.t_s - failed.t_s <= 1.1, (failed, hold)


def test_without_its_safety_monitor_the_vehicle_holds_outside_the_kos(docking_failed):
    run = docking_failed
    assert run.summary["final_mode"] == "HOLD"
    assert_never_collided(run)
    assert run.kos_entries() == [] and run.range_m.min() > run.kos_radius_m, run.range_m.min()


def test_a_failed_navigation_task_is_held_then_aborted_on_stale_navigation(navigation_failed):
    run = navigation_failed
    failed = run.first("navigation", "navigation failed: RuntimeError")
    assert failed is not None and 460.0 <= failed.t_s < 460.2, failed
    assert run.summary["fdir"]["fired"].get("task_failed_in_approach") == 1
    trigger = run.first("docking", "abort trigger NAV_INVALID")
    # stale after max_age_s (0.5 s), then invalid for more than 10 s
    assert trigger is not None and 10.5 < trigger.t_s - failed.t_s <= 10.8, (failed, trigger)
    assert run.summary["final_mode"] == "CAM"
    assert run.summary["guidance"]["cam_trigger"] == "NAV_INVALID"


def test_a_failed_navigation_task_never_brings_the_vehicle_into_the_kos(navigation_failed):
    run = navigation_failed
    assert_never_collided(run)
    assert run.kos_entries() == [] and run.range_m.min() > run.kos_radius_m, run.range_m.min()
    assert run.summary["mission_time_s"] - run.first("docking", "abort trigger NAV_INVALID").t_s >= ORBIT_S

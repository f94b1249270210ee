"""Whole-run speed factors: simulated seconds per wall second, software-in-the-loop.

Issue 4 asks for one simulated hour with every app; issue 5 for the nominal scenario to docking
with all apps, the truth model and the archive, with a target of 2,000x on one core; issue 18 for the far
range (fast_rendezvous from orbit insertion to the 5 km hold) at least as fast. Each run is
one round (a run is minutes of work at most), preceded by the runner's own warm-up. The speed
factor goes into ``extra_info`` and the table printed at the end; the regression check of
tests/bench/conftest.py compares the medians (wall time) with the saved baseline.
"""

from __future__ import annotations

import pytest

from sims.runner import run_sil

TARGET_SPEED_FACTOR = 2000.0  # issue 5: nominal, all apps + truth + archive, one core, warm cache
FAR_RANGE_S = 3945.0  # fast_rendezvous on its own seed: separation to the end of the arrival burn at the 5 km hold


@pytest.mark.parametrize("scenario, duration_s", [("nominal", 3600.0), ("nominal", None),
                                                  ("fast_rendezvous", FAR_RANGE_S)],
                         ids=["one_hour_nominal", "nominal_to_docking", "far_range_phase"])
def test_sil_speed_factor(benchmark, tmp_path, scenario, duration_s):
    result = {"flights": 0}

    def fly():  # each flight in its own folder: a run never replaces another's
        result["flights"] += 1
        result["summary"] = run_sil(scenario, tmp_path / f"run{result['flights']}", duration_s=duration_s,
                                    progress=False)

    # one untimed flight first: the runner's warm-up flies 2 s, and paths taken later (the far range's planner,
    # its engine burns) would otherwise compile inside the timed flight on a cold numba cache (904x instead of
    # 2,001x for the far-range phase on 2026-12-07)
    benchmark.pedantic(fly, rounds=1, iterations=1, warmup_rounds=1)
    s = result["summary"]
    benchmark.extra_info.update({
        "mission_time_s": s["mission_time_s"], "speed_factor": round(s["speed_factor"], 1),
        "target_speed_factor": TARGET_SPEED_FACTOR, "stop_reason": s["stop_reason"],
    })
    print(f"\n{scenario}: {s['mission_time_s']:.0f} s mission in {s['wall_time_s']:.2f} s = "
          f"{s['speed_factor']:.0f}x real time (issue 5 target {TARGET_SPEED_FACTOR:.0f}x)")
    assert s["stop_reason"] in ("duration", "docked")
    if duration_s is None:  # issue 5's benchmark: nominal to docking (a busy machine can fail it, like HIL)
        assert s["stop_reason"] == "docked"
        assert s["speed_factor"] >= TARGET_SPEED_FACTOR, f"{s['speed_factor']:.0f}x < {TARGET_SPEED_FACTOR:.0f}x"
    if scenario == "fast_rendezvous":  # issue 18: the far range flies at least as fast as nominal's target
        assert s["speed_factor"] >= TARGET_SPEED_FACTOR, f"{s['speed_factor']:.0f}x < {TARGET_SPEED_FACTOR:.0f}x"

"""Benchmark: one full truth step (all models) per minor frame; budget 5 us median (issue 3)."""

from __future__ import annotations

from sims.scenario import load_scenario
from sims.truth import Truth

BUDGET_US = 5.0


def test_truth_step_median_within_budget(benchmark):
    truth = Truth(load_scenario("final_approach"))
    truth.devices["ACT_THRUSTERS"]["on_time_s"][0] = 0.004
    truth.devices["ACT_HEATERS"]["duty"][0] = 0.5
    truth.run(1001)  # compile/load kernels, pass a noise refill and a thermal frame
    benchmark.pedantic(truth.step, rounds=20000, iterations=1, warmup_rounds=1000)
    assert benchmark.stats.stats.median * 1e6 <= BUDGET_US

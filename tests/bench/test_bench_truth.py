"""Benchmarks: one full truth step (all models) per minor frame, and the frame kernel call alone.

SIL at 2,000x real time leaves the whole emulator 5 us per 10 ms minor frame, so the truth gets a small
share of it: the frame kernel (thrusters, RK4 of both orbits and the attitude, contact, due sensors) at
most 1.2 us per call, a full ``Truth.step`` (the kernel plus its Python side) at most 1.5 us median.
"""

from __future__ import annotations

from sims.scenario import load_scenario
from sims.truth import Truth

BUDGET_US = 1.5  # Truth.step, median
KERNEL_BUDGET_US = 1.2  # the frame kernel call from Python, median


def _running_truth() -> Truth:
    truth = Truth(load_scenario("final_approach"))
    truth.devices["ACT_THRUSTERS"]["on_time_s"][0] = 0.004
    truth.devices["ACT_HEATERS"]["duty"][0] = 0.5
    truth.run(1001)  # compile/load kernels, pass a noise refill and a thermal frame
    return truth


def test_truth_step_median_within_budget(benchmark):
    truth = _running_truth()
    benchmark.pedantic(truth.step, rounds=20000, iterations=1, warmup_rounds=1000)
    assert benchmark.stats.stats.median * 1e6 <= BUDGET_US


def test_truth_frame_kernel_median_within_budget(benchmark):
    """The kernel as ``Truth.step`` calls it (compiled entry point, one context argument), nothing else."""
    truth = _running_truth()
    benchmark.pedantic(truth._frame_kernel, args=(truth._frame_ctx,), rounds=20000, iterations=1, warmup_rounds=1000)
    assert benchmark.stats.stats.median * 1e6 <= KERNEL_BUDGET_US

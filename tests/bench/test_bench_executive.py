"""Executive overhead: cost per dispatched task call against the raw call, and cost of an empty frame.

Run with ``pytest tests/bench/test_bench_executive.py --benchmark-only --benchmark-enable``. Each
benchmark runs ``N_FRAMES`` frames per round; ``extra_info`` gives the per-frame and per-call numbers.
Overhead per call = (executive frame - raw loop frame) / calls per frame, both medians.
"""

import numpy as np
import pytest
from numba import njit

from fsw.executive import Executive, Schedule, ScheduleEntry, SimClock, perf_ns

N_FRAMES = 1_000
N_TASKS = 4  # as the reference measurement: a plain loop calling 4 numba tasks per frame
MINOR_NS = 10_000_000
OVERHEAD_TARGET_US = 1.0  # issue 4: executive overhead <= ~1 us per dispatched task call
_NS_PER_US = 1e3


class Noop:
    def step(self, t_ns):
        pass


@njit(cache=True)
def _scale(x, out):
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i]


class NumbaTask:
    """A minimal app: one small kernel call over arrays it owns."""

    def __init__(self):
        self.x = np.ones(3)
        self.out = np.empty(3)
        _scale(self.x, self.out)  # compile outside the measurement

    def step(self, t_ns):
        _scale(self.x, self.out)


def _raw_loop(tasks, n_frames):
    steps = [t.step for t in tasks]
    for frame in range(n_frames):
        t_ns = frame * MINOR_NS
        for step in steps:
            step(t_ns)


def _executive(tasks, rate_hz=100, budget_us=100):
    entries = [ScheduleEntry(f"t{i}", t, rate_hz, 0, budget_us) for i, t in enumerate(tasks)]
    return Executive(Schedule(entries), SimClock(MINOR_NS))


def _median_raw_frame_ns(tasks, repeats=15):
    samples = []
    for _ in range(repeats):
        t0 = perf_ns()
        _raw_loop(tasks, N_FRAMES)
        samples.append(perf_ns() - t0)
    return float(np.median(samples)) / N_FRAMES


def _per_frame_us(benchmark):
    return benchmark.stats.stats.median / N_FRAMES * 1e6


@pytest.mark.parametrize("kind", [Noop, NumbaTask], ids=["noop", "numba"])
def test_bench_raw_loop_calling_4_tasks(benchmark, kind):
    tasks = [kind() for _ in range(N_TASKS)]
    benchmark(_raw_loop, tasks, N_FRAMES)
    benchmark.extra_info["per_frame_us"] = _per_frame_us(benchmark)


@pytest.mark.parametrize("kind", [Noop, NumbaTask], ids=["noop", "numba"])
def test_bench_executive_overhead_per_task_call(benchmark, kind):
    tasks = [kind() for _ in range(N_TASKS)]
    ex = _executive(tasks)
    benchmark(ex.run, n_frames=N_FRAMES)
    frame_us = _per_frame_us(benchmark)
    raw_us = _median_raw_frame_ns(tasks) / _NS_PER_US
    overhead_us = (frame_us - raw_us) / N_TASKS
    benchmark.extra_info.update(per_frame_us=frame_us, raw_per_frame_us=raw_us, overhead_per_call_us=overhead_us)
    assert overhead_us <= OVERHEAD_TARGET_US, f"executive overhead {overhead_us:.2f} us per call"


def test_bench_executive_empty_frame(benchmark):
    # One 0.1 Hz task: 999 of every 1000 frames have nothing due.
    ex = _executive([Noop()], rate_hz=0.1)
    benchmark(ex.run, n_frames=N_FRAMES)
    benchmark.extra_info["per_frame_us"] = _per_frame_us(benchmark)


def test_bench_executive_with_timeline_recorder(benchmark):
    tasks = [Noop() for _ in range(N_TASKS)]
    ex = _executive(tasks)
    ex.enable_timeline()
    benchmark(ex.run, n_frames=N_FRAMES)
    benchmark.extra_info["per_frame_us"] = _per_frame_us(benchmark)

"""Every scheduled task's ``step`` timed in the state of a short SIL run (never on zeroed inputs).

For each row of the schedule table in flight.toml: build the flight against the sim backend and the truth
simulation exactly as the SIL runner does, fly ``SIL_SECONDS`` of the scenario through the executive (JIT
compilation and filter start-up happen there), then time the task's ``step(t_ns)`` one call per round.
Between rounds, untimed, the truth advances one task period so the sensors deliver fresh samples (new
sequence counts, new noise) and ``t_ns`` moves on by the period, as in flight; the other apps' outputs stay
as the run left them. Each task gets its own freshly flown flight, so one benchmark cannot disturb another.

``extra_info["task"]`` ties each benchmark to its schedule row: the budget check of ``conftest.py`` judges
its median and p99 against ``budget_us``.

Environment: ``QZ_BENCH_SCENARIO`` (default ``final_approach``), ``QZ_BENCH_SIL_S`` (default 5 s).
"""

from __future__ import annotations

import os

import pytest

from ground import timing
from telemetry.units import NS_PER_S

SCENARIO = os.environ.get("QZ_BENCH_SCENARIO", "final_approach")  # MC base case: lidar-driven approach
SIL_SECONDS = float(os.environ.get("QZ_BENCH_SIL_S", "5"))
ROUNDS = 300  # one call per round: p99 is the 3rd-slowest call
WARMUP_ROUNDS = 10

TASKS = [r.task for r in timing.load_budget_table().rows]


def _import(module: str):
    return pytest.importorskip(module, reason=f"app benchmarks need {module} for the SIL run")


def fly_sil(scenario: str, seconds: float):
    """Build the flight on the sim backend as ``sims.runner.run_sil`` does and fly ``seconds``; return
    ``(flight, truth)``. Skips, naming the piece, when the SIL stack is not complete yet."""
    scenario_mod = _import("sims.scenario")
    truth_mod = _import("sims.truth")
    hal_sim = _import("hal.sim")
    topology = _import("fsw.topology")
    clock_mod = _import("fsw.executive.clock")
    app_mod = _import("fsw.app")
    runner = _import("sims.runner")
    if not hasattr(runner, "flight_overrides"):
        pytest.skip("sims.runner.flight_overrides (the scenario's [flight] table plus the uplinked station "
                    "state) is not there yet")
    sc = scenario_mod.load_scenario(scenario)
    truth = truth_mod.Truth(sc, seed=sc.seed)
    clock = clock_mod.SimClock(sc.minor_frame_ns)
    try:
        flight = topology.build_flight(hal_sim.SimBackend(truth), clock, lambda packet: None,
                                       overrides=runner.flight_overrides(sc), post_frame=lambda t_ns: truth.step())
    except (app_mod.ConfigError, app_mod.WiringError) as err:
        pytest.skip(f"topology cannot fly scenario {scenario!r} yet: {err}")
    frames = round(seconds * NS_PER_S / sc.minor_frame_ns)
    flight.executive.run(n_frames=frames)
    return flight, truth


def _stepper(flight, truth, task: str):
    """The task's bound step and a pedantic ``setup`` that advances the world one period and gives its t_ns."""
    ex = flight.executive
    schedule = ex.schedule
    i = schedule.index(task)
    entry, divisor = schedule.entries[i], schedule.divisors[i]
    minor = schedule.minor_frame_ns
    frame = ex.clock.frame + 1
    frame += (entry.offset - frame) % divisor  # the task's next slot
    state = {"frame": frame - divisor}
    hal_poll = ex.pre_frame  # HAL poll (+ runner hooks) as the executive calls it

    def setup():
        for _ in range(divisor):
            truth.step()
        state["frame"] += divisor
        t_ns = state["frame"] * minor
        if hal_poll is not None:
            hal_poll(t_ns)
        return (t_ns,), {}

    return entry.task.step, setup


@pytest.mark.parametrize("task", TASKS)
def test_step(benchmark, task):
    flight, truth = fly_sil(SCENARIO, SIL_SECONDS)
    step, setup = _stepper(flight, truth, task)
    failed_before = flight.executive.failed_tasks()
    assert task not in failed_before, f"{task} raised during the SIL run: see the executive's events"
    benchmark.extra_info.update(task=task, scenario=SCENARIO, sil_s=SIL_SECONDS)
    benchmark.pedantic(step, setup=setup, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    run_stats = flight.executive.stats_by_task[task].summary()
    # the executive's own view of the same task during the SIL run, for comparison with the benchmark
    benchmark.extra_info.update(sil_calls=run_stats["calls"], sil_p50_us=run_stats["p50_us"],
                                sil_max_us=run_stats["max_us"])


def test_step_commanding_with_a_command_every_call(benchmark):
    """The command dispatcher's busy case: a NOOP telecommand waiting at each call."""
    if "commanding" not in TASKS:
        pytest.skip("no commanding row in the schedule table")
    codec = _import("telemetry.codec")
    flight, truth = fly_sil(SCENARIO, SIL_SECONDS)
    step, advance = _stepper(flight, truth, "commanding")
    noop = codec.tc_codec("NOOP")
    seq = [0]

    def setup():
        args = advance()
        flight.uplink(noop.pack(seq[0] % (1 << 14)))
        seq[0] += 1
        return args

    accepted = flight.commanding.accepted
    benchmark.extra_info.update(task="commanding", scenario=SCENARIO, sil_s=SIL_SECONDS)
    benchmark.pedantic(step, setup=setup, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    assert flight.commanding.accepted - accepted == ROUNDS + WARMUP_ROUNDS, "NOOPs were not all accepted"

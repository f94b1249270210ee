"""Thrust profiles of the truth's thrusters (valve delay, linear rise, hold, linear tail-off) against the closed form
of a pulse's trapezoid, per pulse and per minor frame, with the minimum-impulse-bit rule on the commanded on-time."""

from __future__ import annotations

import numpy as np
import pytest

from sims.core.constants import G0_M_S2
from sims.scenario import ScenarioError, load_scenario
from sims.truth import min_on_time_s
from tests.sims.conftest import make_truth

HOLD_400 = [0.0, -403.0, 0.0]
ISP_G0 = 290.0 * G0_M_S2
DT = 0.01
# docs/sensors.md sec. 8: delay / 10-90 % rise / 90-10 % tail-off; linear ramps last the 10-90 % time / 0.8
PROFILE = {"valve_delay_translation_s": 0.005, "rise_translation_s": 0.020, "tail_translation_s": 0.025,
           "valve_delay_s": 0.003, "rise_s": 0.010, "tail_s": 0.015}
CLASSES = {0: (150.0, 0.005, 0.025, 0.03125, 1.5), 12: (25.0, 0.003, 0.0125, 0.01875, 0.25)}  # T1, A1


def shaped_truth():
    return make_truth(HOLD_400, vehicle={"propulsion": {"thrust_error_sigma": 0.0, "misalignment_sigma_deg": 0.0,
                                                        **PROFILE}})


def command(truth, on_times: dict[int, float]) -> None:
    rec = truth.devices["ACT_THRUSTERS"]
    rec["on_time_s"][:] = 0.0
    for i, t in on_times.items():
        rec["on_time_s"][i] = t
    rec["seq"] += 1


def impulse_of(truth) -> float:
    return truth.propellant_used_kg * ISP_G0


def trapezoid_area(tau, up, down):
    """[s] Full-thrust seconds of a pulse from rest: linear rise over ``up``, hold, linear fall over ``down``."""
    if tau >= up:
        return tau - 0.5 * up + 0.5 * down
    return 0.5 * tau * (tau / up) + 0.5 * (tau / up) ** 2 * down


@pytest.mark.parametrize("thruster, on_time_s", [(0, 0.020), (0, 0.080), (12, 0.011), (12, 0.050)],
                         ids=["150N-shorter-than-rise", "150N-longer", "25N-shorter-than-rise", "25N-longer"])
def test_pulse_delivers_the_impulse_of_its_trapezoid(thruster, on_time_s):
    thrust, _, up, down, _ = CLASSES[thruster]
    truth = shaped_truth()
    command(truth, {thruster: on_time_s})
    truth.run(20)  # the pulse, its delay and its tail-off are over
    tau = float(np.float32(on_time_s))  # the record carries f32 on-times
    assert impulse_of(truth) == pytest.approx(thrust * trapezoid_area(tau, up, down), rel=1e-12)
    assert truth._s["thrusters_busy"] == 0 and truth._thrusters["level"][thruster] == 0.0


@pytest.mark.parametrize("thruster, on_time_s, expected", [(0, 0.010, 1.5), (0, 0.007, 0.0), (12, 0.008, 0.25),
                                                           (12, 0.004, 0.0)])
def test_command_shorter_than_the_minimum_on_time_delivers_the_minimum_impulse_bit_or_nothing(thruster, on_time_s,
                                                                                             expected):
    """The minimum on-time is the pulse that delivers the datasheet MIB (150 N: 14.9 ms; 25 N: 10 ms); below half
    of it nothing opens."""
    truth = shaped_truth()
    command(truth, {thruster: on_time_s})
    truth.run(20)
    assert impulse_of(truth) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_minimum_on_time_is_the_pulse_of_the_minimum_impulse_bit():
    for thrust, _, up, down, mib in CLASSES.values():
        t_min = min_on_time_s(mib, thrust, up, down)
        assert thrust * trapezoid_area(t_min, up, down) == pytest.approx(mib, rel=1e-12)
    assert min_on_time_s(1.5, 150.0, 0.0, 0.0) == pytest.approx(0.01, rel=1e-15)  # ideal valves: MIB / thrust
    assert min_on_time_s(25 * 0.1, 25.0, 0.0125, 0.01875) == pytest.approx(0.1 + 0.5 * (0.0125 - 0.01875))


def test_impulse_of_each_frame_is_the_delayed_trapezoid_integrated_over_it():
    """Per-frame impulse against an independent integral: the trapezoid's vertices (delay, end of rise, close +
    delay, end of tail) and the frame boundaries on one grid, where the trapezoid rule is exact."""
    thrust, delay, up, down, _ = CLASSES[0]
    tau = float(np.float32(0.043))
    truth = shaped_truth()
    command(truth, {0: 0.043})
    per_frame = []
    for _ in range(12):
        before = impulse_of(truth)
        truth.step()
        per_frame.append(impulse_of(truth) - before)
    vertices_t = [delay, delay + up, delay + tau, delay + tau + down]
    vertices_f = [0.0, thrust, thrust, 0.0]
    grid = np.union1d(np.arange(13) * DT, vertices_t)
    force = np.interp(grid, vertices_t, vertices_f, left=0.0, right=0.0)
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (force[1:] + force[:-1]) * np.diff(grid))])
    expected = np.diff(np.interp(np.arange(13) * DT, grid, cumulative))
    assert per_frame[0] == pytest.approx(thrust * (DT - delay) ** 2 / (2 * up), rel=1e-12)  # the rise after delay
    assert np.allclose(per_frame, expected, rtol=1e-12, atol=1e-13)


def test_a_new_command_to_an_open_valve_extends_its_pulse_without_a_new_rise():
    thrust, _, up, down, _ = CLASSES[0]
    truth = shaped_truth()
    command(truth, {0: 0.03})
    truth.run(2)
    command(truth, {0: 0.03})  # 20 ms into a 30 ms pulse: now 30 ms more
    truth.run(20)
    tau = 0.02 + float(np.float32(0.03))
    assert impulse_of(truth) == pytest.approx(thrust * trapezoid_area(tau, up, down), rel=1e-12)


def test_a_zero_command_closes_an_open_valve_now():
    thrust, _, up, down, _ = CLASSES[0]
    truth = shaped_truth()
    command(truth, {0: 0.08})
    truth.run(4)
    command(truth, {0: 0.0})
    truth.run(20)
    assert impulse_of(truth) == pytest.approx(thrust * trapezoid_area(0.04, up, down), rel=1e-12)


def test_stuck_on_valve_ramps_up_and_tails_off_when_the_fault_ends():
    thrust, _, up, down, _ = CLASSES[0]
    faults = [{"kind": "thruster_stuck_on", "target": "T1", "start_s": 0.0, "duration_s": 0.5}]
    truth = make_truth(HOLD_400, faults=faults, vehicle={"propulsion": {"thrust_error_sigma": 0.0,
                                                                        "misalignment_sigma_deg": 0.0, **PROFILE}})
    truth.run(100)
    truth.run(20)
    # stuck from 0 to 0.5 s (no valve delay: the fault acts on the valve itself), then the tail-off
    assert impulse_of(truth) == pytest.approx(thrust * (0.5 - 0.5 * up + 0.5 * down), rel=1e-12)



def test_valve_delay_of_a_frame_or_more_is_refused_naming_the_key():
    with pytest.raises(ScenarioError, match=r": vehicle\.propulsion\.valve_delay_s: expected a valve delay shorter"):
        load_scenario("final_approach", overrides={"vehicle": {"propulsion": {"valve_delay_s": 0.01}}})

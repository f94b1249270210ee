import tomllib
from pathlib import Path

import numpy as np
import pytest

from fsw.core.control import (
    GROUP_NAMES,
    frame_on_times,
    group_authority,
    thruster_group_wrench,
    thruster_on_times,
)

VEHICLE_TOML = Path(__file__).resolve().parents[3] / "fsw" / "config" / "vehicle.toml"
PERIOD_S = 0.1  # 10 Hz control


@pytest.fixture(scope="module")
def table():
    cfg = tomllib.loads(VEHICLE_TOML.read_text())
    thr = cfg["propulsion"]["thrusters"]
    pos = np.array([t["pos"] for t in thr], dtype=float)
    dirs = np.array([t["dir"] for t in thr], dtype=float)
    thrust = np.array([t["thrust_N"] for t in thr], dtype=float)
    group = np.array([GROUP_NAMES.index(t["group"]) for t in thr], dtype=np.int64)
    wrench = np.empty((12, 6))
    thruster_group_wrench(pos, dirs, thrust, group, np.zeros(3), wrench)
    authority, crosstalk = np.empty(12), np.empty(12)
    group_authority(wrench, authority, crosstalk)
    # Minimum on-time per group from the minimum impulse bit of its (weakest) thruster.
    mib = cfg["propulsion"]["min_impulse_bit_Ns"]
    t_min = np.array([mib / thrust[group == g].min() for g in range(12)])
    return dict(pos=pos, dirs=dirs, thrust=thrust, group=group, wrench=wrench, authority=authority,
                crosstalk=crosstalk, t_min=t_min)


def _delivered(table, on_thr):
    f = (on_thr * table["thrust"]) @ table["dirs"] / PERIOD_S
    tq = (on_thr * table["thrust"]) @ np.cross(table["pos"], table["dirs"]) / PERIOD_S
    return f, tq


def _run(table, force, torque, carry=None):
    carry = np.zeros(6) if carry is None else carry
    on_g, on_t = np.empty(12), np.empty(table["group"].shape[0])
    sat = thruster_on_times(np.asarray(force, float), np.asarray(torque, float), PERIOD_S, table["authority"],
                            table["t_min"], table["group"], carry, on_g, on_t)
    return sat, on_g, on_t, carry


def test_group_wrench_matches_numpy_cross_products(table):
    for g in range(12):
        m = table["group"] == g
        f = (table["thrust"][m, None] * table["dirs"][m]).sum(axis=0)
        tq = np.cross(table["pos"][m], table["thrust"][m, None] * table["dirs"][m]).sum(axis=0)
        np.testing.assert_allclose(table["wrench"][g], np.concatenate([f, tq]), atol=1e-12)


def test_vehicle_table_groups_are_pure_forces_and_couples(table):
    assert np.all(table["authority"] > 0.0)
    assert np.max(table["crosstalk"]) < 1e-9


def test_on_times_reproduce_requested_force_and_torque(table):
    force, torque = np.array([120.0, -80.0, 35.0]), np.array([40.0, -25.0, 60.0])
    sat, _, on_t, _ = _run(table, force, torque)
    f, tq = _delivered(table, on_t)
    assert sat == 0
    # Every channel is above its minimum on-time, so the delivery is exact up to rounding.
    np.testing.assert_allclose(f, force, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(tq, torque, rtol=1e-12, atol=1e-9)


def test_on_times_respect_minimum_impulse_bit(table):
    rng = np.random.default_rng(11)
    carry = np.zeros(6)
    for _ in range(200):
        _, on_g, _, carry = _run(table, rng.normal(scale=20.0, size=3), rng.normal(scale=5.0, size=3), carry)
        fired = on_g > 0.0
        assert np.all(on_g[fired] >= table["t_min"][fired] - 1e-15)
        assert np.all(on_g <= PERIOD_S)


def test_sub_mib_torque_is_delivered_on_average(table):
    torque = np.array([0.0, 3.0, 0.0])  # 0.3 N m s per period: below the 25 N x 10 ms x 5.5 m bit
    carry, impulse, periods = np.zeros(6), 0.0, 400
    for _ in range(periods):
        _, _, on_t, carry = _run(table, np.zeros(3), torque, carry)
        impulse += _delivered(table, on_t)[1][1] * PERIOD_S
    # Undelivered impulse is the carry, bounded by one minimum bit: mean error <= bit / (periods T).
    bit_Nms = table["t_min"][8] * table["authority"][8]
    assert abs(impulse / (periods * PERIOD_S) - torque[1]) <= bit_Nms / (periods * PERIOD_S)
    assert impulse > 0.0


def test_on_times_saturate_at_period_and_drop_excess(table):
    sat, on_g, _, carry = _run(table, [0.0, 1e4, 0.0], [0.0, 0.0, -1e4])
    assert on_g[2] == PERIOD_S and on_g[11] == PERIOD_S
    assert sat == (1 << 1) | (1 << 5)
    assert np.all(carry == 0.0)


def test_opposite_groups_never_fire_together(table):
    rng = np.random.default_rng(12)
    carry = np.zeros(6)
    for _ in range(200):
        _, on_g, _, carry = _run(table, rng.normal(scale=100.0, size=3), rng.normal(scale=50.0, size=3), carry)
        assert np.all(on_g[0::2] * on_g[1::2] == 0.0)


def test_frame_on_times_continue_a_pulse_through_consecutive_frames():
    on = np.array([0.025, 0.0, 0.1, 0.004])
    frames = np.empty((10, 4))
    for k in range(10):
        frame_on_times(on, k, 0.01, frames[k])
    np.testing.assert_allclose(frames[:3, 0], [0.01, 0.01, 0.005])
    np.testing.assert_allclose(frames.sum(axis=0), on, atol=1e-15)
    assert np.all(frames[:, 2] == 0.01)


def _pulse_area(tau_s, up_s, down_s, start_level=0.0, dt=1e-6):
    """Full-thrust seconds of a valve opened for ``tau_s`` with linear ramps, integrated on a fine grid (numpy,
    independent of the flight's closed form): the level rises at 1 / up while open, falls at 1 / down after."""
    n = int((tau_s + down_s) / dt) + 2
    level, area = start_level, 0.0
    t = (np.arange(n) + 0.5) * dt
    for is_open in (t < tau_s):
        level = min(level + dt / up_s, 1.0) if is_open else max(level - dt / down_s, 0.0)
        area += level * dt
    return area


@pytest.mark.parametrize("up, down", [(0.0125, 0.01875), (0.025, 0.03125)])
@pytest.mark.parametrize("effective", [0.002, 0.01, 0.02, 0.05, 0.0999])
def test_the_valve_on_time_delivers_the_full_thrust_seconds_asked(up, down, effective):
    """docs/sensors.md section 8's ramps (10-90 % rise and tail-off over 0.8): an isolated pulse of the valve on-time
    delivers the full-thrust seconds asked, both where it closes on the rise and where it reaches full thrust."""
    from fsw.core.control import valve_on_time

    tau = valve_on_time(effective, up, down, 0.1)
    assert 0.0 < tau <= 0.1
    assert _pulse_area(tau, up, down) == pytest.approx(effective, rel=2e-3, abs=2e-6)


def test_the_valve_on_time_is_the_full_thrust_time_for_ideal_valves_and_a_whole_period_stays_whole():
    from fsw.core.control import valve_on_time

    for effective in (0.0, 0.004, 0.05, 0.1):
        assert valve_on_time(effective, 0.0, 0.0, 0.1) == effective
    assert valve_on_time(0.1, 0.025, 0.03125, 0.1) == 0.1  # back to back: the valve stays open
    assert valve_on_time(0.12, 0.025, 0.03125, 0.1) == 0.1
    assert valve_on_time(0.0, 0.025, 0.03125, 0.1) == 0.0

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


def _profile(taus, period, delay, up, down, dt=2e-6):
    """The thrust level (fraction of full) of a valve commanded ``taus[k]`` from each period's start, on a fine grid
    (numpy, independent of the flight's closed forms): open from delay to tau + delay after each command (a command
    of the whole period keeps it open into the next), rising at 1 / up while open and falling at 1 / down."""
    n = int(round(period / dt))
    t = (np.arange(n * len(taus)) + 0.5) * dt
    is_open = np.zeros(t.size, bool)
    for k, tau in enumerate(taus):
        is_open |= (t >= k * period + delay) & (t < k * period + tau + delay)
    level = np.zeros(t.size)
    x = 0.0
    for i, o in enumerate(is_open):
        x = min(x + dt / up, 1.0) if o else max(x - dt / down, 0.0)
        level[i] = x
    return t, level, n


def test_the_flight_thrust_profile_of_each_period_agrees_with_the_truth_and_a_fine_grid():
    """The flight's per-period full-thrust seconds and their first moment (period_pulse_areas: last period's tail in,
    this one's out, a valve open at the period's start staying open) against the truth's own valve model
    (sims.core.frame.shaped_pulse over 10 ms frames) and a fine-grid integration of the profile, over a seeded
    sequence of on-times: none, short, long, whole periods back to back."""
    from fsw.core.control import period_pulse_areas, valve_on_time
    from sims.core.frame import THRUSTER, shaped_pulse

    period, frame, delay, up, down = 0.1, 0.01, 0.005, 0.025, 0.03125
    rng = np.random.default_rng(8)
    taus = rng.choice([0.0, 0.015, 0.02, 0.05, 0.08, 0.097, 0.1], size=60)
    t, level, n = _profile(taus, period, delay, up, down)
    pulse = np.zeros((1, 4))
    pulse[0, 1:] = -np.inf
    truth = np.zeros(1, THRUSTER)[0]
    truth["thrust_N"], truth["delay_s"], truth["ramp_up_s"], truth["ramp_down_s"] = 1.0, delay, up, down
    truth["t_min_s"] = valve_on_time(0.01, up, down, period)
    truth["open_s"] = truth["close_s"] = truth["prev_close_s"] = -np.inf
    area, moment = np.zeros(1), np.zeros(1)
    for k, tau in enumerate(taus):
        period_pulse_areas(np.array([tau]), pulse, np.array([delay]), np.array([up]), np.array([down]), period, area,
                           moment)
        want = sum(shaped_pulse(truth, i == 0, tau, frame)[0] for i in range(10))
        assert area[0] == pytest.approx(want, abs=1e-12), tau
        w = slice(k * n, (k + 1) * n)
        dt = t[1] - t[0]
        assert area[0] == pytest.approx(level[w].sum() * dt, abs=2e-6), tau
        assert moment[0] == pytest.approx((level[w] * (t[w] - k * period)).sum() * dt, abs=2e-7), tau


def test_the_thrust_as_the_rates_see_it_is_weighted_by_a_triangle_over_two_periods():
    """response_weights: the difference of two mean rates, one period apart, weighs thrust at time s of the last
    period by 1 - s / P and of the one before by s / P. Against a fine-grid integral of a shaped profile, and the
    closed form of an isolated ideal pulse (tau - tau^2 / 2P, then tau^2 / 2P)."""
    from fsw.core.control import period_pulse_areas
    from fsw.core.propulsion import THRUSTER_PARAMS, THRUSTER_STATE, response_weights
    from fsw.messages import new_message

    period, delay, up, down = 0.1, 0.005, 0.025, 0.03125
    prm, st, out = np.zeros(1, THRUSTER_PARAMS)[0], np.zeros(1, THRUSTER_STATE)[0], new_message("THRUSTER_PERIOD")
    prm["period_s"], prm["authority"] = period, 1.0
    st["pulse"][:, 1:] = -np.inf
    taus = [0.06, 0.0, 0.1, 0.1, 0.03, 0.0, 0.0]
    t, level, n = _profile(taus, period, delay, up, down)
    dt = t[1] - t[0]
    for k, tau in enumerate(taus):
        st["valve_s"][:] = tau
        period_pulse_areas(st["valve_s"], st["pulse"], np.full(12, delay), np.full(12, up), np.full(12, down), period,
                           st["area_s"], st["moment_s2"])
        response_weights(prm, st, 5000.0, out)
        s_rel = t - k * period  # the triangle from the last period's start to this one's end, peak at this one's start
        weight = np.where((s_rel >= 0) & (s_rel < period), 1.0 - s_rel / period,
                          np.where((s_rel >= -period) & (s_rel < 0), (s_rel + period) / period, 0.0))
        assert st["resp_s"][0] == pytest.approx((level * weight).sum() * dt, abs=2e-6), k
    st["moment_prev_s2"][:], tau = 0.0, 0.03  # ideal valves: an isolated pulse of 30 ms
    st["area_s"][:], st["moment_s2"][:] = tau, tau * tau / 2
    response_weights(prm, st, 5000.0, out)
    assert st["resp_s"][0] == pytest.approx(tau - tau * tau / (2 * period), rel=1e-12)
    st["area_s"][:], st["moment_s2"][:] = 0.0, 0.0
    response_weights(prm, st, 5000.0, out)
    assert st["resp_s"][0] == pytest.approx(tau * tau / (2 * period), rel=1e-12)


def test_a_long_pulse_delivers_its_full_thrust_seconds_over_this_period_and_the_next():
    """One 50 ms valve pulse with the translation thrusters' profile: inside the period, the thrust from the delay
    to the period's end; the tail-off past it lands in the next; the two add to the pulse's full-thrust seconds."""
    from fsw.core.control import period_pulse_areas, valve_on_time

    period, delay, up, down = 0.1, 0.005, 0.025, 0.03125
    tau = valve_on_time(0.05, up, down, period)
    pulse = np.zeros((1, 4))
    pulse[0, 1:] = -np.inf
    a1, a2, m = np.zeros(1), np.zeros(1), np.zeros(1)
    args = (np.array([delay]), np.array([up]), np.array([down]), period)
    period_pulse_areas(np.array([tau]), pulse, *args, a1, m)
    period_pulse_areas(np.array([0.0]), pulse, *args, a2, m)
    assert a1[0] + a2[0] == pytest.approx(0.05, rel=1e-12)
    # closes at delay + tau = 0.05188 s, the tail-off of 31.25 ms ends at 0.08313 s: all inside the period
    assert a2[0] == 0.0
    tau = valve_on_time(0.08, up, down, period)  # closes at 0.08688 s: 18 ms of tail-off in the next period
    period_pulse_areas(np.array([tau]), pulse, *args, a1, m)
    period_pulse_areas(np.array([0.0]), pulse, *args, a2, m)
    spill = 0.5 * (delay + tau + down - period) ** 2 / down  # the tail-off's triangle past the period's end
    assert a2[0] == pytest.approx(spill, rel=1e-12) and a1[0] + a2[0] == pytest.approx(0.08, rel=1e-12)

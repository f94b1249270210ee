"""Heater-zone kernels (fsw/core/thermal.py) against closed forms and plain-numpy references."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsw.core import thermal as th
from telemetry.dictionary import N_HEATER_ZONES

ALL_VALID = 0x3FF  # ten thermistors, every valid bit set


def _params(n, setpoint_C=21.0, hyst_C=1.0, kp=0.0, ki=0.0, heater_W=150.0):
    """A THERMAL_PARAMS record of n identical zones (mode, order, budget set by _Zones)."""
    prm = np.zeros(1, th.THERMAL_PARAMS)
    p = prm[0]
    p["n_zones"] = n
    p["setpoint_C"][:n], p["hysteresis_C"][:n], p["kp_per_C"][:n] = setpoint_C, hyst_C, kp
    p["ki_per_C_s"][:n], p["heater_W"][:n] = ki, heater_W
    return prm


class _Zones:
    """The records thermal_step works on, as the thermal app holds them, with views of their fields."""

    def __init__(self, n, mode, prm, limit_W=600.0, unit=None, order=None, rate_tau_s=30.0):
        self.n = n
        self.prm = prm
        p = prm[0]
        p["mode"][:n] = mode
        p["order"][:n] = np.arange(n) if order is None else order
        p["limit_W"], p["rate_tau_s"] = limit_W, rate_tau_s
        self.st = th.new_state()
        s = self.st[0]
        if unit is not None:
            s["unit"][:n] = unit
        self.mode = p["mode"][:n]            # views
        self.heater_W = p["heater_W"][:n]
        self.duty = s["duty"][:2 * n]
        self.integ_C_s = s["integ_C_s"][:n]
        self.rate_C_s = s["rate_C_s"][:n]

    def step(self, zone_temp_C, dt_s=1.0, valid_mask=ALL_VALID):
        self.prm[0]["dt_s"] = dt_s
        therm = np.repeat(np.asarray(zone_temp_C, dtype=float), 2)  # primary and backup agree
        return th.thermal_step(therm, valid_mask, self.prm, self.st)


# --- thermostat ---------------------------------------------------------------------------

def test_thermostat_switches_at_band_edges_on_a_down_up_ramp():
    sp, h = 21.0, 1.0
    ramp = np.concatenate([np.arange(24.0, 17.0, -0.25), np.arange(17.0, 24.0, 0.25)])
    on = np.zeros(1)
    got = []
    for t in ramp:
        th.thermostat_update(np.array([t]), np.array([sp]), np.array([h]), on)
        got.append(on[0])
    # Closed form of the hysteresis loop: on from the first T <= sp - h going down,
    # off from the first T >= sp + h going up.
    falling = np.arange(ramp.size) < ramp.size // 2
    expected = np.where(falling, ramp <= sp - h, ramp < sp + h).astype(float)
    np.testing.assert_array_equal(got, expected)


def test_thermostat_keeps_latch_when_temperature_is_nan():
    on = np.array([1.0])
    th.thermostat_update(np.array([np.nan]), np.array([21.0]), np.array([1.0]), on)
    assert on[0] == 1.0


# --- PI law -------------------------------------------------------------------------------

def test_pi_step_response_matches_analytic_second_order_closed_loop():
    # Plant C dT/dt = P u - G (T - T_env): tau = C/G = 100 s, gain K = P/G = 10 degC per unit duty.
    tau_s, K_C, T_env_C, dt_s = 100.0, 10.0, 0.0, 0.02
    kp, ki, r_C = 0.2, 0.002, 2.0
    # Closed loop in z = T - T_env - r: tau z'' + (1 + K kp) z' + K ki z = 0, roots -0.01, -0.02 1/s;
    # z(0) = -r, z'(0) = K kp r / tau (the integral starts at zero).
    s1, s2 = np.roots([tau_s, 1.0 + K_C * kp, K_C * ki])
    A, B = np.linalg.solve([[1.0, 1.0], [s1, s2]], [-r_C, K_C * kp * r_C / tau_s])

    z = _Zones(1, th.MODE_PI, _params(1, setpoint_C=T_env_C + r_C, kp=kp, ki=ki, heater_W=150.0))
    decay = np.exp(-dt_s / tau_s)
    T = T_env_C
    t_grid = np.arange(0.0, 600.0, dt_s)
    temps = np.empty(t_grid.size)
    duties = np.empty(t_grid.size)
    for k in range(t_grid.size):
        temps[k] = T
        z.step([T], dt_s=dt_s)
        duties[k] = z.duty[0]
        T = T_env_C + (T - T_env_C) * decay + K_C * duties[k] * (1.0 - decay)  # exact ZOH
    analytic = T_env_C + r_C + A * np.exp(s1 * t_grid) + B * np.exp(s2 * t_grid)

    assert 0.0 < duties.min() and duties.max() < 1.0  # the linear (unsaturated) regime
    np.testing.assert_allclose(temps, analytic, atol=1e-3 * r_C)


def test_pi_integrator_tracks_saturated_duty():
    kp, ki, err = 0.5, 0.01, 10.0
    duty, u, integ = th.pi_duty(err, kp, ki, 1.0, 0.0)
    integ = th.pi_track_integrator(err, kp, ki, duty, u, integ)
    assert duty == 1.0
    assert kp * err + ki * integ == pytest.approx(1.0)


def test_pi_integrator_unchanged_when_output_is_not_saturated():
    duty, u, integ = th.pi_duty(0.5, 0.2, 0.01, 1.0, 3.0)
    assert th.pi_track_integrator(0.5, 0.2, 0.01, duty, u, integ) == integ


def test_shed_pi_zone_integrator_follows_granted_duty():
    # Zone 0 (high priority) takes 100 W of 150 W; zone 1's PI asks for full duty and gets 50 W.
    z = _Zones(2, th.MODE_PI, _params(2, setpoint_C=20.0, kp=1.0, ki=0.01), limit_W=150.0)
    z.mode[0] = th.MODE_THERMOSTAT
    z.heater_W[0] = 100.0
    z.step([0.0, 19.5])
    err = 0.5
    assert z.duty[2] == pytest.approx(50.0 / 150.0)
    assert err * 1.0 + 0.01 * z.integ_C_s[1] == pytest.approx(50.0 / 150.0)


# --- power budget -------------------------------------------------------------------------

_requests = st.lists(st.floats(0.0, 300.0), min_size=5, max_size=5)
_orders = st.permutations(range(5))
_limits = st.floats(0.0, 1000.0)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(_requests, _orders, _limits)
def test_allocation_never_exceeds_budget(request_W, order, limit_W):
    granted = np.zeros(5)
    total, _ = th.allocate_power(np.array(request_W), np.array(order, dtype=np.int64), limit_W, granted)
    assert total <= limit_W + 1e-9
    assert granted.sum() == pytest.approx(total)
    assert np.all(granted <= np.array(request_W) + 1e-12)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(_requests, _orders, _limits)
def test_allocation_serves_zones_in_priority_order(request_W, order, limit_W):
    req = np.array(request_W)
    granted = np.zeros(5)
    th.allocate_power(req, np.array(order, dtype=np.int64), limit_W, granted)
    # Plain-numpy reference: the cumulative request in priority order, clipped to the limit.
    req_in_order = req[list(order)]
    cum = np.minimum(np.cumsum(req_in_order), limit_W)
    expected_in_order = np.diff(np.concatenate([[0.0], cum]))
    np.testing.assert_allclose(granted[list(order)], expected_in_order, atol=1e-9)


def test_allocation_grants_partial_power_to_first_zone_that_does_not_fit():
    granted = np.zeros(3)
    total, shed = th.allocate_power(np.array([150.0, 150.0, 150.0]), np.array([2, 0, 1]), 400.0, granted)
    np.testing.assert_allclose(granted, [150.0, 100.0, 150.0])
    assert (total, shed) == (400.0, 0b010)


def test_allocation_does_not_mark_zone_without_request_as_shed():
    granted = np.zeros(2)
    _, shed = th.allocate_power(np.array([300.0, 0.0]), np.array([0, 1]), 100.0, granted)
    assert shed == 0b01


# --- sensor selection and the full step ----------------------------------------------------

def test_zone_temperature_falls_back_to_backup_thermistor():
    therm = np.array([10.0, 11.0, 20.0, 21.0])
    temp, src = np.zeros(2), np.zeros(2, dtype=np.int64)
    th.select_zone_temps(therm, 0b1110, temp, src)  # zone 0 primary invalid
    np.testing.assert_array_equal(temp, [11.0, 20.0])
    np.testing.assert_array_equal(src, [1, 2])


def test_zone_temperature_is_nan_when_both_thermistors_unusable():
    therm = np.array([np.nan, 11.0])
    temp, src = np.zeros(1), np.zeros(1, dtype=np.int64)
    th.select_zone_temps(therm, 0b01, temp, src)  # primary nan, backup flagged invalid
    assert np.isnan(temp[0]) and src[0] == -1


def test_zone_without_temperature_requests_no_power():
    z = _Zones(1, th.MODE_THERMOSTAT, _params(1))
    z.step([0.0], valid_mask=0)
    assert z.duty.sum() == 0.0


def test_backup_unit_receives_the_duty_when_selected():
    z = _Zones(2, th.MODE_THERMOSTAT, _params(2), unit=[1, 0])
    z.step([10.0, 10.0])
    np.testing.assert_array_equal(z.duty, [0.0, 1.0, 1.0, 0.0])


def test_off_mode_commands_no_heater_even_when_cold():
    z = _Zones(1, th.MODE_OFF, _params(1))
    power_W, shed = z.step([-50.0])
    assert (power_W, shed, z.duty.sum()) == (0.0, 0, 0.0)


def test_step_reports_shed_mask_and_power_within_limit():
    z = _Zones(5, th.MODE_THERMOSTAT, _params(5), limit_W=600.0, order=[2, 3, 1, 0, 4])
    power_W, shed = z.step([0.0] * 5)  # every zone cold: 750 W asked for
    assert power_W == 600.0
    assert shed == 1 << 4


def test_rate_filter_follows_first_order_closed_form_on_a_ramp():
    slope_C_s, tau_s, dt_s = -0.01, 30.0, 1.0
    z = _Zones(1, th.MODE_OFF, _params(1), rate_tau_s=tau_s)
    temps = 20.0 + slope_C_s * np.arange(100) * dt_s
    for t in temps:
        z.step([t], dt_s=dt_s)
    # Constant input to r += a (x - r), a = dt/(tau+dt), from r = 0: r_k = x (1 - (1-a)^k),
    # with k = number of differences seen (the first sample only primes T_prev).
    a = dt_s / (tau_s + dt_s)
    expected = slope_C_s * (1.0 - (1.0 - a) ** (temps.size - 1))
    assert z.rate_C_s[0] == pytest.approx(expected, rel=1e-9)


# --- shipped configuration (fsw/config/thermal.toml) -----------------------------------------

def _thermal_config():
    with open(Path(th.__file__).parents[1] / "config" / "thermal.toml", "rb") as fh:
        return tomllib.load(fh)


def test_thermal_config_has_one_zone_per_dictionary_zone():
    assert len(_thermal_config()["zone"]) == N_HEATER_ZONES


def test_thermal_config_setpoint_band_lies_inside_zone_limits():
    for z in _thermal_config()["zone"]:
        band = (z["setpoint_C"] - z["hysteresis_C"], z["setpoint_C"] + z["hysteresis_C"])
        assert z["limit_lo_C"] < band[0] and band[1] < z["limit_hi_C"], z["name"]


def test_thermal_config_priorities_are_distinct_ranks():
    assert sorted(z["priority"] for z in _thermal_config()["zone"]) == list(range(N_HEATER_ZONES))


def test_thermal_config_modes_are_known():
    assert {z["mode"] for z in _thermal_config()["zone"]} <= {"off", "thermostat", "pi"}

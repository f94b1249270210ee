"""Thermal control app (fsw/apps/thermal.py): heater slots, power budget, unit switching, events, summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fsw.app import Bus, ConfigError
from fsw.apps import thermal as tapp
from fsw.apps.commanding import CommandRejected
from fsw.topology import load_flight_config
from hal import devices

THERMAL_TOML = Path(tapp.__file__).parents[1] / "config" / "thermal.toml"
# the thermal task's period: the schedule's, the one source of rates (flight.toml)
PERIOD_S = next(1.0 / r["rate_hz"] for r in load_flight_config()["schedule"] if r["task"] == "thermal")
S = 1_000_000_000  # ns per second
ALL_VALID = 0x3FF
# Shipped zones: cabin 21+-1, cold chain PI at 4, propellant lines 10+-2, avionics 0+-2, deck -5+-2.
IN_BAND_C = np.array([21.0, 4.5, 10.0, 0.0, -5.0])  # no zone asks for heat (cold chain above setpoint)
COLD_C = np.array([15.0, 0.0, 3.0, -12.0, -25.0])    # every zone below its band: 5 x 150 W asked


class FakeHal:
    """The two device records the thermal app uses."""

    def __init__(self):
        self.devices = {n: devices.new_record(n) for n in ("DEV_THERMISTORS", "ACT_HEATERS")}

    def sensor(self, name):
        return self.devices[name]

    def actuator(self, name):
        return self.devices[name]


class FakeDispatcher:
    def __init__(self):
        self.handlers = {}

    def register(self, command, handler):
        self.handlers[command] = handler


def _app(events, path=THERMAL_TOML, commanding=None):
    hal = FakeHal()
    app = tapp.ThermalControl("thermal", Bus(), events, hal, path, PERIOD_S, commanding=commanding)
    app.start()
    return app, hal


def _sample(hal, t_ns, zone_C, valid_mask=ALL_VALID, backup_C=None):
    rec = hal.devices["DEV_THERMISTORS"]
    therm = np.repeat(np.asarray(zone_C, float), 2)
    if backup_C is not None:
        therm[1::2] = backup_C
    rec["temp_C"] = therm
    rec["valid_mask"] = valid_mask
    rec["t_ns"] = t_ns
    rec["seq"] += 1


def _run(app, hal, zone_C, seconds, t0_s=0):
    for k in range(seconds):
        t = (t0_s + k) * S
        _sample(hal, t, zone_C)
        app.step(t)
    return (t0_s + seconds) * S


def _duty(hal):
    return hal.devices["ACT_HEATERS"]["duty"].astype(float)


def test_thermostat_zone_below_on_threshold_drives_its_primary_heater_slot(events):
    app, hal = _app(events)
    temps = IN_BAND_C.copy()
    temps[0] = 19.9  # cabin: on at 21 - 1 = 20 C
    _run(app, hal, temps, 1)
    expected = np.zeros(10)
    expected[0] = 1.0
    np.testing.assert_array_equal(_duty(hal), expected)
    assert app.out["heater_on"].tolist() == [1, 0, 0, 0, 0]


def test_zone_inside_dead_band_keeps_its_heater_off(events):
    app, hal = _app(events)
    _run(app, hal, IN_BAND_C, 3)
    assert not _duty(hal).any()


def test_all_zones_cold_total_power_stays_at_the_limit(events):
    app, hal = _app(events)
    _run(app, hal, COLD_C, 1)
    heater_W = _duty(hal).sum() * 150.0
    assert heater_W == pytest.approx(600.0) and app.out["power_W"] == pytest.approx(600.0)


def test_all_zones_cold_sheds_the_lowest_priority_zone_and_reports_it(events):
    app, hal = _app(events)
    _run(app, hal, COLD_C, 1)
    assert app.out["shed_mask"] == 1 << 4  # payload deck has priority 4 (served last)
    assert _duty(hal)[8] == 0.0
    shed_events = [e for e in events.emitted if e[0] == "SHED_CHANGED"]
    assert len(shed_events) == 1 and shed_events[0][1] == "WARNING" and shed_events[0][4][0] == 16.0


def test_shedding_event_is_issued_on_change_only(events):
    app, hal = _app(events)
    t = _run(app, hal, COLD_C, 5)
    _run(app, hal, IN_BAND_C, 5, t0_s=t // S)
    shed = [e for e in events.emitted if e[0] == "SHED_CHANGED"]
    assert [e[1] for e in shed] == ["WARNING", "INFO"]


def test_switch_heater_moves_the_duty_to_the_backup_slot(events):
    app, hal = _app(events)
    temps = IN_BAND_C.copy()
    temps[2] = 7.0  # propellant lines: on at 8 C
    app.switch_heater(2, 1, 0)
    _run(app, hal, temps, 1)
    duty = _duty(hal)
    assert duty[4] == 0.0 and duty[5] == 1.0
    assert app.out["unit"][2] == 1


def test_switch_unit_heater_selects_the_backup_heater(events):
    app, hal = _app(events)
    app.switch_unit("HEATER", 0, 0)
    assert app.unit.tolist() == [1, 0, 0, 0, 0]


def test_switch_thermistor_controls_the_zone_from_its_backup_reading(events):
    app, hal = _app(events)
    app.switch_thermistor(0, 0)
    temps = IN_BAND_C.copy()
    _sample(hal, 0, temps, backup_C=np.array([19.0, 4.5, 10.0, 0.0, -5.0]))  # primary 21 C, backup 19 C
    app.step(0)
    assert app.out["temp_C"][0] == pytest.approx(19.0) and _duty(hal)[0] == 1.0


def test_select_heater_command_switches_the_unit(events):
    disp = FakeDispatcher()
    app, hal = _app(events, commanding=disp)
    disp.handlers["SELECT_HEATER"]({"zone": 3, "unit": 1}, 0)
    assert app.unit[3] == 1


def test_set_heater_setpoint_command_changes_the_published_setpoint(events):
    disp = FakeDispatcher()
    app, hal = _app(events, commanding=disp)
    disp.handlers["SET_HEATER_SETPOINT"]({"zone": 0, "setpoint_C": 22.5}, 0)
    _run(app, hal, IN_BAND_C, 1)
    assert app.out["setpoint_C"][0] == pytest.approx(22.5)


def test_set_heater_setpoint_command_rejects_a_band_outside_the_zone_limits(events):
    disp = FakeDispatcher()
    _app(events, commanding=disp)
    with pytest.raises(CommandRejected) as exc:
        disp.handlers["SET_HEATER_SETPOINT"]({"zone": 0, "setpoint_C": 26.5}, 0)  # 26.5 + 1 > 27
    assert exc.value.reason == "ARG_OUT_OF_RANGE"


def test_limit_violation_events_on_entry_and_recovery_only(events):
    app, hal = _app(events)
    cold_cabin = IN_BAND_C.copy()
    cold_cabin[0] = 17.0
    t = _run(app, hal, cold_cabin, 30)
    _run(app, hal, IN_BAND_C, 30, t0_s=t // S)
    ids = [e[0] for e in events.emitted if e[0] in ("LIMIT_VIOLATION", "LIMIT_RECOVERED")]
    assert ids == ["LIMIT_VIOLATION", "LIMIT_RECOVERED"]


def test_limit_violation_needs_the_persistence_before_an_event(events):
    app, hal = _app(events)
    cold_cabin = IN_BAND_C.copy()
    cold_cabin[0] = 17.0
    _run(app, hal, cold_cabin, int(app.prm[0]["persistence"]) - 1)
    assert not [e for e in events.emitted if e[0] == "LIMIT_VIOLATION"]


def test_published_rate_follows_a_falling_zone(events):
    app, hal = _app(events)
    for k in range(200):
        temps = IN_BAND_C.copy()
        temps[3] = 1.5 - 0.01 * k  # avionics falling at 0.01 C/s
        _sample(hal, k * S, temps)
        app.step(k * S)
    assert app.out["dTdt_C_s"][3] == pytest.approx(-0.01, rel=0.01)


def test_heater_check_measures_the_fall_since_full_duty(events):
    app, hal = _app(events)
    for k in range(600):
        temps = IN_BAND_C.copy()
        temps[0] = 19.9 - 0.002 * k  # cabin heater on from the first step, zone keeps falling
        _sample(hal, k * S, temps)
        app.step(k * S)
    # 1.2 C fall less the 30 s filter lag at 0.002 C/s (0.06 C)
    assert app.check["fall_C"][0] == pytest.approx(1.2 - 0.06, abs=0.01)
    assert app.check["full_s"][0] == pytest.approx(599.0)


def test_heater_check_reads_zero_for_a_zone_warming_at_full_duty(events):
    app, hal = _app(events)
    for k in range(600):
        temps = IN_BAND_C.copy()
        temps[0] = 15.0 + 0.002 * k
        _sample(hal, k * S, temps)
        app.step(k * S)
    assert app.check["fall_C"][0] == 0.0 and app.check["full_s"][0] > 0.0


def test_summary_gives_extremes_limits_and_heater_energy(events):
    app, hal = _app(events)
    temps = IN_BAND_C.copy()
    temps[0] = 19.5
    t = _run(app, hal, temps, 10)  # cabin heater on 10 s at 150 W
    app.switch_heater(0, 1, t)
    _run(app, hal, IN_BAND_C, 1, t0_s=t // S)  # 21 C is inside the dead band: the backup stays on 1 s
    s = app.summary()
    cabin = s["zones"][0]
    assert (cabin["name"], cabin["min_C"], cabin["max_C"]) == ("cabin_cargo", 19.5, 21.0)
    assert (cabin["limit_lo_C"], cabin["limit_hi_C"], cabin["within_limits"]) == (18.0, 27.0, True)
    assert cabin["heater_energy_J"] == {"primary": pytest.approx(1500.0), "backup": pytest.approx(150.0)}
    assert s["power_limit_W"] == 600.0 and s["max_power_W"] == pytest.approx(150.0)
    assert cabin["active_unit"] == 1


def test_summary_marks_a_zone_that_left_its_limits(events):
    app, hal = _app(events)
    temps = IN_BAND_C.copy()
    temps[2] = 4.0  # propellant lines below 5 C
    _run(app, hal, temps, 1)
    assert [z["within_limits"] for z in app.summary()["zones"]] == [True, True, False, True, True]


def test_config_without_five_zones_fails_naming_the_file(events, tmp_path):
    text = THERMAL_TOML.read_text()
    bad = tmp_path / "thermal.toml"
    bad.write_text(text[: text.rindex("[[zone]]")])
    with pytest.raises(ConfigError, match="thermal.toml.*5 \\[\\[zone\\]\\]"):
        _app(events, path=bad)


def test_config_with_a_missing_zone_key_fails_naming_zone_and_key(events, tmp_path):
    bad = tmp_path / "thermal.toml"
    bad.write_text(THERMAL_TOML.read_text().replace("full_duty = 0.3", "", 1))
    with pytest.raises(ConfigError, match="zone #1.*full_duty"):
        _app(events, path=bad)

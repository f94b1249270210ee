"""The topology wires every app at start-up and refuses bad wiring with a message naming the cause."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fsw.app import ConfigError
from fsw.executive.clock import SimClock
from fsw.executive.schedule import ScheduleError
from fsw.topology import CONFIG_DIR, build_flight, load_flight_config
from hal.sim import SimBackend
from sims.runner import flight_overrides
from sims.scenario import load_scenario
from sims.truth import Truth


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("final_approach")


def build(sc, overrides=None, config_dir=CONFIG_DIR):
    truth = Truth(sc)
    return build_flight(SimBackend(truth), SimClock(sc.minor_frame_ns), lambda packet: None,
                        overrides=flight_overrides(sc) if overrides is None else overrides, config_dir=config_dir)


def test_every_schedule_row_runs_an_app(scenario):
    flight = build(scenario)
    rows = [row["task"] for row in load_flight_config()["schedule"]]
    assert set(rows) <= set(flight.apps)
    assert list(flight.executive.stats_by_task) == rows


def test_missing_station_state_vector_is_refused_by_name(scenario):
    overrides = flight_overrides(scenario)
    del overrides["station_rv_N"]
    with pytest.raises(ConfigError, match="station_rv_N"):
        build(scenario, overrides)


def test_the_uplinked_loaded_mass_is_the_mass_thruster_control_flies_with(scenario):
    flight = build(scenario, flight_overrides(scenario) | {"mass_kg": 4321.0})
    assert flight.apps["thruster_control"].mass_kg == 4321.0


def test_the_manifest_error_of_a_scenario_reaches_the_uplinked_mass():
    sc = load_scenario("final_approach", overrides={"vehicle": {"mass": {"manifest_error_kg": -30.0}}})
    m = sc.vehicle["mass"]
    assert flight_overrides(sc)["mass_kg"] == m["dry_kg"] + m["cargo_kg"] + m["propellant_kg"] - 30.0


@pytest.mark.parametrize("mass", [0.0, -5.0, float("nan"), "heavy", 1e6])
def test_a_meaningless_uplinked_mass_is_refused_by_name(scenario, mass):
    with pytest.raises(ConfigError, match="mass_kg"):
        build(scenario, flight_overrides(scenario) | {"mass_kg": mass})


def test_unknown_flight_key_in_a_scenario_is_refused_by_name(scenario):
    overrides = flight_overrides(scenario) | {"warp_drive": True}
    with pytest.raises(ConfigError, match="warp_drive"):
        build(scenario, overrides)


def test_schedule_row_without_an_app_is_refused_naming_the_task(scenario, tmp_path):
    config = Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))
    flight_toml = config / "flight.toml"
    flight_toml.write_text(flight_toml.read_text() + '\n[[schedule]]\ntask = "teleport"\nrate_hz = 1\n'
                                                    'offset = 0\nbudget_us = 10\n')
    with pytest.raises(ScheduleError, match="teleport"):
        build(scenario, config_dir=config)


def test_an_app_without_a_schedule_row_is_refused_naming_it(scenario, tmp_path):
    config = Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))
    flight_toml = config / "flight.toml"
    text = flight_toml.read_text()
    row = text.index('task = "docking"')
    start = text.rindex("[[schedule]]", 0, row)
    end = text.index("[[schedule]]", row)
    flight_toml.write_text(text[:start] + text[end:])
    with pytest.raises(ConfigError, match="docking"):
        build(scenario, config_dir=config)


def test_hal_device_records_are_the_records_on_the_bus(scenario):
    truth = Truth(scenario)
    hal = SimBackend(truth)
    flight = build_flight(hal, SimClock(scenario.minor_frame_ns), lambda packet: None,
                          overrides=flight_overrides(scenario))
    assert flight.bus.get("DEV_GYRO", "test") is truth.devices["DEV_GYRO"]
    assert flight.bus.get("ACT_THRUSTERS", "test") is truth.devices["ACT_THRUSTERS"]

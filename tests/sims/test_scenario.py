"""Scenario loading and validation: shipped files, agreement with the flight table, clear refusals."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sims.scenario import ScenarioError, list_scenarios, load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_all_shipped_scenarios_load():
    names = list_scenarios()
    assert {"nominal", "fast_rendezvous", "far_approach", "final_approach", "thermal_hot", "thermal_cold"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name and sc.duration_s > 0


def test_nominal_starts_at_the_5km_hold_in_homing():
    sc = load_scenario("nominal")
    port_to_port = -sc.chaser.r_LVLH_m[1] - sc.vehicle.geometry.docking_port_B_m[0]
    assert port_to_port == 5000.0
    assert sc.flight == {"initial_mode": "HOMING", "start_hold": 0}


def test_truth_vehicle_table_equals_flight_vehicle_table():
    flight = tomllib.loads((ROOT / "fsw/config/vehicle.toml").read_text())
    truth = tomllib.loads((ROOT / "sims/scenarios/_vehicle.toml").read_text())
    assert truth["propulsion"]["thrusters"] == flight["propulsion"]["thrusters"]
    for section, keys in flight.items():
        for key, value in keys.items():
            assert truth[section][key] == value, f"{section}.{key}"


def write(tmp_path, text, name="case.toml"):
    path = tmp_path / name
    path.write_text(f'base = "{ROOT}/sims/scenarios/_defaults.toml"\nname = "case"\n' + text)
    return path


@pytest.mark.parametrize("text, key, expected", [
    ("[chaser]\nspeed = 3\n", "chaser.speed", "unknown key"),
    ("[chaser]\nr_LVLH_m = [0, -500]\n", "chaser.r_LVLH_m", "a list of 3 numbers"),
    ("[station]\naltitude_m = \"high\"\n", "station.altitude_m", "a number > 0"),
    ("[vehicle.mass]\ndry_kg = -100.0\n", "vehicle.mass.dry_kg", "a number > 0"),
    ("[sensors.lidar]\nnoise_range_m = -0.02\n", "sensors.lidar.noise_range_m", "a number >= 0"),
    ("[sensors.gyro]\ndropout_prob = 1.5\n", "sensors.gyro.dropout_prob", "<= 1.0"),
    ("[thermal]\nshadow = \"round\"\n", "thermal.shadow", "one of ['cylindrical', 'conical']"),
    ("[[faults]]\nkind = \"sensor_dropout\"\ntarget = \"DEV_RADAR\"\nstart_s = 1.0\nduration_s = 2.0\n",
     "faults[0].target", "a sensor device name"),
    ("[[faults]]\nkind = \"thruster_stuck_on\"\ntarget = \"T99\"\nstart_s = 1.0\nduration_s = 2.0\n",
     "faults[0].target", "a thruster name"),
    ("[[faults]]\nkind = \"sensor_bias\"\ntarget = \"DEV_GYRO\"\nstart_s = 1.0\nduration_s = 2.0\nvalue = [1, 2]\n",
     "faults[0].value", "a list of 3 numbers"),
    ("[[faults]]\nkind = \"melt\"\ntarget = \"x\"\nstart_s = 1.0\nduration_s = 2.0\n", "faults[0].kind", "one of"),
    ("[[commands]]\nname = \"ABORT\"\n", "commands[0].time_s", "missing required key"),
    ("[sensors.gyro]\nrate_hz = 30.0\n", "sensors.gyro.rate_hz", "whole number"),
    ("[sensors.lidar]\nlatency_s = 0.205\n", "sensors.lidar.latency_s", "whole number of 10000000 ns minor frames"),
    ("[sensors.camera]\nmin_range_m = 300.0\n", "sensors.camera.min_range_m", "min_range_m < max_range_m"),
    ("[sensors.star_tracker]\nboresight_B = [0.0, 0.0, 2.0]\n", "sensors.star_tracker.boresight_B", "norm 1"),
    ("[sensors.lidar]\nburst_start_prob = 2.0\n", "sensors.lidar.burst_start_prob", "<= 1.0"),
    ("[sensors]\nideal = 1\n", "sensors.ideal", "true or false"),
])
def test_bad_input_names_file_key_and_expectation(tmp_path, text, key, expected):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert str(path) in msg and f": {key}: " in msg and expected in msg, msg


def test_start_inside_the_station_is_refused_with_the_reason(tmp_path):
    path = write(tmp_path, "[chaser]\nr_LVLH_m = [0.0, 5.0, 0.0]\n")
    with pytest.raises(ScenarioError, match="starts inside the station"):
        load_scenario(path)


def test_error_in_a_base_file_names_that_file(tmp_path):
    base = write(tmp_path, "[chaser]\nr_LVLH_m = [0.0, -500.0]\n", name="base.toml")
    child = tmp_path / "child.toml"
    child.write_text(f'base = "{base}"\nname = "child"\n')
    with pytest.raises(ScenarioError, match=str(base).replace(".", r"\.")):
        load_scenario(child)


def test_missing_scenario_lists_the_shipped_ones():
    with pytest.raises(ScenarioError, match="nominal"):
        load_scenario("no_such_scenario")


def test_unstable_thermal_substep_is_refused():
    with pytest.raises(ScenarioError, match="stability"):
        load_scenario("nominal", overrides={"thermal": {"rate_hz": 0.01, "substeps": 1},
                                          "sensors": {"thermistors": {"rate_hz": 0.01}}})


def test_dispersions_of_final_approach_are_validated():
    sc = load_scenario("final_approach")
    assert sc.dispersions.initial_position.path == "chaser.r_LVLH_m"
    with pytest.raises(ScenarioError, match="dispersions.bad.path"):
        load_scenario("final_approach", overrides={"dispersions": {"bad": {"path": "chaser.nothing",
                                                                            "kind": "normal", "sigma": 1.0}}})


def test_scenario_is_read_only_and_passes_flight_and_faults_through():
    faults = [{"kind": "task_overrun", "target": "guidance", "start_s": 10.0, "duration_s": 5.0, "value": 2.0}]
    sc = load_scenario("final_approach", overrides={"faults": faults})
    assert sc.faults[0].kind == "task_overrun" and sc.faults[0]["target"] == "guidance"
    with pytest.raises(AttributeError):
        sc.chaser.r_LVLH_m = (0, 0, 0)

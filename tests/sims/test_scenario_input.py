"""Which file a scenario argument means, commands checked at load, physically meaningless vehicles and starts."""

from __future__ import annotations

import pytest

from sims.scenario import ScenarioError, command_packet, load_scenario, resolve_scenario
from telemetry.codec import parse_command


def test_a_path_means_that_file_even_when_a_shipped_scenario_has_its_name(tmp_path, monkeypatch):
    own = tmp_path / "nominal.toml"
    own.write_text('base = "final_approach"\nname = "my_nominal"\nduration_s = 12.0\n')
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario("nominal.toml") == own
    assert load_scenario("nominal.toml").name == "my_nominal"
    assert load_scenario("nominal").name == "nominal"  # a bare name is the shipped one


def test_a_missing_path_is_refused_and_not_replaced_by_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match=r"nominal\.toml: no such scenario file .*--scenario nominal"):
        load_scenario("nominal.toml")


def test_a_folder_is_refused_as_a_scenario(tmp_path):
    with pytest.raises(ScenarioError, match="is a folder"):
        load_scenario(str(tmp_path))


def test_base_names_a_shipped_scenario_from_any_folder(tmp_path):
    path = tmp_path / "deep" / "mine.toml"
    path.parent.mkdir()
    path.write_text('base = "final_approach"\nname = "mine"\nseed = 7\n')
    sc = load_scenario(path)
    assert sc.name == "mine" and sc.seed == 7 and sc.dispersions  # final_approach's tables came along


def test_base_prefers_a_sibling_file(tmp_path):
    (tmp_path / "final_approach.toml").write_text('base = "_defaults"\nname = "sibling"\n')
    child = tmp_path / "child.toml"
    child.write_text('base = "final_approach"\nname = "child"\n')
    assert load_scenario(child).description == "common defaults"


def test_unknown_base_names_the_file_and_the_places_looked(tmp_path):
    child = tmp_path / "child.toml"
    child.write_text('base = "no_such_base"\nname = "child"\n')
    with pytest.raises(ScenarioError, match=r"child\.toml: base: no scenario 'no_such_base'"):
        load_scenario(child)


def test_binary_file_is_refused_as_not_text(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScenarioError, match="not a text file"):
        load_scenario(path)


@pytest.mark.parametrize(("commands", "key", "reason"), [
    ([{"time_s": 1.0, "name": "SET_MODE", "args": {"mode": 12}}], "commands[0].args.mode", "not in [0, 9]"),
    ([{"time_s": 1.0, "name": "SET_MODE", "args": {"mode": "DOCKED"}}], "commands[0].args.mode", "integer"),
    ([{"time_s": 1.0, "name": "SET_MODE"}], "commands[0].args.mode", "argument missing"),
    ([{"time_s": 1.0, "name": "NOOP", "args": {"x": 1}}], "commands[0].args.x", "not an argument"),
    ([{"time_s": 1.0, "name": "SELECT_HEATER", "args": {"zone": 0.5, "unit": 0}}], "commands[0].args.zone",
     "integer"),
    ([{"time_s": 1.0, "name": "ABORT"}], "commands[0].name", "needs an ARM with target_fc = 7"),
    ([{"time_s": 1.0, "name": "ARM", "args": {"target_fc": 7}}, {"time_s": 30.0, "name": "ABORT"}],
     "commands[1].time_s", "arm window is 10 s"),
    ([{"time_s": 1.0, "name": "ARM", "args": {"target_fc": 3}}], "commands[0].args.target_fc", "hazardous"),
    ([{"time_s": 1.0, "name": "TIME_TAG", "args": {}}], "commands[0].name", "exec_time_s"),
    ([{"time_s": 5.0, "name": "NOOP", "exec_time_s": 2.0}], "commands[0].exec_time_s", "between the uplink"),
    ([{"time_s": 5.0, "name": "NOOP", "exec_time_s": 1e9}], "commands[0].exec_time_s", "between the uplink"),
    ([{"time_s": 1e9, "name": "NOOP"}], "commands[0].time_s", "within the run"),
])
def test_bad_command_is_refused_at_load_with_its_key(commands, key, reason):
    with pytest.raises(ScenarioError) as err:
        load_scenario("final_approach", overrides={"commands": commands})
    msg = str(err.value)
    assert f": {key}: " in msg and reason in msg, msg


def test_bad_command_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "cmd.toml"
    path.write_text('base = "final_approach"\nname = "cmd"\n\n[[commands]]\ntime_s = 1.0\nname = "SET_MODE"\n'
                    'args = { mode = 99 }\n')
    with pytest.raises(ScenarioError, match=rf"{path}: commands\[0\]\.args\.mode: "):
        load_scenario(path)


def test_time_tagged_command_goes_up_as_time_tag_enclosing_it():
    sc = load_scenario("final_approach", overrides={"commands": [
        {"time_s": 1.0, "name": "ARM", "args": {"target_fc": 7}},
        {"time_s": 1.0, "name": "ABORT", "exec_time_s": 5.0}]})
    outer = parse_command(command_packet(sc.commands[1], 3))
    assert outer.command.name == "TIME_TAG" and outer.args["exec_time_s"] == 5.0
    inner = parse_command(bytes(outer.args["packet"][:outer.args["packet_len"]]))
    assert inner.command.name == "ABORT"


def test_inertia_breaking_the_triangle_inequality_is_refused():
    with pytest.raises(ScenarioError, match=r"vehicle\.mass\.inertia_kg_m2: refused: .*triangle inequality"):
        load_scenario("final_approach", overrides={"vehicle": {"mass": {"inertia_kg_m2": [50000.0, 20000.0,
                                                                                          20000.0]}}})


@pytest.mark.parametrize(("chaser", "key", "reason"), [
    ({"r_LVLH_m": [0.0, -500e3, 0.0]}, "chaser.r_LVLH_m", "outside the rendezvous region"),
    ({"v_LVLH_mps": [0.0, 7000.0, 0.0]}, "chaser.v_LVLH_mps", "another orbit"),
])
def test_start_far_outside_the_rendezvous_region_is_refused(chaser, key, reason):
    with pytest.raises(ScenarioError, match=rf": {key}: refused: .*{reason}"):
        load_scenario("final_approach", overrides={"chaser": chaser})


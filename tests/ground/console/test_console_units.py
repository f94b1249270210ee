"""The console's parts without a browser or a flight: limits from the flight configuration, the ground state built
from packets, the schema the page is generated from, and ``qz console``'s refusals of bad options (exit 2, one line).
"""

from __future__ import annotations

import math
import os
import socket

import pytest
from console_fakes import values_of

from ground.cli import main
from ground.console import limits as lim
from ground.console.config import ConfigError, load_flight_config
from ground.console.state import DOWNLINK, GroundState, schema
from telemetry.codec import tm_codec
from telemetry.dictionary import COMMANDS, MODES, TELEMETRY

CFG = load_flight_config()
MODE = {name: code for code, name in MODES.items()}


def packet(name: str, t_s: float, seq: int = 0, **fields) -> bytes:
    return tm_codec(name).pack(seq, int(round(t_s * 1e9)), values_of(name, **fields))


# ---------------------------------------------------------------------------------------------- limits


def test_thermal_zone_red_limits_are_those_of_thermal_toml():
    lims = lim.Limits(CFG).for_packet("THERMAL_ZONES", {"temp_C": [21.0] * 5, "power_limit_W": 600.0,
                                                       "setpoint_C": [21.0, 4.0, 10.0, 0.0, -5.0]}, None)
    cabin = CFG.zones[0]
    assert (lims["temp_C"][0].red_lo, lims["temp_C"][0].red_hi) == (cabin.limit_lo_C, cabin.limit_hi_C)
    assert lims["temp_C"][0].state(cabin.limit_hi_C + 0.1) == lim.RED
    assert lims["temp_C"][0].state(21.0) == lim.OK


def test_thermal_yellow_is_halfway_from_the_setpoint_to_the_lower_limit():
    lims = lim.Limits(CFG).for_packet("THERMAL_ZONES", {"temp_C": [0.0] * 5, "setpoint_C": [21.0, 4.0, 10.0, 0.0, -5.0],
                                                       "power_limit_W": 600.0}, None)
    cabin = lims["temp_C"][0]
    assert cabin.yellow_lo == pytest.approx(21.0 + 0.5 * (CFG.zones[0].limit_lo_C - 21.0))
    assert cabin.state(cabin.yellow_lo - 0.01) == lim.YELLOW


def test_closing_rate_limit_follows_the_speed_profile_in_closing_modes_only():
    v = {"range_m": 100.0, "corridor_angle_deg": 0.0, "range_rate_mps": -0.1, "lateral_m": 0.0, "in_kos": 1}
    limits = lim.Limits(CFG)
    profile = float(lim.profile_speed(CFG, 100.0))
    abort = CFG.closing_rate_factor * profile + CFG.closing_rate_margin_mps
    closing = limits.for_packet("DOCKING_MONITOR", v, "CLOSING")["range_rate_mps"]
    assert closing.red_lo == pytest.approx(-abort)
    assert closing.state(-abort - 0.001) == lim.RED and closing.state(-profile) == lim.OK
    assert "range_rate_mps" not in limits.for_packet("DOCKING_MONITOR", v, "HOLD")


def test_speed_profile_interpolates_the_gnc_table_as_the_flight_does():
    r, s = CFG.profile_range_m, CFG.profile_speed_mps
    mid = 0.5 * (r[-2] + r[-1])
    assert lim.profile_speed(CFG, mid) == pytest.approx(0.5 * (s[-2] + s[-1]))
    assert lim.profile_speed(CFG, 1e6) == s[-1] and lim.profile_speed(CFG, -5.0) == s[0]


def test_corridor_radius_has_its_floor_near_the_port():
    assert lim.corridor_radius_m(CFG, 0.0) == CFG.corridor_min_radius_m
    tan = math.tan(math.radians(CFG.corridor_half_angle_deg))
    assert lim.corridor_radius_m(CFG, 100.0) == pytest.approx(100.0 * tan)


def test_counters_of_faults_are_yellow_above_zero():
    assert lim.NONZERO_YELLOW.state(0) == lim.OK and lim.NONZERO_YELLOW.state(1) == lim.YELLOW


def test_a_task_p99_over_its_budget_is_red():
    lims = lim.Limits(CFG).for_packet("EXEC_TASK_TIMING", {"budget_us": 500.0}, None)
    assert lims["p99_us"].state(501.0) == lim.RED and lims["p99_us"].state(260.0) == lim.YELLOW


# ---------------------------------------------------------------------------------------------- ground state


def test_state_names_the_mode_and_derives_the_approach_overview():
    st = GroundState(CFG)
    st.ingest(packet("HK_STATUS", 1.0, mode=MODE["CLOSING"], armed_fc=255), 0.0)
    msg = st.ingest(packet("DOCKING_MONITOR", 1.0, range_m=100.0, range_rate_mps=-0.5, lateral_m=1.0), 0.0)[0]
    assert st.overview["mode"]["mode"] == "CLOSING"
    ov = msg["ov"]
    assert ov["sec"] == "approach" and ov["closing_mps"] == pytest.approx(0.5)
    assert ov["closing_monitored"] and ov["closing_state"] == lim.RED  # 0.5 m/s at 100 m is above the abort line
    assert msg["lim"]["range_rate_mps"][0] == lim.RED


def test_task_timing_is_kept_per_task():
    st = GroundState(CFG)
    for task_id, name in enumerate(("ground_link", "navigation")):
        st.ingest(packet("EXEC_TASK_TIMING", 10.0, task_id=task_id, task_name=name, budget_us=100.0, p99_us=1.0), 0.0)
    assert {"EXEC_TASK_TIMING[ground_link]", "EXEC_TASK_TIMING[navigation]"} <= set(st.latest)
    assert [r["name"] for r in st.overview["tasks"]["rows"].values()] == ["ground_link", "navigation"]


def test_events_carry_severity_and_source_names():
    st = GroundState(CFG)
    st.ingest(packet("EVENT", 2.0, event_id=600, severity=3, source_id=CFG.task_names.index("docking"),
                     text="abort"), 0.0)
    st.ingest(packet("EVENT", 2.0, event_id=1, severity=1, source_id=254, text="mode"), 0.0)
    assert [(e["sev"], e["src"], e["text"]) for e in st.events] == [("ERROR", "docking", "abort"),
                                                                    ("INFO", "modes", "mode")]
    assert st.events[0]["name"] == "TRIGGER"  # telemetry.dictionary.EVENTS: 600 TRIGGER


def test_a_nan_value_reaches_the_page_as_text_and_red():
    st = GroundState(CFG)
    msg = st.ingest(packet("NAV_STATE", 1.0, sigma_r_m=[float("nan"), 1.0, 1.0], valid=1), 0.0)[0]
    assert msg["v"]["sigma_r_m"][0] == "NaN"
    assert msg["lim"]["sigma_r_m"][0][0] == lim.RED


def test_history_keeps_the_last_minutes_of_mission_time():
    st = GroundState(CFG, history_s=10.0)
    for t in range(30):
        st.ingest(packet("PROPULSION", float(t), seq=t, prop_used_kg=float(t)), 0.0)
    h = st.history_of("PROPULSION")
    assert h["t"][0] == 19.0 and h["t"][-1] == 29.0 and h["v"]["prop_used_kg"][-1] == 29.0


def test_mission_time_going_back_is_a_new_run():
    st = GroundState(CFG)
    st.ingest(packet("PROPULSION", 100.0), 0.0)
    out = st.ingest(packet("PROPULSION", 1.0), 0.0)
    assert out[0]["k"] == "reset" and st.history_of("PROPULSION")["t"] == [1.0]


def test_an_undecodable_packet_is_counted_not_raised():
    st = GroundState(CFG)
    assert st.ingest(b"\x08\x10\x00", 0.0) == [] and st.undecodable == 1


def test_device_packets_are_not_telemetry_of_the_console():
    st = GroundState(CFG)
    dev = next(p for p in TELEMETRY if p.device)
    assert st.ingest(tm_codec(dev.name).pack(0, 0, values_of(dev.name)), 0.0) == []


def test_schema_lists_every_downlinked_packet_and_every_command():
    s = schema(CFG, "tcp://127.0.0.1:1", 60.0, False)
    assert [p["name"] for p in s["packets"]] == [p.name for p in DOWNLINK]
    assert [c["name"] for c in s["commands"]] == [c.name for c in COMMANDS]
    time_tag = next(c for c in s["commands"] if c["name"] == "TIME_TAG")
    assert time_tag["not_from_panel"]
    zone = next(c for c in s["commands"] if c["name"] == "SET_HEATER_SETPOINT")["args"][1]
    assert (zone["lo"], zone["hi"], zone["integer"]) == (-20.0, 40.0, False)


def test_config_folder_without_a_file_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="no flight.toml"):
        load_flight_config(tmp_path)


# ---------------------------------------------------------------------------------------------- qz console options


@pytest.fixture
def files(tmp_path):
    key = tmp_path / "keys"
    key.write_text("7 " + "ab" * 32 + "\n")
    os.chmod(key, 0o600)
    open_key = tmp_path / "open.keys"
    open_key.write_text("7 " + "ab" * 32 + "\n")
    os.chmod(open_key, 0o644)
    tok = tmp_path / "token"
    tok.write_text("correct horse battery\n")
    os.chmod(tok, 0o600)
    open_tok = tmp_path / "open.token"
    open_tok.write_text("correct horse battery\n")
    os.chmod(open_tok, 0o644)
    return tmp_path


LINK = "tcp://127.0.0.1:5010"
ROWS = [
    ("no-link", ["console"], "--link"),
    ("unknown-scheme", ["console", "--link", "pigeon://x"], "unknown scheme 'pigeon'"),
    ("link-port-text", ["console", "--link", "tcp://127.0.0.1:http"], "the port must be a number"),
    ("link-no-port", ["console", "--link", "tcp://127.0.0.1"], "expected HOST:PORT"),
    ("udp-without-listen", ["console", "--link", "udp://127.0.0.1:5010"], "needs --tm-listen"),
    ("listen-on-tcp", ["console", "--link", LINK, "--tm-listen", "127.0.0.1:6000"], "--tm-listen is for udp://"),
    ("http-not-host-port", ["console", "--link", LINK, "--http", "8080"], "--http '8080': expected HOST:PORT"),
    ("http-port-range", ["console", "--link", LINK, "--http", "127.0.0.1:70000"], "the port must be a number"),
    ("open-without-token", ["console", "--link", LINK, "--http", "0.0.0.0:8080"], "not a loopback address"),
    ("short-token", ["console", "--link", LINK, "--token", "abc"], "at least 8 characters"),
    ("token-file-missing", ["console", "--link", LINK, "--token-file", "{tmp}/nope"], "no such file"),
    ("token-file-open", ["console", "--link", LINK, "--token-file", "{tmp}/open.token"], "readable or writable by"),
    ("token-and-file", ["console", "--link", LINK, "--token", "abcdefghij", "--token-file", "{tmp}/token"],
     "not allowed with"),
    ("key-file-missing", ["console", "--link", LINK, "--key-file", "{tmp}/nokeys"], "no such file"),
    ("key-file-open", ["console", "--link", LINK, "--key-file", "{tmp}/open.keys"], "readable or writable by"),
    ("spi-not-in-file", ["console", "--link", LINK, "--key-file", "{tmp}/keys", "--spi", "9"], "--spi 9: not in"),
    ("spi-without-keys", ["console", "--link", LINK, "--spi", "7"], "--spi needs --key-file"),
    ("history-zero", ["console", "--link", LINK, "--history", "0"], "argument --history"),
    ("stale-nan", ["console", "--link", LINK, "--stale", "nan"], "argument --stale"),
    ("config-missing", ["console", "--link", LINK, "--flight-config", "{tmp}/nocfg"], "no such folder"),
]


@pytest.mark.parametrize("argv,needle", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_console_options_are_one_line_and_exit_2(argv, needle, files, capsys):
    argv = [a.replace("{tmp}", str(files)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err


def test_http_address_in_use_is_one_line_and_exit_2(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["console", "--link", LINK, "--http", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"qz console: error: --http 127.0.0.1:{port}: address in use"

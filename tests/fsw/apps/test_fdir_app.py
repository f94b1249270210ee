"""Fault protection app (fsw/apps/fdir.py): dispatch, enable command, wiring checks, closed loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fsw import fdir_engine as fe
from fsw.app import Bus, WiringError
from fsw.apps import fdir as fapp
from fsw.apps import thermal as tapp
from fsw.apps.commanding import CommandRejected
from fsw.messages import INTERNAL, dtype_of
from hal import devices
from telemetry.dictionary import TM_BY_NAME

CONFIG = Path(fapp.__file__).parents[1] / "config"
S = 1_000_000_000  # ns per second
FDIR_STEP_NS = S // 10  # FDIR at 10 Hz


def _tables(tmp_path, actionpoints, watchpoints=None):
    """A small FDIR table file watching NAV_STATE.valid."""
    wps = watchpoints or [dict(name="nav_bad", message="NAV_STATE", field="valid", op="eq", value=0,
                               persistence=1)]
    lines = []
    for kind, entries in (("watchpoint", wps), ("actionpoint", actionpoints)):
        for e in entries:
            lines.append(f"[[{kind}]]")
            lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in e.items()]
            lines.append("")
    path = tmp_path / "fdir.toml"
    path.write_text("\n".join(lines).replace("'", '"'))
    return path


def _ap(name, response, expression="nav_bad", severity="ERROR", max_fires=0):
    return dict(name=name, expression=expression, response=response, severity=severity, max_fires=max_fires)


class FakeDispatcher:
    def __init__(self):
        self.handlers = {}

    def register(self, command, handler):
        self.handlers[command] = handler


def _nav_bus():
    bus = Bus()
    nav = bus.publish("NAV_STATE", "nav")
    return bus, nav


def _nav_invalid(nav, t_ns):
    nav["valid"] = 0
    nav["t_ns"] = t_ns
    nav["seq"] += 1


def _started(bus, events, path, responders, commanding=None):
    app = fapp.FaultProtection("fdir", bus, events, path, responders, commanding=commanding)
    app.start()
    return app


def test_fired_response_is_dispatched_to_its_kind_responder(events, tmp_path):
    bus, nav = _nav_bus()
    got = []
    app = _started(bus, events, _tables(tmp_path, [_ap("nav_hold", "HOLD")]), {"HOLD": got.append})
    _nav_invalid(nav, S)
    app.step(S)
    assert [(r.actionpoint, r.kind, r.t_ns) for r in got] == [("nav_hold", "HOLD", S)]


def test_mode_response_carries_its_target_mode(events, tmp_path):
    bus, nav = _nav_bus()
    got = []
    app = _started(bus, events, _tables(tmp_path, [_ap("to_safe", "MODE:SAFE")]), {"MODE": got.append})
    _nav_invalid(nav, S)
    app.step(S)
    assert got[0].mode == "SAFE"


def test_every_response_issues_an_event_with_the_table_severity(events, tmp_path):
    bus, nav = _nav_bus()
    app = _started(bus, events, _tables(tmp_path, [_ap("nav_note", "EVENT", severity="WARNING")]), {})
    _nav_invalid(nav, S)
    app.step(S)
    assert [(e[0], e[1], e[3]) for e in events.emitted] == [("FDIR_RESPONSE", "WARNING", "nav_note")]


def test_responder_that_raises_is_counted_and_reported_and_fdir_keeps_running(events, tmp_path):
    bus, nav = _nav_bus()

    def broken(response):
        raise RuntimeError("guidance not ready")

    got = []
    path = _tables(tmp_path, [_ap("a", "CAM"), _ap("b", "HOLD")])
    app = _started(bus, events, path, {"CAM": broken, "HOLD": got.append})
    _nav_invalid(nav, S)
    app.step(S)
    failed = [e for e in events.emitted if e[0] == "FDIR_RESPONDER_FAILED"]
    assert app.responder_errors == 1 and len(failed) == 1 and "RuntimeError" in failed[0][3]
    assert [r.actionpoint for r in got] == ["b"]


def test_responder_refusal_is_counted_and_reported(events, tmp_path):
    bus, nav = _nav_bus()
    app = _started(bus, events, _tables(tmp_path, [_ap("a", "RETREAT")]),
                   {"RETREAT": lambda r: (False, "not allowed in STANDBY")})
    _nav_invalid(nav, S)
    app.step(S)
    refused = [e for e in events.emitted if e[0] == "FDIR_RESPONSE_REFUSED"]
    assert app.refused == 1 and "not allowed in STANDBY" in refused[0][3]


def test_fdir_enable_command_disables_an_actionpoint(events, tmp_path):
    bus, nav = _nav_bus()
    disp = FakeDispatcher()
    got = []
    app = _started(bus, events, _tables(tmp_path, [_ap("a", "HOLD")]), {"HOLD": got.append}, commanding=disp)
    disp.handlers["FDIR_ENABLE"]({"actionpoint": 0, "enable": 0}, 0)
    _nav_invalid(nav, S)
    app.step(S)
    assert got == [] and app.engine.ap_state(0) == fe.AP_DISABLED


def test_fdir_enable_command_re_arms_a_spent_actionpoint(events, tmp_path):
    bus, nav = _nav_bus()
    disp = FakeDispatcher()
    got = []
    app = _started(bus, events, _tables(tmp_path, [_ap("a", "HOLD", max_fires=1)]), {"HOLD": got.append},
                   commanding=disp)
    _nav_invalid(nav, S)
    app.step(S)
    disp.handlers["FDIR_ENABLE"]({"actionpoint": 0, "enable": 1}, 2 * S)
    app.step(2 * S)
    assert len(got) == 2


def test_fdir_enable_command_rejects_an_unknown_actionpoint(events, tmp_path):
    bus, _ = _nav_bus()
    disp = FakeDispatcher()
    _started(bus, events, _tables(tmp_path, [_ap("a", "HOLD")]), {"HOLD": print}, commanding=disp)
    with pytest.raises(CommandRejected) as exc:
        disp.handlers["FDIR_ENABLE"]({"actionpoint": 7, "enable": 1}, 0)
    assert exc.value.reason == "ARG_OUT_OF_RANGE"


def test_missing_responder_is_a_wiring_error_naming_actionpoint_and_kind(events, tmp_path):
    bus, _ = _nav_bus()
    app = fapp.FaultProtection("fdir", bus, events, _tables(tmp_path, [_ap("nav_cam", "CAM")]), {"HOLD": print})
    with pytest.raises(WiringError, match="fdir: actionpoint #0 'nav_cam'.*'CAM' responder"):
        app.start()


def test_responder_for_an_unknown_kind_is_a_wiring_error(events, tmp_path):
    bus, _ = _nav_bus()
    with pytest.raises(WiringError, match="CAMM"):
        fapp.FaultProtection("fdir", bus, events, _tables(tmp_path, [_ap("a", "HOLD")]), {"CAMM": print})


def test_watched_record_missing_from_the_bus_is_a_wiring_error(events, tmp_path):
    app = fapp.FaultProtection("fdir", Bus(), events, _tables(tmp_path, [_ap("a", "HOLD")]), {"HOLD": print})
    with pytest.raises(WiringError, match="fdir: .*NAV_STATE"):
        app.start()


# --- shipped tables, closed loop with the thermal app ----------------------------------------

class FakeHal:
    def __init__(self):
        self.devices = {n: devices.new_record(n) for n in ("DEV_THERMISTORS", "ACT_HEATERS")}

    def sensor(self, name):
        return self.devices[name]

    def actuator(self, name):
        return self.devices[name]


def _flight_bus(hal, thermal_publishes=("THERMAL_ZONES", "HEATER_CHECK")):
    """Every record the shipped tables read: the HAL's device records as they are (the topology
    must put them on the bus for FDIR), the others zeroed, except those the thermal app publishes."""
    real = {n: dtype_of(n) for n in (*TM_BY_NAME, *INTERNAL)}
    tables = fe.load_tables(CONFIG / "fdir.toml", real, include_pending=True)
    bus = Bus()
    for name, rec in hal.devices.items():
        bus.publish(name, "hal", rec)
    for name, dt in fe.extend_records(real, tables.pending).items():
        if name not in thermal_publishes and name not in bus:
            bus.publish(name, "others", np.zeros((), dt))
    return bus


def _responders(thermal, log):
    def record(kind):
        return lambda r: log.append((kind, r.actionpoint, r.t_ns))

    def switch(r):
        log.append(("SWITCH_UNIT", r.actionpoint, r.t_ns))
        thermal.switch_unit(r.device, r.zone, r.t_ns)

    return {**{k: record(k) for k in ("HOLD", "RETREAT", "CAM", "SAFE", "MODE", "RETRY")}, "SWITCH_UNIT": switch}


class ZonePlant:
    """Plain-numpy first-order zones: C dT/dt = G (T_env - T) + heater power that arrives."""

    C_J_K = np.array([1.0e5, 2.0e4, 5.0e3, 5.0e4, 1.0e5])   # [J/K]
    G_W_K = np.array([8.0, 3.0, 1.0, 2.0, 1.0])              # [W/K] to the environment
    T_ENV_C = np.array([8.0, 0.0, 0.0, -20.0, -30.0])        # [degC] heaters needed in every zone
    HEATER_W = 150.0
    NOISE_C, QUANTUM_C = 0.1, 0.05                           # docs/reference.md thermistors

    def __init__(self, start_C, seed):
        self.T_C = np.array(start_C, float)
        self.works = np.ones(10, bool)  # per heater: False = open circuit
        self.rng = np.random.default_rng(seed)

    def advance(self, duty, dt_s):
        heat_W = self.HEATER_W * (duty * self.works).reshape(-1, 2).sum(axis=1)
        self.T_C += dt_s * (self.G_W_K * (self.T_ENV_C - self.T_C) + heat_W) / self.C_J_K

    def sample(self, rec, t_ns):
        noisy = np.repeat(self.T_C, 2) + self.rng.normal(0.0, self.NOISE_C, 10)
        rec["temp_C"] = np.round(noisy / self.QUANTUM_C) * self.QUANTUM_C
        rec["valid_mask"] = 0x3FF
        rec["t_ns"] = t_ns
        rec["seq"] += 1


def _closed_loop(events, fail_at_s, end_s, seed=6, disabled=()):
    hal = FakeHal()
    bus = _flight_bus(hal)
    thermal = tapp.ThermalControl("thermal", bus, events, hal, CONFIG / "thermal.toml", 1.0)
    log = []
    fdir = fapp.FaultProtection("fdir", bus, events, CONFIG / "fdir.toml", _responders(thermal, log))
    thermal.start()
    fdir.start()
    for name in disabled:
        fdir.engine.set_enabled(name, False)
    plant = ZonePlant([21.0, 4.0, 10.0, 0.0, -5.0], seed)
    truth_min = np.full(5, np.inf)
    truth_max = np.full(5, -np.inf)
    switched_at = None
    for k in range(end_s):
        t = k * S
        if k == fail_at_s:
            plant.works[0] = False  # cabin primary heater open circuit
        plant.sample(hal.devices["DEV_THERMISTORS"], t)
        thermal.step(t)
        for j in range(10):
            fdir.step(t + j * FDIR_STEP_NS)
        plant.advance(hal.devices["ACT_HEATERS"]["duty"].astype(float), 1.0)
        np.minimum(truth_min, plant.T_C, out=truth_min)
        np.maximum(truth_max, plant.T_C, out=truth_max)
        if switched_at is None and thermal.unit[0] == 1:
            switched_at = k
    return dict(thermal=thermal, fdir=fdir, log=log, truth_min=truth_min, truth_max=truth_max,
                switched_at=switched_at)


class _Events:
    """Module-scoped stand-in for the conftest ``events`` fixture."""

    def __init__(self):
        self.emitted = []

    def emit(self, event_id, severity, source, text, args=(0.0, 0.0)):
        self.emitted.append((event_id, severity, source, text, tuple(args)))


@pytest.fixture(scope="module")
def open_circuit_run():
    """4 simulated hours at 1 Hz; the cabin primary heater opens at 2 h."""
    return _closed_loop(_Events(), fail_at_s=7200, end_s=14400)


def test_shipped_tables_start_against_the_flight_records_with_every_responder_wired(events):
    hal = FakeHal()
    bus = _flight_bus(hal)
    thermal = tapp.ThermalControl("thermal", bus, events, hal, CONFIG / "thermal.toml", 1.0)
    fdir = fapp.FaultProtection("fdir", bus, events, CONFIG / "fdir.toml", _responders(thermal, []))
    fdir.start()
    assert len(fdir.engine.ap_names) == len(fdir.engine.tables.actionpoints) > 0


def test_open_circuit_heater_is_switched_to_backup_only_after_the_fault(open_circuit_run):
    assert open_circuit_run["switched_at"] is not None and open_circuit_run["switched_at"] > 7200
    assert [e[:2] for e in open_circuit_run["log"]] == [("SWITCH_UNIT", "heater0_failed")]


def test_open_circuit_backup_heater_keeps_every_zone_within_its_limits(open_circuit_run):
    th = open_circuit_run["thermal"]
    assert np.all(open_circuit_run["truth_min"] >= th.limit_lo_C)
    assert np.all(open_circuit_run["truth_max"] <= th.limit_hi_C)


def test_open_circuit_backup_heater_carries_the_zone_after_the_switch(open_circuit_run):
    energy = open_circuit_run["thermal"].summary()["zones"][0]["heater_energy_J"]
    assert energy["backup"] > 0.0 and open_circuit_run["thermal"].summary()["zones"][0]["within_limits"]


def test_open_circuit_without_the_heater_actionpoint_takes_the_zone_out_of_limits():
    # The plant is a real test of the response: left alone, the cabin falls below 18 C in the run.
    run = _closed_loop(_Events(), fail_at_s=7200, end_s=14400, disabled=("heater0_failed",))
    assert run["switched_at"] is None and run["truth_min"][0] < run["thermal"].limit_lo_C[0]


def test_open_circuit_run_fires_no_zone_limit_actionpoint(open_circuit_run):
    fired = open_circuit_run["fdir"].summary()["fired"]
    assert not [name for name in fired if name.startswith("zone")]

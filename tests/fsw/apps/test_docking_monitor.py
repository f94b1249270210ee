"""The docking-approach monitor (fsw/apps/docking.py, kernel fsw/core/docking.py) on hand-made records.

Geometry from the shipped configuration: docking axis -y LVLH, KOS 200 m, corridor half angle
10 deg, abort above 1.5 x profile + 0.02 m/s, attitude error 5 deg, navigation invalid 10 s.
Each trigger is set up once just inside and once just outside its limit.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fsw.app import Bus
from fsw.apps.docking import DockingMonitor
from fsw.config_loader import read_toml
from fsw.messages import new_message
from telemetry.dictionary import ABORT_TRIGGERS, MODES

ROOT = Path(__file__).resolve().parents[3]
GNC_PATH = ROOT / "fsw" / "config" / "gnc.toml"
PORT_B = np.array([3.0, 0.0, 0.0])
NS = 1_000_000_000
CODE = {name: code for code, name in ABORT_TRIGGERS.items()}
MODE = {name: code for code, name in MODES.items()}


class FakeGuidance:
    def __init__(self):
        self.cams = []
        self.docked_at = []

    def cam(self, trigger, t_ns):
        self.cams.append((trigger, t_ns))

    def docked(self, t_ns):
        self.docked_at.append(t_ns)


class FakeHal:
    def __init__(self):
        self.mech = new_message("DEV_DOCK_MECH")

    def sensor(self, name):
        assert name == "DEV_DOCK_MECH"
        return self.mech


class Monitor:
    """The app with its inputs as plain records."""

    def __init__(self, events):
        self.bus = Bus()
        self.nav = self.bus.publish("NAV_STATE", "test")
        self.att = self.bus.publish("ATT_STATE", "test")
        self.mode = self.bus.publish("MODE", "test")
        self.hal = FakeHal()
        self.guidance = FakeGuidance()
        self.events = events
        self.app = DockingMonitor("docking", self.bus, events, self.hal, read_toml(GNC_PATH), GNC_PATH,
                                  self.guidance, PORT_B)
        self.app.start()
        self.out = self.bus.get("DOCKING_MONITOR", "test")
        self.mode["mode"] = MODE["CLOSING"]
        self.nav["valid"] = 1
        self.nav["sigma_v_mps"] = 0.001

    def place(self, axial_m, lateral_m=0.0, closing_mps=0.0):
        """Chaser port ``axial_m`` out along the docking axis (-y), ``lateral_m`` off it (+x), closing."""
        r_port = np.array([lateral_m, -axial_m, 0.0])
        self.nav["r_LVLH_m"] = r_port - self.app.port_L
        self.nav["v_LVLH_mps"] = [0.0, closing_mps, 0.0]

    def step(self, t_s=0.0, nav_fresh=True):
        if nav_fresh:  # navigation ran in this slot before the monitor, as scheduled
            self.nav["t_ns"] = int(t_s * NS)
        self.app.step(int(t_s * NS))
        return int(self.out["abort_trigger"])


@pytest.fixture
def mon(events):
    return Monitor(events)


def test_on_the_axis_at_profile_speed_nothing_triggers(mon):
    mon.place(150.0, closing_mps=0.2)
    assert mon.step() == CODE["NONE"]
    assert float(mon.out["range_m"]) == pytest.approx(150.0)
    assert float(mon.out["range_rate_mps"]) == pytest.approx(-0.2, rel=1e-6)
    assert int(mon.out["in_kos"]) == 1 and int(mon.out["in_corridor"]) == 1
    assert mon.guidance.cams == [] and int(mon.out["seq"]) == 1


def test_leaving_the_corridor_inside_the_kos_aborts_once_and_latches(mon):
    edge = 100.0 * math.tan(math.radians(10.0))
    mon.place(100.0, lateral_m=edge - 0.05)
    assert mon.step(0.0) == CODE["NONE"]
    mon.place(100.0, lateral_m=edge + 0.05)
    assert mon.step(0.1) == CODE["CORRIDOR"]
    assert mon.guidance.cams == [(CODE["CORRIDOR"], int(0.1 * NS))]
    mon.place(100.0)
    assert mon.step(0.2) == CODE["CORRIDOR"]  # latched in telemetry, no second CAM
    assert len(mon.guidance.cams) == 1
    assert [e for e in mon.events.emitted if e[1] == "CRITICAL"][0][3].startswith("abort trigger CORRIDOR")


def test_the_same_offset_outside_the_kos_is_no_corridor_violation(mon):
    mon.place(250.0, lateral_m=250.0 * math.tan(math.radians(12.0)))
    assert mon.step() == CODE["NONE"]
    assert int(mon.out["in_corridor"]) == 0 and int(mon.out["in_kos"]) == 0


def test_closing_too_fast_aborts_only_on_a_converged_velocity(mon):
    limit = 1.5 * 0.10 + 0.02  # profile 0.10 m/s inside 19 m
    mon.place(10.0, closing_mps=limit - 0.005)
    assert mon.step(0.0) == CODE["NONE"]
    mon.nav["sigma_v_mps"] = 0.05
    mon.place(10.0, closing_mps=limit + 0.005)
    assert mon.step(0.1) == CODE["NONE"]  # velocity not converged: not judged
    mon.nav["sigma_v_mps"] = 0.001
    assert mon.step(0.2) == CODE["CLOSING_RATE"]


def test_attitude_error_aborts_inside_the_kos_only(mon):
    mon.att["att_err_rad"] = [0.0, math.radians(5.1), 0.0]
    mon.place(250.0)
    assert mon.step(0.0) == CODE["NONE"]
    mon.att["att_err_rad"] = [0.0, math.radians(4.9), 0.0]
    mon.place(150.0)
    assert mon.step(0.1) == CODE["NONE"]
    mon.att["att_err_rad"] = [0.0, math.radians(5.1), 0.0]
    assert mon.step(0.2) == CODE["ATTITUDE_ERROR"]


def test_navigation_invalid_aborts_after_10_s_inside_the_approach_ellipsoid(mon):
    mon.place(300.0)
    mon.nav["valid"] = 0
    for k in range(101):
        assert mon.step(k * 0.1) == CODE["NONE"], k
    assert mon.step(10.1) == CODE["NAV_INVALID"]


def test_a_navigation_state_that_stopped_updating_counts_as_invalid(mon):
    """A navigation task that stopped (raised, was marked failed) leaves NAV_STATE valid but old."""
    mon.place(300.0)
    assert mon.step(0.0) == CODE["NONE"]
    for k in range(1, 107):  # valid flag still set, record no longer written
        assert mon.step(k * 0.1, nav_fresh=False) == CODE["NONE"], k
    # older than 0.5 s from 0.6 s on: invalid for more than 10 s at 10.7 s
    assert mon.step(10.7, nav_fresh=False) == CODE["NAV_INVALID"]


def test_navigation_invalid_outside_the_approach_ellipsoid_is_no_abort(mon):
    mon.place(2100.0)  # along-track semi-axis 2 km
    mon.nav["valid"] = 0
    for k in range(150):
        assert mon.step(k * 0.1) == CODE["NONE"], k
    assert int(mon.out["in_ellipsoid"]) == 0
    mon.place(1900.0)
    assert mon.step(15.0) == CODE["NAV_INVALID"]
    assert int(mon.out["in_ellipsoid"]) == 1


def test_no_trigger_outside_the_approach_modes(mon):
    mon.mode["mode"] = MODE["STANDBY"]
    mon.place(100.0, lateral_m=50.0)
    assert mon.step() == CODE["NONE"]


def test_capture_is_handed_to_guidance_and_contact_readiness_is_an_event_once(mon):
    mon.place(0.5, closing_mps=0.1)
    mon.step(0.0)
    mon.step(0.1)
    ready = [e for e in mon.events.emitted if e[3].startswith("contact ready")]
    assert len(ready) == 1 and int(mon.out["contact_ready"]) == 1
    assert mon.guidance.docked_at == []
    mon.hal.mech["captured"] = 1
    mon.step(0.2)
    assert mon.guidance.docked_at == [int(0.2 * NS)]

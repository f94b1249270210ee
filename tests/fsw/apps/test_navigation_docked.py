"""Navigation once docked (fsw/apps/navigation.py): the relative state is the docked geometry, held valid
without sensor data, until the vehicle leaves DOCKED."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fsw.app import Bus
from fsw.apps.navigation import RelativeNavigation
from fsw.config_loader import read_toml
from hal.devices import new_record
from telemetry.dictionary import MODES

GNC_PATH = Path(__file__).resolve().parents[3] / "fsw" / "config" / "gnc.toml"
STEP_NS = 100_000_000
PORT_B_M = [3.0, 0.0, 0.0]
CODE = {name: code for code, name in MODES.items()}


class Docked:
    """The navigation app on a bus of its own, fed no sensor data after a first camera fix."""

    def __init__(self, events):
        bus = Bus()
        att = bus.publish("ATT_STATE", "test")
        att["valid"], att["q_BN"] = 1, [1.0, 0.0, 0.0, 0.0]
        orbit = bus.publish("ORBIT_REF", "test")
        orbit["C_LVLH_N"], orbit["n_rad_s"] = np.eye(3), 1.1339e-3
        bus.publish("THRUSTER_PERIOD", "test")
        self.mode = bus.publish("MODE", "test")
        self.sensors = {n: new_record(n) for n in ("DEV_GNSS_REL", "DEV_GNSS_ABS", "DEV_LIDAR", "DEV_CAMERA")}
        hal = type("Hal", (), {"sensor": lambda _, name: self.sensors[name]})()
        self.app = RelativeNavigation("navigation", bus, events, hal, read_toml(GNC_PATH), GNC_PATH,
                                      port_B_m=PORT_B_M, mass_kg=5000.0)
        self.app.start()
        self.events = events
        self.t_ns = 0
        cam = self.sensors["DEV_CAMERA"]
        cam["r_B_m"], cam["valid"], cam["seq"] = [0.5, 0.0, 0.0], 1, 1
        self.mode["mode"] = CODE["FINAL_APPROACH"]
        self.run(1)
        assert self.app.initialised

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.t_ns += STEP_NS
            self.app.step(self.t_ns)

    def texts(self) -> list[str]:
        return [e[3] for e in self.events.emitted]


@pytest.fixture
def docked(events):
    return Docked(events)


def test_docked_navigation_publishes_the_port_geometry_valid_at_rest(docked):
    docked.mode["mode"] = CODE["DOCKED"]
    docked.run(600)  # a minute without a sensor sample: far beyond the validity timeout
    out = docked.app.out
    assert out["valid"] == 1 and out["t_ns"] == docked.t_ns
    # C_RL (gnc.toml): body +x along LVLH +y, so the port is 3 m along +y of the CoM
    np.testing.assert_allclose(out["r_LVLH_m"], [0.0, -3.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(out["v_LVLH_mps"], 0.0)
    assert "navigation invalid" not in docked.texts()
    assert docked.texts().count("docked: relative state held at the port geometry") == 1


def test_navigation_restarts_from_the_sensors_after_leaving_docked(docked):
    docked.mode["mode"] = CODE["DOCKED"]
    docked.run(10)
    docked.mode["mode"] = CODE["HOLD"]
    docked.run(1)
    assert not docked.app.initialised and docked.app.out["valid"] == 0

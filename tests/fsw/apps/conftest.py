from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fsw.app import Bus
from fsw.apps.navigation import RelativeNavigation
from fsw.config_loader import read_toml
from hal.devices import new_record

GNC_PATH = Path(__file__).resolve().parents[3] / "fsw" / "config" / "gnc.toml"


class RecordingEvents:
    """Stands in for the event service: keeps every emitted event."""

    def __init__(self):
        self.emitted = []
        self.issued = 0
        self.throttled = 0

    def emit(self, event_id, severity, source, text, args=(0.0, 0.0)):
        self.issued += 1
        self.emitted.append((event_id, severity, source, text, tuple(args)))

    def reset_counters(self):
        self.issued = self.throttled = 0


@pytest.fixture
def events():
    return RecordingEvents()


class NavigationBench:
    """The relative navigation app on a bus of its own, with the shipped gnc.toml (its [navigation] keys updated by
    ``navigation``), the records it reads published (the attitude valid and LVLH = inertial at the station's mean
    motion when ``attitude``) and a HAL whose sensor records are ``sensors``."""

    def __init__(self, events, port_B_m=(3.0, 0.0, 0.0), mass_kg=5000.0, attitude=False, **navigation):
        self.bus = Bus()
        self.rec = {n: self.bus.publish(n, "test") for n in ("ATT_STATE", "ORBIT_REF", "THRUSTER_PERIOD",
                                                             "ENGINE_PERIOD", "MODE")}
        if attitude:
            self.rec["ATT_STATE"]["valid"], self.rec["ATT_STATE"]["q_BN"] = 1, [1.0, 0.0, 0.0, 0.0]
            self.rec["ORBIT_REF"]["C_LVLH_N"], self.rec["ORBIT_REF"]["n_rad_s"] = np.eye(3), 1.1339e-3
        self.sensors = {n: new_record(n) for n in ("DEV_GNSS_REL", "DEV_GNSS_ABS", "DEV_LIDAR", "DEV_CAMERA")}
        gnc = read_toml(GNC_PATH)
        gnc["navigation"].update(navigation)
        self.app = RelativeNavigation("navigation", self.bus, events, self, gnc, GNC_PATH, port_B_m=list(port_B_m),
                                      mass_kg=mass_kg)

    def sensor(self, name):  # the HAL's
        return self.sensors[name]


@pytest.fixture
def navigation_bench(events):
    """A factory of NavigationBench on the test's recording events."""
    return lambda **kwargs: NavigationBench(events, **kwargs)

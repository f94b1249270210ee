"""The onboard station ephemeris (fsw/apps/orbit_ref.py) refined from the chaser's GNSS fix and relative navigation.

The station flies the flight's own two-body + J2 step (the refinement is under test, not the propagator); the
uplinked state is 300 m behind along track and 0.02 m/s off. The chaser's fix and the navigation's relative
state are exact, so what remains after ten time constants is the refinement's own error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fsw.app import Bus
from fsw.apps.orbit_ref import OrbitReference
from fsw.config_loader import read_toml
from fsw.core.ephemeris import ephemeris_step, lvlh_frame_j2
from fsw.core.navigation import SENSOR_GNSS, SENSOR_GNSS_ABS
from hal.devices import new_record

GNC_PATH = Path(__file__).resolve().parents[3] / "fsw" / "config" / "gnc.toml"
GNC = read_toml(GNC_PATH)
MU, RE, J2 = (GNC["earth"][k] for k in ("mu_m3_s2", "radius_m", "j2"))
PORT_L = np.asarray(GNC["station"]["port_LVLH_m"], float)
STEP_NS = 100_000_000
R0 = 6_771_000.0


class FakeHal:
    def __init__(self):
        self.gabs = new_record("DEV_GNSS_ABS")

    def sensor(self, name):
        assert name == "DEV_GNSS_ABS"
        return self.gabs


def frame(rv):
    C, w = np.zeros((3, 3)), np.zeros(3)
    lvlh_frame_j2(rv, MU, RE, J2, np.zeros((6, 6)), C, w)
    return C, w


def fly(sensor: int, seconds: float):
    """(app, true station state) after ``seconds`` with navigation last fed by ``sensor``."""
    v0 = np.sqrt(MU / R0)
    i = np.radians(41.5)
    truth = np.array([R0, 0.0, 0.0, 0.0, v0 * np.cos(i), v0 * np.sin(i)])
    C, _ = frame(truth)
    uplink = truth.copy()
    uplink[:3] += C.T @ [5.0, -300.0, 0.0]  # radial, along track, cross track
    uplink[3:] += C.T @ [0.0, 0.02, 0.005]
    bus, hal = Bus(), FakeHal()
    app = OrbitReference("orbit_ref", bus, None, GNC, GNC_PATH, uplink, hal)
    nav = bus.publish("NAV_STATE", "test")
    r_rel = np.array([-20.0, -3000.0, 5.0])  # chaser CoM w.r.t. the port, LVLH
    nav["r_LVLH_m"], nav["valid"], nav["sensor"] = r_rel, 1, sensor
    app.start()
    scratch = np.zeros((6, 6))
    g = hal.gabs
    for k in range(1, int(seconds * 10) + 1):
        t_ns = k * STEP_NS
        ephemeris_step(truth, MU, RE, J2, 0.1, scratch)
        if k % 10 == 0:  # the 1 Hz fix of a chaser that holds its place in the station's frame
            C, w = frame(truth)
            d = r_rel + PORT_L
            g["r_N_m"] = truth[:3] + C.T @ d
            g["v_N_mps"] = truth[3:] + C.T @ np.cross(w, d)
            g["t_ns"], g["valid"] = t_ns, 1
            g["seq"] += 1
        app.step(t_ns)
        nav["t_ns"] = t_ns
    return app, truth


def test_the_ephemeris_converges_on_the_station_and_its_frame_with_it():
    app, truth = fly(SENSOR_GNSS, 3000.0)  # ten time constants
    rv = app.rec["rv_N"]
    assert np.linalg.norm(rv[:3] - truth[:3]) < 0.5
    assert np.linalg.norm(rv[3:] - truth[3:]) < 1e-3
    C_true, _ = frame(truth)
    turn = np.arccos(np.clip((np.trace(app.rec["C_LVLH_N"] @ C_true.T) - 1.0) / 2.0, -1.0, 1.0))
    assert turn < 1e-7  # 300 m off it was 4.4e-5 rad
    assert np.linalg.norm(app.rec["refined_N"][:3]) > 250.0  # what was moved is on record


def test_no_refinement_while_navigation_rests_on_absolute_gnss():
    """Absolute GNSS is measured against this ephemeris: refining it from that would close a loop."""
    app, truth = fly(SENSOR_GNSS_ABS, 300.0)
    assert np.all(app.rec["refined_N"] == 0.0)
    assert np.linalg.norm(app.rec["rv_N"][:3] - truth[:3]) > 250.0

"""Onboard station ephemeris: propagates the uplinked station state, refines it once relative navigation holds the
station in sight, and publishes its LVLH frame.

The uplinked state carries an error (docs/sensors.md s.9), and the onboard propagation leaves out the station's
drag: after a few hours the ephemeris is hundreds of metres behind or ahead of the station along its track, and
the LVLH frame built on it is turned by that distance over the orbit radius (400 m: 6e-5 rad, 1.2 mm across the
line of sight at 20 m). Relative navigation measures the chaser from the station, the chaser's own GNSS measures it
from the Earth: their difference is where the station is. docs/navigation.md, "The station ephemeris".
"""

from __future__ import annotations

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.config_loader import Section
from fsw.core.ephemeris import lvlh_frame_j2
from fsw.core.navigation import ORBIT_REF_PARAMS, ORBIT_REF_STATE, orbit_ref_app_step
from fsw.dispatch import bind
from fsw.messages import new_message
from hal.devices import new_record


class OrbitReference(App):
    """Publishes ORBIT_REF: station state (N), rotation N -> LVLH, LVLH rate, mean motion.

    With the chaser's absolute GNSS (``hal``) and a valid relative-navigation solution last fed by a relative
    sensor (relative GNSS, laser radar or camera; not absolute GNSS, which is measured against this ephemeris),
    each new GNSS fix gives the station's state: the chaser's inertial fix less the relative state. The
    ephemeris moves toward it by ``dt / ephemeris_refine_tau_s`` of the difference, position and velocity
    (``[orbit]``; 0 turns it off), and ``ORBIT_REF.refined_N`` adds up what was moved
    (``fsw.core.navigation.orbit_ref_app_step``).
    """

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "orbit_ref"
    reads = ("NAV_STATE",)
    writes = ("ORBIT_REF",)
    config_section = "orbit"

    def __init__(self, name: str, bus: Bus, events, gnc: dict, path, station_rv_N, hal=None):
        super().__init__(name, bus, events)
        earth = Section(gnc, path, "earth")
        orbit = Section(gnc, path, "orbit")
        self.prm = np.zeros(1, ORBIT_REF_PARAMS)
        p = self.prm[0]
        p["earth"] = (earth.float("mu_m3_s2", 1.0), earth.float("radius_m", 1.0), earth.float("j2", 0.0, 1.0))
        p["refine_tau_s"] = orbit.float("ephemeris_refine_tau_s", 0.0) if hal is not None else 0.0
        p["port_L_m"] = Section(gnc, path, "station").array("port_LVLH_m", (3,))
        n = orbit.float("mean_motion_rad_s", 1e-6, 1.0)
        rv = np.asarray(station_rv_N, dtype=np.float64)
        if rv.shape != (6,) or not np.all(np.isfinite(rv)) or np.linalg.norm(rv[:3]) < p["earth"][1]:
            raise ConfigError(f"{name}: uplinked station state must be 6 finite numbers [r m, v m/s] "
                              f"above the Earth's surface, got {station_rv_N!r}")
        self.rec = bus.publish("ORBIT_REF", name)
        self.rec["n_rad_s"] = n
        self.rec["rv_N"] = rv
        self.st = np.zeros(1, ORBIT_REF_STATE)
        mu, re, j2 = p["earth"]
        lvlh_frame_j2(self.rec["rv_N"], mu, re, j2, self.st[0]["scratch"], self.rec["C_LVLH_N"],
                      self.rec["omega_LN_L_rad_s"])
        self.gabs = hal.sensor("DEV_GNSS_ABS") if hal is not None else new_record("DEV_GNSS_ABS")
        self._bind(new_message("NAV_STATE"))  # no navigation (yet): never refined

    def _bind(self, nav) -> None:
        self._step = bind(orbit_ref_app_step, self.prm, self.st, self.rec.reshape(1), self.gabs.reshape(1),
                          nav.reshape(1), sample=(0,))

    def start(self) -> None:
        if "NAV_STATE" in self.bus:
            self._bind(self.bus.get("NAV_STATE", self.name))

    def step(self, t_ns: int) -> None:
        self._step(t_ns)

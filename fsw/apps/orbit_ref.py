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
from fsw.core.ephemeris import lvlh_frame_j2, orbit_ref_step
from fsw.core.estimation import sample_age_s
from fsw.core.navigation import SENSOR_CAMERA, SENSOR_GNSS, SENSOR_LIDAR, gnss_abs_relative
from fsw.dispatch import bind

NS_PER_S = 1_000_000_000
_RELATIVE_SENSORS = (SENSOR_GNSS, SENSOR_LIDAR, SENSOR_CAMERA)  # navigation measures the station, not the ephemeris


class OrbitReference(App):
    """Publishes ORBIT_REF: station state (N), rotation N -> LVLH, LVLH rate, mean motion.

    With the chaser's absolute GNSS (``hal``) and a valid relative-navigation solution last fed by a relative
    sensor (relative GNSS, laser radar or camera; not absolute GNSS, which is measured against this ephemeris),
    each new GNSS sample gives the station's state: the chaser's inertial fix less the relative state. The
    ephemeris moves toward it by ``dt / ephemeris_refine_tau_s`` of the difference, position and velocity
    (``[orbit]``; 0 turns it off), and ``ORBIT_REF.refined_N`` adds up what was moved.
    """

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "orbit_ref"
    reads = ("NAV_STATE",)
    writes = ("ORBIT_REF",)
    config_section = "orbit"

    def __init__(self, name: str, bus: Bus, events, gnc: dict, path, station_rv_N, hal=None):
        super().__init__(name, bus, events)
        earth = Section(gnc, path, "earth")
        self.mu = earth.float("mu_m3_s2", 1.0)
        self.re = earth.float("radius_m", 1.0)
        self.j2 = earth.float("j2", 0.0, 1.0)
        orbit = Section(gnc, path, "orbit")
        n = orbit.float("mean_motion_rad_s", 1e-6, 1.0)
        self.tau_s = orbit.float("ephemeris_refine_tau_s", 0.0)
        self.port_L = Section(gnc, path, "station").array("port_LVLH_m", (3,))
        rv = np.asarray(station_rv_N, dtype=np.float64)
        if rv.shape != (6,) or not np.all(np.isfinite(rv)) or np.linalg.norm(rv[:3]) < self.re:
            raise ConfigError(f"{name}: uplinked station state must be 6 finite numbers [r m, v m/s] "
                              f"above the Earth's surface, got {station_rv_N!r}")
        self.rec = bus.publish("ORBIT_REF", name)
        self.rec["n_rad_s"] = n
        self._rv = self.rec["rv_N"]
        self._rv[:] = rv
        self._C = self.rec["C_LVLH_N"]
        self._w = self.rec["omega_LN_L_rad_s"]
        self._r, self._v = self._rv[:3], self._rv[3:]
        self._scratch = np.zeros((6, 6))
        self._t_ns = np.zeros(1, np.int64)  # the time rv_N holds
        lvlh_frame_j2(self._rv, self.mu, self.re, self.j2, self._scratch, self._C, self._w)
        self._step = bind(orbit_ref_step, self._t_ns, self.mu, self.re, self.j2, self._scratch, self.rec.reshape(1),
                          sample=(0,))
        self.gabs = hal.sensor("DEV_GNSS_ABS") if hal is not None and self.tau_s > 0.0 else None
        self.nav = None
        self._gabs_seq = 0
        self._gabs_t_ns = 0
        self._fix_r, self._fix_v = np.zeros(3), np.zeros(3)

    def start(self) -> None:
        if self.gabs is not None and "NAV_STATE" in self.bus:
            self.nav = self.bus.get("NAV_STATE", self.name)

    def step(self, t_ns: int) -> None:
        self._step(t_ns)
        if self.nav is not None and self.gabs["seq"] != self._gabs_seq:
            self._gabs_seq = int(self.gabs["seq"])
            self._refine(t_ns)

    def _refine(self, t_ns: int) -> None:
        """Move the ephemeris toward the station the chaser's GNSS fix and relative navigation place."""
        g, nav = self.gabs, self.nav
        dt_s = (t_ns - self._gabs_t_ns) / NS_PER_S if self._gabs_t_ns else 0.0
        self._gabs_t_ns = t_ns
        if not (g["valid"] and nav["valid"] and int(nav["sensor"]) in _RELATIVE_SENSORS) or dt_s <= 0.0:
            return
        # the fix as a relative state against this ephemeris: chaser CoM w.r.t. the station CoM, LVLH, now
        gnss_abs_relative(g["r_N_m"], g["v_N_mps"], self._rv, self._C, self._w, self.port_L, self._fix_r,
                          self._fix_v, sample_age_s(t_ns, int(g["t_ns"])), self.mu)
        age_s = sample_age_s(t_ns, int(nav["t_ns"]))  # navigation publishes after this task: last period's
        r_nav = nav["r_LVLH_m"] + nav["v_LVLH_mps"] * age_s + self.port_L
        # ephemeris error (onboard - true station), LVLH: d = r_nav - r_fix; its rate: the two relative
        # velocities are rates seen in the same frame, so v_nav - v_fix = C (v_onboard - v_true) - w x d
        d = r_nav - self._fix_r
        dv = nav["v_LVLH_mps"] - self._fix_v + np.cross(self._w, d)
        k = min(dt_s / self.tau_s, 1.0)
        corr = -k * np.concatenate((self._C.T @ d, self._C.T @ dv))
        self._rv += corr
        self.rec["refined_N"] += corr
        lvlh_frame_j2(self._rv, self.mu, self.re, self.j2, self._scratch, self._C, self._w)

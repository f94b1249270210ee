"""Onboard station ephemeris: propagates the uplinked station state and publishes its LVLH frame."""

from __future__ import annotations

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.config_loader import Section
from fsw.core.ephemeris import lvlh_frame_j2, orbit_ref_step
from fsw.dispatch import bind


class OrbitReference(App):
    """Publishes ORBIT_REF: station state (N), rotation N -> LVLH, LVLH rate, mean motion."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "orbit_ref"
    reads = ()
    writes = ("ORBIT_REF",)
    config_section = "orbit"

    def __init__(self, name: str, bus: Bus, events, gnc: dict, path, station_rv_N):
        super().__init__(name, bus, events)
        earth = Section(gnc, path, "earth")
        self.mu = earth.float("mu_m3_s2", 1.0)
        self.re = earth.float("radius_m", 1.0)
        self.j2 = earth.float("j2", 0.0, 1.0)
        n = Section(gnc, path, "orbit").float("mean_motion_rad_s", 1e-6, 1.0)
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

    def step(self, t_ns: int) -> None:
        self._step(t_ns)

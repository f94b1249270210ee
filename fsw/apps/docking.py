"""Docking-approach monitor (10 Hz): corridor, closing rate, abort triggers, contact readiness, capture."""

from __future__ import annotations

import math

import numpy as np

from fsw.app import App, Bus
from fsw.config_loader import Section
from fsw.core import docking as dk
from fsw.core.dispatch import compiled_entry
from fsw.core.docking import docking_step
from telemetry.dictionary import ABORT_TRIGGERS, MODES

NS_PER_S = 1e9
TRIGGER = {name: code for code, name in ABORT_TRIGGERS.items()}
# Modes in which the vehicle is approaching and the monitors may abort.
_APPROACH = {"HOMING", "CLOSING", "FINAL_APPROACH", "RETREAT", "HOLD", "SAFE"}
_CLOSING = {"CLOSING", "FINAL_APPROACH"}
EVT_TRIGGER = 600
EVT_CONTACT_READY = 601


class DockingMonitor(App):
    """Publishes DOCKING_MONITOR; on an abort condition calls ``guidance.cam(trigger)``."""

    def __init__(self, name: str, bus: Bus, events, hal, gnc: dict, path, guidance, port_B_m):
        super().__init__(name, bus, events)
        d = Section(gnc, path, "docking")
        g = Section(gnc, path, "guidance")
        st = Section(gnc, path, "station")
        self.guidance = guidance
        self.prm = np.zeros(dk.N_PRM)
        self.prm[dk.PRM_KOS] = self.kos = d.float("kos_radius_m", 0.0)
        self.prm[dk.PRM_SEMI:dk.PRM_SEMI + 3] = d.array("ellipsoid_semi_axes_m", (3,), 1.0)
        self.prm[dk.PRM_TAN_CONE] = math.tan(math.radians(d.float("corridor_half_angle_deg", 0.0, 89.0)))
        self.prm[dk.PRM_CONE_FLOOR] = d.float("corridor_min_radius_m", 0.0)
        self.prm[dk.PRM_RATE_FACTOR] = d.float("closing_rate_factor", 1.0)
        self.prm[dk.PRM_RATE_MARGIN] = d.float("closing_rate_margin_mps", 0.0)
        self.prm[dk.PRM_RATE_SIGMA] = d.float("closing_rate_max_sigma_v_mps", 0.0)
        self.prm[dk.PRM_ATT_LIMIT] = math.radians(d.float("attitude_error_limit_deg", 0.0))
        self.prm[dk.PRM_READY] = d.float("contact_ready_range_m", 0.0)
        self.state = np.zeros(dk.N_STATE, np.int64)
        self.state[dk.ST_NAV_BAD_SINCE] = -1
        self.state[dk.ST_NAV_LIMIT] = int(d.float("nav_invalid_limit_s", 0.0) * NS_PER_S)
        self.state[dk.ST_TRIGGER] = TRIGGER["NONE"]
        self.state[dk.ST_NAV_MAX_AGE] = int(Section(gnc, path, "navigation").float("max_age_s", 0.0) * NS_PER_S)
        self.trg = np.array([TRIGGER[k] for k in ("NONE", "NAV_INVALID", "CORRIDOR", "CLOSING_RATE",
                                                  "ATTITUDE_ERROR")], np.int64)
        n_modes = max(MODES) + 1
        self.approach_mode = np.array([MODES.get(m) in _APPROACH for m in range(n_modes)])
        self.closing_mode = np.array([MODES.get(m) in _CLOSING for m in range(n_modes)])
        self.prof_r = g.array("profile_range_m", None, 0.0)
        self.prof_v = g.array("profile_speed_mps", None, 0.0)
        self.axis = st.array("docking_axis_LVLH", (3,))
        C_RL = Section(gnc, path, "attitude_reference").array("C_RL", (3, 3))
        self.port_L = C_RL.T @ np.asarray(port_B_m, dtype=np.float64)
        self.mech = hal.sensor("DEV_DOCK_MECH")
        self.out = bus.publish("DOCKING_MONITOR", name)
        self.geo = np.zeros(7)
        self.r_port = np.zeros(3)

    @property
    def trigger(self) -> int:
        """The latched abort trigger (telemetry.dictionary.ABORT_TRIGGERS code)."""
        return int(self.state[dk.ST_TRIGGER])

    def start(self) -> None:
        b = self.bus
        views = (b.get("NAV_STATE", self.name), b.get("ATT_STATE", self.name), b.get("MODE", self.name), self.mech,
                 self.out)
        self._args = (self.prm, self.state, self.trg, self.approach_mode, self.closing_mode, self.port_L, self.axis,
                      self.prof_r, self.prof_v, self.geo, self.r_port, *(r.reshape(1) for r in views))
        self._kernel = compiled_entry(docking_step, 0, *self._args)

    def step(self, t_ns: int) -> None:
        flags = self._kernel(t_ns, *self._args)
        if not flags:
            return
        if flags & dk.F_CAPTURED:
            self.guidance.docked(t_ns)
        rng = float(self.geo[0])
        if flags & dk.F_NEW_TRIGGER:
            trigger = self.trigger
            self.emit(EVT_TRIGGER, "CRITICAL", f"abort trigger {ABORT_TRIGGERS[trigger]} at {rng:.1f} m",
                      (float(trigger), rng))
            self.guidance.cam(trigger, t_ns)
        if flags & dk.F_READY_RISE:
            v_close = float(self.geo[5])
            self.emit(EVT_CONTACT_READY, "INFO", f"contact ready at {rng:.2f} m, closing {v_close:.3f} m/s",
                      (rng, v_close))

"""Docking-approach monitor (10 Hz): corridor, closing rate, abort triggers, contact readiness, capture."""

from __future__ import annotations

import math

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.config_loader import Section
from fsw.core import docking as dk
from fsw.core.docking import docking_step
from fsw.dispatch import bind
from telemetry.dictionary import ABORT_TRIGGERS, MODES
from telemetry.units import NS_PER_S

TRIGGER = {name: code for code, name in ABORT_TRIGGERS.items()}
# Modes in which the vehicle is approaching and the monitors may abort.
_APPROACH = {"HOMING", "CLOSING", "FINAL_APPROACH", "RETREAT", "HOLD", "SAFE"}
_CLOSING = {"CLOSING", "FINAL_APPROACH"}


class DockingMonitor(App):
    """Publishes DOCKING_MONITOR; on an abort condition calls ``guidance.cam(trigger)``."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "docking"
    reads = ("ATT_STATE", "MODE", "NAV_STATE")
    writes = ("DOCKING_MONITOR",)
    config_section = "docking"
    event_names = ("CONTACT_READY", "TRIGGER")

    def __init__(self, name: str, bus: Bus, events, hal, gnc: dict, path, guidance, port_B_m):
        super().__init__(name, bus, events)
        d = Section(gnc, path, "docking")
        g = Section(gnc, path, "guidance")
        st = Section(gnc, path, "station")
        self.guidance = guidance
        if max(MODES) >= dk.MAX_MODES:
            raise ConfigError(f"{name}: mode codes up to {max(MODES)}, the monitor's tables hold {dk.MAX_MODES}")
        self.prm = np.zeros(1, dk.MONITOR_PARAMS)
        p = self.prm[0]
        p["kos_radius_m"] = self.kos = d.float("kos_radius_m", 0.0)
        p["ellipsoid_semi_axes_m"] = d.array("ellipsoid_semi_axes_m", (3,), 1.0)
        p["tan_corridor"] = math.tan(math.radians(d.float("corridor_half_angle_deg", 0.0, 89.0)))
        p["corridor_floor_m"] = d.float("corridor_min_radius_m", 0.0)
        p["closing_rate_factor"] = d.float("closing_rate_factor", 1.0)
        p["closing_rate_margin_mps"] = d.float("closing_rate_margin_mps", 0.0)
        p["closing_rate_max_sigma_v_mps"] = d.float("closing_rate_max_sigma_v_mps", 0.0)
        p["attitude_limit_rad"] = math.radians(d.float("attitude_error_limit_deg", 0.0))
        p["contact_ready_range_m"] = d.float("contact_ready_range_m", 0.0)
        p["nav_invalid_limit_ns"] = int(d.float("nav_invalid_limit_s", 0.0) * NS_PER_S)
        p["nav_max_age_ns"] = int(Section(gnc, path, "navigation").float("max_age_s", 0.0) * NS_PER_S)
        C_RL = Section(gnc, path, "attitude_reference").array("C_RL", (3, 3))
        p["port_L_m"] = C_RL.T @ np.asarray(port_B_m, dtype=np.float64)
        p["docking_axis_L"] = st.array("docking_axis_LVLH", (3,))
        p["approach_mode"] = [MODES.get(m) in _APPROACH for m in range(dk.MAX_MODES)]
        p["closing_mode"] = [MODES.get(m) in _CLOSING for m in range(dk.MAX_MODES)]
        p["trigger_codes"] = [TRIGGER[k] for k in ("NONE", "NAV_INVALID", "CORRIDOR", "CLOSING_RATE",
                                                   "ATTITUDE_ERROR")]
        self.state = np.zeros(1, dk.MONITOR_STATE)
        self.state[0]["nav_bad_since_ns"] = -1
        self.state[0]["trigger"] = TRIGGER["NONE"]
        self.profile = np.array([g.array("profile_range_m", None, 0.0), g.array("profile_speed_mps", None, 0.0)])
        self.mech = hal.sensor("DEV_DOCK_MECH")
        self.out = bus.publish("DOCKING_MONITOR", name)
        self.geo = self.state[0]["geometry"]

    @property
    def port_L(self) -> np.ndarray:
        """[m] chaser port from its CoM, LVLH, at the docking attitude."""
        return self.prm[0]["port_L_m"]

    @property
    def trigger(self) -> int:
        """The latched abort trigger (telemetry.dictionary.ABORT_TRIGGERS code)."""
        return int(self.state[0]["trigger"])

    def start(self) -> None:
        b = self.bus
        views = (b.get("NAV_STATE", self.name), b.get("ATT_STATE", self.name), b.get("MODE", self.name), self.mech,
                 self.out)
        self._step = bind(docking_step, self.prm, self.state, self.profile, *(r.reshape(1) for r in views),
                          sample=(0,))

    def step(self, t_ns: int) -> None:
        flags = self._step(t_ns)
        if not flags:
            return
        if flags & dk.F_CAPTURED:
            self.guidance.docked(t_ns)
        rng = float(self.geo[0])
        if flags & dk.F_NEW_TRIGGER:
            trigger = self.trigger
            self.emit("TRIGGER", "CRITICAL", f"abort trigger {ABORT_TRIGGERS[trigger]} at {rng:.1f} m",
                      (float(trigger), rng))
            self.guidance.cam(trigger, t_ns)
        if flags & dk.F_READY_RISE:
            v_close = float(self.geo[5])
            self.emit("CONTACT_READY", "INFO", f"contact ready at {rng:.2f} m, closing {v_close:.3f} m/s",
                      (rng, v_close))

"""Docking-approach monitor (10 Hz): corridor, closing rate, abort triggers, contact readiness, capture."""

from __future__ import annotations

import math

import numpy as np

from fsw.app import App, Bus
from fsw.config_loader import Section
from fsw.core.guidance import approach_monitor
from telemetry.dictionary import ABORT_TRIGGERS, MODES

NS_PER_S = 1e9
TRIGGER = {name: code for code, name in ABORT_TRIGGERS.items()}
# Modes in which the vehicle is approaching and the monitors may abort.
_APPROACH = {code for code, name in MODES.items()
             if name in ("HOMING", "CLOSING", "FINAL_APPROACH", "RETREAT", "HOLD", "SAFE")}
_CLOSING = {code for code, name in MODES.items() if name in ("CLOSING", "FINAL_APPROACH")}
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
        self.kos = d.float("kos_radius_m", 0.0)
        self.semi = d.array("ellipsoid_semi_axes_m", (3,), 1.0)
        self.tan_cone = math.tan(math.radians(d.float("corridor_half_angle_deg", 0.0, 89.0)))
        self.cone_floor = d.float("corridor_min_radius_m", 0.0)
        self.rate_factor = d.float("closing_rate_factor", 1.0)
        self.rate_margin = d.float("closing_rate_margin_mps", 0.0)
        self.rate_max_sigma = d.float("closing_rate_max_sigma_v_mps", 0.0)
        self.att_limit = math.radians(d.float("attitude_error_limit_deg", 0.0))
        self.nav_limit_ns = int(d.float("nav_invalid_limit_s", 0.0) * NS_PER_S)
        self.ready_range = d.float("contact_ready_range_m", 0.0)
        self.prof_r = g.array("profile_range_m", None, 0.0)
        self.prof_v = g.array("profile_speed_mps", None, 0.0)
        self.axis = st.array("docking_axis_LVLH", (3,))
        C_RL = Section(gnc, path, "attitude_reference").array("C_RL", (3, 3))
        self.port_L = C_RL.T @ np.asarray(port_B_m, dtype=np.float64)
        self.mech = hal.sensor("DEV_DOCK_MECH")
        self.out = bus.publish("DOCKING_MONITOR", name)
        self.geo = np.zeros(7)
        self.r_port = np.zeros(3)
        self._nav_bad_since = None
        self.trigger = TRIGGER["NONE"]
        self._ready = False

    def start(self) -> None:
        self.nav = self.bus.get("NAV_STATE", self.name)
        self.att = self.bus.get("ATT_STATE", self.name)
        self.mode = self.bus.get("MODE", self.name)
        self._r = self.nav["r_LVLH_m"]
        self._v = self.nav["v_LVLH_mps"]
        self._err = self.att["att_err_rad"]
        self._sigma_v = self.nav["sigma_v_mps"]

    def _inside_ellipsoid(self, r) -> bool:
        # semi-axes are (radial, along-track, cross-track) = (x, y, z) LVLH
        return float(np.sum((r / self.semi) ** 2)) <= 1.0

    def step(self, t_ns: int) -> None:
        if self.mech["captured"]:
            self.guidance.docked(t_ns)
        np.add(self._r, self.port_L, out=self.r_port)
        approach_monitor(self.r_port, self._v, self.axis, self.prof_r, self.prof_v, self.geo)
        rng, rdot, d, lat, cone, v_close, v_prof = self.geo
        in_kos = rng < self.kos
        # the cone's apex is at the port; near contact the floor radius keeps the corridor open
        in_corridor = lat <= max(max(d, 0.0) * self.tan_cone, self.cone_floor)
        mode = int(self.mode["mode"])
        nav_ok = bool(self.nav["valid"])
        if nav_ok:
            self._nav_bad_since = None
        elif self._nav_bad_since is None:
            self._nav_bad_since = t_ns
        trigger = TRIGGER["NONE"]
        if mode in _APPROACH:
            if self._nav_bad_since is not None and t_ns - self._nav_bad_since > self.nav_limit_ns \
                    and self._inside_ellipsoid(self._r):
                trigger = TRIGGER["NAV_INVALID"]
            elif nav_ok and in_kos and not in_corridor:
                trigger = TRIGGER["CORRIDOR"]
            elif nav_ok and mode in _CLOSING and v_close > self.rate_factor * v_prof + self.rate_margin \
                    and float(self._sigma_v.max()) <= self.rate_max_sigma:
                trigger = TRIGGER["CLOSING_RATE"]
            elif in_kos and math.sqrt(float(np.dot(self._err, self._err))) > self.att_limit:
                trigger = TRIGGER["ATTITUDE_ERROR"]
        if trigger != TRIGGER["NONE"] and self.trigger == TRIGGER["NONE"]:
            self.trigger = trigger
            self.emit(EVT_TRIGGER, "CRITICAL", f"abort trigger {ABORT_TRIGGERS[trigger]} at {rng:.1f} m",
                      (float(trigger), rng))
            self.guidance.cam(trigger, t_ns)
        ready = nav_ok and rng < self.ready_range and in_corridor
        if ready and not self._ready:
            self.emit(EVT_CONTACT_READY, "INFO", f"contact ready at {rng:.2f} m, closing {v_close:.3f} m/s",
                      (rng, v_close))
        self._ready = ready
        out = self.out
        out["t_ns"] = t_ns
        out["seq"] += 1
        out["range_m"] = rng
        out["range_rate_mps"] = rdot
        out["corridor_angle_deg"] = math.degrees(cone)
        out["lateral_m"] = lat
        out["in_kos"] = in_kos
        out["in_corridor"] = in_corridor
        out["abort_trigger"] = self.trigger
        out["contact_ready"] = ready

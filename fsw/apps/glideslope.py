"""Glideslope approach guidance: the shipped guidance with Hablani glideslope pulses between the holds.

Select it with ``[flight.apps] guidance = "glideslope"`` (a scenario) or ``[apps]`` in flight.toml. Hold
points, station keeping, go/no-go, retreats, ground commands and the CAM are those of
:class:`fsw.apps.guidance.ApproachGuidance`; only the translation from one hold to the next (``CLOSING``)
and from the last hold to contact (``FINAL``) differ. Instead of a velocity loop on the speed profile, each
segment is planned once at its start with :func:`fsw.core.guidance.glideslope_plan` (Hablani, Tapper &
Dana-Bashian 2002: waypoints on the straight line to the target, range rate ``rho_dot = a rho + rho_dot_T``
from the profile's speed at the start to its speed at the target) and flown as impulses, closed-loop: at
each waypoint's time the pulse is the CW two-impulse transfer from the navigated state to the next waypoint
(:func:`fsw.core.relmotion.cw_two_impulse`), so navigation and execution errors are taken out at every
pulse. Between pulses the vehicle coasts. At a hold the station-keeping law brakes, as after the closing law.
"""

from __future__ import annotations

import numpy as np

from fsw.apps.guidance import CONTACT, PHASE, ApproachGuidance
from fsw.config_loader import Section
from fsw.core.guidance import glideslope_plan, speed_profile
from fsw.core.relmotion import cw_two_impulse
from telemetry.units import NS_PER_S

_P_CLOSING, _P_FINAL = PHASE["CLOSING"], PHASE["FINAL"]


class GlideslopeGuidance(ApproachGuidance):
    """Publishes GUIDANCE_CMD (impulses between holds, accelerations at holds) and GUIDANCE_STATE."""

    config_section = "glideslope"

    def __init__(self, name, bus, events, gnc, path, modes, port_B_m, *, start_hold=0, commanding=None):
        super().__init__(name, bus, events, gnc, path, modes, port_B_m, start_hold=start_hold,
                         commanding=commanding)
        gs = Section(gnc, path, self.config_section)
        self.n_pulses = gs.int("pulses", 1, 1000)
        self.n_final = gs.int("final_pulses", 1, 1000)
        self.min_ratio = gs.float("min_speed_ratio", 1.0 + 1e-6, 100.0)
        n_max = max(self.n_pulses, self.n_final)
        self._t_s = np.zeros(n_max + 1)          # [s] pulse times from the segment start
        self._way = np.zeros((n_max + 1, 3))     # [m] CoM waypoints, LVLH
        self._dv_plan = np.zeros((n_max + 1, 3))  # [m/s] the plan's pulses (its delta-v, for the PLAN event)
        self._n = 0                              # pulses of the current plan
        self._next = 0                           # next pulse index
        self._T_s = 0.0                          # [s] the plan's transfer time
        self._v_target = np.zeros(3)

    def start(self) -> None:
        super().start()
        # load (or compile) both kernels now: their first call mid-flight would be an overrun of the task
        glideslope_plan(self._zero3, self._zero3, self.axis, self._zero3, -2.0, -1.0, 1e-3, self._t_s, self._way,
                        self._dv_plan)
        cw_two_impulse(self._zero3, self._zero3, self.axis, self._zero3, 1e-3, 10.0, self.min_det, self._dv1,
                       self._dv2)

    def _enter(self, phase: str, t_ns: int) -> None:
        super()._enter(phase, t_ns)
        if self.phase == _P_CLOSING or self.phase == _P_FINAL:
            self._plan(t_ns)

    def _axial_m(self, r_L_m) -> float:
        """[m] axial distance of the chaser port from the station port when the CoM is at ``r_L_m``."""
        return float(np.dot(r_L_m + self.port_L, self.axis))

    def _plan(self, t_ns: int) -> None:
        """Waypoints and pulse times from the navigated state to the segment's target (Hablani)."""
        final = self.target == CONTACT
        n = self.n_final if final else self.n_pulses
        r_T = self._port_target if final else self.r_hold[self.target]
        d_T = 0.0 if final else float(self.dist_m[self.target])
        speed_T = float(speed_profile(d_T, self.prof_r, self.prof_v))
        speed_0 = max(float(speed_profile(self._axial_m(self._r), self.prof_r, self.prof_v)), self.min_ratio * speed_T)
        self._v_target[:] = -speed_T * self.axis if final else 0.0
        self.cmd["accel_LVLH_mps2"] = 0.0  # coast between pulses (the station-keeping law wrote it last)
        T = glideslope_plan(self._r, self._v, r_T, self._v_target, -speed_0, -speed_T, float(self.orbit["n_rad_s"]),
                            self._t_s[:n + 1], self._way[:n + 1], self._dv_plan[:n + 1])
        if T <= 0.0:  # already at the target: nothing to fly
            self._n, self._next, self._T_s = 0, 0, 0.0
            return
        self._n, self._next, self._T_s = n, 0, T
        dv = float(np.linalg.norm(self._dv_plan[:n + 1], axis=1).sum())
        self.emit("PHASE", "INFO", f"glideslope: {n} pulses over {T:.0f} s, planned dv {dv:.3f} m/s", (T, dv))

    def _step_closing(self, t_ns: int) -> None:
        elapsed_s = (t_ns - self._phase_t0) / NS_PER_S
        k = self._next
        while k < self._n - 1 and elapsed_s >= self._t_s[k + 1]:
            k += 1  # pulses missed while the navigation was invalid: aim at the next waypoint still ahead
        if k < self._n and elapsed_s >= self._t_s[k]:
            status = cw_two_impulse(self._r, self._v, self._way[k + 1], self._zero3, float(self.orbit["n_rad_s"]),
                                    max(self._t_s[k + 1] - elapsed_s, 1.0), self.min_det, self._dv1, self._dv2)
            self._next = k + 1
            if status == 0:
                self._v_cmd[:] = self._v + self._dv1
                self._impulse(self._dv1.copy(), t_ns, f"glideslope pulse {k + 1}/{self._n}")
        if self.target != CONTACT and (elapsed_s >= self._T_s
                                       or self._axial_m(self._r) <= self.dist_m[self.target]):
            self._arrive(self.target, t_ns)

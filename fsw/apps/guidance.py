"""Approach guidance: hold points on -V-bar, CW transfers, closing law, go/no-go, retreat, CAM.

Segments run from hold point to hold point (docs/reference.md: 5 km, 400 m, 200 m, 19 m, contact).
Beyond ``transfer_max_range_m`` a segment is a CW two-impulse transfer with mid-course
re-targeting; inside it, a closing law follows the speed profile down the docking axis. At each
hold the vehicle station-keeps, then a go/no-go check decides: go on, or retreat to the previous
hold and retry (a bounded number of times). Ground HOLD / RESUME / RETREAT / ABORT work at any time.
A ground HOLD is lifted by the ground only (RESUME, RETREAT, ABORT): while it stands, fault protection's
autonomous RETRY and RETREAT are refused, with their reason in the event log (fsw/config/fdir.toml,
recoveries).
"""

from __future__ import annotations

import math

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.apps.commanding import CommandRejected
from fsw.config_loader import Section
from fsw.core.guidance import (
    GUIDANCE_PARAMS,
    GUIDANCE_SCRATCH,
    cam_select,
    closing_step,
    go_no_go,
    goto_step,
    guidance_publish,
    hold_step,
)
from fsw.core.relmotion import cw_two_impulse
from fsw.dispatch import bind
from telemetry.dictionary import ABORT_TRIGGERS, GUIDANCE_PHASES, MODES
from telemetry.units import NS_PER_S

PHASE = {name: code for code, name in GUIDANCE_PHASES.items()}
TRIGGER = {name: code for code, name in ABORT_TRIGGERS.items()}
CONTACT = -1  # segment target index meaning "the docking port"
_IDLE_MODES = {code for code, name in MODES.items() if name in ("STANDBY", "SAFE")}
_P_IDLE, _P_TRANSFER, _P_STATION_KEEP = PHASE["IDLE"], PHASE["TRANSFER"], PHASE["STATION_KEEP"]
_P_CLOSING, _P_FINAL, _P_RETREAT = PHASE["CLOSING"], PHASE["FINAL"], PHASE["RETREAT"]
_P_CAM, _P_DOCKED = PHASE["CAM"], PHASE["DOCKED"]
GROUND_HOLD_REFUSAL = "ground HOLD: waits for RESUME"  # FDIR's event text holds 48 characters


class ApproachGuidance(App):
    """Publishes GUIDANCE_CMD (acceleration / impulses for thruster control) and GUIDANCE_STATE."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "guidance"
    reads = ("MODE", "NAV_STATE", "ORBIT_REF")
    writes = ("GUIDANCE_CMD", "GUIDANCE_STATE")
    config_section = "guidance"
    event_names = ("BURN", "CAM", "DOCKED", "GO", "NOGO", "PHASE", "RETRIES_EXHAUSTED")

    def __init__(self, name: str, bus: Bus, events, gnc: dict, path, modes, port_B_m, *,
                 start_hold: int = 0, commanding=None):
        super().__init__(name, bus, events)
        g = Section(gnc, path, "guidance")
        st = Section(gnc, path, "station")
        self.modes = modes
        self.dist_m = g.array("hold_distances_m", None, 0.0)
        n_holds = self.dist_m.shape[0]
        if self.dist_m.ndim != 1 or n_holds < 1 or np.any(np.diff(self.dist_m) >= 0):
            raise ConfigError(f"{path}: [guidance].hold_distances_m must be a descending list of distances")
        if not -1 <= start_hold < n_holds:
            raise ConfigError(f"{name}: start_hold {start_hold} outside -1 .. {n_holds - 1} "
                              f"(-1: transfer to the first hold from where the vehicle is)")
        self.axis = st.array("docking_axis_LVLH", (3,))
        if not np.isclose(np.linalg.norm(self.axis), 1.0):
            raise ConfigError(f"{path}: [station].docking_axis_LVLH must be a unit vector")
        C_RL = Section(gnc, path, "attitude_reference").array("C_RL", (3, 3))
        # The chaser port in LVLH when the vehicle holds the docking attitude.
        self.port_L = C_RL.T @ np.asarray(port_B_m, dtype=np.float64)
        self.r_hold = np.array([d * self.axis - self.port_L for d in self.dist_m])
        self.hold_time_ns = int(g.float("hold_time_s", 0.0) * NS_PER_S)
        self.transfer_range = g.float("transfer_max_range_m", 0.0)
        self.transfer_tof = g.float("transfer_tof_s", 1.0)
        self.phasing_tof = g.float("phasing_tof_s", 1.0)
        self.midcourse = g.array("midcourse_fractions", None, 0.0)
        self.midcourse_min_dv = g.float("midcourse_min_dv_mps", 0.0)
        self.min_det = g.float("two_impulse_min_det", 0.0)
        self.pos_tol = g.array("gonogo_pos_tol_m", (n_holds, 3), 0.0)
        self.vel_tol = g.array("gonogo_vel_tol_mps", (n_holds, 3), 0.0)
        self.max_retries = g.int("max_retries", 0, 100)
        self.prof_r = g.array("profile_range_m", None, 0.0)
        self.prof_v = g.array("profile_speed_mps", None, 0.0)
        if self.prof_r.shape != self.prof_v.shape or np.any(np.diff(self.prof_r) <= 0):
            raise ConfigError(f"{path}: [guidance].profile_range_m must ascend and match profile_speed_mps")
        self.k_v = g.float("k_v_1_s", 0.0)
        self.k_lat = g.float("k_lat_1_s", 0.0)
        self.v_lat_max = g.float("v_lat_max_mps", 0.0)
        self.a_max = g.float("a_max_mps2", 0.0)
        self.hold_kp = g.float("hold_kp_1_s2", 0.0)
        self.hold_kd = g.float("hold_kd_1_s", 0.0)
        self.retreat_speed = g.float("retreat_speed_mps", 0.0)
        self.cam_mags = g.array("cam_dv_mps", None, 0.0)
        self.cam_dirs = g.array("cam_dirs_LVLH", None)
        self.cam_horizon_orbits = g.float("cam_horizon_orbits", 0.0)
        self.cam_samples = g.int("cam_samples", 1, 100_000)
        self.cam_min_clear = g.float("cam_min_clear_m", 0.0)
        self.cam_kos_margin = g.float("cam_kos_margin_m", 0.0)
        self.kos_radius = Section(gnc, path, "docking").float("kos_radius_m", 0.0)
        # a NAV_STATE older than this is invalid to guidance (a navigation task that stopped)
        self.nav_max_age_ns = int(Section(gnc, path, "navigation").float("max_age_s", 0.0) * NS_PER_S)
        self.cmd = bus.publish("GUIDANCE_CMD", name)
        self.state = bus.publish("GUIDANCE_STATE", name)
        self.prm = np.zeros(1, GUIDANCE_PARAMS)
        p = self.prm[0]
        p["port_L_m"], p["docking_axis_L"] = self.port_L, self.axis
        p["k_v_1_s"], p["k_lat_1_s"], p["v_lat_max_mps"] = self.k_v, self.k_lat, self.v_lat_max
        p["a_max_mps2"] = self.a_max
        p["hold_kp_1_s2"], p["hold_kd_1_s"], p["retreat_speed_mps"] = self.hold_kp, self.hold_kd, self.retreat_speed
        self.profile = np.array([self.prof_r, self.prof_v])
        self._scratch = np.zeros(1, GUIDANCE_SCRATCH)
        self._v_cmd = self._scratch[0]["v_cmd_L_mps"]  # view: the closing law's or a retreat's velocity command
        self._dv1 = np.zeros(3)
        self._dv2 = np.zeros(3)
        self._zero3 = np.zeros(3)
        self._scratch6 = np.zeros(6)
        self._xburn = np.zeros(6)
        self._cam_report = np.zeros(3)
        self.phase = PHASE["IDLE"]
        self.hold_index = start_hold         # index of the hold we are at or heading to
        self.target = start_hold       # segment target index (CONTACT for the port)
        self.hold_target_r = np.zeros(3)
        self.retries = 0
        self.dv_total = 0.0
        self._start_hold = start_hold
        self._phase_t0 = 0
        self._tof_ns = 0
        self._midcourse_done = 0
        self._saved = None             # (phase, target, mode) interrupted by a HOLD command
        self.hold_time_log: dict[int, float] = {}
        self.hold_arrival_log: dict[int, float] = {}  # [s] mission time of the first arrival at each hold
        self.cam_trigger = TRIGGER["NONE"]
        self._holding_by_command = False
        self._ground_hold = False      # a ground HOLD stands: only a ground command moves the vehicle on
        self.far_range = False         # far-range guidance flies from insertion to the first hold (hands over)
        modes.on_change(self._on_mode_change)
        if commanding is not None:
            commanding.register("APPROACH_HOLD", self._cmd_hold)
            commanding.register("APPROACH_RESUME", self._cmd_resume)
            commanding.register("APPROACH_RETREAT", self._cmd_retreat)
            commanding.register("ABORT", lambda args, t_ns: self.cam(TRIGGER["COMMAND"], t_ns))

    @classmethod
    def from_context(cls, ctx):
        """The guidance task's constructor from the topology's context (fsw/contract.py)."""
        port_B_m = ctx.vehicle.about_com(ctx.vehicle.port_B_m)  # w.r.t. the centre of mass as loaded
        return cls(ctx.name, ctx.bus, ctx.events, ctx.gnc, ctx.gnc_path, ctx.modes, port_B_m,
                   start_hold=ctx.start_hold, commanding=ctx.commanding)

    def start(self) -> None:
        self._mode = self.bus.get("MODE", self.name)
        self.nav = self.bus.get("NAV_STATE", self.name)
        self.orbit = self.bus.get("ORBIT_REF", self.name)
        self._r = self.nav["r_LVLH_m"]
        self._v = self.nav["v_LVLH_mps"]
        self._nav_valid = self.nav["valid"].reshape(1)  # 1-element views: cheap reads every step
        self._nav_t_ns = self.nav["t_ns"].reshape(1)
        self._port_target = -self.port_L
        # the per-step kernels through their compiled entry points, records bound (fsw/dispatch.py)
        nav, orbit, cmd, state = (r.reshape(1) for r in (self.nav, self.orbit, self.cmd, self.state))
        self._closing = bind(closing_step, self.prm, self._scratch, self.profile, nav, orbit, cmd)
        self._hold_accel = bind(hold_step, self.prm, nav, orbit, cmd, sample=(self._zero3,))
        self._goto_accel = bind(goto_step, self.prm, self._scratch, nav, orbit, cmd, sample=(self._zero3,))
        self._publish_kernel = bind(guidance_publish, state, cmd,
                                    sample=(0, 0, 0, 0, True, self._zero3, self._zero3, 0.0, 0))

    # ------------------------------------------------------------------ mode helpers
    def _mode_for_segment(self, target: int) -> str:
        if target == CONTACT:
            return "FINAL_APPROACH"
        return ("PHASING", "HOMING")[target] if target < 2 else "CLOSING"

    def _mode_at_hold(self, hold: int) -> str:
        return "HOMING" if hold == 0 else "CLOSING"

    def _set_mode(self, mode: str, t_ns: int) -> bool:
        ok, _ = self.modes.request(mode, self.name, t_ns)
        return ok

    def _enter(self, phase: str, t_ns: int) -> None:
        self.phase = PHASE[phase]
        self._phase_t0 = t_ns
        self.emit("PHASE", "INFO", f"guidance {phase} hold {self.hold_index} target {self.target}",
                  (float(self.hold_index), float(self.target)))

    def _impulse(self, dv, t_ns: int, why: str) -> None:
        c = self.cmd
        c["dv_LVLH_mps"] = dv
        c["dv_seq"] += 1
        mag = float(np.linalg.norm(dv))
        self.dv_total += mag
        self.emit("BURN", "INFO", f"{why}: dv {mag:.3f} m/s", (mag, 0.0))

    # ------------------------------------------------------------------ segment starts
    def _start_segment(self, target: int, t_ns: int, retreat: bool = False) -> None:
        """Leave the current hold for hold ``target`` (or CONTACT)."""
        self.target = target
        self._set_mode("RETREAT" if retreat else self._mode_for_segment(target), t_ns)
        far = target != CONTACT and (self.dist_m[target] > self.transfer_range
                                     or float(np.linalg.norm(self._r)) > self.transfer_range)
        if retreat and not far:
            self._enter("RETREAT", t_ns)
        elif far:
            tof = self.phasing_tof if self.hold_index < 0 else self.transfer_tof
            self._tof_ns = int(tof * NS_PER_S)
            self._midcourse_done = 0
            self._enter("TRANSFER", t_ns)
            self._retarget(t_ns, tof, "transfer")
        else:
            self._enter("FINAL" if target == CONTACT else "CLOSING", t_ns)

    def _retarget(self, t_ns: int, tof_s: float, why: str) -> None:
        n = float(self.orbit["n_rad_s"])
        status = cw_two_impulse(self._r, self._v, self.r_hold[self.target], self._zero3, n, tof_s, self.min_det,
                                self._dv1, self._dv2)
        if status:
            self.emit("BURN", "WARNING", f"{why}: CW targeting singular (status {status})", (float(status), tof_s))
            return
        if why == "transfer" or float(np.linalg.norm(self._dv1)) >= self.midcourse_min_dv:
            self._impulse(self._dv1.copy(), t_ns, why)

    def _arrive(self, hold: int, t_ns: int) -> None:
        self.hold_arrival_log.setdefault(hold, t_ns / NS_PER_S)
        self.hold_index = hold
        self.hold_target_r = self.r_hold[hold].copy()
        self._set_mode(self._mode_at_hold(hold), t_ns)
        self._enter("STATION_KEEP", t_ns)

    # ------------------------------------------------------------------ commands and triggers
    def cam(self, trigger: int, t_ns: int) -> None:
        """Collision-avoidance manoeuvre: the smallest candidate burn whose free drift stays out of the KOS."""
        if self.phase in (PHASE["CAM"], PHASE["DOCKED"]):
            return
        x = np.concatenate([self._r, self._v])
        n = float(self.orbit["n_rad_s"])
        horizon = self.cam_horizon_orbits * 2.0 * math.pi / n
        dv = np.zeros(3)
        choice = cam_select(x, n, self.cam_mags, self.cam_dirs, self.kos_radius + self.cam_kos_margin,
                            self.cam_min_clear, horizon,
                            self.cam_samples, self._scratch6, self._xburn, dv, self._cam_report)
        self.cam_trigger = trigger
        self._set_mode("CAM", t_ns)
        self.phase = PHASE["CAM"]
        self._phase_t0 = t_ns
        self.cmd["translation_enabled"] = 0
        self._impulse(dv, t_ns, "CAM")
        sev = "CRITICAL" if choice < 0 else "WARNING"
        why = ABORT_TRIGGERS.get(trigger, "?")
        self.emit("CAM", sev, f"CAM ({why}): min range after {self._cam_report[0]:.0f} m",
                  (float(trigger), float(self._cam_report[0])))

    def external_impulse(self, dv_L_mps, t_ns: int) -> None:
        """An impulse of far-range guidance for thruster control to deliver (LVLH): not counted in this app's
        delta-v (far-range guidance accounts for its own burns)."""
        c = self.cmd
        c["dv_LVLH_mps"] = dv_L_mps
        c["dv_seq"] += 1

    def far_range_arrived(self, t_ns: int) -> None:
        """Far-range guidance's last burn is done at the first hold: station keeping and go/no-go from here."""
        if self.phase == PHASE["IDLE"]:
            self._arrive(0, t_ns)

    def docked(self, t_ns: int) -> None:
        """Capture confirmed by the docking mechanism."""
        if self.phase == PHASE["DOCKED"]:
            return
        self._set_mode("DOCKED", t_ns)
        self.phase = PHASE["DOCKED"]
        self.cmd["translation_enabled"] = 0
        self.emit("DOCKED", "INFO", "docked: capture confirmed", (0.0, 0.0))

    def _on_mode_change(self, old: str, new: str, t_ns: int) -> None:
        """SAFE (set by FDIR or the ground) stops the approach: hold where the vehicle is, for the ground."""
        if new == "SAFE" and self.phase not in (PHASE["CAM"], PHASE["DOCKED"], PHASE["IDLE"]):
            self._saved = None
            self._ground_hold = False  # SAFE replaces any hold: the ground leaves SAFE by a mode command
            self.hold_target_r = self._r.copy()
            self.phase = PHASE["STATION_KEEP"]
            self._phase_t0 = t_ns
            self._holding_by_command = True
            self.emit("PHASE", "WARNING", "SAFE: approach stopped, holding position", (0.0, 0.0))

    def hold(self, t_ns: int) -> tuple[bool, str]:
        """Station-keep where the vehicle is until RESUME (ground HOLD or FDIR)."""
        if self.phase in (PHASE["CAM"], PHASE["DOCKED"]):
            return False, "no HOLD after CAM or docking"
        saved = self._saved or (self.phase, self.target, self.modes.mode)
        if not self._set_mode("HOLD", t_ns):
            return False, f"HOLD not allowed from {self.modes.mode}"
        self._saved = saved
        self.hold_target_r = self._r.copy()
        self.phase = PHASE["STATION_KEEP"]
        self._phase_t0 = t_ns
        self._holding_by_command = True
        return True, "ok"

    def retreat(self, t_ns: int, ground: bool = False) -> tuple[bool, str]:
        """Go back to the nearest hold point behind the vehicle (ground RETREAT, or FDIR unless the ground
        holds the approach)."""
        if self.phase in (PHASE["CAM"], PHASE["DOCKED"]):
            return False, "no RETREAT after CAM or docking"
        if self._ground_hold and not ground:
            return False, GROUND_HOLD_REFUSAL
        back = self._previous_hold()
        if back is None:
            return False, "no hold point behind the vehicle"
        self._saved = None
        self._ground_hold = False
        self._holding_by_command = False
        self.hold_index = back
        self._start_segment(back, t_ns, retreat=True)
        return True, "ok"

    def retry(self, t_ns: int) -> tuple[bool, str]:
        """FDIR's recovery from a HOLD whose cause has cleared: retreat to the hold point behind the vehicle
        and approach again from there (its go/no-go decides); at the first hold, where nothing is behind,
        resume the hold and its go/no-go."""
        if self.phase in (PHASE["CAM"], PHASE["DOCKED"]):
            return False, "no retry after CAM or docking"
        if self._saved is None or self.modes.mode != "HOLD":
            return False, "not holding"
        if self._ground_hold:
            return False, GROUND_HOLD_REFUSAL
        if self._previous_hold() is None:
            self._cmd_resume(None, t_ns)
            self.emit("PHASE", "INFO", f"retry: resume at hold {self.hold_index}", (float(self.hold_index), 0.0))
            return True, "ok"
        ok, reason = self.retreat(t_ns)
        if ok:
            self.emit("PHASE", "INFO", f"retry: retreat to hold {self.hold_index}", (float(self.hold_index), 0.0))
        return ok, reason

    def _cmd_hold(self, args, t_ns):
        ok, reason = self.hold(t_ns)
        if not ok:
            raise CommandRejected("ILLEGAL_IN_MODE", reason)
        self._ground_hold = True

    def _cmd_resume(self, args, t_ns):
        if self._saved is None:
            raise CommandRejected("ILLEGAL_IN_MODE", "nothing to resume")
        phase, target, mode = self._saved
        self._saved = None
        self._ground_hold = False
        self._holding_by_command = False
        if phase == PHASE["STATION_KEEP"]:
            self._set_mode(mode, t_ns)
            self.hold_target_r = self.r_hold[self.hold_index].copy()
            self.phase = phase
            self._phase_t0 = t_ns
        else:
            self._start_segment(target, t_ns, retreat=phase == PHASE["RETREAT"])

    def _cmd_retreat(self, args, t_ns):
        ok, reason = self.retreat(t_ns, ground=True)
        if not ok:
            raise CommandRejected("ILLEGAL_IN_MODE", reason)

    def _previous_hold(self):
        """Nearest hold point farther out than the vehicle (by axial distance of its port)."""
        d = float(np.dot(self._r + self.port_L, self.axis))
        farther = [i for i, dist in enumerate(self.dist_m) if dist > d + 1.0]
        return farther[-1] if farther else None

    # ------------------------------------------------------------------ step
    def step(self, t_ns: int) -> None:
        nav_ok = self._nav_valid[0] != 0 and t_ns - self._nav_t_ns[0] <= self.nav_max_age_ns
        phase = self.phase
        translate = 0
        if phase == _P_CLOSING or phase == _P_FINAL:
            if nav_ok:
                translate = 1
                self._step_closing(t_ns)
        elif phase == _P_STATION_KEEP:
            if nav_ok:
                translate = 1
                self._hold_accel(self.hold_target_r)
                if not self._holding_by_command and t_ns - self._phase_t0 >= self.hold_time_ns:
                    self._go_no_go(t_ns)
        elif phase == _P_IDLE:
            # STANDBY (or SAFE) keeps guidance idle: the approach starts in an approach mode only.
            if nav_ok and int(self._mode["mode"]) not in _IDLE_MODES and not self.far_range:
                if self._start_hold < 0:
                    self.hold_index = -1
                    self._start_segment(0, t_ns)
                else:
                    self._arrive(self._start_hold, t_ns)
        elif phase == _P_CAM or phase == _P_DOCKED or not nav_ok:
            pass  # after CAM / docking nothing; on an invalid solution coast (the docking monitor may abort)
        elif phase == _P_TRANSFER:
            self._step_transfer(t_ns)
        elif phase == _P_RETREAT:
            translate = 1
            dist = self._goto_accel(self.r_hold[self.target])
            if dist < self.pos_tol[self.target].min():
                self._arrive(self.target, t_ns)
        self._publish(t_ns, translate)

    def _step_transfer(self, t_ns: int) -> None:
        elapsed = t_ns - self._phase_t0
        k = self._midcourse_done
        if k < self.midcourse.shape[0] and elapsed >= self.midcourse[k] * self._tof_ns:
            self._midcourse_done += 1
            self._retarget(t_ns, (self._tof_ns - elapsed) / NS_PER_S, "mid-course")
        if elapsed >= self._tof_ns:
            self._impulse(-self._v.copy(), t_ns, "transfer arrival")
            self._arrive(self.target, t_ns)

    def _step_closing(self, t_ns: int) -> None:
        d = self._closing()
        if self.target != CONTACT and d <= self.dist_m[self.target]:
            self._arrive(self.target, t_ns)

    def _go_no_go(self, t_ns: int) -> None:
        i = self.hold_index
        code = go_no_go(self._r, self._v, self.r_hold[i], self.pos_tol[i], self.vel_tol[i], bool(self.nav["valid"]))
        self.state["go"] = code == 0
        self.hold_time_log[i] = self.hold_time_log.get(i, 0.0) + (t_ns - self._phase_t0) / NS_PER_S
        if code == 0:
            self.emit("GO", "INFO", f"GO at hold {i} ({self.dist_m[i]:.0f} m)", (float(i), 0.0))
            self.retries = 0
            nxt = i + 1 if i + 1 < self.dist_m.shape[0] else CONTACT
            self._start_segment(nxt, t_ns)
            return
        self.emit("NOGO", "WARNING", f"NO-GO at hold {i} (code {code})", (float(i), float(code)))
        if self.retries >= self.max_retries:
            self.emit("RETRIES_EXHAUSTED", "ERROR", f"hold {i}: retries exhausted, holding for the ground",
                      (float(i), float(self.retries)))
            self._set_mode("HOLD", t_ns)
            self._saved = (PHASE["STATION_KEEP"], self.target, self._mode_at_hold(i))
            self._holding_by_command = True
            return
        self.retries += 1
        if i > 0:
            self._start_segment(i - 1, t_ns, retreat=True)
        else:
            self._phase_t0 = t_ns  # nothing behind the first hold: keep holding and check again

    def _publish(self, t_ns: int, translate: int) -> None:
        phase = self.phase
        tgt = self.hold_target_r if phase == _P_STATION_KEEP else (
            self.r_hold[self.target] if self.target != CONTACT else self._port_target)
        vt = self._v_cmd if phase == _P_CLOSING or phase == _P_FINAL else self._zero3
        self._publish_kernel(t_ns, phase, self.hold_index, translate, phase != _P_CAM and phase != _P_DOCKED, tgt,
                             vt, float(self.dv_total), self.retries)

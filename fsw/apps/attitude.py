"""Attitude determination (MEKF: gyro + star tracker, gyro bias), attitude control (quaternion PD) and
the thruster-health checks FDIR reads (THRUSTER_CHECK)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.config_loader import Section, load_vehicle
from fsw.core.adcs import ATT_FILTER, ATT_PARAMS, ST_REJECTED, attitude_step
from fsw.core.control import (
    MAX_TR,
    N_GROUPS,
    TR_CHECK,
    group_authority,
    thruster_group_wrench,
    translation_signatures,
)
from fsw.core.estimation import WORK_SHAPE
from fsw.dispatch import bind
from telemetry.dictionary import MODES
from telemetry.units import NS_PER_S

_UNCONTROLLED = {code for code, name in MODES.items() if name in ("STANDBY", "DOCKED")}


class AttitudeControl(App):
    """Publishes ATT_STATE (estimate and errors), TORQUE_CMD (docking attitude, LVLH-fixed) and THRUSTER_CHECK.

    THRUSTER_CHECK: ``alpha_resid_rad_s2`` is the filtered angular-acceleration residual of the steps
    without translation firing (a stuck-on thruster, attitude or translation); ``response_ratio`` is
    the estimated thrust / nominal of the weakest translation thruster, from the parasitic torque
    its group makes while it fires (``fsw.core.control.translation_response_check``; nan until a
    group has fired enough to be judged). ``accel_resid_mps2`` is not computed (nan).
    ``vehicle`` is the flight vehicle table (default: ``vehicle.toml`` next to ``path``).
    """

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "attitude"
    reads = ("ATT_REF", "ENGINE_PERIOD", "MODE", "NAV_STATE", "ORBIT_REF", "THRUSTER_PERIOD")
    writes = ("ATT_STATE", "THRUSTER_CHECK", "TORQUE_CMD")
    config_section = "attitude"
    event_names = ("ATT_INIT", "ATT_RESET", "ST_REJECT")

    def __init__(self, name: str, bus: Bus, events, hal, gnc: dict, path, inertia_kg_m2, vehicle=None):
        super().__init__(name, bus, events)
        a = Section(gnc, path, "attitude")
        self.init_att = a.float("init_sigma_att_rad", 0.0)
        self.init_bias = a.float("init_sigma_bias_rad_s", 0.0)
        self.max_rejects = a.int("reset_after_rejections", 1, 10_000)
        self.reset_bias = a.float("reset_sigma_bias_rad_s", 0.0)
        self.prm = np.zeros(1, ATT_PARAMS)
        p = self.prm[0]
        p["arw_rad_sqrt_s"] = a.float("gyro_arw_rad_sqrt_s", 0.0)
        p["gyro_hold_sigma_rad_s"] = a.float("gyro_hold_sigma_rad_s", 0.0)
        p["rrw_rad_s_sqrt_s"] = a.float("gyro_rrw_rad_s_sqrt_s", 0.0)
        p["star_tracker_sigma_rad"] = a.float("star_tracker_sigma_cross_rad", 0.0)
        p["star_tracker_sigma_roll_rad"] = a.float("star_tracker_sigma_roll_rad", 0.0)
        u = a.array("star_tracker_boresight_B", (3,))
        if not abs(float(np.linalg.norm(u)) - 1.0) < 1e-6:
            raise ConfigError(f"{path}: [attitude].star_tracker_boresight_B must be a unit vector, got {u.tolist()}")
        p["star_tracker_boresight_B"] = u
        p["gate_chi2"] = a.float("gate_chi2", 0.0)
        p["K_Nm"] = a.array("K_Nm", (3,), 0.0)
        p["P_Nms"] = a.array("P_Nms", (3,), 0.0)
        p["u_max_Nm"] = a.array("u_max_Nm", (3,), 0.0)
        p["check_tau_s"] = a.float("thruster_check_tau_s", 0.0)
        p["engine_settle_ns"] = int(a.float("engine_settle_s", 0.0) * NS_PER_S)
        p["gyro_max_rad_s"] = a.float("gyro_max_rate_rad_s", 0.0)
        p["inertia_kg_m2"] = np.array(inertia_kg_m2, dtype=np.float64)
        C_RL = Section(gnc, path, "attitude_reference").array("C_RL", (3, 3))
        if not np.allclose(C_RL @ C_RL.T, np.eye(3), atol=1e-9):
            raise ValueError(f"{path}: [attitude_reference].C_RL is not a rotation matrix")
        p["C_RL"] = self.C_RL = C_RL
        self.tr = np.zeros(1, TR_CHECK)
        t = self.tr[0]
        t["prior_N2s2"] = a.float("thruster_check_prior_Ns", 0.0) ** 2
        t["memory_N2s2"] = a.float("thruster_check_memory_Ns", 0.0) ** 2
        t["gate_Nm"] = a.float("thruster_check_gate_Nm", 0.0)
        t["tau_s"] = p["check_tau_s"]
        t["ratio"], t["weakest"] = np.nan, -1
        v = load_vehicle(Path(path).parent / "vehicle.toml") if vehicle is None else vehicle
        wrench = np.zeros((N_GROUPS, 6))
        thruster_group_wrench(v.pos_B_m, v.dir_B, v.thrust_N, v.group_idx, np.zeros(3), wrench)
        authority = np.zeros(N_GROUPS)
        group_authority(wrench, authority, np.zeros(N_GROUPS))
        if np.count_nonzero(v.group_idx < 6) > MAX_TR:
            raise ConfigError(f"{name}: more than {MAX_TR} translation thrusters for the thruster check")
        translation_signatures(v.about_com(v.pos_B_m), v.dir_B, v.thrust_N, v.group_idx, authority, self.tr)
        self._tr_names = tuple(n for n, g in zip(v.thruster_names, v.group_idx, strict=True) if g < 6)
        self.I = p["inertia_kg_m2"]
        self.gyro = hal.sensor("DEV_GYRO")
        self.st = hal.sensor("DEV_STAR_TRACKER")
        self.out = bus.publish("ATT_STATE", name)
        self.torque = bus.publish("TORQUE_CMD", name)
        self.check = bus.publish("THRUSTER_CHECK", name)
        self.check["accel_resid_mps2"] = np.nan  # not computed: see the class doc
        self.check["response_ratio"] = np.nan
        self.flt = np.zeros(1, ATT_FILTER)
        f = self.flt[0]
        self.q, self.bias, self.P, self.omega = f["q_BN"], f["bias_B_rad_s"], f["P"], f["omega_BN_B_rad_s"]  # views
        self.err = f["err"]
        self.q[0] = 1.0
        self.work = np.zeros(WORK_SHAPE)
        self.initialised = False
        self._rejects = 0  # star-tracker samples rejected in a row
        self._st_seq = 0
        self._t_ns = 0

    def start(self) -> None:
        self.orbit = self.bus.get("ORBIT_REF", self.name)
        self.mode = self.bus.get("MODE", self.name)
        self.thr = self.bus.get("THRUSTER_PERIOD", self.name)
        self._gyro_w = self.gyro["omega_BN_B_rad_s"]
        self._st_q = self.st["q_BN"]
        # the orbit-control engines' firing (published by far-range guidance; a zero record without it)
        self.eng = self.bus.get_or_blank("ENGINE_PERIOD", self.name)
        # the station port's attitude seen by the camera (relative navigation; a zero record without it)
        self.nav = self.bus.get_or_blank("NAV_STATE", self.name)
        views = tuple(r.reshape(1) for r in (self.gyro, self.st, self.orbit, self.thr, self.eng, self.nav, self.out,
                                             self.torque, self.check))
        self._step = bind(attitude_step, self.prm, self.flt, self.tr, self.work, *views, sample=(0, 0.0, False, False))
        # another attitude than the docking one while far-range guidance slews and burns (ATT_REF.active)
        self._ref = self.bus.get("ATT_REF", self.name) if "ATT_REF" in self.bus else None
        self._ref_on = False

    def step(self, t_ns: int) -> None:
        ref = self._ref
        if ref is not None and (ref["active"] or self._ref_on):
            self._ref_on = bool(ref["active"])
            self.prm[0]["C_RL"] = ref["C_RL"] if self._ref_on else self.C_RL
        st = self.st
        new_st = bool(st["seq"] != self._st_seq and st["valid"])
        self._st_seq = int(st["seq"])
        if not self.initialised:
            if not new_st:
                return
            self.q[:] = self._st_q
            self.P[:] = 0.0
            for i in range(3):
                self.P[i, i] = self.init_att ** 2
                self.P[3 + i, 3 + i] = self.init_bias ** 2
            self.initialised = True
            self._t_ns = t_ns
            self.omega[:] = self._gyro_w
            self.flt[0]["omega_prev_B_rad_s"] = self._gyro_w
            self.emit("ATT_INIT", "INFO", "attitude initialised from the star tracker")
            new_st = False
        dt = (t_ns - self._t_ns) / NS_PER_S
        self._t_ns = t_ns
        flags = self._step(t_ns, dt, new_st, int(self.mode["mode"]) not in _UNCONTROLLED)
        if flags & ST_REJECTED:
            self._rejects += 1
            self.emit("ST_REJECT", "WARNING", "star tracker sample rejected by the gate")
            if self._rejects >= self.max_rejects:
                # The filter no longer believes a healthy star tracker (a gyro fault it integrated, a bias
                # shift it cannot follow): restart the attitude from the sample it refused, keeping the
                # bias estimate with a covariance wide enough to learn a new one.
                self._rejects = 0
                self.q[:] = self._st_q
                self.P[:] = 0.0
                for i in range(3):
                    self.P[i, i] = self.init_att ** 2
                    self.P[3 + i, 3 + i] = self.reset_bias ** 2
                self.emit("ATT_RESET", "ERROR", f"{self.max_rejects} star tracker rejections in a row: "
                          "attitude reset")
        elif new_st:
            self._rejects = 0

    @property
    def weakest_translation_thruster(self) -> tuple[str, float] | None:
        """Name and estimated thrust / nominal of the weakest judged translation thruster (None: none yet)."""
        i = int(self.tr[0]["weakest"])
        if not 0 <= i < len(self._tr_names):
            return None
        return self._tr_names[i], float(self.tr[0]["ratio"])

    @property
    def attitude_error_rad(self) -> float:
        """Principal angle of the attitude error (from the last step)."""
        return float(math.sqrt(self.err[0] ** 2 + self.err[1] ** 2 + self.err[2] ** 2))

"""Thruster control (10 Hz): force and torque commands -> one control period of thruster on-times.

The command goes to the actuator as on-times from the command time; the valve drive electronics
(the truth model in SIL, the device on a bench) fire a pulse longer than a minor frame over
consecutive frames, so no 100 Hz flight task is needed to slice pulses.
"""

from __future__ import annotations

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.core.attitude import quat_to_dcm
from fsw.core.control import N_GROUPS, group_authority, thruster_group_wrench, thruster_on_times
from telemetry.dictionary import MODES

NS_PER_S = 1e9
G0_MPS2 = 9.80665  # standard gravity, defines Isp
_THRUSTERS_OFF = {code for code, name in MODES.items() if name in ("STANDBY", "DOCKED")}
# Relative parasitic force/torque a group may have and still count as pure (table sanity check).
_MAX_CROSSTALK = 1e-6
_DV_DONE_MPS = 1e-4  # an impulse request below this is complete


class ThrusterControl(App):
    """Turns GUIDANCE_CMD (acceleration, impulses) and TORQUE_CMD into a period of thruster on-times."""

    def __init__(self, name: str, bus: Bus, events, hal, vehicle, period_s: float):
        super().__init__(name, bus, events)
        self.act = hal.actuator("ACT_THRUSTERS")
        self.v = vehicle
        self.period_s = float(period_s)
        wrench = np.zeros((N_GROUPS, 6))
        thruster_group_wrench(vehicle.pos_B_m, vehicle.dir_B, vehicle.thrust_N, vehicle.group_idx, np.zeros(3),
                              wrench)
        self.authority = np.zeros(N_GROUPS)
        crosstalk = np.zeros(N_GROUPS)
        group_authority(wrench, self.authority, crosstalk)
        bad = np.nonzero((self.authority <= 0) | (crosstalk > _MAX_CROSSTALK * np.maximum(self.authority, 1.0)))[0]
        if bad.size:
            raise ConfigError(f"{name}: thruster groups {bad.tolist()} are missing or not pure forces/couples")
        # The valve's minimum on-time, from the attitude thrusters' minimum impulse bit.
        t_min = vehicle.mib_Ns / float(vehicle.thrust_N[vehicle.group_idx >= 6].min())
        self.t_min = np.full(N_GROUPS, t_min)
        self.mdot_kg_s = vehicle.thrust_N / (vehicle.isp_s * G0_MPS2)
        self.carry = np.zeros(6)
        self.on_group = np.zeros(N_GROUPS)
        self.C_BN = np.zeros((3, 3))
        self.C_BL = np.zeros((3, 3))
        self.pending_dv = np.zeros(3)
        self.force_B = np.zeros(3)
        self.out = bus.publish("THRUSTER_PERIOD", name)
        self.prop = bus.publish("PROPULSION", name)
        self._dv_seq = 0
        self.prop_used_kg = 0.0
        self._is_trans = vehicle.group_idx < 6

    def start(self) -> None:
        b = self.bus
        self.gcmd = b.get("GUIDANCE_CMD", self.name)
        self.tcmd = b.get("TORQUE_CMD", self.name)
        self.att = b.get("ATT_STATE", self.name)
        self.orbit = b.get("ORBIT_REF", self.name)
        self.mode = b.get("MODE", self.name)
        self._on = self.act["on_time_s"]
        self._q = self.att["q_BN"]
        self._C_LN = self.orbit["C_LVLH_N"]

    @property
    def mass_kg(self) -> float:
        return self.v.mass_kg - self.prop_used_kg

    def step(self, t_ns: int) -> None:
        out = self.out
        g = self.gcmd
        if g["dv_seq"] != self._dv_seq:
            self._dv_seq = int(g["dv_seq"])
            self.pending_dv += g["dv_LVLH_mps"]
        if int(self.mode["mode"]) in _THRUSTERS_OFF or not self.att["valid"]:
            self._on[:] = 0.0
            out["force_B_N"] = 0.0
            out["dv_LVLH_mps"] = 0.0
        else:
            quat_to_dcm(self._q, self.C_BN)
            np.dot(self.C_BN, self._C_LN.T, out=self.C_BL)
            m = self.mass_kg
            if np.any(self.pending_dv):
                a_L = self.pending_dv / self.period_s
            elif g["translation_enabled"]:
                a_L = g["accel_LVLH_mps2"]
            else:
                a_L = np.zeros(3)
            self.force_B = m * (self.C_BL @ a_L)
            thruster_on_times(self.force_B, self.tcmd["torque_B_Nm"], self.period_s, self.authority, self.t_min,
                              self.v.group_idx, self.carry, self.on_group, self._on)
            # What the pulses deliver (channel by channel), for navigation and the pending impulse.
            delivered_B = np.zeros(3)
            for c in range(3):
                delivered_B[c] = (self.on_group[2 * c] * self.authority[2 * c]
                                  - self.on_group[2 * c + 1] * self.authority[2 * c + 1]) / self.period_s
            dv_L = self.C_BL.T @ delivered_B * (self.period_s / m)
            if np.any(self.pending_dv):
                self.pending_dv -= dv_L
                # Done once what is left is tiny or points back against what was asked.
                if np.linalg.norm(self.pending_dv) < _DV_DONE_MPS or np.dot(self.pending_dv, dv_L) < 0.0:
                    self.pending_dv[:] = 0.0
            out["force_B_N"] = delivered_B
            out["dv_LVLH_mps"] = dv_L
            on = self._on
            used = float(np.dot(on, self.mdot_kg_s))
            self.prop_used_kg += used
            p = self.prop
            p["prop_used_kg"] = self.prop_used_kg
            p["trans_on_time_s"] += float(on[self._is_trans].sum())
            p["att_on_time_s"] += float(on[~self._is_trans].sum())
            p["pulses"] += int(np.count_nonzero(on))
            p["t_ns"] = t_ns
            p["seq"] += 1
        out["t_ns"] = t_ns
        out["seq"] += 1
        act = self.act
        act["t_ns"] = t_ns
        act["seq"] += 1

"""Thruster control (10 Hz): force and torque commands -> one control period of thruster on-times.

The command goes to the actuator as on-times from the command time; the valve drive electronics
(the truth model in SIL, the device on a bench) fire a pulse longer than a minor frame over
consecutive frames, so no 100 Hz flight task is needed to slice pulses.
"""

from __future__ import annotations

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.core.control import N_GROUPS, group_authority, thruster_control_step, thruster_group_wrench
from telemetry.dictionary import MODES

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
        self.C_BL = np.zeros((3, 3))
        self.pending_dv = np.zeros(3)
        self.force_B = np.zeros(3)
        self.out = bus.publish("THRUSTER_PERIOD", name)
        self.prop = bus.publish("PROPULSION", name)
        self._dv_seq = 0
        self.totals = np.zeros(4)  # propellant used [kg], translation / attitude on-time [s], pulses

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
        self._accel = self.gcmd["accel_LVLH_mps2"]
        self._torque = self.tcmd["torque_B_Nm"]
        self._force_out = self.out["force_B_N"]
        self._torque_out = self.out["torque_B_Nm"]
        self._dv_out = self.out["dv_LVLH_mps"]
        self._zero3 = np.zeros(3)

    @property
    def mass_kg(self) -> float:
        """Mass estimate: loaded mass less the propellant the commanded pulses used."""
        return self.v.mass_kg - self.totals[0]

    def step(self, t_ns: int) -> None:
        out = self.out
        g = self.gcmd
        if g["dv_seq"] != self._dv_seq:
            self._dv_seq = int(g["dv_seq"])
            self.pending_dv += g["dv_LVLH_mps"]
        if int(self.mode["mode"]) in _THRUSTERS_OFF or not self.att["valid"]:
            self._on[:] = 0.0
            self._force_out[:] = 0.0
            self._torque_out[:] = 0.0
            self._dv_out[:] = 0.0
        else:
            accel = self._accel if g["translation_enabled"] else self._zero3
            thruster_control_step(self._q, self._C_LN, accel, self.pending_dv, _DV_DONE_MPS, self._torque,
                                  self.v.mass_kg - self.totals[0], self.period_s, self.authority, self.t_min,
                                  self.v.group_idx, self.mdot_kg_s, self.carry, self.on_group, self._on,
                                  self.C_BL, self.force_B, self._force_out, self._torque_out, self._dv_out,
                                  self.totals)
            p = self.prop
            p["prop_used_kg"] = self.totals[0]
            p["trans_on_time_s"] = self.totals[1]
            p["att_on_time_s"] = self.totals[2]
            p["pulses"] = self.totals[3]
            p["t_ns"] = t_ns
            p["seq"] += 1
        out["t_ns"] = t_ns
        out["seq"] += 1
        act = self.act
        act["t_ns"] = t_ns
        act["seq"] += 1

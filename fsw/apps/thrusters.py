"""Thruster control (10 Hz): force and torque commands -> one control period of thruster on-times.

The command goes to the actuator as on-times from the command time; the valve drive electronics
(the truth model in SIL, the device on a bench) fire a pulse longer than a minor frame over
consecutive frames, so no 100 Hz flight task is needed to slice pulses.
"""

from __future__ import annotations

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.core import propulsion as pr
from fsw.core.control import N_GROUPS, RAMP_OF_10_90, group_authority, thruster_group_wrench
from fsw.core.propulsion import thruster_app_step
from fsw.dispatch import bind
from telemetry.dictionary import MODES

G0_MPS2 = 9.80665  # standard gravity, defines Isp
_THRUSTERS_OFF = {"STANDBY", "DOCKED"}
# Relative parasitic force/torque a group may have and still count as pure (table sanity check).
_MAX_CROSSTALK = 1e-6
_DV_DONE_MPS = 1e-4  # an impulse request below this is complete


class ThrusterControl(App):
    """Turns GUIDANCE_CMD (acceleration, impulses) and TORQUE_CMD into a period of thruster on-times."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "thruster_control"
    reads = ("ATT_STATE", "ENGINE_PERIOD", "GUIDANCE_CMD", "MODE", "ORBIT_REF", "TORQUE_CMD")
    writes = ("PROPULSION", "THRUSTER_PERIOD")

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
        if max(MODES) >= pr.MAX_MODES:
            raise ConfigError(f"{name}: mode codes up to {max(MODES)}, the mode table holds {pr.MAX_MODES}")
        self.prm = np.zeros(1, pr.THRUSTER_PARAMS)
        p = self.prm[0]
        p["dv_done_mps"] = _DV_DONE_MPS
        p["exhaust_mps"] = vehicle.isp_s * G0_MPS2
        p["mass_kg"] = vehicle.mass_kg
        p["period_s"] = self.period_s
        p["thrusters_off"] = [MODES.get(m) in _THRUSTERS_OFF for m in range(pr.MAX_MODES)]
        p["authority"] = self.authority
        # the translation groups are pure forces about the table's origin; about the centre of mass as loaded
        # (the uplinked manifest) each makes a torque, which the allocation holds with the attitude groups
        about_com = np.zeros((N_GROUPS, 6))
        thruster_group_wrench(vehicle.pos_B_m, vehicle.dir_B, vehicle.thrust_N, vehicle.group_idx, vehicle.com_B_m,
                              about_com)
        p["parasitic_Nm"] = about_com[:6, 3:]
        # The valve's minimum on-time, from the attitude thrusters' minimum impulse bit.
        p["t_min_s"] = vehicle.mib_Ns / float(vehicle.thrust_N[vehicle.group_idx >= 6].min())
        # The valves' thrust profile (vehicle.toml valve_delay_s, rise_s, tail_s): the modulator's on-times are
        # full-thrust seconds, each group's valves are sent the on-time that delivers them (control.valve_on_time),
        # and THRUSTER_PERIOD reports what the profiles deliver inside each period (propulsion._shaped_period)
        translation = np.arange(N_GROUPS) < 6
        p["ramp_up_s"] = np.where(translation, vehicle.rise_s[1], vehicle.rise_s[0]) * RAMP_OF_10_90
        p["ramp_down_s"] = np.where(translation, vehicle.tail_s[1], vehicle.tail_s[0]) * RAMP_OF_10_90
        p["delay_s"] = np.where(translation, vehicle.valve_delay_s[1], vehicle.valve_delay_s[0])
        p["shaped"] = bool(np.any(p["ramp_up_s"] > 0.0) or np.any(p["ramp_down_s"] > 0.0) or np.any(p["delay_s"] > 0.0))
        self.mdot_kg_s = vehicle.thrust_N / (vehicle.isp_s * G0_MPS2)
        self.state = np.zeros(1, pr.THRUSTER_STATE)
        self.state[0]["pulse"][:, 1:] = -np.inf  # no valve command yet
        self.totals = self.state[0]["totals"]  # propellant used [kg], translation / attitude on-time [s], pulses
        self.out = bus.publish("THRUSTER_PERIOD", name)
        self.prop = bus.publish("PROPULSION", name)

    def start(self) -> None:
        b = self.bus
        # the engines' propellant (far-range guidance's estimate): none used in a flight without far-range guidance
        self.eng = b.get_or_blank("ENGINE_PERIOD", self.name)
        views = (b.get("GUIDANCE_CMD", self.name), b.get("TORQUE_CMD", self.name), b.get("ATT_STATE", self.name),
                 b.get("ORBIT_REF", self.name), b.get("MODE", self.name), self.eng, self.act, self.out, self.prop)
        self._step = bind(thruster_app_step, self.prm, self.state, self.v.group_idx, self.mdot_kg_s,
                          *(r.reshape(1) for r in views), sample=(0,))

    @property
    def mass_kg(self) -> float:
        """Mass estimate: loaded mass less the propellant the commanded pulses and the engines used."""
        return self.v.mass_kg - self.totals[0] - float(self.eng["prop_used_kg"])

    def step(self, t_ns: int) -> None:
        self._step(t_ns)

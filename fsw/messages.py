"""Records that flight applications exchange on the software bus.

A message is a 0-d numpy structured array, allocated once at start-up and updated in place.
Every record starts with ``t_ns`` [ns, mission time of the data] and ``seq`` (+1 per update).
Records that are also telemetry packets take their dtype from ``telemetry.dictionary`` so what
the ground sees is exactly what the apps exchanged; the records below are internal to the
flight software (field docs give unit and frame).
"""

from __future__ import annotations

import numpy as np

from telemetry.dictionary import N_HEATER_ZONES, TM_BY_NAME, record_dtype

_HEADER = [("t_ns", "<i8"), ("seq", "<u4")]

INTERNAL: dict[str, np.dtype] = {
    # Guidance -> thruster control.
    "GUIDANCE_CMD": np.dtype(_HEADER + [
        ("accel_LVLH_mps2", "<f8", (3,)),  # [m/s^2] commanded translational acceleration, LVLH
        ("dv_LVLH_mps", "<f8", (3,)),      # [m/s] impulse to execute (new when dv_seq changes), LVLH
        ("dv_seq", "<u4"),                 # +1 per new impulse request
        ("translation_enabled", "u1"),     # 1: translation control active (0: free drift)
    ]),
    # Station orbit knowledge the flight software keeps (onboard ephemeris of the uplinked state).
    "ORBIT_REF": np.dtype(_HEADER + [
        ("n_rad_s", "<f8"),                # [rad/s] station mean motion used by the CW models
        ("C_LVLH_N", "<f8", (3, 3)),       # rotation N -> station LVLH components
        ("omega_LN_L_rad_s", "<f8", (3,)), # [rad/s] LVLH rate w.r.t. N, LVLH frame
        ("rv_N", "<f8", (6,)),             # [m, m/s] station position and velocity, N frame
        ("refined_N", "<f8", (6,)),        # [m, m/s] sum of the corrections made to rv_N so far (a change is a
                                           # correction of knowledge, not motion: navigation moves its own copy)
    ]),
    # Attitude control -> thruster control.
    "TORQUE_CMD": np.dtype(_HEADER + [
        ("torque_B_Nm", "<f8", (3,)),      # [N m] commanded mean torque over the control period, B
    ]),
    # Thruster control -> navigation: what this control period's pulses deliver.
    "THRUSTER_PERIOD": np.dtype(_HEADER + [
        ("force_B_N", "<f8", (3,)),        # [N] mean force the on-times deliver over the period, B
        ("torque_B_Nm", "<f8", (3,)),      # [N m] mean torque the on-times deliver over the period, B
        ("dv_LVLH_mps", "<f8", (3,)),      # [m/s] delta-v the period's pulses give, LVLH (for navigation)
        ("impulse_sum_mps", "<f8"),        # [m/s] the pulses' impulses added as magnitudes, over the mass: what
                                           # execution errors scale with (a couple's two pulses count, not cancel)
        ("resp_group_force_N", "<f8", (6,)),  # [N] each translation group's mean force as the next step's mean
                                           # rates see it: this period's thrust weighted 1 - s / period, the last
                                           # one's s / period (propulsion.response_weights; the thruster checks)
        ("resp_torque_B_Nm", "<f8", (3,)),  # [N m] the mean torque so weighted, B
    ]),
    # Far-range guidance -> navigation: what the orbit-control engines delivered this period.
    "ENGINE_PERIOD": np.dtype(_HEADER + [
        ("dv_LVLH_mps", "<f8", (3,)),      # [m/s] delta-v of the period's engine firing, LVLH (flight estimate)
        ("dv_N_mps", "<f8", (3,)),         # [m/s] the same, inertial
        ("torque_B_Nm", "<f8", (3,)),      # [N m] the engines' torque over the period as the flight predicts it
                                           # (vehicle table + learned part, fsw/core/engines.py), B
        ("prop_used_kg", "<f8"),           # [kg] engine propellant used since launch (flight estimate): the mass
                                           # estimate of thruster control subtracts it as well as the thrusters'
    ]),
    # Far-range guidance -> attitude control: the attitude to hold instead of the docking attitude.
    "ATT_REF": np.dtype(_HEADER + [
        ("active", "u1"),                  # 1: hold C_RL below; 0: the configured docking attitude
        ("C_RL", "<f8", (3, 3)),           # rotation LVLH -> reference attitude R (rows: R axes in LVLH)
    ]),
    # Thermal control -> FDIR: is each zone's active heater actually heating?
    "HEATER_CHECK": np.dtype(_HEADER + [
        ("fall_C", "<f8", (N_HEATER_ZONES,)),  # [degC] fall of the filtered zone temperature since the
                                               # active heater reached full duty; 0 below full duty
        ("full_s", "<f8", (N_HEATER_ZONES,)),  # [s] time the active heater has been at full duty
    ]),
    # Attitude control -> FDIR: do the thrusters do what they are commanded to?
    "THRUSTER_CHECK": np.dtype(_HEADER + [
        ("alpha_resid_rad_s2", "<f4"),     # [rad/s^2] |measured - predicted angular acceleration|, B
        ("accel_resid_mps2", "<f4"),       # [m/s^2] |measured - predicted acceleration|, LVLH (nan: not computed)
        ("response_ratio", "<f4"),         # [-] estimated thrust / nominal of the weakest translation thruster
                                           #     (nan: no group judged yet)
    ]),
    # Mode manager output read by every app that behaves per mode.
    "MODE": np.dtype(_HEADER + [
        ("mode", "u1"),                    # telemetry.dictionary.MODES
        ("prev_mode", "u1"),
        ("entered_t_ns", "<i8"),           # [ns] mission time the current mode was entered
    ]),
}


def dtype_of(name: str) -> np.dtype:
    """Dtype of bus record ``name``: internal messages first, else the telemetry packet's record."""
    if name in INTERNAL:
        return INTERNAL[name]
    if name in TM_BY_NAME:
        return record_dtype(name)
    raise KeyError(f"no message named {name!r}: not an internal message nor a telemetry packet")


def new_message(name: str) -> np.ndarray:
    """A zeroed 0-d record of message ``name``."""
    return np.zeros((), dtype=dtype_of(name))

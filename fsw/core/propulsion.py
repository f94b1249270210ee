"""Thruster control's 10 Hz step as one kernel (fsw/apps/thrusters.py is its app).

Reads GUIDANCE_CMD, TORQUE_CMD, ATT_STATE, ORBIT_REF and MODE; writes the ACT_THRUSTERS on-times,
THRUSTER_PERIOD and PROPULSION in place (fsw.core.control.thruster_control_step does the
allocation and modulation).
"""

from __future__ import annotations

from numba import njit

from fsw.core.control import thruster_control_step

# prm
PRM_DV_DONE = 0   # [m/s] an impulse request below this is complete
PRM_MASS = 1      # [kg] loaded mass (the flight estimate subtracts the propellant used)
PRM_PERIOD = 2    # [s] control period
N_PRM = 3

# state (int64)
ST_DV_SEQ = 0     # GUIDANCE_CMD.dv_seq last taken
N_STATE = 1


@njit(cache=True)
def thruster_app_step(t_ns, prm, state, thrusters_off, authority, t_min, group_idx, mdot_kg_s, carry, on_group, C_BL,
                      force_B, pending_dv, accel, totals, gcmd, tcmd, att, orbit, mode, act, out, prop):
    """One control period; returns the saturation bits of the allocation (0 when thrusters are off).

    Parameters
    ----------
    t_ns : mission time [ns]. prm : (N_PRM,). state : (N_STATE,) int64, in/out.
    thrusters_off : bool per mode code: modes in which no thruster fires.
    authority ... totals : as :func:`fsw.core.control.thruster_control_step`; pending_dv (3,) in/out
        is the impulse still to deliver, LVLH; accel : (3,) scratch, the acceleration asked.
    gcmd, tcmd, att, orbit, mode : 1-element record views read (GUIDANCE_CMD, TORQUE_CMD, ATT_STATE,
        ORBIT_REF, MODE). act, out, prop : ACT_THRUSTERS, THRUSTER_PERIOD, PROPULSION written.
    """
    g = gcmd[0]
    if g.dv_seq != state[ST_DV_SEQ]:
        state[ST_DV_SEQ] = g.dv_seq
        for i in range(3):
            pending_dv[i] += g.dv_LVLH_mps[i]
    m = mode[0].mode
    o = out[0]
    a = act[0]
    sat = 0
    if (0 <= m < thrusters_off.shape[0] and thrusters_off[m]) or att[0].valid == 0:
        for k in range(a.on_time_s.shape[0]):
            a.on_time_s[k] = 0.0
        for i in range(3):
            o.force_B_N[i] = 0.0
            o.torque_B_Nm[i] = 0.0
            o.dv_LVLH_mps[i] = 0.0
    else:
        for i in range(3):
            accel[i] = g.accel_LVLH_mps2[i] if g.translation_enabled != 0 else 0.0
        sat = thruster_control_step(att[0].q_BN, orbit[0].C_LVLH_N, accel, pending_dv, prm[PRM_DV_DONE],
                                    tcmd[0].torque_B_Nm, prm[PRM_MASS] - totals[0], prm[PRM_PERIOD], authority, t_min,
                                    group_idx, mdot_kg_s, carry, on_group, a.on_time_s, C_BL, force_B, o.force_B_N,
                                    o.torque_B_Nm, o.dv_LVLH_mps, totals)
        p = prop[0]
        p.prop_used_kg = totals[0]
        p.trans_on_time_s = totals[1]
        p.att_on_time_s = totals[2]
        p.pulses = totals[3]
        p.t_ns = t_ns
        p.seq += 1
    o.t_ns = t_ns
    o.seq += 1
    a.t_ns = t_ns
    a.seq += 1
    return sat

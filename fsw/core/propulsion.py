"""Thruster control's 10 Hz step as one kernel (fsw/apps/thrusters.py is its app).

Reads GUIDANCE_CMD, TORQUE_CMD, ATT_STATE, ORBIT_REF and MODE; writes the ACT_THRUSTERS on-times,
THRUSTER_PERIOD and PROPULSION in place (fsw.core.control.thruster_control_step does the
allocation and modulation).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fsw.core.control import (
    N_CHANNELS,
    N_GROUPS,
    period_pulse_areas,
    period_wrench,
    thruster_control_step,
    valve_on_time,
)

MAX_MODES = 16  # mode codes the per-mode table holds (telemetry.dictionary.MODES; the app checks)

#: Thruster control's parameters (vehicle table, schedule), one record.
THRUSTER_PARAMS = np.dtype([
    ("dv_done_mps", "f8"),                   # an impulse request with less than this left is complete
    ("exhaust_mps", "f8"),                   # [m/s] effective exhaust velocity Isp g0 (thrust = mdot x this)
    ("mass_kg", "f8"),                       # loaded mass (the flight estimate subtracts the propellant used)
    ("period_s", "f8"),                      # control period
    ("thrusters_off", "u1", (MAX_MODES,)),   # 1 for the mode codes in which no thruster fires
    ("authority", "f8", (N_GROUPS,)),        # group authority [N or N m] (fsw.core.control.group_authority)
    ("t_min_s", "f8", (N_GROUPS,)),          # minimum on-time per group
    ("parasitic_Nm", "f8", (6, 3)),          # [N m] torque of each translation group about the known CoM, B
    ("shaped", "u1"),                        # 1: the valves ramp (below); the on-times sent are the valves'
    ("ramp_up_s", "f8", (N_GROUPS,)),        # [s] per group: the thrust's linear rise on opening ...
    ("ramp_down_s", "f8", (N_GROUPS,)),      # ... and its tail-off after closing (control.valve_on_time) ...
    ("delay_s", "f8", (N_GROUPS,)),          # ... after the valve's delay
], align=True)

#: Thruster control's state between periods and the scratch of the last one.
THRUSTER_STATE = np.dtype([
    ("dv_seq", "i8"),                        # GUIDANCE_CMD.dv_seq last taken
    ("pending_dv_L_mps", "f8", (3,)),        # impulse still to deliver, LVLH
    ("carry", "f8", (N_CHANNELS,)),          # modulator: impulse not yet delivered per channel
    ("on_group_s", "f8", (N_GROUPS,)),       # on-time per group of the last period
    ("accel_L_mps2", "f8", (3,)),            # acceleration asked, LVLH
    ("C_BL", "f8", (3, 3)),                  # rotation LVLH -> B of the last period
    ("force_B_N", "f8", (3,)),               # force asked, B
    ("totals", "f8", (4,)),                  # propellant used [kg], translation / attitude on-time [s], pulses
    ("valve_s", "f8", (N_GROUPS,)),          # shaped valves: the valves' on-time per group of this period ...
    ("pulse", "f8", (N_GROUPS, 4)),          # ... each group's thrust profile (control.period_pulse_areas)
    ("area_s", "f8", (N_GROUPS,)),           # full-thrust seconds per group inside this period ...
    ("moment_s2", "f8", (N_GROUPS,)),        # ... their first moment about the period's start ...
    ("moment_prev_s2", "f8", (N_GROUPS,)),   # ... and the last period's
    ("resp_s", "f8", (N_GROUPS,)),           # full-thrust seconds per group as the next step's rates see them
    ("scratch", "f8", (2, 3)),               # the weighted force and delta-v response_weights does not report
], align=True)


@njit(cache=True)
def thruster_app_step(prm, st, group_idx, mdot_kg_s, gcmd, tcmd, att, orbit, mode, eng, act, out, prop, t_ns):
    """One control period; returns the saturation bits of the allocation (0 when thrusters are off).

    Parameters
    ----------
    prm : THRUSTER_PARAMS (1,). st : THRUSTER_STATE (1,), in/out.
    group_idx, mdot_kg_s : (n,) per thruster: its group, its propellant flow when on [kg/s].
    gcmd, tcmd, att, orbit, mode, eng : 1-element record views read (GUIDANCE_CMD, TORQUE_CMD, ATT_STATE,
        ORBIT_REF, MODE, ENGINE_PERIOD). act, out, prop : ACT_THRUSTERS, THRUSTER_PERIOD, PROPULSION written.
    The mass estimate is the loaded mass less the propellant the thrusters' pulses used (``totals[0]``) and the
    engines' (``ENGINE_PERIOD.prop_used_kg``, far-range guidance's estimate).
    t_ns : mission time [ns].
    """
    p = prm[0]
    s = st[0]
    pending_dv = s.pending_dv_L_mps
    totals = s.totals
    g = gcmd[0]
    if g.dv_seq != s.dv_seq:
        s.dv_seq = g.dv_seq
        for i in range(3):
            pending_dv[i] += g.dv_LVLH_mps[i]
    m = mode[0].mode
    o = out[0]
    a = act[0]
    sat = 0
    mass = p.mass_kg - totals[0] - eng[0].prop_used_kg  # the flight's mass estimate before this period's pulses
    if (0 <= m < MAX_MODES and p.thrusters_off[m] != 0) or att[0].valid == 0:
        for k in range(a.on_time_s.shape[0]):
            a.on_time_s[k] = 0.0
        for i in range(3):
            o.force_B_N[i] = 0.0
            o.torque_B_Nm[i] = 0.0
            o.dv_LVLH_mps[i] = 0.0
        o.impulse_sum_mps = 0.0
        for k in range(N_GROUPS):
            s.valve_s[k] = 0.0
            s.area_s[k] = 0.0
            s.moment_s2[k] = 0.0
        if p.shaped != 0:  # the last pulses' tails end (in the rates' weights only: a few milliseconds of thrust)
            period_pulse_areas(s.valve_s, s.pulse, p.delay_s, p.ramp_up_s, p.ramp_down_s, p.period_s, s.area_s,
                               s.moment_s2)
        response_weights(p, s, mass, o)
    else:
        accel = s.accel_L_mps2
        for i in range(3):
            accel[i] = g.accel_LVLH_mps2[i] if g.translation_enabled != 0 else 0.0
        used0 = totals[0]
        sat = thruster_control_step(att[0].q_BN, orbit[0].C_LVLH_N, accel, pending_dv, p.dv_done_mps,
                                    tcmd[0].torque_B_Nm, mass, p.period_s, p.authority, p.t_min_s,
                                    group_idx, mdot_kg_s, s.carry, s.on_group_s, a.on_time_s, s.C_BL, s.force_B_N,
                                    o.force_B_N, o.torque_B_Nm, o.dv_LVLH_mps, totals, p.parasitic_Nm)
        o.impulse_sum_mps = (totals[0] - used0) * p.exhaust_mps / mass  # sum of thrust x on-time / m
        if p.shaped != 0:
            _shaped_period(p, s, group_idx, mdot_kg_s, mass, a, o)
        else:  # ideal valves: each group's thrust is full from the period's start for its on-time
            for k in range(N_GROUPS):
                s.area_s[k] = s.on_group_s[k]
                s.moment_s2[k] = 0.5 * s.on_group_s[k] * s.on_group_s[k]
        response_weights(p, s, mass, o)
        pr = prop[0]
        pr.prop_used_kg = totals[0]
        pr.trans_on_time_s = totals[1]
        pr.att_on_time_s = totals[2]
        pr.pulses = totals[3]
        pr.t_ns = t_ns
        pr.seq += 1
    o.t_ns = t_ns
    o.seq += 1
    a.t_ns = t_ns
    a.seq += 1
    return sat


@njit(cache=True)
def _shaped_period(p, s, group_idx, mdot_kg_s, mass_kg, act, out):
    """Valves with a thrust profile (docs/sensors.md section 8): the allocation's on-times are full-thrust seconds.
    Each valve is sent the on-time that delivers its group's (control.valve_on_time), and THRUSTER_PERIOD reports
    what the thrust profiles deliver inside this period (control.period_pulse_areas: the last period's tail-offs
    in, this period's out), which is what the navigation compares with the motion. (A burn's own bookkeeping, the
    delta-v still to deliver, counts each pulse whole in the period that commands it.)"""
    for g in range(N_GROUPS):
        s.valve_s[g] = valve_on_time(s.on_group_s[g], p.ramp_up_s[g], p.ramp_down_s[g], p.period_s)
    for i in range(group_idx.shape[0]):
        act.on_time_s[i] = s.valve_s[group_idx[i]]
    period_pulse_areas(s.valve_s, s.pulse, p.delay_s, p.ramp_up_s, p.ramp_down_s, p.period_s, s.area_s, s.moment_s2)
    period_wrench(s.area_s, p.authority, p.parasitic_Nm, p.period_s, mass_kg, s.C_BL, out.force_B_N, out.torque_B_Nm,
                  out.dv_LVLH_mps)
    impulse = 0.0
    for i in range(group_idx.shape[0]):
        impulse += s.area_s[group_idx[i]] * mdot_kg_s[i]
    out.impulse_sum_mps = impulse * p.exhaust_mps / mass_kg


@njit(cache=True)
def response_weights(p, s, mass_kg, out):
    """The period's thrust as the attitude's next step sees it (THRUSTER_PERIOD.resp_*, for the thruster checks).

    The gyro gives mean rates over each step, so the difference of the next two, t_k - t_(k-1) apart, weighs the
    angular acceleration at time s of the period [t_(k-1), t_k] by 1 - s / P and at time s of the period before by
    s / P (a triangle). Per group the weighted full-thrust seconds are A - M / P + M_prev / P (A: this period's
    full-thrust seconds, M: their first moment about its start, M_prev: the last period's). An isolated ideal pulse
    of tau counts tau - tau^2 / (2 P) in the step after it and tau^2 / (2 P) in the one after that. Both thruster
    checks compare the rates' change of one step with these: the translation response check fits each step, and
    the torque check low-passes its residual over only 0.5 s (fault_thruster_stuck's answer), where a burst of
    attitude firing weighed at 1 in its own period left a residual above FDIR's stuck-on threshold (a
    fast_rendezvous case 1.9 s after separation, damping the tip-off).
    """
    P = p.period_s
    for g in range(N_GROUPS):
        s.resp_s[g] = s.area_s[g] - s.moment_s2[g] / P + s.moment_prev_s2[g] / P
        s.moment_prev_s2[g] = s.moment_s2[g]
    for g in range(6):
        out.resp_group_force_N[g] = s.resp_s[g] * p.authority[g] / P
    period_wrench(s.resp_s, p.authority, p.parasitic_Nm, P, mass_kg, s.C_BL, s.scratch[0], out.resp_torque_B_Nm,
                  s.scratch[1])

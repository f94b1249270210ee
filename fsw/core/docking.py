"""The docking-approach monitor's 10 Hz step as one kernel (fsw/apps/docking.py is its app).

Reads NAV_STATE, ATT_STATE, MODE and DEV_DOCK_MECH, writes DOCKING_MONITOR in place, and returns
flags for what the app must act on in Python (events, guidance calls): those are rare, the
arithmetic and the record writes are every step.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from fsw.core.guidance import approach_monitor

MAX_MODES = 16  # mode codes the per-mode tables hold (telemetry.dictionary.MODES; the app checks)

#: The monitor's parameters (fsw/config/gnc.toml [docking], [guidance], [station]), one record.
MONITOR_PARAMS = np.dtype([
    ("kos_radius_m", "f8"),                  # keep-out sphere
    ("ellipsoid_semi_axes_m", "f8", (3,)),   # approach ellipsoid, LVLH radial, along-track, cross-track
    ("tan_corridor", "f8"),                  # tan of the corridor half-angle
    ("corridor_floor_m", "f8"),              # corridor radius floor near the port
    ("closing_rate_factor", "f8"),           # abort when closing faster than factor x profile + margin ...
    ("closing_rate_margin_mps", "f8"),
    ("closing_rate_max_sigma_v_mps", "f8"),  # ... judged only on a velocity estimate with every sigma below this
    ("attitude_limit_rad", "f8"),            # attitude error abort inside the KOS
    ("contact_ready_range_m", "f8"),
    ("nav_invalid_limit_ns", "i8"),          # navigation invalid this long inside the ellipsoid aborts
    ("nav_max_age_ns", "i8"),                # a NAV_STATE older than this counts as invalid
    ("port_L_m", "f8", (3,)),                # chaser port from its CoM, LVLH, at the docking attitude
    ("docking_axis_L", "f8", (3,)),          # unit docking axis, outward from the station port
    ("approach_mode", "u1", (MAX_MODES,)),   # 1 for the mode codes in which the monitors may abort
    ("closing_mode", "u1", (MAX_MODES,)),    # 1 for those in which the closing-rate monitor applies
    ("trigger_codes", "i8", (5,)),           # ABORT_TRIGGERS codes of NONE, NAV_INVALID, CORRIDOR,
], align=True)                               # CLOSING_RATE, ATTITUDE_ERROR (the kernel stays table-free)

#: What the monitor keeps between steps, and its geometry of the last step.
MONITOR_STATE = np.dtype([
    ("nav_bad_since_ns", "i8"),   # since when navigation is invalid, -1 while valid
    ("trigger", "i8"),            # latched abort trigger (ABORT_TRIGGERS code)
    ("ready", "u1"),              # contact ready at the last step
    ("geometry", "f8", (7,)),     # fsw.core.guidance.approach_monitor: range, range rate, axial, lateral,
                                  # corridor angle, closing speed, profile speed
    ("r_port_L_m", "f8", (3,)),   # chaser port w.r.t. the station port, LVLH
], align=True)
TRG_NONE, TRG_NAV_INVALID, TRG_CORRIDOR, TRG_CLOSING_RATE, TRG_ATTITUDE = range(5)  # trigger_codes entries

# returned flags
F_CAPTURED = 1        # the mechanism reports capture
F_NEW_TRIGGER = 2     # an abort trigger latched at this step (state.trigger holds it)
F_READY_RISE = 4      # contact readiness became true at this step


@njit(cache=True)
def docking_step(prm, state, profile, nav, att, mode, mech, out, t_ns):
    """One monitor step; returns F_* flags.

    Parameters
    ----------
    prm : MONITOR_PARAMS (1,). state : MONITOR_STATE (1,), in/out.
    profile : (2, n) speed profile table: port-to-port axial distance [m], closing speed [m/s].
    nav, att, mode, mech, out : 1-element record views (NAV_STATE, ATT_STATE, MODE, DEV_DOCK_MECH read;
        DOCKING_MONITOR written). t_ns : mission time [ns].
    """
    p = prm[0]
    s = state[0]
    flags = 0
    if mech[0].captured != 0:
        flags |= F_CAPTURED
    n = nav[0]
    r_port = s.r_port_L_m
    for i in range(3):
        r_port[i] = n.r_LVLH_m[i] + p.port_L_m[i]
    geo = s.geometry
    approach_monitor(r_port, n.v_LVLH_mps, p.docking_axis_L, profile[0], profile[1], geo)
    rng, rdot, d, lat, cone, v_close, v_prof = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6]
    in_kos = rng < p.kos_radius_m
    # the cone's apex is at the port; near contact the floor radius keeps the corridor open
    in_corridor = lat <= max(max(d, 0.0) * p.tan_corridor, p.corridor_floor_m)
    m = mode[0].mode
    nav_ok = n.valid != 0 and t_ns - n.t_ns <= p.nav_max_age_ns
    if nav_ok:
        s.nav_bad_since_ns = -1
    elif s.nav_bad_since_ns < 0:
        s.nav_bad_since_ns = t_ns
    e = 0.0
    for i in range(3):
        e += (n.r_LVLH_m[i] / p.ellipsoid_semi_axes_m[i]) ** 2
    in_ellipsoid = e <= 1.0
    trg = p.trigger_codes
    trigger = trg[TRG_NONE]
    if 0 <= m < MAX_MODES and p.approach_mode[m] != 0:
        sig_max = max(n.sigma_v_mps[0], n.sigma_v_mps[1], n.sigma_v_mps[2])
        err = att[0].att_err_rad
        if s.nav_bad_since_ns >= 0 and t_ns - s.nav_bad_since_ns > p.nav_invalid_limit_ns and in_ellipsoid:
            trigger = trg[TRG_NAV_INVALID]
        elif nav_ok and in_kos and not in_corridor:
            trigger = trg[TRG_CORRIDOR]
        elif nav_ok and p.closing_mode[m] != 0 and v_close > p.closing_rate_factor * v_prof \
                + p.closing_rate_margin_mps and sig_max <= p.closing_rate_max_sigma_v_mps:
            trigger = trg[TRG_CLOSING_RATE]
        elif in_kos and math.sqrt(err[0] ** 2 + err[1] ** 2 + err[2] ** 2) > p.attitude_limit_rad:
            trigger = trg[TRG_ATTITUDE]
    if trigger != trg[TRG_NONE] and s.trigger == trg[TRG_NONE]:
        s.trigger = trigger
        flags |= F_NEW_TRIGGER
    ready = nav_ok and rng < p.contact_ready_range_m and in_corridor
    if ready and s.ready == 0:
        flags |= F_READY_RISE
    s.ready = 1 if ready else 0
    o = out[0]
    o.t_ns = t_ns
    o.seq += 1
    o.range_m = rng
    o.range_rate_mps = rdot
    o.corridor_angle_deg = math.degrees(cone)
    o.lateral_m = lat
    o.in_kos = in_kos
    o.in_ellipsoid = in_ellipsoid
    o.in_corridor = in_corridor
    o.abort_trigger = s.trigger
    o.contact_ready = ready
    return flags

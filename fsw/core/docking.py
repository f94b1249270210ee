"""The docking-approach monitor's 10 Hz step as one kernel (fsw/apps/docking.py is its app).

Reads NAV_STATE, ATT_STATE, MODE and DEV_DOCK_MECH, writes DOCKING_MONITOR in place, and returns
flags for what the app must act on in Python (events, guidance calls): those are rare, the
arithmetic and the record writes are every step.
"""

from __future__ import annotations

import math

from numba import njit

from fsw.core.guidance import approach_monitor

# prm: monitor parameters (fsw/config/gnc.toml [docking])
PRM_KOS = 0          # keep-out sphere radius [m]
PRM_SEMI = 1         # approach ellipsoid semi-axes (x, y, z) LVLH [m], 3 entries
PRM_TAN_CONE = 4     # tan(corridor half angle)
PRM_CONE_FLOOR = 5   # corridor radius floor near the port [m]
PRM_RATE_FACTOR = 6  # closing-rate trigger: v_close > factor * v_profile + margin
PRM_RATE_MARGIN = 7  # [m/s]
PRM_RATE_SIGMA = 8   # ... only on a velocity estimate with every sigma below this [m/s]
PRM_ATT_LIMIT = 9    # attitude error trigger inside the KOS [rad]
PRM_READY = 10       # contact-ready range [m]
N_PRM = 11

# state (int64): kept between steps
ST_NAV_BAD_SINCE = 0  # [ns] since when navigation is invalid, -1 while valid
ST_NAV_LIMIT = 1      # [ns] navigation-invalid time that triggers an abort (parameter)
ST_TRIGGER = 2        # latched abort trigger (ABORT_TRIGGERS code, 0 none)
ST_READY = 3          # contact ready at the last step
ST_NAV_MAX_AGE = 4    # [ns] a NAV_STATE older than this counts as invalid (parameter)
N_STATE = 5

# trigger codes (telemetry.dictionary.ABORT_TRIGGERS), passed in so the kernel stays table-free
TRG_NONE = 0
TRG_NAV_INVALID = 1
TRG_CORRIDOR = 2
TRG_CLOSING_RATE = 3
TRG_ATTITUDE = 4
N_TRG = 5

# returned flags
F_CAPTURED = 1        # the mechanism reports capture
F_NEW_TRIGGER = 2     # an abort trigger latched at this step (ST_TRIGGER holds it)
F_READY_RISE = 4      # contact readiness became true at this step


@njit(cache=True)
def docking_step(t_ns, prm, state, trg, approach_mode, closing_mode, port_L, axis, prof_r, prof_v, geo, r_port,
                 nav, att, mode, mech, out):
    """One monitor step; returns F_* flags.

    Parameters
    ----------
    t_ns : mission time [ns]. prm : (N_PRM,) parameters. state : (N_STATE,) int64, in/out.
    trg : (N_TRG,) ABORT_TRIGGERS codes of NONE, NAV_INVALID, CORRIDOR, CLOSING_RATE, ATTITUDE_ERROR.
    approach_mode, closing_mode : bool per mode code: modes in which the monitors may abort, and
        in which the closing-rate monitor applies.
    port_L : (3,) chaser port from its CoM in LVLH at the docking attitude. axis : (3,) docking axis.
    prof_r, prof_v : speed profile table. geo : (7,) scratch/out (fsw.core.guidance.approach_monitor).
    r_port : (3,) scratch. nav, att, mode, mech, out : 1-element record views (NAV_STATE, ATT_STATE,
        MODE, DEV_DOCK_MECH read; DOCKING_MONITOR written).
    """
    flags = 0
    if mech[0].captured != 0:
        flags |= F_CAPTURED
    n = nav[0]
    for i in range(3):
        r_port[i] = n.r_LVLH_m[i] + port_L[i]
    approach_monitor(r_port, n.v_LVLH_mps, axis, prof_r, prof_v, geo)
    rng, rdot, d, lat, cone, v_close, v_prof = geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6]
    in_kos = rng < prm[PRM_KOS]
    # the cone's apex is at the port; near contact the floor radius keeps the corridor open
    in_corridor = lat <= max(max(d, 0.0) * prm[PRM_TAN_CONE], prm[PRM_CONE_FLOOR])
    m = mode[0].mode
    nav_ok = n.valid != 0 and t_ns - n.t_ns <= state[ST_NAV_MAX_AGE]
    if nav_ok:
        state[ST_NAV_BAD_SINCE] = -1
    elif state[ST_NAV_BAD_SINCE] < 0:
        state[ST_NAV_BAD_SINCE] = t_ns
    e = 0.0
    for i in range(3):
        e += (n.r_LVLH_m[i] / prm[PRM_SEMI + i]) ** 2
    in_ellipsoid = e <= 1.0
    trigger = trg[TRG_NONE]
    if 0 <= m < approach_mode.shape[0] and approach_mode[m]:
        sig_max = max(n.sigma_v_mps[0], n.sigma_v_mps[1], n.sigma_v_mps[2])
        err = att[0].att_err_rad
        if state[ST_NAV_BAD_SINCE] >= 0 and t_ns - state[ST_NAV_BAD_SINCE] > state[ST_NAV_LIMIT] and in_ellipsoid:
            trigger = trg[TRG_NAV_INVALID]
        elif nav_ok and in_kos and not in_corridor:
            trigger = trg[TRG_CORRIDOR]
        elif nav_ok and closing_mode[m] and v_close > prm[PRM_RATE_FACTOR] * v_prof + prm[PRM_RATE_MARGIN] \
                and sig_max <= prm[PRM_RATE_SIGMA]:
            trigger = trg[TRG_CLOSING_RATE]
        elif in_kos and math.sqrt(err[0] ** 2 + err[1] ** 2 + err[2] ** 2) > prm[PRM_ATT_LIMIT]:
            trigger = trg[TRG_ATTITUDE]
    if trigger != trg[TRG_NONE] and state[ST_TRIGGER] == trg[TRG_NONE]:
        state[ST_TRIGGER] = trigger
        flags |= F_NEW_TRIGGER
    ready = nav_ok and rng < prm[PRM_READY] and in_corridor
    if ready and state[ST_READY] == 0:
        flags |= F_READY_RISE
    state[ST_READY] = 1 if ready else 0
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
    o.abort_trigger = state[ST_TRIGGER]
    o.contact_ready = ready
    return flags

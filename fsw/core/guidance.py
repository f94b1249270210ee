"""Approach guidance kernels: glideslope, closing law, station keeping, go/no-go, CAM selection.

Relative states are in station LVLH (x radial out, y along-track, z orbit normal). Approach axis
vectors point from the station docking port outward along the docking axis (for the aft port on
-V-bar: ``[0, -1, 0]``); a closing velocity is along ``-axis``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .relmotion import cw_propagate

# go_no_go result bits (0 = GO).
NOGO_NAV_INVALID = 1
NOGO_POSITION = 2
NOGO_VELOCITY = 4


@njit(cache=True)
def glideslope_plan(r0_LVLH_m, v0_LVLH_mps, rT_LVLH_m, vT_LVLH_mps, rho_dot0_mps, rho_dotT_mps,
                    n_rad_s, t_out, r_way_out, dv_out):
    """Hablani inbound glideslope: N pulses along the straight line from r0 to rT.

    Parameters
    ----------
    r0_LVLH_m, v0_LVLH_mps : (3,) initial relative state (first pulse applied here).
    rT_LVLH_m, vT_LVLH_mps : (3,) target point and the velocity wanted there after the last pulse.
    rho_dot0_mps, rho_dotT_mps : range rates along the line at start and end, both < 0 (approach)
        with ``|rho_dot0| > |rho_dotT|``.
    n_rad_s : mean motion [rad/s].
    t_out : (N+1,) out, [s] pulse times from t0 (t_out[0] = 0, t_out[N] = T).
    r_way_out : (N+1, 3) out, [m] waypoints (r_way_out[0] = r0, r_way_out[N] = rT).
    dv_out : (N+1, 3) out, [m/s] impulse at each waypoint; the last one matches vT.

    Returns
    -------
    float : [s] transfer time T, or -1.0 when the rates are inconsistent (no solution).

    Notes
    -----
    Hablani, Tapper & Dana-Bashian (2002), Sec. III: rho_dot = a rho + rho_dot_T with
    a = (rho_dot0 - rho_dotT) / rho0 (rho measured from rT), so
    rho(t) = rho0 e^(a t) + (rho_dotT / a)(e^(a t) - 1), T = ln(rho_dotT / rho_dot0) / a,
    dt = T / N, waypoints r_m = rT + rho(m dt) u_rho. Between waypoints the CW two-impulse
    solution gives v_m+ = Phi_rv^-1 (r_(m+1) - Phi_rr r_m); dv_m = v_m+ - v_m-.
    """
    n_pulses = t_out.shape[0] - 1
    ux = r0_LVLH_m[0] - rT_LVLH_m[0]
    uy = r0_LVLH_m[1] - rT_LVLH_m[1]
    uz = r0_LVLH_m[2] - rT_LVLH_m[2]
    rho0 = math.sqrt(ux * ux + uy * uy + uz * uz)
    if n_pulses < 1 or rho0 <= 0.0 or rho_dot0_mps >= 0.0 or rho_dotT_mps >= 0.0 \
            or rho_dot0_mps >= rho_dotT_mps:
        return -1.0
    ux /= rho0
    uy /= rho0
    uz /= rho0
    a = (rho_dot0_mps - rho_dotT_mps) / rho0
    T = math.log(rho_dotT_mps / rho_dot0_mps) / a
    dt = T / n_pulses
    for m in range(n_pulses + 1):
        tm = m * dt
        e = math.exp(a * tm)
        rho = rho0 * e + (rho_dotT_mps / a) * (e - 1.0)
        if m == n_pulses:
            rho = 0.0
        t_out[m] = tm
        r_way_out[m, 0] = rT_LVLH_m[0] + rho * ux
        r_way_out[m, 1] = rT_LVLH_m[1] + rho * uy
        r_way_out[m, 2] = rT_LVLH_m[2] + rho * uz
    n = n_rad_s
    nt = n * dt
    s = math.sin(nt)
    c = math.cos(nt)
    a11 = s / n
    a12 = 2.0 * (1.0 - c) / n
    a21 = 2.0 * (c - 1.0) / n
    a22 = (4.0 * s - 3.0 * nt) / n
    det = a11 * a22 - a12 * a21
    vmx = v0_LVLH_mps[0]
    vmy = v0_LVLH_mps[1]
    vmz = v0_LVLH_mps[2]
    for m in range(n_pulses):
        x0 = r_way_out[m, 0]
        y0 = r_way_out[m, 1]
        z0 = r_way_out[m, 2]
        bx = r_way_out[m + 1, 0] - (4.0 - 3.0 * c) * x0
        by = r_way_out[m + 1, 1] - 6.0 * (s - nt) * x0 - y0
        bz = r_way_out[m + 1, 2] - c * z0
        vx = (a22 * bx - a12 * by) / det
        vy = (-a21 * bx + a11 * by) / det
        vz = bz * n / s
        dv_out[m, 0] = vx - vmx
        dv_out[m, 1] = vy - vmy
        dv_out[m, 2] = vz - vmz
        vmx = 3.0 * n * s * x0 + c * vx + 2.0 * s * vy
        vmy = 6.0 * n * (c - 1.0) * x0 - 2.0 * s * vx + (4.0 * c - 3.0) * vy
        vmz = -n * s * z0 + c * vz
    dv_out[n_pulses, 0] = vT_LVLH_mps[0] - vmx
    dv_out[n_pulses, 1] = vT_LVLH_mps[1] - vmy
    dv_out[n_pulses, 2] = vT_LVLH_mps[2] - vmz
    return T


@njit(cache=True)
def speed_profile(d_m, range_bp_m, speed_bp_mps):
    """Closing-speed limit [m/s] at axial distance ``d_m`` by linear interpolation of the table.

    ``range_bp_m`` ascending breakpoints, ``speed_bp_mps`` speeds there; clamped at both ends.
    """
    k = range_bp_m.shape[0]
    if d_m <= range_bp_m[0]:
        return speed_bp_mps[0]
    for i in range(1, k):
        if d_m <= range_bp_m[i]:
            f = (d_m - range_bp_m[i - 1]) / (range_bp_m[i] - range_bp_m[i - 1])
            return speed_bp_mps[i - 1] + f * (speed_bp_mps[i] - speed_bp_mps[i - 1])
    return speed_bp_mps[k - 1]


@njit(cache=True)
def closing_law(r_LVLH_m, v_LVLH_mps, axis_LVLH, range_bp_m, speed_bp_mps, n_rad_s, k_v_1_s,
                k_lat_1_s, v_lat_max_mps, a_max_mps2, v_cmd_out, a_cmd_out):
    """Final-approach closing law: follow the speed profile down the docking axis, null the offset.

    Parameters
    ----------
    r_LVLH_m, v_LVLH_mps : (3,) state of the guided point (the chaser docking port) relative to the
        station docking port, LVLH.
    axis_LVLH : (3,) unit docking axis, from the station port outward.
    range_bp_m, speed_bp_mps : (k,) speed profile: axial distance breakpoints (ascending) and the
        closing speed there [m/s].
    n_rad_s : mean motion [rad/s] (CW feed-forward).
    k_v_1_s : [1/s] velocity-loop gain.
    k_lat_1_s : [1/s] lateral position-to-velocity gain.
    v_lat_max_mps : [m/s] limit on the commanded lateral speed.
    a_max_mps2 : [m/s^2] limit on the commanded acceleration norm.
    v_cmd_out : (3,) out, [m/s] commanded velocity, LVLH.
    a_cmd_out : (3,) out, [m/s^2] commanded control acceleration, LVLH.

    Returns
    -------
    float : [m] axial distance d = r . axis.

    Notes
    -----
    v_cmd = -v_prof(d) axis - sat(k_lat r_lat, v_lat_max); a = k_v (v_cmd - v) - a_CW(r, v),
    a_CW = [3n^2 x + 2n yd, -2n xd, -n^2 z]. Laterally this is a PD on the offset with
    Kp = k_v k_lat, Kd = k_v, and the CW feed-forward turns the plant into a double integrator
    (Fehse 2003, Sec. 4.4 and 6.3; Hablani et al. 2002 for the profile).
    """
    d = r_LVLH_m[0] * axis_LVLH[0] + r_LVLH_m[1] * axis_LVLH[1] + r_LVLH_m[2] * axis_LVLH[2]
    v_close = speed_profile(d, range_bp_m, speed_bp_mps)
    lx = r_LVLH_m[0] - d * axis_LVLH[0]
    ly = r_LVLH_m[1] - d * axis_LVLH[1]
    lz = r_LVLH_m[2] - d * axis_LVLH[2]
    lat = math.sqrt(lx * lx + ly * ly + lz * lz)
    g = k_lat_1_s
    if k_lat_1_s * lat > v_lat_max_mps:
        g = v_lat_max_mps / lat
    v_cmd_out[0] = -v_close * axis_LVLH[0] - g * lx
    v_cmd_out[1] = -v_close * axis_LVLH[1] - g * ly
    v_cmd_out[2] = -v_close * axis_LVLH[2] - g * lz
    velocity_loop_accel(r_LVLH_m, v_LVLH_mps, v_cmd_out, n_rad_s, k_v_1_s, a_max_mps2, a_cmd_out)
    return d


@njit(cache=True)
def velocity_loop_accel(r_LVLH_m, v_LVLH_mps, v_cmd_LVLH_mps, n_rad_s, k_v_1_s, a_max_mps2, a_cmd_out):
    """Track a commanded velocity: a = k_v (v_cmd - v) - a_CW(r, v), limited in norm to a_max.

    The CW feed-forward a_CW = [3n^2 x + 2n yd, -2n xd, -n^2 z] cancels the relative dynamics, so
    the loop sees a double integrator at every range (Fehse 2003, Sec. 6.3).
    """
    n = n_rad_s
    ax = k_v_1_s * (v_cmd_LVLH_mps[0] - v_LVLH_mps[0]) - (3.0 * n * n * r_LVLH_m[0] + 2.0 * n * v_LVLH_mps[1])
    ay = k_v_1_s * (v_cmd_LVLH_mps[1] - v_LVLH_mps[1]) + 2.0 * n * v_LVLH_mps[0]
    az = k_v_1_s * (v_cmd_LVLH_mps[2] - v_LVLH_mps[2]) + n * n * r_LVLH_m[2]
    an = math.sqrt(ax * ax + ay * ay + az * az)
    f = 1.0 if an <= a_max_mps2 else a_max_mps2 / an
    a_cmd_out[0] = f * ax
    a_cmd_out[1] = f * ay
    a_cmd_out[2] = f * az


@njit(cache=True)
def goto_point_accel(r_LVLH_m, v_LVLH_mps, r_target_LVLH_m, n_rad_s, k_pos_1_s, v_max_mps, k_v_1_s,
                     a_max_mps2, v_cmd_out, a_cmd_out):
    """Fly to a point at a limited speed (short-range retreats and re-positioning).

    Parameters
    ----------
    r_LVLH_m, v_LVLH_mps : (3,) relative state, LVLH. r_target_LVLH_m : (3,) point to reach.
    n_rad_s : mean motion [rad/s]. k_pos_1_s : [1/s] position-to-velocity gain (the approach slows
    as exp(-k t) near the point). v_max_mps : [m/s] speed limit of the velocity command.
    k_v_1_s : [1/s] velocity-loop gain. a_max_mps2 : [m/s^2] limit on the command norm.
    v_cmd_out : (3,) out, [m/s] commanded velocity. a_cmd_out : (3,) out, [m/s^2] command, LVLH.

    Returns
    -------
    float : [m] distance to the point.

    Notes
    -----
    v_cmd = -sat(k_pos e, v_max) (vector saturation of e = r - r_target), then
    :func:`velocity_loop_accel`.
    """
    ex = r_LVLH_m[0] - r_target_LVLH_m[0]
    ey = r_LVLH_m[1] - r_target_LVLH_m[1]
    ez = r_LVLH_m[2] - r_target_LVLH_m[2]
    dist = math.sqrt(ex * ex + ey * ey + ez * ez)
    g = k_pos_1_s
    if k_pos_1_s * dist > v_max_mps:
        g = v_max_mps / dist
    v_cmd_out[0] = -g * ex
    v_cmd_out[1] = -g * ey
    v_cmd_out[2] = -g * ez
    velocity_loop_accel(r_LVLH_m, v_LVLH_mps, v_cmd_out, n_rad_s, k_v_1_s, a_max_mps2, a_cmd_out)
    return dist


@njit(cache=True)
def hold_point_accel(r_LVLH_m, v_LVLH_mps, r_hold_LVLH_m, n_rad_s, kp_1_s2, kd_1_s, a_max_mps2, a_cmd_out):
    """Station keeping at a hold point: PD acceleration with CW feed-forward.

    Parameters
    ----------
    r_LVLH_m, v_LVLH_mps : (3,) relative state (chaser CoM w.r.t. station port), LVLH.
    r_hold_LVLH_m : (3,) hold point, LVLH.
    n_rad_s : mean motion [rad/s].
    kp_1_s2, kd_1_s : PD gains [1/s^2], [1/s].
    a_max_mps2 : [m/s^2] limit on the command norm.
    a_cmd_out : (3,) out, [m/s^2] commanded control acceleration, LVLH.

    Returns
    -------
    float : [m] position error norm ``|r - r_hold|``.

    Notes
    -----
    a = -kp (r - r_hold) - kd v - [3n^2 x + 2n yd, -2n xd, -n^2 z]. With the feed-forward the
    closed loop is e'' + kd e' + kp e = 0 (Clohessy & Wiltshire 1960; Fehse 2003, Sec. 6.3).
    """
    n = n_rad_s
    ex = r_LVLH_m[0] - r_hold_LVLH_m[0]
    ey = r_LVLH_m[1] - r_hold_LVLH_m[1]
    ez = r_LVLH_m[2] - r_hold_LVLH_m[2]
    ax = -kp_1_s2 * ex - kd_1_s * v_LVLH_mps[0] - (3.0 * n * n * r_LVLH_m[0] + 2.0 * n * v_LVLH_mps[1])
    ay = -kp_1_s2 * ey - kd_1_s * v_LVLH_mps[1] + 2.0 * n * v_LVLH_mps[0]
    az = -kp_1_s2 * ez - kd_1_s * v_LVLH_mps[2] + n * n * r_LVLH_m[2]
    an = math.sqrt(ax * ax + ay * ay + az * az)
    f = 1.0 if an <= a_max_mps2 else a_max_mps2 / an
    a_cmd_out[0] = f * ax
    a_cmd_out[1] = f * ay
    a_cmd_out[2] = f * az
    return math.sqrt(ex * ex + ey * ey + ez * ez)


@njit(cache=True)
def go_no_go(r_LVLH_m, v_LVLH_mps, r_hold_LVLH_m, pos_tol_m, vel_tol_mps, nav_valid):
    """Go/no-go check at a hold point.

    Parameters
    ----------
    r_LVLH_m, v_LVLH_mps : (3,) estimated relative state; r_hold_LVLH_m : (3,) hold point.
    pos_tol_m : (3,) per-axis |position error| limits [m]; vel_tol_mps : (3,) per-axis |velocity|
        limits [m/s] (the hold point is at rest in LVLH).
    nav_valid : bool, navigation solution valid.

    Returns
    -------
    int : 0 = GO, else the OR of NOGO_NAV_INVALID (1), NOGO_POSITION (2), NOGO_VELOCITY (4).
    """
    code = 0
    if not nav_valid:
        code |= NOGO_NAV_INVALID
    for i in range(3):
        if abs(r_LVLH_m[i] - r_hold_LVLH_m[i]) > pos_tol_m[i]:
            code |= NOGO_POSITION
        if abs(v_LVLH_mps[i]) > vel_tol_mps[i]:
            code |= NOGO_VELOCITY
    return code


@njit(cache=True)
def approach_monitor(r_LVLH_m, v_LVLH_mps, axis_LVLH, range_bp_m, speed_bp_mps, out):
    """Geometry of the final approach for the corridor and closing-rate monitors.

    Parameters
    ----------
    r_LVLH_m, v_LVLH_mps : (3,) guided point (chaser port) relative to the station port, LVLH.
    axis_LVLH : (3,) unit docking axis, outward. range_bp_m, speed_bp_mps : speed profile table.
    out : (7,) out: [range m, range rate m/s (< 0 closing), axial distance m, lateral offset m,
        corridor angle rad (line of sight off the axis), closing speed along -axis m/s,
        profile closing speed at this distance m/s].
    """
    rng = math.sqrt(r_LVLH_m[0] ** 2 + r_LVLH_m[1] ** 2 + r_LVLH_m[2] ** 2)
    d = r_LVLH_m[0] * axis_LVLH[0] + r_LVLH_m[1] * axis_LVLH[1] + r_LVLH_m[2] * axis_LVLH[2]
    lat = math.sqrt(max(rng * rng - d * d, 0.0))
    rdot = 0.0
    if rng > 0.0:
        rdot = (r_LVLH_m[0] * v_LVLH_mps[0] + r_LVLH_m[1] * v_LVLH_mps[1] + r_LVLH_m[2] * v_LVLH_mps[2]) / rng
    out[0] = rng
    out[1] = rdot
    out[2] = d
    out[3] = lat
    out[4] = math.atan2(lat, d)
    out[5] = -(v_LVLH_mps[0] * axis_LVLH[0] + v_LVLH_mps[1] * axis_LVLH[1] + v_LVLH_mps[2] * axis_LVLH[2])
    out[6] = speed_profile(d, range_bp_m, speed_bp_mps)


@njit(cache=True)
def cam_drift_clearance(x_LVLH, n_rad_s, kos_radius_m, horizon_s, n_samples, scratch6, out):
    """Sampled CW free drift: when it leaves the keep-out sphere and how close it comes afterwards.

    Parameters
    ----------
    x_LVLH : (6,) relative state just after the burn.
    n_rad_s : mean motion; kos_radius_m : keep-out sphere radius [m]; horizon_s : [s] drift span;
    n_samples : number of samples over (0, horizon].
    scratch6 : (6,) scratch.
    out : (3,) out: [min range from the first exit from the KOS to the horizon (0 if it never
        exits), min range before the exit, exit time s (0 if it starts outside, inf if never)].
    """
    r0 = math.sqrt(x_LVLH[0] ** 2 + x_LVLH[1] ** 2 + x_LVLH[2] ** 2)
    exited = r0 >= kos_radius_m
    min_before = r0
    min_after = math.inf
    t_exit = 0.0
    for k in range(1, n_samples + 1):
        t = horizon_s * k / n_samples
        cw_propagate(x_LVLH, n_rad_s, t, scratch6)
        rng = math.sqrt(scratch6[0] ** 2 + scratch6[1] ** 2 + scratch6[2] ** 2)
        if exited:
            min_after = min(min_after, rng)
        elif rng >= kos_radius_m:
            exited = True
            t_exit = t
            min_after = rng
        else:
            min_before = min(min_before, rng)
    if not exited:
        min_after = 0.0
        t_exit = math.inf
    out[0] = min_after
    out[1] = min_before
    out[2] = t_exit


@njit(cache=True)
def cam_select(x_LVLH, n_rad_s, dv_mags_mps, dirs_LVLH, kos_radius_m, min_clear_m, horizon_s, n_samples,
               scratch6, x_burn_scratch, dv_out, report_out):
    """Collision-avoidance manoeuvre: smallest candidate burn whose free drift stays out of the KOS.

    Parameters
    ----------
    x_LVLH : (6,) current relative state (chaser CoM w.r.t. station port).
    n_rad_s : mean motion [rad/s].
    dv_mags_mps : (m,) candidate magnitudes, ascending (e.g. 0.5 .. 2.0 m/s).
    dirs_LVLH : (k, 3) candidate unit directions in order of preference (e.g. posigrade [0,1,0],
        radial-away [1,0,0], their bisector).
    kos_radius_m : keep-out sphere radius [m].
    min_clear_m : [m] the drift may not come closer than this while still inside the KOS
        (a burn that exits the KOS by passing the station is not safe).
    horizon_s : [s] drift span to check (at least two orbits); n_samples : samples over it.
    scratch6, x_burn_scratch : (6,) scratch.
    dv_out : (3,) out, [m/s] chosen impulse, LVLH (the best unsafe one when none is safe).
    report_out : (3,) out, :func:`cam_drift_clearance` report of the chosen burn.

    Returns
    -------
    int : index ``i_mag * k + i_dir`` of the chosen candidate, or -1 when none is safe.

    Notes
    -----
    Safe: the drift leaves the KOS, never gets closer than ``min_clear_m`` before leaving, and
    after leaving stays at range >= kos_radius_m for the horizon. Magnitudes are tried smallest
    first, directions in the given order. The drift is the closed-form CW solution (Clohessy &
    Wiltshire 1960) sampled; the ISS CAM design rule (Fehse 2003, Sec. 4.5) sets the goal.
    """
    best_margin = -math.inf
    k_dirs = dirs_LVLH.shape[0]
    for im in range(dv_mags_mps.shape[0]):
        for jd in range(k_dirs):
            for i in range(6):
                x_burn_scratch[i] = x_LVLH[i]
            for i in range(3):
                x_burn_scratch[3 + i] += dv_mags_mps[im] * dirs_LVLH[jd, i]
            cam_drift_clearance(x_burn_scratch, n_rad_s, kos_radius_m, horizon_s, n_samples, scratch6,
                                report_out)
            margin = min(report_out[0] - kos_radius_m, report_out[1] - min_clear_m)
            if margin >= 0.0:
                for i in range(3):
                    dv_out[i] = dv_mags_mps[im] * dirs_LVLH[jd, i]
                return im * k_dirs + jd
            if margin > best_margin:
                best_margin = margin
                for i in range(3):
                    dv_out[i] = dv_mags_mps[im] * dirs_LVLH[jd, i]
    # None safe: report the best unsafe candidate (re-evaluated so report_out matches dv_out).
    for i in range(6):
        x_burn_scratch[i] = x_LVLH[i]
    for i in range(3):
        x_burn_scratch[3 + i] += dv_out[i]
    cam_drift_clearance(x_burn_scratch, n_rad_s, kos_radius_m, horizon_s, n_samples, scratch6, report_out)
    return -1


#: Approach guidance's parameters for its per-step kernels (fsw/config/gnc.toml [guidance], [station]).
GUIDANCE_PARAMS = np.dtype([
    ("port_L_m", "f8", (3,)),            # chaser port from its CoM, LVLH, at the docking attitude
    ("docking_axis_L", "f8", (3,)),      # unit docking axis, outward from the station port
    ("k_v_1_s", "f8"),                   # velocity-loop gain
    ("k_lat_1_s", "f8"),                 # lateral (and retreat) position-to-velocity gain
    ("v_lat_max_mps", "f8"),             # lateral speed limit of the closing law
    ("a_max_mps2", "f8"),                # command norm limit
    ("hold_kp_1_s2", "f8"),              # station-keeping PD gains
    ("hold_kd_1_s", "f8"),
    ("retreat_speed_mps", "f8"),         # speed of a short-range retreat
], align=True)

#: What the per-step kernels leave for the app: the port position and the velocity command.
GUIDANCE_SCRATCH = np.dtype([
    ("r_port_L_m", "f8", (3,)),          # chaser port w.r.t. the station port, LVLH
    ("v_cmd_L_mps", "f8", (3,)),         # commanded velocity of the closing law or a retreat, LVLH
], align=True)


@njit(cache=True)
def closing_step(prm, scr, profile, nav, orbit, cmd):
    """:func:`closing_law` for the navigated chaser: its port is ``r + port_L`` (the guidance app's
    closing step). ``profile`` : (2, n) speed profile table; ``nav``, ``orbit`` : NAV_STATE, ORBIT_REF
    views read; ``cmd`` : GUIDANCE_CMD view, its acceleration written. Returns the axial distance [m]."""
    p = prm[0]
    s = scr[0]
    n = nav[0]
    for i in range(3):
        s.r_port_L_m[i] = n.r_LVLH_m[i] + p.port_L_m[i]
    return closing_law(s.r_port_L_m, n.v_LVLH_mps, p.docking_axis_L, profile[0], profile[1], orbit[0].n_rad_s,
                       p.k_v_1_s, p.k_lat_1_s, p.v_lat_max_mps, p.a_max_mps2, s.v_cmd_L_mps, cmd[0].accel_LVLH_mps2)


@njit(cache=True)
def hold_step(prm, nav, orbit, cmd, r_hold_LVLH_m):
    """:func:`hold_point_accel` at ``r_hold_LVLH_m`` for the navigated chaser; returns the position error [m]."""
    p = prm[0]
    n = nav[0]
    return hold_point_accel(n.r_LVLH_m, n.v_LVLH_mps, r_hold_LVLH_m, orbit[0].n_rad_s, p.hold_kp_1_s2, p.hold_kd_1_s,
                            p.a_max_mps2, cmd[0].accel_LVLH_mps2)


@njit(cache=True)
def goto_step(prm, scr, nav, orbit, cmd, r_target_LVLH_m):
    """:func:`goto_point_accel` to ``r_target_LVLH_m`` at the retreat speed; returns the distance left [m]."""
    p = prm[0]
    n = nav[0]
    return goto_point_accel(n.r_LVLH_m, n.v_LVLH_mps, r_target_LVLH_m, orbit[0].n_rad_s, p.k_lat_1_s,
                            p.retreat_speed_mps, p.k_v_1_s, p.a_max_mps2, scr[0].v_cmd_L_mps, cmd[0].accel_LVLH_mps2)


@njit(cache=True)
def guidance_publish(state, cmd, t_ns, phase, hold_index, translate, set_translation, target_r, target_v, dv_total,
                     retries):
    """Write GUIDANCE_STATE and close GUIDANCE_CMD for this step (the guidance app's record writes).

    ``state``, ``cmd`` : 1-element GUIDANCE_STATE / GUIDANCE_CMD views. ``translate`` : 1 when this
    step commanded an acceleration, else the acceleration is zeroed. ``set_translation`` : write
    ``translate`` to GUIDANCE_CMD.translation_enabled (not after a CAM or docking, which own that flag).
    """
    s = state[0]
    s.t_ns = t_ns
    s.seq += 1
    s.phase = phase
    s.hold_index = max(hold_index, 0)
    for i in range(3):
        s.target_r_LVLH_m[i] = target_r[i]
        s.target_v_LVLH_mps[i] = target_v[i]
    s.dv_total_mps = dv_total
    s.retries = retries
    c = cmd[0]
    if translate == 0:
        for i in range(3):
            c.accel_LVLH_mps2[i] = 0.0
    if set_translation:
        c.translation_enabled = translate
    c.t_ns = t_ns
    c.seq += 1

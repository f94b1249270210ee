"""Thruster control kernels: group authority from the thruster table, force/torque -> on-times.

Thruster groups (index: name): 0 +x, 1 -x, 2 +y, 3 -y, 4 +z, 5 -z, 6 +roll, 7 -roll, 8 +pitch,
9 -pitch, 10 +yaw, 11 -yaw. Translation groups are pure forces and attitude groups pure couples
(checked at start-up with :func:`group_authority`'s cross-talk output), so a force and a torque
command superpose: each of the six channels (Fx, Fy, Fz, Tx, Ty, Tz) drives one group of its pair.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .attitude import c_b_lvlh

GROUP_NAMES = ("+x", "-x", "+y", "-y", "+z", "-z", "+roll", "-roll", "+pitch", "-pitch", "+yaw", "-yaw")
N_GROUPS = 12
N_CHANNELS = 6


@njit(cache=True)
def thruster_group_wrench(pos_B_m, dir_B, thrust_N, group_idx, cm_B_m, wrench_out):
    """Net force and torque of each group with all its thrusters on.

    Parameters
    ----------
    pos_B_m : (n, 3) thruster positions, B; dir_B : (n, 3) unit force directions on the vehicle, B.
    thrust_N : (n,) thrust [N]; group_idx : (n,) int group index (see module doc).
    cm_B_m : (3,) centre of mass, B.
    wrench_out : (12, 6) out, per group ``[F_B (3) N, T_B (3) N m]``, T = sum (pos - cm) x F.
    """
    for g in range(N_GROUPS):
        for k in range(6):
            wrench_out[g, k] = 0.0
    for i in range(pos_B_m.shape[0]):
        g = group_idx[i]
        fx = thrust_N[i] * dir_B[i, 0]
        fy = thrust_N[i] * dir_B[i, 1]
        fz = thrust_N[i] * dir_B[i, 2]
        rx = pos_B_m[i, 0] - cm_B_m[0]
        ry = pos_B_m[i, 1] - cm_B_m[1]
        rz = pos_B_m[i, 2] - cm_B_m[2]
        wrench_out[g, 0] += fx
        wrench_out[g, 1] += fy
        wrench_out[g, 2] += fz
        wrench_out[g, 3] += ry * fz - rz * fy
        wrench_out[g, 4] += rz * fx - rx * fz
        wrench_out[g, 5] += rx * fy - ry * fx


@njit(cache=True)
def group_authority(wrench, authority_out, crosstalk_out):
    """Authority of each group along its own signed axis, and its parasitic wrench.

    Parameters
    ----------
    wrench : (12, 6) from :func:`thruster_group_wrench`.
    authority_out : (12,) out, force [N] (groups 0-5) or torque [N m] (groups 6-11) along the
        group's signed axis (positive for a correct table).
    crosstalk_out : (12,) out, largest magnitude among the other five wrench components
        (N or N m); a pure group has 0.
    """
    for g in range(N_GROUPS):
        ch = g // 2
        sgn = 1.0 if g % 2 == 0 else -1.0
        authority_out[g] = sgn * wrench[g, ch]
        worst = 0.0
        for k in range(6):
            if k != ch:
                worst = max(worst, abs(wrench[g, k]))
        crosstalk_out[g] = worst


@njit(cache=True)
def thruster_on_times(force_cmd_B_N, torque_cmd_B_Nm, period_s, authority, t_min_s, group_idx, carry,
                      on_group_out, on_thruster_out):
    """Turn a force and a torque command for one control period into thruster on-times.

    Parameters
    ----------
    force_cmd_B_N : (3,) commanded mean force over the period, B [N].
    torque_cmd_B_Nm : (3,) commanded mean torque over the period, B [N m].
    period_s : control period [s] (the on-time ceiling).
    authority : (12,) group authority [N or N m] from :func:`group_authority`.
    t_min_s : (12,) minimum on-time per group [s] = minimum impulse bit / thruster thrust.
    group_idx : (n,) group of each thruster.
    carry : (6,) in/out, per channel impulse not yet delivered [N s or N m s] (modulator state,
        zero at start).
    on_group_out : (12,) out, on-time of each group [s], 0 or in [t_min, period].
    on_thruster_out : (n,) out, on-time of each thruster [s] (that of its group).

    Returns
    -------
    int : bit c set when channel c (Fx, Fy, Fz, Tx, Ty, Tz) saturated at the period.

    Notes
    -----
    Per channel the wanted impulse J = cmd period + carry picks the group of its sign; the
    on-time is |J| / authority. Below t_min nothing fires and J is carried to the next period
    (a first-order sigma-delta modulator: the mean impulse follows the command, each pulse
    respects the minimum impulse bit; cf. the pulse-width pulse-frequency modulator of
    Wie 2008, Sec. 7.6). Above the period the pulse is clipped and the excess dropped
    (no wind-up).
    """
    sat = 0
    for g in range(N_GROUPS):
        on_group_out[g] = 0.0
    for c in range(N_CHANNELS):
        cmd = force_cmd_B_N[c] if c < 3 else torque_cmd_B_Nm[c - 3]
        J = cmd * period_s + carry[c]
        g = 2 * c if J >= 0.0 else 2 * c + 1
        t_on = abs(J) / authority[g]
        if t_on < t_min_s[g]:
            carry[c] = J
        elif t_on > period_s:
            on_group_out[g] = period_s
            carry[c] = 0.0
            sat |= 1 << c
        else:
            on_group_out[g] = t_on
            carry[c] = 0.0
    for i in range(group_idx.shape[0]):
        on_thruster_out[i] = on_group_out[group_idx[i]]
    return sat


#: A linear ramp's 10-90 % time is 0.8 of the whole ramp (the figures of docs/sensors.md section 8 are 10-90 %).
RAMP_OF_10_90 = 1.0 / 0.8


@njit(cache=True)
def valve_on_time(effective_s, up_s, down_s, period_s):
    """[s] The valve's on-time that delivers ``effective_s`` full-thrust seconds, with linear ramps of ``up_s`` (open)
    and ``down_s`` (close) (docs/sensors.md section 8): the inverse of a pulse's impulse over thrust from a closed
    valve, tau - up / 2 + down / 2 once it reaches full thrust (tau >= up), tau^2 (up + down) / (2 up^2) when it
    closes on the rise. A valve delay shifts the pulse and leaves its impulse alone.

    A pulse of the whole period stays the whole period: back to back, the valve stays open and the thrust full.
    Between, the inverse is that of an isolated pulse; when the last pulse's tail-off has not ended as this one opens,
    the pulse delivers a little more (a few percent at the longest on-times below the period).
    """
    if effective_s <= 0.0:
        return 0.0
    if effective_s >= period_s:
        return period_s
    if effective_s >= 0.5 * (up_s + down_s):
        tau = effective_s + 0.5 * (up_s - down_s)
    else:
        tau = up_s * math.sqrt(2.0 * effective_s / (up_s + down_s))
    return min(max(tau, 0.0), period_s)


@njit(cache=True)
def frame_on_times(on_period_s, frame_index, frame_s, on_frame_out):
    """Slice period on-times into the minor frame ``frame_index`` (pulses start at the period start).

    ``on_frame_out[i] = clip(on_period_s[i] - frame_index * frame_s, 0, frame_s)``: a pulse longer
    than a frame continues through consecutive frames (one valve opening, not several pulses).
    """
    t0 = frame_index * frame_s
    for i in range(on_period_s.shape[0]):
        on_frame_out[i] = min(max(on_period_s[i] - t0, 0.0), frame_s)


@njit(cache=True)
def thruster_control_step(q_BN, C_LN, accel_L, pending_dv_L, dv_done_mps, torque_B, mass_kg, period_s, authority,
                          t_min_s, group_idx, mdot_kg_s, carry, on_group, on_thruster_out, C_BL, force_B,
                          delivered_B, delivered_torque_B, dv_L_out, totals, parasitic_Nm):
    """One control period of thruster control: commanded acceleration or impulse + torque -> on-times.

    Parameters
    ----------
    q_BN : (4,) estimated attitude; C_LN : (3, 3) rotation N -> LVLH.
    accel_L : (3,) [m/s^2] commanded acceleration, LVLH (0 for free drift).
    pending_dv_L : (3,) in/out, [m/s] impulse still to deliver, LVLH; when nonzero it takes the
        period (a burn) and ``accel_L`` waits. Cleared when spent or when what is left turns back.
    dv_done_mps : [m/s] an impulse with less than this left is complete.
    torque_B : (3,) [N m] commanded mean torque, B.
    mass_kg : current mass estimate; period_s : control period [s].
    authority, t_min_s, group_idx, carry, on_group : see :func:`thruster_on_times`.
    mdot_kg_s : (n,) propellant flow of each thruster when on [kg/s].
    on_thruster_out : (n,) out, on-time per thruster [s] (may be the float32 actuator record).
    C_BL, force_B, delivered_B : (3, 3), (3,), (3,) scratch / outputs: rotation LVLH -> B, the
        force asked [N] and the mean force the pulses deliver [N], B.
    delivered_torque_B : (3,) out, [N m] mean torque the pulses deliver, B.
    dv_L_out : (3,) out, [m/s] delta-v the pulses deliver over the period, LVLH.
    totals : (4,) in/out accumulators: propellant used [kg], translation on-time [s],
        attitude on-time [s], pulses.
    parasitic_Nm : (6, 3) [N m] torque of each translation group firing fully, about the centre of mass the
        flight knows (zero when it is the table's origin, about which the groups are pure forces).

    Returns
    -------
    int : saturation bits of :func:`thruster_on_times`.

    Notes
    -----
    Torque first: the translation force's predicted parasitic torque is taken off the torque command, and the
    force is scaled down (all axes alike) as far as the attitude groups need to hold the commanded torque and
    that torque together (:func:`_translation_scale`). The delivered torque reported includes the parasitic
    torque of the translation on-times.
    """
    c_b_lvlh(q_BN, C_LN, C_BL)
    burning = pending_dv_L[0] != 0.0 or pending_dv_L[1] != 0.0 or pending_dv_L[2] != 0.0
    for i in range(3):
        f = 0.0
        for j in range(3):
            a_j = pending_dv_L[j] / period_s if burning else accel_L[j]
            f += C_BL[i, j] * a_j
        force_B[i] = mass_kg * f
    tp0 = tp1 = tp2 = 0.0  # predicted parasitic torque of the force asked
    for c in range(3):
        g = 2 * c if force_B[c] >= 0.0 else 2 * c + 1
        frac = min(1.0, abs(force_B[c]) / authority[g])
        tp0 += frac * parasitic_Nm[g, 0]
        tp1 += frac * parasitic_Nm[g, 1]
        tp2 += frac * parasitic_Nm[g, 2]
    if tp0 != 0.0 or tp1 != 0.0 or tp2 != 0.0:
        k = min(_translation_scale(torque_B[0], tp0, authority[6], authority[7]),
                _translation_scale(torque_B[1], tp1, authority[8], authority[9]),
                _translation_scale(torque_B[2], tp2, authority[10], authority[11]))
        for i in range(3):
            force_B[i] *= k
        t_cmd = np.empty(3)
        t_cmd[0], t_cmd[1], t_cmd[2] = torque_B[0] - k * tp0, torque_B[1] - k * tp1, torque_B[2] - k * tp2
        sat = thruster_on_times(force_B, t_cmd, period_s, authority, t_min_s, group_idx, carry, on_group,
                                on_thruster_out)
    else:
        sat = thruster_on_times(force_B, torque_B, period_s, authority, t_min_s, group_idx, carry, on_group,
                                on_thruster_out)
    period_wrench(on_group, authority, parasitic_Nm, period_s, mass_kg, C_BL, delivered_B, delivered_torque_B, dv_L_out)
    if burning:
        left = 0.0
        along = 0.0
        for j in range(3):
            pending_dv_L[j] -= dv_L_out[j]
            left += pending_dv_L[j] * pending_dv_L[j]
            along += pending_dv_L[j] * dv_L_out[j]
        # Spent once what is left is below the smallest pulse's worth or points back against the burn.
        if along < 0.0 or left < dv_done_mps * dv_done_mps:
            for j in range(3):
                pending_dv_L[j] = 0.0
    for i in range(group_idx.shape[0]):
        t = float(on_thruster_out[i])
        if t > 0.0:
            totals[0] += t * mdot_kg_s[i]
            if group_idx[i] < 6:
                totals[1] += t
            else:
                totals[2] += t
            totals[3] += 1.0
    return sat


@njit(cache=True)
def period_wrench(on_group, authority, parasitic_Nm, period_s, mass_kg, C_BL, delivered_B, delivered_torque_B,
                  dv_L_out):
    """The mean force and torque [N, N m] (B) and the delta-v [m/s] (LVLH) of a period whose groups deliver
    ``on_group`` full-thrust seconds each; the translation groups' torque about the centre of mass included
    (``parasitic_Nm``, see :func:`thruster_control_step`)."""
    for c in range(3):
        delivered_B[c] = (on_group[2 * c] * authority[2 * c] - on_group[2 * c + 1] * authority[2 * c + 1]) / period_s
        g = 6 + 2 * c
        delivered_torque_B[c] = (on_group[g] * authority[g] - on_group[g + 1] * authority[g + 1]) / period_s
        for t in range(6):
            delivered_torque_B[c] += on_group[t] * parasitic_Nm[t, c] / period_s
    k = period_s / mass_kg
    for j in range(3):
        dv_L_out[j] = k * (C_BL[0, j] * delivered_B[0] + C_BL[1, j] * delivered_B[1] + C_BL[2, j] * delivered_B[2])


@njit(cache=True)
def _ramp(level, h, is_open, up_s, down_s):
    """(level after, full-thrust seconds, their first moment about the segment's start [s^2]) of a thrust level
    (fraction of full thrust) over ``h`` [s] of open or closed valve: open, it rises at 1 / ``up_s`` up to 1;
    closed, it falls at 1 / ``down_s`` to 0 (0: a step). Over a linear piece L0 + r u, 0 <= u <= T: the area
    L0 T + r T^2 / 2 and the moment L0 T^2 / 2 + r T^3 / 3."""
    if h <= 0.0:
        return level, 0.0, 0.0
    if is_open:
        if level >= 1.0 or up_s <= 0.0:
            return 1.0, h, 0.5 * h * h
        t_full = (1.0 - level) * up_s
        if t_full >= h:
            return level + h / up_s, h * (level + 0.5 * h / up_s), h * h * (0.5 * level + h / (3.0 * up_s))
        area = 0.5 * t_full * (level + 1.0) + (h - t_full)
        moment = t_full * t_full * (0.5 * level + t_full / (3.0 * up_s)) + 0.5 * (h * h - t_full * t_full)
        return 1.0, area, moment
    if level <= 0.0 or down_s <= 0.0:
        return 0.0, 0.0, 0.0
    t_zero = level * down_s
    if t_zero >= h:
        return level - h / down_s, h * (level - 0.5 * h / down_s), h * h * (0.5 * level - h / (3.0 * down_s))
    return 0.0, 0.5 * t_zero * level, t_zero * t_zero * (0.5 * level - t_zero / (3.0 * down_s))


@njit(cache=True)
def period_pulse_areas(valve_s, pulse, delay_s, up_s, down_s, period_s, area_out, moment_out):
    """The full-thrust seconds each group's thrust delivers inside this period, and their first moment about the
    period's start [s^2], given its valve on-times from the period's start (docs/sensors.md section 8: the thrust
    follows the valve ``delay_s`` later, rising and tailing off linearly over ``up_s`` and ``down_s``).

    A pulse's tail-off (and the delay) carries thrust into the next period, and a valve still open at the period's
    start (a pulse of the whole period) stays open: ``pulse`` (N_GROUPS, 4), in/out, keeps per group the thrust
    level and the last closing, the opening and the closing of its valve command [s], relative to the period's
    start (-inf: none). Per group and period: open until the last closing (delayed), closed to the opening, open to
    the closing, closed to the period's end.
    """
    for g in range(valve_s.shape[0]):
        level, prev_close, t_open, t_close = pulse[g, 0], pulse[g, 1], pulse[g, 2], pulse[g, 3]
        tau = valve_s[g]
        if t_close >= 0.0:  # commanded open at this period's start: the pulse goes on, or ends now
            t_close = tau
        elif tau > 0.0:
            prev_close, t_open, t_close = t_close, 0.0, tau
        d, P, up, down = delay_s[g], period_s, up_s[g], down_s[g]
        b1 = min(max(prev_close + d, 0.0), P)
        b2 = min(max(t_open + d, 0.0), P)
        b3 = min(max(t_close + d, 0.0), P)
        level, a1, m1 = _ramp(level, b1, True, up, down)
        level, a2, m2 = _ramp(level, b2 - b1, False, up, down)
        level, a3, m3 = _ramp(level, b3 - b2, True, up, down)
        level, a4, m4 = _ramp(level, P - b3, False, up, down)
        area_out[g] = a1 + a2 + a3 + a4
        moment_out[g] = m1 + (m2 + a2 * b1) + (m3 + a3 * b2) + (m4 + a4 * b3)
        pulse[g, 0], pulse[g, 1], pulse[g, 2], pulse[g, 3] = level, prev_close - P, t_open - P, t_close - P


@njit(cache=True)
def _translation_scale(u, p, auth_pos, auth_neg):
    """Largest k in [0, 1] with the attitude groups able to give u - k p (authority ``auth_pos`` one way,
    ``auth_neg`` the other). When no k can, the k that leaves them the least to do: 1 if the parasitic torque p
    helps u, else 0."""
    if p == 0.0:
        return 1.0
    need = u - p  # at full translation
    if -auth_neg <= need <= auth_pos:
        return 1.0
    # the bound crossed at k = 1, met at k = (u - bound) / p
    bound = auth_pos if need > auth_pos else -auth_neg
    k = (u - bound) / p
    if k < 0.0:
        return 0.0  # u alone is beyond the bound already and p pushes further: no translation
    return min(1.0, k)


@njit(cache=True)
def thruster_torque_check(omega_B, omega_prev_B, torque_prev_B, translating, inertia_B, dt_s, tau_s, resid_f):
    """Low-pass residual between measured and predicted angular acceleration (thruster health).

    Parameters
    ----------
    omega_B, omega_prev_B : (3,) [rad/s] estimated body rate now and one step ago, B.
    torque_prev_B : (3,) [N m] mean torque the thrusters deliver over that step as the rates see it
        (``THRUSTER_PERIOD.resp_torque_B_Nm``, propulsion.response_weights).
    translating : the translation thrusters fired over that step; their torque about the true
        (dispersed, unknown) centre of mass cannot be predicted, so the step counts as no residual
        (:func:`translation_response_check` judges those steps instead).
    inertia_B : (3, 3) [kg m^2] inertia, B. dt_s : [s] step. tau_s : [s] low-pass time constant.
    resid_f : (3,) in/out, [rad/s^2] filtered residual.

    Returns
    -------
    float : [rad/s^2] norm of the filtered residual.

    Notes
    -----
    alpha_meas = (omega - omega_prev) / dt; alpha_pred = I^-1 (T - omega x I omega) (Euler's
    equation); the first-order filter (gain dt / (tau + dt)) averages out gyro noise, which the
    difference of two samples amplifies. A stuck-on or failed-off attitude thruster leaves a
    residual of the size of its couple over the inertia.
    """
    w0, w1, w2 = omega_B[0], omega_B[1], omega_B[2]
    h0 = inertia_B[0, 0] * w0 + inertia_B[0, 1] * w1 + inertia_B[0, 2] * w2
    h1 = inertia_B[1, 0] * w0 + inertia_B[1, 1] * w1 + inertia_B[1, 2] * w2
    h2 = inertia_B[2, 0] * w0 + inertia_B[2, 1] * w1 + inertia_B[2, 2] * w2
    net0 = torque_prev_B[0] - (w1 * h2 - w2 * h1)
    net1 = torque_prev_B[1] - (w2 * h0 - w0 * h2)
    net2 = torque_prev_B[2] - (w0 * h1 - w1 * h0)
    g = dt_s / (tau_s + dt_s)
    total = 0.0
    for i in range(3):
        # inertia is diagonal in the vehicle table; the off-diagonal terms enter through h only
        pred = (net0, net1, net2)[i] / inertia_B[i, i]
        meas = (omega_B[i] - omega_prev_B[i]) / dt_s
        resid_f[i] += g * ((0.0 if translating else meas - pred) - resid_f[i])
        total += resid_f[i] * resid_f[i]
    return total ** 0.5


MAX_TR = 16  # translation thrusters the signature table holds

#: The translation-thruster response check (:func:`translation_response_check`): its parameters, the
#: signature table of the vehicle's translation thrusters (:func:`translation_signatures`) and its state.
TR_CHECK = np.dtype([
    ("prior_N2s2", "f8"),               # a group is judged once its information reaches this
    ("memory_N2s2", "f8"),              # forgetting: a pulse J keeps exp(-J^2 / memory) of the past
    ("gate_Nm", "f8"),                  # no learning while the quiet steps' unexplained torque exceeds this
    ("tau_s", "f8"),                    # low-pass time constant of that unexplained torque
    ("n_thrusters", "i8"),              # rows of the signature table in use
    ("group", "i8", (MAX_TR,)),         # per translation thruster: its group, 0-5
    ("lever_m", "f8", (MAX_TR, 3)),     # its torque about the nominal CoM per newton of its group's authority, B
    ("bias_Nm", "f8", (3,)),            # unexplained torque, low-passed over the steps without translation, B
    ("info_N2s2", "f8", (6,)),          # per translation group: forgetting sum of its squared impulses
    ("num_N2ms2", "f8", (6, 3)),        # per group: forgetting sum of impulse x unexplained angular impulse
    ("lever_est_m", "f8", (6, 3)),      # per group: estimated parasitic torque per newton of its force, B
    ("ratio", "f8"),                    # estimated thrust / nominal of the weakest judged thruster (nan: none yet)
    ("weakest", "i8"),                  # its row in the signature table (-1: none)
], align=True)


@njit(cache=True)
def translation_signatures(pos_B_m, dir_B, thrust_N, group_idx, authority, tr):
    """Signature of each translation thruster: the torque it adds to its group, per newton of the group.

    Parameters
    ----------
    pos_B_m, dir_B, thrust_N, group_idx : thruster table (see :func:`thruster_group_wrench`); the
        centre of mass is the origin of B.
    authority : (12,) group authority [N] from :func:`group_authority`.
    tr : TR_CHECK (1,), its ``group``, ``lever_m`` (one row per translation thruster, group < 6, in
        table order: ``(r x F) / authority(group)``) and ``n_thrusters`` are written.

    Returns
    -------
    int : number of rows written (at most MAX_TR).

    Notes
    -----
    A translation group is a pure force only when all its thrusters fire. Thruster i delivering a
    fraction k_i of its thrust (the others nominal) leaves the parasitic torque
    ``(k_i - 1) r_i x F_i`` while the group fires: the lever written here times the group force.
    """
    t = tr[0]
    n = 0
    for i in range(pos_B_m.shape[0]):
        g = group_idx[i]
        if g < 0 or g >= 6 or n >= MAX_TR or authority[g] <= 0.0:
            continue
        fx = thrust_N[i] * dir_B[i, 0]
        fy = thrust_N[i] * dir_B[i, 1]
        fz = thrust_N[i] * dir_B[i, 2]
        rx, ry, rz = pos_B_m[i, 0], pos_B_m[i, 1], pos_B_m[i, 2]
        t.group[n] = g
        t.lever_m[n, 0] = (ry * fz - rz * fy) / authority[g]
        t.lever_m[n, 1] = (rz * fx - rx * fz) / authority[g]
        t.lever_m[n, 2] = (rx * fy - ry * fx) / authority[g]
        n += 1
    t.n_thrusters = n
    return n


@njit(cache=True)
def translation_response_check(omega_B, omega_prev_B, torque_prev_B, group_force_N, inertia_B, dt_s, tr):
    """Thrust of each translation thruster relative to nominal, from the torque its group should not make.

    Parameters
    ----------
    omega_B, omega_prev_B : (3,) [rad/s] estimated body rate now and one step ago, B.
    torque_prev_B : (3,) [N m] mean torque the thrusters deliver over that step as the rates see it, B.
    group_force_N : (6,) [N] mean force of each translation group over that step as the rates see it (>= 0): the
        rates are mean rates over a step, so their difference weighs a thrust at time s of the last period by
        1 - s / dt and one of the period before by s / dt (``THRUSTER_PERIOD.resp_*``, propulsion.response_weights).
    inertia_B : (3, 3) [kg m^2]. dt_s : [s] the step (the thruster control period).
    tr : TR_CHECK (1,), in/out: parameters, the signature table from :func:`translation_signatures`,
        and the estimator's state (zero at start, ``ratio`` nan, ``weakest`` -1).

    Returns
    -------
    float : [-] ``tr.ratio``, the smallest estimated thrust / nominal among the judged thrusters
        (nan while none is judged).

    Notes
    -----
    Unexplained angular impulse over the step: ``h = I (omega - omega_prev) - (T - omega x I omega) dt``.
    Steps without translation firing low-pass it into a torque bias b. A step in which groups g
    fired with impulses J_g = |F| dt is modelled as ``h - b dt = sum_g J_g p_g + noise``, with p_g
    [m] the parasitic torque per newton of group g (its centre-of-mass offset and misalignment
    part, and a failed thruster's). Each fired group's p_g is a forgetting least-squares fit of
    the residual left by the other fired groups' current estimates; ``prior`` shrinks it towards
    "healthy" by info / (info + prior) and a group is judged once its information reaches ``prior``.
    A thruster with lever s_i (:func:`translation_signatures`) then delivers
    ``k_i = 1 + p_g . s_i / |s_i|^2`` of its thrust (single-fault assumption): about 0 for a
    failed-off thruster, about 1 for a healthy one.
    """
    t = tr[0]
    if not dt_s > 0.0:
        return t.ratio
    prior, memory = t.prior_N2s2, t.memory_N2s2
    w0, w1, w2 = omega_B[0], omega_B[1], omega_B[2]
    d0, d1, d2 = w0 - omega_prev_B[0], w1 - omega_prev_B[1], w2 - omega_prev_B[2]
    L0 = inertia_B[0, 0] * w0 + inertia_B[0, 1] * w1 + inertia_B[0, 2] * w2
    L1 = inertia_B[1, 0] * w0 + inertia_B[1, 1] * w1 + inertia_B[1, 2] * w2
    L2 = inertia_B[2, 0] * w0 + inertia_B[2, 1] * w1 + inertia_B[2, 2] * w2
    h0 = (inertia_B[0, 0] * d0 + inertia_B[0, 1] * d1 + inertia_B[0, 2] * d2
          - (torque_prev_B[0] - (w1 * L2 - w2 * L1)) * dt_s)
    h1 = (inertia_B[1, 0] * d0 + inertia_B[1, 1] * d1 + inertia_B[1, 2] * d2
          - (torque_prev_B[1] - (w2 * L0 - w0 * L2)) * dt_s)
    h2 = (inertia_B[2, 0] * d0 + inertia_B[2, 1] * d1 + inertia_B[2, 2] * d2
          - (torque_prev_B[2] - (w0 * L1 - w1 * L0)) * dt_s)
    fired = 0
    for g in range(6):
        if group_force_N[g] > 0.0:
            fired += 1
    bias = t.bias_Nm
    if fired == 0:
        g = dt_s / (t.tau_s + dt_s)
        bias[0] += g * (h0 / dt_s - bias[0])
        bias[1] += g * (h1 / dt_s - bias[1])
        bias[2] += g * (h2 / dt_s - bias[2])
        return t.ratio
    b0, b1, b2 = bias[0], bias[1], bias[2]
    if not b0 * b0 + b1 * b1 + b2 * b2 < t.gate_Nm * t.gate_Nm:
        return t.ratio
    h0 -= b0 * dt_s
    h1 -= b1 * dt_s
    h2 -= b2 * dt_s
    info_g, num, est = t.info_N2s2, t.num_N2ms2, t.lever_est_m
    for g in range(6):
        if not group_force_N[g] > 0.0:
            continue
        J = group_force_N[g] * dt_s
        # what the other fired groups' current estimates do not explain
        r0, r1, r2 = h0, h1, h2
        for g2 in range(6):
            if g2 == g or not group_force_N[g2] > 0.0:
                continue
            J2 = group_force_N[g2] * dt_s
            r0 -= J2 * est[g2, 0]
            r1 -= J2 * est[g2, 1]
            r2 -= J2 * est[g2, 2]
        keep = math.exp(-J * J / memory) if memory > 0.0 else 0.0
        info = keep * info_g[g] + J * J
        info_g[g] = info
        num[g, 0] = keep * num[g, 0] + J * r0
        num[g, 1] = keep * num[g, 1] + J * r1
        num[g, 2] = keep * num[g, 2] + J * r2
        den = info + prior
        est[g, 0] = num[g, 0] / den
        est[g, 1] = num[g, 1] / den
        est[g, 2] = num[g, 2] / den
    worst = math.inf
    weakest = -1
    for i in range(t.n_thrusters):
        g = t.group[i]
        if g < 0 or g >= 6 or not info_g[g] >= prior or info_g[g] <= 0.0:
            continue
        s0, s1, s2 = t.lever_m[i, 0], t.lever_m[i, 1], t.lever_m[i, 2]
        ss = s0 * s0 + s1 * s1 + s2 * s2
        if ss <= 0.0:
            continue
        k = 1.0 + (est[g, 0] * s0 + est[g, 1] * s1 + est[g, 2] * s2) / ss
        if k < worst:
            worst = k
            weakest = i
    if weakest >= 0:
        t.ratio = worst
        t.weakest = weakest
    return t.ratio

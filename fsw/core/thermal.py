"""Heater-zone control kernels: thermostat, PI duty law, heater power budget.

Pure ``@njit`` functions over float64/int64 arrays; outputs go into caller-given arrays and
nothing is allocated per call. One call of :func:`thermal_step` per control period (1 Hz,
docs/reference.md "Flight-software timing") runs the whole zone set:

1. select each zone's temperature from its primary / backup thermistor (:func:`select_zone_temps`),
2. run the zone's control law (thermostat with hysteresis, or PI -> PWM duty),
3. share the heater power budget by zone priority (:func:`allocate_power`),
4. back-calculate the PI integrators to the duty actually granted (anti-windup),
5. update a filtered temperature rate per zone (the FDIR "heater failed" monitor reads it).

Array layouts (``n`` zones, heaters and thermistors indexed as in telemetry/dictionary.py):

- ``params[P_*, n]`` float64 configuration rows (see ``P_*`` constants).
- ``state[S_*, n]`` float64 in/out state rows (see ``S_*`` constants), created by
  :func:`init_state` (heaters off, integrators zero, ``S_PREV_T_C = nan``: no rate history).
- ``duty_out[2 n]``: heater duty 0..1, zone z primary at 2z, backup at 2z+1 (ACT_HEATERS.duty).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Zone control modes (``mode[z]``).
MODE_OFF = 0  # heater never commanded (zone disabled or both heaters failed)
MODE_THERMOSTAT = 1  # bang-bang with hysteresis
MODE_PI = 2  # PI law producing a PWM duty cycle

# Rows of ``params``.
P_SETPOINT_C = 0  # [degC] setpoint
P_HYST_C = 1  # [degC] half-width of the thermostat dead band: on at sp - h, off at sp + h
P_KP_PER_C = 2  # [1/degC] PI proportional gain (duty per degC of error)
P_KI_PER_C_S = 3  # [1/(degC s)] PI integral gain
P_HEATER_W = 4  # [W] electrical power of one heater unit at duty 1
N_PARAMS = 5

# Rows of ``state``.
S_ON = 0  # thermostat latch, 1.0 on / 0.0 off
S_INTEG_C_S = 1  # [degC s] PI integral of the error (setpoint - temperature)
S_PREV_T_C = 2  # [degC] temperature at the previous step, nan before the first valid one
S_RATE_C_S = 3  # [degC/s] low-pass filtered temperature rate
S_REQ_DUTY = 4  # [-] duty requested by the control law this step, before the budget
N_STATE = 5

# Below this shortfall a grant counts as full: float round-off is not load shedding.
_SHED_TOL_W = 1e-9


@njit(cache=True)
def _zone_temp(therm_C, valid_mask, z):
    """(temperature, thermistor index) of zone z: primary if usable, else backup, else (nan, -1)."""
    for k in (2 * z, 2 * z + 1):
        if (valid_mask >> k) & 1 and math.isfinite(therm_C[k]):
            return therm_C[k], k
    return np.nan, -1


@njit(cache=True)
def _thermostat(t_C, setpoint_C, hyst_C, on):
    """New latch value (1.0/0.0) of one thermostat; unchanged inside the dead band or for nan."""
    if t_C <= setpoint_C - hyst_C:
        return 1.0
    if t_C >= setpoint_C + hyst_C:
        return 0.0
    return on


@njit(cache=True)
def select_zone_temps(therm_C, valid_mask, temp_out_C, src_out):
    """Pick each zone's temperature: primary thermistor if valid, else backup, else nan.

    Parameters
    ----------
    therm_C : (2 n,) float64
        [degC] thermistor readings, zone z primary at 2z, backup at 2z+1 (DEV_THERMISTORS.temp_C).
    valid_mask : int
        Bit i set when thermistor i is valid (DEV_THERMISTORS.valid_mask).
    temp_out_C : (n,) float64
        [degC] out: selected temperature, nan when neither sensor is usable.
    src_out : (n,) int64
        Out: index of the thermistor used, -1 when none.

    Notes
    -----
    A reading is usable when its valid bit is set and it is finite; selecting the backup
    here keeps a failed primary thermistor from driving a heater before FDIR reacts.
    """
    for z in range(temp_out_C.shape[0]):
        temp_out_C[z], src_out[z] = _zone_temp(therm_C, valid_mask, z)


@njit(cache=True)
def thermostat_update(temp_C, setpoint_C, hyst_C, on_state):
    """Thermostat with hysteresis, one zone per element; ``on_state`` is updated in place.

    Parameters
    ----------
    temp_C, setpoint_C, hyst_C : (n,) float64
        [degC] zone temperature, setpoint, dead-band half-width.
    on_state : (n,) float64
        In/out latch: 1.0 heater on, 0.0 off.

    Notes
    -----
    On when ``T <= sp - h``, off when ``T >= sp + h``, unchanged in between (docs/reference.md
    Thermal: cabin setpoint 21 C, +-1 C hysteresis). A non-finite temperature leaves the
    latch unchanged; :func:`thermal_step` requests no power for such a zone.
    """
    for z in range(temp_C.shape[0]):
        on_state[z] = _thermostat(temp_C[z], setpoint_C[z], hyst_C[z], on_state[z])


@njit(cache=True)
def pi_duty(err_C, kp_per_C, ki_per_C_s, dt_s, integ_C_s):
    """One PI step for one zone: returns ``(duty, unsaturated_output, new_integral)``.

    Parameters
    ----------
    err_C : float
        [degC] setpoint minus temperature (positive: zone too cold, heat).
    kp_per_C : float
        [1/degC] proportional gain.
    ki_per_C_s : float
        [1/(degC s)] integral gain.
    dt_s : float
        [s] control period.
    integ_C_s : float
        [degC s] integral of the error before this step.

    Returns
    -------
    duty : float
        Output clipped to the heater's range 0..1.
    u : float
        Unclipped output ``kp e + ki I``; ``u != duty`` means saturated.
    integ_C_s : float
        [degC s] integral after this step (rectangle rule, ``I += e dt`` before the output).

    Notes
    -----
    Anti-windup is done by the caller once the granted duty is known
    (:func:`pi_track_integrator`), so that budget shedding and saturation are treated alike.
    """
    integ = integ_C_s + err_C * dt_s
    u = kp_per_C * err_C + ki_per_C_s * integ
    duty = min(max(u, 0.0), 1.0)
    return duty, u, integ


@njit(cache=True)
def pi_track_integrator(err_C, kp_per_C, ki_per_C_s, applied_duty, u, integ_C_s):
    """Anti-windup: re-set the integral so that the PI output equals the duty applied.

    Returns the new integral [degC s]. When the applied duty differs from the unsaturated
    output ``u`` (clipped to 0..1 or cut by the power budget) the integral becomes
    ``(applied - kp e) / ki``: back-calculation with an infinite tracking gain
    (Astrom & Hagglund, *Advanced PID Control*, 2006, sec. 3.5). With ``ki = 0`` it is unchanged.
    """
    if ki_per_C_s > 0.0 and applied_duty != u:
        return (applied_duty - kp_per_C * err_C) / ki_per_C_s
    return integ_C_s


@njit(cache=True)
def allocate_power(request_W, order, limit_W, granted_W):
    """Share a power budget among zones by priority; returns ``(total_W, shed_mask)``.

    Parameters
    ----------
    request_W : (n,) float64
        [W] power each zone asks for (duty x heater power); negative counts as zero.
    order : (n,) int64
        Zone indices, highest priority first (e.g. ``np.argsort(priority, kind="stable")``,
        computed once at start-up since priorities are configuration).
    limit_W : float
        [W] heater power budget (docs/reference.md Vehicle: at most 600 W).
    granted_W : (n,) float64
        [W] out: power granted to each zone.

    Returns
    -------
    total_W : float
        [W] sum of the grants, never above ``max(limit_W, 0)``.
    shed_mask : int
        Bit z set when zone z got less than it asked for (fully or partly shed).

    Notes
    -----
    Greedy in priority order: a zone gets ``min(request, remaining)``. The first zone that
    does not fit gets the remainder as a partial grant (a duty below its request), and every
    lower-priority zone that asked for power gets nothing. The budget is on power averaged
    over the control period; PWM phasing of heaters within the period is the HAL's concern.
    """
    remaining = max(limit_W, 0.0)
    total = 0.0
    shed = 0
    for i in range(order.shape[0]):
        z = order[i]
        req = max(request_W[z], 0.0)
        g = min(req, remaining)
        granted_W[z] = g
        remaining -= g
        total += g
        if req - g > _SHED_TOL_W:
            shed |= 1 << z
    return total, shed


@njit(cache=True)
def thermal_step(therm_C, valid_mask, params, mode, unit, order, limit_W, dt_s, rate_tau_s,
                 state, temp_out_C, granted_W, duty_out):
    """One control period of every heater zone; returns ``(power_W, shed_mask)``.

    Parameters
    ----------
    therm_C : (2 n,) float64
        [degC] thermistor readings (DEV_THERMISTORS.temp_C).
    valid_mask : int
        Thermistor valid bits (DEV_THERMISTORS.valid_mask).
    params : (N_PARAMS, n) float64
        Zone configuration, rows ``P_*``.
    mode : (n,) int64
        ``MODE_OFF``, ``MODE_THERMOSTAT`` or ``MODE_PI`` per zone.
    unit : (n,) int64
        Active heater unit per zone: 0 primary, 1 backup.
    order : (n,) int64
        Zone indices, highest priority first.
    limit_W : float
        [W] heater power budget.
    dt_s : float
        [s] control period.
    rate_tau_s : float
        [s] time constant of the first-order filter on the temperature rate.
    state : (N_STATE, n) float64
        In/out zone state, rows ``S_*``.
    temp_out_C : (n,) float64
        [degC] out: selected zone temperature, nan when no thermistor is usable.
    granted_W : (n,) float64
        [W] out: power granted per zone.
    duty_out : (2 n,) float64
        Out: heater duty 0..1, zone z primary at 2z, backup at 2z+1.

    Returns
    -------
    power_W : float
        [W] total heater power commanded (<= limit_W).
    shed_mask : int
        Bit z set when zone z was granted less than its control law asked for.

    Notes
    -----
    A zone without a usable temperature requests no power and keeps its state, so a sensor
    loss never latches a heater on. A thermostat zone granted part of its heater's power runs
    at that partial duty (PWM) rather than not at all. The rate filter is
    ``r += dt/(tau+dt) * ((T - T_prev)/dt - r)``, a backward-Euler first-order low-pass.
    """
    n = temp_out_C.shape[0]
    for z in range(n):
        t, _k = _zone_temp(therm_C, valid_mask, z)
        temp_out_C[z] = t
        req = 0.0
        if mode[z] == MODE_OFF:
            state[S_ON, z] = 0.0
        elif math.isfinite(t):
            sp = params[P_SETPOINT_C, z]
            if mode[z] == MODE_THERMOSTAT:
                state[S_ON, z] = _thermostat(t, sp, params[P_HYST_C, z], state[S_ON, z])
                req = state[S_ON, z]
            else:
                req, _u, state[S_INTEG_C_S, z] = pi_duty(
                    sp - t, params[P_KP_PER_C, z], params[P_KI_PER_C_S, z], dt_s,
                    state[S_INTEG_C_S, z])
        state[S_REQ_DUTY, z] = req
        # granted_W doubles as the request vector: allocate_power reads request[z] before it
        # writes granted[z] for the same z, so the in-place call is safe and allocation-free.
        granted_W[z] = req * params[P_HEATER_W, z]

    power_W, shed = allocate_power(granted_W, order, limit_W, granted_W)

    for z in range(n):
        p = params[P_HEATER_W, z]
        duty = 0.0
        if p > 0.0:
            # Unshed zones get their request exactly (no W -> duty round-off); shed ones their grant.
            duty = min(max(granted_W[z] / p, 0.0), 1.0) if (shed >> z) & 1 else state[S_REQ_DUTY, z]
        duty_out[2 * z] = 0.0
        duty_out[2 * z + 1] = 0.0
        duty_out[2 * z + (1 if unit[z] == 1 else 0)] = duty

        t = temp_out_C[z]
        if not math.isfinite(t):
            continue
        if mode[z] == MODE_PI:
            err = params[P_SETPOINT_C, z] - t
            kp = params[P_KP_PER_C, z]
            ki = params[P_KI_PER_C_S, z]
            u = kp * err + ki * state[S_INTEG_C_S, z]
            state[S_INTEG_C_S, z] = pi_track_integrator(err, kp, ki, duty, u, state[S_INTEG_C_S, z])
        prev = state[S_PREV_T_C, z]
        if math.isfinite(prev):
            state[S_RATE_C_S, z] += dt_s / (rate_tau_s + dt_s) * ((t - prev) / dt_s - state[S_RATE_C_S, z])
        state[S_PREV_T_C, z] = t

    return power_W, shed


def init_state(n_zones: int) -> np.ndarray:
    """Fresh ``state`` array for :func:`thermal_step`: heaters off, integrators zero, no history."""
    state = np.zeros((N_STATE, n_zones))
    state[S_PREV_T_C, :] = np.nan
    return state


# thermal_app_step bookkeeping rows (float64 (N_BOOK, n)) and returned flag bits
B_TEMP_FILT_C = 0  # [degC] heater check: low-pass filtered zone temperature, nan before the first reading
B_FULL_REF_C = 1   # [degC] filtered temperature when the active heater reached full duty, nan below full duty
B_MIN_C = 2        # [degC] run minimum of the zone temperature
B_MAX_C = 3        # [degC] run maximum
N_BOOK = 4
FLAG_VIOLATION = 0  # bit FLAG_VIOLATION + z: zone z left its limits (after the persistence)
FLAG_RECOVERED = 8  # bit FLAG_RECOVERED + z: zone z is back inside its limits


@njit(cache=True)
def thermal_app_step(t_ns, inhibit_mask, plausible_lo_C, plausible_hi_C, therm_C, params, mode, unit, order, limit_W,
                     dt_s, rate_tau_s, state, temp_C, granted_W, duty, check_alpha, full_duty, limit_lo_C,
                     limit_hi_C, persistence, book, counts, in_violation, energy_J, therm, heaters, out, check):
    """The thermal app's step: :func:`thermal_step` on DEV_THERMISTORS, then its outputs and monitors.

    Writes ACT_HEATERS (``heaters``), THERMAL_ZONES (``out``) and HEATER_CHECK (``check``); updates
    the heater check (fall of the filtered temperature since full duty), the run's per-zone
    extremes and per-heater commanded energy [J], and the limit monitor (``counts`` (2, n) int64:
    consecutive samples outside / inside; ``in_violation`` latched per zone). ``inhibit_mask``:
    thermistor bits deselected by FDIR or the ground. A reading outside ``[plausible_lo_C,
    plausible_hi_C]`` counts as invalid from the sample it appears in (the zone falls back to its
    other thermistor at once; FDIR's range watchpoint then deselects the sensor for good).

    Returns ``(power_W, shed_mask, flags)`` with FLAG_* bits per zone.
    """
    th = therm[0]
    mask = np.int64(th.valid_mask) & ~inhibit_mask
    for i in range(therm_C.shape[0]):
        therm_C[i] = th.temp_C[i]
        if not plausible_lo_C <= therm_C[i] <= plausible_hi_C:
            mask &= ~(np.int64(1) << i)
    power_W, shed = thermal_step(therm_C, mask, params, mode, unit, order, limit_W, dt_s, rate_tau_s, state,
                                 temp_C, granted_W, duty)
    hw = heaters[0]
    for i in range(duty.shape[0]):
        hw.duty[i] = duty[i]
    hw.t_ns = t_ns
    hw.seq += 1
    o = out[0]
    c = check[0]
    flags = 0
    for z in range(temp_C.shape[0]):
        zd = duty[2 * z] + duty[2 * z + 1]  # one of each pair is zero
        t = temp_C[z]
        o.temp_C[z] = t
        o.setpoint_C[z] = params[P_SETPOINT_C, z]
        o.heater_on[z] = zd > 0.0
        o.unit[z] = unit[z]
        o.duty[z] = zd
        o.dTdt_C_s[z] = state[S_RATE_C_S, z]
        # heater check
        tf = book[B_TEMP_FILT_C, z]
        if math.isfinite(t):
            tf = t if math.isnan(tf) else tf + check_alpha * (t - tf)
            book[B_TEMP_FILT_C, z] = tf
        if zd >= full_duty[z] and math.isfinite(tf):
            if math.isnan(book[B_FULL_REF_C, z]):
                book[B_FULL_REF_C, z] = tf
                c.full_s[z] = 0.0
            else:
                c.full_s[z] += dt_s
            c.fall_C[z] = max(book[B_FULL_REF_C, z] - tf, 0.0)
        else:
            book[B_FULL_REF_C, z] = np.nan
            c.fall_C[z] = 0.0
            c.full_s[z] = 0.0
        # run accounting: extremes and commanded heater energy
        if math.isfinite(t):
            book[B_MIN_C, z] = min(book[B_MIN_C, z], t)
            book[B_MAX_C, z] = max(book[B_MAX_C, z], t)
        for u in range(2):
            energy_J[2 * z + u] += duty[2 * z + u] * params[P_HEATER_W, z] * dt_s
        # limit monitor (no reading: neither a violation nor a recovery)
        if math.isfinite(t):
            if t < limit_lo_C[z] or t > limit_hi_C[z]:
                counts[0, z] += 1
                counts[1, z] = 0
            else:
                counts[1, z] += 1
                counts[0, z] = 0
            if not in_violation[z] and counts[0, z] >= persistence:
                in_violation[z] = True
                flags |= 1 << (FLAG_VIOLATION + z)
            elif in_violation[z] and counts[1, z] >= persistence:
                in_violation[z] = False
                flags |= 1 << (FLAG_RECOVERED + z)
    o.power_W = power_W
    o.power_limit_W = limit_W
    o.shed_mask = shed
    o.t_ns = t_ns
    o.seq += 1
    c.t_ns = t_ns
    c.seq += 1
    return power_W, shed, flags

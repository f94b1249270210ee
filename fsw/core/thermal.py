"""Heater-zone control kernels: thermostat, PI duty law, heater power budget.

Pure ``@njit`` functions over float64/int64 arrays; outputs go into caller-given arrays and
nothing is allocated per call. One call of :func:`thermal_step` per control period (1 Hz,
docs/reference.md "Flight-software timing") runs the whole zone set:

1. select each zone's temperature from its primary / backup thermistor (:func:`select_zone_temps`),
2. run the zone's control law (thermostat with hysteresis, or PI -> PWM duty),
3. share the heater power budget by zone priority (:func:`allocate_power`),
4. back-calculate the PI integrators to the duty actually granted (anti-windup),
5. update a filtered temperature rate per zone (the FDIR "heater failed" monitor reads it).

Records (``n`` zones, heaters and thermistors indexed as in telemetry/dictionary.py): the zones'
configuration is one :data:`THERMAL_PARAMS` record and their state one :data:`THERMAL_STATE` record,
each field an array over the zones (zone z's heaters and thermistors at 2z primary, 2z+1 backup);
:func:`new_state` makes a fresh state (heaters off, integrators zero, no rate history, no extremes).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Zone control modes (``mode[z]``).
MODE_OFF = 0  # heater never commanded (zone disabled or both heaters failed)
MODE_THERMOSTAT = 1  # bang-bang with hysteresis
MODE_PI = 2  # PI law producing a PWM duty cycle

MAX_ZONES = 8  # zones the records hold (telemetry.dictionary.N_HEATER_ZONES; the app checks)

#: The heater zones' configuration (fsw/config/thermal.toml) and the app's parameters, one record.
THERMAL_PARAMS = np.dtype([
    ("n_zones", "i8"),
    ("setpoint_C", "f8", (MAX_ZONES,)),       # [degC]
    ("hysteresis_C", "f8", (MAX_ZONES,)),     # [degC] thermostat dead band half-width: on at sp - h, off at sp + h
    ("kp_per_C", "f8", (MAX_ZONES,)),         # [1/degC] PI proportional gain (duty per degC of error)
    ("ki_per_C_s", "f8", (MAX_ZONES,)),       # [1/(degC s)] PI integral gain
    ("heater_W", "f8", (MAX_ZONES,)),         # [W] electrical power of one heater unit at duty 1
    ("mode", "i8", (MAX_ZONES,)),             # MODE_OFF, MODE_THERMOSTAT or MODE_PI
    ("order", "i8", (MAX_ZONES,)),            # zone indices, highest priority first
    ("limit_lo_C", "f8", (MAX_ZONES,)),       # [degC] the zone's allowed range (limit monitor)
    ("limit_hi_C", "f8", (MAX_ZONES,)),
    ("full_duty", "f8", (MAX_ZONES,)),        # heater check: the active heater counts as at full duty from this
    ("limit_W", "f8"),                        # [W] heater power budget
    ("dt_s", "f8"),                           # [s] control period (the schedule's)
    ("rate_tau_s", "f8"),                     # [s] low-pass of the temperature rate
    ("check_alpha", "f8"),                    # heater check: gain of the temperature low-pass per period
    ("persistence", "i8"),                    # limit monitor: periods outside / inside before a change
    ("plausible_C", "f8", (2,)),              # [degC] a thermistor reading outside this is not used
], align=True)

#: The zones' state between periods and their outputs of the last one.
THERMAL_STATE = np.dtype([
    ("unit", "i8", (MAX_ZONES,)),             # active heater unit: 0 primary, 1 backup
    ("on", "f8", (MAX_ZONES,)),               # thermostat latch, 1.0 on / 0.0 off
    ("integ_C_s", "f8", (MAX_ZONES,)),        # [degC s] PI integral of the error (setpoint - temperature)
    ("prev_T_C", "f8", (MAX_ZONES,)),         # [degC] temperature at the previous period, nan before the first
    ("rate_C_s", "f8", (MAX_ZONES,)),         # [degC/s] low-pass filtered temperature rate
    ("req_duty", "f8", (MAX_ZONES,)),         # duty requested by the control law, before the budget
    ("temp_C", "f8", (MAX_ZONES,)),           # [degC] selected zone temperature, nan without a usable thermistor
    ("granted_W", "f8", (MAX_ZONES,)),        # [W] power granted per zone
    ("duty", "f8", (2 * MAX_ZONES,)),         # heater duty 0..1, zone z primary at 2z, backup at 2z+1
    ("therm_C", "f8", (2 * MAX_ZONES,)),      # [degC] the thermistor readings of the period
    ("inhibit_mask", "i8"),                   # thermistor bits deselected by FDIR or the ground
    ("temp_filt_C", "f8", (MAX_ZONES,)),      # heater check: low-pass filtered temperature, nan before a reading
    ("full_ref_C", "f8", (MAX_ZONES,)),       # filtered temperature when the heater reached full duty (nan below)
    ("min_C", "f8", (MAX_ZONES,)),            # [degC] run extremes
    ("max_C", "f8", (MAX_ZONES,)),
    ("n_out", "i8", (MAX_ZONES,)),            # limit monitor: consecutive periods outside / inside the limits
    ("n_in", "i8", (MAX_ZONES,)),
    ("in_violation", "u1", (MAX_ZONES,)),     # latched violation
    ("energy_J", "f8", (2 * MAX_ZONES,)),     # [J] commanded heater energy, primary at 2z, backup at 2z+1
], align=True)

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
def thermal_step(therm_C, valid_mask, prm, st):
    """One control period of every heater zone; returns ``(power_W, shed_mask)``.

    Parameters
    ----------
    therm_C : (2 n,) float64
        [degC] thermistor readings (DEV_THERMISTORS.temp_C).
    valid_mask : int
        Thermistor valid bits (DEV_THERMISTORS.valid_mask).
    prm : THERMAL_PARAMS (1,)
        Zone configuration, the power budget, the period and the rate filter.
    st : THERMAL_STATE (1,)
        In/out zone state; ``temp_C`` (selected temperature, nan when no thermistor is usable),
        ``granted_W`` and ``duty`` (zone z primary at 2z, backup at 2z+1) are written.

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
    p = prm[0]
    s = st[0]
    n = p.n_zones
    dt_s = p.dt_s
    temp_out_C, granted_W, duty_out = s.temp_C, s.granted_W, s.duty
    for z in range(n):
        t, _k = _zone_temp(therm_C, valid_mask, z)
        temp_out_C[z] = t
        req = 0.0
        if p.mode[z] == MODE_OFF:
            s.on[z] = 0.0
        elif math.isfinite(t):
            sp = p.setpoint_C[z]
            if p.mode[z] == MODE_THERMOSTAT:
                s.on[z] = _thermostat(t, sp, p.hysteresis_C[z], s.on[z])
                req = s.on[z]
            else:
                req, _u, s.integ_C_s[z] = pi_duty(sp - t, p.kp_per_C[z], p.ki_per_C_s[z], dt_s, s.integ_C_s[z])
        s.req_duty[z] = req
        # granted_W doubles as the request vector: allocate_power reads request[z] before it
        # writes granted[z] for the same z, so the in-place call is safe and allocation-free.
        granted_W[z] = req * p.heater_W[z]

    power_W, shed = allocate_power(granted_W[:n], p.order[:n], p.limit_W, granted_W[:n])

    for z in range(n):
        hw = p.heater_W[z]
        duty = 0.0
        if hw > 0.0:
            # Unshed zones get their request exactly (no W -> duty round-off); shed ones their grant.
            duty = min(max(granted_W[z] / hw, 0.0), 1.0) if (shed >> z) & 1 else s.req_duty[z]
        duty_out[2 * z] = 0.0
        duty_out[2 * z + 1] = 0.0
        duty_out[2 * z + (1 if s.unit[z] == 1 else 0)] = duty

        t = temp_out_C[z]
        if not math.isfinite(t):
            continue
        if p.mode[z] == MODE_PI:
            err = p.setpoint_C[z] - t
            kp = p.kp_per_C[z]
            ki = p.ki_per_C_s[z]
            u = kp * err + ki * s.integ_C_s[z]
            s.integ_C_s[z] = pi_track_integrator(err, kp, ki, duty, u, s.integ_C_s[z])
        prev = s.prev_T_C[z]
        if math.isfinite(prev):
            s.rate_C_s[z] += dt_s / (p.rate_tau_s + dt_s) * ((t - prev) / dt_s - s.rate_C_s[z])
        s.prev_T_C[z] = t

    return power_W, shed


def new_state() -> np.ndarray:
    """A fresh THERMAL_STATE (1,): heaters off, integrators zero, no rate history, no reading yet."""
    st = np.zeros(1, THERMAL_STATE)
    s = st[0]
    s["prev_T_C"] = np.nan
    s["temp_C"] = np.nan
    s["temp_filt_C"] = np.nan
    s["full_ref_C"] = np.nan
    s["min_C"] = np.inf
    s["max_C"] = -np.inf
    return st


FLAG_VIOLATION = 0  # bit FLAG_VIOLATION + z: zone z left its limits (after the persistence)
FLAG_RECOVERED = 8  # bit FLAG_RECOVERED + z: zone z is back inside its limits


@njit(cache=True)
def thermal_app_step(prm, st, therm, heaters, out, check, t_ns):
    """The thermal app's step: :func:`thermal_step` on DEV_THERMISTORS, then its outputs and monitors.

    Writes ACT_HEATERS (``heaters``), THERMAL_ZONES (``out``) and HEATER_CHECK (``check``); updates
    the heater check (fall of the filtered temperature since full duty), the run's per-zone
    extremes and per-heater commanded energy [J], and the limit monitor (consecutive periods
    outside / inside, violation latched per zone). ``st.inhibit_mask``: thermistor bits deselected
    by FDIR or the ground. A reading outside ``prm.plausible_C`` counts as invalid from the sample it
    appears in (the zone falls back to its other thermistor at once; FDIR's range watchpoint then
    deselects the sensor for good).

    Returns ``(power_W, shed_mask, flags)`` with FLAG_* bits per zone.
    """
    p = prm[0]
    s = st[0]
    n = p.n_zones
    dt_s = p.dt_s
    lo_C, hi_C = p.plausible_C[0], p.plausible_C[1]
    th = therm[0]
    therm_C = s.therm_C[:2 * n]
    mask = np.int64(th.valid_mask) & ~s.inhibit_mask
    for i in range(therm_C.shape[0]):
        therm_C[i] = th.temp_C[i]
        if not lo_C <= therm_C[i] <= hi_C:
            mask &= ~(np.int64(1) << i)
    power_W, shed = thermal_step(therm_C, mask, prm, st)
    duty = s.duty
    hw = heaters[0]
    for i in range(2 * n):
        hw.duty[i] = duty[i]
    hw.t_ns = t_ns
    hw.seq += 1
    o = out[0]
    c = check[0]
    flags = 0
    for z in range(n):
        zd = duty[2 * z] + duty[2 * z + 1]  # one of each pair is zero
        t = s.temp_C[z]
        o.temp_C[z] = t
        o.setpoint_C[z] = p.setpoint_C[z]
        o.heater_on[z] = zd > 0.0
        o.unit[z] = s.unit[z]
        o.duty[z] = zd
        o.dTdt_C_s[z] = s.rate_C_s[z]
        # heater check
        tf = s.temp_filt_C[z]
        if math.isfinite(t):
            tf = t if math.isnan(tf) else tf + p.check_alpha * (t - tf)
            s.temp_filt_C[z] = tf
        if zd >= p.full_duty[z] and math.isfinite(tf):
            if math.isnan(s.full_ref_C[z]):
                s.full_ref_C[z] = tf
                c.full_s[z] = 0.0
            else:
                c.full_s[z] += dt_s
            c.fall_C[z] = max(s.full_ref_C[z] - tf, 0.0)
        else:
            s.full_ref_C[z] = np.nan
            c.fall_C[z] = 0.0
            c.full_s[z] = 0.0
        # run accounting: extremes and commanded heater energy
        if math.isfinite(t):
            s.min_C[z] = min(s.min_C[z], t)
            s.max_C[z] = max(s.max_C[z], t)
        for u in range(2):
            s.energy_J[2 * z + u] += duty[2 * z + u] * p.heater_W[z] * dt_s
        # limit monitor (no reading: neither a violation nor a recovery)
        if math.isfinite(t):
            if t < p.limit_lo_C[z] or t > p.limit_hi_C[z]:
                s.n_out[z] += 1
                s.n_in[z] = 0
            else:
                s.n_in[z] += 1
                s.n_out[z] = 0
            if s.in_violation[z] == 0 and s.n_out[z] >= p.persistence:
                s.in_violation[z] = 1
                flags |= 1 << (FLAG_VIOLATION + z)
            elif s.in_violation[z] != 0 and s.n_in[z] >= p.persistence:
                s.in_violation[z] = 0
                flags |= 1 << (FLAG_RECOVERED + z)
    o.power_W = power_W
    o.power_limit_W = p.limit_W
    o.shed_mask = shed
    o.t_ns = t_ns
    o.seq += 1
    c.t_ns = t_ns
    c.seq += 1
    return power_W, shed, flags

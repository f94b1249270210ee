"""The truth's per-minor-frame kernel: thrusters, orbits + attitude (RK4), contact, the due sensors.

One call advances the whole dynamic state by one minor frame and writes the sensor records that
are due at the new time, so Python dispatches one kernel per frame (the thermal network runs in
``sims.core.thermal`` on its own, slower frame). The truth's params and state are the records
``TRUTH_PARAMS`` and ``TRUTH_STATE`` below, each holding one field per sensor model
(``sims.core.sensors.SENSOR_MODELS``); the thrusters are a ``THRUSTER`` table.
Frames: N = ECI, L = station LVLH, S = station body (its docking port's frame), B = chaser body.

Modelling choices (documented here because the flight software meets them):

- The station holds LVLH with a control limit cycle: S is rotated from L by the small rotation
  vector theta_i(t) = A_i sin(w_i t + phi_i) per axis (:func:`station_attitude`); its docking port is
  fixed in S, so it moves in L. Contact, the capture envelope and the station-body collision are
  evaluated in S; relative GNSS still measures the CoM-to-CoM vector in L.
- Thruster on-times act as their mean force over the frame (impulse / frame), constant in B
  during the RK4 step. Ideal valves (no delay, rise or tail-off): impulse below half the minimum
  impulse bit (MIB) is not delivered (the valve driver rejects it); between half the MIB and the MIB
  the valve delivers the MIB. Shaped valves (``thrusters_shaped``): the thrust of a pulse follows
  the valve command delayed by ``delay_s``, rising linearly over ``ramp_up_s`` and tailing off
  linearly over ``ramp_down_s`` (:func:`thrust_ramp`), integrated exactly over each frame; the MIB
  rule then acts on the commanded on-time of a pulse that opens a closed valve: below half the
  minimum on-time ``t_min_s`` nothing opens, between half and all of it the valve stays open for
  ``t_min_s``, the on-time whose pulse delivers exactly the MIB (``sims.truth.min_on_time_s``).
- Propellant flow = impulse / (Isp g0); thrust stops when the propellant is exhausted.
- Inertia scales with mass: I = I_full m / m_full (mass distributed like the vehicle at start,
  whose inertia about its CoM ``sims.truth`` derives from the cargo load and its placement).
- After capture the vehicles are joined: the chaser keeps its position and attitude in the
  station's body frame S (it follows the limit cycle), thrust no longer moves it. The thermal
  scenarios' ideal attitude hold (``hold_lvlh``) holds the attitude in L.

Cost (the truth runs every 10 ms minor frame, so SIL at 2,000x real time leaves it ~1 us):

- The arrays of one truth travel as one argument, a :class:`FrameContext` (numba StructRef) made
  once by :func:`new_frame_context`, which checks their dtypes; ``sims.core.dispatch.bind`` gives
  the compiled entry point for it, which skips numba's per-call type dispatch (~0.1 us per array
  argument, record arrays more). Records are 1-element arrays: their fields compile to plain loads.
- RK4 runs on scalars (tuples of the station orbit, the chaser orbit, the attitude), no arrays and
  no division by the mass or the inertia inside the stages (their reciprocals are taken once). Once
  captured, the chaser's free step is overwritten by the join, as before.
- Work that only matters sometimes is skipped when it cannot matter, with identical results: the
  thruster table when no valve is open or pending and no thruster fault is set (thrust profiles only
  while a valve is active), the station's limit cycle when its amplitudes are 0, the full contact
  quantities (docking angles) unless the port plane is crossed in this frame, the hull distance
  while the chaser is farther aft than its hull radius, the dropout draw's normal CDF when the
  dropout probability is 0 (the draw is still taken, so the streams stay aligned), the inertia
  update when no propellant flowed. Sensor due-checks compare against a next-due frame instead of
  an integer modulo; a sensor's delivery check is one comparison while its queue is empty or its
  oldest sample not yet due, and its queue is allocated once (``sims.truth``).
- ``error_model="numpy"``: float division follows IEEE (no Python ZeroDivisionError branch).
  No ``fastmath``: contraction to FMA and reassociation would make results depend on the CPU, and
  a Monte Carlo case must replay bit for bit from its seed on another machine.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.core import types
from numba.experimental import structref
from numba.extending import overload

from .contact import (
    CAPTURE_LIMITS,
    CONTACT,
    contact_quantities,
    interpolate_contact,
    station_body_distance,
    within_envelope,
)
from .noise import STREAM
from .orbit import drag_factor, grav_j2_terms, lvlh_axes
from .quat import q_from_dcm, q_mul, rot, rot_t
from .sensors import SENSOR_MODELS, camera, dock_mech, gnss_abs, gnss_rel, gyro, gyro_sense, lidar, star_tracker

TRUTH_PARAMS = np.dtype([
    ("dt_s", "f8"),                     # [s] minor frame
    ("frame_ns", "i8"),                 # [ns] minor frame
    ("mu_m3_s2", "f8"),                 # [m^3/s^2] Earth's gravitational parameter
    ("earth_radius_m", "f8"),           # [m] equatorial radius (J2, drag altitude)
    ("j2", "f8"),                       # [-]
    ("earth_rate_rad_s", "f8"),         # [rad/s] Earth rotation rate (the atmosphere co-rotates)
    ("drag_on", "i8"),                  # 1 when drag is modelled
    ("rho0_kg_m3", "f8"),               # [kg/m^3] density at the reference altitude
    ("drag_ref_altitude_m", "f8"),      # [m]
    ("drag_scale_height_m", "f8"),      # [m]
    ("station_cda_m2", "f8"),           # [m^2] station Cd*A
    ("station_mass_kg", "f8"),          # [kg]
    ("chaser_cda_m2", "f8"),            # [m^2] chaser Cd*A
    ("port_S_m", "f8", (3,)),           # [m] station docking port rel. station CoM, S
    ("target_S_m", "f8", (3,)),         # [m] the sensors' target (reflectors, camera pattern) rel. where the flight
                                        # believes it is, S: this run's calibration error against the docking axis
    ("station_att_on", "i8"),           # 1 when the station's attitude limit cycle moves S (some amplitude > 0)
    ("station_att_amp_rad", "f8", (3,)),    # [rad] limit-cycle amplitude A_i about each axis of L
    ("station_att_rate_rad_s", "f8", (3,)),  # [rad/s] its angular frequency w_i = 2 pi / period
    ("station_att_phase_rad", "f8", (3,)),  # [rad] its phase phi_i at t = 0
    ("station_body_radius_m", "f8"),    # [m] station body (cylinder) radius
    ("station_body_length_m", "f8"),    # [m] station body length from the port plane along +y_S
    ("hull_radius_m", "f8"),            # [m] chaser hull radius for the collision check
    ("capture_ring_radius_m", "f8"),    # [m] the port centre must cross the port plane within it
    ("restitution", "f8"),              # [-] axial restitution after a failed contact
    ("port_B_m", "f8", (3,)),           # [m] chaser docking port rel. chaser CoM, B
    ("inertia_full_kg_m2", "f8", (3,)),  # [kg m^2] principal inertia at inertia_ref_mass_kg
    ("inertia_ref_mass_kg", "f8"),      # [kg]
    ("isp_g0_mps", "f8"),               # [m/s] effective exhaust velocity Isp*g0
    ("thrusters_shaped", "i8"),         # 1: thrust profiles (valve delay, rise, tail-off) of the THRUSTER table
    ("capture_limits", CAPTURE_LIMITS),  # the capture envelope
    ("hold_lvlh", "i8"),                # 1: attitude held ideally at hold_q_BL (thermal scenarios)
    *[(m.name, m.params) for m in SENSOR_MODELS],  # each sensor model's params, by its name
], align=True)

GEOMETRY = np.dtype([
    ("r_rel_L_m", "f8", (3,)),          # [m] chaser CoM rel. station docking port (where it is now), L
    ("v_rel_L_mps", "f8", (3,)),        # [m/s] its rate of change seen in L (the port's motion included)
    ("q_BL", "f8", (4,)),               # [-] chaser attitude w.r.t. L, scalar first
    ("omega_BL_B_rad_s", "f8", (3,)),   # [rad/s] chaser rate w.r.t. L, B
    ("omega_LN_L_rad_s", "f8", (3,)),   # [rad/s] LVLH rate w.r.t. N, L
    ("r_com_L_m", "f8", (3,)),          # [m] chaser CoM rel. station CoM, L (what relative GNSS measures)
    ("q_BS", "f8", (4,)),               # [-] chaser attitude w.r.t. the station port's frame S, scalar first
    ("v_com_L_mps", "f8", (3,)),        # [m/s] rate of change of r_com_L_m seen in L
    ("r_rel_S_m", "f8", (3,)),          # [m] chaser CoM rel. station docking port, S
    ("v_rel_S_mps", "f8", (3,)),        # [m/s] its rate of change seen in S
    ("omega_BS_B_rad_s", "f8", (3,)),   # [rad/s] chaser rate w.r.t. S, B
    ("q_SL", "f8", (4,)),               # [-] station body attitude w.r.t. L, scalar first
    ("omega_SL_S_rad_s", "f8", (3,)),   # [rad/s] station body rate w.r.t. L, S
], align=True)

TRUTH_STATE = np.dtype([
    ("frame", "i8"),                    # minor frames done
    ("t_ns", "i8"),                     # [ns] time now
    ("r_station_N_m", "f8", (3,)),      # [m] station CoM position, N
    ("v_station_N_mps", "f8", (3,)),    # [m/s] station CoM velocity, N
    ("r_chaser_N_m", "f8", (3,)),       # [m] chaser CoM position, N
    ("v_chaser_N_mps", "f8", (3,)),     # [m/s] chaser CoM velocity, N
    ("q_BN", "f8", (4,)),               # [-] chaser attitude, scalar first
    ("omega_BN_B_rad_s", "f8", (3,)),   # [rad/s] chaser body rate w.r.t. N, B
    ("mass_kg", "f8"),                  # [kg] chaser mass
    ("propellant_kg", "f8"),            # [kg] propellant remaining
    ("propellant_used_kg", "f8"),       # [kg]
    ("inertia_kg_m2", "f8", (3,)),      # [kg m^2] current principal inertia
    ("geometry", GEOMETRY),             # relative geometry derived from the above
    ("port_axial_prev_m", "f8"),        # [m] axial (y_S) port-to-port distance at the previous frame end
    ("join_r_rel_S_m", "f8", (3,)),     # [m] r_rel_S_m frozen at capture
    ("join_q_BS", "f8", (4,)),          # [-] q_BS frozen at capture
    ("hold_q_BL", "f8", (4,)),          # [-] attitude held w.r.t. L (hold_lvlh)
    ("contact", CONTACT),               # the last contact (interpolated to the port plane)
    ("captured", "i8"),                 # 1 after capture
    ("collided", "i8"),                 # 1 after any hit other than a capture
    ("thruster_seq", "i8"),             # seq of the last ACT_THRUSTERS command taken
    ("thrusters_busy", "i8"),           # 1 while some thruster still has on-time left from the last command
    ("thruster_faults", "i8"),          # 1 while some thruster has a fault mode (THRUSTER.mode)
    ("service_at", "i8"),               # frame count at which the kernel returns F_SERVICE (Python work due)
    ("engine_seq", "i8"),               # seq of the last ACT_ENGINES command taken
    ("engines_busy", "i8"),             # 1 while an orbit-control engine still has on-time left
    *[(m.name, m.state) for m in SENSOR_MODELS],  # each sensor model's state, by its name
], align=True)

THRUSTER = np.dtype([
    ("pos_B_m", "f8", (3,)),            # [m] position rel. chaser CoM, B
    ("dir_B", "f8", (3,)),              # [-] unit force direction, B, this run's misalignment applied
    ("thrust_N", "f8"),                 # [N] thrust, this run's error applied
    ("mib_Ns", "f8"),                   # [N s] minimum impulse bit
    ("mode", "i8"),                     # THRUSTER_NOMINAL, THRUSTER_STUCK_ON or THRUSTER_FAILED_OFF (faults)
    ("on_time_left_s", "f8"),           # [s] on-time it still has to fire from the last command (ideal valves)
    # thrust profile (TRUTH_PARAMS.thrusters_shaped); times of the valve command rel. the frame's start
    ("delay_s", "f8"),                  # [s] valve delay: thrust follows the command this much later
    ("ramp_up_s", "f8"),                # [s] linear rise from 0 to full thrust
    ("ramp_down_s", "f8"),              # [s] linear tail-off from full thrust to 0
    ("t_min_s", "f8"),                  # [s] minimum on-time of a pulse from a closed valve (delivers the MIB)
    ("level", "f8"),                    # [-] thrust / full thrust at the frame's start
    ("open_s", "f8"),                   # [s] the valve command's last opening (<= 0; -inf: never)
    ("close_s", "f8"),                  # [s] its closing (-inf: never opened)
    ("prev_close_s", "f8"),             # [s] the closing before the last opening (-inf: none)
], align=True)
# The orbit-control engines (issue #18): a table of their own, fired by ACT_ENGINES (no minimum impulse bit).
ENGINE = np.dtype([
    ("pos_B_m", "f8", (3,)),            # [m] position rel. chaser CoM, B
    ("dir_B", "f8", (3,)),              # [-] unit force direction, B, this run's misalignment applied
    ("thrust_N", "f8"),                 # [N] thrust, this run's error applied
    ("isp_g0_mps", "f8"),               # [m/s] effective exhaust velocity
    ("on_time_left_s", "f8"),           # [s] on-time it still has to fire from the last command
], align=True)
THRUSTER_NOMINAL = 0
THRUSTER_STUCK_ON = 1
THRUSTER_FAILED_OFF = 2

FRAME_WORK = np.dtype([                 # the frame kernel's scratch
    ("geometry", GEOMETRY),             # at the frame's end
    ("contact_start", CONTACT),         # contact quantities at the frame's start
    ("contact_end", CONTACT),           # and end
], align=True)

# frame kernel return bits
EV_CONTACT = 1
EV_CAPTURE = 2
EV_COLLISION = 4
F_SERVICE = 8  # the frame count reached state.service_at: thermal frame, noise refill or fault edge due
FRAMES_SHIFT = 1 << 16  # truth_frames packs the frames done above the flag bits


# ------------------------------------------------------------------ the frame context (one argument per frame)
@structref.register
class FrameContextType(types.StructRef):
    """numba type of a :class:`FrameContext`: its field types are those of the arrays it was made from."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class FrameContext(structref.StructRefProxy):
    """The arrays of one truth, bundled: records, tables, noise, scratch and device records.

    Made by :func:`new_frame_context`; it holds references to the arrays (not copies): the truth and
    the kernel share them, and an array replaced on the Python side is not seen by the kernel.
    """


structref.define_boxing(FrameContextType, FrameContext)

# name -> (dtype, shape or None for any 1-d length) of the context's arrays; then the device records
CONTEXT_ARRAYS = {
    "params": (TRUTH_PARAMS, (1,)), "state": (TRUTH_STATE, (1,)), "thrusters": (THRUSTER, None),
    "engines": (ENGINE, None),
    "streams": (STREAM, None), "noise": (np.dtype(np.float64), None), "work": (FRAME_WORK, (1,)),
}
CONTEXT_DEVICES = ("ACT_THRUSTERS", "ACT_ENGINES", *[m.device for m in SENSOR_MODELS])
# the delivery queues of the queued sensor models (sims.core.sensors: latency), named Q_<device>
CONTEXT_QUEUES = tuple(f"Q_{m.device}" for m in SENSOR_MODELS if m.queued)
CONTEXT_FIELDS = (*CONTEXT_ARRAYS, *CONTEXT_DEVICES, *CONTEXT_QUEUES)


def _new_context(arrays):
    raise NotImplementedError("numba only: see new_frame_context")


@overload(_new_context)
def _new_context_impl(arrays):
    ctx_type = FrameContextType(list(zip(CONTEXT_FIELDS, arrays.types, strict=True)))
    # one assignment per field (numba sets StructRef fields by attribute name only)
    src = "\n".join(["def impl(arrays):", "    c = new(ctx_type)",
                     *[f"    c.{name} = arrays[{i}]" for i, name in enumerate(CONTEXT_FIELDS)], "    return c"])
    scope = {"new": structref.new, "ctx_type": ctx_type}
    exec(src, scope)  # noqa: S102 - the source is built from the constant field names above
    return scope["impl"]


@njit(cache=True)
def _make_context(arrays):
    return _new_context(arrays)


def new_frame_context(devices, queues, **arrays) -> FrameContext:
    """The :class:`FrameContext` of :func:`truth_frame`: ``arrays`` by name (``CONTEXT_ARRAYS``), the
    1-element device record arrays ``devices`` by packet name (those of ``CONTEXT_DEVICES`` are taken)
    and the sensors' delivery queues ``queues`` (``CONTEXT_QUEUES``: 1-d arrays of their device's record).

    Checks each array's dtype and shape here, once: the kernel's compiled entry point checks nothing.
    """
    if set(arrays) != set(CONTEXT_ARRAYS):
        raise TypeError(f"new_frame_context: expected arrays {sorted(CONTEXT_ARRAYS)}, got {sorted(arrays)}")
    for name, (dtype, shape) in CONTEXT_ARRAYS.items():
        a = arrays[name]
        if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != 1 or (shape and a.shape != shape):
            got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
            raise TypeError(f"new_frame_context: {name} must be a 1-d array of its record dtype"
                            f"{f' and shape {shape}' if shape else ''}, got {got}")
    for name in CONTEXT_DEVICES:
        if devices[name].shape != (1,):
            raise TypeError(f"new_frame_context: device record {name} must be a 1-element array")
    for name in CONTEXT_QUEUES:
        q, dev = queues.get(name), devices[name[2:]]
        if not isinstance(q, np.ndarray) or q.ndim != 1 or q.shape[0] < 1 or q.dtype != dev.dtype:
            raise TypeError(f"new_frame_context: queue {name} must be a 1-d array of {name[2:]} records")
    return _make_context(tuple(arrays[n] for n in CONTEXT_ARRAYS) + tuple(devices[n] for n in CONTEXT_DEVICES)
                         + tuple(queues[n] for n in CONTEXT_QUEUES))


# ------------------------------------------------------------------ dynamics on scalars
# The rate helpers are inlined into the RK4 stage loop by numba (inline="always": LLVM does not inline across
# numba functions). The stages stay a loop: four inlined copies ran ~25 % faster but compiled 4x slower.
@njit(cache=True, inline="always", error_model="numpy")
def _accel(s, env, kd, drag_on):
    """[m/s^2] Gravity (two-body + J2) and, when ``drag_on``, drag ``kd`` (v - omega_E x r) at orbit state ``s`` =
    (r, v) (6), N, ``kd`` [1/s] its :func:`drag_factor`; then mu / r^3 and 1 / r^2 (``grav_j2_terms``).
    ``env``: :func:`environment`.
    """
    a = grav_j2_terms(s[0], s[1], s[2], env[0], env[1], env[2])
    if drag_on:
        we = env[3]
        return a[0] + kd * (s[3] + we * s[1]), a[1] + kd * (s[4] - we * s[0]), a[2] + kd * s[5], a[3], a[4]
    return a


@njit(cache=True, inline="always", error_model="numpy")
def _drag_factor(s, env, cda_over_m):
    """:func:`drag_factor` of orbit state ``s`` (6), N."""
    return drag_factor(s[0], s[1], s[2], s[3], s[4], s[5], env[3], env[1], env[4], env[5], env[6], cda_over_m)


@njit(cache=True, inline="always", error_model="numpy")
def _axpy6(y, h, k):
    return (y[0] + h * k[0], y[1] + h * k[1], y[2] + h * k[2], y[3] + h * k[3], y[4] + h * k[4],
            y[5] + h * k[5])


@njit(cache=True, inline="always", error_model="numpy")
def _axpy7(y, h, k):
    return (y[0] + h * k[0], y[1] + h * k[1], y[2] + h * k[2], y[3] + h * k[3], y[4] + h * k[4],
            y[5] + h * k[5], y[6] + h * k[6])


@njit(cache=True, inline="always", error_model="numpy")
def orbit_rates(s, env, kd, drag_on):
    """d/dt of an unforced orbit state ``s`` = (r [m], v [m/s]) (6), N (``kd``: :func:`_accel`)."""
    a = _accel(s, env, kd, drag_on)
    return s[3], s[4], s[5], a[0], a[1], a[2]


@njit(cache=True, inline="always", error_model="numpy")
def chaser_rates(o, w, env, kd, g, drag_on, joined, thrust):
    """d/dt of the chaser orbit ``o`` = (r_c, v_c) (6), N, and attitude ``w`` = (q_BN, omega_BN_B) (7).

    ``g`` = (f_B / m (3) [m/s^2], torque_B (3) [N m], ix, iy, iz [kg m^2], 1/ix, 1/iy, 1/iz): thrust
    constant in B over the frame, rotated to N with the stage attitude. Gravity-gradient torque
    (Schaub & Junkins eq. 4.85), Euler's equations with a principal inertia, Euler-parameter
    kinematics (Schaub eq. 3.104). ``joined``: the chaser orbit does not move (rates 0). ``thrust``
    False: the force is 0 (skips its rotation, same result). ``kd``: :func:`_accel`.
    """
    q0, q1, q2, q3, wx, wy, wz = w[0], w[1], w[2], w[3], w[4], w[5], w[6]
    a = _accel(o, env, kd, drag_on)
    if joined:
        do = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    elif thrust:
        fN = rot_t(q0, q1, q2, q3, g[0], g[1], g[2])
        do = (o[3], o[4], o[5], a[0] + fN[0], a[1] + fN[1], a[2] + fN[2])
    else:
        do = (o[3], o[4], o[5], a[0], a[1], a[2])
    ix, iy, iz = g[6], g[7], g[8]
    rB = rot(q0, q1, q2, q3, o[0], o[1], o[2])
    kgg = 3.0 * a[3] * a[4]  # 3 mu / r^5
    tx = g[3] + kgg * rB[1] * rB[2] * (iz - iy)
    ty = g[4] + kgg * rB[2] * rB[0] * (ix - iz)
    tz = g[5] + kgg * rB[0] * rB[1] * (iy - ix)
    dw = (-0.5 * (q1 * wx + q2 * wy + q3 * wz),
          0.5 * (q0 * wx + q2 * wz - q3 * wy),
          0.5 * (q0 * wy + q3 * wx - q1 * wz),
          0.5 * (q0 * wz + q1 * wy - q2 * wx),
          (tx - (iz - iy) * wy * wz) * g[9],
          (ty - (ix - iz) * wz * wx) * g[10],
          (tz - (iy - ix) * wx * wy) * g[11])
    return do, dw


@njit(cache=True, error_model="numpy")
def rk4_step(s, o, w, dt, env, kd_s, kd_c, g, drag_on, joined, thrust):
    """One classical RK4 step of the station orbit ``s`` (6), the chaser orbit ``o`` (6) and attitude ``w`` (7).

    ``y + dt/6 (k1 + 2 k2 + 2 k3 + k4)``, the sum accumulated in that order; q_BN renormalised at the end.
    Rates: :func:`orbit_rates` (station, drag factor ``kd_s``), :func:`chaser_rates` (the other arguments). The
    drag factors (density and relative speed, :func:`drag_factor`) are the step's start values: its direction
    follows each stage, its magnitude changes over a 10 ms frame by < 2e-5 of itself (1 m of altitude at the far
    range's 100 m/s radial speed, of a 59 km scale height), saving 16 exp / sqrt per frame.
    """
    h = 0.5 * dt
    ys, yo, yw = s, o, w
    acs, aco, acw = s, o, w
    for stage in range(4):
        ks = orbit_rates(ys, env, kd_s, drag_on)
        ko, kw = chaser_rates(yo, yw, env, kd_c, g, drag_on, joined, thrust)
        if stage == 0:
            acs, aco, acw = ks, ko, kw
        else:
            f = 1.0 if stage == 3 else 2.0
            acs, aco, acw = _axpy6(acs, f, ks), _axpy6(aco, f, ko), _axpy7(acw, f, kw)
        if stage < 3:
            hs = h if stage < 2 else dt
            ys, yo, yw = _axpy6(s, hs, ks), _axpy6(o, hs, ko), _axpy7(w, hs, kw)
    c = dt / 6.0
    wn = _axpy7(w, c, acw)
    qn = math.sqrt(wn[0] * wn[0] + wn[1] * wn[1] + wn[2] * wn[2] + wn[3] * wn[3])
    return (_axpy6(s, c, acs), _axpy6(o, c, aco),
            (wn[0] / qn, wn[1] / qn, wn[2] / qn, wn[3] / qn, wn[4], wn[5], wn[6]))


@njit(cache=True, inline="always", error_model="numpy")
def environment(p):
    """The Earth model of ``TRUTH_PARAMS`` record ``p`` as the rate functions take it:
    (mu [m^3/s^2], radius [m], J2, rotation rate [rad/s], rho0 [kg/m^3], reference altitude [m], scale height [m]).
    """
    return (p.mu_m3_s2, p.earth_radius_m, p.j2, p.earth_rate_rad_s, p.rho0_kg_m3, p.drag_ref_altitude_m,
            p.drag_scale_height_m)


@njit(cache=True, inline="always", error_model="numpy")
def _station(s):
    r, v = s.r_station_N_m, s.v_station_N_mps
    return r[0], r[1], r[2], v[0], v[1], v[2]


@njit(cache=True, inline="always", error_model="numpy")
def _chaser(s):
    r, v, q, w = s.r_chaser_N_m, s.v_chaser_N_mps, s.q_BN, s.omega_BN_B_rad_s
    return (r[0], r[1], r[2], v[0], v[1], v[2]), (q[0], q[1], q[2], q[3], w[0], w[1], w[2])


@njit(cache=True, inline="always", error_model="numpy")
def _store(st, s, o, w):
    for i in range(3):
        st.r_station_N_m[i] = s[i]
        st.v_station_N_mps[i] = s[3 + i]
        st.r_chaser_N_m[i] = o[i]
        st.v_chaser_N_mps[i] = o[3 + i]
        st.omega_BN_B_rad_s[i] = w[4 + i]
    for i in range(4):
        st.q_BN[i] = w[i]


# ------------------------------------------------------------------ station attitude and relative geometry
@njit(cache=True, inline="always", error_model="numpy")
def station_attitude(p, t_s):
    """The station body frame S w.r.t. LVLH at time ``t_s`` [s]: (q_SL (4), omega_SL in S (3), omega_SL in L (3)).

    S is rotated from L by the rotation vector theta with theta_i = A_i sin(w_i t + phi_i) (``TRUTH_PARAMS``
    ``station_att_*``), so C_SL = exp(-[theta x]). Its rate, exact for a rotation vector (Schaub & Junkins,
    *Analytical Mechanics of Space Systems*, sec. 3.5, principal rotation vector):
    omega_S = thd - k1 theta x thd + k2 theta x (theta x thd),
    omega_L = thd + k1 theta x thd + k2 theta x (theta x thd), k1 = (1 - cos g) / g^2,
    k2 = (g - sin g) / g^3, g = |theta|, thd the analytic derivative of theta.
    """
    if p.station_att_on == 0:
        return (1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    amp, w, ph = p.station_att_amp_rad, p.station_att_rate_rad_s, p.station_att_phase_rad
    a0, a1, a2 = w[0] * t_s + ph[0], w[1] * t_s + ph[1], w[2] * t_s + ph[2]
    x0, x1, x2 = amp[0] * math.sin(a0), amp[1] * math.sin(a1), amp[2] * math.sin(a2)
    d0, d1, d2 = amp[0] * w[0] * math.cos(a0), amp[1] * w[1] * math.cos(a1), amp[2] * w[2] * math.cos(a2)
    # the functions of g = |theta| as Taylor series in g^2 (no sqrt, no 0/0): with |theta| <= 0.31 rad (10 deg per
    # axis, sims.scenario) the first term left out is < 1e-14 of each sum
    g2 = x0 * x0 + x1 * x1 + x2 * x2
    h2 = 0.25 * g2  # (g / 2)^2
    ch = 1.0 - h2 / 2.0 * (1.0 - h2 / 12.0 * (1.0 - h2 / 30.0 * (1.0 - h2 / 56.0 * (1.0 - h2 / 90.0 * (
        1.0 - h2 / 132.0)))))  # cos(g / 2)
    f = 0.5 * (1.0 - h2 / 6.0 * (1.0 - h2 / 20.0 * (1.0 - h2 / 42.0 * (1.0 - h2 / 72.0 * (
        1.0 - h2 / 110.0)))))  # sin(g / 2) / g
    q = (ch, x0 * f, x1 * f, x2 * f)
    k1 = 2.0 * f * f  # (1 - cos g) / g^2 = 2 sin^2(g / 2) / g^2
    k2 = (1.0 - g2 / 20.0 * (1.0 - g2 / 42.0 * (1.0 - g2 / 72.0 * (1.0 - g2 / 110.0)))) / 6.0  # (g - sin g) / g^3
    c0, c1, c2 = x1 * d2 - x2 * d1, x2 * d0 - x0 * d2, x0 * d1 - x1 * d0  # theta x thd
    e0, e1, e2 = x1 * c2 - x2 * c1, x2 * c0 - x0 * c2, x0 * c1 - x1 * c0  # theta x (theta x thd)
    b0, b1, b2 = d0 + k2 * e0, d1 + k2 * e1, d2 + k2 * e2
    return q, (b0 - k1 * c0, b1 - k1 * c1, b2 - k1 * c2), (b0 + k1 * c0, b1 + k1 * c1, b2 + k1 * c2)


@njit(cache=True, inline="always", error_model="numpy")
def lvlh_rate(p, rs0, rs1, rs2, vs0, vs1, vs2, c):
    """[rad/s] (x, z) components of the LVLH rate omega_LN_L of the station orbit (r, v), N, with C_LN rows ``c``:
    in-plane |h|/r^2, and r a_h/|h| about x from the out-of-plane perturbation (J2, drag), Schaub & Junkins
    sec. 14.4."""
    hx = rs1 * vs2 - rs2 * vs1
    hy = rs2 * vs0 - rs0 * vs2
    hz = rs0 * vs1 - rs1 * vs0
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    drag_on = p.drag_on != 0
    env = environment(p)
    st = (rs0, rs1, rs2, vs0, vs1, vs2)
    a = _accel(st, env, _drag_factor(st, env, p.station_cda_m2 / p.station_mass_kg) if drag_on else 0.0, drag_on)
    # |r| a_h / |h| with a_h = a . z_L, and |h| / r^2 (a[4] = 1 / r^2)
    wLx = math.sqrt(rs0 * rs0 + rs1 * rs1 + rs2 * rs2) * (a[0] * c[6] + a[1] * c[7] + a[2] * c[8]) / hn
    return wLx, hn * a[4]


@njit(cache=True, error_model="numpy")
def relative_geometry(p, s, out, t_s):
    """Geometry of truth state ``s`` at time ``t_s`` [s], written to the ``GEOMETRY`` record ``out``.

    Also returns the rows of C_LN (9 floats) and q_LN. LVLH rate: :func:`lvlh_rate`. The port is
    fixed in the station body frame S (:func:`station_attitude`): port_L = C_LS port_S, moving in L at
    omega_SL x port_L; the S-frame quantities follow by the transport theorem.
    """
    rs0, rs1, rs2 = s.r_station_N_m[0], s.r_station_N_m[1], s.r_station_N_m[2]
    vs0, vs1, vs2 = s.v_station_N_mps[0], s.v_station_N_mps[1], s.v_station_N_mps[2]
    c = lvlh_axes(rs0, rs1, rs2, vs0, vs1, vs2)
    wLx, wLz = lvlh_rate(p, rs0, rs1, rs2, vs0, vs1, vs2, c)
    rc, vc = s.r_chaser_N_m, s.v_chaser_N_mps
    dr0, dr1, dr2 = rc[0] - rs0, rc[1] - rs1, rc[2] - rs2
    dv0, dv1, dv2 = vc[0] - vs0, vc[1] - vs1, vc[2] - vs2
    rL0 = c[0] * dr0 + c[1] * dr1 + c[2] * dr2
    rL1 = c[3] * dr0 + c[4] * dr1 + c[5] * dr2
    rL2 = c[6] * dr0 + c[7] * dr1 + c[8] * dr2
    # transport theorem with omega_LN = [wLx, 0, wLz]: the CoM-to-CoM rate seen in L
    vm = out.v_com_L_mps
    vm[0] = c[0] * dv0 + c[1] * dv1 + c[2] * dv2 + wLz * rL1
    vm[1] = c[3] * dv0 + c[4] * dv1 + c[5] * dv2 - (wLz * rL0 - wLx * rL2)
    vm[2] = c[6] * dv0 + c[7] * dv1 + c[8] * dv2 - wLx * rL1
    # the port where the station's attitude puts it, and its velocity omega_SL x port seen in L
    qS, wS, wSL = station_attitude(p, t_s)
    port = p.port_S_m
    pL = rot_t(qS[0], qS[1], qS[2], qS[3], port[0], port[1], port[2])
    r = out.r_rel_L_m
    r[0] = rL0 - pL[0]
    r[1] = rL1 - pL[1]
    r[2] = rL2 - pL[2]
    rc = out.r_com_L_m  # (r - port) + port, as the relative GNSS model summed it
    rc[0], rc[1], rc[2] = r[0] + pL[0], r[1] + pL[1], r[2] + pL[2]
    v = out.v_rel_L_mps
    v[0] = vm[0] - (wSL[1] * pL[2] - wSL[2] * pL[1])
    v[1] = vm[1] - (wSL[2] * pL[0] - wSL[0] * pL[2])
    v[2] = vm[2] - (wSL[0] * pL[1] - wSL[1] * pL[0])
    qLN = q_from_dcm(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8])
    qBN = s.q_BN
    q = q_mul(qBN[0], qBN[1], qBN[2], qBN[3], qLN[0], -qLN[1], -qLN[2], -qLN[3])
    qs = q_mul(q[0], q[1], q[2], q[3], qS[0], -qS[1], -qS[2], -qS[3])  # q_BS: C_BS = C_BL C_LS
    for i in range(4):
        out.q_BL[i] = q[i]
        out.q_BS[i] = qs[i]
        out.q_SL[i] = qS[i]
    wB = rot(q[0], q[1], q[2], q[3], wLx, 0.0, wLz)
    w = s.omega_BN_B_rad_s
    wBL0, wBL1, wBL2 = w[0] - wB[0], w[1] - wB[1], w[2] - wB[2]
    out.omega_BL_B_rad_s[0], out.omega_BL_B_rad_s[1], out.omega_BL_B_rad_s[2] = wBL0, wBL1, wBL2
    out.omega_LN_L_rad_s[0], out.omega_LN_L_rad_s[1], out.omega_LN_L_rad_s[2] = wLx, 0.0, wLz
    wSB = rot(qs[0], qs[1], qs[2], qs[3], wS[0], wS[1], wS[2])
    out.omega_BS_B_rad_s[0], out.omega_BS_B_rad_s[1], out.omega_BS_B_rad_s[2] = wBL0 - wSB[0], wBL1 - wSB[1], \
        wBL2 - wSB[2]
    out.omega_SL_S_rad_s[0], out.omega_SL_S_rad_s[1], out.omega_SL_S_rad_s[2] = wS[0], wS[1], wS[2]
    # in S: r_S = C_SL r, and its rate C_SL (v - omega_SL x r)
    rS = rot(qS[0], qS[1], qS[2], qS[3], r[0], r[1], r[2])
    vS = rot(qS[0], qS[1], qS[2], qS[3], v[0] - (wSL[1] * r[2] - wSL[2] * r[1]), v[1] - (wSL[2] * r[0] - wSL[0] * r[2]),
             v[2] - (wSL[0] * r[1] - wSL[1] * r[0]))
    for i in range(3):
        out.r_rel_S_m[i] = rS[i]
        out.v_rel_S_mps[i] = vS[i]
    return c, qLN


@njit(cache=True, inline="always", error_model="numpy")
def _copy_geometry(src, dst):
    for i in range(3):
        dst.r_rel_L_m[i] = src.r_rel_L_m[i]
        dst.v_rel_L_mps[i] = src.v_rel_L_mps[i]
        dst.omega_BL_B_rad_s[i] = src.omega_BL_B_rad_s[i]
        dst.omega_LN_L_rad_s[i] = src.omega_LN_L_rad_s[i]
        dst.r_com_L_m[i] = src.r_com_L_m[i]
        dst.v_com_L_mps[i] = src.v_com_L_mps[i]
        dst.r_rel_S_m[i] = src.r_rel_S_m[i]
        dst.v_rel_S_mps[i] = src.v_rel_S_mps[i]
        dst.omega_BS_B_rad_s[i] = src.omega_BS_B_rad_s[i]
        dst.omega_SL_S_rad_s[i] = src.omega_SL_S_rad_s[i]
    for i in range(4):
        dst.q_BL[i] = src.q_BL[i]
        dst.q_BS[i] = src.q_BS[i]
        dst.q_SL[i] = src.q_SL[i]


@njit(cache=True, error_model="numpy")
def impose_join(p, s, t_s):
    """Place the joined chaser rigidly on the station body at time ``t_s`` [s], in state ``s``: its CoM at
    ``join_r_rel_S_m`` from the port and its attitude ``join_q_BS``, both fixed in S; its velocity and body rate
    those of a point and a body fixed in S (omega_SN = omega_SL + omega_LN, the LVLH rate of :func:`lvlh_rate`)."""
    rs, vs = s.r_station_N_m, s.v_station_N_mps
    rs0, rs1, rs2 = rs[0], rs[1], rs[2]
    vs0, vs1, vs2 = vs[0], vs[1], vs[2]
    c = lvlh_axes(rs0, rs1, rs2, vs0, vs1, vs2)
    wLx, wLz = lvlh_rate(p, rs0, rs1, rs2, vs0, vs1, vs2, c)
    qS, wS, wSL = station_attitude(p, t_s)
    port, j = p.port_S_m, s.join_r_rel_S_m
    a = rot_t(qS[0], qS[1], qS[2], qS[3], j[0] + port[0], j[1] + port[1], j[2] + port[2])  # CoM rel. station CoM, L
    a0, a1, a2 = a[0], a[1], a[2]
    # omega_SN x a with omega_SN = [wLx, 0, wLz] + omega_SL (L)
    w0, w1, w2 = wLx + wSL[0], wSL[1], wLz + wSL[2]
    u0 = w1 * a2 - w2 * a1
    u1 = w2 * a0 - w0 * a2
    u2 = w0 * a1 - w1 * a0
    for i in range(3):
        s.r_chaser_N_m[i] = rs[i] + c[i] * a0 + c[3 + i] * a1 + c[6 + i] * a2
        s.v_chaser_N_mps[i] = vs[i] + c[i] * u0 + c[3 + i] * u1 + c[6 + i] * u2
    qLN = q_from_dcm(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8])
    qSN = q_mul(qS[0], qS[1], qS[2], qS[3], qLN[0], qLN[1], qLN[2], qLN[3])
    qj = s.join_q_BS
    q = q_mul(qj[0], qj[1], qj[2], qj[3], qSN[0], qSN[1], qSN[2], qSN[3])
    for i in range(4):
        s.q_BN[i] = q[i]
    wN = rot(qS[0], qS[1], qS[2], qS[3], wLx, 0.0, wLz)  # omega_LN in S
    wB = rot(qj[0], qj[1], qj[2], qj[3], wN[0] + wS[0], wN[1] + wS[1], wN[2] + wS[2])
    for i in range(3):
        s.omega_BN_B_rad_s[i] = wB[i]


@njit(cache=True, error_model="numpy")
def impose_lvlh_attitude(p, s, q_BL_hold):
    """Hold the chaser's attitude ideally at ``q_BL_hold`` w.r.t. LVLH (hold_lvlh), in state ``s``: it turns with
    the LVLH rate of :func:`lvlh_rate`."""
    rs, vs = s.r_station_N_m, s.v_station_N_mps
    rs0, rs1, rs2 = rs[0], rs[1], rs[2]
    vs0, vs1, vs2 = vs[0], vs[1], vs[2]
    c = lvlh_axes(rs0, rs1, rs2, vs0, vs1, vs2)
    wLx, wLz = lvlh_rate(p, rs0, rs1, rs2, vs0, vs1, vs2, c)
    qLN = q_from_dcm(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8])
    q = q_mul(q_BL_hold[0], q_BL_hold[1], q_BL_hold[2], q_BL_hold[3], qLN[0], qLN[1], qLN[2], qLN[3])
    for i in range(4):
        s.q_BN[i] = q[i]
    wB = rot(q_BL_hold[0], q_BL_hold[1], q_BL_hold[2], q_BL_hold[3], wLx, 0.0, wLz)
    for i in range(3):
        s.omega_BN_B_rad_s[i] = wB[i]


@njit(cache=True, inline="always", error_model="numpy")
def port_axial(g, p):
    """[m] Axial (y_S) port-to-port distance of ``GEOMETRY`` record ``g`` (< 0 before contact): the
    ``axial_distance_m`` of ``contact_quantities``."""
    q, port = g.q_BS, p.port_B_m
    aS = rot_t(q[0], q[1], q[2], q[3], port[0], port[1], port[2])
    return g.r_rel_S_m[1] + aS[1]


@njit(cache=True, error_model="numpy")
def truth_refresh(p, s):
    """Recompute the derived quantities of truth state ``s`` (after initialisation or an external edit)."""
    relative_geometry(p, s, s.geometry, s.t_ns * 1e-9)
    s.port_axial_prev_m = port_axial(s.geometry, p)


# ------------------------------------------------------------------ the steps of a frame
@njit(cache=True, inline="always", error_model="numpy")
def thrust_ramp(level, h, is_open, up_s, down_s):
    """(level after, area [s]) of a thrust level (fraction of full thrust) over ``h`` [s] of open or closed valve.

    Open, the level rises at 1 / ``up_s`` up to 1; closed, it falls at 1 / ``down_s`` down to 0 (a ramp time of 0 is
    a step). ``area`` is the integral of the level over the segment, exact for the linear ramps.
    """
    if h <= 0.0:
        return level, 0.0
    if is_open:
        if level >= 1.0 or up_s <= 0.0:
            return 1.0, h
        t_full = (1.0 - level) * up_s
        if t_full >= h:
            return level + h / up_s, h * (level + 0.5 * h / up_s)
        return 1.0, 0.5 * t_full * (level + 1.0) + (h - t_full)
    if level <= 0.0 or down_s <= 0.0:
        return 0.0, 0.0
    t_zero = level * down_s
    if t_zero >= h:
        return level - h / down_s, h * (level - 0.5 * h / down_s)
    return 0.0, 0.5 * t_zero * level


@njit(cache=True, inline="always", error_model="numpy")
def shaped_pulse(t, fresh, on_time_s, dt):
    """Impulse [N s] of ``THRUSTER`` row ``t`` over this frame with its thrust profile, and whether it stays active.

    A new command (``fresh``) gives the valve its on-time ``on_time_s`` from now: a valve commanded open stays open
    and closes at the new time (0 closes it now); a closed valve opens for it, after the minimum-on-time rule. The
    thrust follows the command ``delay_s`` later (the last closing before an opening still acts within the delay),
    through :func:`thrust_ramp`. A stuck-on valve is open, a failed-off one gives nothing; the command's timeline
    runs on under a fault. Times are kept relative to the frame's start and shifted by ``dt`` at its end.
    """
    if fresh:
        tau = max(float(on_time_s), 0.0)
        if t.close_s >= 0.0:  # commanded open: the pulse goes on (or ends now)
            t.close_s = tau
        else:
            t_min = t.t_min_s
            if tau < t_min:  # the valve driver's minimum on-time: the minimum impulse bit
                tau = 0.0 if tau < 0.5 * t_min else t_min
            if tau > 0.0:
                t.prev_close_s = t.close_s
                t.open_s = 0.0
                t.close_s = tau
    mode = t.mode
    level = t.level
    up, down, d = t.ramp_up_s, t.ramp_down_s, t.delay_s
    if mode == THRUSTER_FAILED_OFF:
        level, area = 0.0, 0.0
    elif mode == THRUSTER_STUCK_ON:
        level, area = thrust_ramp(level, dt, True, up, down)
    else:
        # the delayed command: open before b1, closed to b2, open to b3, closed to the frame's end
        b1 = min(max(t.prev_close_s + d, 0.0), dt)
        b2 = min(max(t.open_s + d, 0.0), dt)
        b3 = min(max(t.close_s + d, 0.0), dt)
        level, a1 = thrust_ramp(level, b1, True, up, down)
        level, a2 = thrust_ramp(level, b2 - b1, False, up, down)
        level, a3 = thrust_ramp(level, b3 - b2, True, up, down)
        level, a4 = thrust_ramp(level, dt - b3, False, up, down)
        area = a1 + a2 + a3 + a4
    t.level = level
    t.prev_close_s -= dt
    t.open_s -= dt
    t.close_s -= dt
    return t.thrust_N * area, level > 0.0 or t.close_s + d > 0.0


@njit(cache=True, inline="always", error_model="numpy")
def thruster_forces(p, s, table, cmd, dt):
    """Mean force and torque [N], [N m] over the frame, B, of the valves open in it; propellant used [kg].

    A new ACT_THRUSTERS command ``cmd`` (a new ``seq``) gives each thruster its on-time [s] from now;
    the valve drive fires it over as many frames as it takes. Ideal valves unless ``p.thrusters_shaped``
    (then :func:`shaped_pulse`). Returns (fx, fy, fz, tx, ty, tz, dm).
    """
    fx = fy = fz = tx = ty = tz = 0.0
    impulse = 0.0
    fresh = cmd.seq != s.thruster_seq
    if fresh or s.thrusters_busy != 0 or s.thruster_faults != 0:  # else no valve can open in this frame
        shaped = p.thrusters_shaped != 0
        on_time = cmd.on_time_s
        if fresh:
            s.thruster_seq = cmd.seq
            if not shaped:
                for i in range(table.shape[0]):
                    table[i].on_time_left_s = max(float(on_time[i]), 0.0)
        pending = False
        for i in range(table.shape[0]):
            t = table[i]
            if shaped:
                imp, active = shaped_pulse(t, fresh, on_time[i], dt)
                if active:
                    pending = True
                if imp <= 0.0:
                    continue
            else:
                mode = t.mode
                left = t.on_time_left_s
                if mode == THRUSTER_STUCK_ON:
                    on = dt
                elif mode == THRUSTER_FAILED_OFF:
                    on = 0.0
                else:
                    on = min(left, dt)
                    left -= on
                    t.on_time_left_s = left
                if left > 0.0:
                    pending = True
                if on <= 0.0:
                    continue
                imp = t.thrust_N * on
                mib = t.mib_Ns
                # The minimum impulse bit shapes a pulse that opens and closes inside this frame; the
                # tail of a longer pulse (valve already open) delivers its on-time exactly.
                if fresh and on < dt:
                    if imp < 0.5 * mib:
                        continue
                    if imp < mib:
                        imp = mib
            impulse += imp
            f = imp / dt
            d, pos = t.dir_B, t.pos_B_m
            dx, dy, dz = f * d[0], f * d[1], f * d[2]
            px, py, pz = pos[0], pos[1], pos[2]
            fx += dx
            fy += dy
            fz += dz
            tx += py * dz - pz * dy
            ty += pz * dx - px * dz
            tz += px * dy - py * dx
        s.thrusters_busy = 1 if pending else 0
    dm = 0.0
    if impulse > 0.0:
        dm = impulse / p.isp_g0_mps
        if dm > s.propellant_kg:
            k = s.propellant_kg / dm
            fx, fy, fz, tx, ty, tz = k * fx, k * fy, k * fz, k * tx, k * ty, k * tz
            dm = s.propellant_kg
    return fx, fy, fz, tx, ty, tz, dm


@njit(cache=True, inline="always", error_model="numpy")
def engine_forces(s, table, cmd, dt):
    """Mean force and torque [N], [N m] over the frame, B, of the orbit-control engines; propellant used [kg].

    A new ACT_ENGINES command ``cmd`` gives each engine its on-time [s] from now, fired over as many frames as it
    takes. Returns (fx, fy, fz, tx, ty, tz, dm).
    """
    fx = fy = fz = tx = ty = tz = 0.0
    dm = 0.0
    fresh = cmd.seq != s.engine_seq
    if fresh or s.engines_busy != 0:
        if fresh:
            s.engine_seq = cmd.seq
            for i in range(table.shape[0]):
                table[i].on_time_left_s = max(float(cmd.on_time_s[i]), 0.0)
        pending = False
        for i in range(table.shape[0]):
            e = table[i]
            on = min(e.on_time_left_s, dt)
            e.on_time_left_s -= on
            if e.on_time_left_s > 0.0:
                pending = True
            if on <= 0.0:
                continue
            f = e.thrust_N * on / dt
            d, pos = e.dir_B, e.pos_B_m
            dx, dy, dz = f * d[0], f * d[1], f * d[2]
            fx += dx
            fy += dy
            fz += dz
            tx += pos[1] * dz - pos[2] * dy
            ty += pos[2] * dx - pos[0] * dz
            tz += pos[0] * dy - pos[1] * dx
            dm += e.thrust_N * on / e.isp_g0_mps
        s.engines_busy = 1 if pending else 0
    return fx, fy, fz, tx, ty, tz, dm


@njit(cache=True, inline="always", error_model="numpy")
def rigid_body_step(p, s, ft, dm, dt, captured, t_end_s):
    """Both orbits and the chaser attitude over one frame under force and torque ``ft`` (6), B (RK4);
    then the propellant ``dm`` [kg] flowed, and the join to the station body at the frame's end ``t_end_s`` [s]
    (captured) or the ideal LVLH hold."""
    fx, fy, fz, tx, ty, tz = ft
    mass = s.mass_kg
    ix, iy, iz = s.inertia_kg_m2[0], s.inertia_kg_m2[1], s.inertia_kg_m2[2]
    g = (fx / mass, fy / mass, fz / mass, tx, ty, tz, ix, iy, iz, 1.0 / ix, 1.0 / iy, 1.0 / iz)
    o, w = _chaser(s)  # once captured the join below places the chaser: its free step is overwritten
    so = _station(s)
    env = environment(p)
    drag_on = p.drag_on != 0
    kd_s = _drag_factor(so, env, p.station_cda_m2 / p.station_mass_kg) if drag_on else 0.0
    kd_c = _drag_factor(o, env, p.chaser_cda_m2 / mass) if drag_on else 0.0
    so, o, w = rk4_step(so, o, w, dt, env, kd_s, kd_c, g, drag_on, False, fx != 0.0 or fy != 0.0 or fz != 0.0)
    _store(s, so, o, w)
    if dm > 0.0:
        s.propellant_kg -= dm
        s.propellant_used_kg += dm
        s.mass_kg -= dm
        for i in range(3):
            s.inertia_kg_m2[i] = p.inertia_full_kg_m2[i] * s.mass_kg / p.inertia_ref_mass_kg
    if captured:
        impose_join(p, s, t_end_s)
    elif p.hold_lvlh != 0:
        impose_lvlh_attitude(p, s, s.hold_q_BL)


@njit(cache=True, inline="always", error_model="numpy")
def docking_contact(p, s, work, c, y1, dt, t_end_s):
    """Contact of the ports in this frame (interpolated inside it), capture or bounce, hull collision; all
    in the station port's frame S.

    ``work.geometry`` holds the geometry at the frame's end ``t_end_s`` [s] (updated here by a capture or a
    bounce), ``s.geometry`` still that at its start; ``c`` the rows of C_LN and ``y1`` [m] the axial
    port-to-port distance (:func:`port_axial`) at its end. Returns event bits.
    """
    events = 0
    g = work.geometry
    y0 = s.port_axial_prev_m
    if y0 < 0.0 <= y1:
        cq1 = work.contact_end
        contact_quantities(g.r_rel_S_m, g.v_rel_S_mps, g.q_BS, g.omega_BS_B_rad_s, p.port_B_m, cq1)
        cq0 = work.contact_start
        g0 = s.geometry
        contact_quantities(g0.r_rel_S_m, g0.v_rel_S_mps, g0.q_BS, g0.omega_BS_B_rad_s, p.port_B_m, cq0)
        frac = y0 / (y0 - y1)
        cq = s.contact
        interpolate_contact(cq0, cq1, frac, cq)
        cq.time_s = (s.t_ns * 1e-9) + frac * dt
        if cq.lateral_misalignment_m <= p.capture_ring_radius_m:
            events |= EV_CONTACT
            s.dock_mech.contact_latched = 1
            if within_envelope(cq, p.capture_limits) == 0:
                events |= EV_CAPTURE
                s.captured = 1
                for i in range(3):
                    s.join_r_rel_S_m[i] = g.r_rel_S_m[i]
                for i in range(4):
                    s.join_q_BS[i] = g.q_BS[i]
                impose_join(p, s, t_end_s)
                relative_geometry(p, s, g, t_end_s)
            else:
                # failed docking: the rings bounce apart along the docking axis y_S
                if s.collided == 0:
                    events |= EV_COLLISION
                s.collided = 1
                k = -(1.0 + p.restitution) * cq1.axial_rate_mps
                qS = g.q_SL
                y = rot_t(qS[0], qS[1], qS[2], qS[3], 0.0, 1.0, 0.0)  # y_S in L
                for i in range(3):
                    s.v_chaser_N_mps[i] += k * (c[i] * y[0] + c[3 + i] * y[1] + c[6 + i] * y[2])
                    g.v_rel_L_mps[i] += k * y[i]
                    g.v_com_L_mps[i] += k * y[i]
                g.v_rel_S_mps[1] += k
        elif cq.lateral_misalignment_m <= p.station_body_radius_m and s.collided == 0:
            # the port reached the station's aft face outside the capture ring
            events |= EV_COLLISION
            s.collided = 1
    # the hull distance to the station body is at least the axial distance aft of the port plane
    hull = p.hull_radius_m
    if (s.collided == 0 and g.r_rel_S_m[1] >= -hull
            and station_body_distance(g.r_rel_S_m, p.station_body_radius_m, p.station_body_length_m) < hull):
        events |= EV_COLLISION
        s.collided = 1
    return events


@njit(cache=True, error_model="numpy")
def truth_frame(ctx):
    """Advance the truth by one minor frame; write the sensor records due at the new time.

    Parameters
    ----------
    ctx : FrameContext (:func:`new_frame_context`)
        params, state : ``TRUTH_PARAMS``, ``TRUTH_STATE`` records (1,); thrusters : ``THRUSTER`` table;
        noise, streams : standard-normal buffer and its ``STREAM`` rows; work : ``FRAME_WORK`` (1,);
        ACT_THRUSTERS (read) and the sensors' DEV_* records (written when a sample is delivered), record
        arrays (1,); Q_DEV_* the sensors' delivery queues

    Returns
    -------
    int
        event bits ``EV_CONTACT | EV_CAPTURE | EV_COLLISION`` that happened in this frame, and
        ``F_SERVICE`` when the frame count reached ``state.service_at`` (Python work due)
    """
    p, s, work = ctx.params[0], ctx.state[0], ctx.work[0]
    noise, streams = ctx.noise, ctx.streams
    dt = p.dt_s
    t_end = (s.t_ns + p.frame_ns) * 1e-9  # [s] the frame's end
    captured = s.captured != 0
    # thrusters: mean force and torque over the frame (none moves a joined chaser), propellant used
    fx, fy, fz, tx, ty, tz, dm = thruster_forces(p, s, ctx.thrusters, ctx.ACT_THRUSTERS[0], dt)
    # orbit-control engines, from the same tanks
    ex, ey, ez, etx, ety, etz, edm = engine_forces(s, ctx.engines, ctx.ACT_ENGINES[0], dt)
    if edm > 0.0:
        k = 1.0 if dm + edm <= s.propellant_kg else max(s.propellant_kg - dm, 0.0) / edm
        fx, fy, fz, tx, ty, tz = fx + k * ex, fy + k * ey, fz + k * ez, tx + k * etx, ty + k * ety, tz + k * etz
        dm += k * edm
    if captured:
        fx = fy = fz = tx = ty = tz = 0.0
    # dynamics: both orbits and the attitude, what the gyro senses of the body rotation
    w = s.omega_BN_B_rad_s
    omega_start = (w[0], w[1], w[2])
    rigid_body_step(p, s, (fx, fy, fz, tx, ty, tz), dm, dt, captured, t_end)
    gyro_sense(s.gyro, omega_start, s.omega_BN_B_rad_s, dt)
    # geometry at the new time; contact of the ports inside the frame
    c, _ = relative_geometry(p, s, work.geometry, t_end)
    y1 = port_axial(work.geometry, p)
    events = 0 if captured else docking_contact(p, s, work, c, y1, dt, t_end)
    s.port_axial_prev_m = y1
    _copy_geometry(work.geometry, s.geometry)
    # time
    frame = s.frame + 1
    s.frame = frame
    s.t_ns += p.frame_ns
    if frame >= s.service_at:
        events |= F_SERVICE
    # sensors, each sampling when due at the new time and delivering its samples whose latency is over
    gyro(p.gyro, s.gyro, ctx.DEV_GYRO[0], ctx.Q_DEV_GYRO, p, s, noise, streams)
    star_tracker(p.star_tracker, s.star_tracker, ctx.DEV_STAR_TRACKER[0], ctx.Q_DEV_STAR_TRACKER, p, s, noise,
                 streams)
    gnss_rel(p.gnss_rel, s.gnss_rel, ctx.DEV_GNSS_REL[0], ctx.Q_DEV_GNSS_REL, p, s, noise, streams)
    lidar(p.lidar, s.lidar, ctx.DEV_LIDAR[0], ctx.Q_DEV_LIDAR, p, s, noise, streams)
    camera(p.camera, s.camera, ctx.DEV_CAMERA[0], ctx.Q_DEV_CAMERA, p, s, noise, streams)
    dock_mech(p.dock_mech, s.dock_mech, ctx.DEV_DOCK_MECH[0], p, s, noise, streams)
    gnss_abs(p.gnss_abs, s.gnss_abs, ctx.DEV_GNSS_ABS[0], ctx.Q_DEV_GNSS_ABS, p, s, noise, streams)
    return events


@njit(cache=True, error_model="numpy")
def truth_frames(ctx, n_frames):
    """Up to ``n_frames`` frames of :func:`truth_frame` with the actuator records as they stand.

    Stops after the first frame that returns flags (an event or ``F_SERVICE``: Python work due
    before the next frame). Returns ``frames_done * FRAMES_SHIFT + flags``.
    """
    for k in range(n_frames):
        flags = truth_frame(ctx)
        if flags:
            return (k + 1) * FRAMES_SHIFT + flags
    return n_frames * FRAMES_SHIFT

"""The truth's sensor models: each one a params record, a state record, a kernel and its noise draws.

A model's kernel takes ``(p, s, dev, tp, ts, noise, streams)``: its own params and state records
(fields of the truth's ``TRUTH_PARAMS`` and ``TRUTH_STATE``, ``sims.core.frame``), its device record
(``telemetry/dictionary.py``, written when a sample reaches the flight software), the truth's
params and state records (the world it measures, at the new time), and the noise buffer with its
``STREAM`` array (``sims.core.noise``). It samples when it is due (every ``divisor`` minor frames)
and then takes exactly its declared draws, whether or not the sample is valid or lost, so that the
noise streams stay aligned. ``inline="always"``: numba inlines the models into the frame kernel.

Adding a sensor: its params and state dtypes (:func:`sensor_params`, :func:`sensor_state`), its
kernel and draw count, a row of :data:`SENSOR_MODELS`, one call in ``truth_frame``, the
[sensors.<name>] scenario table (its conversion to the params record: ``sims.truth.SENSOR_PARAMS``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .constants import KELVIN_OFFSET_K
from .contact import docking_angles
from .noise import draw, uniform_from_normal
from .quat import q_mul, q_small, rot

NEVER = 1 << 62  # a frame count that is never reached: ``next_due`` of a model that never samples


def sensor_params(*fields) -> np.dtype:
    """Params dtype of a sensor model: the fields every model has, then its own ``fields``."""
    return np.dtype([
        ("divisor", "i8"),         # [minor frames] sample period
        ("dropout_prob", "f8"),    # [-] probability that a sample is lost (random dropout)
        ("stream", "i8"),          # row of its noise stream in the STREAM array, -1 when it draws none
        ("dropout_stream", "i8"),  # row of the dropout stream (one draw per sample), -1 when it has none
        *fields,
    ], align=True)


def sensor_state(*fields) -> np.dtype:
    """State dtype of a sensor model: the fields every model has, then its own ``fields``."""
    return np.dtype([
        ("next_due", "i8"),  # minor frame count of its next sample (NEVER: none)
        ("off", "i8"),       # 1 while a sensor_dropout fault holds its samples back
        *fields,
    ], align=True)


@njit(cache=True, inline="always")
def due(p, s, frame):
    """True when the model samples at minor frame count ``frame``; moves its next-due frame on."""
    if frame < s.next_due:
        return False
    s.next_due += p.divisor
    return True


@njit(cache=True, inline="always")
def dropped(p, s, noise, streams):
    """A sample lost to the sensor_dropout fault or to random dropout (one draw of the dropout stream).

    The normal CDF of the draw is only evaluated when the dropout probability is not 0.
    """
    z = draw(noise, streams, p.dropout_stream)
    prob = p.dropout_prob
    return s.off != 0 or (prob > 0.0 and uniform_from_normal(z) < prob)


@njit(cache=True, inline="always")
def stamp(dev, t_ns, valid):
    """Mark device record ``dev`` as a new sample at ``t_ns`` [ns] (its ``seq`` moves on)."""
    dev.valid = 1 if valid else 0
    dev.t_ns = t_ns
    dev.seq += 1


@njit(cache=True, inline="always")
def draw3(noise, streams, k):
    """Three draws of stream ``k``, in order."""
    return draw(noise, streams, k), draw(noise, streams, k), draw(noise, streams, k)


@njit(cache=True, inline="always")
def measure3(out, x, y, z, sigma, n, bias, b0):
    """``out`` (3) = (x, y, z) + ``sigma`` times the draws ``n`` (3) + ``bias[b0:b0 + 3]``, per component."""
    out[0] = x + sigma * n[0] + bias[b0]
    out[1] = y + sigma * n[1] + bias[b0 + 1]
    out[2] = z + sigma * n[2] + bias[b0 + 2]


@njit(cache=True, inline="always")
def zero3(out):
    for i in range(3):
        out[i] = 0.0


GYRO_PARAMS = sensor_params(
    ("arw_sigma_rad_s", "f8"),   # [rad/s] white rate noise per sample: angle random walk over the sample interval
    ("bias_phi", "f8"),          # [-] Gauss-Markov bias transition per sample
    ("bias_sigma_rad_s", "f8"),  # [rad/s] bias driving noise per sample
    ("sample_s", "f8"),          # [s] sample interval
)
GYRO_STATE = sensor_state(
    ("fault_bias", "f8", (3,)),         # [rad/s] sensor_bias fault, B
    ("bias_rad_s", "f8", (3,)),         # [rad/s] Gauss-Markov bias, B
    ("theta_B_rad", "f8", (3,)),        # [rad] the unit's angle counter (errors included), B
    ("dtheta_true_B_rad", "f8", (3,)),  # [rad] true body rotation since the last sample, B
)
GYRO_DRAWS = 6  # bias driving noise (3), then angle random walk (3)


@njit(cache=True, inline="always", error_model="numpy")
def gyro_sense(s, omega_start_B_rad_s, omega_end_B_rad_s, dt_s):
    """Integrate the true body rotation over one frame [rad], B, into the gyro's state.

    Trapezoid of the rates at the frame's start (a tuple) and end (an array): the torque is constant
    within a frame, so the rate is linear in time but for the small gyroscopic term.
    """
    for i in range(3):
        s.dtheta_true_B_rad[i] += 0.5 * (omega_start_B_rad_s[i] + omega_end_B_rad_s[i]) * dt_s


@njit(cache=True, inline="always", error_model="numpy")
def gyro(p, s, dev, tp, ts, noise, streams):
    """Rate-integrating gyro (DEV_GYRO): angle counter and mean rate over the sample interval, B.

    The counter accumulates the angle turned over each sample interval, with Gauss-Markov bias and
    angle random walk, whether or not the sample reaches the flight software; the rate it reports
    is that increment over the interval (the mean rate, not an instantaneous one).
    """
    if not due(p, s, ts.frame):
        return
    drop = dropped(p, s, noise, streams)
    phi, bsig, sig = p.bias_phi, p.bias_sigma_rad_s, p.arw_sigma_rad_s
    dts = p.sample_s
    for i in range(3):
        s.bias_rad_s[i] = phi * s.bias_rad_s[i] + bsig * draw(noise, streams, p.stream)
    for i in range(3):
        d = s.dtheta_true_B_rad[i] + (s.bias_rad_s[i] + s.fault_bias[i] + sig * draw(noise, streams, p.stream)) * dts
        s.dtheta_true_B_rad[i] = 0.0
        s.theta_B_rad[i] += d
        if not drop:
            dev.theta_B_rad[i] = s.theta_B_rad[i]
            dev.omega_BN_B_rad_s[i] = d / dts
    if not drop:
        stamp(dev, ts.t_ns, True)


STAR_TRACKER_PARAMS = sensor_params(
    ("sigma_rad", "f8"),  # [rad] attitude noise per axis (small rotation)
)
STAR_TRACKER_STATE = sensor_state(
    ("fault_bias", "f8", (3,)),  # [rad] sensor_bias fault: small rotation, B
)
STAR_TRACKER_DRAWS = 3  # one small rotation


@njit(cache=True, inline="always", error_model="numpy")
def star_tracker(p, s, dev, tp, ts, noise, streams):
    """Star tracker (DEV_STAR_TRACKER): q_BN with a small-rotation error applied on the B side."""
    if not due(p, s, ts.frame):
        return
    drop = dropped(p, s, noise, streams)
    sig, fb = p.sigma_rad, s.fault_bias
    n = draw3(noise, streams, p.stream)
    e = q_small(fb[0] + sig * n[0], fb[1] + sig * n[1], fb[2] + sig * n[2])
    if not drop:
        q = ts.q_BN
        qm = q_mul(e[0], e[1], e[2], e[3], q[0], q[1], q[2], q[3])
        for i in range(4):
            dev.q_BN[i] = qm[i]
        stamp(dev, ts.t_ns, True)


GNSS_REL_PARAMS = sensor_params(
    ("sigma_r_m", "f8"),    # [m] position noise per axis
    ("sigma_v_mps", "f8"),  # [m/s] velocity noise per axis
    ("min_range_m", "f8"),  # [m] valid only beyond this CoM-to-CoM range
    ("max_range_m", "f8"),  # [m] ... and inside the inter-vehicle link's range
)
GNSS_REL_STATE = sensor_state(
    ("fault_bias", "f8", (6,)),  # sensor_bias fault: [m] position, then [m/s] velocity, L
)
GNSS_REL_DRAWS = 6  # position (3), then velocity (3)


@njit(cache=True, inline="always", error_model="numpy")
def gnss_rel(p, s, dev, tp, ts, noise, streams):
    """Relative GNSS (DEV_GNSS_REL): chaser CoM relative to the station CoM (not its port), L."""
    if not due(p, s, ts.frame):
        return
    drop = dropped(p, s, noise, streams)
    r, v, fb = ts.geometry.r_com_L_m, ts.geometry.v_rel_L_mps, s.fault_bias
    g0, g1, g2 = r[0], r[1], r[2]
    rng = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
    valid = p.min_range_m < rng <= p.max_range_m
    n_r = draw3(noise, streams, p.stream)
    n_v = draw3(noise, streams, p.stream)
    if drop:
        return
    if valid:
        measure3(dev.r_LVLH_m, g0, g1, g2, p.sigma_r_m, n_r, fb, 0)
        measure3(dev.v_LVLH_mps, v[0], v[1], v[2], p.sigma_v_mps, n_v, fb, 3)
    else:
        zero3(dev.r_LVLH_m)
        zero3(dev.v_LVLH_mps)
    stamp(dev, ts.t_ns, valid)


@njit(cache=True, inline="always")
def lidar_geometry(x_B_m, y_B_m, z_B_m):
    """(range [m], azimuth [rad], elevation [rad]) of a line of sight in B.

    az = atan2(y, x), el = asin(z / range) (telemetry/dictionary.py DEV_LIDAR).
    """
    rng = math.sqrt(x_B_m * x_B_m + y_B_m * y_B_m + z_B_m * z_B_m)
    return rng, math.atan2(y_B_m, x_B_m), math.asin(z_B_m / rng)


LIDAR_PARAMS = sensor_params(
    ("sigma_range_m", "f8"),     # [m] range noise, constant part
    ("sigma_range_frac", "f8"),  # [-] range noise, fraction of the range
    ("sigma_angle_rad", "f8"),   # [rad] azimuth and elevation noise
    ("max_range_m", "f8"),       # [m]
    ("cos_half_fov", "f8"),      # [-] cosine of the half field of view about x_B
    ("mount_B_m", "f8", (3,)),   # [m] sensor position rel. chaser CoM, B
)
LIDAR_STATE = sensor_state(
    ("fault_bias", "f8", (3,)),  # sensor_bias fault: [m] range, [rad] azimuth, [rad] elevation
)
LIDAR_DRAWS = 3  # range, azimuth, elevation


@njit(cache=True, inline="always", error_model="numpy")
def lidar(p, s, dev, tp, ts, noise, streams):
    """Laser rendezvous radar (DEV_LIDAR): range and bearing of the reflector at the station port, B."""
    if not due(p, s, ts.frame):
        return
    drop = dropped(p, s, noise, streams)
    r, q, mount, fb = ts.geometry.r_rel_L_m, ts.geometry.q_BL, p.mount_B_m, s.fault_bias
    los = rot(q[0], q[1], q[2], q[3], -r[0], -r[1], -r[2])  # chaser CoM -> station port, B
    lx = los[0] - mount[0]
    ly = los[1] - mount[1]
    lz = los[2] - mount[2]
    rng, az, el = lidar_geometry(lx, ly, lz)
    valid = rng < p.max_range_m and lx > p.cos_half_fov * rng
    n0, n1, n2 = draw3(noise, streams, p.stream)
    if drop:
        return
    if valid:
        dev.range_m = rng + (p.sigma_range_m + p.sigma_range_frac * rng) * n0 + fb[0]
        dev.az_rad = az + p.sigma_angle_rad * n1 + fb[1]
        dev.el_rad = el + p.sigma_angle_rad * n2 + fb[2]
    else:
        dev.range_m = 0.0
        dev.az_rad = 0.0
        dev.el_rad = 0.0
    stamp(dev, ts.t_ns, valid)


CAMERA_PARAMS = sensor_params(
    ("sigma_m", "f8"),        # [m] position noise per axis
    ("sigma_angle_rad", "f8"),  # [rad] attitude noise per axis
    ("max_range_m", "f8"),    # [m]
    ("cos_half_fov", "f8"),   # [-] cosine of the half field of view about x_B
)
CAMERA_STATE = sensor_state(
    ("fault_bias", "f8", (6,)),  # sensor_bias fault: [m] position, B, then [rad] roll, pitch, yaw
)
CAMERA_DRAWS = 6  # position (3), then attitude (3)


@njit(cache=True, inline="always", error_model="numpy")
def camera(p, s, dev, tp, ts, noise, streams):
    """Docking camera (DEV_CAMERA): station port rel. chaser port, B, and the docking misalignment angles."""
    if not due(p, s, ts.frame):
        return
    drop = dropped(p, s, noise, streams)
    r, q, port, fb = ts.geometry.r_rel_L_m, ts.geometry.q_BL, tp.port_B_m, s.fault_bias
    los = rot(q[0], q[1], q[2], q[3], -r[0], -r[1], -r[2])
    cx = los[0] - port[0]
    cy = los[1] - port[1]
    cz = los[2] - port[2]
    rng = math.sqrt(cx * cx + cy * cy + cz * cz)
    valid = rng < p.max_range_m and cx > p.cos_half_fov * rng
    qs = ts.geometry.q_BS  # the chaser's attitude relative to the port it sees
    roll, pitch, yaw = docking_angles(qs[0], qs[1], qs[2], qs[3])
    n_r = draw3(noise, streams, p.stream)
    n_att = draw3(noise, streams, p.stream)
    if drop:
        return
    if valid:
        measure3(dev.r_B_m, cx, cy, cz, p.sigma_m, n_r, fb, 0)
        measure3(dev.att_rad, roll, pitch, yaw, p.sigma_angle_rad, n_att, fb, 3)
    else:
        zero3(dev.r_B_m)
        zero3(dev.att_rad)
    stamp(dev, ts.t_ns, valid)


N_THERMISTOR_CHANNELS = 10  # DEV_THERMISTORS channels (telemetry/dictionary.py N_THERMISTORS; sims.truth checks)


@njit(cache=True, inline="always")
def quantize(value, quantum):
    """Round ``value`` to the nearest multiple of ``quantum`` (an ADC step); quantum 0 = none."""
    if quantum <= 0.0:
        return value
    return quantum * math.floor(value / quantum + 0.5)


THERMISTORS_PARAMS = sensor_params(
    ("sigma_C", "f8"),                          # [degC] noise per reading
    ("quantum_C", "f8"),                        # [degC] ADC step, 0: none
    ("channels", "i8"),                         # channels in use (2 per heater zone: primary, backup)
    ("node", "i8", (N_THERMISTOR_CHANNELS,)),  # thermal node each channel reads
)
THERMISTORS_STATE = sensor_state(
    ("fault_bias", "f8", (N_THERMISTOR_CHANNELS,)),  # [degC] sensor_bias fault per channel
)
THERMISTORS_DRAWS = 1  # per channel


@njit(cache=True, inline="always", error_model="numpy")
def thermistors(p, s, dev, tp, ts, noise, streams, nodes):
    """Thermistors (DEV_THERMISTORS): temperatures ``T_K`` [K] of the thermal ``nodes`` read in degC, noisy and
    quantised.

    Sampled by the thermal frame (its period is a whole number of thermal frames), after the network step.
    """
    if not due(p, s, ts.frame):
        return
    fresh = not dropped(p, s, noise, streams)
    sig, quantum = p.sigma_C, p.quantum_C
    for ch in range(p.channels):
        val = nodes[p.node[ch]].T_K - KELVIN_OFFSET_K + sig * draw(noise, streams, p.stream) + s.fault_bias[ch]
        if fresh:
            dev.temp_C[ch] = quantize(val, quantum)
    if fresh:
        dev.valid_mask = (1 << p.channels) - 1
        dev.t_ns = ts.t_ns
        dev.seq += 1


DOCK_MECH_PARAMS = sensor_params()
DOCK_MECH_STATE = sensor_state(
    ("contact_latched", "i8"),  # 1 from a ring contact until a sample has reported it
)
DOCK_MECH_DRAWS = 0


@njit(cache=True, inline="always")
def dock_mech(p, s, dev, tp, ts, noise, streams):
    """Docking mechanism (DEV_DOCK_MECH): ring contact since the last sample, capture latches closed."""
    if not due(p, s, ts.frame) or s.off != 0:
        return
    dev.contact = 1 if (s.contact_latched != 0 or ts.captured != 0) else 0
    dev.captured = 1 if ts.captured != 0 else 0
    dev.t_ns = ts.t_ns
    dev.seq += 1
    s.contact_latched = 0


# ------------------------------------------------------------------ absolute GNSS (issue #18, far range)
GNSS_ABS_PARAMS = sensor_params(
    ("sigma_r_m", "f8"),    # [m] position noise per axis
    ("sigma_v_mps", "f8"),  # [m/s] velocity noise per axis
)
GNSS_ABS_STATE = sensor_state(
    ("fault_bias", "f8", (6,)),  # sensor_bias fault: [m] position, then [m/s] velocity, N
)
GNSS_ABS_DRAWS = 6  # position (3), then velocity (3)


@njit(cache=True, inline="always", error_model="numpy")
def gnss_abs(p, s, dev, tp, ts, noise, streams):
    """Absolute GNSS receiver (DEV_GNSS_ABS): the chaser CoM's inertial position and velocity, N (white noise)."""
    if not due(p, s, ts.frame):
        return
    drop = s.off != 0
    r, v, fb = ts.r_chaser_N_m, ts.v_chaser_N_mps, s.fault_bias
    n_r = draw3(noise, streams, p.stream)
    n_v = draw3(noise, streams, p.stream)
    if drop:
        return
    measure3(dev.r_N_m, r[0], r[1], r[2], p.sigma_r_m, n_r, fb, 0)
    measure3(dev.v_N_mps, v[0], v[1], v[2], p.sigma_v_mps, n_v, fb, 3)
    stamp(dev, ts.t_ns, True)


class SensorModel:
    """One row of :data:`SENSOR_MODELS`: what the truth builds a sensor model from.

    name : its [sensors.<name>] scenario table, and its field in TRUTH_PARAMS and TRUTH_STATE
    device : the device record it writes (telemetry/dictionary.py)
    params, state : its record dtypes
    kernel : its kernel (samples when due)
    draws : standard normal draws of its own noise stream per sample, per channel for a model with
        a ``channels`` parameter
    spawn_key : ``numpy.random.SeedSequence`` spawn key of its own noise stream, None when it draws none.
        Keys are fixed so that a seed gives the same noise whatever models are added; ``sims.truth``
        lists the keys taken by other streams.
    dropout : whether a sample takes one draw of the shared dropout stream
    """

    __slots__ = ("name", "device", "params", "state", "kernel", "draws", "spawn_key", "dropout")

    def __init__(self, name, device, params, state, kernel, draws, spawn_key, dropout=True):
        self.name, self.device, self.params, self.state, self.kernel = name, device, params, state, kernel
        self.draws, self.spawn_key, self.dropout = draws, spawn_key, dropout

    def draws_per_sample(self, params) -> int:
        """Draws of its own stream per sample, for its params record ``params``."""
        per_channel = "channels" in params.dtype.names
        return self.draws * int(params["channels"]) if per_channel else self.draws

    def __repr__(self) -> str:
        return f"SensorModel({self.name!r}, {self.device!r})"


SENSOR_MODELS = (
    SensorModel("gyro", "DEV_GYRO", GYRO_PARAMS, GYRO_STATE, gyro, GYRO_DRAWS, 0),
    SensorModel("star_tracker", "DEV_STAR_TRACKER", STAR_TRACKER_PARAMS, STAR_TRACKER_STATE, star_tracker,
                STAR_TRACKER_DRAWS, 1),
    SensorModel("gnss_rel", "DEV_GNSS_REL", GNSS_REL_PARAMS, GNSS_REL_STATE, gnss_rel, GNSS_REL_DRAWS, 2),
    SensorModel("lidar", "DEV_LIDAR", LIDAR_PARAMS, LIDAR_STATE, lidar, LIDAR_DRAWS, 3),
    SensorModel("camera", "DEV_CAMERA", CAMERA_PARAMS, CAMERA_STATE, camera, CAMERA_DRAWS, 4),
    SensorModel("thermistors", "DEV_THERMISTORS", THERMISTORS_PARAMS, THERMISTORS_STATE, thermistors,
                THERMISTORS_DRAWS, 5),
    SensorModel("dock_mech", "DEV_DOCK_MECH", DOCK_MECH_PARAMS, DOCK_MECH_STATE, dock_mech, DOCK_MECH_DRAWS, None,
                dropout=False),
    # its own stream (key 9) and no draw of the shared dropout stream: adding it leaves every other model's numbers
    SensorModel("gnss_abs", "DEV_GNSS_ABS", GNSS_ABS_PARAMS, GNSS_ABS_STATE, gnss_abs, GNSS_ABS_DRAWS, 9,
                dropout=False),
)

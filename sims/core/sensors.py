"""The truth's sensor models: each one a params record, a state record, a kernel and its noise draws.

A model's kernel takes ``(p, s, dev, q, tp, ts, noise, streams)``: its own params and state records
(fields of the truth's ``TRUTH_PARAMS`` and ``TRUTH_STATE``, ``sims.core.frame``), its device record
(``telemetry/dictionary.py``, what the flight software reads), its delivery queue ``q`` (below), the
truth's params and state records (the world it measures, at the new time), and the noise buffer with
its ``STREAM`` array (``sims.core.noise``). It samples when it is due (every ``divisor`` minor frames)
and then takes exactly its declared draws, whether or not the sample is valid or lost, so that the
noise streams stay aligned: ``draws`` of its own stream, ``err_draws`` of its error stream (the error
terms of issue #17: Gauss-Markov biases, dropout bursts, outliers, rate random walk; a stream of its
own so that adding them left the older draws' numbers unchanged) and one of the shared dropout
stream. ``inline="always"``: numba inlines the models into the frame kernel.

Latency: a sample measured at time t carries ``t_ns`` = t but reaches the device record only at
t + ``latency_ns`` (whole minor frames). A kept sample goes into the model's delivery queue, a ring
of device records (depth ``latency // period + 1``, allocated by ``sims.truth``); every frame the
model delivers the queued samples that are due (:func:`deliver`: the record copied, ``seq`` + 1).
With no latency a sample is written straight into the device record, in the frame it is measured.
A lost sample (dropout, a burst, a ``sensor_dropout`` fault) is never queued: the flight software
sees no new ``seq``.

Figures and their sources: ``docs/sensors.md``. ``[sensors] ideal = true`` (``sims.truth``) zeroes
every error term but the white noise (and the gyro's Gauss-Markov bias, which the models always had).

Adding a sensor: its params and state dtypes (:func:`sensor_params`, :func:`sensor_state`), its
kernel and draw counts, a row of :data:`SENSOR_MODELS`, one call in ``truth_frame``, the
[sensors.<name>] scenario table (its conversion to the params record: ``sims.truth.SENSOR_PARAMS``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from .constants import KELVIN_OFFSET_K, NS_PER_S
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
        ("err_stream", "i8"),      # row of its error-term stream, -1 when it has none
        ("latency_ns", "i8"),      # [ns] from a sample's measurement to its delivery (whole minor frames)
        *fields,
    ], align=True)


def sensor_state(*fields) -> np.dtype:
    """State dtype of a sensor model: the fields every model has, then its own ``fields``."""
    return np.dtype([
        ("next_due", "i8"),  # minor frame count of its next sample (NEVER: none)
        ("off", "i8"),       # 1 while a sensor_dropout fault holds its samples back
        ("q_head", "i8"),    # delivery queue: index of the oldest queued sample
        ("q_count", "i8"),   # delivery queue: samples waiting
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


def copy_sample(src, dst):
    """Copy device record ``src`` into ``dst``, every field but ``seq`` (numba only)."""
    raise NotImplementedError("numba only")


@overload(copy_sample)
def _copy_sample_impl(src, dst):
    # one assignment per field of the record type, generated from its members
    lines = ["def impl(src, dst):"]
    for name, typ in src.members:
        if name == "seq":
            continue
        if isinstance(typ, types.NestedArray):
            lines += [f"    for i in range({typ.shape[0]}):", f"        dst.{name}[i] = src.{name}[i]"]
        else:
            lines.append(f"    dst.{name} = src.{name}")
    scope: dict = {}
    exec("\n".join(lines), scope)  # noqa: S102 - the source is built from the record's field names
    return scope["impl"]


@njit(cache=True, inline="always")
def target_los_B(tp, g):
    """[m] The chaser's CoM to the station's sensor target, B: C_BL (C_LS target_S - r_rel), with ``r_rel`` the
    CoM w.r.t. the port. The target (the laser radar's reflectors and the camera's pattern, one assembly) sits
    ``tp.target_S_m`` from where the flight believes it is, the run's calibration error fixed in the station
    (docs/sensors.md, "The target's calibration")."""
    r, q, qS, tS = g.r_rel_L_m, g.q_BL, g.q_SL, tp.target_S_m
    t = rot(qS[0], -qS[1], -qS[2], -qS[3], tS[0], tS[1], tS[2])  # C_LS target_S
    return rot(q[0], q[1], q[2], q[3], t[0] - r[0], t[1] - r[1], t[2] - r[2])


CUC_FINE_PER_S = 1 << 16  # the packets' CUC fine time unit, 1/65,536 s (telemetry/headers.py; a test ties the two)


@njit(cache=True, inline="always")
def stamp(t_ns):
    """[ns] The time stamp a device gives a sample taken at ``t_ns``: its packet carries CUC time (4 + 2 bytes,
    telemetry/headers.py), so the stamp is the earliest nanosecond of the CUC tick at or before ``t_ns`` (at most
    15.3 us early). The flight then reads the same time in software-in-the-loop as through a serial link."""
    sec = t_ns // NS_PER_S
    fine = (t_ns - sec * NS_PER_S) * CUC_FINE_PER_S // NS_PER_S
    return sec * NS_PER_S + (fine * NS_PER_S + CUC_FINE_PER_S - 1) // CUC_FINE_PER_S


@njit(cache=True, inline="always")
def push(p, s, dev, q, t_ns, valid):
    """The record a new sample measured at ``t_ns`` [ns] is written into (its payload is the caller's to fill).

    With no latency it is the device record itself (delivered now: its ``seq`` moves on); else the next slot of
    the delivery queue ``q``, whose depth holds every sample of the latency (were it ever full, the oldest
    sample would give way).
    """
    if p.latency_ns == 0:
        dev.t_ns = stamp(t_ns)
        dev.valid = 1 if valid else 0
        dev.seq += 1
        return dev
    n = q.shape[0]
    if s.q_count == n:
        s.q_head = s.q_head + 1 if s.q_head + 1 < n else 0
        s.q_count -= 1
    i = s.q_head + s.q_count
    if i >= n:
        i -= n
    s.q_count += 1
    r = q[i]
    r.t_ns = stamp(t_ns)
    r.valid = 1 if valid else 0
    return r


@njit(cache=True, inline="always")
def deliver(p, s, dev, q, t_ns):
    """Deliver into ``dev`` the queued samples measured ``latency_ns`` or more before ``t_ns`` [ns], oldest first."""
    n = q.shape[0]
    while s.q_count > 0:
        r = q[s.q_head]
        if r.t_ns + p.latency_ns > t_ns:
            return
        copy_sample(r, dev)
        dev.seq += 1
        s.q_head = s.q_head + 1 if s.q_head + 1 < n else 0
        s.q_count -= 1


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


@njit(cache=True, inline="always")
def gauss_markov(b, k, phi, drive, noise, streams, stream):
    """Step ``b[k]`` of a first-order Gauss-Markov process by one sample: b = phi b + drive w (one draw).

    ``phi`` = exp(-dt / tau), ``drive`` = sigma_ss sqrt(1 - phi^2): the exact discretisation, whose
    stationary 1-sigma is sigma_ss and autocorrelation exp(-|lag| / tau) at every sample lag.
    """
    b[k] = phi * b[k] + drive * draw(noise, streams, stream)


@njit(cache=True, inline="always")
def markov_lost(lost_before, u, start_prob, exit_prob):
    """Next state of a two-state loss-of-track chain from a U(0, 1) draw ``u``: True = in a burst.

    Tracking -> lost with ``start_prob`` per sample; lost -> tracking with ``exit_prob`` per sample,
    so a burst lasts a geometric number of samples of mean 1 / exit_prob.
    """
    if lost_before:
        return u >= exit_prob
    return u < start_prob


GYRO_PARAMS = sensor_params(
    ("arw_sigma_rad_s", "f8"),   # [rad/s] white rate noise per sample: angle random walk over the sample interval
    ("bias_phi", "f8"),          # [-] Gauss-Markov bias transition per sample
    ("bias_sigma_rad_s", "f8"),  # [rad/s] bias driving noise per sample
    ("rrw_sigma_rad_s", "f8"),   # [rad/s] rate random walk step per sample: K sqrt(sample interval)
    ("scale_B", "f8", (3,)),     # [-] 1 + this run's scale-factor error, per axis, B
    ("sample_s", "f8"),          # [s] sample interval
)
GYRO_STATE = sensor_state(
    ("fault_bias", "f8", (3,)),         # [rad/s] sensor_bias fault, B
    ("bias_rad_s", "f8", (3,)),         # [rad/s] Gauss-Markov bias, B
    ("rrw_rad_s", "f8", (3,)),          # [rad/s] rate random walk, B
    ("theta_B_rad", "f8", (3,)),        # [rad] the unit's angle counter (errors included), B
    ("dtheta_true_B_rad", "f8", (3,)),  # [rad] true body rotation since the last sample, B
)
GYRO_DRAWS = 6  # bias driving noise (3), then angle random walk (3)
GYRO_ERR_DRAWS = 3  # rate random walk (3)


@njit(cache=True, inline="always", error_model="numpy")
def gyro_sense(s, omega_start_B_rad_s, omega_end_B_rad_s, dt_s):
    """Integrate the true body rotation over one frame [rad], B, into the gyro's state.

    Trapezoid of the rates at the frame's start (a tuple) and end (an array): the torque is constant
    within a frame, so the rate is linear in time but for the small gyroscopic term.
    """
    for i in range(3):
        s.dtheta_true_B_rad[i] += 0.5 * (omega_start_B_rad_s[i] + omega_end_B_rad_s[i]) * dt_s


@njit(cache=True, inline="always", error_model="numpy")
def gyro(p, s, dev, q, tp, ts, noise, streams):
    """Rate-integrating gyro (DEV_GYRO): angle counter and mean rate over the sample interval, B.

    The counter accumulates the angle turned over each sample interval times (1 + scale-factor
    error), with Gauss-Markov bias, rate random walk and angle random walk, whether or not the sample
    reaches the flight software; the rate it reports is that increment over the interval (the mean
    rate, not an instantaneous one).
    """
    if due(p, s, ts.frame):
        drop = dropped(p, s, noise, streams)
        phi, bsig, sig = p.bias_phi, p.bias_sigma_rad_s, p.arw_sigma_rad_s
        dts = p.sample_s
        for i in range(3):
            gauss_markov(s.bias_rad_s, i, phi, bsig, noise, streams, p.stream)
        for i in range(3):
            s.rrw_rad_s[i] += p.rrw_sigma_rad_s * draw(noise, streams, p.err_stream)
        r = dev if drop else push(p, s, dev, q, ts.t_ns, True)
        for i in range(3):
            d = (s.dtheta_true_B_rad[i] * p.scale_B[i]
                 + (s.bias_rad_s[i] + s.rrw_rad_s[i] + s.fault_bias[i] + sig * draw(noise, streams, p.stream)) * dts)
            s.dtheta_true_B_rad[i] = 0.0
            s.theta_B_rad[i] += d
            if not drop:
                r.theta_B_rad[i] = s.theta_B_rad[i]
                r.omega_BN_B_rad_s[i] = d / dts
    deliver(p, s, dev, q, ts.t_ns)


STAR_TRACKER_PARAMS = sensor_params(
    ("sigma_cross_rad", "f8"),  # [rad] attitude noise about each axis across the boresight (small rotation)
    ("sigma_roll_rad", "f8"),   # [rad] attitude noise about the boresight
    ("boresight_B", "f8", (3,)),  # [-] unit boresight, B
)
STAR_TRACKER_STATE = sensor_state(
    ("fault_bias", "f8", (3,)),  # [rad] sensor_bias fault: small rotation, B
)
STAR_TRACKER_DRAWS = 3  # one small rotation
STAR_TRACKER_ERR_DRAWS = 0


@njit(cache=True, inline="always", error_model="numpy")
def star_tracker(p, s, dev, q, tp, ts, noise, streams):
    """Star tracker (DEV_STAR_TRACKER): q_BN with a small-rotation error applied on the B side.

    The error rotation is sigma_cross n + (sigma_roll - sigma_cross) (n . b) b for a standard normal
    n (3) and the boresight b: its component about b has 1-sigma sigma_roll, the two across it
    sigma_cross, independent (an isotropic n projects onto orthogonal axes independently).
    """
    if due(p, s, ts.frame):
        drop = dropped(p, s, noise, streams)
        sc, fb, b = p.sigma_cross_rad, s.fault_bias, p.boresight_B
        n0, n1, n2 = draw3(noise, streams, p.stream)
        k = (p.sigma_roll_rad - sc) * (n0 * b[0] + n1 * b[1] + n2 * b[2])
        e = q_small(fb[0] + (sc * n0 + k * b[0]), fb[1] + (sc * n1 + k * b[1]), fb[2] + (sc * n2 + k * b[2]))
        if not drop:
            q_ = ts.q_BN
            qm = q_mul(e[0], e[1], e[2], e[3], q_[0], q_[1], q_[2], q_[3])
            r = push(p, s, dev, q, ts.t_ns, True)
            for i in range(4):
                r.q_BN[i] = qm[i]
    deliver(p, s, dev, q, ts.t_ns)


GNSS_REL_PARAMS = sensor_params(
    ("sigma_r_m", "f8"),        # [m] position white noise per axis
    ("sigma_v_mps", "f8"),      # [m/s] velocity white noise per axis
    ("min_range_m", "f8"),      # [m] valid only beyond this CoM-to-CoM range
    ("max_range_m", "f8"),      # [m] ... and inside the inter-vehicle link's range
    ("bias_phi", "f8"),         # [-] Gauss-Markov error transition per sample
    ("bias_drive_r_m", "f8"),   # [m] its driving noise per sample, position
    ("bias_drive_v_mps", "f8"),  # [m/s] its driving noise per sample, velocity
    ("multipath_range_m", "f8"),  # [m] R: the errors (white and bias) grow by 1 + (R / range)^2
    ("outlier_prob", "f8"),     # [-] probability of an outlier per sample, inside outlier_range_m
    ("outlier_sigma_m", "f8"),  # [m] an outlier's position error, 1-sigma per axis
    ("outlier_range_m", "f8"),  # [m] outliers only below this CoM-to-CoM range
)
GNSS_REL_STATE = sensor_state(
    ("fault_bias", "f8", (6,)),  # sensor_bias fault: [m] position, then [m/s] velocity, L
    ("bias", "f8", (6,)),        # Gauss-Markov error: [m] position, then [m/s] velocity, L
)
GNSS_REL_DRAWS = 6  # position (3), then velocity (3)
GNSS_REL_ERR_DRAWS = 10  # Gauss-Markov drive (6: position, velocity), outlier occurrence (1), outlier error (3)


@njit(cache=True, inline="always", error_model="numpy")
def gnss_rel(p, s, dev, q, tp, ts, noise, streams):
    """Relative GNSS (DEV_GNSS_REL): chaser CoM relative to the station CoM (not its port), L.

    White noise plus a Gauss-Markov error, both scaled by the multipath growth 1 + (R / range)^2
    near the station; below ``outlier_range_m`` an outlier (probability ``outlier_prob`` per sample)
    adds a position error of ``outlier_sigma_m`` per axis.
    """
    if due(p, s, ts.frame):
        drop = dropped(p, s, noise, streams)
        r, v, fb, b = ts.geometry.r_com_L_m, ts.geometry.v_com_L_mps, s.fault_bias, s.bias
        g0, g1, g2 = r[0], r[1], r[2]
        rng = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
        valid = p.min_range_m < rng <= p.max_range_m
        n_r = draw3(noise, streams, p.stream)
        n_v = draw3(noise, streams, p.stream)
        k = p.err_stream
        for i in range(3):
            gauss_markov(b, i, p.bias_phi, p.bias_drive_r_m, noise, streams, k)
        for i in range(3, 6):
            gauss_markov(b, i, p.bias_phi, p.bias_drive_v_mps, noise, streams, k)
        u_out = draw(noise, streams, k)
        n_out = draw3(noise, streams, k)
        if not drop:
            rec = push(p, s, dev, q, ts.t_ns, valid)
            if valid:
                m = p.multipath_range_m / rng
                f = 1.0 + m * m
                out = p.outlier_sigma_m if (p.outlier_prob > 0.0 and rng < p.outlier_range_m
                                            and uniform_from_normal(u_out) < p.outlier_prob) else 0.0
                sr, sv = p.sigma_r_m * f, p.sigma_v_mps * f
                rr, vv = rec.r_LVLH_m, rec.v_LVLH_mps
                rr[0] = g0 + sr * n_r[0] + (fb[0] + (f * b[0] + out * n_out[0]))
                rr[1] = g1 + sr * n_r[1] + (fb[1] + (f * b[1] + out * n_out[1]))
                rr[2] = g2 + sr * n_r[2] + (fb[2] + (f * b[2] + out * n_out[2]))
                vv[0] = v[0] + sv * n_v[0] + (fb[3] + f * b[3])
                vv[1] = v[1] + sv * n_v[1] + (fb[4] + f * b[4])
                vv[2] = v[2] + sv * n_v[2] + (fb[5] + f * b[5])
            else:
                zero3(rec.r_LVLH_m)
                zero3(rec.v_LVLH_mps)
    deliver(p, s, dev, q, ts.t_ns)


@njit(cache=True, inline="always")
def lidar_geometry(x_B_m, y_B_m, z_B_m):
    """(range [m], azimuth [rad], elevation [rad]) of a line of sight in B.

    az = atan2(y, x), el = asin(z / range) (telemetry/dictionary.py DEV_LIDAR).
    """
    rng = math.sqrt(x_B_m * x_B_m + y_B_m * y_B_m + z_B_m * z_B_m)
    return rng, math.atan2(y_B_m, x_B_m), math.asin(z_B_m / rng)


@njit(cache=True, inline="always", error_model="numpy")
def lidar_sigmas(p, rng):
    """([m] range, [rad] angle) white-noise 1-sigma at range ``rng`` [m] (docs/sensors.md section 1).

    sigma_range = sqrt(floor^2 + (frac range)^2); sigma_angle = floor + near near_range / (range + near_range).
    """
    fr = p.sigma_range_frac * rng
    sig_r = math.sqrt(p.sigma_range_m * p.sigma_range_m + fr * fr)
    sig_a = p.sigma_angle_rad + p.sigma_angle_near_rad * p.near_range_m / (rng + p.near_range_m)
    return sig_r, sig_a


LIDAR_PARAMS = sensor_params(
    ("sigma_range_m", "f8"),         # [m] range noise floor
    ("sigma_range_frac", "f8"),      # [-] range noise proportional to the range (root-sum-square with the floor)
    ("sigma_angle_rad", "f8"),       # [rad] azimuth and elevation noise, far floor
    ("sigma_angle_near_rad", "f8"),  # [rad] ... plus this times near_range / (range + near_range)
    ("near_range_m", "f8"),          # [m]
    ("min_range_m", "f8"),           # [m] blind zone: no valid sample below this range
    ("max_range_m", "f8"),           # [m]
    ("cos_half_fov", "f8"),          # [-] cosine of the half field of view about x_B
    ("mount_B_m", "f8", (3,)),       # [m] sensor position rel. chaser CoM, B
    ("bias_phi", "f8"),              # [-] Gauss-Markov bias transition per sample
    ("bias_drive_range_m", "f8"),    # [m] its driving noise per sample, range
    ("bias_drive_angle_rad", "f8"),  # [rad] its driving noise per sample, azimuth and elevation
    ("burst_start_prob", "f8"),      # [-] loss of track: probability per sample that a burst starts
    ("burst_exit_prob", "f8"),       # [-] ... and that it ends (1 / mean length in samples)
)
LIDAR_STATE = sensor_state(
    ("fault_bias", "f8", (3,)),  # sensor_bias fault: [m] range, [rad] azimuth, [rad] elevation
    ("bias", "f8", (3,)),        # Gauss-Markov bias: [m] range, [rad] azimuth, [rad] elevation
    ("burst", "i8"),             # 1 while track is lost (a dropout burst)
)
LIDAR_DRAWS = 3  # range, azimuth, elevation
LIDAR_ERR_DRAWS = 4  # Gauss-Markov drive (range, azimuth, elevation), burst chain (1)


@njit(cache=True, inline="always", error_model="numpy")
def lidar(p, s, dev, q, tp, ts, noise, streams):
    """Laser rendezvous radar (DEV_LIDAR): range and bearing of the reflectors on the station's target, B.

    Valid from ``min_range_m`` (the blind zone below it) to ``max_range_m`` inside the field of view;
    white noise (:func:`lidar_sigmas`) plus a Gauss-Markov bias on each output; a sample is lost to
    random dropout or to a burst of the loss-of-track chain (:func:`markov_lost`).
    """
    if due(p, s, ts.frame):
        drop = dropped(p, s, noise, streams)
        mount, fb, b = p.mount_B_m, s.fault_bias, s.bias
        los = target_los_B(tp, ts.geometry)  # chaser CoM -> the station's target, B
        lx = los[0] - mount[0]
        ly = los[1] - mount[1]
        lz = los[2] - mount[2]
        rng, az, el = lidar_geometry(lx, ly, lz)
        valid = p.min_range_m <= rng < p.max_range_m and lx > p.cos_half_fov * rng
        n0, n1, n2 = draw3(noise, streams, p.stream)
        k = p.err_stream
        gauss_markov(b, 0, p.bias_phi, p.bias_drive_range_m, noise, streams, k)
        gauss_markov(b, 1, p.bias_phi, p.bias_drive_angle_rad, noise, streams, k)
        gauss_markov(b, 2, p.bias_phi, p.bias_drive_angle_rad, noise, streams, k)
        z = draw(noise, streams, k)
        if p.burst_start_prob > 0.0 or s.burst != 0:
            s.burst = 1 if markov_lost(s.burst != 0, uniform_from_normal(z), p.burst_start_prob,
                                       p.burst_exit_prob) else 0
        if not drop and s.burst == 0:
            rec = push(p, s, dev, q, ts.t_ns, valid)
            if valid:
                sig_r, sig_a = lidar_sigmas(p, rng)
                rec.range_m = rng + sig_r * n0 + (fb[0] + b[0])
                rec.az_rad = az + sig_a * n1 + (fb[1] + b[1])
                rec.el_rad = el + sig_a * n2 + (fb[2] + b[2])
            else:
                rec.range_m = 0.0
                rec.az_rad = 0.0
                rec.el_rad = 0.0
    deliver(p, s, dev, q, ts.t_ns)


CAMERA_PARAMS = sensor_params(
    ("sigma_lateral_m", "f8"),       # [m] lateral (y_B, z_B) position noise, floor
    ("sigma_lateral_frac", "f8"),    # [-] ... plus this times the range
    ("sigma_depth_m", "f8"),         # [m] depth (x_B, the boresight) noise, floor
    ("sigma_depth_per_m", "f8"),     # [1/m] ... plus this times the range squared
    ("sigma_angle_rad", "f8"),       # [rad] attitude noise per axis, floor
    ("sigma_angle_per_m", "f8"),     # [rad/m] ... plus this times the range
    ("min_range_m", "f8"),           # [m] valid from this port-to-port range
    ("max_range_m", "f8"),           # [m] ... to this one (position and line of sight)
    ("att_max_range_m", "f8"),       # [m] relative attitude only up to this range
    ("cos_half_fov", "f8"),          # [-] cosine of the half field of view about x_B
)
CAMERA_STATE = sensor_state(
    ("fault_bias", "f8", (6,)),  # sensor_bias fault: [m] position, B, then [rad] roll, pitch, yaw
)
CAMERA_DRAWS = 6  # position (3), then attitude (3)
CAMERA_ERR_DRAWS = 0


@njit(cache=True, inline="always", error_model="numpy")
def camera(p, s, dev, q, tp, ts, noise, streams):
    """Docking camera (DEV_CAMERA): station port rel. chaser port, B, and the docking misalignment angles.

    Position valid from ``min_range_m`` to ``max_range_m`` inside the field of view, attitude only
    up to ``att_max_range_m`` (``att_valid``). Noise (docs/sensors.md section 2): lateral
    floor + frac range, depth floor + per_m range^2, attitude floor + per_m range.
    """
    if due(p, s, ts.frame):
        drop = dropped(p, s, noise, streams)
        port, fb = tp.port_B_m, s.fault_bias
        los = target_los_B(tp, ts.geometry)
        cx = los[0] - port[0]
        cy = los[1] - port[1]
        cz = los[2] - port[2]
        rng = math.sqrt(cx * cx + cy * cy + cz * cz)
        valid = p.min_range_m <= rng < p.max_range_m and cx > p.cos_half_fov * rng
        att_valid = valid and rng <= p.att_max_range_m
        qs = ts.geometry.q_BS  # the chaser's attitude relative to the port it sees
        roll, pitch, yaw = docking_angles(qs[0], qs[1], qs[2], qs[3])
        n_r = draw3(noise, streams, p.stream)
        n_att = draw3(noise, streams, p.stream)
        if not drop:
            rec = push(p, s, dev, q, ts.t_ns, valid)
            rec.att_valid = 1 if att_valid else 0
            if valid:
                lat = p.sigma_lateral_m + p.sigma_lateral_frac * rng
                dep = p.sigma_depth_m + p.sigma_depth_per_m * (rng * rng)
                rb = rec.r_B_m
                rb[0] = cx + dep * n_r[0] + fb[0]
                rb[1] = cy + lat * n_r[1] + fb[1]
                rb[2] = cz + lat * n_r[2] + fb[2]
            else:
                zero3(rec.r_B_m)
            if att_valid:
                measure3(rec.att_rad, roll, pitch, yaw, p.sigma_angle_rad + p.sigma_angle_per_m * rng, n_att, fb, 3)
            else:
                zero3(rec.att_rad)
    deliver(p, s, dev, q, ts.t_ns)


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
        dev.t_ns = stamp(ts.t_ns)
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
    dev.t_ns = stamp(ts.t_ns)
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
GNSS_ABS_ERR_DRAWS = 1  # its random dropout (on its error stream, not the shared dropout stream)


@njit(cache=True, inline="always", error_model="numpy")
def gnss_abs(p, s, dev, q, tp, ts, noise, streams):
    """Absolute GNSS receiver (DEV_GNSS_ABS): the chaser CoM's inertial position and velocity, N (white noise)."""
    if due(p, s, ts.frame):
        z = draw(noise, streams, p.err_stream)
        prob = p.dropout_prob
        drop = s.off != 0 or (prob > 0.0 and uniform_from_normal(z) < prob)
        r, v, fb = ts.r_chaser_N_m, ts.v_chaser_N_mps, s.fault_bias
        n_r = draw3(noise, streams, p.stream)
        n_v = draw3(noise, streams, p.stream)
        if not drop:
            rec = push(p, s, dev, q, ts.t_ns, True)
            measure3(rec.r_N_m, r[0], r[1], r[2], p.sigma_r_m, n_r, fb, 0)
            measure3(rec.v_N_mps, v[0], v[1], v[2], p.sigma_v_mps, n_v, fb, 3)
    deliver(p, s, dev, q, ts.t_ns)


class SensorModel:
    """One row of :data:`SENSOR_MODELS`: what the truth builds a sensor model from.

    name : its [sensors.<name>] scenario table, and its field in TRUTH_PARAMS and TRUTH_STATE
    device : the device record it writes (telemetry/dictionary.py)
    params, state : its record dtypes
    kernel : its kernel (samples when due; a queued model also delivers what is due)
    draws : standard normal draws of its own noise stream per sample, per channel for a model with
        a ``channels`` parameter
    spawn_key : ``numpy.random.SeedSequence`` spawn key of its own noise stream, None when it draws none.
        Keys are fixed so that a seed gives the same noise whatever models are added; ``sims.truth``
        lists the keys taken by other streams.
    dropout : whether a sample takes one draw of the shared dropout stream
    err_draws, err_spawn_key : draws per sample and spawn key of its error-term stream (None: none)
    queued : whether its samples go through a delivery queue (latency); its kernel then takes the
        queue after the device record
    """

    __slots__ = ("name", "device", "params", "state", "kernel", "draws", "spawn_key", "dropout", "err_draws",
                 "err_spawn_key", "queued")

    def __init__(self, name, device, params, state, kernel, draws, spawn_key, dropout=True, err_draws=0,
                 err_spawn_key=None, queued=True):
        self.name, self.device, self.params, self.state, self.kernel = name, device, params, state, kernel
        self.draws, self.spawn_key, self.dropout = draws, spawn_key, dropout
        self.err_draws, self.err_spawn_key, self.queued = err_draws, err_spawn_key, queued

    def draws_per_sample(self, params) -> int:
        """Draws of its own stream per sample, for its params record ``params``."""
        per_channel = "channels" in params.dtype.names
        return self.draws * int(params["channels"]) if per_channel else self.draws

    def __repr__(self) -> str:
        return f"SensorModel({self.name!r}, {self.device!r})"


# Error-term streams (issue #17) take spawn keys from 20 up, clear of the keys below 20 that other streams use
# or may use (sims.truth).
SENSOR_MODELS = (
    SensorModel("gyro", "DEV_GYRO", GYRO_PARAMS, GYRO_STATE, gyro, GYRO_DRAWS, 0, err_draws=GYRO_ERR_DRAWS,
                err_spawn_key=20),
    SensorModel("star_tracker", "DEV_STAR_TRACKER", STAR_TRACKER_PARAMS, STAR_TRACKER_STATE, star_tracker,
                STAR_TRACKER_DRAWS, 1),
    SensorModel("gnss_rel", "DEV_GNSS_REL", GNSS_REL_PARAMS, GNSS_REL_STATE, gnss_rel, GNSS_REL_DRAWS, 2,
                err_draws=GNSS_REL_ERR_DRAWS, err_spawn_key=22),
    SensorModel("lidar", "DEV_LIDAR", LIDAR_PARAMS, LIDAR_STATE, lidar, LIDAR_DRAWS, 3, err_draws=LIDAR_ERR_DRAWS,
                err_spawn_key=23),
    SensorModel("camera", "DEV_CAMERA", CAMERA_PARAMS, CAMERA_STATE, camera, CAMERA_DRAWS, 4),
    SensorModel("thermistors", "DEV_THERMISTORS", THERMISTORS_PARAMS, THERMISTORS_STATE, thermistors,
                THERMISTORS_DRAWS, 5, queued=False),
    SensorModel("dock_mech", "DEV_DOCK_MECH", DOCK_MECH_PARAMS, DOCK_MECH_STATE, dock_mech, DOCK_MECH_DRAWS, None,
                dropout=False, queued=False),
    # its own stream (key 9) and no draw of the shared dropout stream: adding it leaves every other model's numbers
    SensorModel("gnss_abs", "DEV_GNSS_ABS", GNSS_ABS_PARAMS, GNSS_ABS_STATE, gnss_abs, GNSS_ABS_DRAWS, 9,
                dropout=False, err_draws=GNSS_ABS_ERR_DRAWS, err_spawn_key=25),
)

"""The truth simulation: the world the flight software flies in (software-in-the-loop).

A thin object around the kernels of ``sims.core``: it turns a validated scenario into records once
(``TRUTH_PARAMS``, ``TRUTH_STATE``, the thruster table, the thermal network's), then each
:meth:`Truth.step` is one numba call (``truth_frame``: thrusters, orbits of both vehicles with
two-body + J2 (+ drag), rigid-body attitude, docking contact, the due sensors) plus, on thermal
frames, ``thermal_frame`` (nodal network, heaters, thermistors).

>>> truth = Truth(load_scenario("final_approach"))
>>> cmd = truth.devices["ACT_THRUSTERS"]                      # the flight side commands actuators:
>>> cmd["on_time_s"][0] = 0.01; cmd["seq"] += 1              # on-times from now, a new seq
>>> truth.step()                                              # one minor frame
>>> r_LVLH_m, v_LVLH_mps = truth.relative_state()

Randomness: one ``numpy.random.Generator(PCG64)`` stream per noisy sensor model, one per model for
its error terms (biases, bursts, outliers, rate random walk), one for random dropouts, one for the
vehicle realisation, one for the sensors' (scale factors, initial biases), one for the engines' and one
for the error of the station ephemeris the ground uplinks (:func:`uplinked_station_state`), each from
``SeedSequence(seed)`` with a fixed spawn key (``*_SPAWN_KEY`` here and the sensor models' own); the
kernels read blocks of normal draws refilled every ``NOISE_BLOCK_FRAMES``, each stream's block sized
from the models' declared draws per sample. The same scenario and seed give bit-identical runs.

Sensors (``sims.core.sensors``, figures in docs/sensors.md): each [sensors.<name>] table becomes its
model's params record (``SENSOR_PARAMS``); ``[sensors] ideal = true`` keeps the white noise only (no
Gauss-Markov bias but the gyro's, rate random walk, scale factor, latency, dropout, burst, blind zone,
attitude range limit, multipath or outlier): the sensors as they were before issue #17.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from hal.devices import new_device_set
from sims.contact import DockingContact
from sims.core.constants import ARCSEC_RAD, DEG_RAD, G0_M_S2, KELVIN_OFFSET_K, NS_PER_S, SECONDS_PER_HOUR
from sims.core.dispatch import FAST_PATH_LOST, compiled_entry
from sims.core.frame import (
    ENGINE,
    EV_CAPTURE,
    EV_COLLISION,
    EV_CONTACT,
    F_SERVICE,
    FRAME_WORK,
    FRAMES_SHIFT,
    THRUSTER,
    THRUSTER_FAILED_OFF,
    THRUSTER_NOMINAL,
    THRUSTER_STUCK_ON,
    TRUTH_PARAMS,
    TRUTH_STATE,
    new_frame_context,
    truth_frame,
    truth_frames,
    truth_refresh,
)
from sims.core.noise import STREAM
from sims.core.quat import q_from_dcm, rot_t
from sims.core.sensors import N_THERMISTOR_CHANNELS, NEVER, SENSOR_MODELS
from sims.core.thermal import (
    HEATER,
    LINK,
    SHADOW_CONICAL,
    SHADOW_CYLINDRICAL,
    THERMAL_NODE,
    THERMAL_PARAMS,
    thermal_frame,
)
from sims.scenario import (
    Scenario,
    docking_dcm_LB,
    flight_com_B_m,
    frame_divisor,
    insertion_state,
    latency_frames,
    mass_properties,
)
from telemetry.dictionary import record_dtype

NOISE_BLOCK_FRAMES = 1000  # minor frames served by one refill of the noise buffer
NOISE_MARGIN = 16  # spare draws per stream segment
# SeedSequence spawn keys of the streams that are no sensor model's own (those declare theirs in
# sims.core.sensors). A key is never reused, so that a seed keeps its numbers: 7 was a spare stream.
DROPOUT_SPAWN_KEY = 6  # random dropout: one draw per sample of every model with dropout
VEHICLE_SPAWN_KEY = 8  # this run's vehicle realisation (thruster misalignment and thrust, initial gyro bias)
ENGINE_SPAWN_KEY = 10  # the orbit-control engines' realisation (misalignment, thrust error); 9 is gnss_abs
SENSOR_SPAWN_KEY = 19  # this run's sensor realisation (gyro scale factors, initial Gauss-Markov biases); the
#                        sensor models' error-term streams take 20 and up (sims.core.sensors)
EPHEMERIS_SPAWN_KEY = 11  # the error of the station state the ground uplinks (sims.runner.flight_overrides)
LINEAR_RAMP_OF_10_90 = 1.0 / 0.8  # a linear ramp from 0 to 100 % lasts its 10-90 % time / 0.8
MODEL_OF_DEVICE = {m.device: m for m in SENSOR_MODELS}
EVENT_BITS = EV_CONTACT | EV_CAPTURE | EV_COLLISION


def _sample_s(p, sc: Scenario) -> float:
    """[s] Sample interval of a sensor model's params record ``p``."""
    return int(p["divisor"]) * (sc.minor_frame_ns / NS_PER_S)


def gauss_markov_step(sigma_ss: float, tau_s: float, dt_s: float) -> tuple[float, float]:
    """(phi, driving 1-sigma) of a first-order Gauss-Markov process of steady-state 1-sigma ``sigma_ss``
    and correlation time ``tau_s`` [s] sampled every ``dt_s`` [s], discretised exactly:
    phi = exp(-dt / tau), driving sigma = sigma_ss sqrt(1 - phi^2)."""
    phi = math.exp(-dt_s / tau_s)
    return phi, sigma_ss * math.sqrt(1.0 - phi * phi)


def _gyro_params(p, t, sc: Scenario) -> None:
    sample_s = _sample_s(p, sc)
    p["sample_s"] = sample_s
    p["arw_sigma_rad_s"] = t.arw_deg_sqrt_h * DEG_RAD / math.sqrt(SECONDS_PER_HOUR) / math.sqrt(sample_s)
    phi = math.exp(-sample_s / t.bias_correlation_s)
    p["bias_phi"] = phi
    p["bias_sigma_rad_s"] = gyro_bias_sigma_rad_s(sc) * math.sqrt(1.0 - phi * phi)
    # rate random walk K [deg/h/sqrt(h)] -> [rad/s/sqrt(s)], a step of K sqrt(dt) per sample
    rrw = 0.0 if sc.sensors.ideal else t.rrw_deg_h_sqrt_h * DEG_RAD / SECONDS_PER_HOUR / math.sqrt(SECONDS_PER_HOUR)
    p["rrw_sigma_rad_s"] = rrw * math.sqrt(sample_s)
    p["scale_B"] = 1.0  # this run's scale-factor error: _realise_sensors


def gyro_bias_sigma_rad_s(sc: Scenario) -> float:
    """[rad/s] Steady-state 1-sigma of the gyro's Gauss-Markov bias (its bias instability)."""
    return sc.sensors.gyro.bias_instability_deg_h * DEG_RAD / SECONDS_PER_HOUR


def _star_tracker_params(p, t, sc: Scenario) -> None:
    p["sigma_cross_rad"], p["sigma_roll_rad"] = t.noise_cross_arcsec * ARCSEC_RAD, t.noise_roll_arcsec * ARCSEC_RAD
    b = np.asarray(t.boresight_B, float)
    p["boresight_B"] = b / np.linalg.norm(b)


def _gnss_rel_params(p, t, sc: Scenario) -> None:
    ideal = sc.sensors.ideal
    p["sigma_r_m"], p["sigma_v_mps"], p["min_range_m"] = t.noise_r_m, t.noise_v_mps, t.min_range_m
    p["max_range_m"] = t.max_range_m
    dt = _sample_s(p, sc)
    p["bias_phi"], p["bias_drive_r_m"] = gauss_markov_step(0.0 if ideal else t.bias_r_m, t.bias_correlation_s, dt)
    _, p["bias_drive_v_mps"] = gauss_markov_step(0.0 if ideal else t.bias_v_mps, t.bias_correlation_s, dt)
    p["multipath_range_m"] = 0.0 if ideal else t.multipath_range_m
    p["outlier_prob"] = 0.0 if ideal else t.outlier_prob
    p["outlier_sigma_m"], p["outlier_range_m"] = t.outlier_m, t.outlier_range_m


def _gnss_abs_params(p, t, sc: Scenario) -> None:
    p["sigma_r_m"], p["sigma_v_mps"] = t.noise_r_m, t.noise_v_mps


def _lidar_params(p, t, sc: Scenario) -> None:
    ideal = sc.sensors.ideal
    p["sigma_range_m"], p["sigma_range_frac"] = t.noise_range_m, t.noise_range_frac
    p["sigma_angle_rad"] = t.noise_angle_deg * DEG_RAD
    p["sigma_angle_near_rad"], p["near_range_m"] = t.noise_angle_near_deg * DEG_RAD, t.near_range_m
    p["min_range_m"] = 0.0 if ideal else t.min_range_m
    p["max_range_m"] = t.max_range_m
    p["cos_half_fov"] = math.cos(t.fov_half_deg * DEG_RAD)
    p["mount_B_m"] = np.asarray(t.mount_B_m, float) - mass_properties(sc.vehicle.mass)[0]
    dt = _sample_s(p, sc)
    p["bias_phi"], p["bias_drive_range_m"] = gauss_markov_step(0.0 if ideal else t.bias_range_m,
                                                               t.bias_correlation_s, dt)
    _, p["bias_drive_angle_rad"] = gauss_markov_step(0.0 if ideal else t.bias_angle_deg * DEG_RAD,
                                                     t.bias_correlation_s, dt)
    p["burst_start_prob"] = 0.0 if ideal else t.burst_start_prob
    p["burst_exit_prob"] = min(1.0, dt / t.burst_mean_s)  # a geometric burst of mean burst_mean_s / dt samples


def _camera_params(p, t, sc: Scenario) -> None:
    ideal = sc.sensors.ideal
    p["sigma_lateral_m"], p["sigma_lateral_frac"] = t.noise_lateral_m, t.noise_lateral_frac
    p["sigma_depth_m"], p["sigma_depth_per_m"] = t.noise_depth_m, t.noise_depth_per_m
    p["sigma_angle_rad"], p["sigma_angle_per_m"] = t.noise_angle_deg * DEG_RAD, t.noise_angle_deg_per_m * DEG_RAD
    p["min_range_m"] = 0.0 if ideal else t.min_range_m
    p["max_range_m"], p["cos_half_fov"] = t.max_range_m, math.cos(t.fov_half_deg * DEG_RAD)
    p["att_max_range_m"] = math.inf if ideal else t.attitude_max_range_m


def _thermistors_params(p, t, sc: Scenario) -> None:
    p["sigma_C"], p["quantum_C"] = t.noise_C, t.quantum_C
    node = {n.name: i for i, n in enumerate(sc.thermal.nodes)}
    channels = [node[z.node] for z in sc.thermal.zones for _ in ("primary", "backup")]
    p["channels"] = len(channels)
    p["node"][:len(channels)] = channels


def _dock_mech_params(p, t, sc: Scenario) -> None:
    """Nothing but the common fields."""


# sensor model name -> its params record filled from its [sensors.<name>] table (units converted to SI)
SENSOR_PARAMS = {"gyro": _gyro_params, "star_tracker": _star_tracker_params, "gnss_rel": _gnss_rel_params,
                 "lidar": _lidar_params, "camera": _camera_params, "thermistors": _thermistors_params,
                 "dock_mech": _dock_mech_params, "gnss_abs": _gnss_abs_params}


def sensor_latency_ns(t, sc: Scenario) -> int:
    """[ns] Latency of the sensor of scenario table ``t`` (0 for ideal sensors and tables without one)."""
    if sc.sensors.ideal or "latency_s" not in t:
        return 0
    return latency_frames(t.latency_s, sc.minor_frame_ns) * sc.minor_frame_ns


def station_initial_state(sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """ECI position [m] and velocity [m/s] of the station on its circular orbit at the run epoch."""
    e, s = sc.earth, sc.station
    r = e.radius_m + s.altitude_m
    u, i, raan = (math.radians(s.arg_latitude_deg), math.radians(s.inclination_deg), math.radians(s.raan_deg))
    vc = math.sqrt(e.mu_m3_s2 / r)
    # perifocal-like (node frame) -> ECI: R3(-raan) R1(-i)
    ci, si, co, so = math.cos(i), math.sin(i), math.cos(raan), math.sin(raan)
    R = np.array([[co, -so * ci, so * si], [so, co * ci, -co * si], [0.0, si, ci]])
    return R @ np.array([r * math.cos(u), r * math.sin(u), 0.0]), R @ np.array([-vc * math.sin(u),
                                                                                  vc * math.cos(u), 0.0])


def station_ephemeris_error(sc: Scenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """([m], [m/s]) error of the station state the ground uplinks, radial / along-track / cross-track of the
    station's orbit at the run epoch: ``[station.ephemeris]`` 1-sigmas times standard normal draws of the run
    seed's own stream (``EPHEMERIS_SPAWN_KEY``)."""
    child = np.random.SeedSequence(int(seed)).spawn(EPHEMERIS_SPAWN_KEY + 1)[EPHEMERIS_SPAWN_KEY]
    z = np.random.Generator(np.random.PCG64(child)).standard_normal(6)
    eph = sc.station.ephemeris
    return np.asarray(eph.error_rtn_m, float) * z[:3], np.asarray(eph.error_rtn_mps, float) * z[3:]


def uplinked_station_state(sc: Scenario, seed: int) -> np.ndarray:
    """The station state [r m, v m/s] (N) the ground uplinks at the run epoch: the truth's plus
    :func:`station_ephemeris_error` rotated from radial / along-track / cross-track (the LVLH axes) to N."""
    r, v = station_initial_state(sc)
    dr, dv = station_ephemeris_error(sc, seed)
    C_NL = _lvlh(r, v).T
    return np.concatenate([r + C_NL @ dr, v + C_NL @ dv])


def min_on_time_s(mib_Ns: float, thrust_N: float, up_s: float, down_s: float) -> float:
    """[s] The on-time whose pulse from a closed valve delivers ``mib_Ns`` with linear ramps ``up_s``, ``down_s``.

    The pulse's impulse over thrust (full-thrust seconds): tau - up/2 + down/2 once it reaches full thrust
    (tau >= up); tau^2 (up + down) / (2 up^2) when it closes on the rise. Ideal valves: mib / thrust.
    """
    j = mib_Ns / thrust_N
    if j >= 0.5 * (up_s + down_s):
        return max(j + 0.5 * (up_s - down_s), 0.0)
    return math.sqrt(2.0 * j * up_s * up_s / (up_s + down_s))


def _lvlh(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    x = r / np.linalg.norm(r)
    z = np.cross(r, v)
    z /= np.linalg.norm(z)
    return np.array([x, np.cross(z, x), z])


class Truth:
    """Truth simulation of one scenario run; see the module docstring and ``sims.core``.

    Parameters
    ----------
    sc : validated scenario (``sims.scenario.load_scenario``)
    seed : overrides ``sc.seed`` when given
    """

    def __init__(self, sc: Scenario, seed: int | None = None):
        self.scenario = sc
        self.seed = int(sc.seed if seed is None else seed)
        self._keys = sorted([m.spawn_key for m in SENSOR_MODELS if m.spawn_key is not None]
                            + [m.err_spawn_key for m in SENSOR_MODELS if m.err_spawn_key is not None]
                            + [DROPOUT_SPAWN_KEY])
        children = np.random.SeedSequence(self.seed).spawn(
            max(*self._keys, VEHICLE_SPAWN_KEY, ENGINE_SPAWN_KEY, SENSOR_SPAWN_KEY) + 1)
        self.ephemeris_error_rtn = station_ephemeris_error(sc, self.seed)  # what the flight's uplink is off by
        self._gens = [np.random.Generator(np.random.PCG64(children[k])) for k in self._keys]  # one per stream row
        vehicle_rng = np.random.Generator(np.random.PCG64(children[VEHICLE_SPAWN_KEY]))
        self.devices = new_device_set()
        self._params = np.zeros(1, TRUTH_PARAMS)
        self._state = np.zeros(1, TRUTH_STATE)
        self._p, self._s = self._params[0], self._state[0]  # views of the records
        self._work = np.zeros(1, FRAME_WORK)
        self._frame_ns = int(sc.minor_frame_ns)
        self._build_params(sc, vehicle_rng)
        self._build_engines(sc, np.random.Generator(np.random.PCG64(children[ENGINE_SPAWN_KEY])))
        self._build_state(sc, vehicle_rng)
        self._realise_sensors(sc, np.random.Generator(np.random.PCG64(children[SENSOR_SPAWN_KEY])))
        self._build_noise()
        self._build_thermal(sc)
        self._build_faults(sc)
        rec = {k: v.reshape(1) for k, v in self.devices.items()}  # 1-element views numba can take
        # the frame kernel takes its arrays as one context and is called through its compiled entry point
        # (no per-call type dispatch): the context and the argument tuple below are fixed for the run
        self._frame_ctx = new_frame_context(rec, self._queues, params=self._params, state=self._state,
                                            thrusters=self._thrusters,
                                            engines=self._engines,
                                            streams=self._streams, noise=self._noise, work=self._work)
        self._frame_kernel = compiled_entry(truth_frame, self._frame_ctx)
        self._frames_kernel = compiled_entry(truth_frames, self._frame_ctx, 1)
        self._thermal_args = (self._thermal_params, self._nodes, self._links, self._heaters, self._thermal_scratch,
                              self._params, self._state, self._noise, self._streams, rec["ACT_HEATERS"],
                              rec["DEV_THERMISTORS"])
        self._thermal_kernel = compiled_entry(thermal_frame, *self._thermal_args)
        if FAST_PATH_LOST:
            warnings.warn(f"truth kernels on numba's dispatcher, not their compiled entry points: {FAST_PATH_LOST}",
                          RuntimeWarning, stacklevel=2)
        self.contact: DockingContact | None = None
        self.collided = False
        self.heater_power_W = 0.0
        self._prepare_frame(0)  # what step() does after each frame for the next one: noise, faults

    # ------------------------------------------------------------------ construction
    def _build_params(self, sc: Scenario, rng: np.random.Generator) -> None:
        p, s, v = self._p, self._s, sc.vehicle
        self._queues = {}
        p["dt_s"] = self._frame_ns / NS_PER_S
        p["frame_ns"] = self._frame_ns
        p["mu_m3_s2"], p["earth_radius_m"], p["j2"] = sc.earth.mu_m3_s2, sc.earth.radius_m, sc.earth.j2
        p["earth_rate_rad_s"] = sc.earth.rotation_rad_s
        p["drag_on"] = 1 if sc.drag.enabled else 0
        p["rho0_kg_m3"], p["drag_ref_altitude_m"] = sc.drag.rho0_kg_m3, sc.drag.ref_altitude_m
        p["drag_scale_height_m"] = sc.drag.scale_height_m
        p["station_cda_m2"] = sc.station.drag_cd * sc.station.drag_area_m2
        p["station_mass_kg"] = sc.station.mass_kg
        p["chaser_cda_m2"] = v.geometry.drag_cd * v.geometry.drag_area_m2
        p["port_S_m"] = sc.station.port_LVLH_m  # fixed in the station body frame, = L at zero attitude
        att = sc.station.attitude
        p["station_att_amp_rad"] = np.radians(att.amplitude_deg)
        p["station_att_rate_rad_s"] = 2.0 * math.pi / np.asarray(att.period_s, float)
        p["station_att_phase_rad"] = np.radians(att.phase_deg)
        p["station_att_on"] = 1 if np.any(p["station_att_amp_rad"] > 0.0) else 0
        p["station_body_radius_m"], p["station_body_length_m"] = sc.station.body_radius_m, sc.station.body_length_m
        p["hull_radius_m"] = v.geometry.hull_radius_m
        p["capture_ring_radius_m"] = sc.docking.capture_ring_radius_m
        p["restitution"] = sc.docking.restitution
        com, inertia, inertia_mass = mass_properties(v.mass)
        p["port_B_m"] = np.asarray(v.geometry.docking_port_B_m, float) - com
        p["inertia_full_kg_m2"] = inertia
        p["inertia_ref_mass_kg"] = inertia_mass
        p["isp_g0_mps"] = v.propulsion.isp_s * G0_M_S2
        for key in p["capture_limits"].dtype.names:  # the [docking.limits] keys
            p["capture_limits"][key] = sc.docking.limits[key]
        p["hold_lvlh"] = 1 if sc.chaser.attitude_mode == "hold_lvlh" else 0
        row = {k: i for i, k in enumerate(self._keys)}  # spawn key -> row of the streams array
        for m in SENSOR_MODELS:
            t, mp = sc.sensors[m.name], p[m.name]
            mp["divisor"] = div = frame_divisor(t.rate_hz, self._frame_ns)
            mp["dropout_prob"] = t["dropout_prob"] if "dropout_prob" in t and not sc.sensors.ideal else 0.0
            mp["stream"] = row[m.spawn_key] if m.spawn_key is not None else -1
            mp["dropout_stream"] = row[DROPOUT_SPAWN_KEY] if m.dropout else -1
            mp["err_stream"] = row[m.err_spawn_key] if m.err_spawn_key is not None else -1
            mp["latency_ns"] = latency = sensor_latency_ns(t, sc)
            s[m.name]["next_due"] = div if div > 0 else NEVER  # the first sample
            SENSOR_PARAMS[m.name](mp, t, sc)
            if m.queued:  # deep enough for every sample measured within one latency, and the one just measured
                depth = latency // (div * self._frame_ns) + 1
                self._queues[f"Q_{m.device}"] = np.zeros(depth, record_dtype(m.device))
        # thrusters: this run's realisation of misalignment and thrust error
        prop = v.propulsion
        sig_mis = prop.misalignment_sigma_deg * DEG_RAD
        self.thruster_names = tuple(t.name for t in prop.thrusters)
        if len(prop.thrusters) != self.devices["ACT_THRUSTERS"]["on_time_s"].shape[0]:
            raise ValueError("Truth: the thruster table and ACT_THRUSTERS.on_time_s differ in length")
        self._thrusters = np.zeros(len(prop.thrusters), THRUSTER)
        for row_t, t in zip(self._thrusters, prop.thrusters, strict=True):
            d = np.asarray(t.dir, float)
            tilt = rng.standard_normal(3) * sig_mis
            tilt -= d * (tilt @ d)  # a misalignment tilts the axis, it does not lengthen it
            d = d + tilt
            d /= np.linalg.norm(d)
            translation = t.group[1:] in ("x", "y", "z")
            row_t["pos_B_m"] = np.asarray(t.pos, float) - com
            row_t["dir_B"] = d
            row_t["thrust_N"] = t.thrust_N * (1.0 + prop.thrust_error_sigma * rng.standard_normal())
            row_t["mib_Ns"] = prop.min_impulse_bit_translation_Ns if translation else prop.min_impulse_bit_Ns
            sfx = "_translation" if translation else ""
            row_t["delay_s"] = prop[f"valve_delay{sfx}_s"]
            row_t["ramp_up_s"] = prop[f"rise{sfx}_s"] * LINEAR_RAMP_OF_10_90
            row_t["ramp_down_s"] = prop[f"tail{sfx}_s"] * LINEAR_RAMP_OF_10_90
            row_t["t_min_s"] = min_on_time_s(row_t["mib_Ns"], row_t["thrust_N"], row_t["ramp_up_s"],
                                             row_t["ramp_down_s"])
        self._thrusters["open_s"] = self._thrusters["close_s"] = self._thrusters["prev_close_s"] = -np.inf
        shaped = any(np.any(self._thrusters[k] > 0.0) for k in ("delay_s", "ramp_up_s", "ramp_down_s"))
        p["thrusters_shaped"] = 1 if shaped else 0

    def _build_engines(self, sc: Scenario, rng: np.random.Generator) -> None:
        """The orbit-control engines: this run's misalignment (the thrusters' sigma) and thrust error."""
        prop = sc.vehicle.propulsion
        com = mass_properties(sc.vehicle.mass)[0]
        if len(prop.engines) != self.devices["ACT_ENGINES"]["on_time_s"].shape[0]:
            raise ValueError("Truth: the engine table and ACT_ENGINES.on_time_s differ in length")
        self._engines = np.zeros(len(prop.engines), ENGINE)
        sig_mis = prop.misalignment_sigma_deg * DEG_RAD
        for row, e in zip(self._engines, prop.engines, strict=True):
            d = np.asarray(e.dir, float)
            tilt = rng.standard_normal(3) * sig_mis
            tilt -= d * (tilt @ d)
            d = d + tilt
            row["dir_B"] = d / np.linalg.norm(d)
            row["pos_B_m"] = np.asarray(e.pos, float) - com
            row["thrust_N"] = e.thrust_N * (1.0 + prop.engine_thrust_error_sigma * rng.standard_normal())
            row["isp_g0_mps"] = prop.engine_isp_s * G0_M_S2

    def _build_state(self, sc: Scenario, rng: np.random.Generator) -> None:
        p, s, v = self._p, self._s, sc.vehicle
        r_s, v_s = station_initial_state(sc)
        s["r_station_N_m"], s["v_station_N_mps"] = r_s, v_s
        s["r_chaser_N_m"], s["v_chaser_N_mps"] = r_s, v_s
        s["q_BN"][0] = 1.0
        truth_refresh(p, s)  # LVLH rate of the station
        w_LN_L = s["geometry"]["omega_LN_L_rad_s"].copy()
        C_LN = _lvlh(r_s, v_s)
        rho_L = np.asarray(sc.chaser.r_LVLH_m, float) + np.asarray(sc.station.port_LVLH_m, float)
        s["r_chaser_N_m"] = r_s + C_LN.T @ rho_L
        s["v_chaser_N_mps"] = v_s + C_LN.T @ (np.asarray(sc.chaser.v_LVLH_mps, float) + np.cross(w_LN_L, rho_L))
        if sc.raw["chaser"].get("insertion") is not None:  # the launcher's orbit itself, not its relative image
            s["r_chaser_N_m"], s["v_chaser_N_mps"] = insertion_state(sc.raw)  # (whose frame rate has no drag part)
        C_BL = docking_dcm_LB(sc.chaser.att_error_deg).T
        q_BL = np.array(q_from_dcm(*C_BL.ravel()))
        s["q_BN"] = q_from_dcm(*(C_BL @ C_LN).ravel())
        s["omega_BN_B_rad_s"] = np.radians(sc.chaser.omega_BL_B_deg_s) + C_BL @ w_LN_L
        s["hold_q_BL"] = q_BL
        m = v.mass
        s["propellant_kg"] = m.propellant_kg
        s["mass_kg"] = m.dry_kg + m.cargo_kg + m.propellant_kg
        s["inertia_kg_m2"] = p["inertia_full_kg_m2"] * s["mass_kg"] / p["inertia_ref_mass_kg"]  # about the CoM
        # gyro bias starts in the steady state of its Gauss-Markov process
        s["gyro"]["bias_rad_s"] = rng.standard_normal(3) * gyro_bias_sigma_rad_s(sc)
        truth_refresh(p, s)

    def _realise_sensors(self, sc: Scenario, rng: np.random.Generator) -> None:
        """This run's sensor constants, drawn in a fixed order whatever their sigmas: gyro scale-factor errors (3),
        the lidar's (3) and the relative GNSS' (6) Gauss-Markov biases in their steady state, then the station
        target's calibration error (3, station frame; docs/sensors.md, "The target's calibration")."""
        ideal, sn = sc.sensors.ideal, sc.sensors
        sf, b_lidar, b_gnss = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(6)
        b_target = rng.standard_normal(3)
        if ideal:
            return
        self._p["target_S_m"] = b_target * sn.target_offset_m
        self._p["gyro"]["scale_B"] = 1.0 + sf * sn.gyro.scale_factor_ppm * 1e-6
        self._s["lidar"]["bias"] = b_lidar * [sn.lidar.bias_range_m, sn.lidar.bias_angle_deg * DEG_RAD,
                                              sn.lidar.bias_angle_deg * DEG_RAD]
        self._s["gnss_rel"]["bias"] = b_gnss * np.repeat([sn.gnss_rel.bias_r_m, sn.gnss_rel.bias_v_mps], 3)

    def _build_noise(self) -> None:
        """One segment of the noise buffer per stream, sized from the models' declared draws per sample."""
        need = [0] * len(self._keys)
        for m in SENSOR_MODELS:
            mp = self._p[m.name]
            samples = -(-NOISE_BLOCK_FRAMES // int(mp["divisor"])) + 1  # in one block of frames, at most
            if m.spawn_key is not None:
                need[mp["stream"]] += samples * m.draws_per_sample(mp)
            if m.err_spawn_key is not None:
                need[mp["err_stream"]] += samples * m.err_draws
            if m.dropout:
                need[mp["dropout_stream"]] += samples
        self._streams = np.zeros(len(need), STREAM)
        start = 0
        for row, n in zip(self._streams, need, strict=True):
            row["start"], row["end"] = start, start + n + NOISE_MARGIN
            start += n + NOISE_MARGIN
        self._noise = np.zeros(start)

    def _refill_noise(self) -> None:
        for gen, row in zip(self._gens, self._streams, strict=True):
            gen.standard_normal(out=self._noise[row["start"]:row["end"]])
            row["cursor"] = row["start"]

    def _build_thermal(self, sc: Scenario) -> None:
        th = sc.thermal
        names = [n.name for n in th.nodes]
        self.thermal_node_names = tuple(names)
        idx = {n: i for i, n in enumerate(names)}
        n = len(names)
        self._nodes = np.zeros(n, THERMAL_NODE)
        for row, nd in zip(self._nodes, th.nodes, strict=True):
            row["T_K"] = (nd.initial_C if nd.initial_C is not None else th.initial_C) + KELVIN_OFFSET_K
            row["capacity_J_K"], row["q_int_W"] = nd.capacity_J_K, nd.q_int_W
            row["area_m2"], row["alpha"], row["eps"], row["normal_B"] = nd.area_m2, nd.alpha, nd.eps, nd.normal_B
        self._links = np.zeros((n, n), LINK)
        G, R = self._links["G_W_K"], self._links["R_m2"]
        for link in th.conductances:
            a, b = idx[link.a], idx[link.b]
            G[a, b] += link.G_W_K
            G[b, a] += link.G_W_K
        for link in th.radiation:
            a, b = idx[link.a], idx[link.b]
            R[a, b] += link.R_m2
            R[b, a] += link.R_m2
        self._heaters = np.zeros(len(th.heater_power_W), HEATER)
        self._heaters["node"] = np.repeat([idx[z.node] for z in th.zones], 2)  # heater 2z primary, 2z+1 backup
        self._heaters["power_W"] = th.heater_power_W
        self._thermal_scratch = np.zeros((2, max(n, 3)))
        self._therm_frames = frame_divisor(th.rate_hz, self._frame_ns)
        tp = np.zeros(1, THERMAL_PARAMS)
        tp["dt_s"] = self._therm_frames * self._frame_ns / NS_PER_S
        tp["substeps"] = th.substeps
        tp["solar_flux_W_m2"], tp["albedo"], tp["earth_ir_W_m2"] = th.solar_flux_W_m2, th.albedo, th.earth_ir_W_m2
        tp["earth_radius_m"] = sc.earth.radius_m
        tp["shadow"] = SHADOW_CONICAL if th.shadow == "conical" else SHADOW_CYLINDRICAL
        tp["beta_rad"], tp["sun_phase_rad"] = math.radians(th.beta_deg), math.radians(th.sun_phase_deg)
        self._thermal_params = tp
        # the thermistors sample on thermal frames only (the kernel checks them there)
        therm_div = round(th.rate_hz / sc.sensors.thermistors.rate_hz)
        channels = self.devices["DEV_THERMISTORS"]["temp_C"].shape[0]
        if self._p["thermistors"]["divisor"] != self._therm_frames * therm_div or channels != N_THERMISTOR_CHANNELS:
            raise ValueError("Truth: thermistors must sample every whole number of thermal frames, "
                             f"on {N_THERMISTOR_CHANNELS} channels (DEV_THERMISTORS has {channels})")

    def _build_faults(self, sc: Scenario) -> None:
        f_ns = self._frame_ns
        self._faults = []
        for f in sc.faults:
            if f.kind in ("task_overrun", "task_exception"):
                continue  # flight-side fault: the truth passes it through untouched
            a = math.ceil(f.start_s * NS_PER_S / f_ns)
            b = math.ceil((f.start_s + f.duration_s) * NS_PER_S / f_ns)
            self._faults.append((a, b, f))
        self._fault_edges = sorted({e for a, b, _ in self._faults for e in (a, b)})
        self._next_fault_frame = self._fault_edges[0] if self._fault_edges else math.inf

    def _apply_faults(self, frame: int) -> None:
        """Set the fault-driven fields from scratch for the faults active at ``frame``."""
        s = self._s
        for m in SENSOR_MODELS:
            s[m.name]["off"] = 0
            if "fault_bias" in m.state.names:
                s[m.name]["fault_bias"] = 0.0
        self._thrusters["mode"] = THRUSTER_NOMINAL
        self._heaters["open"] = 0
        for a, b, f in self._faults:
            if not a <= frame < b:
                continue
            if f.kind == "sensor_dropout":
                s[MODEL_OF_DEVICE[f.target].name]["off"] = 1
            elif f.kind == "sensor_bias":
                s[MODEL_OF_DEVICE[f.target].name]["fault_bias"] += np.asarray(f.value, float)
            elif f.kind in ("thruster_stuck_on", "thruster_failed_off"):
                mode = THRUSTER_STUCK_ON if f.kind == "thruster_stuck_on" else THRUSTER_FAILED_OFF
                self._thrusters["mode"][self.thruster_names.index(f.target)] = mode
            elif f.kind == "heater_open":
                self._heaters["open"][int(f.target)] = 1
        s["thruster_faults"] = 1 if (self._thrusters["mode"] != THRUSTER_NOMINAL).any() else 0
        later = [e for e in self._fault_edges if e > frame]
        self._next_fault_frame = later[0] if later else math.inf

    # ------------------------------------------------------------------ stepping
    def step(self) -> None:
        """Advance one minor frame with this frame's actuator records; write the due sensor records.

        One kernel call; Python work only when the kernel reports an event or ``F_SERVICE`` (a thermal
        frame, a noise refill or a fault edge is due: ``service_at`` of the state, set by :meth:`_prepare_frame`).
        """
        flags = self._frame_kernel(self._frame_ctx)
        if flags:
            self._after_frame(flags)

    def run(self, n_frames: int) -> None:
        """Step ``n_frames`` minor frames with the actuator records as they stand.

        The frames run inside one kernel call (``truth_frames``) up to the next frame with Python
        work (an event, a thermal frame, a noise refill, a fault edge), exactly as ``n_frames``
        calls of :meth:`step` would.
        """
        left = int(n_frames)
        while left > 0:
            r = self._frames_kernel(self._frame_ctx, left)
            left -= r // FRAMES_SHIFT
            flags = r % FRAMES_SHIFT
            if flags:
                self._after_frame(flags)

    def _after_frame(self, flags: int) -> None:
        """The Python side of the frame just done (in this order): thermal frame, events, next frame's set-up."""
        frame = self._frame
        service = flags & F_SERVICE
        if service and frame % self._therm_frames == 0:
            self.heater_power_W = self._thermal_kernel(*self._thermal_args)
        if flags & EVENT_BITS:
            self._on_events(flags)
        if service:
            self._prepare_frame(frame)

    def _prepare_frame(self, frame: int) -> None:
        """Before minor frame ``frame`` (frames done): refill the noise, apply fault edges; schedule the next call."""
        if frame % NOISE_BLOCK_FRAMES == 0:
            self._refill_noise()
        if frame >= self._next_fault_frame:
            self._apply_faults(frame)
        nxt = min(frame - frame % self._therm_frames + self._therm_frames,
                  frame - frame % NOISE_BLOCK_FRAMES + NOISE_BLOCK_FRAMES, self._next_fault_frame)
        self._s["service_at"] = int(min(nxt, NEVER))

    @property
    def _frame(self) -> int:
        """Minor frames done (the frame kernel counts them)."""
        return int(self._s["frame"])

    def _on_events(self, events: int) -> None:
        if events & EV_CONTACT:
            self.contact = DockingContact.from_quantities(self._s["contact"],
                                                          dict(self.scenario.docking.limits.items()))
        if events & EV_COLLISION:
            self.collided = True

    # ------------------------------------------------------------------ state access (copies)
    @property
    def t_ns(self) -> int:
        """[ns] time since the run epoch."""
        return int(self._s["t_ns"])

    def range_m(self) -> float:
        """[m] distance of the chaser CoM from the station docking port."""
        r = self._s["geometry"]["r_rel_L_m"]
        return math.sqrt(float(r[0]) ** 2 + float(r[1]) ** 2 + float(r[2]) ** 2)

    def relative_state(self) -> tuple[np.ndarray, np.ndarray]:
        """([m], [m/s]) chaser CoM relative to the station docking port, station LVLH (copies)."""
        g = self._s["geometry"]
        return g["r_rel_L_m"].copy(), g["v_rel_L_mps"].copy()

    def reference_state(self) -> tuple[np.ndarray, np.ndarray]:
        """([m], [m/s]) the centre of mass the flight software believes in, relative to the station docking port,
        station LVLH.

        The point the flight software navigates: it knows the vehicle's geometry (its sensor and port arms) about
        the centre of mass of the loading manifest the ground uplinks (``[flight] com_B_m``, by default
        ``sims.scenario.flight_com_B_m``), not where this run's load really puts it (``mass_properties``: the
        cargo's placement error and ``vehicle.mass.com_offset_B_m``, truth only). That point sits at
        ``d = com_flight - com_true`` from the true CoM, B: r + C_LB d and v + C_LB (omega_BL x d).
        """
        g = self._s["geometry"]
        arm = self._reference_arm_B()
        q = [float(c) for c in g["q_BL"]]
        lever = np.array(rot_t(*q, *arm))
        turn = np.array(rot_t(*q, *np.cross(g["omega_BL_B_rad_s"], arm)))
        return g["r_rel_L_m"] + lever, g["v_rel_L_mps"] + turn

    def _reference_arm_B(self) -> np.ndarray:
        """[m] The flight's centre of mass w.r.t. the true one, B (:meth:`reference_state`; computed once: the
        scenario does not change, and a probe asks at every task step)."""
        arm = self.__dict__.get("_ref_arm")
        if arm is None:
            arm = self._ref_arm = flight_com_B_m(self.scenario) - mass_properties(self.scenario.vehicle.mass)[0]
        return arm

    @property
    def q_BN(self) -> np.ndarray:
        """True chaser attitude, scalar first, N -> B."""
        return self._s["q_BN"].copy()

    @property
    def omega_BN_B(self) -> np.ndarray:
        """[rad/s] true chaser body rate w.r.t. N, B."""
        return self._s["omega_BN_B_rad_s"].copy()

    @property
    def q_BL(self) -> np.ndarray:
        """True chaser attitude w.r.t. the station LVLH frame, scalar first."""
        return self._s["geometry"]["q_BL"].copy()

    @property
    def q_BS(self) -> np.ndarray:
        """True chaser attitude w.r.t. the station port's frame S (the station body), scalar first."""
        return self._s["geometry"]["q_BS"].copy()

    @property
    def q_SL(self) -> np.ndarray:
        """True station body attitude w.r.t. LVLH, scalar first (its limit cycle)."""
        return self._s["geometry"]["q_SL"].copy()

    @property
    def r_station_N_m(self) -> np.ndarray:
        return self._s["r_station_N_m"].copy()

    @property
    def v_station_N_mps(self) -> np.ndarray:
        return self._s["v_station_N_mps"].copy()

    @property
    def r_chaser_N_m(self) -> np.ndarray:
        return self._s["r_chaser_N_m"].copy()

    @property
    def v_chaser_N_mps(self) -> np.ndarray:
        return self._s["v_chaser_N_mps"].copy()

    @property
    def propellant_used_kg(self) -> float:
        return float(self._s["propellant_used_kg"])

    @property
    def mass_kg(self) -> float:
        return float(self._s["mass_kg"])

    @property
    def inertia_kg_m2(self) -> np.ndarray:
        return self._s["inertia_kg_m2"].copy()

    @property
    def captured(self) -> bool:
        return bool(self._s["captured"])

    @property
    def thermal_nodes_C(self) -> dict[str, float]:
        """[degC] node temperatures by node name (a copy)."""
        return {n: float(t - KELVIN_OFFSET_K) for n, t in zip(self.thermal_node_names, self._nodes["T_K"], strict=True)}

    @property
    def heater_energy_J(self) -> np.ndarray:
        """[J] energy delivered by each heater since the start (2z primary, 2z+1 backup)."""
        return self._heaters["energy_J"].copy()

"""The truth simulation: the world the flight software flies in (software-in-the-loop).

A thin object around the kernels of ``sims.core``: it turns a validated scenario into packed
arrays once, then each :meth:`Truth.step` is one numba call (``truth_frame``: thrusters, orbits of
both vehicles with two-body + J2 (+ drag), rigid-body attitude, docking contact, the due sensors)
plus, on thermal frames, ``thermal_frame`` (nodal network, heaters, thermistors).

>>> truth = Truth(load_scenario("final_approach"))
>>> cmd = truth.devices["ACT_THRUSTERS"]                      # the flight side commands actuators:
>>> cmd["on_time_s"][0] = 0.01; cmd["seq"] += 1              # on-times from now, a new seq
>>> truth.step()                                              # one minor frame
>>> r_LVLH_m, v_LVLH_mps = truth.relative_state()

Randomness: one ``numpy.random.Generator(PCG64)`` stream per model, spawned from the seed with
``SeedSequence.spawn``; the kernels read blocks of normal draws refilled every ``NOISE_BLOCK_FRAMES``.
The same scenario and seed give bit-identical runs.
"""

from __future__ import annotations

import math

import numpy as np

from hal.devices import new_device_set
from sims.contact import DockingContact
from sims.core import layout as L
from sims.core.constants import ARCSEC_RAD, DEG_RAD, G0_M_S2, KELVIN_OFFSET_K, NS_PER_S, SECONDS_PER_HOUR
from sims.core.frame import (
    FRAMES_SHIFT,
    WORK_SIZE,
    compiled_entry,
    new_frame_context,
    truth_frame,
    truth_frames,
    truth_refresh,
)
from sims.core.quat import q_from_dcm
from sims.core.thermal import (
    E_ALPHA,
    E_AREA,
    E_EPS,
    E_N,
    N_EXT,
    N_TP,
    SHADOW_CONICAL,
    SHADOW_CYLINDRICAL,
    TP_ALBEDO,
    TP_BETA,
    TP_DT,
    TP_IR,
    TP_NSUB,
    TP_PHASE,
    TP_RE,
    TP_SHADOW,
    TP_SOLAR,
    TP_TH_DIV,
    TP_TH_DROP,
    TP_TH_Q,
    TP_TH_SIG,
    thermal_frame,
)
from sims.scenario import Scenario, docking_dcm_LB, frame_divisor

NOISE_BLOCK_FRAMES = 1000  # minor frames served by one refill of the noise buffer
NOISE_MARGIN = 16  # spare draws per stream segment
# standard normal draws per sample of each noise stream (must match sims/core/frame.py, thermal.py)
DRAWS_PER_SAMPLE = {L.NS_GYRO: 6, L.NS_ST: 3, L.NS_GNSS: 6, L.NS_LIDAR: 3, L.NS_CAMERA: 6}
SENSOR_KEYS = (  # layout sensor index -> [sensors] table and device record
    (L.S_GYRO, "gyro", "DEV_GYRO"), (L.S_ST, "star_tracker", "DEV_STAR_TRACKER"),
    (L.S_GNSS, "gnss_rel", "DEV_GNSS_REL"), (L.S_LIDAR, "lidar", "DEV_LIDAR"),
    (L.S_CAMERA, "camera", "DEV_CAMERA"), (L.S_THERM, "thermistors", "DEV_THERMISTORS"),
    (L.S_DOCK, "dock_mech", "DEV_DOCK_MECH"),
)
SENSOR_INDEX = {dev: i for i, _, dev in SENSOR_KEYS}
FAULT_BIAS_OFFSET = {"DEV_GYRO": L.FB_GYRO, "DEV_STAR_TRACKER": L.FB_ST, "DEV_GNSS_REL": L.FB_GNSS,
                     "DEV_LIDAR": L.FB_LIDAR, "DEV_CAMERA": L.FB_CAMERA, "DEV_THERMISTORS": L.FB_THERM}
EVENT_BITS = L.EV_CONTACT | L.EV_CAPTURE | L.EV_COLLISION
STREAM_VEHICLE = L.N_STREAMS  # one more stream: per-run vehicle realisation (misalignment, thrust, bias)


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
        children = np.random.SeedSequence(self.seed).spawn(L.N_STREAMS + 1)
        self._gens = [np.random.Generator(np.random.PCG64(c)) for c in children[:L.N_STREAMS]]
        vehicle_rng = np.random.Generator(np.random.PCG64(children[STREAM_VEHICLE]))
        self.devices = new_device_set()
        self._x = np.zeros(L.N_X)
        self._p = np.zeros(L.N_P)
        self._iw = np.zeros(L.N_IW, dtype=np.int64)
        self._work = np.zeros(WORK_SIZE)
        self._frame_ns = int(sc.minor_frame_ns)
        self._build_params(sc, vehicle_rng)
        self._build_state(sc, vehicle_rng)
        self._build_noise(sc)
        self._build_thermal(sc)
        self._build_faults(sc)
        rec = {k: v.reshape(1) for k, v in self.devices.items()}  # 1-element views numba can take
        # the frame kernel takes its arrays as one context and is called through its compiled entry point
        # (no per-call type dispatch): the context and the argument tuples below are fixed for the run
        self._frame_ctx = new_frame_context(self._x, self._p, self._iw, self._noise, self._work,
                                            rec["ACT_THRUSTERS"], rec["DEV_GYRO"], rec["DEV_STAR_TRACKER"],
                                            rec["DEV_GNSS_REL"], rec["DEV_LIDAR"], rec["DEV_CAMERA"],
                                            rec["DEV_DOCK_MECH"])
        self._frame_kernel = compiled_entry(truth_frame, self._frame_ctx)
        self._frames_kernel = compiled_entry(truth_frames, self._frame_ctx, 1)
        self._thermal_args = (self._T_K, self._cap, self._G, self._R, self._ext, self._q_int, self._heater_node,
                              self._heater_power, self._heater_open, self._heater_energy, self._zone_node,
                              self._tp, self._x, self._iw, self._noise, rec["ACT_HEATERS"],
                              rec["DEV_THERMISTORS"], self._thermal_scratch)
        self._thermal_kernel = compiled_entry(thermal_frame, *self._thermal_args)
        self.contact: DockingContact | None = None
        self.collided = False
        self.heater_power_W = 0.0
        self._prepare_frame(0)  # what step() does after each frame for the next one: noise, faults

    # ------------------------------------------------------------------ construction
    def _build_params(self, sc: Scenario, rng: np.random.Generator) -> None:
        p, iw, v = self._p, self._iw, sc.vehicle
        dt = self._frame_ns / NS_PER_S
        p[L.P_DT] = dt
        p[L.P_MU], p[L.P_RE], p[L.P_J2], p[L.P_WE] = (sc.earth.mu_m3_s2, sc.earth.radius_m, sc.earth.j2,
                                                      sc.earth.rotation_rad_s)
        p[L.P_DRAG_ON] = 1.0 if sc.drag.enabled else 0.0
        p[L.P_RHO0], p[L.P_H0], p[L.P_HSCALE] = sc.drag.rho0_kg_m3, sc.drag.ref_altitude_m, sc.drag.scale_height_m
        p[L.P_CDA_S] = sc.station.drag_cd * sc.station.drag_area_m2
        p[L.P_MASS_S] = sc.station.mass_kg
        p[L.P_CDA_C] = v.geometry.drag_cd * v.geometry.drag_area_m2
        p[L.P_PORT_L:L.P_PORT_L + 3] = sc.station.port_LVLH_m
        p[L.P_BODY_R], p[L.P_BODY_LEN] = sc.station.body_radius_m, sc.station.body_length_m
        p[L.P_CHASER_R] = v.geometry.hull_radius_m
        p[L.P_RING_R] = sc.docking.capture_ring_radius_m
        p[L.P_RESTITUTION] = sc.docking.restitution
        com = np.asarray(v.mass.com_offset_B_m, float)
        p[L.P_PORT_B:L.P_PORT_B + 3] = np.asarray(v.geometry.docking_port_B_m, float) - com
        p[L.P_INERTIA_FULL:L.P_INERTIA_FULL + 3] = v.mass.inertia_kg_m2
        p[L.P_MASS_FULL] = v.mass.inertia_ref_mass_kg
        p[L.P_ISP_G0] = v.propulsion.isp_s * G0_M_S2
        lim = sc.docking.limits
        p[L.P_LIM:L.P_LIM + 8] = (lim.axial_rate_min_mps, lim.axial_rate_max_mps, lim.lateral_rate_max_mps,
                                  lim.lateral_misalignment_max_m, lim.pitch_max_deg, lim.yaw_max_deg,
                                  lim.roll_max_deg, lim.angular_rate_max_deg_s)
        s = sc.sensors
        for idx, key, _ in SENSOR_KEYS:
            iw[L.I_DIV + idx] = frame_divisor(s[key].rate_hz, self._frame_ns)
            iw[L.I_NEXT_DUE + idx] = iw[L.I_DIV + idx] if iw[L.I_DIV + idx] > 0 else L.NEVER  # first sample
            p[L.P_DROP + idx] = s[key]["dropout_prob"] if "dropout_prob" in s[key] else 0.0
        dt_gyro = iw[L.I_DIV + L.S_GYRO] * dt
        p[L.P_GYRO_SIG] = s.gyro.arw_deg_sqrt_h * DEG_RAD / math.sqrt(SECONDS_PER_HOUR) / math.sqrt(dt_gyro)
        phi = math.exp(-dt_gyro / s.gyro.bias_correlation_s)
        self._gyro_bias_sigma = s.gyro.bias_instability_deg_h * DEG_RAD / SECONDS_PER_HOUR  # [rad/s]
        p[L.P_GYRO_PHI] = phi
        p[L.P_GYRO_BSIG] = self._gyro_bias_sigma * math.sqrt(1.0 - phi * phi)
        p[L.P_ST_SIG] = s.star_tracker.noise_arcsec * ARCSEC_RAD
        p[L.P_GNSS_SIG_R], p[L.P_GNSS_SIG_V] = s.gnss_rel.noise_r_m, s.gnss_rel.noise_v_mps
        p[L.P_GNSS_MIN_RANGE] = s.gnss_rel.min_range_m
        p[L.P_LIDAR_SIG0], p[L.P_LIDAR_SIGF] = s.lidar.noise_range_m, s.lidar.noise_range_frac
        p[L.P_LIDAR_SIGA] = s.lidar.noise_angle_deg * DEG_RAD
        p[L.P_LIDAR_MAX] = s.lidar.max_range_m
        p[L.P_LIDAR_COSFOV] = math.cos(s.lidar.fov_half_deg * DEG_RAD)
        p[L.P_LIDAR_POS_B:L.P_LIDAR_POS_B + 3] = np.asarray(s.lidar.mount_B_m, float) - com
        p[L.P_CAM_SIG], p[L.P_CAM_SIGA] = s.camera.noise_m, s.camera.noise_angle_deg * DEG_RAD
        p[L.P_CAM_MAX], p[L.P_CAM_COSFOV] = s.camera.max_range_m, math.cos(s.camera.fov_half_deg * DEG_RAD)
        # thrusters: this run's realisation of misalignment and thrust error
        prop = v.propulsion
        sig_mis = prop.misalignment_sigma_deg * DEG_RAD
        self.thruster_names = tuple(t.name for t in prop.thrusters)
        self.thruster_dir_B = np.zeros((L.N_THR, 3))
        self.thruster_thrust_N = np.zeros(L.N_THR)
        for i, t in enumerate(prop.thrusters):
            b = L.P_THR + i * L.THR_STRIDE
            d = np.asarray(t.dir, float)
            tilt = rng.standard_normal(3) * sig_mis
            tilt -= d * (tilt @ d)  # a misalignment tilts the axis, it does not lengthen it
            d = d + tilt
            d /= np.linalg.norm(d)
            thrust = t.thrust_N * (1.0 + prop.thrust_error_sigma * rng.standard_normal())
            translation = t.group[1:] in ("x", "y", "z")
            p[b + L.THR_POS:b + L.THR_POS + 3] = np.asarray(t.pos, float) - com
            p[b + L.THR_DIR:b + L.THR_DIR + 3] = d
            p[b + L.THR_F] = thrust
            p[b + L.THR_MIB] = prop.min_impulse_bit_translation_Ns if translation else prop.min_impulse_bit_Ns
            self.thruster_dir_B[i] = d
            self.thruster_thrust_N[i] = thrust

    def _build_state(self, sc: Scenario, rng: np.random.Generator) -> None:
        x, p, iw, v = self._x, self._p, self._iw, sc.vehicle
        iw[L.I_FRAME_NS] = self._frame_ns
        r_s, v_s = station_initial_state(sc)
        x[L.X_RS:L.X_RS + 3], x[L.X_VS:L.X_VS + 3] = r_s, v_s
        x[L.X_RC:L.X_RC + 3], x[L.X_VC:L.X_VC + 3] = r_s, v_s
        x[L.X_Q] = 1.0
        truth_refresh(x, p, self._work)  # LVLH rate of the station
        w_LN_L = x[L.X_OMEGA_LN_L:L.X_OMEGA_LN_L + 3].copy()
        C_LN = _lvlh(r_s, v_s)
        rho_L = np.asarray(sc.chaser.r_LVLH_m, float) + np.asarray(sc.station.port_LVLH_m, float)
        x[L.X_RC:L.X_RC + 3] = r_s + C_LN.T @ rho_L
        x[L.X_VC:L.X_VC + 3] = v_s + C_LN.T @ (np.asarray(sc.chaser.v_LVLH_mps, float) + np.cross(w_LN_L, rho_L))
        C_BL = docking_dcm_LB(sc.chaser.att_error_deg).T
        q_BL = np.array(q_from_dcm(*C_BL.ravel()))
        x[L.X_Q:L.X_Q + 4] = q_from_dcm(*(C_BL @ C_LN).ravel())
        x[L.X_W:L.X_W + 3] = np.radians(sc.chaser.omega_BL_B_deg_s) + C_BL @ w_LN_L
        x[L.X_JOIN_Q_BL:L.X_JOIN_Q_BL + 4] = q_BL
        iw[L.I_HOLD_LVLH] = 1 if sc.chaser.attitude_mode == "hold_lvlh" else 0
        m = v.mass
        x[L.X_PROP] = m.propellant_kg
        x[L.X_MASS] = m.dry_kg + m.cargo_kg + m.propellant_kg
        x[L.X_INERTIA:L.X_INERTIA + 3] = p[L.P_INERTIA_FULL:L.P_INERTIA_FULL + 3] * x[L.X_MASS] / p[L.P_MASS_FULL]
        # gyro bias starts in the steady state of its Gauss-Markov process
        x[L.X_GYRO_BIAS:L.X_GYRO_BIAS + 3] = rng.standard_normal(3) * self._gyro_bias_sigma
        truth_refresh(x, p, self._work)

    def _build_noise(self, sc: Scenario) -> None:
        iw, K = self._iw, NOISE_BLOCK_FRAMES
        samples = {}
        for idx, _, _ in SENSOR_KEYS:
            div = int(iw[L.I_DIV + idx])
            samples[idx] = -(-K // div) + 1
        self._therm_frames = frame_divisor(sc.thermal.rate_hz, self._frame_ns)
        therm_div = round(sc.thermal.rate_hz / sc.sensors.thermistors.rate_hz)
        therm_samples = -(-K // (self._therm_frames * therm_div)) + 1
        need = {L.NS_GYRO: samples[L.S_GYRO] * DRAWS_PER_SAMPLE[L.NS_GYRO],
                L.NS_ST: samples[L.S_ST] * DRAWS_PER_SAMPLE[L.NS_ST],
                L.NS_GNSS: samples[L.S_GNSS] * DRAWS_PER_SAMPLE[L.NS_GNSS],
                L.NS_LIDAR: samples[L.S_LIDAR] * DRAWS_PER_SAMPLE[L.NS_LIDAR],
                L.NS_CAMERA: samples[L.S_CAMERA] * DRAWS_PER_SAMPLE[L.NS_CAMERA],
                L.NS_THERM: therm_samples * 2 * len(sc.thermal.zones),
                L.NS_DROPOUT: sum(samples[i] for i in (L.S_GYRO, L.S_ST, L.S_GNSS, L.S_LIDAR, L.S_CAMERA))
                + therm_samples,
                L.NS_SPARE: 0}
        start = 0
        self._segments = []
        for s in range(L.N_STREAMS):
            n = need[s] + NOISE_MARGIN
            iw[L.I_SEG_START + s], iw[L.I_SEG_END + s] = start, start + n
            self._segments.append((start, start + n))
            start += n
        self._noise = np.zeros(start)
        self._therm_div = therm_div

    def _refill_noise(self) -> None:
        for s, (a, b) in enumerate(self._segments):
            self._gens[s].standard_normal(out=self._noise[a:b])
            self._iw[L.I_CUR + s] = a

    def _build_thermal(self, sc: Scenario) -> None:
        th = sc.thermal
        names = [n.name for n in th.nodes]
        self.thermal_node_names = tuple(names)
        idx = {n: i for i, n in enumerate(names)}
        n = len(names)
        self._T_K = np.array([(nd.initial_C if nd.initial_C is not None else th.initial_C) + KELVIN_OFFSET_K
                              for nd in th.nodes])
        self._cap = np.array([nd.capacity_J_K for nd in th.nodes])
        self._G = np.zeros((n, n))
        self._R = np.zeros((n, n))
        for link in th.conductances:
            a, b = idx[link.a], idx[link.b]
            self._G[a, b] += link.G_W_K
            self._G[b, a] += link.G_W_K
        for link in th.radiation:
            a, b = idx[link.a], idx[link.b]
            self._R[a, b] += link.R_m2
            self._R[b, a] += link.R_m2
        self._ext = np.zeros((n, N_EXT))
        for i, nd in enumerate(th.nodes):
            self._ext[i, E_AREA], self._ext[i, E_ALPHA], self._ext[i, E_EPS] = nd.area_m2, nd.alpha, nd.eps
            self._ext[i, E_N:E_N + 3] = nd.normal_B
        self._q_int = np.array([nd.q_int_W for nd in th.nodes])
        self._zone_node = np.array([idx[z.node] for z in th.zones], dtype=np.int64)
        self._heater_node = np.repeat(self._zone_node, 2)  # heater 2z primary, 2z+1 backup
        self._heater_power = np.asarray(th.heater_power_W, float)
        self._heater_open = np.zeros(len(self._heater_power), dtype=np.int64)
        self._heater_energy = np.zeros(len(self._heater_power))
        self._thermal_scratch = np.zeros((2, max(n, 3)))
        tp = np.zeros(N_TP)
        tp[TP_DT] = self._therm_frames * self._frame_ns / NS_PER_S
        tp[TP_NSUB] = th.substeps
        tp[TP_SOLAR], tp[TP_ALBEDO], tp[TP_IR] = th.solar_flux_W_m2, th.albedo, th.earth_ir_W_m2
        tp[TP_RE] = sc.earth.radius_m
        tp[TP_SHADOW] = SHADOW_CONICAL if th.shadow == "conical" else SHADOW_CYLINDRICAL
        tp[TP_BETA], tp[TP_PHASE] = math.radians(th.beta_deg), math.radians(th.sun_phase_deg)
        ts = sc.sensors.thermistors
        tp[TP_TH_SIG], tp[TP_TH_Q], tp[TP_TH_DROP] = ts.noise_C, ts.quantum_C, ts.dropout_prob
        tp[TP_TH_DIV] = self._therm_div
        self._tp = tp

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
        self._frame = 0

    def _apply_faults(self, frame: int) -> None:
        """Set the fault-driven entries from scratch for the faults active at ``frame``."""
        x, iw = self._x, self._iw
        x[L.X_FAULT_BIAS:L.X_FAULT_BIAS + L.N_FAULT_BIAS] = 0.0
        iw[L.I_OFF:L.I_OFF + L.N_SENSORS] = 0
        iw[L.I_THR_MODE:L.I_THR_MODE + L.N_THR] = L.THRUSTER_NOMINAL
        self._heater_open[:] = 0
        for a, b, f in self._faults:
            if not a <= frame < b:
                continue
            if f.kind == "sensor_dropout":
                iw[L.I_OFF + SENSOR_INDEX[f.target]] = 1
            elif f.kind == "sensor_bias":
                off = L.X_FAULT_BIAS + FAULT_BIAS_OFFSET[f.target]
                val = np.asarray(f.value, float)
                n = {"DEV_GNSS_REL": 6, "DEV_CAMERA": 6, "DEV_THERMISTORS": len(self._heater_power)}.get(f.target, 3)
                x[off:off + n] += val
            elif f.kind in ("thruster_stuck_on", "thruster_failed_off"):
                mode = L.THRUSTER_STUCK_ON if f.kind == "thruster_stuck_on" else L.THRUSTER_FAILED_OFF
                iw[L.I_THR_MODE + self.thruster_names.index(f.target)] = mode
            elif f.kind == "heater_open":
                self._heater_open[int(f.target)] = 1
        later = [e for e in self._fault_edges if e > frame]
        self._next_fault_frame = later[0] if later else math.inf

    # ------------------------------------------------------------------ stepping
    def step(self) -> None:
        """Advance one minor frame with this frame's actuator records; write the due sensor records.

        One kernel call; Python work only when the kernel reports an event or ``F_SERVICE`` (a thermal
        frame, a noise refill or a fault edge is due: ``iw[I_SERVICE_AT]``, set by :meth:`_prepare_frame`).
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
        frame = int(self._iw[L.I_FRAME])
        service = flags & L.F_SERVICE
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
        self._iw[L.I_SERVICE_AT] = int(min(nxt, L.NEVER))

    @property
    def _frame(self) -> int:
        """Minor frames done (the frame kernel counts them in ``iw[I_FRAME]``)."""
        return int(self._iw[L.I_FRAME])

    @_frame.setter
    def _frame(self, frame: int) -> None:
        self._iw[L.I_FRAME] = frame

    def _on_events(self, events: int) -> None:
        if events & L.EV_CONTACT:
            self.contact = DockingContact.from_quantities(self._x[L.X_CONTACT:L.X_CONTACT + L.N_CONTACT],
                                                          dict(self.scenario.docking.limits.items()))
        if events & L.EV_COLLISION:
            self.collided = True

    # ------------------------------------------------------------------ state access (copies)
    @property
    def t_ns(self) -> int:
        """[ns] time since the run epoch."""
        return int(self._iw[L.I_T_NS])

    def range_m(self) -> float:
        """[m] distance of the chaser CoM from the station docking port."""
        x = self._x
        i = L.X_R_L
        return math.sqrt(float(x[i]) ** 2 + float(x[i + 1]) ** 2 + float(x[i + 2]) ** 2)

    def relative_state(self) -> tuple[np.ndarray, np.ndarray]:
        """([m], [m/s]) chaser CoM relative to the station docking port, station LVLH (copies)."""
        return self._x[L.X_R_L:L.X_R_L + 3].copy(), self._x[L.X_V_L:L.X_V_L + 3].copy()

    @property
    def q_BN(self) -> np.ndarray:
        """True chaser attitude, scalar first, N -> B."""
        return self._x[L.X_Q:L.X_Q + 4].copy()

    @property
    def omega_BN_B(self) -> np.ndarray:
        """[rad/s] true chaser body rate w.r.t. N, B."""
        return self._x[L.X_W:L.X_W + 3].copy()

    @property
    def q_BL(self) -> np.ndarray:
        """True chaser attitude w.r.t. the station LVLH frame, scalar first."""
        return self._x[L.X_Q_BL:L.X_Q_BL + 4].copy()

    @property
    def r_station_N_m(self) -> np.ndarray:
        return self._x[L.X_RS:L.X_RS + 3].copy()

    @property
    def v_station_N_mps(self) -> np.ndarray:
        return self._x[L.X_VS:L.X_VS + 3].copy()

    @property
    def r_chaser_N_m(self) -> np.ndarray:
        return self._x[L.X_RC:L.X_RC + 3].copy()

    @property
    def v_chaser_N_mps(self) -> np.ndarray:
        return self._x[L.X_VC:L.X_VC + 3].copy()

    @property
    def propellant_used_kg(self) -> float:
        return float(self._x[L.X_PROP_USED])

    @property
    def mass_kg(self) -> float:
        return float(self._x[L.X_MASS])

    @property
    def inertia_kg_m2(self) -> np.ndarray:
        return self._x[L.X_INERTIA:L.X_INERTIA + 3].copy()

    @property
    def captured(self) -> bool:
        return bool(self._iw[L.I_CAPTURED])

    @property
    def thermal_nodes_C(self) -> dict[str, float]:
        """[degC] node temperatures by node name (a copy)."""
        return {n: float(t - KELVIN_OFFSET_K) for n, t in zip(self.thermal_node_names, self._T_K, strict=True)}

    @property
    def heater_energy_J(self) -> np.ndarray:
        """[J] energy delivered by each heater since the start (2z primary, 2z+1 backup)."""
        return self._heater_energy.copy()

"""Relative navigation: EKF on the chaser's position and velocity w.r.t. the station port (LVLH).

Fuses relative GNSS far out, the laser rendezvous radar inside 5 km and the docking camera inside
150 m; each sensor is used inside its range band (hand-over by the predicted range and validity), each
measurement passes an innovation gate (outliers are rejected and counted), and the solution is
valid only while measurements keep being accepted and the covariance stays small.
"""

from __future__ import annotations

import math

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.config_loader import Section
from fsw.core.estimation import (
    RN_ACCEL,
    RN_GNSS_BIAS,
    RN_GNSS_VBIAS,
    RN_LIDAR_BIAS,
    RN_TARGET,
    WORK_SHAPE,
    sample_age_s,
)
from fsw.core.navigation import (
    F_VALID_CHANGED,
    REJECT_SHIFT,
    RELNAV_FILTER,
    RELNAV_PARAMS,
    SENSOR_CAMERA,
    SENSOR_GNSS,
    SENSOR_GNSS_ABS,
    SENSOR_LIDAR,
    attitude_at,
    drag_sigma_at_mps2,
    gnss_abs_relative,
    relnav_app_step,
)
from fsw.dispatch import bind
from telemetry.dictionary import MODES
from telemetry.units import NS_PER_S

MODE_DOCKED = next(code for code, name in MODES.items() if name == "DOCKED")
_SENSOR_BAND = {SENSOR_GNSS: "gnss", SENSOR_LIDAR: "lidar", SENSOR_CAMERA: "camera",
                SENSOR_GNSS_ABS: "gnss_abs"}  # sensor code -> band key


class RelativeNavigation(App):
    """Publishes NAV_STATE from the relative sensors, attitude and the commanded delta-v."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "navigation"
    reads = ("ATT_STATE", "ENGINE_PERIOD", "MODE", "ORBIT_REF", "THRUSTER_PERIOD")
    writes = ("NAV_STATE",)
    config_section = "navigation"
    event_names = ("NAV_DOCKED", "NAV_INIT", "NAV_INVALID", "NAV_REJECT", "NAV_RESET", "NAV_VALID")

    def __init__(self, name: str, bus: Bus, events, hal, gnc: dict, path, *, port_B_m, mass_kg,
                 com_B_m=(0.0, 0.0, 0.0)):
        super().__init__(name, bus, events)
        nav = Section(gnc, path, "navigation")
        st = Section(gnc, path, "station")
        earth = Section(gnc, path, "earth")
        self.init_sr = nav.float("init_sigma_r_m", 0.0)
        self.init_sv = nav.float("init_sigma_v_mps", 0.0)
        self.bands = {s: nav.array(f"{s}_range_m", (2,), 0.0) for s in ("gnss", "lidar", "camera", "gnss_abs")}
        self.prm = np.zeros(1, RELNAV_PARAMS)
        p = self.prm[0]
        p["q_accel_m2_s3"] = nav.float("q_accel_m2_s3", 0.0)
        # the differential drag (docs/navigation.md, "The acceleration left out"; fsw.core.navigation.drag_sigma_mps2)
        speed = nav.float("drag_speed_mps", 0.0)
        p["drag_pressure_Pa"] = 0.5 * nav.float("drag_density_rms_kg_m3", 0.0) * speed * speed
        p["drag_scale_height_m"] = nav.float("drag_scale_height_m", 1.0)
        p["drag_station_cda_m2_kg"] = nav.float("drag_station_cda_m2_kg", 0.0)
        lo, hi = nav.array("drag_chaser_cd_area_m2", (2,), 0.0)  # a uniform spread, over the loaded mass
        if hi < lo:
            raise ConfigError(f"{path}: [navigation] drag_chaser_cd_area_m2 must be [low, high], got {[lo, hi]}")
        p["drag_chaser_cda_m2_kg"] = (0.5 * (lo + hi) / mass_kg, (hi - lo) / math.sqrt(12.0) / mass_kg)
        p["accel_tau_s"] = nav.array("accel_tau_s", (3,), 1.0)
        p["thrust_level_tau_s"] = nav.float("thrust_level_tau_s", 0.1)
        p["thrust_share_tau_s"] = nav.float("thrust_share_tau_s", 0.1)
        p["thrust_net_tau_s"] = nav.float("thrust_net_tau_s", 0.0)  # 0: the sustained net thrust's term is off
        if p["thrust_share_tau_s"] > p["thrust_level_tau_s"]:
            raise ConfigError(f"{path}: [navigation] thrust_share_tau_s ({p['thrust_share_tau_s']:g} s) must not be "
                              f"longer than thrust_level_tau_s ({p['thrust_level_tau_s']:g} s)")
        if p["thrust_net_tau_s"] >= p["thrust_share_tau_s"]:
            raise ConfigError(f"{path}: [navigation] thrust_net_tau_s ({p['thrust_net_tau_s']:g} s) must be shorter "
                              f"than thrust_share_tau_s ({p['thrust_share_tau_s']:g} s), or 0 (the term off)")
        p["gate_chi2_3dof"] = nav.float("gate_chi2_3dof", 0.0)
        p["gate_chi2_6dof"] = nav.float("gate_chi2_6dof", 0.0)
        p["gnss_sigma_r_m"] = self.gnss_sr = nav.float("gnss_sigma_r_m", 0.0)
        p["gnss_multipath_range_m"] = nav.float("gnss_multipath_range_m", 0.0)
        p["gnss_sigma_v_mps"] = self.gnss_sv = nav.float("gnss_sigma_v_mps", 0.0)
        p["gnss_bias_sigma_m"] = nav.array("gnss_bias_sigma_m", (3,), 0.0)
        p["gnss_bias_tau_s"] = nav.array("gnss_bias_tau_s", (3,), 1.0)
        p["gnss_vbias_sigma_mps"] = nav.array("gnss_vbias_sigma_mps", (3,), 0.0)
        p["lidar_sigma_range_m"] = self.lidar_sr = nav.float("lidar_sigma_range_m", 0.0)
        p["lidar_sigma_range_frac"] = self.lidar_sf = nav.float("lidar_sigma_range_frac", 0.0)
        p["lidar_sigma_angle_rad"] = self.lidar_sa = nav.float("lidar_sigma_angle_rad", 0.0)
        p["lidar_sigma_angle_near_rad"] = nav.float("lidar_sigma_angle_near_rad", 0.0)
        p["lidar_angle_near_range_m"] = nav.float("lidar_angle_near_range_m", 0.0)
        p["lidar_bias_sigma"] = nav.array("lidar_bias_sigma", (3,), 0.0)
        p["lidar_bias_tau_s"] = nav.array("lidar_bias_tau_s", (3,), 1.0)
        p["camera_sigma_lateral_m"] = self.cam_s = nav.float("camera_sigma_lateral_m", 0.0)
        p["camera_sigma_lateral_frac"] = nav.float("camera_sigma_lateral_frac", 0.0)
        p["camera_sigma_depth_m"] = nav.float("camera_sigma_depth_m", 0.0)
        p["camera_sigma_depth_per_m"] = nav.float("camera_sigma_depth_per_m", 0.0)
        p["target_sigma_m"] = nav.array("target_sigma_m", (3,), 0.0)
        p["gnss_band_m"], p["lidar_band_m"], p["camera_band_m"] = (self.bands[s] for s in ("gnss", "lidar", "camera"))
        p["gnss_abs_band_m"] = self.bands["gnss_abs"]
        p["band_plausible_sigma"] = nav.float("band_plausible_sigma", 1.0)
        p["gnss_abs_sigma_r_m"] = self.gabs_sr = nav.float("gnss_abs_sigma_r_m", 0.0)
        p["gnss_abs_sigma_v_mps"] = self.gabs_sv = nav.float("gnss_abs_sigma_v_mps", 0.0)
        p["gnss_abs_bias_sigma_m"] = nav.array("gnss_abs_bias_sigma_m", (3,), 0.0)
        p["gnss_abs_q_accel_m2_s3"] = nav.float("gnss_abs_q_accel_m2_s3", 0.0)
        p["gnss_abs_vbias_sigma_mps"] = nav.array("gnss_abs_vbias_sigma_mps", (3,), 0.0)
        p["dv_sigma_along_frac"] = nav.float("dv_sigma_along_frac", 0.0, 1.0)
        p["dv_sigma_across_frac"] = nav.float("dv_sigma_across_frac", 0.0, 1.0)
        p["dv_sigma_frac"] = math.sqrt((p["dv_sigma_along_frac"] ** 2 + 2.0 * p["dv_sigma_across_frac"] ** 2) / 3.0)
        p["port_accel_sigma_mps2"] = nav.float("port_accel_sigma_mps2", 0.0)
        p["burn_gap_tau_s"] = nav.float("burn_gap_tau_s", 0.0)
        p["earth"] = (earth.float("mu_m3_s2", 1.0), earth.float("radius_m", 1.0), earth.float("j2", 0.0, 1.0))
        p["port_L_m"] = st.array("port_LVLH_m", (3,))
        # the lidar and camera w.r.t. the centre of mass as loaded (the table gives them w.r.t. its origin)
        p["sensor_B_m"] = self.sensor_B = nav.array("sensor_B_m", (3,)) - np.asarray(com_B_m, dtype=np.float64)
        p["reflector_L_m"] = self.reflector = st.array("lidar_reflector_LVLH_m", (3,))
        p["camera_target_L_m"] = self.cam_target = st.array("camera_target_LVLH_m", (3,))
        p["camera_att_range_m"] = nav.float("camera_attitude_range_m", 0.0)
        p["port_tilt_tau_s"] = nav.float("port_tilt_tau_s", 1e-3)
        p["port_tilt_timeout_ns"] = int(nav.float("port_tilt_timeout_s", 0.0) * NS_PER_S)
        p["valid_timeout_ns"] = int(nav.float("valid_timeout_s", 0.0) * NS_PER_S)
        p["valid_max_sigma_r_m"] = nav.float("valid_max_sigma_r_m", 0.0)
        p["valid_max_sigma_frac"] = nav.float("valid_max_sigma_frac", 0.0, 1.0)
        self.port_L = p["port_L_m"]
        self.max_rejects = nav.int("reset_after_rejections", 1, 10_000)
        self.distrust_ns = int(nav.float("reset_distrust_s", 0.0) * NS_PER_S)
        self.gnss = hal.sensor("DEV_GNSS_REL")
        self.gabs = hal.sensor("DEV_GNSS_ABS")
        self._gabs_r = np.zeros(3)
        self._gabs_v = np.zeros(3)
        self.lidar = hal.sensor("DEV_LIDAR")
        self.camera = hal.sensor("DEV_CAMERA")
        self.out = bus.publish("NAV_STATE", name)
        self.flt = np.zeros(1, RELNAV_FILTER)
        f = self.flt[0]
        self.x, self.P, self.rejects, self.C_B_LVLH = f["x"], f["P"], f["rejects"], f["C_B_LVLH"]  # views
        self.work = np.zeros(WORK_SHAPE)
        self.initialised = False
        self._v_prior = None  # (velocity, sigma) the filter had before a reset
        self._distrusted = 0  # sensor whose repeated rejections caused the last reset
        self._distrust_until_ns = 0
        # Docked, the ports coincide: the CoM sits at minus the chaser's port (docking attitude, LVLH).
        C_RL = Section(gnc, path, "attitude_reference").array("C_RL", (3, 3))
        p["C_RL"] = C_RL
        self.r_docked = -(C_RL.T @ np.asarray(port_B_m, dtype=np.float64))
        p["docked_r_L_m"] = self.r_docked
        p["blind_range_m"] = nav.float("blind_range_m", 0.0)
        self.docked = False

    def start(self) -> None:
        self.att = self.bus.get("ATT_STATE", self.name)
        self.orbit = self.bus.get("ORBIT_REF", self.name)
        self.thr = self.bus.get("THRUSTER_PERIOD", self.name)
        # the orbit-control engines' delta-v (published by far-range guidance; a zero record without it)
        self.eng = self.bus.get_or_blank("ENGINE_PERIOD", self.name)
        self._mode = self.bus.get("MODE", self.name)["mode"].reshape(1)
        # 1-element views: the kernel reads and writes the records' fields in place
        views = tuple(r.reshape(1) for r in (self.att, self.orbit, self.thr, self.eng, self.gnss, self.gabs,
                                             self.lidar, self.camera, self.out))
        self._step = bind(relnav_app_step, self.prm, self.flt, self.work, *views, sample=(0,))
        self._att_orbit = views[:2]

    # ------------------------------------------------------------------ initialisation (rare path)
    def _initialise(self, r_LVLH, v_LVLH, sigma_r, sigma_v, sensor, t_ns) -> None:
        """Start the filter from one sample: position and velocity with the sample's noise, the biases at
        their steady-state sigma (a GNSS start's position error holds that GNSS' correlated error, so the
        two are correlated: r - r_true = b + n, b_est - b = -b; a laser radar or camera start's holds the
        target's calibration error likewise)."""
        if self._v_prior is not None and sensor not in ("GNSS", "GNSS_ABS"):  # a position-only fix after a reset
            v_LVLH, sigma_prior = self._v_prior
            sigma_v = max(sigma_v, sigma_prior)
        self._v_prior = None
        self._distrusted = 0
        p, f = self.prm[0], self.flt[0]
        self.x[:] = 0.0
        self.x[:3] = r_LVLH
        self.x[3:6] = v_LVLH
        self.P[:] = 0.0
        for i in range(3):
            self.P[i, i] = sigma_r ** 2 + self.init_sr ** 2
            self.P[3 + i, 3 + i] = sigma_v ** 2 + self.init_sv ** 2
        source = {"GNSS": SENSOR_GNSS, "GNSS_ABS": SENSOR_GNSS_ABS}.get(sensor, 0)
        absolute = source == SENSOR_GNSS_ABS
        r_s = float(np.linalg.norm(self.orbit["rv_N"][:3]))  # the acceleration left out: the differential drag
        sigma_a = (0.0, drag_sigma_at_mps2(self.prm[0], self.x, r_s), 0.0)
        sig_g = p["gnss_abs_bias_sigma_m"] if absolute else p["gnss_bias_sigma_m"]
        sig_c = p["gnss_abs_vbias_sigma_mps"] if absolute else p["gnss_vbias_sigma_mps"]
        for i in range(3):
            g, c, li = RN_GNSS_BIAS + i, RN_GNSS_VBIAS + i, RN_LIDAR_BIAS + i
            self.P[g, g] = sig_g[i] ** 2
            self.P[c, c] = sig_c[i] ** 2
            self.P[li, li] = p["lidar_bias_sigma"][i] ** 2
            self.P[RN_ACCEL + i, RN_ACCEL + i] = sigma_a[i] ** 2
            t, sig_t = RN_TARGET + i, p["target_sigma_m"][i]
            self.P[t, t] = sig_t ** 2
            if sensor in ("LIDAR", "CAMERA"):  # a fix on the target: r - r_true = -b, b_est - b = -b
                self.P[i, i] += sig_t ** 2
                self.P[i, t] = self.P[t, i] = sig_t ** 2
            if source:  # started from this sample: its correlated errors are in the state's error too
                self.P[i, i] += sig_g[i] ** 2
                self.P[i, g] = self.P[g, i] = -sig_g[i] ** 2
                self.P[3 + i, 3 + i] += sig_c[i] ** 2
                self.P[3 + i, c] = self.P[c, 3 + i] = -sig_c[i] ** 2
        f["gnss_bias_source"] = source
        f["last_gnss_ns"] = t_ns if source == SENSOR_GNSS else 0
        self.initialised = True
        f["station_rv_N"] = self.orbit["rv_N"]  # the relative state's frame is the ephemeris' now
        f["refined_N"] = self.orbit["refined_N"]
        f["station_set"] = 1
        f["t_prev_ns"] = t_ns
        f["last_accept_ns"] = t_ns
        self.emit("NAV_INIT", "INFO", f"navigation initialised from {sensor}", (float(np.linalg.norm(r_LVLH)), 0.0))

    def _in_band(self, sensor: str, rng: float) -> bool:
        lo, hi = self.bands[sensor]
        return lo <= rng <= hi

    def _try_initialise(self, t_ns: int) -> None:
        """First fix: the first valid in-band sample of any sensor, with a wide covariance."""
        att_ok = bool(self.att["valid"])
        if att_ok:  # a fix from a wide covariance: the attitude of now serves every sample's short latency
            attitude_at(*self._att_orbit, t_ns, self.flt[0]["C_scratch"], self.C_B_LVLH)
        g, li, ca = self.gnss, self.lidar, self.camera
        f = self.flt[0]
        # each sensor's own measured range decides its band here: there is no state yet to predict it from (once
        # initialised, the predicted range does, with the measured one only bounded; navigation._in_band)
        rng = {"gnss": float(np.linalg.norm(g["r_LVLH_m"] - self.port_L)), "lidar": float(li["range_m"]),
               "camera": float(np.linalg.norm(ca["r_B_m"])), "gnss_abs": math.inf}
        ga = self.gabs
        if self.orbit["seq"] != 0:
            lag_s = sample_age_s(t_ns, int(ga["t_ns"]))
            rng["gnss_abs"] = gnss_abs_relative(ga["r_N_m"], ga["v_N_mps"], self.orbit["rv_N"], self.orbit["C_LVLH_N"],
                                                self.orbit["omega_LN_L_rad_s"], self.port_L, self._gabs_r,
                                                self._gabs_v, lag_s, float(self.prm[0]["earth"][0]))
        # The sensor whose rejections caused a reset is not the one to restart from, unless no other
        # sensor offers a fix within the distrust window (far out, GNSS may be the only sensor), or no
        # other sensor's band covers the range it measures (between the GNSS and camera bands the
        # laser radar is the only sensor: waiting would leave the navigation invalid for the window).
        distrusted = self._distrusted if t_ns < self._distrust_until_ns else 0
        if distrusted:
            name = _SENSOR_BAND[distrusted]
            if not any(self._in_band(other, rng[name]) for other in self.bands if other != name):
                distrusted = 0
        if distrusted != SENSOR_GNSS and g["seq"] != f["seq_gnss"] and g["valid"] and self._in_band(
                "gnss", rng["gnss"]):
            lag_s = sample_age_s(t_ns, int(g["t_ns"]))  # the sample's age: carried to now along its velocity
            self._initialise(g["r_LVLH_m"] - self.port_L + g["v_LVLH_mps"] * lag_s, g["v_LVLH_mps"], self.gnss_sr,
                             self.gnss_sv, "GNSS", t_ns)
        elif distrusted != SENSOR_LIDAR and li["seq"] != f["seq_lidar"] and li["valid"] and att_ok \
                and self._in_band("lidar", rng["lidar"]):
            r, az, el = float(li["range_m"]), float(li["az_rad"]), float(li["el_rad"])
            los = r * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
            self._initialise(self._los_to_r(los, self.reflector), np.zeros(3),
                             self.lidar_sr + self.lidar_sf * r + r * self.lidar_sa, self.init_sv, "LIDAR", t_ns)
        elif distrusted != SENSOR_CAMERA and ca["seq"] != f["seq_camera"] and ca["valid"] and att_ok and self._in_band(
                "camera", rng["camera"]):
            self._initialise(self._los_to_r(ca["r_B_m"], self.cam_target), np.zeros(3), self.cam_s, self.init_sv,
                             "CAMERA", t_ns)
        if not self.initialised and distrusted != SENSOR_GNSS_ABS and ga["seq"] != f["seq_gnss_abs"] and ga["valid"] \
                and self.orbit["seq"] != 0:
            if self._in_band("gnss_abs", rng["gnss_abs"]):
                self._initialise(self._gabs_r - self.port_L, self._gabs_v, self.gabs_sr, self.gabs_sv, "GNSS_ABS", t_ns)
        f["seq_gnss"], f["seq_lidar"], f["seq_camera"], f["seq_thr"] = g["seq"], li["seq"], ca["seq"], self.thr["seq"]
        f["seq_gnss_abs"], f["seq_eng"] = ga["seq"], self.eng["seq"]

    def _publish_invalid(self, t_ns: int) -> None:
        out = self.out
        out["valid"] = 0
        out["t_ns"] = t_ns
        out["seq"] += 1
        if self.flt[0]["was_valid"]:
            self.flt[0]["was_valid"] = 0
            self.emit("NAV_INVALID", "WARNING", "navigation invalid", (0.0, 0.0))

    def _los_to_r(self, los_B, target) -> np.ndarray:
        """Chaser CoM w.r.t. the port from a line of sight sensor -> target (B frame)."""
        return target - self.C_B_LVLH.T @ (los_B + self.sensor_B)

    # ------------------------------------------------------------------ step
    def step(self, t_ns: int) -> None:
        if self._mode[0] == MODE_DOCKED or self.docked:
            if self._docked_step(t_ns):
                return
        if not self.initialised:
            self._try_initialise(t_ns)
            if not self.initialised:
                self._publish_invalid(t_ns)
                return
        result = self._step(t_ns)
        if result >> REJECT_SHIFT:
            self._after(result, t_ns)

    def _docked_step(self, t_ns: int) -> bool:
        """Capture confirmed (mode DOCKED): the relative state is the docked geometry, not an estimate to
        time out; the filter stops. Returns False once the vehicle has left DOCKED (the filter restarts
        from the sensors)."""
        out = self.out
        if self._mode[0] != MODE_DOCKED:
            self.docked = False
            self.initialised = False
            return False
        if not self.docked:
            self.docked = True
            out["r_LVLH_m"] = self.r_docked
            out["v_LVLH_mps"] = 0.0
            out["valid"] = 1
            self.flt[0]["was_valid"] = 1
            self.emit("NAV_DOCKED", "INFO", "docked: relative state held at the port geometry", (0.0, 0.0))
        out["t_ns"] = t_ns
        out["seq"] += 1
        return True

    def _after(self, result: int, t_ns: int) -> None:
        """Rejections, resets and validity changes: events and the rare paths."""
        for sensor in (SENSOR_GNSS, SENSOR_LIDAR, SENSOR_CAMERA, SENSOR_GNSS_ABS):
            if not result & (1 << (REJECT_SHIFT + sensor)):
                continue
            self.emit("NAV_REJECT", "WARNING", f"measurement rejected by the gate (sensor {sensor})",
                      (float(sensor), 0.0))
            if self.rejects[sensor] >= self.max_rejects:
                # The filter no longer believes a healthy sensor: start again from its data.
                self.emit("NAV_RESET", "ERROR", f"{self.rejects[sensor]} rejections in a row "
                          f"(sensor {sensor}): navigation reset", (float(sensor), 0.0))
                self.rejects[:] = 0
                self.initialised = False
                self._distrusted = sensor
                self._distrust_until_ns = t_ns + self.distrust_ns
                # keep what the filter knew of the velocity, with its uncertainty widened
                self._v_prior = (self.x[3:6].copy(), float(np.sqrt(np.diag(self.P)[3:6]).max()))
        if result & F_VALID_CHANGED:
            valid = bool(self.flt[0]["was_valid"])
            if valid:
                self.emit("NAV_VALID", "INFO", "navigation valid", (0.0, 0.0))
            else:
                self.emit("NAV_INVALID", "WARNING", "navigation invalid", (0.0, 0.0))

"""Relative navigation: EKF on the chaser's position and velocity w.r.t. the station port (LVLH).

Fuses relative GNSS far out, the laser rendezvous radar inside 5 km and the docking camera inside
150 m; each sensor is used inside its range band (hand-over by range and validity), each
measurement passes an innovation gate (outliers are rejected and counted), and the solution is
valid only while measurements keep being accepted and the covariance stays small.
"""

from __future__ import annotations

import math

import numpy as np

from fsw.app import App, Bus
from fsw.config_loader import Section
from fsw.core.attitude import quat_to_dcm
from fsw.core.dispatch import compiled_entry
from fsw.core.estimation import WORK_SHAPE
from fsw.core.navigation import (
    F_VALID_CHANGED,
    N_PRM,
    N_SP,
    N_ST,
    PRM_BAND,
    PRM_CAM_S,
    PRM_CAM_SA,
    PRM_DV_FRAC,
    PRM_EARTH,
    PRM_GATE3,
    PRM_GATE6,
    PRM_GNSS_SR,
    PRM_GNSS_SV,
    PRM_LIDAR_SA,
    PRM_LIDAR_SF,
    PRM_LIDAR_SR,
    PRM_Q_ACCEL,
    REJECT_SHIFT,
    SENSOR_CAMERA,
    SENSOR_GNSS,
    SENSOR_LIDAR,
    SEQ_CAMERA,
    SEQ_GNSS,
    SEQ_LIDAR,
    SEQ_THR,
    SP_RV,
    SP_SET,
    ST_LAST_ACCEPT,
    ST_T_PREV,
    ST_TIMEOUT,
    ST_WAS_VALID,
    relnav_app_step,
)
from telemetry.dictionary import MODES

NS_PER_S = 1e9
MODE_DOCKED = next(code for code, name in MODES.items() if name == "DOCKED")
EVT_NAV_INIT = 300
EVT_NAV_VALID = 301
EVT_NAV_INVALID = 302
EVT_NAV_REJECT = 303
EVT_NAV_RESET = 304
EVT_NAV_DOCKED = 305
_SENSOR_BAND = {SENSOR_GNSS: "gnss", SENSOR_LIDAR: "lidar", SENSOR_CAMERA: "camera"}  # sensor code -> band key


class RelativeNavigation(App):
    """Publishes NAV_STATE from the relative sensors, attitude and the commanded delta-v."""

    def __init__(self, name: str, bus: Bus, events, hal, gnc: dict, path, *, port_B_m):
        super().__init__(name, bus, events)
        nav = Section(gnc, path, "navigation")
        st = Section(gnc, path, "station")
        self.q_accel = nav.float("q_accel_m2_s3", 0.0)
        self.init_sr = nav.float("init_sigma_r_m", 0.0)
        self.init_sv = nav.float("init_sigma_v_mps", 0.0)
        self.timeout_ns = int(nav.float("valid_timeout_s", 0.0) * NS_PER_S)
        self.max_sr = nav.float("valid_max_sigma_r_m", 0.0)
        self.gate3 = nav.float("gate_chi2_3dof", 0.0)
        self.gate6 = nav.float("gate_chi2_6dof", 0.0)
        self.bands = {s: nav.array(f"{s}_range_m", (2,), 0.0) for s in ("gnss", "lidar", "camera")}
        self.gnss_sr = nav.float("gnss_sigma_r_m", 0.0)
        self.gnss_sv = nav.float("gnss_sigma_v_mps", 0.0)
        self.lidar_sr = nav.float("lidar_sigma_range_m", 0.0)
        self.lidar_sf = nav.float("lidar_sigma_range_frac", 0.0)
        self.lidar_sa = nav.float("lidar_sigma_angle_rad", 0.0)
        self.cam_s = nav.float("camera_sigma_m", 0.0)
        self.sensor_B = nav.array("sensor_B_m", (3,))
        self.h_offset = np.zeros(6)
        self.h_offset[:3] = st.array("port_LVLH_m", (3,))
        self.reflector = st.array("lidar_reflector_LVLH_m", (3,))
        self.cam_target = st.array("camera_target_LVLH_m", (3,))
        self.gnss = hal.sensor("DEV_GNSS_REL")
        self.lidar = hal.sensor("DEV_LIDAR")
        self.camera = hal.sensor("DEV_CAMERA")
        self.out = bus.publish("NAV_STATE", name)
        self.prm = np.zeros(N_PRM)
        self.prm[PRM_Q_ACCEL] = self.q_accel
        self.prm[PRM_GATE3] = self.gate3
        self.prm[PRM_GATE6] = self.gate6
        self.prm[PRM_GNSS_SR], self.prm[PRM_GNSS_SV] = self.gnss_sr, self.gnss_sv
        self.prm[PRM_LIDAR_SR] = self.lidar_sr
        self.prm[PRM_LIDAR_SF] = self.lidar_sf
        self.prm[PRM_LIDAR_SA] = self.lidar_sa
        self.prm[PRM_CAM_S] = self.cam_s
        self.prm[PRM_CAM_SA] = nav.float("camera_sigma_angle_rad", 0.0)
        self.prm[PRM_DV_FRAC] = nav.float("dv_sigma_frac", 0.0, 1.0)
        earth = Section(gnc, path, "earth")
        self.prm[PRM_EARTH:PRM_EARTH + 3] = (earth.float("mu_m3_s2", 1.0), earth.float("radius_m", 1.0),
                                             earth.float("j2", 0.0, 1.0))
        self.station_prev = np.zeros(N_SP)  # the station's ephemeris at the filter's time
        self.max_rejects = nav.int("reset_after_rejections", 1, 10_000)
        self.distrust_ns = int(nav.float("reset_distrust_s", 0.0) * NS_PER_S)
        self.rejects = np.zeros(4, np.int64)  # rejections in a row, by sensor code
        self.prm[PRM_BAND:PRM_BAND + 6] = np.concatenate([self.bands[s] for s in ("gnss", "lidar", "camera")])
        self.geo = np.array([self.sensor_B, self.reflector, self.cam_target])
        self.last_seq = np.zeros(4, dtype=np.int64)
        self._dv = np.zeros(3)
        self.x = np.zeros(6)
        self.P = np.zeros((6, 6))
        self.work = np.zeros(WORK_SHAPE)
        self.C_BN = np.zeros((3, 3))
        self.C_B_LVLH = np.zeros((3, 3))
        self.initialised = False
        self._v_prior = None  # (velocity, sigma) the filter had before a reset
        self._distrusted = 0  # sensor whose repeated rejections caused the last reset
        self._distrust_until_ns = 0
        self.st = np.zeros(N_ST, np.int64)  # fsw.core.navigation.relnav_app_step state
        self.st[ST_TIMEOUT] = self.timeout_ns
        # Docked, the ports coincide: the CoM sits at minus the chaser's port (docking attitude, LVLH).
        C_RL = Section(gnc, path, "attitude_reference").array("C_RL", (3, 3))
        self.r_docked = -(C_RL.T @ np.asarray(port_B_m, dtype=np.float64))
        self.docked = False

    def start(self) -> None:
        self.att = self.bus.get("ATT_STATE", self.name)
        self.orbit = self.bus.get("ORBIT_REF", self.name)
        self.thr = self.bus.get("THRUSTER_PERIOD", self.name)
        self._mode = self.bus.get("MODE", self.name)["mode"].reshape(1)
        # 1-element views: the kernel reads and writes the records' fields in place
        views = tuple(r.reshape(1) for r in (self.att, self.orbit, self.thr, self.gnss, self.lidar, self.camera,
                                             self.out))
        self._args = (self.max_sr, self.x, self.P, self.work, self._dv, self.C_B_LVLH, self.h_offset, self.geo,
                      self.prm, self.last_seq, self.station_prev, *views)
        self._kernel = compiled_entry(relnav_app_step, 0, self.st, self.rejects, *self._args)

    # ------------------------------------------------------------------ initialisation (rare path)
    def _initialise(self, r_LVLH, v_LVLH, sigma_r, sigma_v, sensor, t_ns) -> None:
        if self._v_prior is not None and sensor != "GNSS":  # a position-only fix after a reset
            v_LVLH, sigma_prior = self._v_prior
            sigma_v = max(sigma_v, sigma_prior)
        self._v_prior = None
        self._distrusted = 0
        self.x[:3] = r_LVLH
        self.x[3:] = v_LVLH
        self.P[:] = 0.0
        for i in range(3):
            self.P[i, i] = sigma_r ** 2 + self.init_sr ** 2
            self.P[3 + i, 3 + i] = sigma_v ** 2 + self.init_sv ** 2
        self.initialised = True
        self.station_prev[SP_RV:SP_RV + 6] = self.orbit["rv_N"]  # the relative state's frame is the ephemeris' now
        self.station_prev[SP_SET] = 1.0
        self.st[ST_T_PREV] = t_ns
        self.st[ST_LAST_ACCEPT] = t_ns
        self.emit(EVT_NAV_INIT, "INFO", f"navigation initialised from {sensor}", (float(np.linalg.norm(r_LVLH)), 0.0))

    def _in_band(self, sensor: str, rng: float) -> bool:
        lo, hi = self.bands[sensor]
        return lo <= rng <= hi

    def _try_initialise(self, t_ns: int) -> None:
        """First fix: the first valid in-band sample of any sensor, with a wide covariance."""
        att_ok = bool(self.att["valid"])
        if att_ok:
            quat_to_dcm(self.att["q_BN"], self.C_BN)
            np.dot(self.C_BN, self.orbit["C_LVLH_N"].T, out=self.C_B_LVLH)
        g, li, ca = self.gnss, self.lidar, self.camera
        seq = self.last_seq
        # each sensor's own measured range, which decides its band
        rng = {"gnss": float(np.linalg.norm(g["r_LVLH_m"] - self.h_offset[:3])), "lidar": float(li["range_m"]),
               "camera": float(np.linalg.norm(ca["r_B_m"]))}
        # The sensor whose rejections caused a reset is not the one to restart from, unless no other
        # sensor offers a fix within the distrust window (far out, GNSS may be the only sensor), or no
        # other sensor's band covers the range it measures (between the GNSS and camera bands the
        # laser radar is the only sensor: waiting would leave the navigation invalid for the window).
        distrusted = self._distrusted if t_ns < self._distrust_until_ns else 0
        if distrusted:
            name = _SENSOR_BAND[distrusted]
            if not any(self._in_band(other, rng[name]) for other in self.bands if other != name):
                distrusted = 0
        if distrusted != SENSOR_GNSS and g["seq"] != seq[SEQ_GNSS] and g["valid"] and self._in_band(
                "gnss", rng["gnss"]):
            self._initialise(g["r_LVLH_m"] - self.h_offset[:3], g["v_LVLH_mps"], self.gnss_sr, self.gnss_sv, "GNSS",
                             t_ns)
        elif distrusted != SENSOR_LIDAR and li["seq"] != seq[SEQ_LIDAR] and li["valid"] and att_ok \
                and self._in_band("lidar", rng["lidar"]):
            r, az, el = float(li["range_m"]), float(li["az_rad"]), float(li["el_rad"])
            los = r * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
            self._initialise(self._los_to_r(los, self.reflector), np.zeros(3),
                             self.lidar_sr + self.lidar_sf * r + r * self.lidar_sa, self.init_sv, "LIDAR", t_ns)
        elif distrusted != SENSOR_CAMERA and ca["seq"] != seq[SEQ_CAMERA] and ca["valid"] and att_ok and self._in_band(
                "camera", rng["camera"]):
            self._initialise(self._los_to_r(ca["r_B_m"], self.cam_target), np.zeros(3), self.cam_s, self.init_sv,
                             "CAMERA", t_ns)
        seq[SEQ_GNSS], seq[SEQ_LIDAR], seq[SEQ_CAMERA] = g["seq"], li["seq"], ca["seq"]
        seq[SEQ_THR] = self.thr["seq"]

    def _publish_invalid(self, t_ns: int) -> None:
        out = self.out
        out["valid"] = 0
        out["t_ns"] = t_ns
        out["seq"] += 1
        if self.st[ST_WAS_VALID]:
            self.st[ST_WAS_VALID] = 0
            self.emit(EVT_NAV_INVALID, "WARNING", "navigation invalid", (0.0, 0.0))

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
        result = self._kernel(t_ns, self.st, self.rejects, *self._args)
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
            self.st[ST_WAS_VALID] = 1
            self.emit(EVT_NAV_DOCKED, "INFO", "docked: relative state held at the port geometry", (0.0, 0.0))
        out["t_ns"] = t_ns
        out["seq"] += 1
        return True

    def _after(self, result: int, t_ns: int) -> None:
        """Rejections, resets and validity changes: events and the rare paths."""
        for sensor in (SENSOR_GNSS, SENSOR_LIDAR, SENSOR_CAMERA):
            if not result & (1 << (REJECT_SHIFT + sensor)):
                continue
            self.emit(EVT_NAV_REJECT, "WARNING", f"measurement rejected by the gate (sensor {sensor})",
                      (float(sensor), 0.0))
            if self.rejects[sensor] >= self.max_rejects:
                # The filter no longer believes a healthy sensor: start again from its data.
                self.emit(EVT_NAV_RESET, "ERROR", f"{self.rejects[sensor]} rejections in a row "
                          f"(sensor {sensor}): navigation reset", (float(sensor), 0.0))
                self.rejects[:] = 0
                self.initialised = False
                self._distrusted = sensor
                self._distrust_until_ns = t_ns + self.distrust_ns
                # keep what the filter knew of the velocity, with its uncertainty widened
                self._v_prior = (self.x[3:].copy(), float(np.sqrt(np.diag(self.P)[3:]).max()))
        if result & F_VALID_CHANGED:
            valid = bool(self.st[ST_WAS_VALID])
            self.emit(EVT_NAV_VALID if valid else EVT_NAV_INVALID, "INFO" if valid else "WARNING",
                      "navigation valid" if valid else "navigation invalid", (0.0, 0.0))

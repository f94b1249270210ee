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
from fsw.core.estimation import (
    WORK_SHAPE,
    relnav_predict,
    relnav_update_camera,
    relnav_update_gnss,
    relnav_update_lidar,
)

NS_PER_S = 1e9
SENSOR_GNSS, SENSOR_LIDAR, SENSOR_CAMERA = 1, 2, 3
EVT_NAV_INIT = 300
EVT_NAV_VALID = 301
EVT_NAV_INVALID = 302
EVT_NAV_REJECT = 303


class RelativeNavigation(App):
    """Publishes NAV_STATE from the relative sensors, attitude and the commanded delta-v."""

    def __init__(self, name: str, bus: Bus, events, hal, gnc: dict, path):
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
        self.x = np.zeros(6)
        self.P = np.zeros((6, 6))
        self.work = np.zeros(WORK_SHAPE)
        self.C_BN = np.zeros((3, 3))
        self.C_B_LVLH = np.zeros((3, 3))
        self.initialised = False
        self._last_seq = {"gnss": 0, "lidar": 0, "camera": 0, "thr": 0}
        self._t_ns = 0
        self._last_accept_ns = 0
        self._was_valid = False

    def start(self) -> None:
        self.att = self.bus.get("ATT_STATE", self.name)
        self.orbit = self.bus.get("ORBIT_REF", self.name)
        self.thr = self.bus.get("THRUSTER_PERIOD", self.name)
        self._q = self.att["q_BN"]
        self._C_LN = self.orbit["C_LVLH_N"]
        self._dv = self.thr["dv_LVLH_mps"]
        self._zero3 = np.zeros(3)

    # ------------------------------------------------------------------ helpers
    def _in_band(self, sensor: str, rng: float) -> bool:
        lo, hi = self.bands[sensor]
        return lo <= rng <= hi

    def _initialise(self, r_LVLH, v_LVLH, sigma_r, sigma_v, sensor, t_ns) -> None:
        self.x[:3] = r_LVLH
        self.x[3:] = v_LVLH
        self.P[:] = 0.0
        for i in range(3):
            self.P[i, i] = sigma_r ** 2 + self.init_sr ** 2
            self.P[3 + i, 3 + i] = sigma_v ** 2 + self.init_sv ** 2
        self.initialised = True
        self._t_ns = t_ns
        self._last_accept_ns = t_ns
        self.emit(EVT_NAV_INIT, "INFO", f"navigation initialised from {sensor}", (float(np.linalg.norm(r_LVLH)), 0.0))

    def _los_to_r(self, los_B, target) -> np.ndarray:
        """Chaser CoM w.r.t. the port from a line of sight sensor -> target (B frame)."""
        return target - self.C_B_LVLH.T @ (los_B + self.sensor_B)

    # ------------------------------------------------------------------ step
    def step(self, t_ns: int) -> None:
        att_ok = bool(self.att["valid"])
        if att_ok:
            quat_to_dcm(self._q, self.C_BN)
            np.dot(self.C_BN, self._C_LN.T, out=self.C_B_LVLH)
        seq = self._last_seq
        if self.initialised:
            dt = (t_ns - self._t_ns) / NS_PER_S
            dv = self._zero3
            if self.thr["seq"] != seq["thr"]:
                seq["thr"] = int(self.thr["seq"])
                dv = self._dv
            if dt > 0.0:
                relnav_predict(self.x, self.P, self.orbit["n_rad_s"], dt, dv, self.q_accel, self.work)
                self._t_ns = t_ns
        used = 0
        g = self.gnss
        if g["seq"] != seq["gnss"]:
            seq["gnss"] = int(g["seq"])
            gnss_rng = float(np.linalg.norm(g["r_LVLH_m"] - self.h_offset[:3]))
            if g["valid"] and self._in_band("gnss", gnss_rng):
                if not self.initialised:
                    self._initialise(g["r_LVLH_m"] - self.h_offset[:3], g["v_LVLH_mps"], self.gnss_sr,
                                     self.gnss_sv, "GNSS", t_ns)
                    used = SENSOR_GNSS
                else:
                    used = self._count(relnav_update_gnss(
                        self.x, self.P, g["r_LVLH_m"], g["v_LVLH_mps"], self.h_offset, self.gnss_sr,
                        self.gnss_sv, self.gate6, self.work), SENSOR_GNSS, t_ns) or used
        li = self.lidar
        if li["seq"] != seq["lidar"]:
            seq["lidar"] = int(li["seq"])
            if li["valid"] and att_ok and self._in_band("lidar", float(li["range_m"])):
                if not self.initialised:
                    r, az, el = float(li["range_m"]), float(li["az_rad"]), float(li["el_rad"])
                    los = r * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
                    sr = self.lidar_sr + self.lidar_sf * r
                    self._initialise(self._los_to_r(los, self.reflector), np.zeros(3),
                                     sr + r * self.lidar_sa, self.init_sv, "LIDAR", t_ns)
                    used = SENSOR_LIDAR
                else:
                    used = self._count(relnav_update_lidar(
                        self.x, self.P, li["range_m"], li["az_rad"], li["el_rad"], self.C_B_LVLH, self.sensor_B,
                        self.reflector, self.lidar_sr, self.lidar_sf, self.lidar_sa, self.gate3, self.work),
                        SENSOR_LIDAR, t_ns) or used
        ca = self.camera
        if ca["seq"] != seq["camera"]:
            seq["camera"] = int(ca["seq"])
            cam_rng = float(np.linalg.norm(ca["r_B_m"]))
            if ca["valid"] and att_ok and self._in_band("camera", cam_rng):
                if not self.initialised:
                    self._initialise(self._los_to_r(ca["r_B_m"], self.cam_target), np.zeros(3),
                                     self.cam_s, self.init_sv, "CAMERA", t_ns)
                    used = SENSOR_CAMERA
                else:
                    used = self._count(relnav_update_camera(
                        self.x, self.P, ca["r_B_m"], self.C_B_LVLH, self.sensor_B, self.cam_target, self.cam_s,
                        self.gate3, self.work), SENSOR_CAMERA, t_ns) or used
        self._publish(t_ns, used)

    def _count(self, result, sensor: int, t_ns: int) -> int:
        accepted, d2 = result
        out = self.out
        if accepted:
            out["accepted"] += 1
            self._last_accept_ns = t_ns
            return sensor
        out["rejected"] += 1
        self.emit(EVT_NAV_REJECT, "WARNING", f"measurement rejected by the gate (sensor {sensor})", (float(sensor), d2))
        return 0

    def _publish(self, t_ns: int, used: int) -> None:
        out = self.out
        out["t_ns"] = t_ns
        out["seq"] += 1
        out["r_LVLH_m"] = self.x[:3]
        out["v_LVLH_mps"] = self.x[3:]
        d = np.sqrt(np.maximum(np.diag(self.P), 0.0))
        out["sigma_r_m"] = d[:3]
        out["sigma_v_mps"] = d[3:]
        if used:
            out["sensor"] = used
        valid = (self.initialised and t_ns - self._last_accept_ns <= self.timeout_ns
                 and float(d[:3].max()) <= self.max_sr)
        out["valid"] = valid
        if valid != self._was_valid:
            self._was_valid = valid
            self.emit(EVT_NAV_VALID if valid else EVT_NAV_INVALID, "INFO" if valid else "WARNING",
                      "navigation valid" if valid else "navigation invalid", (0.0, 0.0))

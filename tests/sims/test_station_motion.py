"""The station's attitude limit cycle and its moving docking port: the station frame S against its closed form, the
port's motion against finite differences, contact and collision in the port's frame, the join to the station body."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.core.contact import Q_DL
from tests.sims.conftest import make_truth

HOLD_400 = [0.0, -403.0, 0.0]
PORT_S = np.array([0.0, -12.0, 0.0])  # station.port_LVLH_m of the shipped defaults
C_DL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])  # docking attitude rows (contact.Q_DL)


def skew(x):
    return np.array([[0.0, -x[2], x[1]], [x[2], 0.0, -x[0]], [-x[1], x[0], 0.0]])


def dcm(q):
    """C(q) of a scalar-first quaternion (Schaub & Junkins eq. 3.98)."""
    q0, qv = q[0], np.asarray(q[1:])
    return (q0 * q0 - qv @ qv) * np.eye(3) + 2.0 * np.outer(qv, qv) - 2.0 * q0 * skew(qv)


def rotation(theta):
    """C_SL = exp(-[theta x]) of a rotation vector (Rodrigues' formula)."""
    g = np.linalg.norm(theta)
    if g == 0.0:
        return np.eye(3)
    k = skew(theta / g)
    return np.eye(3) - math.sin(g) * k + (1.0 - math.cos(g)) * k @ k


def euler321(C):
    """(roll, pitch, yaw) [deg] of a DCM (Schaub & Junkins eq. 3.33)."""
    return np.degrees([math.atan2(C[1, 2], C[2, 2]), -math.asin(C[0, 2]), math.atan2(C[0, 1], C[0, 0])])


class LimitCycle:
    """The scenario's [station.attitude] as plain numpy: theta(t) and C_SL(t)."""

    def __init__(self, amplitude_deg, period_s, phase_deg):
        self.a = np.radians(amplitude_deg)
        self.w = 2.0 * math.pi / np.asarray(period_s, float)
        self.ph = np.radians(phase_deg)

    def theta(self, t):
        return self.a * np.sin(self.w * t + self.ph)

    def C_SL(self, t):
        return rotation(self.theta(t))

    def table(self):
        return {"attitude": {"amplitude_deg": list(np.degrees(self.a)), "period_s": list(2 * math.pi / self.w),
                             "phase_deg": list(np.degrees(self.ph))}}


CYCLE = LimitCycle([0.5, 0.3, 0.4], [600.0, 450.0, 800.0], [10.0, 200.0, 75.0])


def geometry(truth):
    return {k: truth._s["geometry"][k].copy() for k in truth._s["geometry"].dtype.names}


def test_station_attitude_and_rate_match_the_rotation_vector_closed_form():
    """q_SL is exp(-[theta x]) of theta_i = A_i sin(w_i t + phi_i); omega_SL, from the kernel's analytic
    derivative, is the rate whose kinematics [omega x] = -dC/dt C^T the closed-form C_SL(t) obeys (central
    difference over 10 ms: truncation ~ (w h)^2 / 6 ~ 2e-10 relative, rounding ~ 1e-16 / h)."""
    truth = make_truth(HOLD_400, station=CYCLE.table())
    for frames in (0, 1234, 20000, 45678):
        truth.run(frames)
        t = truth.t_ns * 1e-9
        g = geometry(truth)
        assert np.allclose(dcm(g["q_SL"]), CYCLE.C_SL(t), atol=1e-14)
        h = 0.01
        dC = (CYCLE.C_SL(t + h) - CYCLE.C_SL(t - h)) / (2 * h)
        W = -dC @ CYCLE.C_SL(t).T
        omega_S = np.array([W[2, 1], W[0, 2], W[1, 0]])
        assert np.abs(omega_S).max() > 1e-5  # [rad/s] the station does turn (A w ~ 5e-5)
        assert np.allclose(g["omega_SL_S_rad_s"], omega_S, rtol=0, atol=1e-12)


def test_port_moves_in_lvlh_with_the_station_and_its_velocity_is_its_derivative():
    """The port in L is C_LS port_S; its velocity (v_com - v_rel) against the central difference of its position
    over two frames (truncation (w h)^2 / 6 of ~1e-3 m/s, rounding 1e-13 m / 0.02 s)."""
    truth = make_truth(HOLD_400, station=CYCLE.table())
    truth.run(30000)
    ports, rates, times = [], [], []
    for _ in range(3):
        g = geometry(truth)
        ports.append(g["r_com_L_m"] - g["r_rel_L_m"])
        rates.append(g["v_com_L_mps"] - g["v_rel_L_mps"])
        times.append(truth.t_ns * 1e-9)
        truth.step()
    assert np.allclose(ports[1], CYCLE.C_SL(times[1]).T @ PORT_S, atol=1e-11)
    fd = (ports[2] - ports[0]) / (times[2] - times[0])
    assert np.linalg.norm(rates[1]) > 1e-4  # [m/s] 12 m x ~1e-4 rad/s: it moves
    assert np.allclose(rates[1], fd, atol=1e-10)


def test_relative_state_in_the_port_frame_is_the_lvlh_one_rotated_with_its_transport_term():
    truth = make_truth(HOLD_400, [0.01, 0.02, -0.03], station=CYCLE.table())
    truth.run(12345)
    g = geometry(truth)
    t = truth.t_ns * 1e-9
    C = CYCLE.C_SL(t)
    omega_L = C.T @ g["omega_SL_S_rad_s"]
    assert np.allclose(g["r_rel_S_m"], C @ g["r_rel_L_m"], atol=1e-11)
    assert np.allclose(g["v_rel_S_mps"], C @ (g["v_rel_L_mps"] - np.cross(omega_L, g["r_rel_L_m"])), atol=1e-13)
    assert np.allclose(dcm(g["q_BS"]), dcm(g["q_BL"]) @ C.T, atol=1e-14)
    assert np.allclose(g["omega_BS_B_rad_s"], g["omega_BL_B_rad_s"] - dcm(g["q_BS"]) @ g["omega_SL_S_rad_s"],
                       atol=1e-15)


# A static tilt: theta = A at t = 0 (phase 90 deg) with a period so long that it stays put over the approach
# (2 deg x 2 pi 10 s / 1e7 s = 2e-7 deg). The tilt is about x_L, so the docking axis leans out of the orbit plane,
# away from the radial Coriolis drift of a V-bar approach.
TILT_DEG = 2.0
TILT = LimitCycle([TILT_DEG, 0.0, 0.0], [1e7, 1e7, 1e7], [90.0, 0.0, 0.0])


def approach(aligned_with: str, frames=800, lateral_S_m=0.0):
    """A chaser 0.5 m port-to-port from the tilted port closing at 0.1 m/s: on the port's axis, attitude docked
    w.r.t. S (``"S"``) or w.r.t. L (``"L"``, its own axis along y_L through the port's centre)."""
    C_SL = TILT.C_SL(0.0)
    port_L = C_SL.T @ PORT_S
    axis = C_SL.T[:, 1] if aligned_with == "S" else np.array([0.0, 1.0, 0.0])  # the approach axis in L
    lateral = C_SL.T @ np.array([lateral_S_m, 0.0, 0.0])
    r_rel_L = -3.5 * axis + lateral  # chaser port 3 m ahead of its CoM: 0.5 m port to port
    C_BL = C_DL @ C_SL if aligned_with == "S" else C_DL
    att_error = euler321(C_BL @ C_DL.T)  # the start's 3-2-1 angles from the docking attitude w.r.t. L
    chaser = {"att_error_deg": [float(a) for a in att_error]}
    truth = make_truth(r_rel_L + port_L - PORT_S, 0.1 * axis, station=TILT.table(), chaser=chaser)
    truth.run(frames)
    return truth


def test_chaser_aligned_with_the_tilted_port_docks_without_misalignment():
    truth = approach("S")
    c = truth.contact
    assert c is not None and c.captured and not truth.collided
    n = 1.1339e-3  # [rad/s] the V-bar Coriolis drift over 5 s, as the untilted test_truth docking sees it
    assert c.lateral_misalignment_m == pytest.approx(n * 0.1 * 5.0 ** 2 * math.cos(math.radians(TILT_DEG)), rel=0.03)
    assert max(abs(c.pitch_deg), abs(c.yaw_deg), abs(c.roll_deg)) < 1e-3
    assert c.axial_rate_mps == pytest.approx(0.1, abs=1e-3)


def test_chaser_aligned_with_lvlh_sees_the_port_tilt():
    """Aligned with L and aimed at the port's centre along y_L: the port plane is tilted by 2 deg about x_L, which
    is -z_D in the docking attitude, so the contact angles are the tilt as a yaw."""
    truth = approach("L")
    c = truth.contact
    assert c is not None and c.captured
    expected = euler321(C_DL @ TILT.C_SL(0.0).T @ C_DL.T)  # B = D(L) w.r.t. D(S): the tilt
    assert np.allclose([c.roll_deg, c.pitch_deg, c.yaw_deg], expected, atol=2e-3)
    assert abs(c.yaw_deg) == pytest.approx(TILT_DEG, abs=2e-3)
    # closing along y_L at 0.1 m/s: across the tilted docking axis 0.1 sin(2 deg), and the radial Coriolis
    # rate 2 n ydot t of the 5 s V-bar approach
    n = 1.1339e-3
    expected_rate = math.hypot(0.1 * math.sin(math.radians(TILT_DEG)), 2.0 * n * 0.1 * 5.0)
    assert c.lateral_rate_mps == pytest.approx(expected_rate, rel=0.02)


def test_hitting_the_tilted_aft_face_off_the_ring_is_a_collision():
    truth = approach("S", lateral_S_m=1.2)
    assert truth.collided and truth.contact is None


def test_joined_chaser_follows_the_station_body():
    """After capture the chaser is fixed in S: its position and attitude w.r.t. the port stay put while the port
    turns with the limit cycle in L (period 60 s, 0.5 deg: ~ 6 cm of port travel in 30 s)."""
    cycle = LimitCycle([0.5, 0.5, 0.5], [60.0, 70.0, 80.0], [0.0, 0.0, 0.0])
    truth = make_truth([0.0, -3.5, 0.0], [0.0, 0.1, 0.0], station=cycle.table())
    truth.run(800)
    assert truth.captured
    g0 = geometry(truth)
    command_all = truth.devices["ACT_THRUSTERS"]
    command_all["on_time_s"][0] = 0.05  # thrust no longer moves a joined chaser
    command_all["seq"] += 1
    truth.run(3000)
    g1 = geometry(truth)
    t = truth.t_ns * 1e-9
    assert np.allclose(g1["r_rel_S_m"], g0["r_rel_S_m"], atol=1e-9)
    assert np.allclose(dcm(g1["q_BS"]), dcm(g0["q_BS"]), atol=1e-12)
    assert np.allclose(g1["v_rel_S_mps"], 0.0, atol=1e-11) and np.allclose(g1["omega_BS_B_rad_s"], 0.0, atol=1e-15)
    assert np.allclose(g1["r_rel_L_m"], cycle.C_SL(t).T @ g0["r_rel_S_m"], atol=1e-9)  # it turns in L
    assert np.linalg.norm(g1["r_rel_L_m"] - g0["r_rel_L_m"]) > 1e-3


def test_ideal_lvlh_hold_keeps_its_attitude_in_lvlh_while_the_station_turns():
    truth = make_truth(HOLD_400, chaser={"attitude_mode": "hold_lvlh", "r_LVLH_m": HOLD_400}, station=CYCLE.table())
    q0 = truth.q_BL
    truth.run(2000)
    assert np.allclose(truth.q_BL, q0, atol=1e-9)
    assert np.allclose(geometry(truth)["omega_BL_B_rad_s"], 0.0, atol=1e-15)
    assert not np.allclose(truth.q_BS, q0, atol=1e-5)


def test_station_at_rest_is_lvlh():
    truth = make_truth(HOLD_400)
    truth.run(100)
    g = geometry(truth)
    assert np.array_equal(g["q_SL"], [1.0, 0.0, 0.0, 0.0]) and not g["omega_SL_S_rad_s"].any()
    assert np.array_equal(g["r_rel_S_m"], g["r_rel_L_m"]) and np.array_equal(g["q_BS"], g["q_BL"])
    assert abs(np.asarray(Q_DL) @ g["q_BS"]) == pytest.approx(1.0, abs=1e-6)  # started in the docking attitude

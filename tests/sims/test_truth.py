"""The truth object end to end: actuators, sensors, faults, docking contact, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher as Dispatcher

from sims.contact import ENVELOPE
from sims.core import dispatch
from sims.core.constants import DEG_RAD, G0_M_S2
from sims.core.contact import CAPTURE_LIMITS, CONTACT, within_envelope
from sims.core.frame import new_frame_context, truth_frame, truth_frames
from sims.core.thermal import thermal_frame
from sims.scenario import load_scenario
from sims.truth import Truth
from tests.sims.conftest import IDEAL_VEHICLE, make_truth

HOLD_400 = [0.0, -403.0, 0.0]


def seqs(truth):
    return {k: int(v["seq"]) for k, v in truth.devices.items() if k.startswith("DEV_")}


def test_sensor_records_arrive_at_their_rates():
    truth = make_truth(HOLD_400)
    truth.run(100)
    assert seqs(truth) == {"DEV_GYRO": 100, "DEV_STAR_TRACKER": 5, "DEV_GNSS_REL": 1, "DEV_LIDAR": 3,
                           "DEV_CAMERA": 10, "DEV_THERMISTORS": 1, "DEV_DOCK_MECH": 10, "DEV_GNSS_ABS": 1}
    assert truth.t_ns == 1_000_000_000 and truth.devices["DEV_GYRO"]["t_ns"] == truth.t_ns


def command(truth, on_times: dict[int, float]) -> None:
    """Send one ACT_THRUSTERS command: thruster index -> on-time [s] from now, a new ``seq``."""
    rec = truth.devices["ACT_THRUSTERS"]
    rec["on_time_s"][:] = 0.0
    for i, t in on_times.items():
        rec["on_time_s"][i] = t
    rec["seq"] += 1


def test_command_longer_than_a_frame_fires_over_consecutive_frames():
    truth = make_truth(HOLD_400)
    command(truth, {0: 0.035, 1: 0.035})
    truth.run(3)
    assert truth.propellant_used_kg == pytest.approx(2 * 150.0 * 0.03 / (290.0 * G0_M_S2), rel=1e-12)
    truth.run(10)  # the last 5 ms, then nothing more: the command is spent
    commanded_s = float(np.float32(0.035))  # the packet carries f32 on-times
    assert truth.propellant_used_kg == pytest.approx(2 * 150.0 * commanded_s / (290.0 * G0_M_S2), rel=1e-12)


def test_translation_pair_gives_impulse_over_mass_along_body_x():
    truth = make_truth(HOLD_400)
    m0 = truth.mass_kg
    _, v0 = truth.relative_state()
    command(truth, {0: 0.01, 1: 0.01})  # T1, T2: +x, 150 N
    truth.step()
    _, v1 = truth.relative_state()
    dv = 2 * 150.0 * 0.01 / m0
    assert np.allclose(v1 - v0, [0.0, dv, 0.0], atol=1e-7)  # x_B = +y_LVLH in the docking attitude
    assert truth.propellant_used_kg == pytest.approx(2 * 150.0 * 0.01 / (290.0 * G0_M_S2), rel=1e-12)
    assert truth.mass_kg == pytest.approx(m0 - truth.propellant_used_kg, rel=1e-15)


@pytest.mark.parametrize("on_time_s, impulse_Ns", [(0.004, 0.0), (0.006, 0.25), (0.01, 0.25)])
def test_minimum_impulse_bit_rounds_short_pulses(on_time_s, impulse_Ns):
    truth = make_truth(HOLD_400)
    command(truth, {12: on_time_s})  # A1, 25 N, MIB 0.25 N s
    truth.step()
    assert truth.propellant_used_kg == pytest.approx(impulse_Ns / (290.0 * G0_M_S2), abs=1e-15)


def test_attitude_couple_turns_without_translating():
    truth = make_truth(HOLD_400)
    _, v0 = truth.relative_state()
    w0 = truth.omega_BN_B
    command(truth, {12: 0.01, 13: 0.01})  # A1 + A2: +roll couple
    truth.step()
    _, v1 = truth.relative_state()
    inertia = truth.inertia_kg_m2
    dw = truth.omega_BN_B - w0
    assert dw[0] == pytest.approx(2 * 25.0 * 1.65 * 0.01 / inertia[0], rel=1e-3)
    assert np.linalg.norm(v1 - v0) < 1e-7  # natural drift in 10 ms; one thruster alone gives 5e-5


def test_stuck_on_thruster_fires_without_command_until_the_fault_ends():
    faults = [{"kind": "thruster_stuck_on", "target": "T1", "start_s": 0.0, "duration_s": 0.5}]
    truth = make_truth(HOLD_400, faults=faults)
    truth.run(100)
    assert truth.propellant_used_kg == pytest.approx(150.0 * 0.5 / (290.0 * G0_M_S2), rel=1e-12)


def test_stuck_on_fault_starting_between_commands_fires_the_idle_thruster():
    """No on-time is pending when the fault starts: the kernel must still notice the thruster mode."""
    faults = [{"kind": "thruster_stuck_on", "target": "T1", "start_s": 0.5, "duration_s": 0.3}]
    truth = make_truth(HOLD_400, faults=faults)
    truth.run(50)
    assert truth.propellant_used_kg == 0.0
    truth.run(100)
    assert truth.propellant_used_kg == pytest.approx(150.0 * 0.3 / (290.0 * G0_M_S2), rel=1e-12)


def test_failed_off_thruster_ignores_its_command():
    faults = [{"kind": "thruster_failed_off", "target": "T2", "start_s": 0.0, "duration_s": 10.0}]
    truth = make_truth(HOLD_400, faults=faults)
    command(truth, {1: 0.01})
    truth.run(10)
    assert truth.propellant_used_kg == 0.0


def test_sensor_dropout_fault_stops_new_samples_for_its_window():
    faults = [{"kind": "sensor_dropout", "target": "DEV_STAR_TRACKER", "start_s": 0.5, "duration_s": 1.0}]
    truth = make_truth(HOLD_400, faults=faults)
    truth.run(200)
    assert seqs(truth)["DEV_STAR_TRACKER"] == 5  # 10 due in 2 s, 5 fall in the window


def test_sensor_bias_fault_adds_its_value():
    faults = [{"kind": "sensor_bias", "target": "DEV_GYRO", "start_s": 0.0, "duration_s": 10.0,
               "value": [0.01, 0.0, -0.02]}]
    truth = make_truth(HOLD_400, faults=faults)
    truth.run(3)
    meas = truth.devices["DEV_GYRO"]["omega_BN_B_rad_s"]
    assert np.allclose(meas - truth.omega_BN_B, [0.01, 0.0, -0.02], atol=1e-12)


def test_random_dropout_loses_about_its_probability_of_samples():
    truth = make_truth(HOLD_400, quiet=False, sensors={"gyro": {"dropout_prob": 0.2},
                                                       "star_tracker": {"dropout_prob": 0.0, "latency_s": 0.0}})
    truth.run(2000)
    assert seqs(truth)["DEV_GYRO"] / 2000 == pytest.approx(0.8, abs=0.04)  # 4.5 sigma of the binomial
    assert seqs(truth)["DEV_STAR_TRACKER"] == 100  # the other sensors lose nothing


def test_gyro_white_noise_matches_angle_random_walk():
    truth = make_truth(HOLD_400, quiet=False, sensors={"gyro": {"arw_deg_sqrt_h": 0.01, "bias_instability_deg_h": 0.0,
                                                                "rrw_deg_h_sqrt_h": 0.0, "scale_factor_ppm": 0.0}})
    err = []
    for _ in range(3000):
        truth.step()
        err.append(truth.devices["DEV_GYRO"]["omega_BN_B_rad_s"] - truth.omega_BN_B)
    sigma = 0.01 * DEG_RAD / 60.0 / math.sqrt(0.01)  # 0.01 deg/sqrt(h) at 100 Hz
    err = np.array(err)
    assert np.std(err - err.mean(0)) == pytest.approx(sigma, rel=0.05)


def test_lidar_and_camera_measure_the_geometry_and_gnss_goes_invalid_inside_200m():
    truth = make_truth([0.5, -103.0, -0.2])
    truth.run(40)  # the lidar's first sample at 32 frames, the camera's fourth at 40
    r, _ = truth.relative_state()
    los = -(r + [0.0, 3.0, 0.0])  # docking attitude: port at +3 m along y_L
    lidar, cam, gnss = truth.devices["DEV_LIDAR"], truth.devices["DEV_CAMERA"], truth.devices["DEV_GNSS_REL"]
    # B = (y_L, -z_L, -x_L) in the docking attitude
    los_B = np.array([los[1], -los[2], -los[0]])
    assert lidar["valid"] == 1 and cam["valid"] == 1
    assert lidar["range_m"] == pytest.approx(np.linalg.norm(los_B), abs=1e-6)
    assert lidar["az_rad"] == pytest.approx(math.atan2(los_B[1], los_B[0]), abs=1e-6)
    assert lidar["el_rad"] == pytest.approx(math.asin(los_B[2] / np.linalg.norm(los_B)), abs=1e-6)
    assert np.allclose(cam["r_B_m"], los_B, atol=1e-6)
    assert np.allclose(cam["att_rad"], 0.0, atol=1e-9)
    truth.run(80)
    assert gnss["seq"] == 1 and gnss["valid"] == 0


def dock(v_LVLH_mps, r_LVLH_m=(0.0, -3.5, 0.0), frames=800):
    truth = make_truth(r_LVLH_m, v_LVLH_mps)
    truth.run(frames)
    return truth


def test_docking_inside_the_envelope_captures_and_joins():
    truth = dock([0.0, 0.1, 0.0])
    c = truth.contact
    assert c is not None and c.captured and not truth.collided and c.failed_limits == []
    assert c.time_s == pytest.approx(5.0, abs=0.01)  # 0.5 m port-to-port at 0.1 m/s, interpolated
    assert c.axial_rate_mps == pytest.approx(0.1, abs=1e-3)
    n = 1.1339e-3  # [rad/s] Coriolis pushes a 0.1 m/s V-bar approach radially: x = n ydot t^2
    assert c.lateral_misalignment_m == pytest.approx(n * 0.1 * 5.0 ** 2, rel=0.02)
    assert truth.devices["DEV_DOCK_MECH"]["captured"] == 1
    r0, _ = truth.relative_state()
    command(truth, {0: 0.01})
    truth.run(100)
    r1, v1 = truth.relative_state()
    assert np.allclose(r1, r0, atol=1e-6) and np.allclose(v1, 0.0, atol=1e-6)
    d = c.as_dict()
    assert d["axial_rate_mps"]["limit"] == [0.08, 0.18] and d["axial_rate_mps"]["ok"]


def test_contact_too_fast_is_a_failed_docking():
    truth = dock([0.0, 0.3, 0.0], frames=300)
    c = truth.contact
    assert c is not None and not c.captured and c.failed_limits == ["axial_rate_mps"]
    assert truth.collided and not truth.captured
    q, lim = np.zeros(1, CONTACT)[0], np.zeros(1, CAPTURE_LIMITS)[0]
    for name in CONTACT.names:
        q[name] = getattr(c, name, 0.0)
    for key in CAPTURE_LIMITS.names:
        lim[key] = truth.scenario.docking.limits[key]
    assert within_envelope(q, lim) == 1  # the kernel's verdict: the axial rate alone


def test_contact_and_limit_records_name_what_the_scenario_and_the_contact_report_name():
    assert set(CAPTURE_LIMITS.names) == set(load_scenario("final_approach").docking.limits)
    assert {name for name, _, _ in ENVELOPE} | {"axial_distance_m", "time_s"} == set(CONTACT.names)


def test_hitting_the_aft_face_off_the_ring_is_a_collision():
    truth = dock([0.0, 0.1, 0.0], r_LVLH_m=(1.2, -3.5, 0.0))
    assert truth.collided and truth.contact is None


def test_same_seed_is_bit_identical_and_another_seed_differs():
    def run(seed):
        truth = Truth(load_scenario("final_approach"), seed=seed)
        for k in range(1200):
            command(truth, {k % 28: 0.007})
            truth.step()
        return truth._state.copy(), {k: v.tobytes() for k, v in truth.devices.items()}, truth.thermal_nodes_C

    a, b, c = run(7), run(7), run(8)
    assert a[0].tobytes() == b[0].tobytes() and a[1] == b[1] and a[2] == b[2]
    assert a[1]["DEV_GYRO"] != c[1]["DEV_GYRO"]


def test_truth_kernels_run_on_their_compiled_entry_points():
    """Fails loudly when numba no longer gives the compiled entry points (the dispatcher fallback was taken)."""
    truth = make_truth(HOLD_400)
    assert dispatch.FAST_PATH_LOST == {}
    for kernel, entry in ((truth_frame, truth._frame_kernel), (truth_frames, truth._frames_kernel),
                          (thermal_frame, truth._thermal_kernel)):
        assert entry is not kernel and not isinstance(entry, Dispatcher), kernel.__name__


def test_lost_fast_path_falls_back_to_the_dispatcher_and_is_recorded(monkeypatch):
    class NoOverloads:  # a numba dispatcher without the internals compiled_entry uses
        __name__ = "kernel_without_entry_points"

        def compile(self, sig):
            pass

    monkeypatch.setattr(dispatch, "FAST_PATH_LOST", {})
    kernel = NoOverloads()
    assert dispatch.compiled_entry(kernel, np.zeros(1)) is kernel
    assert "kernel_without_entry_points" in dispatch.FAST_PATH_LOST


def test_frame_context_refuses_an_array_of_another_record():
    truth = make_truth(HOLD_400)
    arrays = dict(params=truth._params, state=truth._state, thrusters=truth._thrusters, engines=truth._engines,
                  streams=truth._streams, noise=truth._noise, work=truth._work)
    devices = {k: v.reshape(1) for k, v in truth.devices.items()}
    arrays["params"], arrays["state"] = arrays["state"], arrays["params"]
    with pytest.raises(TypeError, match="params must be"):
        new_frame_context(devices, truth._queues, **arrays)


def test_compiled_entry_steps_exactly_as_numba_dispatch():
    """Truth.step calls the kernel's compiled entry point; the ordinary dispatcher (its fallback) gives the same run."""
    fast, plain = make_truth(HOLD_400, quiet=False), make_truth(HOLD_400, quiet=False)
    plain._frame_kernel = truth_frame
    for k in range(300):
        for truth in (fast, plain):
            command(truth, {k % 28: 0.004 * (k % 5)})
            truth.step()
    assert fast._state.tobytes() == plain._state.tobytes()
    assert {k: v.tobytes() for k, v in fast.devices.items()} == {k: v.tobytes() for k, v in plain.devices.items()}


def test_run_of_n_frames_in_one_kernel_call_is_n_steps():
    """Truth.run(n) (frames batched in truth_frames) against n calls of Truth.step: bit-identical across
    thermal frames (every 100), noise refills and a thruster pulse over several frames."""
    batched, stepped = make_truth(HOLD_400, quiet=False), make_truth(HOLD_400, quiet=False)
    for truth in (batched, stepped):
        command(truth, {0: 0.035, 1: 0.035, 20: 0.012})
    batched.run(1234)
    for _ in range(1234):
        stepped.step()
    assert batched._frame == stepped._frame == 1234
    assert batched._state.tobytes() == stepped._state.tobytes()
    assert {k: v.tobytes() for k, v in batched.devices.items()} == {k: v.tobytes() for k, v in stepped.devices.items()}
    assert batched.thermal_nodes_C == stepped.thermal_nodes_C


def test_hold_lvlh_keeps_the_docking_attitude():
    truth = make_truth(HOLD_400, chaser={"attitude_mode": "hold_lvlh", "r_LVLH_m": HOLD_400})
    q0 = truth.q_BL
    command(truth, {12: 0.01})
    truth.run(500)
    assert np.allclose(truth.q_BL, q0, atol=1e-9)


def test_reference_state_is_the_nominal_com_whose_port_arm_reaches_the_true_port():
    """The flight navigates the nominal CoM (it knows the port's arm from there, not this load's CoM offset):
    nominal CoM + C_LB docking_port_B = true CoM + C_LB (docking_port_B - offset), the chaser port either way;
    its velocity by a central difference of the positions over a frame while the chaser turns."""
    offset = [0.05, -0.02, 0.03]
    truth = make_truth(HOLD_400, vehicle={**IDEAL_VEHICLE, "mass": {**IDEAL_VEHICLE.get("mass", {}),
                                                                     "com_offset_B_m": offset}},
                       chaser={"r_LVLH_m": HOLD_400, "omega_BL_B_deg_s": [0.5, -0.3, 0.4]})
    port_B = np.asarray(truth.scenario.vehicle.geometry.docking_port_B_m, float)
    C_LB = quat_dcm_np(truth.q_BL).T
    r_nom, _ = truth.reference_state()
    r_com, _ = truth.relative_state()
    np.testing.assert_allclose(r_nom + C_LB @ port_B, r_com + C_LB @ (port_B - offset), atol=1e-12)
    assert np.linalg.norm(r_nom - r_com) == pytest.approx(np.linalg.norm(offset), rel=1e-12)
    before, _ = truth.reference_state()
    truth.run(1)
    r_mid, v_mid = truth.reference_state()
    truth.run(1)
    after, _ = truth.reference_state()
    # central difference over 2 x 10 ms: error ~ dt^2 |d3r/dt3| ~ 1e-4 x 5 cm x (1e-2 rad/s)^2 ~ 1e-9 m/s
    np.testing.assert_allclose(v_mid, (after - before) / 0.02, atol=1e-6)


def test_reference_state_is_the_manifest_com_the_flight_is_told():
    """A light load placed off its planned spot: the ground's manifest knows the 900 kg (the CoM moves aft along
    x), not the 0.2 m placement error. The point the flight navigates is the manifest's CoM, whose port arm
    (docking_port_B - com_manifest) reaches the true port: reference + C_LB (port_B - com_manifest)
    = true CoM + C_LB (port_B - com_true)."""
    from sims.scenario import manifest_com_B_m, mass_properties

    mass = {**IDEAL_VEHICLE.get("mass", {}), "cargo_kg": 900.0, "cargo": {"placement_error_B_m": [0.0, 0.2, -0.1]}}
    truth = make_truth(HOLD_400, vehicle={**IDEAL_VEHICLE, "mass": mass},
                       chaser={"r_LVLH_m": HOLD_400, "omega_BL_B_deg_s": [0.5, -0.3, 0.4]})
    vm = truth.scenario.vehicle.mass
    com_true, com_manifest = mass_properties(vm)[0], manifest_com_B_m(vm)
    assert abs(com_manifest[0]) > 0.1 and np.linalg.norm(com_true - com_manifest) > 0.01  # both effects present
    port_B = np.asarray(truth.scenario.vehicle.geometry.docking_port_B_m, float)
    C_LB = quat_dcm_np(truth.q_BL).T
    r_ref, _ = truth.reference_state()
    r_com, _ = truth.relative_state()
    np.testing.assert_allclose(r_ref + C_LB @ (port_B - com_manifest), r_com + C_LB @ (port_B - com_true),
                               atol=1e-12)


def quat_dcm_np(q):
    q0, q1, q2, q3 = q
    return np.array([[q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3, 2 * (q1 * q2 + q0 * q3), 2 * (q1 * q3 - q0 * q2)],
                     [2 * (q1 * q2 - q0 * q3), q0 * q0 - q1 * q1 + q2 * q2 - q3 * q3, 2 * (q2 * q3 + q0 * q1)],
                     [2 * (q1 * q3 + q0 * q2), 2 * (q2 * q3 - q0 * q1), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3]])

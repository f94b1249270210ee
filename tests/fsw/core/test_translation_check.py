"""Translation-thruster response check (fsw.core.control.translation_response_check) against closed forms.

A translation group is a pure force only when all its thrusters fire: with thruster i failed off,
the group leaves the parasitic torque -(r_i x F_i) for as long as it fires, so the gyro sees an
angular impulse of -(r_i x F_i) t_on that the command does not explain. The check fits, per
group, that torque per newton and reads each thruster's thrust fraction off it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fsw.config_loader import load_vehicle
from fsw.core.control import (
    N_GROUPS,
    TR_CHECK,
    group_authority,
    thruster_group_wrench,
    translation_response_check,
    translation_signatures,
)

DT = 0.1  # [s] attitude step = thruster control period
INERTIA = np.diag([6800.0, 20000.0, 20000.0])
PRIOR, MEMORY, GATE, TAU = 100.0, 900.0, 25.0, 0.5  # gnc.toml: (10 N s)^2, (30 N s)^2, 25 N m, 0.5 s


@pytest.fixture(scope="module")
def vehicle():
    v = load_vehicle()
    wrench = np.zeros((N_GROUPS, 6))
    thruster_group_wrench(v.pos_B_m, v.dir_B, v.thrust_N, v.group_idx, np.zeros(3), wrench)
    authority = np.zeros(N_GROUPS)
    group_authority(wrench, authority, np.zeros(N_GROUPS))
    table = np.zeros(1, TR_CHECK)
    n = translation_signatures(v.pos_B_m, v.dir_B, v.thrust_N, v.group_idx, authority, table)
    names = [name for name, g in zip(v.thruster_names, v.group_idx, strict=True) if g < 6]
    return dict(v=v, authority=authority, table=table, n=n, names=names)


def new_state(vehicle):
    """A fresh check with the vehicle's signature table and the shipped parameters."""
    tr = vehicle["table"].copy()
    t = tr[0]
    t["prior_N2s2"], t["memory_N2s2"], t["gate_Nm"], t["tau_s"] = PRIOR, MEMORY, GATE, TAU
    t["ratio"], t["weakest"] = math.nan, -1
    return tr


def torque_of(v, name):
    """r x F of one thruster about the nominal centre of mass (the B origin) [N m]."""
    i = v.thruster_names.index(name)
    return np.cross(v.pos_B_m[i], v.thrust_N[i] * v.dir_B[i])


def fire(tr, force_B, torque_unexplained_B, torque_cmd_B=(0.0, 0.0, 0.0)):
    """One step from rest: the rate change the commanded torque plus an unexplained torque give.

    The torques here are about one principal axis at a time or start from rest, so omega x I omega
    vanishes and I dw = (T_cmd + T_unexplained) dt holds exactly.
    """
    dw = np.linalg.solve(INERTIA, (np.asarray(torque_cmd_B, float) + torque_unexplained_B) * DT)
    return translation_response_check(dw, np.zeros(3), np.asarray(torque_cmd_B, float), group_forces(force_B),
                                      INERTIA, DT, tr)


def group_forces(force_B):
    """A force per axis as the force of the group of its sign, groups +x, -x, +y, -y, +z, -z [N]."""
    f = np.zeros(6)
    for c, v in enumerate(force_B):
        f[2 * c if v > 0.0 else 2 * c + 1] = abs(v)
    return f


def test_signature_of_a_thruster_is_its_r_cross_f_per_newton_of_its_group(vehicle):
    v, t, names = vehicle["v"], vehicle["table"][0], vehicle["names"]
    n = vehicle["n"]
    assert n == 12 == t["n_thrusters"] and names[:2] == ["T1", "T2"]
    for row, name in enumerate(names):
        g = int(t["group"][row])
        assert t["lever_m"][row] == pytest.approx(torque_of(v, name) / vehicle["authority"][g], abs=1e-12)
    # T5 at (0, -1.65, 0.5) m pushing +y with 150 N, +y group 300 N: (r x F) / 300 = (-0.25, 0, 0) m
    assert t["lever_m"][names.index("T5")] == pytest.approx([-0.25, 0.0, 0.0])
    # every group is a pure force: its thrusters' levers cancel
    for g in range(6):
        assert t["lever_m"][:n][t["group"][:n] == g].sum(axis=0) == pytest.approx(np.zeros(3), abs=1e-12)


def test_missing_thruster_leaves_minus_its_r_cross_f_and_its_ratio_follows_the_closed_form(vehicle):
    """+y group fired with T5 failed off: parasitic torque -(r5 x F5) while it fires."""
    v, names = vehicle["v"], vehicle["names"]
    parasitic = -torque_of(v, "T5")  # = r6 x F6: T6 alone, (75, 0, 0) N m
    assert parasitic == pytest.approx([75.0, 0.0, 0.0])
    tr = new_state(vehicle)
    t = tr[0]
    assert math.isnan(fire(tr, np.zeros(3), np.zeros(3)))  # nothing fired: nothing judged
    info = 0.0
    for n, t_on in enumerate([0.0101, 0.02, 0.05, 0.0101, 0.1, 0.0101]):
        force = np.array([0.0, 300.0 * t_on / DT, 0.0])  # mean force of the +y group over the period
        ratio = fire(tr, force, parasitic * t_on / DT)
        J = 300.0 * t_on
        info = math.exp(-J * J / MEMORY) * info + J * J
        shrink = info / (info + PRIOR)
        assert t["info_N2s2"][2] == pytest.approx(info)
        # lever of the +y group = the missing thruster's torque per newton, shrunk by info / (info + prior)
        assert t["lever_est_m"][2] == pytest.approx(parasitic / 300.0 * shrink, abs=1e-9)
        if info < PRIOR:
            assert math.isnan(ratio), n
        else:
            assert ratio == pytest.approx(1.0 - shrink, abs=1e-9)  # T5: k = 1 - shrink, T6: 1 + shrink
            assert names[int(t["weakest"])] == "T5"
    assert ratio < 0.15


def test_healthy_groups_read_one_and_a_constant_torque_is_not_blamed_on_translation(vehicle):
    tr = new_state(vehicle)
    t = tr[0]
    for _ in range(20):  # full pulses of every group, no parasitic torque
        for f in ([300.0, 0, 0], [-300.0, 0, 0], [0, 300.0, 0], [0, -300.0, 0], [0, 0, 300.0], [0, 0, -300.0]):
            assert fire(tr, f, np.zeros(3)) == pytest.approx(1.0, abs=1e-12)
    # the attitude groups' commanded torque is explained
    assert fire(tr, [0, 30.0, 0], np.zeros(3), torque_cmd_B=[80.0, 0.0, 0.0]) == pytest.approx(1.0, abs=1e-12)
    # a constant 10 N m (under the gate) seen in quiet steps is subtracted from the firing steps
    stuck = np.array([10.0, 0.0, 0.0])
    for _ in range(100):
        fire(tr, np.zeros(3), stuck)
    assert t["bias_Nm"] == pytest.approx(stuck, rel=1e-6)
    for _ in range(20):
        assert fire(tr, [0, 30.0, 0], stuck) == pytest.approx(1.0, abs=1e-6)
    # above the gate (a stuck-on thruster: the attitude check's business) the fit does not learn
    stuck = np.array([75.0, 0.0, 0.0])
    for _ in range(100):
        fire(tr, np.zeros(3), stuck)
    levers = t["lever_est_m"].copy()
    for _ in range(20):
        assert fire(tr, [0, 30.0, 0], stuck + [40.0, 0, 0]) == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(t["lever_est_m"], levers)


def test_groups_firing_together_are_separated(vehicle):
    """+y (T5 failed) and +z (healthy) make torques about the same (roll) axis; fired together and
    alone, the +z group is not blamed and T5 is found."""
    v, names = vehicle["v"], vehicle["names"]
    parasitic = -torque_of(v, "T5")
    tr = new_state(vehicle)
    t = tr[0]
    rng = np.random.default_rng(3)
    for _ in range(300):
        fy = rng.choice([0.0, 30.0, 100.0])
        fz = rng.choice([0.0, 30.0, 300.0])
        fire(tr, [0.0, fy, fz], parasitic * fy / 300.0)
    assert names[int(t["weakest"])] == "T5"
    assert t["ratio"] == pytest.approx(1.0 - t["info_N2s2"][2] / (t["info_N2s2"][2] + PRIOR), abs=0.02)
    assert t["lever_est_m"][4] == pytest.approx(np.zeros(3), abs=5e-3)  # +z: no parasitic torque


def test_attitude_step_judges_translation_only_on_steps_measured_at_both_ends(vehicle):
    from fsw.core import adcs
    from fsw.core.estimation import WORK_SHAPE
    from fsw.messages import new_message
    from hal.devices import new_record

    prm = np.zeros(1, adcs.ATT_PARAMS)
    p = prm[0]
    p["arw_rad_sqrt_s"], p["star_tracker_sigma_rad"], p["gate_chi2"], p["check_tau_s"] = 2.9e-6, 4.85e-5, 16.0, TAU
    p["inertia_kg_m2"], p["C_RL"] = INERTIA, np.eye(3)
    gyro, st, orbit = new_record("DEV_GYRO"), new_record("DEV_STAR_TRACKER"), new_message("ORBIT_REF")
    gyro["valid"], st["q_BN"], orbit["C_LVLH_N"] = 1, [1.0, 0.0, 0.0, 0.0], np.eye(3)
    thr = new_message("THRUSTER_PERIOD")
    thr["force_B_N"] = [0.0, 300.0, 0.0]  # the +y group fired the whole step ...
    thr["resp_group_force_N"] = group_forces([0.0, 300.0, 0.0])  # (as the rates see it: the weights in
    # tests/fsw/core/test_control_kernels.py)
    thr["t_ns"] = 0
    gyro["omega_BN_B_rad_s"] = [75.0 / 6800.0 * DT, 0.0, 0.0]  # ... with T5 failed off: T6's 75 N m roll
    results, checks = [], []
    for gyro_ok_before in (1, 0):
        flt = np.zeros(1, adcs.ATT_FILTER)
        flt[0]["q_BN"], flt[0]["P"] = [1.0, 0.0, 0.0, 0.0], np.eye(6) * 1e-6
        flt[0]["gyro_ok_prev"] = gyro_ok_before  # was the rate of the step before measured?
        tr = new_state(vehicle)
        check = new_message("THRUSTER_CHECK")
        check["response_ratio"] = math.nan
        views = tuple(r.reshape(1) for r in (gyro, st, orbit, thr, new_message("ENGINE_PERIOD"),
                                             new_message("NAV_STATE"), new_message("ATT_STATE"),
                                             new_message("TORQUE_CMD"), check))
        adcs.attitude_step(prm, flt, tr, np.zeros(WORK_SHAPE), *views, 100_000_000, DT, False, True)
        results.append(float(check["response_ratio"]))
        checks.append((tr, flt))
    assert results[0] == pytest.approx(1.0 - 900.0 / (900.0 + PRIOR), abs=1e-6)  # one 30 N s pulse: T5 at 0.1
    assert vehicle["names"][int(checks[0][0][0]["weakest"])] == "T5"
    assert math.isnan(results[1]) and checks[1][1][0]["gyro_ok_prev"] == 1  # skipped, judged from the next step

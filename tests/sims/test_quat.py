"""Quaternion helpers against plain-numpy direction cosine matrices (Schaub & Junkins sec. 3.5)."""

from __future__ import annotations

import numpy as np

from sims.core.contact import Q_DL
from sims.core.quat import euler321_of_q, q_from_dcm, q_mul, rot, rot_t


def dcm(q):
    q0, v = q[0], np.asarray(q[1:])
    X = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return (q0 * q0 - v @ v) * np.eye(3) + 2 * np.outer(v, v) - 2 * q0 * X


def unit_q(rng):
    q = rng.standard_normal(4)
    return q / np.linalg.norm(q)


def test_rot_and_rot_t_match_dcm(rng):
    for _ in range(20):
        q, v = unit_q(rng), rng.standard_normal(3)
        assert np.allclose(rot(*q, *v), dcm(q) @ v, atol=1e-14)
        assert np.allclose(rot_t(*q, *v), dcm(q).T @ v, atol=1e-14)


def test_q_mul_composes_dcms(rng):
    for _ in range(20):
        a, b = unit_q(rng), unit_q(rng)
        assert np.allclose(dcm(q_mul(*a, *b)), dcm(a) @ dcm(b), atol=1e-14)


def test_q_from_dcm_round_trips(rng):
    for _ in range(50):
        q = unit_q(rng)
        q = q if q[0] >= 0 else -q
        assert np.allclose(q_from_dcm(*dcm(q).ravel()), q, atol=1e-12)


def test_euler321_matches_sequence_of_axis_rotations(rng):
    def r1(a):
        return np.array([[1, 0, 0], [0, np.cos(a), np.sin(a)], [0, -np.sin(a), np.cos(a)]])

    def r2(a):
        return np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])

    def r3(a):
        return np.array([[np.cos(a), np.sin(a), 0], [-np.sin(a), np.cos(a), 0], [0, 0, 1]])

    for _ in range(20):
        roll, pitch, yaw = rng.uniform(-1.0, 1.0, 3)
        C = r1(roll) @ r2(pitch) @ r3(yaw)
        assert np.allclose(euler321_of_q(*q_from_dcm(*C.ravel())), (roll, pitch, yaw), atol=1e-12)


def test_docking_attitude_quaternion_is_the_documented_frame():
    # x_D = +y_L, y_D = -z_L, z_D = -x_L
    assert np.allclose(dcm(Q_DL), [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-15)

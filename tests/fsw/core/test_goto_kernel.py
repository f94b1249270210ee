"""goto_point_accel: the velocity command saturates at v_max and the CW feed-forward is exact."""

from __future__ import annotations

import numpy as np
from fsw_core_refs import N_RAD_S, cw_deriv, rk4_step

from fsw.core.guidance import goto_point_accel


def test_far_from_the_point_the_command_is_the_speed_limit_towards_it():
    a = np.zeros(3)
    r = np.array([0.0, -300.0, 0.0])
    goto_point_accel(r, np.zeros(3), np.array([0.0, -400.0, 0.0]), N_RAD_S, 0.02, 0.3, 0.2, 10.0, np.zeros(3), a)
    cw = cw_deriv(np.r_[r, np.zeros(3)], N_RAD_S)[3:]
    # a = k_v (v_cmd - 0) - a_CW with v_cmd = 0.3 m/s towards -y
    assert np.allclose(a + cw, [0.0, -0.2 * 0.3, 0.0], atol=1e-12)


def test_closed_loop_reaches_the_point_without_exceeding_the_speed_limit():
    x = np.array([5.0, -300.0, 2.0, 0.0, 0.0, 0.0])
    target = np.array([0.0, -400.0, 0.0])
    a = np.zeros(3)
    vmax = 0.3
    top = 0.0
    for _ in range(6000):  # 600 s at 10 Hz, zero-order hold on the command
        goto_point_accel(x[:3], x[3:], target, N_RAD_S, 0.02, vmax, 0.2, 0.05, np.zeros(3), a)
        x = rk4_step(lambda s: cw_deriv(s, N_RAD_S, a), x, 0.1)
        top = max(top, np.linalg.norm(x[3:]))
    assert np.linalg.norm(x[:3] - target) < 0.5
    assert top < vmax * 1.05  # the velocity loop tracks the saturated command within a few per cent

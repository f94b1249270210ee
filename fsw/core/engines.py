"""The orbit-control engines during a burn: what torque they make, and how hard they may fire.

Two 490 N engines push the vehicle along +x_B from its aft end. Their thrust line misses the centre of mass by
what the flight software does not know: the cargo's placement, the residual of the loading plan, each engine's
mounting misalignment. A few centimetres of lever arm on 980 N is a torque of the order of the attitude
thrusters' whole authority (137.5 N m in pitch and yaw), so a burn flown at full thrust can leave the attitude
loop saturated and the vehicle turning away from the burn direction. Two kernels keep the burn controllable
(docs/far-range.md, "Attitude during engine burns"):

- :func:`engine_torque_observer` learns, from the body rate and the torque the attitude thrusters delivered,
  the torque the engines make that the vehicle table does not predict (per unit duty of both engines);
- :func:`engine_duty` chooses each engine's duty in [0, 1], the largest total thrust whose predicted torque
  stays inside a share of the attitude thrusters' authority on every axis: off-pulsing one engine turns the
  pair's torque in yaw (they sit at +-0.5 m in y), and lowering both lowers the torque the thrusters must hold.

The allocation is the linear programme max sum(h) subject to |T h| <= limit, 0 <= h <= 1 (T: 3 x n torque per
engine at full duty). For the two engines of the vehicle table it is solved exactly by enumerating the
vertices of the feasible polygon (h = 0 is always feasible).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FEAS_TOL = 1e-9
_TIE = 1e-9  # two vertices with sums this close are equally good


@njit(cache=True)
def engine_duty(torque_B_Nm, limit_Nm, h_out):
    """Duty of each of two engines: max h0 + h1 with |T h|_i <= limit_i (i = x, y, z) and 0 <= h <= 1.

    Parameters
    ----------
    torque_B_Nm : (2, 3) [N m] torque of each engine at full duty about the centre of mass, B (predicted).
    limit_Nm : (3,) [N m] the engines' torque allowed per axis (> 0).
    h_out : (2,) out, duty of each engine. When several duties are optimal, the most balanced pair.
    """
    # constraints a . h <= b: +-T_i . h <= limit_i (6), h_k <= 1 (2), -h_k <= 0 (2)
    a = np.zeros((10, 2))
    b = np.zeros(10)
    for i in range(3):
        a[2 * i, 0], a[2 * i, 1], b[2 * i] = torque_B_Nm[0, i], torque_B_Nm[1, i], limit_Nm[i]
        a[2 * i + 1, 0], a[2 * i + 1, 1], b[2 * i + 1] = -torque_B_Nm[0, i], -torque_B_Nm[1, i], limit_Nm[i]
    a[6, 0], b[6] = 1.0, 1.0
    a[7, 1], b[7] = 1.0, 1.0
    a[8, 0] = -1.0
    a[9, 1] = -1.0
    # the best thrust over the feasible vertices; when a whole edge is optimal (its sum constant), the point of
    # it nearest the balanced pair h0 = h1
    best_sum, lo0, hi0 = 0.0, 0.0, 0.0
    for j in range(10):
        for k in range(j + 1, 10):
            det = a[j, 0] * a[k, 1] - a[j, 1] * a[k, 0]
            if abs(det) < 1e-12:
                continue
            h0 = (b[j] * a[k, 1] - a[j, 1] * b[k]) / det
            h1 = (a[j, 0] * b[k] - b[j] * a[k, 0]) / det
            feasible = True
            for m in range(10):
                if a[m, 0] * h0 + a[m, 1] * h1 > b[m] + _FEAS_TOL * (1.0 + abs(b[m])):
                    feasible = False
                    break
            if not feasible:
                continue
            s = h0 + h1
            if s > best_sum + _TIE:
                best_sum, lo0, hi0 = s, h0, h0
            elif s > best_sum - _TIE:
                lo0, hi0 = min(lo0, h0), max(hi0, h0)
    h0 = min(hi0, max(lo0, 0.5 * best_sum))
    h_out[0] = min(1.0, max(0.0, h0))
    h_out[1] = min(1.0, max(0.0, best_sum - h0))


@njit(cache=True)
def engine_torque_observer(omega_B, omega_prev_B, inertia_B, torque_thr_B, torque_nom_B, duty_prev, dt_s, gain,
                           min_duty, d_B):
    """One step of the engines' unpredicted-torque estimate ``d_B`` [N m at full duty of both engines].

    The torque on the vehicle over the last step, I dw/dt + w x I w, less what the attitude thrusters delivered
    (THRUSTER_PERIOD) and what the vehicle table predicts for the engines at their duties, is put on the engines
    in proportion to their mean duty (the lever-arm error is common to both; a misalignment's share is not
    told apart) and low-passed with ``gain`` = dt / tau. Steps with a mean duty below ``min_duty`` are skipped
    (too little signal). Returns True when the estimate was updated.

    Parameters
    ----------
    omega_B, omega_prev_B : (3,) [rad/s] estimated body rate now and one step ago, B.
    inertia_B : (3, 3) [kg m^2]. torque_thr_B : (3,) [N m] mean torque of the thrusters over the last step.
    torque_nom_B : (2, 3) [N m] each engine's predicted torque at full duty. duty_prev : (2,) their duties over
    the last step. dt_s : [s] the step. gain : low-pass gain in (0, 1]. d_B : (3,) in/out.
    """
    mean = 0.5 * (duty_prev[0] + duty_prev[1])
    if mean < min_duty or dt_s <= 0.0:
        return False
    Iw = inertia_B @ omega_B
    for i in range(3):
        Ia = 0.0
        for j in range(3):
            Ia += inertia_B[i, j] * (omega_B[j] - omega_prev_B[j]) / dt_s
        gyro = omega_B[(i + 1) % 3] * Iw[(i + 2) % 3] - omega_B[(i + 2) % 3] * Iw[(i + 1) % 3]
        ext = Ia + gyro - torque_thr_B[i] - duty_prev[0] * torque_nom_B[0, i] - duty_prev[1] * torque_nom_B[1, i]
        d_B[i] += gain * (ext / mean - d_B[i])
    return True

"""Navigation filters: relative-navigation EKF (position, velocity and sensor biases, LVLH) and the
attitude MEKF with gyro bias.

They share one scratch layout: ``work`` is a float64 array of shape ``WORK_SHAPE`` = (8, 15, 15),
sized for the largest state (``N_MAX``), owned by the caller (allocated once at start-up); kernels
update the state and covariance in place and allocate nothing. Details: docs/navigation.md.

Measurement updates use innovation gating (squared Mahalanobis distance ``d2 = y^T S^-1 y``
against a chi-square threshold given by the caller, e.g. 11.34 for 3 dof at 99 %) and the Joseph
form ``P = (I - K H) P (I - K H)^T + K R K^T`` (Bucy & Joseph 1968; Markley & Crassidis 2014,
Sec. 6.2). Each update returns ``(accepted, d2)``.

After a call the scratch holds, for telemetry and tests: ``work[0, :m, :]`` the measurement
Jacobian H of the last update, ``work[4]`` the transition matrix Phi of the last prediction
(until an update overwrites it with I - K H), ``work[7, 0, :m]`` the last innovation.
"""

from __future__ import annotations

import math

from numba import njit

from .attitude import quat_mult, quat_normalize
from .ephemeris import ephemeris_step, lvlh_frame_j2
from .relmotion import cw_propagate, cw_stm

N_MAX = 21  # states a filter may have (the scratch is sized for it; the MEKF uses 6)
WORK_SHAPE = (8, N_MAX, N_MAX)
# Slots of the scratch array.
_H, _R, _K, _S, _A, _T, _KR, _VEC = 0, 1, 2, 3, 4, 5, 6, 7


@njit(cache=True)
def _cholesky_inplace(S, m):
    """Lower Cholesky factor of the leading m x m block of S, in place; False if not positive definite."""
    for j in range(m):
        d = S[j, j]
        for k in range(j):
            d -= S[j, k] * S[j, k]
        if d <= 0.0:
            return False
        d = math.sqrt(d)
        S[j, j] = d
        for i in range(j + 1, m):
            v = S[i, j]
            for k in range(j):
                v -= S[i, k] * S[j, k]
            S[i, j] = v / d
    return True


@njit(cache=True)
def _cholesky_solve_row(L, m, A, row):
    """Solve (L L^T) z = A[row, :m] in place of A[row, :m]."""
    for i in range(m):
        v = A[row, i]
        for k in range(i):
            v -= L[i, k] * A[row, k]
        A[row, i] = v / L[i, i]
    for i in range(m - 1, -1, -1):
        v = A[row, i]
        for k in range(i + 1, m):
            v -= L[k, i] * A[row, k]
        A[row, i] = v / L[i, i]


@njit(cache=True)
def kalman_update(P, m, gate_chi2, work):
    """Gated Joseph-form Kalman update of a 6-state covariance, shared by every measurement kernel.

    Inputs in ``work``: H in ``work[0, :m, :]``, R in ``work[1, :m, :m]``, the innovation y in
    ``work[7, 0, :m]``. On acceptance P is updated in place and the state correction
    ``dx = K y`` is left in ``work[7, 2, :]``; on rejection nothing changes and dx = 0.

    Returns
    -------
    (bool, float) : accepted, squared Mahalanobis distance of the innovation (inf if S is not
        positive definite).

    Notes
    -----
    S = H P H^T + R, K = P H^T S^-1 via Cholesky, d2 = y^T S^-1 y; accept when d2 <= gate_chi2;
    P+ = (I - K H) P (I - K H)^T + K R K^T (Markley & Crassidis 2014, Eqs. 6.24, 6.28).
    """
    n = P.shape[0]
    H = work[_H]
    R = work[_R]
    K = work[_K]
    S = work[_S]
    A = work[_A]
    T = work[_T]
    KR = work[_KR]
    vec = work[_VEC]
    for i in range(n):
        vec[2, i] = 0.0
    # K <- P H^T (n x m)
    for i in range(n):
        for j in range(m):
            v = 0.0
            for k in range(n):
                v += P[i, k] * H[j, k]
            K[i, j] = v
    # S <- H P H^T + R
    for i in range(m):
        for j in range(m):
            v = R[i, j]
            for k in range(n):
                v += H[i, k] * K[k, j]
            S[i, j] = v
    if not _cholesky_inplace(S, m):
        return False, math.inf
    for i in range(m):
        vec[1, i] = vec[0, i]
    _cholesky_solve_row(S, m, vec, 1)
    d2 = 0.0
    for i in range(m):
        d2 += vec[0, i] * vec[1, i]
    if d2 > gate_chi2:
        return False, d2
    for i in range(n):
        _cholesky_solve_row(S, m, K, i)
    for i in range(n):
        v = 0.0
        for j in range(m):
            v += K[i, j] * vec[0, j]
        vec[2, i] = v
    # A <- I - K H
    for i in range(n):
        for j in range(n):
            v = 1.0 if i == j else 0.0
            for k in range(m):
                v -= K[i, k] * H[k, j]
            A[i, j] = v
    # T <- A P ; KR <- K R
    for i in range(n):
        for j in range(n):
            v = 0.0
            for k in range(n):
                v += A[i, k] * P[k, j]
            T[i, j] = v
        for j in range(m):
            v = 0.0
            for k in range(m):
                v += K[i, k] * R[k, j]
            KR[i, j] = v
    # P <- T A^T + KR K^T, symmetrised
    for i in range(n):
        for j in range(i, n):
            v = 0.0
            for k in range(n):
                v += T[i, k] * A[j, k]
            for k in range(m):
                v += KR[i, k] * K[j, k]
            P[i, j] = v
            P[j, i] = v
    return True, d2


@njit(cache=True)
def _propagate_cov(P, Phi, T):
    """P <- Phi P Phi^T (n x n, n = P.shape[0]; T is scratch of at least that size)."""
    n = P.shape[0]
    for i in range(n):
        for j in range(n):
            v = 0.0
            for k in range(n):
                v += Phi[i, k] * P[k, j]
            T[i, j] = v
    for i in range(n):
        for j in range(i, n):
            v = 0.0
            for k in range(n):
                v += T[i, k] * Phi[j, k]
            P[i, j] = v
            P[j, i] = v


# ---------------------------------------------------------------- relative navigation EKF
# State layout of the relative-navigation filter (fsw/core/navigation.py RELNAV_FILTER): the chaser CoM
# w.r.t. the station port in LVLH, then the sensors' slowly varying errors as first-order Gauss-Markov
# states (docs/navigation.md): the GNSS position and velocity errors (LVLH; from absolute GNSS, the
# station ephemeris' error, which moves as a relative orbit), the laser radar's range / azimuth /
# elevation bias, the relative acceleration the dynamics leave out (LVLH: the differential drag, the
# port's motion as the station holds attitude), and the calibration error of the station's target, which both
# the laser radar and the camera see (LVLH, a random constant: no time update). The kernels below work on any
# state size >= 6 with position and velocity first; a measurement names the first of its bias states (-1: none).
RN_R, RN_V, RN_GNSS_BIAS, RN_GNSS_VBIAS, RN_LIDAR_BIAS, RN_ACCEL, RN_TARGET, RN_STATES = 0, 3, 6, 9, 12, 15, 18, 21
assert RN_STATES <= N_MAX, "the scratch (WORK_SHAPE) must hold the relative-navigation filter"


@njit(cache=True)
def sample_age_s(now_ns, taken_ns):
    """[s] Age of a sample taken (time-stamped) at ``taken_ns`` for a filter at ``now_ns`` (0 if not positive)."""
    return max(now_ns - taken_ns, 0) * 1e-9


@njit(cache=True)
def _propagate_cov_dynamic(P, Phi, T):
    """P <- Phi P Phi^T where Phi acts on the first 6 states only (the rest: identity)."""
    _propagate_cov_block(P, Phi, T, 0)


@njit(cache=True)
def _propagate_cov_block(P, Phi, T, first):
    """P <- Phi P Phi^T where Phi (6 x 6) acts on states ``first .. first + 5`` only (the rest: identity):
    the block's rows and columns of Phi P (``T``, 6 x n), then the block itself Phi P_bb Phi^T."""
    n = P.shape[0]
    for i in range(6):
        for j in range(n):
            v = 0.0
            for k in range(6):
                v += Phi[i, k] * P[first + k, j]
            T[i, j] = v
    for i in range(6):
        for j in range(i, 6):
            v = 0.0
            for k in range(6):
                v += T[i, first + k] * Phi[j, k]
            P[first + i, first + j] = v
            P[first + j, first + i] = v
        for j in range(n):
            if j < first or j >= first + 6:
                P[first + i, j] = T[i, j]
                P[j, first + i] = T[i, j]


@njit(cache=True)
def relnav_predict_ephemeris_error(x, P, first, n_rad_s, dt_s, q_accel_m2_s3, work):
    """Time update of the 6 states ``first .. first + 5`` that hold an error of the station ephemeris as a
    relative state [m, m/s] (LVLH), in place: the estimated and the true station orbits are two nearby
    orbits, so the error moves as CW relative motion (the same transition as the vehicle's), plus white
    acceleration of PSD ``q_accel_m2_s3`` for what the onboard propagation leaves out (the station's drag).
    """
    Phi, T = work[_A], work[_T]
    cw_stm(n_rad_s, dt_s, Phi)
    for i in range(6):
        v = 0.0
        for k in range(6):
            v += Phi[i, k] * x[first + k]
        work[_VEC, 1, i] = v
    for i in range(6):
        x[first + i] = work[_VEC, 1, i]
    _propagate_cov_block(P, Phi, T, first)
    q_rr, q_rv, q_vv = q_accel_m2_s3 * dt_s ** 3 / 3.0, q_accel_m2_s3 * dt_s ** 2 / 2.0, q_accel_m2_s3 * dt_s
    for i in range(3):
        a, b = first + i, first + 3 + i
        P[a, a] += q_rr
        P[a, b] += q_rv
        P[b, a] += q_rv
        P[b, b] += q_vv


@njit(cache=True)
def relnav_predict(x_LVLH, P, n_rad_s, dt_s, dv_LVLH_mps, q_accel_m2_s3, work):
    """Time update of the relative-navigation filter over ``dt_s`` with linear CW, in place.

    Parameters
    ----------
    x_LVLH : (n,) in/out, state [r m, v m/s, biases] of the chaser CoM w.r.t. the station port, LVLH.
    P : (n, n) in/out, covariance.
    n_rad_s : mean motion [rad/s]; dt_s : step [s].
    dv_LVLH_mps : (3,) delta-v applied by the thrusters over the step (modelled as an impulse at
        the start of the step), LVLH.
    q_accel_m2_s3 : power spectral density of the unmodelled acceleration [m^2/s^3] per axis.
    work : ``WORK_SHAPE`` scratch.

    Notes
    -----
    x+ = Phi (x + [0, dv]); P+ = Phi P Phi^T + Q with the white-acceleration discrete noise
    Q = q [[dt^3/3 I, dt^2/2 I], [dt^2/2 I, dt I]] (valid for n dt << 1; Bar-Shalom, Li &
    Kirubarajan 2001, Sec. 6.2.2). Phi is the CW STM (Clohessy & Wiltshire 1960) on [r, v]; the
    bias states are left to :func:`relnav_predict_biases`.
    """
    for i in range(3):
        x_LVLH[3 + i] += dv_LVLH_mps[i]
    cw_propagate(x_LVLH, n_rad_s, dt_s, x_LVLH)
    Phi = work[_A]
    cw_stm(n_rad_s, dt_s, Phi)
    _propagate_cov_dynamic(P, Phi, work[_T])
    _add_process_noise(P, q_accel_m2_s3, dt_s)


@njit(cache=True)
def relnav_predict_orbit(x_LVLH, P, station0_N, station1_N, C1_LN, omega1_LN_L, port_L, earth, dt_s, dv_LVLH_mps,
                         q_accel_m2_s3, work):
    """Time update with the relative motion both vehicles really have: each on its two-body + J2 orbit.

    Parameters
    ----------
    x_LVLH, P : (n,), (n, n) in/out, the chaser CoM w.r.t. the station port [r m, v m/s] (velocity as
        seen in the rotating LVLH frame), then the bias states, and the covariance.
    station0_N, station1_N : (6,) the station's inertial state [r m, v m/s] at the start and at the end
        of the step (the onboard ephemeris, ORBIT_REF).
    C1_LN, omega1_LN_L : the station's LVLH frame and rate at the end of the step (ORBIT_REF).
    port_L : (3,) station port w.r.t. the station CoM, LVLH [m].
    earth : (3,) mu [m^3/s^2], equatorial radius [m], J2.
    dt_s, dv_LVLH_mps, q_accel_m2_s3, work : as :func:`relnav_predict`.

    Notes
    -----
    The chaser's inertial state is rebuilt from the station's and the relative state (transport
    theorem with the frame's full rate, :func:`fsw.core.ephemeris.lvlh_frame_j2`), propagated over
    the step with the ephemeris' own RK4 two-body + J2 step, and turned back into LVLH against the
    station at the end of the step. The relative motion is then exact for the gravity model at any
    separation: linear CW in Cartesian LVLH is wrong by ~n^2 y^2 / r (5e-4 m/s^2 at 50 km along-track),
    and it omits the differential J2 acceleration (~3e-4 m/s^2 at 50 km), both far above what the
    process noise covers. The covariance goes through the CW transition matrix (its linearisation
    error over one 0.1 s step is of order (y / r) n^2 dt^2, negligible).
    """
    sc = work[_S]
    fr = work[_KR]
    C0 = fr[0:3, 0:3]
    w0 = fr[3, 0:3]
    rv = fr[4]
    mu, re, j2 = earth[0], earth[1], earth[2]
    lvlh_frame_j2(station0_N, mu, re, j2, sc, C0, w0)
    r0, r1, r2 = x_LVLH[0] + port_L[0], x_LVLH[1] + port_L[1], x_LVLH[2] + port_L[2]
    v0 = x_LVLH[3] + dv_LVLH_mps[0] + w0[1] * r2 - w0[2] * r1
    v1 = x_LVLH[4] + dv_LVLH_mps[1] + w0[2] * r0 - w0[0] * r2
    v2 = x_LVLH[5] + dv_LVLH_mps[2] + w0[0] * r1 - w0[1] * r0
    for i in range(3):
        rv[i] = station0_N[i] + C0[0, i] * r0 + C0[1, i] * r1 + C0[2, i] * r2
        rv[3 + i] = station0_N[3 + i] + C0[0, i] * v0 + C0[1, i] * v1 + C0[2, i] * v2
    ephemeris_step(rv, mu, re, j2, dt_s, sc)
    d0, d1, d2 = rv[0] - station1_N[0], rv[1] - station1_N[1], rv[2] - station1_N[2]
    e0, e1, e2 = rv[3] - station1_N[3], rv[4] - station1_N[4], rv[5] - station1_N[5]
    w = omega1_LN_L
    for i in range(3):
        x_LVLH[i] = C1_LN[i, 0] * d0 + C1_LN[i, 1] * d1 + C1_LN[i, 2] * d2
    for i in range(3):
        fr[5, i] = C1_LN[i, 0] * e0 + C1_LN[i, 1] * e1 + C1_LN[i, 2] * e2
    x_LVLH[3] = fr[5, 0] - (w[1] * x_LVLH[2] - w[2] * x_LVLH[1])
    x_LVLH[4] = fr[5, 1] - (w[2] * x_LVLH[0] - w[0] * x_LVLH[2])
    x_LVLH[5] = fr[5, 2] - (w[0] * x_LVLH[1] - w[1] * x_LVLH[0])
    for i in range(3):
        x_LVLH[i] -= port_L[i]
    Phi = work[_A]
    cw_stm(w[2], dt_s, Phi)
    _propagate_cov_dynamic(P, Phi, work[_T])
    _add_process_noise(P, q_accel_m2_s3, dt_s)


@njit(cache=True)
def relnav_predict_biases(x, P, first, count, tau_s, sigma_ss, dt_s):
    """Time update of ``count`` first-order Gauss-Markov bias states from index ``first``, in place.

    b+ = phi b, phi = exp(-dt / tau) per state; the rows and columns of P scale by phi and the
    diagonal gains sigma_ss^2 (1 - phi^2), which keeps a bias at its steady-state variance
    ``sigma_ss^2`` (the exact discretisation; Brown & Hwang 2012, Sec. 4.3). ``tau_s`` (count,) [s],
    ``sigma_ss`` (count,) in the bias' unit.
    """
    n = P.shape[0]
    for k in range(count):
        i = first + k
        phi = math.exp(-dt_s / tau_s[k]) if tau_s[k] > 0.0 else 0.0  # tau 0: white (no memory)
        x[i] *= phi
        for j in range(n):
            P[i, j] *= phi
            P[j, i] *= phi
        P[i, i] += sigma_ss[k] * sigma_ss[k] * (1.0 - phi * phi)


@njit(cache=True)
def relnav_predict_accel(x, P, first, tau_s, sigma_ss, dt_s):
    """Time update of the 3 unmodelled-acceleration states ``first .. first + 2`` (LVLH [m/s^2]), in place,
    after the dynamics have moved position and velocity over ``dt_s``.

    The acceleration a acts on the relative state over the step, r += a dt^2 / 2, v += a dt (exact for an
    acceleration constant over the step; P <- F P F^T with F the identity but for those two blocks), and
    then decays as a first-order Gauss-Markov process (:func:`relnav_predict_biases`, ``tau_s``,
    ``sigma_ss`` (3,)). The driving noise enters a only, not r and v within the step: its part in r and
    v over one step is of relative order dt / tau (1e-3 at 0.1 s and 150 s). docs/navigation.md.
    """
    n = P.shape[0]
    c = 0.5 * dt_s * dt_s
    for i in range(3):
        a = first + i
        x[i] += c * x[a]
        x[3 + i] += dt_s * x[a]
        for j in range(n):  # rows: F P (the acceleration's own rows unchanged)
            P[i, j] += c * P[a, j]
            P[3 + i, j] += dt_s * P[a, j]
    for i in range(3):
        a = first + i
        for j in range(n):  # columns: (F P) F^T
            P[j, i] += c * P[j, a]
            P[j, 3 + i] += dt_s * P[j, a]
    relnav_predict_biases(x, P, first, 3, tau_s, sigma_ss, dt_s)


@njit(cache=True)
def relnav_reset_biases(x, P, first, count, sigma_ss):
    """Bias states ``first .. first + count`` start again at 0 with variance ``sigma_ss^2``, uncorrelated.

    For a new, independent error source taking over the states (absolute GNSS and the station
    ephemeris handing over to relative GNSS).
    """
    n = P.shape[0]
    for k in range(count):
        i = first + k
        x[i] = 0.0
        for j in range(n):
            P[i, j] = 0.0
            P[j, i] = 0.0
        P[i, i] = sigma_ss[k] * sigma_ss[k]


@njit(cache=True)
def _add_process_noise(P, q_accel_m2_s3, dt_s):
    """White-acceleration discrete process noise per axis (Bar-Shalom, Li & Kirubarajan 2001, Sec. 6.2.2)."""
    q_rr = q_accel_m2_s3 * dt_s ** 3 / 3.0
    q_rv = q_accel_m2_s3 * dt_s ** 2 / 2.0
    q_vv = q_accel_m2_s3 * dt_s
    for i in range(3):
        P[i, i] += q_rr
        P[i, 3 + i] += q_rv
        P[3 + i, i] += q_rv
        P[3 + i, 3 + i] += q_vv


@njit(cache=True)
def _apply_relnav_correction(x_LVLH, work):
    for i in range(x_LVLH.shape[0]):
        x_LVLH[i] += work[_VEC, 2, i]


@njit(cache=True)
def _state_at_measurement(x, lag_s, n_rad_s, work):
    """The filter's [r, v] when the measurement was taken, ``lag_s`` [s] ago, and d(that)/dx.

    Sensors deliver a sample some time after they take it (``t_ns`` of a device record is the time
    it was taken). x_m = Phi(-lag) x[:6] with the CW transition matrix (the relative motion over a
    fraction of a second; thrust inside the lag is not taken back). Leaves Phi(-lag) in
    ``work[_A, :6, :6]`` (identity when lag <= 0) and x_m in ``work[_VEC, 6, :6]``; returns x_m.
    """
    Phi = work[_A]
    xm = work[_VEC, 6]
    if lag_s > 0.0 and n_rad_s > 0.0:
        cw_stm(n_rad_s, -lag_s, Phi)
    else:
        for i in range(6):
            for j in range(6):
                Phi[i, j] = 1.0 if i == j else 0.0
    for i in range(6):
        v = 0.0
        for k in range(6):
            v += Phi[i, k] * x[k]
        xm[i] = v
    return xm


@njit(cache=True)
def _chain_jacobian(m, n, work):
    """H (m x n) <- [Hm Phi(-lag), 0]: the Jacobian w.r.t. x_m in ``work[_K, :m, :6]`` taken back to the
    filter's state through Phi(-lag) (``work[_A]``); the bias columns are zeroed for the caller."""
    H, Hm, Phi = work[_H], work[_K], work[_A]
    for i in range(m):
        for j in range(6):
            v = 0.0
            for k in range(6):
                v += Hm[i, k] * Phi[k, j]
            H[i, j] = v
        for j in range(6, n):
            H[i, j] = 0.0


@njit(cache=True)
def relnav_update_gnss(x_LVLH, P, r_meas_LVLH_m, v_meas_LVLH_mps, port_L_m, sigma_r_m, sigma_v_mps,
                       gate_chi2, work, lag_s=0.0, n_rad_s=0.0, bias=-1, bias_gain=1.0, vbias=-1):
    """Relative-GNSS update (position and velocity of the chaser CoM w.r.t. the station CoM), in place.

    Parameters
    ----------
    x_LVLH, P : (n,), (n, n) in/out filter state and covariance.
    r_meas_LVLH_m, v_meas_LVLH_mps : (3,) measured relative position/velocity, LVLH.
    port_L_m : (3,) station port w.r.t. the station CoM, LVLH; the measurement model is
        h(x) = [r_m + port_L_m + g b, v_m + g c] with [r_m, v_m] the state when the sample was taken.
    sigma_r_m, sigma_v_mps : 1-sigma white noise per axis.
    gate_chi2 : chi-square gate for 6 dof.
    work : scratch.
    lag_s, n_rad_s : [s] age of the sample, [rad/s] mean motion (:func:`_state_at_measurement`).
    bias : index of the 3 GNSS position-bias states b (LVLH), -1 without.
    bias_gain : g, how much of the bias state the sample carries (the multipath growth near the station
        scales the receiver's correlated error as it scales its white noise, docs/sensors.md s.5).
    vbias : index of the 3 GNSS velocity-error states c (LVLH), -1 without: a correlated velocity error
        that averaging the samples cannot remove (a filter that took it for white noise grew confident in
        a velocity 10 mm/s off, and its position drifted 4 m outside its sigma over a 600 s correlation time).

    Returns
    -------
    (bool, float) : accepted, squared Mahalanobis distance.
    """
    n = x_LVLH.shape[0]
    H, Hm, R = work[_H], work[_K], work[_R]
    xm = _state_at_measurement(x_LVLH, lag_s, n_rad_s, work)
    for i in range(6):
        for j in range(6):
            Hm[i, j] = 1.0 if i == j else 0.0
            R[i, j] = 0.0
    _chain_jacobian(6, n, work)
    for i in range(3):
        R[i, i] = sigma_r_m * sigma_r_m
        R[3 + i, 3 + i] = sigma_v_mps * sigma_v_mps
        b = 0.0
        if bias >= 0:
            H[i, bias + i] = bias_gain
            b = bias_gain * x_LVLH[bias + i]
        work[_VEC, 0, i] = r_meas_LVLH_m[i] - xm[i] - port_L_m[i] - b
        c = 0.0
        if vbias >= 0:
            H[3 + i, vbias + i] = bias_gain
            c = bias_gain * x_LVLH[vbias + i]
        work[_VEC, 0, 3 + i] = v_meas_LVLH_mps[i] - xm[3 + i] - c
    accepted, d2 = kalman_update(P, 6, gate_chi2, work)
    if accepted:
        _apply_relnav_correction(x_LVLH, work)
    return accepted, d2


@njit(cache=True)
def _target_at(x_LVLH, target_LVLH_m, target, work):
    """The station target where the state puts it: ``target_LVLH_m`` + b (the calibration error, states
    ``target``..``target + 2``; none when ``target`` < 0), in ``work[_VEC, 5, :3]``; returns that view."""
    tgt = work[_VEC, 5]
    for i in range(3):
        tgt[i] = target_LVLH_m[i] + (x_LVLH[target + i] if target >= 0 else 0.0)
    return tgt


@njit(cache=True)
def _target_columns(target, work):
    """H's columns on the target's calibration error b: the model sees the chaser's position relative to the
    target, r_m - b, so dh/db = -dh/dr_m (``work[_K, :3, :3]``, the model's own Jacobian); b is a constant, so
    no lag is taken back. Nothing when ``target`` < 0."""
    if target >= 0:
        H, Hm = work[_H], work[_K]
        for i in range(3):
            for j in range(3):
                H[i, target + j] = -Hm[i, j]


@njit(cache=True)
def port_los_B(x_LVLH, C_B_LVLH, sensor_B_m, target_LVLH_m, los_B_out):
    """Line of sight from a sensor on the chaser to a target on the station, B frame.

    ``los_B = C_B_LVLH (target - r) - sensor_B`` where r is the chaser CoM w.r.t. the station port,
    ``target_LVLH_m`` the target w.r.t. the station port (0 for the port itself) and ``sensor_B_m``
    the sensor w.r.t. the chaser CoM. This is the camera's ``r_B_m`` (station port relative to
    chaser port) when the sensor is the chaser port.
    """
    dx = target_LVLH_m[0] - x_LVLH[0]
    dy = target_LVLH_m[1] - x_LVLH[1]
    dz = target_LVLH_m[2] - x_LVLH[2]
    for i in range(3):
        los_B_out[i] = C_B_LVLH[i, 0] * dx + C_B_LVLH[i, 1] * dy + C_B_LVLH[i, 2] * dz - sensor_B_m[i]


@njit(cache=True)
def lidar_model(x_LVLH, C_B_LVLH, sensor_B_m, target_LVLH_m, h_out, H_out):
    """Lidar measurement model: range, azimuth, elevation of the reflector, and its Jacobian.

    Parameters
    ----------
    x_LVLH : (>=6,) relative state; C_B_LVLH : (3, 3) rotation LVLH -> B (chaser attitude).
    sensor_B_m : (3,) sensor w.r.t. chaser CoM, B; target_LVLH_m : (3,) reflector w.r.t. station port.
    h_out : (3,) out ``[range m, az rad, el rad]``: az = atan2(y_B, x_B), el = asin(z_B / range).
    H_out : (>=3, >=6) out, rows 0..2, columns 0..5: dh/d[r, v] (zero velocity columns).

    Notes
    -----
    With rho = los_B, dh/drho = [rho^T / |rho|; [-y, x, 0] / (x^2+y^2);
    [-x z, -y z, x^2+y^2] / (|rho|^2 sqrt(x^2+y^2))] and drho/dr = -C_B_LVLH.
    """
    dx = target_LVLH_m[0] - x_LVLH[0]
    dy = target_LVLH_m[1] - x_LVLH[1]
    dz = target_LVLH_m[2] - x_LVLH[2]
    px = C_B_LVLH[0, 0] * dx + C_B_LVLH[0, 1] * dy + C_B_LVLH[0, 2] * dz - sensor_B_m[0]
    py = C_B_LVLH[1, 0] * dx + C_B_LVLH[1, 1] * dy + C_B_LVLH[1, 2] * dz - sensor_B_m[1]
    pz = C_B_LVLH[2, 0] * dx + C_B_LVLH[2, 1] * dy + C_B_LVLH[2, 2] * dz - sensor_B_m[2]
    rho2 = px * px + py * py + pz * pz
    rho = math.sqrt(rho2)
    rxy2 = px * px + py * py
    rxy = math.sqrt(rxy2)
    h_out[0] = rho
    h_out[1] = math.atan2(py, px)
    h_out[2] = math.asin(pz / rho)
    g00, g01, g02 = px / rho, py / rho, pz / rho
    g10, g11, g12 = -py / rxy2, px / rxy2, 0.0
    g20, g21, g22 = -px * pz / (rho2 * rxy), -py * pz / (rho2 * rxy), rxy / rho2
    for j in range(3):
        H_out[0, j] = -(g00 * C_B_LVLH[0, j] + g01 * C_B_LVLH[1, j] + g02 * C_B_LVLH[2, j])
        H_out[1, j] = -(g10 * C_B_LVLH[0, j] + g11 * C_B_LVLH[1, j] + g12 * C_B_LVLH[2, j])
        H_out[2, j] = -(g20 * C_B_LVLH[0, j] + g21 * C_B_LVLH[1, j] + g22 * C_B_LVLH[2, j])
        H_out[0, 3 + j] = 0.0
        H_out[1, 3 + j] = 0.0
        H_out[2, 3 + j] = 0.0


@njit(cache=True)
def relnav_update_lidar(x_LVLH, P, range_m, az_rad, el_rad, C_B_LVLH, sensor_B_m, target_LVLH_m,
                        sigma_range_m, sigma_angle_rad, gate_chi2, work, lag_s=0.0, n_rad_s=0.0, bias=-1,
                        target=-1):
    """Lidar (laser rendezvous radar) range/azimuth/elevation update, in place.

    Parameters
    ----------
    x_LVLH, P : in/out filter state and covariance.
    range_m, az_rad, el_rad : measurement (``DEV_LIDAR``: az = atan2(y_B, x_B), el = asin(z_B / range)).
    C_B_LVLH, sensor_B_m, target_LVLH_m : geometry, see :func:`lidar_model`.
    sigma_range_m, sigma_angle_rad : 1-sigma white noise of the range and of each angle at this range
        (the caller evaluates the sensor's noise model).
    gate_chi2 : chi-square gate for 3 dof. work : scratch.
    lag_s, n_rad_s : age of the sample [s] and mean motion [rad/s] (:func:`_state_at_measurement`).
    bias : index of the 3 bias states [range m, az rad, el rad] added to the model, -1 without.
    target : index of the 3 states of the target's calibration error b (LVLH [m]), -1 without: the reflector
        is at ``target_LVLH_m`` + b, and dh/db = -dh/dr_m (b is a constant: no lag to take back).

    Returns
    -------
    (bool, float) : accepted, squared Mahalanobis distance.
    """
    n = x_LVLH.shape[0]
    H, R, Hm = work[_H], work[_R], work[_K]
    h = work[_VEC, 3]
    tgt = _target_at(x_LVLH, target_LVLH_m, target, work)
    xm = _state_at_measurement(x_LVLH, lag_s, n_rad_s, work)
    lidar_model(xm, C_B_LVLH, sensor_B_m, tgt, h, Hm)
    _chain_jacobian(3, n, work)
    _target_columns(target, work)
    for i in range(3):
        for j in range(3):
            R[i, j] = 0.0
        if bias >= 0:
            H[i, bias + i] = 1.0
            h[i] += x_LVLH[bias + i]
    R[0, 0] = sigma_range_m * sigma_range_m
    R[1, 1] = sigma_angle_rad * sigma_angle_rad
    R[2, 2] = sigma_angle_rad * sigma_angle_rad
    work[_VEC, 0, 0] = range_m - h[0]
    # Azimuth residual wrapped to (-pi, pi]: the measurement and prediction may straddle +-pi.
    d_az = az_rad - h[1]
    work[_VEC, 0, 1] = d_az - 2.0 * math.pi * math.floor((d_az + math.pi) / (2.0 * math.pi))
    work[_VEC, 0, 2] = el_rad - h[2]
    accepted, d2 = kalman_update(P, 3, gate_chi2, work)
    if accepted:
        _apply_relnav_correction(x_LVLH, work)
    return accepted, d2


@njit(cache=True)
def relnav_update_camera(x_LVLH, P, r_meas_B_m, C_B_LVLH, sensor_B_m, target_LVLH_m, sigma_B_m, gate_chi2,
                         work, lag_s=0.0, n_rad_s=0.0, target=-1):
    """Docking-camera update: station port relative to the chaser port in B (``DEV_CAMERA.r_B_m``).

    Parameters
    ----------
    x_LVLH, P : in/out filter state and covariance.
    r_meas_B_m : (3,) measured port-to-port vector, B.
    C_B_LVLH : (3, 3) rotation LVLH -> B; sensor_B_m : (3,) chaser port w.r.t. CoM, B;
    target_LVLH_m : (3,) camera target w.r.t. the station port (0: the port).
    sigma_B_m : (3,) 1-sigma noise per B axis [m] (depth along the boresight x_B, lateral y_B and z_B).
    gate_chi2 : chi-square gate for 3 dof. work : scratch.
    lag_s, n_rad_s : age of the sample [s] and mean motion [rad/s] (:func:`_state_at_measurement`).
    target : index of the 3 states of the target's calibration error b (LVLH [m]), -1 without.

    Returns
    -------
    (bool, float) : accepted, squared Mahalanobis distance.

    Notes
    -----
    h(x) = C_B_LVLH (target + b - r_m) - sensor_B (linear in r_m and b), H = [-C_B_LVLH Phi(-lag), C_B_LVLH]
    (b is a constant: no lag to take back).
    """
    n = x_LVLH.shape[0]
    Hm, R = work[_K], work[_R]
    h = work[_VEC, 3]
    tgt = _target_at(x_LVLH, target_LVLH_m, target, work)
    xm = _state_at_measurement(x_LVLH, lag_s, n_rad_s, work)
    port_los_B(xm, C_B_LVLH, sensor_B_m, tgt, h)
    for i in range(3):
        for j in range(3):
            Hm[i, j] = -C_B_LVLH[i, j]
            Hm[i, 3 + j] = 0.0
            R[i, j] = sigma_B_m[i] * sigma_B_m[i] if i == j else 0.0
    _chain_jacobian(3, n, work)
    _target_columns(target, work)
    for i in range(3):
        work[_VEC, 0, i] = r_meas_B_m[i] - h[i]
    accepted, d2 = kalman_update(P, 3, gate_chi2, work)
    if accepted:
        _apply_relnav_correction(x_LVLH, work)
    return accepted, d2


# ---------------------------------------------------------------- attitude MEKF

@njit(cache=True)
def mekf_propagate(q_BN, bias_B_rad_s, P, omega_meas_B_rad_s, dt_s, sigma_arw_rad_sqrt_s,
                   sigma_rrw_rad_s_sqrt_s, work, omega_BN_B_out):
    """Gyro propagation of the multiplicative EKF (attitude q_BN, gyro bias), in place.

    Parameters
    ----------
    q_BN : (4,) in/out attitude estimate; bias_B_rad_s : (3,) gyro bias estimate (unchanged).
    P : (6, 6) in/out covariance of [dtheta_B (rad), dbias (rad/s)].
    omega_meas_B_rad_s : (3,) gyro rate [rad/s], held over the step; dt_s : step [s].
    sigma_arw_rad_sqrt_s : angle random walk sigma_v [rad/s^0.5].
    sigma_rrw_rad_s_sqrt_s : bias random walk sigma_u [rad/s^1.5].
    work : scratch. omega_BN_B_out : (3,) out, bias-corrected rate [rad/s].

    Notes
    -----
    w = omega_meas - b; q+ = q (x) [cos(|w|dt/2), sin(|w|dt/2) w/|w|] (exact for constant w).
    Error dynamics d(dtheta)/dt = -[w x] dtheta - dbias - eta_v, d(dbias)/dt = eta_u; with
    th = |w| dt the closed-form transition blocks are
    Phi_11 = I - (sin th / |w|) [w x] + ((1 - cos th) / |w|^2) [w x]^2,
    Phi_12 = -(I dt - ((1 - cos th) / |w|^2) [w x] + ((th - sin th) / |w|^3) [w x]^2),
    Q = [[(sv^2 dt + su^2 dt^3/3) I, -(su^2 dt^2/2) I], [-(su^2 dt^2/2) I, su^2 dt I]].
    Markley & Crassidis (2014), Sec. 6.2.4 / Eqs. 6.83-6.85 and 6.93.
    """
    w0 = omega_meas_B_rad_s[0] - bias_B_rad_s[0]
    w1 = omega_meas_B_rad_s[1] - bias_B_rad_s[1]
    w2 = omega_meas_B_rad_s[2] - bias_B_rad_s[2]
    omega_BN_B_out[0] = w0
    omega_BN_B_out[1] = w1
    omega_BN_B_out[2] = w2
    wn = math.sqrt(w0 * w0 + w1 * w1 + w2 * w2)
    th = wn * dt_s
    # Series below this angle: (1 - cos th)/w^2 and (th - sin th)/w^3 lose all digits otherwise.
    if th < 1e-4:
        a_s = dt_s * (1.0 - th * th / 6.0)              # sin(th)/|w|
        a_c = dt_s * dt_s * (0.5 - th * th / 24.0)      # (1 - cos th)/|w|^2
        a_t = dt_s ** 3 * (1.0 / 6.0 - th * th / 120.0)  # (th - sin th)/|w|^3
        half = 0.5 * dt_s * (1.0 - th * th / 24.0)      # sin(th/2)/|w|
    else:
        a_s = math.sin(th) / wn
        a_c = (1.0 - math.cos(th)) / (wn * wn)
        a_t = (th - math.sin(th)) / (wn ** 3)
        half = math.sin(0.5 * th) / wn
    dq = work[_VEC, 4]
    qn = work[_VEC, 5]
    dq[0] = math.cos(0.5 * th)
    dq[1] = half * w0
    dq[2] = half * w1
    dq[3] = half * w2
    quat_mult(q_BN, dq, qn)
    quat_normalize(qn, q_BN)
    # Phi in work[_A]: [w x] and [w x]^2 entries.
    Phi = work[_A]
    for i in range(6):
        for j in range(6):
            Phi[i, j] = 1.0 if i == j else 0.0
    W = work[_KR]
    W[0, 0], W[0, 1], W[0, 2] = 0.0, -w2, w1
    W[1, 0], W[1, 1], W[1, 2] = w2, 0.0, -w0
    W[2, 0], W[2, 1], W[2, 2] = -w1, w0, 0.0
    for i in range(3):
        for j in range(3):
            w2ij = W[i, 0] * W[0, j] + W[i, 1] * W[1, j] + W[i, 2] * W[2, j]
            eye = 1.0 if i == j else 0.0
            Phi[i, j] = eye - a_s * W[i, j] + a_c * w2ij
            Phi[i, 3 + j] = -(eye * dt_s - a_c * W[i, j] + a_t * w2ij)
    _propagate_cov(P, Phi, work[_T])
    sv2 = sigma_arw_rad_sqrt_s * sigma_arw_rad_sqrt_s
    su2 = sigma_rrw_rad_s_sqrt_s * sigma_rrw_rad_s_sqrt_s
    for i in range(3):
        P[i, i] += sv2 * dt_s + su2 * dt_s ** 3 / 3.0
        P[i, 3 + i] -= su2 * dt_s ** 2 / 2.0
        P[3 + i, i] -= su2 * dt_s ** 2 / 2.0
        P[3 + i, 3 + i] += su2 * dt_s


@njit(cache=True)
def mekf_update_star_tracker(q_BN, bias_B_rad_s, P, q_meas_BN, sigma_rad, gate_chi2, work, sigma_roll_rad=-1.0,
                             boresight_B=None, lag_s=0.0, omega_B_rad_s=None):
    """Star-tracker quaternion update of the MEKF with bias estimation, in place.

    Parameters
    ----------
    q_BN : (4,) in/out attitude; bias_B_rad_s : (3,) in/out gyro bias; P : (6, 6) in/out.
    q_meas_BN : (4,) measured attitude; sigma_rad : 1-sigma across the boresight [rad] (every axis
        when ``sigma_roll_rad`` < 0).
    gate_chi2 : chi-square gate for 3 dof. work : scratch.
    sigma_roll_rad, boresight_B : 1-sigma about the boresight [rad] and the boresight's unit vector, B:
        R = sigma^2 I + (sigma_roll^2 - sigma^2) u u^T (a tracker resolves its roll several times
        worse than its pointing, docs/sensors.md).
    lag_s, omega_B_rad_s : the sample's age [s] and the body rate [rad/s]: the measurement is compared
        with the estimate when it was taken, q(t - lag) = q (x) [1, -omega lag / 2] (normalised).

    Returns
    -------
    (bool, float) : accepted, squared Mahalanobis distance.

    Notes
    -----
    dq = q_BN(t - lag)* (x) q_meas, y = 2 sign(dq0) dq_vec (small-angle body-frame error), H = [I 0]
    (over a lag of a fraction of a second the body-frame error hardly rotates).
    Reset: q <- normalise(q (x) [1, dtheta/2]), b <- b + dbias (multiplicative update,
    Markley & Crassidis 2014, Sec. 6.2.1, Eqs. 6.60-6.64).
    """
    H = work[_H]
    R = work[_R]
    r0, r1, r2, r3 = q_BN[0], -q_BN[1], -q_BN[2], -q_BN[3]
    if lag_s > 0.0 and omega_B_rad_s is not None:
        # conj(q (x) e) = conj(e) (x) conj(q), e = [1, -w lag / 2] normalised
        e1, e2, e3 = (-0.5 * lag_s * omega_B_rad_s[0], -0.5 * lag_s * omega_B_rad_s[1],
                      -0.5 * lag_s * omega_B_rad_s[2])
        en = 1.0 / math.sqrt(1.0 + e1 * e1 + e2 * e2 + e3 * e3)
        c0, c1, c2, c3 = en, -e1 * en, -e2 * en, -e3 * en
        r0, r1, r2, r3 = (c0 * r0 - c1 * r1 - c2 * r2 - c3 * r3, c0 * r1 + c1 * r0 + c2 * r3 - c3 * r2,
                          c0 * r2 - c1 * r3 + c2 * r0 + c3 * r1, c0 * r3 + c1 * r2 - c2 * r1 + c3 * r0)
    m0, m1, m2, m3 = q_meas_BN[0], q_meas_BN[1], q_meas_BN[2], q_meas_BN[3]
    d0 = r0 * m0 - r1 * m1 - r2 * m2 - r3 * m3
    d1 = r0 * m1 + r1 * m0 + r2 * m3 - r3 * m2
    d2_ = r0 * m2 - r1 * m3 + r2 * m0 + r3 * m1
    d3 = r0 * m3 + r1 * m2 - r2 * m1 + r3 * m0
    sgn = 2.0 if d0 >= 0.0 else -2.0
    work[_VEC, 0, 0] = sgn * d1
    work[_VEC, 0, 1] = sgn * d2_
    work[_VEC, 0, 2] = sgn * d3
    s2 = sigma_rad * sigma_rad
    extra = 0.0
    if sigma_roll_rad >= 0.0 and boresight_B is not None:
        extra = sigma_roll_rad * sigma_roll_rad - s2
    for i in range(3):
        for j in range(6):
            H[i, j] = 1.0 if i == j else 0.0
        for j in range(3):
            R[i, j] = s2 if i == j else 0.0
            if extra != 0.0:
                R[i, j] += extra * boresight_B[i] * boresight_B[j]
    accepted, d2 = kalman_update(P, 3, gate_chi2, work)
    if accepted:
        dq = work[_VEC, 4]
        qn = work[_VEC, 5]
        dq[0] = 1.0
        for i in range(3):
            dq[1 + i] = 0.5 * work[_VEC, 2, i]
            bias_B_rad_s[i] += work[_VEC, 2, 3 + i]
        quat_mult(q_BN, dq, qn)
        quat_normalize(qn, q_BN)
    return accepted, d2

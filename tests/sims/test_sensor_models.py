"""Each sensor model against its statistics (issue #17; figures: docs/sensors.md).

The kernels run directly on a synthetic truth state (the geometry placed by the test, the clock moved to
each sample), with a seeded noise buffer large enough that no stream wraps. Tolerances come from the
sampling distribution of each estimator and are set at 4 standard deviations (a seeded test either always
passes or always fails; 4 sigma leaves a correct model a margin that does not depend on the seed); each
test says which estimator and which variance.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from sims.core.constants import ARCSEC_RAD, DEG_RAD, SECONDS_PER_HOUR
from sims.core.noise import STREAM
from sims.core.quat import q_mul
from sims.core.sensors import SENSOR_MODELS, stamp
from tests.sims.conftest import make_truth

MODEL = {m.name: m for m in SENSOR_MODELS}
FRAME_NS = 10_000_000
# Every error term off and the white noise too: a test turns on what it measures. Not ``ideal``: the models
# run with their realistic paths, at zero.
SILENT = {
    "ideal": False,
    "gyro": {"arw_deg_sqrt_h": 0.0, "bias_instability_deg_h": 0.0, "rrw_deg_h_sqrt_h": 0.0, "scale_factor_ppm": 0.0,
             "latency_s": 0.0, "dropout_prob": 0.0},
    "star_tracker": {"noise_cross_arcsec": 0.0, "noise_roll_arcsec": 0.0, "latency_s": 0.0, "dropout_prob": 0.0},
    "gnss_rel": {"noise_r_m": 0.0, "noise_v_mps": 0.0, "bias_r_m": 0.0, "bias_v_mps": 0.0, "multipath_range_m": 0.0,
                 "outlier_prob": 0.0, "latency_s": 0.0, "dropout_prob": 0.0},
    "gnss_abs": {"noise_r_m": 0.0, "noise_v_mps": 0.0, "latency_s": 0.0, "dropout_prob": 0.0},
    "lidar": {"rate_hz": 5.0, "noise_range_m": 0.0, "noise_range_frac": 0.0, "noise_angle_deg": 0.0,
              "noise_angle_near_deg": 0.0, "bias_range_m": 0.0, "bias_angle_deg": 0.0, "min_range_m": 0.0,
              "max_range_m": 5000.0, "latency_s": 0.0, "dropout_prob": 0.0, "burst_start_prob": 0.0},
    "camera": {"noise_lateral_m": 0.0, "noise_lateral_frac": 0.0, "noise_depth_m": 0.0, "noise_depth_per_m": 0.0,
               "noise_angle_deg": 0.0, "noise_angle_deg_per_m": 0.0, "min_range_m": 0.0, "max_range_m": 250.0,
               "attitude_max_range_m": 250.0, "latency_s": 0.0, "dropout_prob": 0.0},
    "target_offset_m": 0.0,
}
PORT_AHEAD_M = 3.0  # the chaser's docking port (and the lidar) 3 m ahead of its CoM along x_B (_vehicle.toml)


def merged(*tables: dict) -> dict:
    out: dict = {}
    for t in tables:
        for k, v in t.items():
            out[k] = {**out.get(k, {}), **v} if isinstance(v, dict) else v
    return out


class Bench:
    """One truth's sensor models driven directly: a synthetic geometry, the clock moved to each sample, and a
    seeded noise buffer of ``per_stream`` draws for each stream (none wraps)."""

    def __init__(self, sensors: dict, seed: int = 1, per_stream: int = 400_000, **overrides):
        self.truth = make_truth([0.0, -403.0, 0.0], quiet=False, sensors=merged(SILENT, sensors), seed=seed,
                                **overrides)
        n = len(self.truth._streams)
        self.noise = np.random.default_rng(seed).standard_normal(n * per_stream)
        self.streams = np.zeros(n, STREAM)
        self.streams["start"] = self.streams["cursor"] = np.arange(n) * per_stream
        self.streams["end"] = self.streams["start"] + per_stream
        self.q_dock = self.truth._s["geometry"]["q_BL"].copy()  # the docking attitude: x_B = y_L, z_B = -x_L
        self.place(400.0)

    def place(self, d_m: float, lateral_L_m=(0.0, 0.0), v_L_mps=(0.0, 0.0, 0.0)) -> None:
        """Chaser CoM ``d_m`` + 3 m behind the station port along -y_L (port-to-port and lidar range ``d_m``),
        offset ``lateral_L_m`` (x_L, z_L), docking attitude; its CoM rel. the station CoM likewise."""
        s = self.truth._s
        g = s["geometry"]
        g["r_rel_L_m"] = [lateral_L_m[0], -(d_m + PORT_AHEAD_M), lateral_L_m[1]]
        g["v_rel_L_mps"] = g["v_com_L_mps"] = v_L_mps  # the station holds LVLH here: S = L, its port at rest
        g["q_BL"] = g["q_BS"] = self.q_dock
        g["r_com_L_m"] = g["r_rel_L_m"] + self.truth._p["port_S_m"]

    def sample(self, name: str, frames: int | None = None) -> np.ndarray:
        """Run model ``name`` at its next sample (or ``frames`` frames on, every frame); return its device record."""
        m, s = MODEL[name], self.truth._s
        ms = s[name]
        dev = self.truth.devices[m.device].reshape(1)[0]
        q = self.truth._queues[f"Q_{m.device}"]
        for _ in range(1 if frames is None else frames):
            s["frame"] = ms["next_due"] if frames is None else s["frame"] + 1
            s["t_ns"] = s["frame"] * FRAME_NS
            m.kernel(self.truth._p[name], ms, dev, q, self.truth._p, s, self.noise, self.streams)
        return self.truth.devices[m.device]

    def series(self, name: str, n: int, read) -> np.ndarray:
        """``read(record)`` after each of ``n`` samples of model ``name``, as an array."""
        return np.array([np.array(read(self.sample(name)), dtype=float) for _ in range(n)])  # copies, not views


def ar1_fit(x: np.ndarray) -> tuple[float, float]:
    """(phi, residual sigma) of the least-squares AR(1) fit x[k+1] = phi x[k] + w."""
    a, b = x[:-1], x[1:]
    phi = float(a @ b / (a @ a))
    return phi, float(np.std(b - phi * a))


# ------------------------------------------------------------------ Gauss-Markov biases
@pytest.mark.parametrize(("name", "sensors", "read", "sigma_ss", "dt_s"), [
    ("lidar", {"lidar": {"bias_range_m": 0.07, "bias_correlation_s": 2.0}}, lambda r: r["range_m"] - 100.0, 0.07,
     0.2),
    ("lidar", {"lidar": {"bias_angle_deg": 0.03, "bias_correlation_s": 2.0}}, lambda r: r["az_rad"],
     0.03 * DEG_RAD, 0.2),
    ("gnss_rel", {"gnss_rel": {"bias_r_m": 1.5, "bias_correlation_s": 10.0}},
     lambda r: r["r_LVLH_m"][2], 1.5, 1.0),
    ("gnss_rel", {"gnss_rel": {"bias_v_mps": 0.005, "bias_correlation_s": 10.0}},
     lambda r: r["v_LVLH_mps"][0], 0.005, 1.0),
], ids=["lidar_range", "lidar_azimuth", "gnss_position", "gnss_velocity"])
def test_gauss_markov_bias_has_its_correlation_time_and_steady_state_sigma(name, sensors, read, sigma_ss, dt_s):
    """Output minus truth (white noise off) is the bias: its AR(1) fit gives phi = exp(-dt/tau), its spread sigma_ss.

    N = 20,000 samples from the steady state (the bias starts there). Least-squares phi has standard deviation
    sqrt((1 - phi^2) / N); the sample variance of an AR(1) series has relative standard deviation
    sqrt(2 (1 + phi^2) / (N (1 - phi^2))), half that for the sample sigma.
    """
    n = 20_000
    bench = Bench(sensors)
    bench.place(100.0 if name == "lidar" else 5000.0)
    tau = next(iter(sensors.values()))["bias_correlation_s"]
    x = bench.series(name, n, read)
    phi_true = math.exp(-dt_s / tau)
    phi, resid = ar1_fit(x)
    assert phi == pytest.approx(phi_true, abs=4 * math.sqrt((1 - phi_true ** 2) / n))
    rel = 0.5 * math.sqrt(2 * (1 + phi_true ** 2) / (n * (1 - phi_true ** 2)))
    assert np.std(x) == pytest.approx(sigma_ss, rel=4 * rel)
    # the driving noise, sigma_ss sqrt(1 - phi^2) per sample: white, N - 1 residuals
    assert resid == pytest.approx(sigma_ss * math.sqrt(1 - phi_true ** 2), rel=4 / math.sqrt(2 * n))


# ------------------------------------------------------------------ laser radar
LIDAR_DOCS = {"noise_range_m": 0.03, "noise_range_frac": 5.0e-4, "noise_angle_deg": 0.02, "noise_angle_near_deg": 0.11,
              "near_range_m": 15.0}


@pytest.mark.parametrize("d_m", [3.0, 15.0, 100.0, 1000.0, 4000.0])
def test_lidar_noise_follows_its_range_law(d_m):
    """Sample sigma of range, azimuth, elevation against sqrt(floor^2 + (frac r)^2) and floor + near 15/(r + 15).

    N = 4,000 white samples: a sample sigma has relative standard deviation 1 / sqrt(2 N).
    """
    n = 4000
    bench = Bench({"lidar": LIDAR_DOCS})
    bench.place(d_m)
    rec = bench.series("lidar", n, lambda r: (r["range_m"], r["az_rad"], r["el_rad"]))
    sig_r = math.hypot(0.03, 5.0e-4 * d_m)
    sig_a = (0.02 + 0.11 * 15.0 / (d_m + 15.0)) * DEG_RAD
    tol = 4 / math.sqrt(2 * n)
    assert np.std(rec[:, 0]) == pytest.approx(sig_r, rel=tol)
    assert np.std(rec[:, 1]) == pytest.approx(sig_a, rel=tol)
    assert np.std(rec[:, 2]) == pytest.approx(sig_a, rel=tol)
    assert np.mean(rec[:, 0]) == pytest.approx(d_m, abs=4 * sig_r / math.sqrt(n))  # unbiased


def test_lidar_has_no_valid_sample_in_its_blind_zone():
    bench = Bench({"lidar": {"min_range_m": 2.0}})
    for d_m, valid in ((1.0, 0), (1.99, 0), (2.0, 1), (2.5, 1), (4000.0, 1), (5000.5, 0)):
        bench.place(d_m)
        rec = bench.sample("lidar")
        assert (int(rec["valid"]), float(rec["range_m"])) == (valid, pytest.approx(d_m if valid else 0.0)), d_m


@pytest.mark.parametrize("prob", [0.02, 0.2])
def test_independent_dropout_loses_its_fraction_of_samples(prob):
    """Lost samples of N = 20,000 (no new seq): binomial, standard deviation sqrt(p (1 - p) / N)."""
    n = 20_000
    bench = Bench({"lidar": {"dropout_prob": prob}})
    seq = bench.series("lidar", n, lambda r: int(r["seq"]))
    lost = 1.0 - np.count_nonzero(np.diff(np.r_[0, seq])) / n
    assert lost == pytest.approx(prob, abs=4 * math.sqrt(prob * (1 - prob) / n))


def test_gnss_abs_dropout_takes_its_own_stream_and_loses_its_fraction():
    n, prob = 20_000, 0.1
    bench = Bench({"gnss_abs": {"dropout_prob": prob}})
    seq = bench.series("gnss_abs", n, lambda r: int(r["seq"]))
    lost = 1.0 - seq[-1] / n
    assert lost == pytest.approx(prob, abs=4 * math.sqrt(prob * (1 - prob) / n))


def test_lidar_dropout_bursts_have_their_rate_and_mean_length():
    """Two-state chain (start a per sample, exit b = dt / mean): lost fraction a / (a + b), mean run 1 / b.

    N = 100,000 samples. The lost fraction of a stationary two-state chain has variance
    pi (1 - pi) / N (1 + lam) / (1 - lam), lam = 1 - a - b; a run length is geometric (standard deviation
    sqrt(1 - b) / b), averaged over the runs seen.
    """
    n, a, mean_s, dt = 100_000, 0.01, 1.0, 0.2
    b = dt / mean_s
    bench = Bench({"lidar": {"burst_start_prob": a, "burst_mean_s": mean_s}})
    seq = bench.series("lidar", n, lambda r: int(r["seq"]))
    lost = np.diff(np.r_[0, seq]) == 0
    pi, lam = a / (a + b), 1 - a - b
    assert lost.mean() == pytest.approx(pi, abs=4 * math.sqrt(pi * (1 - pi) / n * (1 + lam) / (1 - lam)))
    edges = np.flatnonzero(np.diff(np.r_[0, lost.astype(int), 0]))
    runs = edges[1::2] - edges[::2]
    assert runs.mean() == pytest.approx(1 / b, abs=4 * math.sqrt(1 - b) / b / math.sqrt(len(runs)))


# ------------------------------------------------------------------ docking camera
CAMERA_DOCS = {"noise_lateral_m": 0.001, "noise_lateral_frac": 2.0e-4, "noise_depth_m": 0.002,
               "noise_depth_per_m": 3.0e-5, "noise_angle_deg": 0.02, "noise_angle_deg_per_m": 0.003,
               "attitude_max_range_m": 30.0}


@pytest.mark.parametrize("d_m", [2.0, 10.0, 30.0, 100.0, 240.0])
def test_camera_noise_grows_with_range_laterally_and_with_range_squared_in_depth(d_m):
    """Sample sigma (N = 4,000, relative standard deviation 1 / sqrt(2 N)) of depth x_B, lateral y_B and z_B,
    and attitude (inside 30 m) against the docs' laws."""
    n = 4000
    bench = Bench({"camera": CAMERA_DOCS})
    bench.place(d_m)
    rec = bench.series("camera", n, lambda r: (*r["r_B_m"], *r["att_rad"], r["att_valid"]))
    tol = 4 / math.sqrt(2 * n)
    assert np.std(rec[:, 0]) == pytest.approx(0.002 + 3.0e-5 * d_m ** 2, rel=tol)
    for k in (1, 2):
        assert np.std(rec[:, k]) == pytest.approx(0.001 + 2.0e-4 * d_m, rel=tol)
    assert np.mean(rec[:, 0]) == pytest.approx(d_m, abs=4 * (0.002 + 3.0e-5 * d_m ** 2) / math.sqrt(n))
    if d_m <= 30.0:
        assert rec[:, 6].min() == 1
        for k in (3, 4, 5):
            assert np.std(rec[:, k]) == pytest.approx((0.02 + 0.003 * d_m) * DEG_RAD, rel=tol)
    else:
        assert rec[:, 6].max() == 0 and not rec[:, 3:6].any()  # position only


def test_camera_is_valid_inside_its_band_and_field_of_view_only():
    bench = Bench({"camera": {"min_range_m": 1.0, "max_range_m": 250.0, "attitude_max_range_m": 30.0,
                              "fov_half_deg": 15.0}})
    for d_m, valid, att in ((0.5, 0, 0), (1.0, 1, 1), (30.0, 1, 1), (30.5, 1, 0), (249.0, 1, 0), (251.0, 0, 0)):
        bench.place(d_m)
        rec = bench.sample("camera")
        assert (int(rec["valid"]), int(rec["att_valid"])) == (valid, att), d_m
    bench.place(50.0, lateral_L_m=(50.0 * math.tan(16 * DEG_RAD), 0.0))  # 16 deg off the boresight
    assert int(bench.sample("camera")["valid"]) == 0


def _dcm(q) -> np.ndarray:
    """C(q) of a scalar-first unit quaternion q_BA (A components to B): (q0^2 - |e|^2) I + 2 e e^T - 2 q0 [e x]."""
    q0, e = q[0], np.asarray(q[1:], float)
    ex = np.array([[0.0, -e[2], e[1]], [e[2], 0.0, -e[0]], [-e[1], e[0], 0.0]])
    return (q0 * q0 - e @ e) * np.eye(3) + 2.0 * np.outer(e, e) - 2.0 * q0 * ex


def test_laser_radar_and_camera_see_one_target_offset_by_its_calibration_error_fixed_in_the_station():
    """No noise: a camera sample is C_BL (C_LS b_S - r) - port_B exactly, and the laser radar's range and bearing
    are those of C_BL (C_LS b_S - r) - mount_B, with b_S the run's target error and the station turned away from
    LVLH (so the error is carried in the station's frame, not LVLH's)."""
    bench = Bench({"target_offset_m": 0.003}, seed=7)
    p = bench.truth._p
    b_S = p["target_S_m"].copy()
    assert np.all(b_S != 0.0) and np.all(np.abs(b_S) < 5 * 0.003)
    bench.place(12.0, lateral_L_m=(0.2, -0.1))
    g = bench.truth._s["geometry"]
    half = math.radians(2.0) / 2.0  # the station 2 deg about an oblique axis
    axis = np.array([1.0, -2.0, 2.0]) / 3.0
    g["q_SL"] = [math.cos(half), *(math.sin(half) * axis)]
    C_SL, C_BL = _dcm(g["q_SL"]), _dcm(g["q_BL"])
    to_target_B = C_BL @ (C_SL.T @ b_S - g["r_rel_L_m"])
    np.testing.assert_allclose(bench.sample("camera")["r_B_m"], to_target_B - p["port_B_m"], rtol=0, atol=1e-12)
    los = to_target_B - p["lidar"]["mount_B_m"]
    rec = bench.sample("lidar")
    rng_m = np.linalg.norm(los)
    np.testing.assert_allclose([rec["range_m"], rec["az_rad"], rec["el_rad"]],
                               [rng_m, math.atan2(los[1], los[0]), math.asin(los[2] / rng_m)], rtol=0, atol=1e-12)


def test_the_targets_calibration_error_is_drawn_once_per_run_with_its_sigma():
    """The runs' target errors: N = 4,000 seeds' draws, each axis' sample sigma within 4 / sqrt(2 N) of 3 mm
    (relative), its mean within 4 sigma / sqrt(N) of 0, the axes' correlations within 4 / sqrt(N) of 0; ideal
    sensors have none. A run's error is a constant of its parameters: no model changes it."""
    t, n = Bench({"target_offset_m": 0.003}, seed=8).truth, 4000
    draws = np.empty((n, 3))
    for k, child in enumerate(np.random.SeedSequence(20261207).spawn(n)):
        t._realise_sensors(t.scenario, np.random.Generator(np.random.PCG64(child)))
        draws[k] = t._p["target_S_m"]
    np.testing.assert_allclose(draws.std(axis=0), 0.003, rtol=4 / math.sqrt(2 * n))
    assert np.all(np.abs(draws.mean(axis=0)) < 4 * 0.003 / math.sqrt(n))
    corr = np.corrcoef(draws.T)
    assert np.all(np.abs(corr[np.triu_indices(3, 1)]) < 4 / math.sqrt(n))
    ideal = make_truth([0.0, -403.0, 0.0], quiet=True, sensors={"target_offset_m": 0.003})
    assert not ideal._p["target_S_m"].any()


# ------------------------------------------------------------------ star tracker
def test_star_tracker_is_noisier_about_its_boresight_than_across_it():
    """Error rotations of N = 20,000 samples, split along a tilted boresight and across it: sample sigmas
    (relative standard deviation 1 / sqrt(2 N)) of 40 and 5 arcsec, and uncorrelated components."""
    n = 20_000
    b = np.array([1.0, 2.0, -2.0]) / 3.0
    bench = Bench({"star_tracker": {"noise_cross_arcsec": 5.0, "noise_roll_arcsec": 40.0, "boresight_B": b.tolist()}})
    q_true = bench.truth._s["q_BN"].copy()
    qt_inv = (q_true[0], -q_true[1], -q_true[2], -q_true[3])

    def error(rec):
        e = q_mul(*rec["q_BN"], *qt_inv)  # q_meas = q_err q_true
        return 2.0 * np.sign(e[0]) * np.array(e[1:])

    e = bench.series("star_tracker", n, error)
    u = np.cross(b, [1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    w = np.cross(b, u)
    roll, c1, c2 = e @ b, e @ u, e @ w
    tol = 4 / math.sqrt(2 * n)
    assert np.std(roll) == pytest.approx(40.0 * ARCSEC_RAD, rel=tol)
    assert np.std(c1) == pytest.approx(5.0 * ARCSEC_RAD, rel=tol)
    assert np.std(c2) == pytest.approx(5.0 * ARCSEC_RAD, rel=tol)
    assert abs(np.corrcoef(roll, c1)[0, 1]) < 4 / math.sqrt(n)  # sample correlation of independent series


# ------------------------------------------------------------------ gyro
def test_gyro_scale_factor_multiplies_the_rotation_and_is_drawn_per_run():
    """Per axis: the measured angle over a known rotation is (1 + s) times it, s this run's draw; over 64 runs
    the 192 draws have the scenario's sigma (sample sigma, relative standard deviation 1 / sqrt(2 x 192))."""
    draws = []
    for seed in range(1, 65):
        bench = Bench({"gyro": {"scale_factor_ppm": 100.0}}, seed=seed, per_stream=1000)
        s = bench.truth._s["gyro"]
        s["dtheta_true_B_rad"] = [0.01, -0.02, 0.005]
        rate = bench.sample("gyro")["omega_BN_B_rad_s"].copy()
        sf = rate * 0.01 / np.array([0.01, -0.02, 0.005]) - 1.0
        assert sf == pytest.approx(bench.truth._p["gyro"]["scale_B"] - 1.0, abs=1e-12)
        draws += list(sf)
    assert np.std(draws) == pytest.approx(100e-6, rel=4 / math.sqrt(2 * len(draws)))


def test_gyro_rate_random_walk_steps_by_k_sqrt_dt():
    """With every other term off the rate error is the random walk: its increments are white with sigma
    K sqrt(dt) (N = 20,000: sample sigma within 4 / sqrt(2 N), lag-1 correlation within 4 / sqrt(N)), and its
    Allan variance at cluster time T is K^2 T / 3 (checked at T = 10 s, 200 clusters: relative standard deviation
    of the estimate about 1 / sqrt(200 / 3), from the overlapping clusters' correlation, taken loosely)."""
    n, k_deg_h_sqrt_h, dt = 20_000, 1.0, 0.01
    bench = Bench({"gyro": {"rrw_deg_h_sqrt_h": k_deg_h_sqrt_h}})
    rate = bench.series("gyro", n, lambda r: r["omega_BN_B_rad_s"][1])
    k = k_deg_h_sqrt_h * DEG_RAD / SECONDS_PER_HOUR / math.sqrt(SECONDS_PER_HOUR)  # [rad/s/sqrt(s)]
    inc = np.diff(rate)
    assert np.std(inc) == pytest.approx(k * math.sqrt(dt), rel=4 / math.sqrt(2 * n))
    assert abs(np.corrcoef(inc[:-1], inc[1:])[0, 1]) < 4 / math.sqrt(n)
    m = 1000  # samples per cluster: T = 10 s
    means = rate[: n // m * m].reshape(-1, m).mean(1)
    avar = 0.5 * np.mean(np.diff(means) ** 2)
    assert avar == pytest.approx(k * k * m * dt / 3, rel=4 / math.sqrt((n // m - 1) / 3))


# ------------------------------------------------------------------ relative GNSS
@pytest.mark.parametrize("d_m", [250.0, 500.0, 1000.0, 3000.0])
def test_gnss_multipath_grows_the_noise_near_the_station(d_m):
    """White position and velocity sigma times 1 + (300 m / range)^2 (range CoM to CoM): sample sigma of
    N = 4,000 per axis, relative standard deviation 1 / sqrt(2 N)."""
    n = 4000
    bench = Bench({"gnss_rel": {"noise_r_m": 1.0, "noise_v_mps": 0.01, "multipath_range_m": 300.0}})
    bench.place(d_m)
    com = float(np.linalg.norm(bench.truth._s["geometry"]["r_com_L_m"]))
    rec = bench.series("gnss_rel", n, lambda r: (*r["r_LVLH_m"], *r["v_LVLH_mps"]))
    f = 1.0 + (300.0 / com) ** 2
    tol = 4 / math.sqrt(2 * n)
    assert np.std(rec[:, 0]) == pytest.approx(f, rel=tol)
    assert np.std(rec[:, 4]) == pytest.approx(0.01 * f, rel=tol)


@pytest.mark.parametrize(("d_m", "expect_outliers"), [(600.0, True), (1500.0, False)])
def test_gnss_outliers_come_with_their_probability_and_size_below_their_range(d_m, expect_outliers):
    """White noise off: a non-zero error is an outlier. Their count is binomial (N = 20,000, p = 0.05,
    standard deviation sqrt(p (1 - p) / N)); their error has sigma 10 m per axis (sample sigma of the
    ~3,000 components seen, relative standard deviation 1 / sqrt(2 n))."""
    n, prob = 20_000, 0.05
    bench = Bench({"gnss_rel": {"outlier_prob": prob, "outlier_m": 10.0, "outlier_range_m": 1000.0}})
    bench.place(d_m)
    truth_r = bench.truth._s["geometry"]["r_com_L_m"].copy()
    err = bench.series("gnss_rel", n, lambda r: r["r_LVLH_m"] - truth_r)
    hit = np.any(np.abs(err) > 1e-9, axis=1)
    if not expect_outliers:
        assert not hit.any()
        return
    assert hit.mean() == pytest.approx(prob, abs=4 * math.sqrt(prob * (1 - prob) / n))
    comps = err[hit].ravel()
    assert np.std(comps) == pytest.approx(10.0, rel=4 / math.sqrt(2 * comps.size))


# ------------------------------------------------------------------ latency, through the frame kernel
LATENCY_S = {"gyro": 0.03, "star_tracker": 0.1, "gnss_rel": 0.5, "gnss_abs": 0.5, "lidar": 0.2, "camera": 0.15}
READ = {"gyro": "theta_B_rad", "star_tracker": "q_BN", "gnss_rel": "r_LVLH_m", "gnss_abs": "r_N_m",
        "lidar": "range_m", "camera": "r_B_m"}


def _frame_of(stamp_ns: int) -> int:
    """[ns] The minor frame a device stamp belongs to (a stamp is at most 15.3 us before its frame's time)."""
    return -(-stamp_ns // FRAME_NS) * FRAME_NS


@pytest.mark.parametrize("name", sorted(LATENCY_S))
def test_a_sample_arrives_its_latency_after_it_was_measured_with_the_truth_of_then(name):
    """The whole truth flies (frame kernel), the chaser moving and turning: every delivered sample carries its
    measurement time t_ns, arrives exactly latency later (whole frames), and holds the noiseless measurement of
    the truth at t_ns, not that of the truth at delivery (both read from a twin truth whose model samples every
    frame without latency)."""
    sensors = merged(SILENT, {k: {"latency_s": v} for k, v in LATENCY_S.items()})
    start = [0.3, -283.0, -0.2] if name == "gnss_rel" else [0.3, -83.0, -0.2]
    truth = make_truth(start, v_LVLH_mps=[0.01, 0.5, -0.01], quiet=False, sensors=sensors,
                       chaser={"omega_BL_B_deg_s": [0.05, -0.1, 0.2]})
    undelayed = make_truth(start, v_LVLH_mps=[0.01, 0.5, -0.01], quiet=False,
                           sensors=merged(SILENT, {name: {"latency_s": 0.0, "rate_hz": 100.0}}),
                           chaser={"omega_BL_B_deg_s": [0.05, -0.1, 0.2]})
    dev, ref = truth.devices[MODEL[name].device], undelayed.devices[MODEL[name].device]
    measured, checked, seq = {}, 0, 0
    for _ in range(300):
        truth.step()
        undelayed.step()
        measured[undelayed.t_ns] = np.array(ref[READ[name]], copy=True)  # the same truth, delivered at once
        if int(dev["seq"]) != seq:
            seq = int(dev["seq"])
            taken = _frame_of(int(dev["t_ns"]))  # the stamp is the sample time's CUC tick, <= 15.3 us before it
            assert int(dev["t_ns"]) == stamp(taken)
            assert truth.t_ns - taken == round(LATENCY_S[name] * 1e9)
            assert np.array_equal(np.asarray(dev[READ[name]]), measured[taken])
            assert not np.array_equal(np.asarray(dev[READ[name]]), measured[truth.t_ns])
            checked += 1
    assert checked >= 1 if name.startswith("gnss") else checked >= 5


def test_queue_depth_covers_the_latency_and_a_late_sample_is_never_lost():
    """10 ms gyro with 0.5 s latency: 51 samples in flight, every one delivered in order, one per frame."""
    truth = make_truth([0.0, -403.0, 0.0], sensors=merged(SILENT, {"gyro": {"latency_s": 0.5}}), quiet=False)
    assert truth._queues["Q_DEV_GYRO"].shape == (51,)
    t_seen = []
    for _ in range(200):
        truth.step()
        t_seen.append(_frame_of(int(truth.devices["DEV_GYRO"]["t_ns"])))
    assert int(truth.devices["DEV_GYRO"]["seq"]) == 150
    assert np.array_equal(np.diff(t_seen[50:]), np.full(149, FRAME_NS))


# ------------------------------------------------------------------ ideal sensors
REALISTIC = {  # every error term on (docs/sensors.md figures, some enlarged so that a difference shows at once)
    "gyro": {"rrw_deg_h_sqrt_h": 0.001, "scale_factor_ppm": 100.0, "latency_s": 0.02, "dropout_prob": 0.05},
    "star_tracker": {"noise_cross_arcsec": 5.0, "noise_roll_arcsec": 40.0, "latency_s": 0.1, "dropout_prob": 0.05},
    "gnss_rel": {"bias_r_m": 1.5, "bias_v_mps": 0.005, "multipath_range_m": 300.0, "outlier_prob": 0.2,
                 "latency_s": 0.5, "dropout_prob": 0.05},
    "gnss_abs": {"latency_s": 0.5, "dropout_prob": 0.05},
    "lidar": {"bias_range_m": 0.07, "bias_angle_deg": 0.03, "min_range_m": 2.0, "latency_s": 0.2,
              "dropout_prob": 0.05, "burst_start_prob": 0.05},
    "camera": {"min_range_m": 1.0, "attitude_max_range_m": 30.0, "latency_s": 0.15, "dropout_prob": 0.05},
}
NEW_TERMS_OFF = {  # the same with every term that ideal sensors drop at zero (the white noise kept)
    "gyro": {"rrw_deg_h_sqrt_h": 0.0, "scale_factor_ppm": 0.0, "latency_s": 0.0, "dropout_prob": 0.0},
    "star_tracker": {"latency_s": 0.0, "dropout_prob": 0.0},
    "gnss_rel": {"bias_r_m": 0.0, "bias_v_mps": 0.0, "multipath_range_m": 0.0, "outlier_prob": 0.0, "latency_s": 0.0,
                 "dropout_prob": 0.0},
    "gnss_abs": {"latency_s": 0.0, "dropout_prob": 0.0},
    "lidar": {"bias_range_m": 0.0, "bias_angle_deg": 0.0, "min_range_m": 0.0, "latency_s": 0.0, "dropout_prob": 0.0,
              "burst_start_prob": 0.0},
    "camera": {"min_range_m": 0.0, "attitude_max_range_m": 250.0, "latency_s": 0.0, "dropout_prob": 0.0},
    "target_offset_m": 0.0,
}


def test_ideal_sensors_are_the_models_with_every_error_term_but_white_noise_off():
    """Frame by frame through the frame kernel, a realistic scenario with ideal = true writes the same device
    records as the same scenario with those terms set to zero (the white noise, and the gyro's Gauss-Markov bias,
    kept), and differs from it without ideal."""
    start, v = [0.2, -253.0, 0.1], [0.0, 0.9, 0.0]
    base = {"gyro": {"arw_deg_sqrt_h": 0.01, "bias_instability_deg_h": 0.005}, "camera": {"noise_lateral_m": 0.005},
            "lidar": {"noise_range_m": 0.02}, "gnss_rel": {"noise_r_m": 1.0}}
    ideal = make_truth(start, v, quiet=False, sensors=merged(base, REALISTIC, {"ideal": True}))
    plain = make_truth(start, v, quiet=False, sensors=merged(base, REALISTIC, NEW_TERMS_OFF, {"ideal": False}))
    real = make_truth(start, v, quiet=False, sensors=merged(base, REALISTIC, {"ideal": False}))
    differs = False
    for _ in range(600):  # 6 s: down to ~248 m
        for t in (ideal, plain, real):
            t.step()
        assert {k: r.tobytes() for k, r in ideal.devices.items()} == {k: r.tobytes() for k, r in plain.devices.items()}
        differs |= ideal.devices["DEV_LIDAR"].tobytes() != real.devices["DEV_LIDAR"].tobytes()
    assert differs


# The models before issue #17 (commit 6456084), on the trajectory and noise of ``drive_synthetic`` below: the
# SHA-256 of every device record after every step (DEV_CAMERA without its new att_valid field). Ideal sensors
# with that commit's figures must reproduce it bit for bit; the lidar's range noise floor and proportional part
# added linearly then and add in quadrature now (docs/sensors.md), so the lidar here has no proportional part.
PRE_17_DIGEST = "f8c3903c368ef23175f615b8e4008848e44afb2cc1a35b3d2e4afb34ae42298a"
PRE_17_SENSORS = {
    "ideal": True,
    "gyro": {"arw_deg_sqrt_h": 0.01, "bias_instability_deg_h": 0.005, "bias_correlation_s": 3600.0},
    "star_tracker": {"noise_cross_arcsec": 10.0, "noise_roll_arcsec": 10.0},
    "gnss_rel": {"noise_r_m": 1.0, "noise_v_mps": 0.01, "min_range_m": 200.0},
    "gnss_abs": {"noise_r_m": 5.0, "noise_v_mps": 0.05},
    "lidar": {"rate_hz": 5.0, "noise_range_m": 0.02, "noise_range_frac": 0.0, "noise_angle_deg": 0.05,
              "noise_angle_near_deg": 0.0, "max_range_m": 5000.0, "fov_half_deg": 20.0},
    "camera": {"noise_lateral_m": 0.005, "noise_lateral_frac": 0.0, "noise_depth_m": 0.005, "noise_depth_per_m": 0.0,
               "noise_angle_deg": 0.05, "noise_angle_deg_per_m": 0.0, "max_range_m": 150.0, "fov_half_deg": 15.0},
}
PRE_17_FIELDS = {  # the device records' fields before issue #17
    "DEV_GYRO": ("t_ns", "seq", "theta_B_rad", "omega_BN_B_rad_s", "valid"),
    "DEV_STAR_TRACKER": ("t_ns", "seq", "q_BN", "valid"),
    "DEV_GNSS_REL": ("t_ns", "seq", "r_LVLH_m", "v_LVLH_mps", "valid"),
    "DEV_GNSS_ABS": ("t_ns", "seq", "r_N_m", "v_N_mps", "valid"),
    "DEV_LIDAR": ("t_ns", "seq", "range_m", "az_rad", "el_rad", "valid"),
    "DEV_CAMERA": ("t_ns", "seq", "r_B_m", "att_rad", "valid"),
}


def drive_synthetic(truth, steps: int = 3000, seed: int = 17) -> str:
    """Every noisy model but the thermistors on a synthetic 30 s trajectory (300 m to 15 m, wobbling in position
    and attitude) with a seeded noise buffer; the SHA-256 of ``PRE_17_FIELDS`` of their records after each frame.
    Runs against the models before issue #17 too (their kernels take no delivery queue)."""
    from sims.core.quat import q_small

    rows, per_stream = max(len(truth._streams), 16), 20_000
    noise = np.random.default_rng(seed).standard_normal(rows * per_stream)
    streams = np.zeros(rows, STREAM)
    streams["start"] = streams["cursor"] = np.arange(rows) * per_stream
    streams["end"] = streams["start"] + per_stream
    p, s = truth._p, truth._s
    g = s["geometry"]
    q_dock = g["q_BL"].copy()
    h = hashlib.sha256()
    for k in range(steps):
        d = 300.0 - 0.095 * k
        g["r_rel_L_m"] = [2.0 * math.sin(0.01 * k), -(d + PORT_AHEAD_M), 1.5 * math.cos(0.013 * k)]
        g["v_rel_L_mps"] = g["v_com_L_mps"] = [0.02 * math.cos(0.01 * k), 9.5, -0.0195 * math.sin(0.013 * k)]
        q = q_mul(*q_small(0.01 * math.sin(0.002 * k), 0.008 * math.cos(0.003 * k), 0.005 * math.sin(0.004 * k)),
                  *q_dock)
        g["q_BL"] = g["q_BS"] = s["q_BN"] = q
        g["r_com_L_m"] = g["r_rel_L_m"] + p["port_S_m"]  # the station holds LVLH here: S = L
        s["r_chaser_N_m"] = [6.77e6 + 0.3 * k, -1.0e3 + 76.6 * k, 2.0e3 - 1.1 * k]
        s["v_chaser_N_mps"] = [0.3 * math.sin(0.001 * k), 7660.0, -1.1]
        s["gyro"]["dtheta_true_B_rad"] += [1e-5 * math.sin(0.02 * k), -2e-5, 3e-6 * math.cos(0.05 * k)]
        s["frame"] = k + 1
        s["t_ns"] = (k + 1) * FRAME_NS
        for name in ("gyro", "star_tracker", "gnss_rel", "lidar", "camera", "gnss_abs"):
            m = MODEL[name]
            dev = truth.devices[m.device].reshape(1)[0]
            queue = (truth._queues[f"Q_{m.device}"],) if getattr(m, "queued", False) else ()
            m.kernel(p[name], s[name], dev, *queue, p, s, noise, streams)
        for device, fields in PRE_17_FIELDS.items():
            rec = truth.devices[device]
            for f in fields:
                value = rec[f]
                if f == "t_ns":  # the frame the sample was taken in: its CUC stamp is at most 15.3 us before it
                    value = -(-value // FRAME_NS) * FRAME_NS
                h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def test_ideal_sensors_with_the_old_figures_reproduce_the_models_before_issue_17():
    truth = make_truth([0.0, -403.0, 0.0], quiet=False, sensors=PRE_17_SENSORS)
    assert drive_synthetic(truth) == PRE_17_DIGEST


def test_a_device_time_stamp_is_what_its_packet_carries():
    """sims.core.sensors.stamp: the CUC round trip of telemetry.headers, so SIL and serial HIL read one time."""

    from telemetry.headers import cuc_to_t_ns, t_ns_to_cuc

    rng = np.random.default_rng(17)
    times = np.concatenate([rng.integers(0, 10**13, 2000), np.arange(0, 10**9, 10_000_000), [0, 15_258, 15_259]])
    for t in times.tolist():
        s = stamp(t)
        assert s == cuc_to_t_ns(*t_ns_to_cuc(t)) and 0 <= t - s < 15_259, t
        assert stamp(s) == s

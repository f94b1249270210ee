"""The absolute GNSS sample as a relative one (fsw.core.navigation.gnss_abs_relative), against an independent
two-body integration and the frame algebra done in numpy; the thrust a sample's age holds (closed forms)."""

from __future__ import annotations

import numpy as np
import pytest

from fsw.core.navigation import _during_burn, _thrust_since, gnss_abs_relative
from tests.fsw.core.fsw_core_refs import rk4_step

MU = 3.986004418e14


def _lvlh(r, v):
    """C_LN and omega_LN_L of the frame x radial, y along-track, z orbit normal (docs/reference.md)."""
    x = r / np.linalg.norm(r)
    z = np.cross(r, v)
    z /= np.linalg.norm(z)
    C = np.vstack([x, np.cross(z, x), z])
    w_N = np.cross(r, v) / (r @ r)
    return C, C @ w_N


def _state():
    r_s = np.array([6768e3, 0.0, 0.0])
    v_s = np.array([0.0, 5761.0, 5090.0])
    r_c = r_s + np.array([-2500.0, -60e3, 800.0])
    v_c = v_s + np.array([1.5, 9.0, -0.4])
    return r_s, v_s, r_c, v_c


def _relative(r_c, v_c, r_s, v_s, C, w):
    r_L = C @ (r_c - r_s)
    return r_L, C @ (v_c - v_s) - np.cross(w, r_L)


def test_a_fresh_sample_is_the_frame_algebra():
    r_s, v_s, r_c, v_c = _state()
    C, w = _lvlh(r_s, v_s)
    r_out, v_out = np.empty(3), np.empty(3)
    port = np.array([0.0, -12.0, 0.0])
    rng = gnss_abs_relative(r_c, v_c, np.concatenate([r_s, v_s]), C, w, port, r_out, v_out)
    r_ref, v_ref = _relative(r_c, v_c, r_s, v_s, C, w)
    np.testing.assert_allclose(r_out, r_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(v_out, v_ref, rtol=0, atol=1e-9)
    assert rng == np.linalg.norm(r_ref - port)


def test_a_late_sample_is_carried_to_now_on_its_orbit():
    """A sample 0.5 s old, against the station now: within 1 mm of the sample integrated to now (RK4), where
    fusing it as if it were fresh would be 3.8 km off (the station's own motion)."""
    r_s0, v_s0, r_c0, v_c0 = _state()
    lag = 0.5

    def f(s):
        r = s[:3]
        return np.concatenate([s[3:], -MU * r / np.linalg.norm(r) ** 3])

    c_now, s_now = np.concatenate([r_c0, v_c0]), np.concatenate([r_s0, v_s0])
    for _ in range(50):
        c_now, s_now = rk4_step(f, c_now, lag / 50), rk4_step(f, s_now, lag / 50)
    C, w = _lvlh(s_now[:3], s_now[3:])
    r_ref, v_ref = _relative(c_now[:3], c_now[3:], s_now[:3], s_now[3:], C, w)
    r_out, v_out = np.empty(3), np.empty(3)
    gnss_abs_relative(r_c0, v_c0, s_now, C, w, np.zeros(3), r_out, v_out, lag, MU)
    np.testing.assert_allclose(r_out, r_ref, rtol=0, atol=1e-3)
    np.testing.assert_allclose(v_out, v_ref, rtol=0, atol=1e-5)
    stale = np.empty(3)
    gnss_abs_relative(r_c0, v_c0, s_now, C, w, np.zeros(3), stale, np.empty(3))
    assert np.linalg.norm(stale - r_ref) > 3000.0


def test_no_sample_yet_is_no_error():
    r_s, v_s, _, _ = _state()
    C, w = _lvlh(r_s, v_s)
    r_out, v_out = np.empty(3), np.empty(3)
    rng = gnss_abs_relative(np.zeros(3), np.zeros(3), np.concatenate([r_s, v_s]), C, w, np.zeros(3), r_out, v_out,
                            0.5, MU)
    assert np.isfinite(rng)


# ------------------------------------------------------------------------------------- thrust in a sample's age
def test_how_much_of_a_samples_age_held_thrust():
    """A GNSS sample 0.5 s old, taken 0.4 s before the engines stopped: 0.4 s of its age held thrust; one taken
    after: none; one taken during a burn still going: the whole lag."""
    now, ns = 10_000_000_000, 1_000_000_000
    sample = now - ns // 2
    assert _thrust_since(sample + 4 * ns // 10, sample, 0.5) == pytest.approx(0.4)
    assert _thrust_since(sample - 1, sample, 0.5) == 0.0
    assert _thrust_since(now, sample, 0.5) == pytest.approx(0.5)


def _history(periods):
    """A filter record whose delta-v history holds ``periods``: (start_ns, end_ns, dv LVLH)."""
    from fsw.core.navigation import RELNAV_FILTER

    flt = np.zeros(1, RELNAV_FILTER)
    f = flt[0]
    for k, (a, b, dv) in enumerate(periods):
        f["dv_hist_ns"][k] = (a, b)
        f["dv_hist_L_mps"][k] = dv
    return flt


def test_the_thrust_since_a_sample_is_what_the_state_holds_and_the_sample_lacks():
    """A 0.06 m/s^2 burn in 0.1 s periods (6 mm/s each, impulses at the period starts as the prediction takes
    them), a sample taken 0.5 s before now at 9.45 s: the periods starting at 9.5 ... 9.9 s (five) and half of the
    one straddling 9.45 s are after it: 5.5 x 6 mm/s = 33 mm/s. Position at the sample's time (the state carried
    back holds dv (t_sample - start) of each): sum over those periods, closed form below; carried to now instead,
    dv (now - start)."""
    from fsw.core.navigation import _thrust_after

    ns = 1_000_000_000
    dv = np.array([0.0, 0.0, -0.006])
    starts = [int(8.0 * ns) + k * ns // 10 for k in range(20)]  # 8.0 ... 9.9 s; the ring keeps the last 16
    flt = _history([(a, a + ns // 10, dv) for a in starts[-16:]])
    f = flt[0]
    now, sample = 10 * ns, int(9.45 * ns)
    after = [(a, 1.0) for a in starts if a >= 9.5 * ns] + [(int(9.4 * ns), 0.5)]
    du = _thrust_after(f, sample, sample)
    assert du == pytest.approx(5.5 * 0.006)
    assert np.allclose(f["thrust_dv_mps"], 5.5 * dv)
    expect = sum(frac * dv * (sample - a) / ns for a, frac in after)
    assert np.allclose(f["thrust_dr_m"], expect, atol=1e-15)
    _thrust_after(f, sample, now)
    assert np.allclose(f["thrust_dr_m"], sum(frac * dv * (now - a) / ns for a, frac in after), atol=1e-15)
    # a sample taken after every period: nothing to add
    assert _thrust_after(f, now, now) == 0.0 and np.all(f["thrust_dv_mps"] == 0.0)


def test_with_the_thrust_added_only_its_timing_inside_a_period_and_its_execution_stay_noise():
    """0.2 m/s^2 over the whole 0.5 s lag, 0.1 s periods: uniform timing inside a period, sigma 0.1 / sqrt(12) s,
    gives 0.2 x 0.0289 = 5.8 mm/s, and a 1.3 % execution error of the 0.1 m/s added 1.3 mm/s."""
    sr, sv = _during_burn(0.0, 0.0, 0.2, 0.5, 0.1, 0.013 * 0.1)
    t = 0.1 / np.sqrt(12.0)
    assert sv == pytest.approx(np.hypot(0.2 * t, 0.0013)) and sr == pytest.approx(0.5 * 0.2 * t * t)

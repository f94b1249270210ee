"""The relative navigation's differential drag (fsw.core.navigation.drag_sigma_mps2) against the truth's.

The filter's along-track acceleration state has the sigma of the differential drag over the population of runs the
truth draws: the density and the chaser's area are dispersed (sims/scenarios/_dispersions.toml), each vehicle flies
at its own height. Here its figures are checked against the truth's tables, and its sigma against the RMS of the
truth's own drag law (sims.core.orbit.drag) over those dispersions, chaser and station on circular orbits.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from fsw.config_loader import read_toml
from fsw.core.navigation import drag_sigma_mps2, height_above_station_m
from sims.core.orbit import drag

ROOT = Path(__file__).resolve().parents[3]
GNC_PATH = ROOT / "fsw" / "config" / "gnc.toml"
MASS_KG = 5000.0


def _toml(rel):
    return tomllib.loads((ROOT / rel).read_text())


def _truth():
    d, disp = _toml("sims/scenarios/_defaults.toml"), _toml("sims/scenarios/_dispersions.toml")["dispersions"]
    vehicle = _toml("sims/scenarios/_vehicle.toml")
    assert d["drag"]["enabled"]
    return dict(mu=d["earth"]["mu_m3_s2"], re=d["earth"]["radius_m"], we=d["earth"]["rotation_rad_s"],
                h0=d["drag"]["ref_altitude_m"], H=d["drag"]["scale_height_m"], alt=d["station"]["altitude_m"],
                inc=math.radians(d["station"]["inclination_deg"]),
                station_cda=d["station"]["drag_cd"] * d["station"]["drag_area_m2"] / d["station"]["mass_kg"],
                cd=vehicle["geometry"]["drag_cd"],
                area=(disp["chaser_drag_area"]["lo"], disp["chaser_drag_area"]["hi"]),
                rho=(disp["density"]["lo"], disp["density"]["hi"]))


def test_the_flights_drag_figures_are_the_truths_tables(navigation_bench):
    """Scale height, the station's Cd A / m, the chaser's Cd A spread and the density's RMS over its spread (uniform:
    sqrt(mean^2 + width^2 / 12)), and the speed through the co-rotating air, sqrt(mu / r) - omega_E r cos i."""
    t, gnc = _truth(), read_toml(GNC_PATH)["navigation"]
    lo, hi = t["rho"]
    rms = math.hypot((lo + hi) / 2, (hi - lo) / math.sqrt(12))
    assert gnc["drag_density_rms_kg_m3"] == pytest.approx(rms, rel=1e-3)
    assert gnc["drag_scale_height_m"] == t["H"]
    assert gnc["drag_station_cda_m2_kg"] == pytest.approx(t["station_cda"], rel=1e-3)
    assert gnc["drag_chaser_cd_area_m2"] == pytest.approx([t["cd"] * a for a in t["area"]], rel=1e-12)
    r = t["re"] + t["alt"]
    assert gnc["drag_speed_mps"] == pytest.approx(math.sqrt(t["mu"] / r) - t["we"] * r * math.cos(t["inc"]), rel=1e-4)
    p = navigation_bench(mass_kg=MASS_KG).app.prm[0]
    assert p["drag_pressure_Pa"] == pytest.approx(0.5 * gnc["drag_density_rms_kg_m3"] * gnc["drag_speed_mps"] ** 2)
    u = np.array(gnc["drag_chaser_cd_area_m2"]) / MASS_KG
    np.testing.assert_allclose(p["drag_chaser_cda_m2_kg"], [u.mean(), (u[1] - u[0]) / math.sqrt(12)], rtol=1e-12)


def _circular(t, r, u_rad):
    """Inertial position and velocity on the station's orbit plane at radius ``r``, argument of latitude ``u_rad``."""
    v, ci, si = math.sqrt(t["mu"] / r), math.cos(t["inc"]), math.sin(t["inc"])
    cu, su = math.cos(u_rad), math.sin(u_rad)
    return np.array([r * cu, r * su * ci, r * su * si]), v * np.array([-su, cu * ci, cu * si])


@pytest.mark.parametrize("dh_m, behind_m", [(0.0, 0.0), (-5e3, 0.0), (-50e3, 0.0), (-50e3, 300e3), (-190e3, 0.0),
                                            (0.0, 300e3)])
def test_the_drag_sigma_is_the_rms_of_the_truths_differential_drag_over_its_dispersions(navigation_bench, dh_m,
                                                                                        behind_m):
    """The truth's drag (Vallado eq. 8-28, co-rotating exponential atmosphere) on the chaser less the station's,
    along the station's LVLH y, drawn over the uniform density and chaser area spreads: its RMS (exact per draw:
    the drag is linear in rho0 and in Cd A / m; 400,000 seeded draws, sampling error ~0.2 %) against the flight's
    sigma at the chaser's height (behind the station on the same orbit's curve, the height the flight computes from
    its LVLH state). What the closed form leaves out: the air's rotation in the chaser's speed ratio (0.1 % of v^2
    at 190 km below) and the along-track tilt of LVLH at 300 km behind (2.5 deg); measured 0.03-0.4 % off.
    Tolerance 1 %."""
    t = _truth()
    r_s = t["re"] + t["alt"]
    u0 = 0.7
    rs, vs = _circular(t, r_s, u0)
    rc, vc = _circular(t, r_s + dh_m, u0 - behind_m / r_s)
    x_L = np.cross(rs, vs)
    y_hat = np.cross(x_L, rs)
    y_hat /= np.linalg.norm(y_hat)
    args = (t["we"], t["re"], 1.0, t["h0"], t["H"], 1.0)  # unit density and Cd A / m: scaled per draw below
    a_c = np.dot(drag(*rc, *vc, *args), y_hat)
    a_s = np.dot(drag(*rs, *vs, *args), y_hat)
    rng = np.random.default_rng(20261207)
    rho = rng.uniform(*t["rho"], 400_000)
    u = t["cd"] * rng.uniform(*t["area"], 400_000) / MASS_KG
    diff = rho * (a_c * u - a_s * t["station_cda"])
    want = math.sqrt(np.mean(diff**2))
    # the chaser in the station's LVLH (x radial, z orbit normal), w.r.t. the port (the filter's state)
    C_LN = np.array([rs / np.linalg.norm(rs), y_hat, x_L / np.linalg.norm(x_L)])
    p = navigation_bench(mass_kg=MASS_KG).app.prm[0]
    x = np.zeros(18)
    x[:3] = C_LN @ (rc - rs) - p["port_L_m"]
    dh = height_above_station_m(x, p["port_L_m"], r_s)
    assert dh == pytest.approx(np.linalg.norm(rc) - r_s, abs=1e-3)
    assert drag_sigma_mps2(p, dh, r_s) == pytest.approx(want, rel=0.01)

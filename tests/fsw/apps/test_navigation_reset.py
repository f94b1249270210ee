"""Navigation reset after repeated rejections (fsw/apps/navigation.py): which sensor it restarts from.

Shipped bands: relative GNSS beyond 200 m, laser radar inside 5 km, camera inside 150 m. After 25
laser-radar rejections in a row the filter resets and distrusts the laser radar for 12 s; it waits
for another sensor only where another sensor's band covers the range (inside 150 m: the camera).
Between 150 and 200 m the laser radar is the only sensor, so it restarts from it at once.
"""

from __future__ import annotations

import numpy as np
import pytest

from fsw.core.estimation import RN_TARGET

STEP_NS = 100_000_000


class Nav:
    def __init__(self, bench):
        self.bench = bench
        self.app, self.events = bench.app, bench.app.events
        self.app.start()
        self.t_ns = 0

    def lidar(self, range_m):
        rec = self.bench.sensors["DEV_LIDAR"]
        rec["range_m"], rec["az_rad"], rec["el_rad"], rec["valid"] = range_m, 0.0, 0.0, 1
        rec["seq"] += 1

    def camera(self, r_B_m):
        rec = self.bench.sensors["DEV_CAMERA"]
        rec["r_B_m"], rec["valid"] = r_B_m, 1
        rec["seq"] += 1

    def step(self):
        self.t_ns += STEP_NS
        self.app.step(self.t_ns)

    def texts(self, start: str) -> list[str]:
        return [e[3] for e in self.events.emitted if e[3].startswith(start)]

    def reset_on_the_lidar(self, range_m):
        """Initialise from the laser radar at ``range_m``, then feed it 25 samples 200 m off."""
        self.lidar(range_m)
        self.step()
        assert self.app.initialised and self.texts("navigation initialised") == ["navigation initialised from LIDAR"]
        for _ in range(25):
            self.lidar(range_m + 200.0)
            self.step()
        assert not self.app.initialised and len(self.texts("25 rejections in a row (sensor 2)")) == 1


@pytest.fixture
def nav(navigation_bench):
    return Nav(navigation_bench(attitude=True))


def test_between_the_gnss_and_camera_bands_it_restarts_from_the_laser_radar_at_once(nav):
    nav.reset_on_the_lidar(180.0)
    nav.lidar(180.0)
    nav.step()
    assert nav.app.initialised
    assert nav.texts("navigation initialised") == ["navigation initialised from LIDAR"] * 2


def test_inside_the_camera_band_it_waits_for_the_camera(nav):
    nav.reset_on_the_lidar(120.0)
    for _ in range(5):  # the distrusted laser radar is not used while the camera could give a fix
        nav.lidar(120.0)
        nav.step()
    assert not nav.app.initialised
    nav.camera([120.0, 0.0, 0.0])
    nav.step()
    assert nav.app.initialised
    assert nav.texts("navigation initialised") == ["navigation initialised from LIDAR",
                                                     "navigation initialised from CAMERA"]


def test_a_fix_on_the_target_holds_the_targets_calibration_error_in_the_position(nav):
    """A camera start measures the position against the target, r - b: its error and the target states' are one
    error (r - r_true = -b, b_est - b = -b), so each axis' position variance holds sigma_t^2 and its covariance with
    the target state is +sigma_t^2, while r - b keeps the sample's own variance (no sigma_t in it)."""
    nav.camera([20.0, 0.0, 0.0])
    nav.step()
    assert nav.texts("navigation initialised") == ["navigation initialised from CAMERA"]
    P, sig_t = nav.app.P, nav.app.prm[0]["target_sigma_m"]
    assert np.all(sig_t > 0.0)
    for i in range(3):
        t = RN_TARGET + i
        assert P[t, t] == pytest.approx(sig_t[i] ** 2, rel=1e-12)
        assert P[i, t] == pytest.approx(sig_t[i] ** 2, rel=1e-12)
        assert P[i, i] - 2.0 * P[i, t] + P[t, t] == pytest.approx(nav.app.cam_s ** 2 + nav.app.init_sr ** 2, rel=1e-9)

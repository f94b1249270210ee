"""Navigation once docked (fsw/apps/navigation.py): the relative state is the docked geometry, held valid
without sensor data, until the vehicle leaves DOCKED."""

from __future__ import annotations

import numpy as np
import pytest

from telemetry.dictionary import MODES

STEP_NS = 100_000_000
PORT_B_M = [3.0, 0.0, 0.0]
CODE = {name: code for code, name in MODES.items()}


class Docked:
    """The navigation app on a bus of its own, fed no sensor data after a first camera fix."""

    def __init__(self, bench):
        self.app, self.sensors = bench.app, bench.sensors
        self.mode = bench.rec["MODE"]
        self.app.start()
        self.events = bench.app.events
        self.t_ns = 0
        cam = self.sensors["DEV_CAMERA"]
        cam["r_B_m"], cam["valid"], cam["seq"] = [0.5, 0.0, 0.0], 1, 1
        self.mode["mode"] = CODE["FINAL_APPROACH"]
        self.run(1)
        assert self.app.initialised

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.t_ns += STEP_NS
            self.app.step(self.t_ns)

    def texts(self) -> list[str]:
        return [e[3] for e in self.events.emitted]


@pytest.fixture
def docked(navigation_bench):
    return Docked(navigation_bench(port_B_m=PORT_B_M, attitude=True))


def test_docked_navigation_publishes_the_port_geometry_valid_at_rest(docked):
    docked.mode["mode"] = CODE["DOCKED"]
    docked.run(600)  # a minute without a sensor sample: far beyond the validity timeout
    out = docked.app.out
    assert out["valid"] == 1 and out["t_ns"] == docked.t_ns
    # C_RL (gnc.toml): body +x along LVLH +y, so the port is 3 m along +y of the CoM
    np.testing.assert_allclose(out["r_LVLH_m"], [0.0, -3.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(out["v_LVLH_mps"], 0.0)
    assert "navigation invalid" not in docked.texts()
    assert docked.texts().count("docked: relative state held at the port geometry") == 1


def test_navigation_restarts_from_the_sensors_after_leaving_docked(docked):
    docked.mode["mode"] = CODE["DOCKED"]
    docked.run(10)
    docked.mode["mode"] = CODE["HOLD"]
    docked.run(1)
    assert not docked.app.initialised and docked.app.out["valid"] == 0

"""THRUSTER_PERIOD.impulse_sum_mps, from which navigation takes the impulses that cancel in the net delta-v (the
couples whose execution error no burn carries): every pulse's impulse as a magnitude over the mass, checked
period by period against the full-thrust seconds each thruster's profile delivers in the period (the valves ramp:
fsw/core/control.py period_pulse_areas, itself checked against the truth's valve model in
tests/fsw/core/test_control_kernels.py) and the vehicle table's thrust, in a flown final approach
(docs/navigation.md)."""

from __future__ import annotations

import numpy as np

from sims.runner import run_sil

TASK = "thruster_control"
# engine propellant far-range guidance reports used (ENGINE_PERIOD.prop_used_kg): final_approach fires no engine,
# so the probe sets it; the mass every pulse is divided by is the loaded mass less it and the thrusters' propellant
ENGINE_KG = 250.0


class Probe:
    def __init__(self):
        self.rows = []

    def wrap_step(self, inner):
        def wrap(task, step):
            if inner is not None:
                step = inner(task, step)
            if task != TASK:
                return step

            def observed(t_ns):
                mass = self.app.mass_kg  # before the period's pulses, as the kernel divides
                assert mass == self.app.v.mass_kg - self.app.totals[0] - ENGINE_KG
                step(t_ns)
                on = np.asarray(self.app.state[0]["area_s"], dtype=float)[self.group]  # full-thrust seconds
                self.rows.append((float(self.out["impulse_sum_mps"]), float(on @ self.thrust) / mass,
                                  float(np.linalg.norm(self.out["dv_LVLH_mps"]))))
            return observed
        return wrap

    def attach(self, flight, truth):
        flight.apps["far_range"].eng["prop_used_kg"] = ENGINE_KG
        self.app = flight.apps[TASK]
        self.out = self.app.out
        self.thrust = np.asarray(self.app.v.thrust_N, dtype=float)
        self.group = np.asarray(self.app.v.group_idx)


def test_the_impulse_sum_is_every_pulse_as_a_magnitude_over_the_mass(tmp_path):
    probe = Probe()
    run_sil("final_approach", tmp_path / "run", duration_s=120.0, progress=False, observer=probe)
    got, want, net = (np.array(c) for c in zip(*probe.rows, strict=True))
    # the vehicle fired (attitude pulses, the approach's translation): 100-112 of the 1,200 periods, with or without
    # ENGINE_KG; the floor only says there is something to check
    assert (want > 0).sum() >= 50
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)
    # couples count: periods whose pulses cancel in the net delta-v still have an impulse sum
    assert ((got > 0) & (net < 1e-3 * got)).any()
    # a sum of magnitudes is never below the magnitude of the sum (the net is from the groups' authority: 4e-8)
    assert (got >= net * (1.0 - 1e-6)).all()

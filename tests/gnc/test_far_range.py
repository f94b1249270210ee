"""Far range from orbit insertion (issue #18): the fast_rendezvous flight, its summary, the insertion start, and
the passive-abort check of far-range guidance on ground plans (fsw/apps/far_range.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from envelope import assert_captured_inside_envelope

from fsw.app import Bus
from fsw.apps.far_range import FarRangeGuidance
from fsw.config_loader import load_vehicle, read_toml
from fsw.core.attitude import lvlh_dcm
from hal.devices import new_record
from sims.runner import run_sil
from sims.scenario import ScenarioError, insertion_state, load_scenario
from sims.truth import Truth

CONFIG = Path(__file__).resolve().parents[2] / "fsw" / "config"
THREE_HOURS_S = 3 * 3600.0
MU = 3.986004418e14


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    return run_sil("fast_rendezvous", tmp_path_factory.mktemp("fast") / "run", progress=False, keep_telemetry=False)


def test_fast_rendezvous_from_insertion_docks_inside_the_envelope_within_three_hours(fast):
    assert_captured_inside_envelope(fast)
    assert fast["docking"]["time_s"] < THREE_HOURS_S


def test_summary_gives_the_insertion_orbit(fast):
    orbit = fast["initial_orbit"]
    assert orbit["insertion"]
    assert orbit["perigee_altitude_m"] == pytest.approx(200e3, abs=1.0)
    assert orbit["apogee_altitude_m"] == pytest.approx(390e3, abs=1.0)
    assert orbit["phase_deg"] == pytest.approx(3.9, abs=1e-6)


def test_far_range_burns_delta_v_and_propellant_are_reported_inside_the_budget(fast):
    fr = fast["far_range"]
    burns = fr["burns"]
    assert len(burns) >= 3 and all(b["duration_s"] > 0 and b["dv_mps"] > 0 for b in burns)
    assert any(b["engine"] == "engines" and b["dv_mps"] > 40.0 for b in burns)  # the apogee burn
    assert fr["dv_far_range_mps"] == pytest.approx(sum(b["dv_mps"] for b in burns), rel=0.05)
    assert fr["dv_within_budget"] and fr["dv_far_range_mps"] < fr["dv_budget_mps"]
    assert fr["propellant_within_load"] and fr["propellant_used_kg"] < fr["propellant_loaded_kg"]
    assert fr["passive_ratio"] >= 1.2


def test_the_flights_propellant_estimate_counts_the_engines_and_the_thrusters(fast):
    """The flight's estimate (thrusters' on-times plus the engines', nominal flows) against the truth's propellant
    used. Each thruster's and engine's thrust, hence its flow, is off by a 1-sigma 1 % (sims/scenarios/_vehicle.toml):
    4 % is 4 sigma of one unit's error, more than the mix of many. Without the engines' share (before this test) the
    estimate was a third of the truth."""
    truth = fast["far_range"]["propellant_used_kg"]
    assert fast["propellant_flight_estimate_kg"] == pytest.approx(truth, rel=0.04)
    assert any(b["engine"] == "engines" and b["propellant_kg"] > 0.2 * truth for b in fast["far_range"]["burns"])


def test_time_to_each_hold_ascends_from_the_far_range_arrival(fast):
    holds = fast["far_range"]["time_to_hold_s"]
    times = [holds[k] for k in ("5000 m", "400 m", "200 m", "19 m")]
    assert all(t is not None for t in times) and times == sorted(times)
    assert times[0] == pytest.approx(fast["far_range"]["hold_arrival_s"])
    assert times[0] < 4500.0  # the far range from separation to the 5 km hold in 75 minutes


def test_truth_starts_on_the_insertion_orbit():
    sc = load_scenario("fast_rendezvous")
    truth = Truth(sc)
    r, v = insertion_state(sc.raw)
    assert np.linalg.norm(truth.r_chaser_N_m - r) < 1e-3
    assert np.linalg.norm(truth.v_chaser_N_mps - v) < 1e-6


def test_insertion_apogee_below_perigee_is_refused():
    with pytest.raises(ScenarioError, match="chaser.insertion.apogee_altitude_m"):
        load_scenario("fast_rendezvous", {"chaser": {"insertion": {"apogee_altitude_m": 150e3}}})


# ---------------------------------------------------------------------------------------------- ground plans
class _Events:
    def __init__(self):
        self.seen = []

    def emit(self, event_id, severity, source, text, args):
        self.seen.append((event_id, text))


class _Hal:
    def __init__(self):
        self.engines = new_record("ACT_ENGINES")

    def actuator(self, name):
        return self.engines


class _Guidance:
    r_hold = np.array([[0.0, -5003.0, 0.0]])

    def far_range_arrived(self, t_ns):
        pass


def _far_range_on_drift_orbit(altitude_below_m: float, behind_m: float):
    """Far-range guidance whose navigation puts the chaser on a circular drift orbit below and behind the station."""
    bus = Bus()
    gnc = read_toml(CONFIG / "gnc.toml")
    events = _Events()
    orbit = bus.publish("ORBIT_REF", "test")
    r = 6_778_137.0 - 10e3
    vc = math.sqrt(MU / r)
    inc = math.radians(41.5)
    orbit["rv_N"] = [r, 0.0, 0.0, 0.0, vc * math.cos(inc), vc * math.sin(inc)]
    lvlh_dcm(orbit["rv_N"][:3], orbit["rv_N"][3:], orbit["C_LVLH_N"], orbit["omega_LN_L_rad_s"])
    orbit["seq"] = 1
    n = float(orbit["omega_LN_L_rad_s"][2])
    nav = bus.publish("NAV_STATE", "test")
    nav["r_LVLH_m"] = [-altitude_below_m, -behind_m, 0.0]
    nav["v_LVLH_mps"] = [0.0, 1.5 * n * altitude_below_m, 0.0]
    nav["valid"] = 1
    for name in ("ATT_STATE", "PROPULSION", "MODE", "THRUSTER_PERIOD"):
        bus.publish(name, "test")
    app = FarRangeGuidance("far_range", bus, events, _Hal(), gnc, CONFIG / "gnc.toml", load_vehicle(),
                           CONFIG / "vehicle.toml", _Guidance(), None, 0.1, enabled=True)
    app.start()
    return app, events


def _uplink(app, dv_LVLH_mps):
    app._cmd_burn({"slot": 0, "count": 1, "exec_time_s": 100.0, "dv_LVLH_mps": dv_LVLH_mps}, 0)


def test_ground_plan_whose_passive_trajectory_enters_the_ellipsoid_is_not_flown():
    app, events = _far_range_on_drift_orbit(600.0, 4000.0)  # drifts forward 600 m under the station
    _uplink(app, [0.0, 0.05, 0.0])
    assert app.plan == [] and len(app.rejections) == 1 and app.rejections[0]["ratio"] < 1.2
    assert any(eid == "FAR_REJECT" and "passive in ellipsoid" in text for eid, text in events.seen)


def test_ground_plan_that_stays_clear_replaces_the_onboard_one():
    app, events = _far_range_on_drift_orbit(5000.0, 30000.0)  # passes 5 km under the station
    _uplink(app, [0.0, 0.05, 0.0])
    assert len(app.plan) == 1 and app.plan[0]["t_s"] == 100.0
    assert app.source == 2 and not app.rejections  # PLAN_SOURCES: GROUND
    assert app.passive_ratio > 1.2
    assert any(eid == "FAR_GROUND" for eid, _ in events.seen)


def test_ground_plan_uplinked_in_flight_replaces_the_onboard_plan_and_planning_resumes_off_the_hold(tmp_path):
    """FAR_BURN commands through the commanding app: the two-burn ground plan is flown at its times; it ends 250 km
    from the hold, so far-range guidance does not hand over and plans again on board."""
    case = tmp_path / "ground_plan.toml"
    burns = ((0, 400.0, 0.5), (1, 700.0, 0.2))
    case.write_text('base = "fast_rendezvous"\nname = "ground_plan"\nduration_s = 800.0\n' + "".join(
        f'[[commands]]\ntime_s = {50.0 + slot}\nname = "FAR_BURN"\nargs = {{ slot = {slot}, count = 2, '
        f'exec_time_s = {t}, dv_LVLH_mps = [0.0, {dv}, 0.0] }}\n' for slot, t, dv in burns))
    summary = run_sil(case, tmp_path / "run", progress=False, keep_telemetry=False)
    log = (tmp_path / "run" / "events.log").read_text()
    burns = summary["far_range"]["burns"]
    assert "ground plan of 2 burns replaces the onboard one" in log
    assert [b["source"] for b in burns[:2]] == ["GROUND", "GROUND"]
    assert [round(b["dv_mps"], 2) for b in burns[:2]] == [0.5, 0.2]
    assert "off the hold: re-plan" in log and "onboard plan" in log
    assert summary["far_range"]["hold_arrival_s"] is None


def test_a_hold_during_a_burn_stops_it_and_the_far_range_plans_again_in_phasing(tmp_path):
    """The ground holds the vehicle 45 s into the apogee burn and gives PHASING back 100 s later: the burn is cut
    off, nothing fires while holding, and a new plan takes the vehicle to the 5 km hold."""
    case = tmp_path / "pause.toml"
    case.write_text('base = "fast_rendezvous"\nname = "pause"\nduration_s = 4600.0\n'
                    '[[commands]]\ntime_s = 2600.0\nname = "SET_MODE"\nargs = { mode = 6 }\n'
                    '[[commands]]\ntime_s = 2700.0\nname = "SET_MODE"\nargs = { mode = 1 }\n')
    summary = run_sil(case, tmp_path / "run", progress=False, keep_telemetry=False)
    log = (tmp_path / "run" / "events.log").read_text()
    assert "far range paused in HOLD" in log
    burns = summary["far_range"]["burns"]
    cut = next(b for b in burns if b["engine"] == "engines")
    assert cut["start_s"] + cut["duration_s"] == pytest.approx(2600.0, abs=0.2) and cut["dv_mps"] < 15.0
    assert not any(2600.0 < b["start_s"] < 2700.0 for b in burns)
    assert summary["far_range"]["hold_arrival_s"] is not None
    assert summary["final_mode"] == "HOMING"

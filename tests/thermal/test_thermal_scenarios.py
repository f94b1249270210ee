"""Thermal control flown against the truth's nodal network (issue 6's "what must be shown")."""

from __future__ import annotations

import pytest

from sims.runner import run_sil


def fly(name, tmp_path_factory):
    return run_sil(name, tmp_path_factory.mktemp(name) / "run", progress=False)


@pytest.mark.parametrize("scenario", ["thermal_hot", "thermal_cold"])
def test_a_day_at_the_beta_extreme_keeps_every_zone_in_its_limits(scenario, tmp_path_factory):
    summary = fly(scenario, tmp_path_factory)
    assert summary["mission_time_s"] == pytest.approx(86400.0)
    thermal = summary["thermal"]
    for zone in thermal["zones"]:
        assert zone["limit_lo_C"] <= zone["min_C"] and zone["max_C"] <= zone["limit_hi_C"], zone
    assert thermal["limit_violations"] == 0
    assert thermal["max_power_W"] <= thermal["power_limit_W"]


@pytest.fixture(scope="module")
def heater_open(tmp_path_factory):
    return fly("heater_open", tmp_path_factory)


def test_open_heater_is_detected_and_the_backup_takes_over(heater_open):
    fdir = heater_open["fdir"]
    assert fdir["fired"] == {"heater1_failed": 1}
    cold_chain = heater_open["thermal"]["zones"][1]
    assert cold_chain["active_unit"] == 1 and cold_chain["heater_energy_J"]["backup"] > 0.0


def test_the_zone_never_leaves_its_limits_while_the_backup_takes_over(heater_open):
    cold_chain = heater_open["thermal"]["zones"][1]
    assert cold_chain["within_limits"], cold_chain

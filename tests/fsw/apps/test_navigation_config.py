"""The relative navigation's start-up checks of gnc.toml [navigation] that span two keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsw.app import Bus, ConfigError
from fsw.apps.navigation import RelativeNavigation
from fsw.config_loader import read_toml
from hal.devices import new_record

GNC_PATH = Path(__file__).resolve().parents[3] / "fsw" / "config" / "gnc.toml"


def _app(events, **navigation):
    gnc = read_toml(GNC_PATH)
    gnc["navigation"].update(navigation)
    bus = Bus()
    for name in ("ATT_STATE", "ORBIT_REF", "THRUSTER_PERIOD", "ENGINE_PERIOD", "MODE"):
        bus.publish(name, "test")
    sensors = {n: new_record(n) for n in ("DEV_GNSS_REL", "DEV_GNSS_ABS", "DEV_LIDAR", "DEV_CAMERA")}
    hal = type("Hal", (), {"sensor": lambda _, name: sensors[name]})()
    return RelativeNavigation("navigation", bus, events, hal, gnc, GNC_PATH, port_B_m=[3.0, 0.0, 0.0], mass_kg=5000.0)


@pytest.mark.parametrize("tau_net", [100.0, 300.0])
def test_the_sustained_thrusts_short_time_must_be_shorter_than_the_long_one(events, tau_net):
    with pytest.raises(ConfigError, match=r"gnc\.toml: \[navigation\] thrust_net_tau_s .* must be shorter than "
                                          r"thrust_level_tau_s \(100 s\), or 0"):
        _app(events, thrust_net_tau_s=tau_net)


def test_a_zero_short_time_turns_the_sustained_thrusts_term_off(events):
    assert _app(events, thrust_net_tau_s=0.0).prm[0]["thrust_net_tau_s"] == 0.0
    assert _app(events).prm[0]["thrust_net_tau_s"] == 10.0  # the shipped figure

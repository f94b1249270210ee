"""The relative navigation's start-up checks of gnc.toml [navigation] that span two keys."""

from __future__ import annotations

import pytest

from fsw.app import ConfigError


@pytest.mark.parametrize("tau_net", [100.0, 300.0])
def test_the_sustained_thrusts_short_time_must_be_shorter_than_the_long_one(navigation_bench, tau_net):
    with pytest.raises(ConfigError, match=r"gnc\.toml: \[navigation\] thrust_net_tau_s .* must be shorter than "
                                          r"thrust_level_tau_s \(100 s\), or 0"):
        navigation_bench(thrust_net_tau_s=tau_net)


def test_a_zero_short_time_turns_the_sustained_thrusts_term_off(navigation_bench):
    assert navigation_bench(thrust_net_tau_s=0.0).app.prm[0]["thrust_net_tau_s"] == 0.0
    assert navigation_bench().app.prm[0]["thrust_net_tau_s"] == 10.0  # the shipped figure

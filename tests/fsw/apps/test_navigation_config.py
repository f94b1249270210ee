"""The relative navigation's start-up checks of gnc.toml [navigation] that span two keys."""

from __future__ import annotations

import pytest

from fsw.app import ConfigError


@pytest.mark.parametrize("tau_net", [30.0, 300.0])
def test_the_sustained_thrusts_short_time_must_be_shorter_than_its_level(navigation_bench, tau_net):
    with pytest.raises(ConfigError, match=r"gnc\.toml: \[navigation\] thrust_net_tau_s .* must be shorter than "
                                          r"thrust_share_tau_s \(30 s\), or 0"):
        navigation_bench(thrust_net_tau_s=tau_net)


def test_the_sustained_thrusts_level_must_not_outlast_the_window_it_is_judged_against(navigation_bench):
    with pytest.raises(ConfigError, match=r"gnc\.toml: \[navigation\] thrust_share_tau_s \(150 s\) must not be "
                                          r"longer than thrust_level_tau_s \(100 s\)"):
        navigation_bench(thrust_share_tau_s=150.0)


def test_a_zero_short_time_turns_the_sustained_thrusts_term_off(navigation_bench):
    assert navigation_bench(thrust_net_tau_s=0.0).app.prm[0]["thrust_net_tau_s"] == 0.0
    assert navigation_bench().app.prm[0]["thrust_net_tau_s"] == 10.0  # the shipped figures
    assert navigation_bench().app.prm[0]["thrust_share_tau_s"] == 30.0

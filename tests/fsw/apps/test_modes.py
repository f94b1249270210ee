from __future__ import annotations

from pathlib import Path

import pytest

from fsw.app import Bus, ConfigError
from fsw.apps.modes import ModeManager, load_mode_table

TABLE = Path(__file__).resolve().parents[3] / "fsw/config/modes.toml"


def make(events, initial="STANDBY"):
    return ModeManager("modes", Bus(), events, TABLE, initial=initial)


def test_allowed_transition_changes_mode_and_keeps_previous(events):
    mm = make(events)
    ok, _ = mm.request("HOMING", "ground", 5)
    assert ok and mm.mode == "HOMING"
    assert mm.record["prev_mode"] == 0 and mm.record["entered_t_ns"] == 5


def test_illegal_transition_is_rejected_with_an_event(events):
    mm = make(events, initial="DOCKED")
    ok, reason = mm.request("HOMING", "ground", 0)
    assert not ok and "DOCKED -> HOMING" in reason
    assert mm.mode == "DOCKED"
    assert events.emitted[-1][0] == "MODE_REJECTED" and events.emitted[-1][1] == "WARNING"


def test_unknown_initial_mode_fails_at_start_up_naming_it(events):
    with pytest.raises(ConfigError, match="BOGUS"):
        make(events, initial="BOGUS")


def test_mode_table_with_unknown_mode_names_file_and_key(tmp_path):
    bad = tmp_path / "modes.toml"
    bad.write_text('initial = "STANDBY"\n[allowed]\nSTANDBY = ["WARP"]\n')
    with pytest.raises(ConfigError, match=r"allowed\.STANDBY.*WARP"):
        load_mode_table(bad)


def test_listeners_hear_every_transition(events):
    mm = make(events)
    heard = []
    mm.on_change(lambda old, new, t: heard.append((old, new, t)))
    mm.request("HOMING", "x", 1)
    mm.request("HOLD", "x", 2)
    assert heard == [("STANDBY", "HOMING", 1), ("HOMING", "HOLD", 2)]

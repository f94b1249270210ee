"""Table-driven FDIR engine (fsw/fdir_engine.py): loader checks, watchpoints, actionpoints."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from fsw import fdir_engine as fe
from fsw.messages import INTERNAL, dtype_of
from telemetry.dictionary import TM_BY_NAME

FDIR_TOML = Path(fe.__file__).parent / "config" / "fdir.toml"
THERMAL_TOML = Path(fe.__file__).parent / "config" / "thermal.toml"
S = 1_000_000_000  # ns per second

# A small bus of real record dtypes.
NAMES = ("NAV_STATE", "THERMAL_ZONES", "DEV_THERMISTORS", "EXEC_STATUS")


def _bus():
    return {n: np.zeros((), dtype_of(n)) for n in NAMES}


def _dtypes():
    return {n: dtype_of(n) for n in NAMES}


def _wp(name, message="NAV_STATE", field="valid", op="eq", value=0, persistence=1):
    return dict(name=name, message=message, field=field, op=op, value=value, persistence=persistence)


def _ap(name, expression, response="EVENT", severity="WARNING", max_fires=0, **kw):
    return dict(name=name, expression=expression, response=response, severity=severity,
                max_fires=max_fires, **kw)


def _publish(rec, t_ns, **fields):
    for k, v in fields.items():
        rec[k] = v
    rec["t_ns"] = t_ns
    rec["seq"] += 1


def _engine(watchpoints, actionpoints, bus=None):
    bus = _bus() if bus is None else bus
    eng = fe.FdirEngine({"watchpoint": watchpoints, "actionpoint": actionpoints}, bus, lambda: 0)
    return eng, bus


# --- loader errors name table, entry and key ------------------------------------------------

def _load_error(watchpoints=(), actionpoints=()):
    with pytest.raises(fe.FdirTableError) as exc:
        fe.load_tables({"watchpoint": list(watchpoints), "actionpoint": list(actionpoints)}, _dtypes())
    return str(exc.value)


def test_loader_rejects_unknown_message_naming_entry_and_key():
    msg = _load_error([_wp("a"), _wp("b", message="NAV_STAT")])
    assert "[[watchpoint]] #1 'b'" in msg and "key 'message'" in msg and "NAV_STAT" in msg


def test_loader_rejects_unknown_field_listing_the_records_fields():
    msg = _load_error([_wp("a", field="valdi")])
    assert "key 'field'" in msg and "'valdi'" in msg and "NAV_STATE" in msg and "'valid'" in msg


def test_loader_rejects_array_field_without_index():
    msg = _load_error([_wp("a", message="THERMAL_ZONES", field="temp_C", op="lt", value=0.0)])
    assert "key 'field'" in msg and "temp_C[0]" in msg


def test_loader_rejects_index_beyond_array_length():
    msg = _load_error([_wp("a", message="THERMAL_ZONES", field="temp_C[5]", op="lt", value=0.0)])
    assert "key 'field'" in msg and "out of range" in msg


def test_loader_rejects_unknown_op():
    msg = _load_error([_wp("a", op="lte")])
    assert "key 'op'" in msg and "'lte'" in msg


def test_loader_rejects_bit_op_on_float_field():
    msg = _load_error([_wp("a", message="THERMAL_ZONES", field="power_W", op="any_set", value=1)])
    assert "key 'op'" in msg and "integer field" in msg


def test_loader_rejects_misspelt_key():
    entry = _wp("a")
    entry["persistance"] = entry.pop("persistence")
    msg = _load_error([entry])
    assert "#0 'a'" in msg and "'persistence'" in msg


def test_loader_rejects_unknown_watchpoint_in_expression():
    msg = _load_error([_wp("nav_bad")], [_ap("ap", "nav_bad and zone_cold")])
    assert "[[actionpoint]] #0 'ap'" in msg and "key 'expression'" in msg and "'zone_cold'" in msg


def test_loader_rejects_unknown_response():
    msg = _load_error([_wp("w")], [_ap("ap", "w", response="SWITCH_UNIT:GYRO/0")])
    assert "key 'response'" in msg and "SWITCH_UNIT:GYRO/0" in msg


def test_loader_rejects_switch_unit_zone_out_of_range():
    msg = _load_error([_wp("w")], [_ap("ap", "w", response="SWITCH_UNIT:HEATER/5")])
    assert "key 'response'" in msg


def test_loader_rejects_event_text_longer_than_packet_field():
    msg = _load_error([_wp("w")], [_ap("ap", "w", text="x" * 49)])
    assert "key 'text'" in msg


def test_loader_error_names_the_table_file(tmp_path):
    path = tmp_path / "bad_fdir.toml"
    path.write_text('[[watchpoint]]\nname = "a"\nmessage = "NOPE"\nfield = "valid"\nop = "eq"\n'
                    'value = 0\npersistence = 1\n')
    with pytest.raises(fe.FdirTableError, match=r"^bad_fdir\.toml: \[\[watchpoint\]\] #0 'a'"):
        fe.load_tables(path, _dtypes())


def test_loader_parses_mode_and_switch_unit_responses():
    t = fe.load_tables({"watchpoint": [_wp("w")],
                        "actionpoint": [_ap("m", "w", response="MODE:SAFE"),
                                        _ap("s", "w", response="SWITCH_UNIT:HEATER/3")]}, _dtypes())
    m, s = t.actionpoints
    assert (m.kind, m.mode) == ("MODE", "SAFE")
    assert (s.kind, s.device, s.zone) == ("SWITCH_UNIT", "HEATER", 3)


# --- expressions -----------------------------------------------------------------------------

NAMES3 = {"a": 0, "b": 1, "c": 2}


def test_expression_and_binds_tighter_than_or():
    assert fe.parse_expression("a or b and c", NAMES3) == (0, 1, 2, fe.RPN_AND, fe.RPN_OR)


def test_expression_not_binds_tighter_than_and():
    assert fe.parse_expression("not a and b", NAMES3) == (0, fe.RPN_NOT, 1, fe.RPN_AND)


def test_expression_parentheses_override_precedence():
    assert fe.parse_expression("(a or b) and c", NAMES3) == (0, 1, fe.RPN_OR, 2, fe.RPN_AND)


def test_expression_rejects_python_syntax():
    with pytest.raises(ValueError, match="unexpected"):
        fe.parse_expression("a && b", NAMES3)


def test_expression_rejects_unbalanced_parenthesis():
    with pytest.raises(ValueError, match="expected"):
        fe.parse_expression("(a or b", NAMES3)


@pytest.mark.parametrize("a,b,c", [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)])
def test_actionpoint_expression_matches_python_truth_table(a, b, c):
    bus = _bus()
    wps = [_wp(n, message="THERMAL_ZONES", field=f"heater_on[{i}]", op="eq", value=1)
           for i, n in enumerate("abc")]
    eng, bus = _engine(wps, [_ap("ap", "not a and (b or c)")], bus)
    _publish(bus["THERMAL_ZONES"], 1, heater_on=[a, b, c, 0, 0])
    eng.evaluate(1)
    assert bool(eng.ap_result[0]) == ((not a) and (b or c))


# --- watchpoints -----------------------------------------------------------------------------

def test_watchpoint_becomes_true_after_persistence_consecutive_evaluations():
    eng, bus = _engine([_wp("nav_bad", persistence=3)], [])
    _publish(bus["NAV_STATE"], 1, valid=0)
    seen = []
    for k in range(4):
        eng.evaluate(k * S // 10)
        seen.append(bool(eng.wp_result[0]))
    assert seen == [False, False, True, True]


def test_watchpoint_persistence_restarts_after_one_good_evaluation():
    eng, bus = _engine([_wp("nav_bad", persistence=3)], [])
    rec = bus["NAV_STATE"]
    for valid in (0, 0, 1, 0, 0):
        _publish(rec, 1, valid=valid)
        eng.evaluate(0)
    assert not eng.wp_result[0] and eng.wp_consecutive[0] == 2


def test_watchpoint_counts_every_true_evaluation():
    eng, bus = _engine([_wp("nav_bad", persistence=5)], [])
    rec = bus["NAV_STATE"]
    for valid in (0, 1, 0, 0):
        _publish(rec, 1, valid=valid)
        eng.evaluate(0)
    assert eng.wp_true_count[0] == 3


def test_watchpoint_is_false_before_the_record_is_first_written():
    eng, _ = _engine([_wp("nav_bad")], [])  # zeroed record: valid == 0 but seq == 0
    eng.evaluate(0)
    assert not eng.wp_result[0]


def test_watchpoint_reads_array_element():
    wp = _wp("z2_cold", message="THERMAL_ZONES", field="temp_C[2]", op="lt", value=5.0)
    eng, bus = _engine([wp], [])
    _publish(bus["THERMAL_ZONES"], 1, temp_C=[20.0, 20.0, 4.0, 20.0, 20.0])
    eng.evaluate(0)
    assert eng.wp_result[0]


def test_abs_gt_trips_on_negative_excursion():
    wp = _wp("cold", message="DEV_THERMISTORS", field="temp_C[0]", op="abs_gt", value=100.0)
    eng, bus = _engine([wp], [])
    _publish(bus["DEV_THERMISTORS"], 1, temp_C=[-120.0] + [0.0] * 9)
    eng.evaluate(0)
    assert eng.wp_result[0]


def test_any_clear_trips_when_a_masked_bit_is_clear():
    wp = _wp("p0_bad", message="DEV_THERMISTORS", field="valid_mask", op="any_clear", value=0b101)
    eng, bus = _engine([wp], [])
    _publish(bus["DEV_THERMISTORS"], 1, valid_mask=0b1111111011)  # bit 2 clear
    eng.evaluate(0)
    assert eng.wp_result[0]


def test_any_set_ignores_bits_outside_the_mask():
    wp = _wp("gnc_failed", message="EXEC_STATUS", field="tasks_failed", op="any_set", value=0b0110)
    eng, bus = _engine([wp], [])
    _publish(bus["EXEC_STATUS"], 1, tasks_failed=0b1001)
    eng.evaluate(0)
    assert not eng.wp_result[0]


# --- staleness -------------------------------------------------------------------------------

def _stale_engine(limit_s=1.0):
    return _engine([_wp("nav_stale", field="t_ns", op="stale_s", value=limit_s)], [])


def test_stale_watchpoint_trips_when_t_ns_stops_changing():
    eng, bus = _stale_engine(1.0)
    rec = bus["NAV_STATE"]
    _publish(rec, 5 * S)
    eng.evaluate(5 * S)
    eng.evaluate(int(6.0 * S))  # exactly 1 s: not yet older than the limit
    first = bool(eng.wp_result[0])
    eng.evaluate(int(6.1 * S))
    assert (first, bool(eng.wp_result[0])) == (False, True)


def test_stale_watchpoint_clears_when_a_new_sample_arrives():
    eng, bus = _stale_engine(1.0)
    rec = bus["NAV_STATE"]
    _publish(rec, 0)
    eng.evaluate(0)
    eng.evaluate(2 * S)
    _publish(rec, 2 * S)
    eng.evaluate(int(2.1 * S))
    assert not eng.wp_result[0]


def test_stale_watchpoint_trips_when_same_t_ns_is_rewritten():
    eng, bus = _stale_engine(1.0)
    rec = bus["NAV_STATE"]
    for k in range(3):
        _publish(rec, 0)  # seq advances, sample time does not: a stuck source
        eng.evaluate(k * S)
    assert eng.wp_result[0]


def test_stale_age_of_never_written_record_counts_from_first_evaluation():
    eng, _ = _stale_engine(1.0)
    eng.evaluate(100 * S)
    eng.evaluate(int(100.5 * S))
    assert not eng.wp_result[0]


# --- actionpoints ----------------------------------------------------------------------------

def _nav_engine(max_fires=0, persistence=1, **ap_kw):
    return _engine([_wp("nav_bad", persistence=persistence)],
                   [_ap("nav_hold", "nav_bad", response="HOLD", severity="ERROR",
                        max_fires=max_fires, **ap_kw)])


def _drive(eng, rec, valid_sequence):
    fired = []
    for k, valid in enumerate(valid_sequence):
        _publish(rec, k, valid=valid)
        fired.append(len(eng.evaluate(k)))
    return fired


def test_actionpoint_fires_once_on_rising_edge_not_while_true():
    eng, bus = _nav_engine()
    assert _drive(eng, bus["NAV_STATE"], [1, 0, 0, 0]) == [0, 1, 0, 0]


def test_actionpoint_fires_again_after_condition_clears_and_returns():
    eng, bus = _nav_engine()
    assert _drive(eng, bus["NAV_STATE"], [0, 1, 0]) == [1, 0, 1]


def test_actionpoint_goes_passive_after_max_fires():
    eng, bus = _nav_engine(max_fires=2)
    fired = _drive(eng, bus["NAV_STATE"], [0, 1, 0, 1, 0])
    assert fired == [1, 0, 1, 0, 0] and eng.ap_state(0) == fe.AP_PASSIVE


def test_disabled_actionpoint_does_not_fire():
    eng, bus = _nav_engine()
    eng.set_enabled("nav_hold", False)
    assert _drive(eng, bus["NAV_STATE"], [0, 0]) == [0, 0]


def test_enabling_rearms_actionpoint_while_condition_persists():
    eng, bus = _nav_engine(max_fires=1)
    rec = bus["NAV_STATE"]
    _drive(eng, rec, [0, 0])  # fired once, now passive
    eng.set_enabled(0, True)
    assert _drive(eng, rec, [0]) == [1]


def test_actionpoint_disabled_in_table_starts_disabled():
    eng, _ = _nav_engine(enabled=False)
    assert eng.ap_state("nav_hold") == fe.AP_DISABLED


def test_set_enabled_rejects_unknown_index():
    eng, _ = _nav_engine()
    with pytest.raises(IndexError):
        eng.set_enabled(7, True)


def test_response_carries_kind_severity_text_and_time():
    eng, bus = _nav_engine(text="FDIR: nav bad")
    _publish(bus["NAV_STATE"], 1, valid=0)
    (r,) = eng.evaluate(42)
    assert (r.actionpoint, r.index, r.kind, r.severity, r.text, r.t_ns) == (
        "nav_hold", 0, "HOLD", "ERROR", "FDIR: nav bad", 42)


def test_evaluate_without_time_reads_the_time_source():
    bus = _bus()
    eng = fe.FdirEngine({"watchpoint": [_wp("nav_bad")], "actionpoint": [_ap("ap", "nav_bad")]},
                        bus, lambda: 7 * S)
    _publish(bus["NAV_STATE"], 1, valid=0)
    (r,) = eng.evaluate()
    assert r.t_ns == 7 * S


def test_engine_rejects_tables_whose_field_is_not_on_the_bus():
    tables = fe.load_tables({"watchpoint": [_wp("w", message="THERMAL_ZONES", field="fall_C[0]",
                                                 op="lt", value=0.0)],
                             "pending_field": [dict(message="THERMAL_ZONES", field="fall_C",
                                                    type="f32", count=5)]},
                            _dtypes(), include_pending=True)
    with pytest.raises(fe.FdirTableError, match="fall_C"):
        fe.FdirEngine(tables, _bus(), lambda: 0)


# --- the shipped tables ----------------------------------------------------------------------

def _real_records():
    return {n: dtype_of(n) for n in (*TM_BY_NAME, *INTERNAL)}


def test_shipped_fdir_tables_load_against_real_records_plus_pending_fields():
    tables = fe.load_tables(FDIR_TOML, _real_records(), include_pending=True)
    assert len(tables.actionpoints) <= 255  # FDIR_ENABLE addresses actionpoints with a u8


def test_shipped_fdir_tables_read_only_declared_or_pending_fields():
    tables = fe.load_tables(FDIR_TOML, _real_records(), include_pending=True)
    real = _real_records()
    pending = {(p.message, p.field) for p in tables.pending}
    undeclared = {(w.message, w.field) for w in tables.watchpoints
                  if w.message not in real or w.field not in real[w.message].names}
    assert undeclared <= pending


def test_shipped_pending_fields_are_not_yet_in_the_dictionary():
    # When a pending field lands in telemetry/dictionary.py or fsw/messages.py, drop its
    # [[pending_field]] entry from fdir.toml so the list stays the lead's to-do list.
    tables = fe.load_tables(FDIR_TOML, _real_records(), include_pending=True)
    real = _real_records()
    landed = [(p.message, p.field) for p in tables.pending
              if p.message in real and p.field in real[p.message].names]
    assert landed == []


def test_shipped_thermal_zone_limits_agree_with_fdir_limit_watchpoints():
    with open(THERMAL_TOML, "rb") as fh:
        zones = tomllib.load(fh)["zone"]
    tables = fe.load_tables(FDIR_TOML, _real_records(), include_pending=True)
    wp = {w.name: w for w in tables.watchpoints}
    got = [(wp[f"zone{z}_under"].value, wp[f"zone{z}_over"].value) for z in range(len(zones))]
    assert got == [(z["limit_lo_C"], z["limit_hi_C"]) for z in zones]


# --- recoveries: a HOLD whose cause has cleared becomes a bounded retry ---------------------------

def _rc(after="lost", cleared="ok", persistence=3, max_retries=2, **kw):
    return dict(name=kw.pop("name", "back"), after=after, cleared=cleared, persistence=persistence,
                response="RETRY", max_retries=max_retries, severity="WARNING", **kw)


def _recovery_engine(**kw):
    wps = [_wp("invalid", value=0), _wp("ok", value=1)]
    aps = [_ap("lost", "invalid", response="HOLD", max_fires=1)]
    bus = _bus()
    eng = fe.FdirEngine({"watchpoint": wps, "actionpoint": aps, "recovery": [_rc(**kw)]}, bus, lambda: 0)
    return eng, bus["NAV_STATE"]


def _kinds(responses):
    return [(r.actionpoint, r.kind) for r in responses]


def test_recovery_retries_once_the_cause_has_cleared_for_its_persistence():
    eng, nav = _recovery_engine(persistence=3)
    t = 0
    _publish(nav, t, valid=0)
    assert _kinds(eng.evaluate(t)) == [("lost", "HOLD")]
    _publish(nav, t, valid=1)
    fired = [_kinds(eng.evaluate(t + k)) for k in range(1, 4)]
    assert fired == [[], [], [("back", "RETRY")]]  # on the third evaluation in a row, not before
    assert eng.rc_retries == [1]


def test_recovery_count_restarts_when_the_cause_returns_before_the_persistence():
    eng, nav = _recovery_engine(persistence=3)
    _publish(nav, 0, valid=0)
    eng.evaluate(0)
    out = []
    for k, v in enumerate((1, 1, 0, 1, 1, 1), start=1):
        _publish(nav, k, valid=v)
        out.append(_kinds(eng.evaluate(k)))
    assert out == [[], [], [], [], [], [("back", "RETRY")]]


def test_recovery_rearms_its_hold_so_a_returning_cause_holds_again():
    eng, nav = _recovery_engine(persistence=1)
    _publish(nav, 0, valid=0)
    eng.evaluate(0)
    _publish(nav, 1, valid=1)
    assert _kinds(eng.evaluate(1)) == [("back", "RETRY")]
    _publish(nav, 2, valid=0)
    assert _kinds(eng.evaluate(2)) == [("lost", "HOLD")]  # max_fires = 1, but re-armed by the retry


def test_recovery_stops_after_max_retries_and_says_the_vehicle_waits_for_the_ground():
    eng, nav = _recovery_engine(persistence=1, max_retries=1)
    k = 0
    seen = []
    for v in (0, 1, 0, 1, 1):
        _publish(nav, k, valid=v)
        seen += _kinds(eng.evaluate(k))
        k += 1
    assert seen == [("lost", "HOLD"), ("back", "RETRY"), ("lost", "HOLD"), ("back", "EVENT")]
    assert eng.rc_retries == [1] and eng.rc_armed == [False]


def test_recovery_is_quiet_until_its_hold_has_fired():
    eng, nav = _recovery_engine(persistence=1)
    _publish(nav, 0, valid=1)
    assert [eng.evaluate(k) for k in range(5)] == [[]] * 5


@pytest.mark.parametrize(("kw", "key", "words"), [
    (dict(after="nope"), "after", "unknown actionpoint"),
    (dict(after="warn"), "after", "only a HOLD"),
    (dict(cleared="ok and nowhere"), "cleared", "nowhere"),
    (dict(persistence=0), "persistence", ">= 1"),
    (dict(max_retries=-1), "max_retries", ">= 0"),
    (dict(response="RESUME"), "response", "RETRY"),
])
def test_recovery_table_errors_name_the_entry_and_key(kw, key, words):
    wps = [_wp("invalid", value=0), _wp("ok", value=1)]
    aps = [_ap("lost", "invalid", response="HOLD", max_fires=1), _ap("warn", "invalid")]
    rc = _rc(**{k: v for k, v in kw.items() if k != "response"})
    if "response" in kw:
        rc["response"] = kw["response"]
    with pytest.raises(fe.FdirTableError) as exc:
        fe.load_tables({"watchpoint": wps, "actionpoint": aps, "recovery": [rc]}, _dtypes())
    assert "[[recovery]] #0 'back'" in str(exc.value) and f"key {key!r}" in str(exc.value)
    assert words in str(exc.value)


def test_shipped_recoveries_follow_approach_holds_with_a_passing_cause():
    tables = fe.load_tables(FDIR_TOML, {**{n: dtype_of(n) for n in TM_BY_NAME}, **INTERNAL}, include_pending=True)
    after = {rc.after for rc in tables.recoveries}
    assert after == {"attitude_error_outside_kos", "nav_invalid_outside_ellipsoid", "overrun_storm_approach"}
    assert all(rc.max_retries >= 1 and rc.persistence >= 100 for rc in tables.recoveries)

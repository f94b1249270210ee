"""Schedule table: dispatch order, rates and offsets, start-up refusals, the TOML budget table."""

import pytest

from fsw.executive import Executive, Schedule, ScheduleEntry, ScheduleError, SimClock, load_schedule_table

MS = 1_000_000  # [ns]


def _run(entries, n_frames, **kw):
    ex = Executive(Schedule(entries, **kw), SimClock(kw.get("minor_frame_ns", 10 * MS)))
    ex.run(n_frames=n_frames)
    return ex


def test_entries_in_one_slot_run_in_table_order(make_task, log):
    tasks = [make_task(n) for n in ("nav", "guid", "att")]
    _run([ScheduleEntry(t.name, t, 10, 0, 100) for t in tasks], n_frames=1)
    assert [name for name, _ in log] == ["nav", "guid", "att"]


def test_task_runs_at_its_rate_and_offset(make_task):
    t = make_task("thermal")
    _run([ScheduleEntry("thermal", t, 10, 3, 100)], n_frames=40)
    assert t.calls == [3 * 10 * MS, 13 * 10 * MS, 23 * 10 * MS, 33 * 10 * MS]


def test_full_rate_task_runs_every_frame(make_task):
    t = make_task("gyro")
    _run([ScheduleEntry("gyro", t, 100, 0, 100)], n_frames=7)
    assert len(t.calls) == 7


def test_rate_slower_than_major_frame_extends_the_table(make_task):
    t = make_task("slow")
    sched = Schedule([ScheduleEntry("slow", t, 0.1, 42, 100)])
    assert sched.n_slots == 1000
    _run([ScheduleEntry("slow", t, 0.1, 42, 100)], n_frames=2500)
    assert t.calls == [420 * MS, 10_420 * MS, 20_420 * MS]


def test_schedule_refuses_slot_over_cpu_margin_naming_slot_and_tasks(make_task):
    entries = [ScheduleEntry("nav", make_task("nav"), 10, 2, 3000),
               ScheduleEntry("att", make_task("att"), 10, 2, 2500),
               ScheduleEntry("hk", make_task("hk"), 1, 0, 100)]
    with pytest.raises(ScheduleError) as err:
        Schedule(entries)
    msg = str(err.value)
    assert "slot 2:" in msg and "nav 3000 us" in msg and "att 2500 us" in msg
    assert "5500 us" in msg and "5000 us" in msg
    assert "hk" not in msg


def test_schedule_accepts_slot_at_exactly_the_margin(make_task):
    entries = [ScheduleEntry("a", make_task("a"), 10, 0, 2500), ScheduleEntry("b", make_task("b"), 10, 0, 2500)]
    assert Schedule(entries).slot_budget_us(0) == 5000


def test_cpu_fraction_is_configurable(make_task):
    entries = [ScheduleEntry("a", make_task("a"), 10, 0, 3500)]
    with pytest.raises(ScheduleError, match="30%"):
        Schedule(entries, cpu_fraction=0.3)


def test_rate_that_does_not_divide_the_base_rate_is_refused(make_task):
    with pytest.raises(ScheduleError, match=r"'nav'.*'rate_hz'.*does not divide"):
        Schedule([ScheduleEntry("nav", make_task("nav"), 30, 0, 100)])


def test_rate_whose_period_does_not_fit_the_major_frame_is_refused(make_task):
    with pytest.raises(ScheduleError, match=r"'nav'.*'rate_hz'.*major frame"):
        Schedule([ScheduleEntry("nav", make_task("nav"), 100 / 3, 0, 100)])


def test_offset_out_of_range_is_refused(make_task):
    with pytest.raises(ScheduleError, match=r"'hk'.*'offset' = 10 is out of range.*< 10"):
        Schedule([ScheduleEntry("hk", make_task("hk"), 10, 10, 100)])


def test_negative_budget_is_refused(make_task):
    with pytest.raises(ScheduleError, match=r"'hk'.*'budget_us'"):
        ScheduleEntry("hk", make_task("hk"), 1, 0, -5)


def test_duplicate_name_is_refused(make_task):
    with pytest.raises(ScheduleError, match=r"'hk'.*'name' is a duplicate"):
        Schedule([ScheduleEntry("hk", make_task("a"), 1, 0, 5), ScheduleEntry("hk", make_task("b"), 1, 1, 5)])


def test_task_without_step_is_refused():
    with pytest.raises(ScheduleError, match=r"'hk'.*'task' has no step"):
        ScheduleEntry("hk", object(), 1, 0, 5)


def test_major_frame_must_be_whole_minor_frames(make_task):
    with pytest.raises(ScheduleError, match="major_frame_ns"):
        Schedule([ScheduleEntry("a", make_task("a"), 1, 0, 5)], major_frame_ns=1_005_000_000)


TOML = """
[executive]
minor_frame_ns = 10_000_000
major_frame_ns = 1_000_000_000
cpu_fraction = 0.4

[[schedule]]
task = "att"
rate_hz = 10
offset = 0
budget_us = 300

[[schedule]]
task = "hk"
rate_hz = 1
offset = 5
budget_us = 150.5
"""


def test_schedule_table_loads_from_toml_and_builds(tmp_path, make_task):
    path = tmp_path / "schedule.toml"
    path.write_text(TOML)
    table = load_schedule_table(path)
    assert table.budgets_us() == {"att": 300, "hk": 150.5}
    assert table.cpu_fraction == 0.4
    sched = table.build({"att": make_task("att"), "hk": make_task("hk")})
    assert [e.name for e in sched.entries] == ["att", "hk"]
    assert sched.slots[0] == (0,) and sched.slots[5] == (1,) and sched.slots[15] == ()


def test_schedule_table_row_with_unknown_field_is_refused_naming_row():
    rows = [{"task": "att", "rate_hz": 10, "offset": 0, "budget_ms": 3}]
    with pytest.raises(ScheduleError, match=r"row 0 \('att'\).*budget_ms"):
        load_schedule_table(rows)


def test_schedule_table_row_missing_budget_is_refused():
    with pytest.raises(ScheduleError, match=r"row 0 \('att'\): field 'budget_us' is missing"):
        load_schedule_table([{"task": "att", "rate_hz": 10, "offset": 0}])


def test_schedule_table_naming_unknown_task_is_refused(make_task):
    table = load_schedule_table([{"task": "att", "rate_hz": 10, "offset": 0, "budget_us": 10}])
    with pytest.raises(ScheduleError, match=r"'att': field 'task' names no task"):
        table.build({"nav": make_task("nav")})

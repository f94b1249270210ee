"""Executive behaviour: timing, budgets, faults, the catch-up/skip policy, slips, reporting."""

import json

import pytest

from fsw.executive import EventService, Executive, Schedule, ScheduleEntry, SimClock, WallClock, defaults
from telemetry.dictionary import TM_BY_NAME, event_id

MS = 1_000_000  # [ns]
US = 1_000  # [ns]


def _executive(entries, clock=None, **kw):
    sink = []
    events = EventService(sinks=[sink.append])
    ex = Executive(Schedule(entries), clock or SimClock(10 * MS), events=events, **kw)
    return ex, sink


def test_tasks_receive_the_nominal_frame_time(make_task):
    t = make_task("gyro")
    ex, _ = _executive([ScheduleEntry("gyro", t, 100, 0, 100)])
    ex.run(n_frames=3)
    assert t.calls == [0, 10 * MS, 20 * MS]


def test_slow_task_is_counted_over_budget_and_warned(make_task, perf):
    slow = make_task("slow", perf=perf, cost_ns=700 * US)
    ok = make_task("ok", perf=perf, cost_ns=100 * US)
    ex, sink = _executive([ScheduleEntry("slow", slow, 10, 0, 500), ScheduleEntry("ok", ok, 10, 0, 500)],
                          perf_ns=perf)
    ex.run(n_frames=30)
    assert ex.stats_by_task["slow"].overruns == 3
    assert ex.stats_by_task["ok"].overruns == 0
    assert ex.stats_by_task["slow"].max == 700 * US
    warning = [e for e in sink if e.event_id == event_id("TASK_OVERRUN")]
    assert warning[0].source == "slow" and warning[0].severity_name == "WARNING"
    assert warning[0].args == (700.0, 500.0)


def test_overrun_warnings_are_throttled_but_all_overruns_counted(make_task, perf):
    slow = make_task("slow", perf=perf, cost_ns=700 * US)
    ex, sink = _executive([ScheduleEntry("slow", slow, 100, 0, 500)], perf_ns=perf)
    ex.run(n_frames=50)
    assert ex.stats_by_task["slow"].overruns == 50
    assert len([e for e in sink if e.event_id == event_id("TASK_OVERRUN")]) == ex.events.throttle_after
    assert ex.events.throttled == 50 - ex.events.throttle_after


class _Counter:
    """A fake CPU-time counter, moved by the test."""

    now = 0

    def __call__(self):
        return self.now


def _host_and_task(perf, cpu, stall_calls=(), storm_calls=()):
    """on_step of a 10 Hz task that uses 50 us of processor time a call (700 us on ``storm_calls``), while the
    host takes 2 ms of wall time from it on ``stall_calls`` (1-based): the wall counter ``perf`` sees both."""
    n = [0]

    def on_step(_t_ns):
        n[0] += 1
        use = 700 * US if n[0] in storm_calls else 50 * US
        cpu.now += use
        perf.now += use + (2 * MS if n[0] in stall_calls else 0)
    return on_step


STALLS = (3, 4, 5, 40, 200)  # calls at 0.2-0.4 s, 3.9 s and 19.9 s of mission time


def test_on_a_wall_clock_every_call_over_its_budget_counts_whoever_took_the_time(make_task, perf):
    task = make_task("gnc", on_step=_host_and_task(perf, _Counter(), stall_calls=STALLS))
    ex, _ = _executive([ScheduleEntry("gnc", task, 10, 0, 500)], perf_ns=perf)
    ex.run(n_frames=2500)
    assert ex.stats_by_task["gnc"].overruns == 5


def test_on_a_simulated_clock_a_hosts_stalls_do_not_count_and_the_cpu_time_decides(make_task, perf):
    """The stall at 0.2 s is held pending and starts the CPU-time check; the stalls within 10 s of the last one
    (OVERRUN_VERIFY_NS) extend it, their CPU time being 50 us; the check ends 10 s after the stall at 3.9 s with
    nothing confirmed (one unconfirmed overrun); the stall at 19.9 s starts another, which ends unconfirmed at
    29.9 s. No overrun counts and no warning is emitted."""
    cpu = _Counter()
    task = make_task("gnc", on_step=_host_and_task(perf, cpu, stall_calls=STALLS))
    ex, sink = _executive([ScheduleEntry("gnc", task, 10, 0, 500)], perf_ns=perf, cpu_ns=cpu)
    ex.run(n_frames=1000)
    st = ex.stats_by_task["gnc"]
    assert (st.overruns, st.unconfirmed, st.pending_ns) == (0, 0, 2050 * US)
    assert ex._verify_until == {0: int(3.9e9) + defaults.OVERRUN_VERIFY_NS}
    ex.run(n_frames=1000)
    assert (st.overruns, st.unconfirmed, st.pending_ns) == (0, 1, 2050 * US)
    ex.run(n_frames=1500)
    assert (st.overruns, st.unconfirmed, st.pending_ns) == (0, 2, 0)
    assert len(task.calls) == 350  # the CPU-timed step still ran every call
    assert [e for e in sink if e.event_id == event_id("TASK_OVERRUN")] == []
    assert st.summary()["unconfirmed_overruns"] == 2


def test_on_a_simulated_clock_a_real_storm_counts_on_its_cpu_time(make_task, perf):
    """Calls 10-40 use 700 us of processor time: the first, over budget on the wall clock, is confirmed by the
    second, over it on the CPU clock; all 31 count."""
    cpu = _Counter()
    task = make_task("gnc", on_step=_host_and_task(perf, cpu, storm_calls=range(10, 41)))
    ex, sink = _executive([ScheduleEntry("gnc", task, 10, 0, 500)], perf_ns=perf, cpu_ns=cpu)
    ex.run(n_frames=2500)
    assert ex.stats_by_task["gnc"].overruns == 31
    texts = [e.text for e in sink if e.event_id == event_id("TASK_OVERRUN")]
    assert texts[:2] == ["gnc took 700.0 us, budget 500.0 us", "gnc took 700.0 us of CPU, budget 500.0 us"]
    assert ex._verify_until == {}  # 10 s after the storm's last call the check has ended


def test_raising_task_is_caught_counted_and_marked_failed(make_task):
    bad = make_task("bad", raise_on={2})
    ex, sink = _executive([ScheduleEntry("good", make_task("good"), 100, 0, 100),
                           ScheduleEntry("bad", bad, 100, 0, 100)])
    ex.run(n_frames=5)
    assert ex.stats_by_task["bad"].errors == 1
    assert ex.failed_mask == 0b10 and ex.failed_tasks() == ["bad"]
    err = [e for e in sink if e.event_id == event_id("TASK_FAILED")]
    assert len(err) == 1 and err[0].severity_name == "ERROR" and "bad exploded on call 2" in err[0].text


def test_failed_task_is_not_called_again(make_task):
    bad = make_task("bad", raise_on={2})
    ex, _ = _executive([ScheduleEntry("bad", bad, 100, 0, 100)])
    ex.run(n_frames=5)
    assert len(bad.calls) == 2


def test_tasks_after_a_failing_one_keep_running_in_the_same_and_later_frames(make_task, log):
    ex, _ = _executive([ScheduleEntry("a", make_task("a"), 100, 0, 100),
                        ScheduleEntry("bad", make_task("bad", raise_on={1}), 100, 0, 100),
                        ScheduleEntry("c", make_task("c"), 100, 0, 100)])
    ex.run(n_frames=2)
    assert [name for name, _ in log] == ["a", "bad", "c", "a", "c"]
    assert ex.frame_count == 2


def test_restart_calls_a_failed_task_again(make_task):
    bad = make_task("bad", raise_on={1})
    ex, sink = _executive([ScheduleEntry("bad", bad, 100, 0, 100)])
    ex.run(n_frames=3)
    ex.restart("bad")
    ex.run(n_frames=2)
    assert len(bad.calls) == 3 and ex.failed_mask == 0
    assert sink[-1].event_id == event_id("TASK_RESTARTED")


def test_late_wakeup_catches_up_five_slots_then_skips_ahead(make_task, fake_time):
    # Frame 2 stalls 115 ms: at frame 3's wake-up 11 slots (3..13) are due; 6 are skipped, 9..13 run.
    def stall(t_ns):
        if t_ns == 20 * MS:
            fake_time.now += 115 * MS
    gyro = make_task("gyro", on_step=stall)
    clock = WallClock(10 * MS, spin_ns=500 * US, sleep=fake_time.sleep, counter_ns=fake_time.counter)
    ex, sink = _executive([ScheduleEntry("gyro", gyro, 100, 0, 100)], clock=clock)
    assert ex.step_frame() == 1 and ex.step_frame() == 1 and ex.step_frame() == 1
    assert ex.step_frame() == 5
    assert ex.skipped_slots == 6
    assert gyro.calls == [f * 10 * MS for f in (0, 1, 2, 9, 10, 11, 12, 13)]
    assert ex.step_frame() == 1 and gyro.calls[-1] == 140 * MS  # caught up: waits for the next boundary
    skipped = [e for e in sink if e.event_id == event_id("SLOTS_SKIPPED")]
    assert len(skipped) == 1 and skipped[0].args == (6.0, 9.0)


def test_skipped_slots_are_handed_to_the_world_before_the_next_frame_runs(make_task, fake_time):
    """The world does not wait for a late flight: skipped_frames(t_ns, n) gets the skipped slots (the paced SIL
    runner advances the truth by them), and post_frame runs only for the frames that ran."""
    def stall(t_ns):
        if t_ns == 20 * MS:
            fake_time.now += 115 * MS
    world = []
    gyro = make_task("gyro", on_step=stall)
    clock = WallClock(10 * MS, spin_ns=500 * US, sleep=fake_time.sleep, counter_ns=fake_time.counter)
    ex, _ = _executive([ScheduleEntry("gyro", gyro, 100, 0, 100)], clock=clock,
                       post_frame=lambda t_ns: world.append(("frame", t_ns)),
                       skipped_frames=lambda t_ns, n: world.append(("skipped", t_ns, n)))
    for _ in range(4):
        ex.step_frame()
    frames = [("frame", f * 10 * MS) for f in (0, 1, 2)]
    assert world == [*frames, ("skipped", 30 * MS, 6), *[("frame", f * 10 * MS) for f in (9, 10, 11, 12, 13)]]


def test_late_wakeup_within_the_catch_up_limit_runs_every_slot(make_task, scripted_clock):
    gyro = make_task("gyro")
    ex, _ = _executive([ScheduleEntry("gyro", gyro, 100, 0, 100)], clock=scripted_clock(10 * MS, [0, 35 * MS]))
    ex.run(n_frames=6)
    assert gyro.calls == [f * 10 * MS for f in range(6)] and ex.skipped_slots == 0


def test_run_counts_skipped_slots_towards_n_frames(make_task, scripted_clock):
    ex, _ = _executive([ScheduleEntry("gyro", make_task("gyro"), 100, 0, 100)],
                       clock=scripted_clock(10 * MS, [0, 95 * MS]))
    ex.run(n_frames=20)
    assert ex.clock.frame == 19 and ex.skipped_slots == 5 and ex.frame_count == 15


def test_rate_group_counts_slip_when_frame_starts_late(make_task, scripted_clock):
    ex, sink = _executive([ScheduleEntry("gyro", make_task("gyro"), 100, 0, 100)],
                          clock=scripted_clock(10 * MS, [0, 0, 12 * MS]))
    ex.run(n_frames=5)
    assert ex.cycle_slips == 1 and ex.rate_groups["100Hz"].cycle_slips == 1
    slip = [e for e in sink if e.event_id == event_id("CYCLE_SLIP")]
    assert slip[0].source == "rg_100Hz" and slip[0].args == (12_000.0, 2.0)


def test_slower_rate_group_does_not_slip_when_late_by_less_than_its_period(make_task, scripted_clock):
    ex, _ = _executive([ScheduleEntry("nav", make_task("nav"), 10, 0, 100)],
                       clock=scripted_clock(10 * MS, [12 * MS]))
    ex.run(n_frames=5)
    assert ex.cycle_slips == 1 and ex.rate_groups["10Hz"].cycle_slips == 0


def test_on_time_frames_do_not_slip(make_task):
    ex, _ = _executive([ScheduleEntry("gyro", make_task("gyro"), 100, 0, 100)])
    ex.run(n_frames=100)
    assert ex.cycle_slips == 0 and ex.rate_groups["100Hz"].cycle_slips == 0


def test_skipped_slot_counts_a_slip_for_each_rate_group_due_in_it(make_task, scripted_clock):
    # Frame 1 wakes 95 ms late: slots 1..10 are due, 1..5 skipped; the 10 Hz task at offset 3 lost a cycle.
    ex, _ = _executive([ScheduleEntry("gyro", make_task("gyro"), 100, 0, 100),
                        ScheduleEntry("nav", make_task("nav"), 10, 3, 100)],
                       clock=scripted_clock(10 * MS, [0, 95 * MS]))
    ex.step_frame()
    ex.step_frame()
    assert ex.skipped_slots == 5
    assert ex.rate_groups["10Hz"].cycle_slips == 1
    assert ex.rate_groups["100Hz"].cycle_slips >= 5


def test_frame_overrun_counted_when_tasks_end_past_the_next_boundary(make_task, perf):
    # Budgets pass the start-up check, but the task really takes 12 ms: on a target this frame would slip.
    hog = make_task("hog", perf=perf, cost_ns=12 * MS)
    ex, sink = _executive([ScheduleEntry("hog", hog, 10, 0, 4000)], perf_ns=perf)
    ex.run(n_frames=10)
    assert ex.frame_overruns == 1
    assert any(e.event_id == event_id("FRAME_OVERRUN") for e in sink)


def test_run_until_ns_stops_at_mission_time(make_task):
    t = make_task("gyro")
    ex, _ = _executive([ScheduleEntry("gyro", t, 100, 0, 100)])
    ex.run(until_ns=55 * MS)
    assert t.calls[-1] == 50 * MS and ex.frame_count == 6


def test_stop_callable_ends_the_run(make_task):
    t = make_task("gyro")
    ex, _ = _executive([ScheduleEntry("gyro", t, 100, 0, 100)])
    ex.run(stop=lambda: len(t.calls) >= 4)
    assert len(t.calls) == 4


def test_pre_and_post_frame_hooks_bracket_the_tasks(make_task, log):
    ex, _ = _executive([ScheduleEntry("gyro", make_task("gyro"), 100, 0, 100)],
                       pre_frame=lambda t: log.append(("pre", t)), post_frame=lambda t: log.append(("post", t)))
    ex.run(n_frames=2)
    assert log == [("pre", 0), ("gyro", 0), ("post", 0), ("pre", 10 * MS), ("gyro", 10 * MS), ("post", 10 * MS)]


def test_post_frame_runs_on_frames_with_nothing_due(make_task, log):
    ex, _ = _executive([ScheduleEntry("hk", make_task("hk"), 1, 0, 100)], post_frame=lambda t: log.append(t))
    ex.run(n_frames=3)
    assert log == [("hk", 0), 0, 10 * MS, 20 * MS] and ex.frame_count == 3


def test_failing_hook_is_reported_and_stops_the_run(make_task):
    def broken(t_ns):
        raise OSError("truth diverged")
    ex, sink = _executive([ScheduleEntry("hk", make_task("hk"), 1, 0, 100)], post_frame=broken)
    with pytest.raises(OSError):
        ex.run(n_frames=3)
    assert sink[-1].severity_name == "CRITICAL" and "truth diverged" in sink[-1].text


def test_summary_is_json_serialisable_with_the_task_fields(make_task, perf):
    ex, _ = _executive([ScheduleEntry("nav", make_task("nav", perf=perf, cost_ns=250 * US), 10, 0, 300)],
                       perf_ns=perf)
    ex.run(n_frames=100)
    s = json.loads(json.dumps(ex.summary()))
    nav = s["tasks"]["nav"]
    assert {"calls", "budget_us", "p50_us", "p99_us", "max_us", "overruns", "errors"} <= set(nav)
    assert nav["calls"] == 10 and nav["budget_us"] == 300 and nav["max_us"] == 250
    assert abs(nav["p50_us"] - 250) <= 250 * 0.032
    assert s["rate_groups"]["10Hz"]["cycles"] == 10 and s["rate_groups"]["10Hz"]["tasks"] == ["nav"]
    assert s["frames"] == 100 and s["lateness"]["max_us"] == 0
    assert s["cpu_load_pct"] == pytest.approx(100 * 10 * 250 * US / (100 * 10 * MS))


def test_exec_status_fields_match_the_telemetry_dictionary(make_task):
    ex, _ = _executive([ScheduleEntry("nav", make_task("nav"), 10, 0, 300)])
    ex.run(n_frames=10)
    assert set(ex.exec_status()) == {f.name for f in TM_BY_NAME["EXEC_STATUS"].fields}


def test_task_timing_fields_match_the_telemetry_dictionary(make_task):
    ex, _ = _executive([ScheduleEntry("nav", make_task("nav"), 10, 0, 300)])
    ex.run(n_frames=10)
    rows = ex.task_timing()
    assert set(rows[0]) == {f.name for f in TM_BY_NAME["EXEC_TASK_TIMING"].fields}
    assert rows[0]["task_id"] == 0 and rows[0]["calls"] == 1


def test_timeline_keeps_the_worst_frames_and_writes_json_and_csv(make_task, perf, tmp_path):
    costs = iter([100, 900, 300, 700, 200] * 2)

    class Varying:
        def step(self, t_ns):
            perf.now += next(costs) * US

    ex, _ = _executive([ScheduleEntry("v", Varying(), 100, 0, 4000), ScheduleEntry("w", make_task("w"), 100, 0, 10)],
                       perf_ns=perf, timeline=2)
    ex.run(n_frames=5)
    frames = ex.timeline.frames()
    assert [f["frame"] for f in frames] == [1, 3]
    assert frames[0]["tasks"][0] == {"task": "v", "start_ns": 0, "duration_ns": 900 * US}
    assert frames[0]["tasks"][1]["task"] == "w" and frames[0]["tasks"][1]["start_ns"] == 900 * US
    assert json.loads(ex.write_timeline(tmp_path / "t.json").read_text()) == frames
    lines = ex.write_timeline(tmp_path / "t.csv").read_text().splitlines()
    assert lines[0].startswith("frame,") and len(lines) == 1 + 4


def test_clock_and_schedule_must_agree_on_the_minor_frame(make_task):
    with pytest.raises(ValueError, match="minor frame"):
        Executive(Schedule([ScheduleEntry("a", make_task("a"), 1, 0, 5)]), SimClock(20 * MS))


def test_executive_binds_event_time_to_its_clock(make_task):
    bad = make_task("bad", raise_on={1})
    ex, sink = _executive([ScheduleEntry("bad", bad, 10, 7, 100)])
    ex.run(n_frames=20)
    assert sink[0].t_ns == 70 * MS


def test_summary_reports_measured_slot_time_against_its_budget(make_task, perf):
    ex, _ = _executive([ScheduleEntry("nav", make_task("nav", perf=perf, cost_ns=250 * US), 10, 0, 300),
                        ScheduleEntry("att", make_task("att", perf=perf, cost_ns=100 * US), 10, 0, 200),
                        ScheduleEntry("hk", make_task("hk", perf=perf, cost_ns=50 * US), 1, 4, 100)],
                       perf_ns=perf)
    ex.run(n_frames=100)
    s = ex.summary()
    assert s["worst_slots"][0] == {"slot": 0, "tasks": ["nav", "att"], "budget_us": 500, "max_busy_us": 350,
                                   "runs": 1}
    assert s["rate_groups"]["10Hz"]["max_frame_us"] == 350 and s["rate_groups"]["1Hz"]["max_frame_us"] == 50


# ---------------------------------------------------------------- idle-frame batching (simulated time)

def _frames_seen(make_task, batched: bool, n_frames=None, until_ns=None, raise_on=()):
    """Run a 10 Hz + 1 Hz schedule; return (task calls, frames post_frame/idle_frames covered, executive)."""
    a = make_task("a", raise_on=raise_on)
    b = make_task("b")
    covered = []
    batches = []

    def idle(t_ns, n):
        batches.append(n)
        covered.extend(t_ns + k * 10 * MS for k in range(n))

    ex, _ = _executive([ScheduleEntry("a", a, 10, 2, 500), ScheduleEntry("b", b, 1, 7, 500)],
                       post_frame=covered.append, idle_frames=idle if batched else None)
    ex.run(n_frames=n_frames, until_ns=until_ns)
    return (a.calls, b.calls), covered, batches, ex


def test_idle_frames_cover_exactly_the_frames_post_frame_would(make_task):
    calls, covered, _, ex = _frames_seen(make_task, batched=False, n_frames=437)
    calls_b, covered_b, batches, ex_b = _frames_seen(make_task, batched=True, n_frames=437)
    assert calls_b == calls
    assert covered_b == covered == [k * 10 * MS for k in range(437)]
    assert max(batches) == 9 and min(batches) >= 2  # slot 2 busy every 10 frames, slot 7 once a second
    assert ex_b.frame_count == ex.frame_count == 437
    assert ex_b.clock.frame == ex.clock.frame
    assert ex_b.lateness.counts[0] == ex.lateness.counts[0] == 437


def test_idle_frames_stop_at_until_ns_and_resume_where_they_stopped(make_task):
    a = make_task("a")
    covered = []
    ex, _ = _executive([ScheduleEntry("a", a, 10, 2, 500)], post_frame=covered.append,
                       idle_frames=lambda t_ns, n: covered.extend(t_ns + k * 10 * MS for k in range(n)))
    ex.run(until_ns=55 * MS)
    assert covered == [k * 10 * MS for k in range(6)]
    ex.run(until_ns=1000 * MS)
    assert covered == [k * 10 * MS for k in range(100)]
    assert a.calls == [k * 100 * MS + 20 * MS for k in range(10)]


def test_a_failed_task_leaves_its_slot_to_the_idle_batches(make_task):
    calls, covered, batches, _ = _frames_seen(make_task, batched=True, n_frames=300, raise_on={1})
    assert calls[0] == [20 * MS]  # raised on its first call, never called again
    assert covered == [k * 10 * MS for k in range(300)]
    assert max(batches) > 9  # slot 2 is free now: the batches run across it


def test_idle_frames_need_a_simulated_clock_and_no_pre_frame(make_task):
    t = make_task("t")
    with pytest.raises(ValueError, match="simulated clock"):
        Executive(Schedule([ScheduleEntry("t", t, 10, 0, 500)]), WallClock(10 * MS), idle_frames=lambda t, n: None)
    with pytest.raises(ValueError, match="no pre_frame"):
        Executive(Schedule([ScheduleEntry("t", t, 10, 0, 500)]), SimClock(10 * MS), pre_frame=lambda t: None,
                  idle_frames=lambda t, n: None)

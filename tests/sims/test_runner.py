"""The SIL runner: run folder, summary contents, scripted commands, keep-out watch."""

from __future__ import annotations

import json
import math

import pytest

from sims.runner import KeepOutWatch, run_sil

SUMMARY_KEYS = ("scenario", "seed", "mission_time_s", "wall_time_s", "speed_factor", "final_mode", "timing",
                "commands", "events", "packets_by_apid", "docking", "guidance")
TASK_KEYS = ("calls", "budget_us", "p50_us", "p99_us", "max_us", "overruns")


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runner") / "run"
    summary = run_sil("final_approach", out, duration_s=5.0, progress=False)
    return out, summary


def test_run_folder_holds_archive_events_and_summary(short_run):
    out, summary = short_run
    assert (out / "telemetry.ccsds").stat().st_size > 0
    assert (out / "events.log").read_text().strip()
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))


def test_summary_has_what_a_person_asks_first(short_run):
    _, summary = short_run
    for key in SUMMARY_KEYS:
        assert key in summary, key
    assert summary["mission_time_s"] == pytest.approx(5.0)
    for task, stats in summary["timing"]["tasks"].items():
        for key in TASK_KEYS:
            assert key in stats, (task, key)
    assert "cycle_slips" in summary["timing"]
    assert summary["packets_by_apid"]["0x102 HK_STATUS"] == 5  # 1 Hz for 5 s


def test_a_second_run_moves_the_first_aside(tmp_path):
    out = tmp_path / "run"
    run_sil("final_approach", out, duration_s=1.0, progress=False)
    first = (out / "summary.json").read_text()
    run_sil("final_approach", out, duration_s=1.0, progress=False)
    assert (tmp_path / "run-1" / "summary.json").read_text() == first
    assert (out / "summary.json").exists()


def test_scripted_command_is_executed_at_its_time(tmp_path):
    out = tmp_path / "run"
    overrides = {"commands": [{"time_s": 1.5, "name": "NOOP"}]}
    summary = run_sil("final_approach", out, duration_s=3.0, progress=False, overrides=overrides)
    assert summary["commands"]["completed"] == 1
    line = next(ln for ln in (out / "events.log").read_text().splitlines() if "NOOP completed" in ln)
    assert float(line.split()[0]) == pytest.approx(1.5)


def test_bad_duration_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="duration"):
        run_sil("final_approach", tmp_path / "run", duration_s=0.0, progress=False)


def test_keep_out_watch_reports_a_reentry_after_the_exit():
    watch = KeepOutWatch(200.0)
    for t, rng in enumerate([120.0, 150.0, 210.0, 260.0, 190.0, 300.0]):
        watch.update(float(t), in_cam=True, range_m=rng)
    report = watch.as_dict()
    assert report["exit_time_s"] == 2.0 and report["min_range_after_exit_m"] == 190.0 and report["reentered"]


def test_keep_out_watch_is_silent_without_a_cam():
    watch = KeepOutWatch(200.0)
    watch.update(1.0, in_cam=False, range_m=10.0)
    assert watch.as_dict() is None and math.isinf(watch.min_after_exit_m)


def test_an_unpaced_run_collects_garbage_between_seconds_and_puts_the_collector_back(tmp_path, monkeypatch):
    """Python's collector stays out of the flight's timed calls (sims.runner._Collector): during an unpaced run it is
    off, start-up's objects frozen, and collections happen between mission seconds; after the run it is on again and
    nothing stays frozen (a campaign worker flies many runs)."""
    import gc

    import sims.runner as runner

    seen = []
    real_collect = gc.collect

    def collect(generation=2):
        seen.append((generation, gc.isenabled(), gc.get_freeze_count() > 0))
        return real_collect(generation)

    monkeypatch.setattr(runner.gc, "collect", collect)
    assert gc.isenabled()
    run_sil("final_approach", tmp_path / "run", duration_s=12.0, progress=False, keep_telemetry=False)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    # the full collection before freezing, then the young generations after mission seconds 5 and 10, collector off
    assert seen[-3:] == [(2, True, False), (1, False, True), (1, False, True)]


def test_an_observers_look_after_each_frame_is_charged_to_no_task(tmp_path):
    """run_sil(observer=...): after_frame runs after the frame's timed calls, before the truth advances. An observer
    that spends 30 ms of processor time after each of the first 40 frames that ran tasks (far more than any task's
    budget or any task's own call) leaves every task's longest call below that: a harness (qz nees) does not put
    the flight's tasks over their budgets, however slow the host."""
    import time

    class Busy:
        frames = 0

        def attach(self, flight, truth):
            self.truth, self.times = truth, []

        def after_frame(self, t_ns):
            self.times.append((t_ns, self.truth.t_ns))  # the truth is still at the frame's time
            if self.frames < 40:
                self.frames += 1
                end = time.thread_time_ns() + 30_000_000
                while time.thread_time_ns() < end:
                    pass

    busy = Busy()
    summary = run_sil("final_approach", tmp_path / "run", duration_s=5.0, progress=False, observer=busy,
                      keep_telemetry=False)
    assert busy.frames == 40 and all(t == truth_t for t, truth_t in busy.times)
    for name, task in summary["timing"]["tasks"].items():
        assert task["max_us"] < 30_000, name

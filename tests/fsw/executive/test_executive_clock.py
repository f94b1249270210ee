"""Clocks: SimClock steps without sleeping; WallClock holds boundaries with sleep-then-spin (fake time)."""

import ast
from pathlib import Path

from fsw.executive import SimClock, WallClock

MS = 1_000_000  # [ns]
US = 1_000  # [ns]


def test_sim_clock_steps_one_frame_per_wait_and_is_never_late():
    clock = SimClock(10 * MS)
    lateness = [clock.wait_next() for _ in range(3)]
    assert lateness == [0, 0, 0]
    assert clock.frame == 2 and clock.now_ns() == 20 * MS


def test_wall_clock_first_frame_starts_the_run_on_time(fake_time):
    clock = WallClock(10 * MS, spin_ns=500 * US, sleep=fake_time.sleep, counter_ns=fake_time.counter)
    assert clock.wait_next() == 0
    assert clock.frame == 0 and fake_time.sleeps == []


def test_wall_clock_sleeps_until_spin_margin_then_spins_to_the_boundary(fake_time):
    clock = WallClock(10 * MS, spin_ns=500 * US, sleep=fake_time.sleep, counter_ns=fake_time.counter)
    clock.wait_next()
    epoch = fake_time.now
    lateness = clock.wait_next()
    # One sleep of (remaining - spin); the fake overshoot (80 us) is absorbed by the spin margin.
    assert len(fake_time.sleeps) == 1
    assert abs(fake_time.sleeps[0] - (10 * MS - 500 * US) / 1e9) < 1e-5
    assert 0 <= lateness <= fake_time.tick_ns
    assert 0 <= fake_time.now - (epoch + 10 * MS) <= 2 * fake_time.tick_ns


def test_wall_clock_boundaries_do_not_drift_after_a_late_frame(fake_time):
    clock = WallClock(10 * MS, spin_ns=500 * US, sleep=fake_time.sleep, counter_ns=fake_time.counter)
    clock.wait_next()
    epoch = fake_time.now
    fake_time.now += 13 * MS  # a frame that ran 13 ms
    assert 3 * MS - 10 * US < clock.wait_next() < 3 * MS + 10 * US
    clock.wait_next()  # frame 2: waits for epoch + 20 ms, not for 10 ms after the late start
    assert 0 <= fake_time.now - (epoch + 20 * MS) <= 2 * fake_time.tick_ns


def test_wall_clock_reports_lateness_when_woken_late(fake_time):
    clock = WallClock(10 * MS, spin_ns=500 * US, sleep=fake_time.sleep, counter_ns=fake_time.counter)
    clock.wait_next()
    fake_time.now += 35 * MS
    lateness = clock.wait_next()
    assert 25 * MS <= lateness < 25 * MS + 10 * US
    assert fake_time.sleeps == []


def test_wall_clock_skip_moves_frames_without_waiting(fake_time):
    clock = WallClock(10 * MS, spin_ns=500 * US, sleep=fake_time.sleep, counter_ns=fake_time.counter)
    clock.wait_next()
    fake_time.now += 100 * MS
    lateness = clock.skip(8)
    assert clock.frame == 8 and 20 * MS <= lateness < 20 * MS + 10 * US
    assert fake_time.sleeps == []


def test_wall_clock_now_is_mission_time_since_first_frame(fake_time):
    clock = WallClock(10 * MS, sleep=fake_time.sleep, counter_ns=fake_time.counter)
    assert clock.now_ns() == 0
    clock.wait_next()
    fake_time.now += 4 * MS
    assert 4 * MS <= clock.now_ns() < 4 * MS + 10 * US


_TIME_CALLS = {"time", "perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time_ns", "process_time",
               "process_time_ns", "thread_time", "thread_time_ns"}


def test_only_the_clock_module_reads_system_time():
    fsw = Path(__file__).resolve().parents[3] / "fsw"
    offenders = []
    for path in fsw.rglob("*.py"):
        if path == fsw / "executive" / "clock.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
                offenders.append(f"{path.relative_to(fsw)}: from {node.module} import ...")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "time" and node.attr in _TIME_CALLS:
                offenders.append(f"{path.relative_to(fsw)}:{node.lineno}: time.{node.attr}")
            elif isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today") \
                    and isinstance(node.value, ast.Name) and node.value.id in ("datetime", "date"):
                offenders.append(f"{path.relative_to(fsw)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offenders == []

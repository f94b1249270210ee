"""WallClock(pace=X): mission time X times faster than wall time; lateness in mission time."""

from __future__ import annotations

import pytest

from fsw.executive.clock import WallClock

MINOR = 10_000_000


class FakeTime:
    def __init__(self):
        self.t = 1_000_000

    def counter(self):
        return self.t

    def sleep(self, s):
        self.t += int(s * 1e9)


def test_paced_boundaries_are_minor_frame_over_pace_apart():
    ft = FakeTime()
    clock = WallClock(MINOR, spin_ns=0, sleep=ft.sleep, counter_ns=ft.counter, pace=50)
    clock.wait_next()
    start = ft.t
    for _ in range(10):
        assert clock.wait_next() == 0
    assert ft.t - start == 10 * MINOR // 50
    assert clock.now_ns() == 10 * MINOR


def test_paced_lateness_is_in_mission_time():
    ft = FakeTime()
    clock = WallClock(MINOR, spin_ns=0, sleep=ft.sleep, counter_ns=ft.counter, pace=10)
    clock.wait_next()
    ft.t += MINOR // 10 + 100_000   # one wall frame and 0.1 ms wall late
    assert clock.wait_next() == 100_000 * 10


@pytest.mark.parametrize("pace", [0, -1, float("nan"), float("inf"), "2"])
def test_pace_must_be_a_positive_finite_number(pace):
    with pytest.raises(ValueError, match="pace"):
        WallClock(MINOR, pace=pace)

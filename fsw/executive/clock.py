"""Clocks of the cyclic executive: simulated time (SIL) and wall time (HIL).

This module is the ONLY place in the flight software that reads the system time. Mission time is
integer nanoseconds since the start of the run. Both clocks share one interface:

- ``frame``: index of the current minor frame (-1 before the first :meth:`wait_next`);
- ``frame_start_ns``: nominal mission time of the current frame, ``frame * minor_frame_ns``;
- ``now_ns()``: mission time now;
- ``wait_next() -> lateness_ns``: move to the next frame (blocking until its boundary in
  ``WallClock``) and return how late that frame started;
- ``skip(n) -> lateness_ns``: move ``n`` frames on without waiting (the executive's skip-ahead).
"""

from __future__ import annotations

import time

from fsw.executive import defaults
from telemetry.units import NS_PER_S

#: [ns] monotonic high-resolution counter, the one time source for execution-time measurement.
perf_ns = time.perf_counter_ns
#: [ns] the calling thread's CPU time: what an overrun is judged on when the clock is simulated (executive.py).
cpu_ns = time.thread_time_ns



class SimClock:
    """Simulated time: each :meth:`wait_next` steps exactly one minor frame and never sleeps.

    Parameters
    ----------
    minor_frame_ns : int
        [ns] minor-frame period.
    """

    __slots__ = ("minor_frame_ns", "frame")
    simulated = True  # frames are never late: the executive may hand idle frames over in batches

    def __init__(self, minor_frame_ns: int = defaults.MINOR_FRAME_NS):
        self.minor_frame_ns = _check_period(minor_frame_ns)
        self.frame = -1

    @property
    def frame_start_ns(self) -> int:
        """[ns] nominal mission time of the current frame (0 before the first frame)."""
        return max(self.frame, 0) * self.minor_frame_ns

    def now_ns(self) -> int:
        """[ns] mission time: simulated time stands at the start of the current frame."""
        return max(self.frame, 0) * self.minor_frame_ns

    def wait_next(self) -> int:
        """Step one frame; simulated frames are never late, so return 0."""
        self.frame += 1
        return 0

    def skip(self, n: int) -> int:
        """Step ``n`` frames without running them; return the lateness of the new frame (0)."""
        self.frame += n
        return 0


class WallClock:
    """Real time, or real time scaled by ``pace``: holds minor-frame boundaries with sleep-then-spin.

    The run's epoch (mission time 0) is the moment of the first :meth:`wait_next`, so frame 0
    starts on time. Frame ``k``'s boundary is ``epoch + k * minor_frame_ns``: boundaries do not
    drift when a frame starts late. With ``pace`` X, mission time runs X times faster than wall time
    (``qz sim --pace X``): boundaries are ``minor_frame_ns / X`` wall nanoseconds apart, and
    ``now_ns`` and the lateness are mission nanoseconds (wall lateness times X), so a frame that
    starts one minor frame late is a cycle slip whatever the pace.

    Parameters
    ----------
    minor_frame_ns : int
        [ns] minor-frame period.
    spin_ns : int
        [ns] sleep until this long before the boundary, then spin on the counter: ``time.sleep``
        overshoots by tens of microseconds, spinning does not.
    sleep : callable, optional
        ``sleep(seconds)``; tests inject a fake that advances a fake counter.
    counter_ns : callable, optional
        Monotonic counter in ns; defaults to :data:`perf_ns`.
    pace : float
        Mission seconds per wall second (1: real time).
    """

    __slots__ = ("minor_frame_ns", "spin_ns", "frame", "pace", "_sleep", "_counter", "_epoch")

    def __init__(self, minor_frame_ns: int = defaults.MINOR_FRAME_NS, spin_ns: int = defaults.SPIN_NS,
                 sleep=time.sleep, counter_ns=None, pace: float = 1.0):
        self.minor_frame_ns = _check_period(minor_frame_ns)
        if not 0 <= spin_ns:
            raise ValueError(f"WallClock: spin_ns must be >= 0, got {spin_ns}")
        if not (isinstance(pace, int | float) and 0 < pace < float("inf")):
            raise ValueError(f"WallClock: pace must be a finite number > 0, got {pace!r}")
        self.pace = float(pace)
        self.spin_ns = int(spin_ns)
        self.frame = -1
        self._sleep = sleep
        self._counter = perf_ns if counter_ns is None else counter_ns
        self._epoch = None

    @property
    def frame_start_ns(self) -> int:
        """[ns] nominal mission time of the current frame (0 before the first frame)."""
        return max(self.frame, 0) * self.minor_frame_ns

    def now_ns(self) -> int:
        """[ns] mission time now (0 before the run starts)."""
        if self._epoch is None:
            return 0
        if self.pace == 1.0:
            return self._counter() - self._epoch
        return int((self._counter() - self._epoch) * self.pace)

    def wait_next(self) -> int:
        """Block until the next frame boundary; return how late [ns] the frame started."""
        counter = self._counter
        if self._epoch is None:
            self._epoch = counter()
            self.frame = 0
            return 0
        self.frame += 1
        boundary = self._boundary(self.frame)
        now = counter()
        remaining = boundary - now
        if remaining > self.spin_ns:
            self._sleep((remaining - self.spin_ns) / NS_PER_S)
            now = counter()
        while now < boundary:
            now = counter()
        return self._mission(now - boundary)

    def _boundary(self, frame: int) -> int:
        """[ns] wall counter value of frame ``frame``'s start."""
        if self.pace == 1.0:
            return self._epoch + frame * self.minor_frame_ns
        return self._epoch + round(frame * self.minor_frame_ns / self.pace)

    def _mission(self, wall_ns: int) -> int:
        return wall_ns if self.pace == 1.0 else int(wall_ns * self.pace)

    def skip(self, n: int) -> int:
        """Move ``n`` frames on without waiting; return the lateness [ns] of the new frame."""
        if self._epoch is None:
            raise RuntimeError("WallClock.skip before the first wait_next")
        self.frame += n
        return self._mission(self._counter() - self._boundary(self.frame))


def _check_period(minor_frame_ns) -> int:
    if int(minor_frame_ns) != minor_frame_ns or minor_frame_ns <= 0:
        raise ValueError(f"clock: minor_frame_ns must be a positive integer, got {minor_frame_ns!r}")
    return int(minor_frame_ns)

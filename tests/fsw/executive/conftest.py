"""Fakes for executive tests: a controllable perf counter, a fake sleep/counter pair, recording tasks."""

import pytest


class FakePerf:
    """A perf counter that only moves when told: execution times in tests are exact, never measured."""

    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


class FakeTime:
    """A counter/sleep pair for WallClock: each counter read costs ``tick_ns`` (a spin iteration),
    ``sleep`` advances by the asked time plus ``overshoot_ns``."""

    def __init__(self, start_ns=1_000_000_000, tick_ns=1_000, overshoot_ns=80_000):
        self.now = start_ns
        self.tick_ns = tick_ns
        self.overshoot_ns = overshoot_ns
        self.sleeps = []
        self.reads = 0

    def counter(self):
        self.reads += 1
        self.now += self.tick_ns
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += round(seconds * 1e9) + self.overshoot_ns


class Task:
    """Records its calls into a shared log; optionally costs fake perf time, raises, or stalls a clock."""

    def __init__(self, name, log=None, perf=None, cost_ns=0, raise_on=(), on_step=None):
        self.name = name
        self.log = log if log is not None else []
        self.perf = perf
        self.cost_ns = cost_ns
        self.raise_on = set(raise_on)
        self.on_step = on_step
        self.calls = []

    def step(self, t_ns):
        self.calls.append(t_ns)
        self.log.append((self.name, t_ns))
        if self.perf is not None:
            self.perf.now += self.cost_ns
        if self.on_step is not None:
            self.on_step(t_ns)
        if len(self.calls) in self.raise_on:
            raise RuntimeError(f"{self.name} exploded on call {len(self.calls)}")


@pytest.fixture
def perf():
    return FakePerf()


@pytest.fixture
def log():
    return []


@pytest.fixture
def make_task(log):
    """Factory of :class:`Task` sharing the test's call log."""
    def make(name, **kwargs):
        return Task(name, log=log, **kwargs)
    return make


@pytest.fixture
def fake_time():
    return FakeTime()


class ScriptedClock:
    """A clock whose frame lateness follows a script (then 0): late frames without real or fake waiting."""

    def __init__(self, minor_frame_ns, lateness_ns=()):
        self.minor_frame_ns = minor_frame_ns
        self.script = list(lateness_ns)
        self.frame = -1

    def now_ns(self):
        return max(self.frame, 0) * self.minor_frame_ns

    def wait_next(self):
        self.frame += 1
        return self.script.pop(0) if self.script else 0

    def skip(self, n):
        self.frame += n
        return 0


@pytest.fixture
def scripted_clock():
    return ScriptedClock

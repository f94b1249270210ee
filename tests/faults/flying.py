"""Fly a fault scenario once and keep what its tests read: the summary, the event log and the
truth's range to the port once per mission second.

The runner (sims/runner.py) samples the truth's relative range every mission second for its
collision-avoidance watch; :func:`fly` records those samples by handing the runner a watch that
keeps them, so a test can tell whether and when the vehicle was inside the keep-out sphere. Only
that watch is swapped: the run itself is the one ``run_sil`` flies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import sims.runner
from sims.runner import run_sil

_EVENT = re.compile(r"^\s*(?P<t>\d+\.\d+)\s+(?P<sev>[A-Z]+)\s+(?P<app>\S+)\s+(?P<text>.*)$")


class _RecordingWatch(sims.runner.KeepOutWatch):
    """The runner's keep-out watch, also keeping every (time, range) sample it is given."""

    last = None

    def __init__(self, keep_out_radius_m: float):
        super().__init__(keep_out_radius_m)
        self.samples: list[tuple[float, float]] = []
        _RecordingWatch.last = self

    def update(self, t_s: float, in_cam: bool, range_m: float) -> None:
        self.samples.append((t_s, range_m))
        super().update(t_s, in_cam, range_m)


@dataclass(frozen=True)
class Event:
    t_s: float
    severity: str
    app: str
    text: str


@dataclass(frozen=True)
class Flight:
    """One fault scenario's run: what the tests assert on."""

    summary: dict
    events: tuple[Event, ...]
    t_s: np.ndarray  # [s] mission time of each truth sample (once per second)
    range_m: np.ndarray  # [m] truth: chaser CoM to the station docking port, at t_s
    kos_radius_m: float
    run_dir: Path

    def first(self, app: str, text: str) -> Event | None:
        """The first event of ``app`` whose text contains ``text``."""
        return next((e for e in self.events if e.app == app and text in e.text), None)

    def all(self, app: str, text: str) -> list[Event]:
        return [e for e in self.events if e.app == app and text in e.text]

    def range_between(self, t0_s: float, t1_s: float = np.inf) -> np.ndarray:
        """Truth ranges sampled in [t0_s, t1_s)."""
        return self.range_m[(self.t_s >= t0_s) & (self.t_s < t1_s)]

    def kos_entries(self) -> list[float]:
        """Mission times at which the truth crossed into the keep-out sphere from outside."""
        inside = self.range_m < self.kos_radius_m
        return [float(self.t_s[i]) for i in range(1, len(inside)) if inside[i] and not inside[i - 1]]


def read_events(path: Path) -> tuple[Event, ...]:
    events = []
    for line in path.read_text().splitlines():
        m = _EVENT.match(line)
        if m:
            events.append(Event(float(m["t"]), m["sev"], m["app"], m["text"]))
    return tuple(events)


def fly(name: str, tmp_path_factory) -> Flight:
    """Run scenario ``name`` software-in-the-loop once, recording the truth's range each second."""
    out = tmp_path_factory.mktemp(name) / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sims.runner, "KeepOutWatch", _RecordingWatch)
        _RecordingWatch.last = None
        summary = run_sil(name, out, progress=False)
        watch = _RecordingWatch.last
    samples = np.asarray(watch.samples, dtype=float).reshape(-1, 2)
    return Flight(summary=summary, events=read_events(out / "events.log"), t_s=samples[:, 0],
                  range_m=samples[:, 1], kos_radius_m=watch.radius, run_dir=out)

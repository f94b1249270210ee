"""Fly a fault scenario once and keep what its tests read: the summary, the event log and the
truth once per mission second (range to the port, relative position and velocity, attitude error
from the docking attitude, thermal node temperatures); and the assertions every fault test shares.

The runner (sims/runner.py) samples the truth's relative range every mission second for its
collision-avoidance watch; :func:`fly` records those samples by handing the runner a watch that
keeps them, so a test can tell whether and when the vehicle was inside the keep-out sphere. The
watch reads the rest of the truth at the same instants from the truth model the runner built (a
subclass that only remembers itself). Only that bookkeeping is added: the run itself is the one
``run_sil`` flies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from envelope import assert_captured_inside_envelope

import sims.runner
from fsw.core.attitude import quat_from_dcm
from sims.runner import run_sil
from sims.scenario import docking_dcm_LB

ORBIT_S = 5544.0  # docs/reference.md: Tiangong period
_EVENT = re.compile(r"^\s*(?P<t>\d+\.\d+)\s+(?P<sev>[A-Z]+)\s+(?P<app>\S+)\s+(?P<text>.*)$")
_Q_DL = np.zeros(4)
quat_from_dcm(docking_dcm_LB([0.0, 0.0, 0.0]).T, _Q_DL)  # the docking attitude w.r.t. LVLH (C_DL)


class _RecordingTruth(sims.runner.Truth):
    """The runner's truth model, remembered so that the watch can read its state."""

    last = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _RecordingTruth.last = self


class _RecordingWatch(sims.runner.KeepOutWatch):
    """The runner's keep-out watch, also keeping every (time, range) sample it is given and the
    truth's state at that instant."""

    last = None

    def __init__(self, keep_out_radius_m: float):
        super().__init__(keep_out_radius_m)
        self.samples: list[tuple[float, float]] = []
        self.r_LVLH_m: list[np.ndarray] = []
        self.v_LVLH_mps: list[np.ndarray] = []
        self.att_err_deg: list[float] = []
        self.nodes_C: list[dict[str, float]] = []
        self.truth = _RecordingTruth.last  # the runner builds its truth model before the watch
        _RecordingWatch.last = self

    def update(self, t_s: float, in_cam: bool, range_m: float) -> None:
        self.samples.append((t_s, range_m))
        if self.truth is not None:
            r, v = self.truth.relative_state()
            self.r_LVLH_m.append(r)
            self.v_LVLH_mps.append(v)
            # principal angle between the true attitude and the docking attitude (both w.r.t. LVLH)
            dot = min(abs(float(np.dot(self.truth.q_BL, _Q_DL))), 1.0)
            self.att_err_deg.append(float(np.degrees(2.0 * np.arccos(dot))))
            self.nodes_C.append(self.truth.thermal_nodes_C)
        super().update(t_s, in_cam, range_m)


@dataclass(frozen=True)
class Event:
    t_s: float
    severity: str
    app: str
    text: str


@dataclass(frozen=True)
class Flight:
    """One fault scenario's run: what the tests assert on. Truth arrays are sampled at ``t_s``."""

    summary: dict
    events: tuple[Event, ...]
    t_s: np.ndarray  # [s] mission time of each truth sample (once per second)
    range_m: np.ndarray  # [m] truth: chaser CoM to the station docking port
    kos_radius_m: float
    run_dir: Path
    r_LVLH_m: np.ndarray | None = None  # [m] (n, 3) truth: chaser CoM w.r.t. the docking port, LVLH
    v_LVLH_mps: np.ndarray | None = None  # [m/s] (n, 3) truth: its velocity, LVLH
    att_err_deg: np.ndarray | None = None  # [deg] truth: principal angle from the docking attitude
    nodes_C: dict | None = None  # [degC] truth: thermal node name -> (n,) temperatures

    def first(self, app: str, text: str, after_s: float = -np.inf) -> Event | None:
        """The first event of ``app`` whose text contains ``text`` (at or after ``after_s``)."""
        return next((e for e in self.events if e.app == app and text in e.text and e.t_s >= after_s), None)

    def all(self, app: str, text: str) -> list[Event]:
        return [e for e in self.events if e.app == app and text in e.text]

    def range_between(self, t0_s: float, t1_s: float = np.inf) -> np.ndarray:
        """Truth ranges sampled in [t0_s, t1_s)."""
        return self.range_m[(self.t_s >= t0_s) & (self.t_s < t1_s)]

    def kos_entries(self) -> list[float]:
        """Mission times at which the truth crossed into the keep-out sphere from outside."""
        inside = self.range_m < self.kos_radius_m
        return [float(self.t_s[i]) for i in range(1, len(inside)) if inside[i] and not inside[i - 1]]

    def sample(self, t_s: float) -> int:
        """Index of the first truth sample at or after ``t_s``."""
        return min(int(np.searchsorted(self.t_s, t_s)), len(self.t_s) - 1)


def read_events(path: Path) -> tuple[Event, ...]:
    events = []
    for line in path.read_text().splitlines():
        m = _EVENT.match(line)
        if m:
            events.append(Event(float(m["t"]), m["sev"], m["app"], m["text"]))
    return tuple(events)


def fly(name: str, tmp_path_factory, seed: int | None = None) -> Flight:
    """Run scenario ``name`` software-in-the-loop once (with its own seed unless ``seed`` is given),
    recording the truth each mission second."""
    out = tmp_path_factory.mktemp(name) / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sims.runner, "KeepOutWatch", _RecordingWatch)
        mp.setattr(sims.runner, "Truth", _RecordingTruth)
        _RecordingWatch.last = _RecordingTruth.last = None
        summary = run_sil(name, out, progress=False, seed=seed)
        watch = _RecordingWatch.last
        _RecordingTruth.last = None
    samples = np.asarray(watch.samples, dtype=float).reshape(-1, 2)
    nodes = {n: np.array([d[n] for d in watch.nodes_C]) for n in (watch.nodes_C[0] if watch.nodes_C else {})}
    return Flight(summary=summary, events=read_events(out / "events.log"), t_s=samples[:, 0],
                  range_m=samples[:, 1], kos_radius_m=watch.radius, run_dir=out,
                  r_LVLH_m=np.asarray(watch.r_LVLH_m, dtype=float).reshape(-1, 3),
                  v_LVLH_mps=np.asarray(watch.v_LVLH_mps, dtype=float).reshape(-1, 3),
                  att_err_deg=np.asarray(watch.att_err_deg, dtype=float), nodes_C=nodes)


# --------------------------------------------------------------------------------------------
# assertions shared by the fault tests (truth only: never the flight software's own estimate)


def assert_never_collided(run: Flight) -> None:
    assert not run.summary["docking"]["collided"], run.summary["docking"]
    assert run.summary["stop_reason"] != "collision"


def assert_kos_entered_only_on_the_approach(run: Flight) -> None:
    """The truth crosses into the KOS only after guidance's GO at the 200 m hold point."""
    go = run.first("guidance", "GO at hold 2 (200 m)")
    entries = run.kos_entries()
    assert all(go is not None and t >= go.t_s for t in entries), (entries, go)


def assert_leaves_kos_after_cam_and_stays_out(run: Flight, cam_t_s: float) -> None:
    """After the CAM at ``cam_t_s`` the truth leaves the KOS and never comes back."""
    after = run.t_s >= cam_t_s
    outside = after & (run.range_m >= run.kos_radius_m)
    assert outside.any(), "never left the keep-out sphere after the CAM"
    exit_t = run.t_s[np.argmax(outside)]
    assert run.range_between(exit_t).min() >= run.kos_radius_m, "came back into the keep-out sphere"


def assert_docked_safely(run: Flight) -> None:
    """Captured inside the docking envelope, never collided, the KOS entered on the approach only."""
    assert_captured_inside_envelope(run.summary)
    assert_never_collided(run)
    assert_kos_entered_only_on_the_approach(run)


def cam_time(run: Flight) -> float:
    """[s] mission time of guidance's CAM burn (the run must have one)."""
    cam = run.first("guidance", "CAM: dv")
    assert cam is not None, "no CAM"
    return cam.t_s


def assert_cam_end_state(run: Flight) -> None:
    """A CAM inside the KOS: no contact, no collision, out of the KOS and never back for an orbit."""
    cam_t = cam_time(run)
    assert run.summary["final_mode"] == "CAM"
    assert not run.summary["docking"]["contact"]
    assert_never_collided(run)
    assert_kos_entered_only_on_the_approach(run)
    assert_leaves_kos_after_cam_and_stays_out(run, cam_t)
    watch = run.summary["docking"]["collision_avoidance"]
    assert watch["exit_time_s"] is not None and not watch["reentered"], watch
    assert run.summary["mission_time_s"] - cam_t >= ORBIT_S

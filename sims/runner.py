"""Software-in-the-loop runner: truth simulation + HAL sim backend + the flight software.

``run_sil`` flies a scenario and writes a run folder a person can read:
``telemetry.ccsds`` (every packet, framed, append-only), ``events.log``, ``summary.json``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fsw.executive.clock import SimClock
from fsw.executive.events import make_log_sink
from fsw.topology import build_flight
from hal.sim import SimBackend
from sims.scenario import load_scenario
from sims.truth import Truth, station_initial_state
from telemetry.archive import ArchiveWriter
from telemetry.codec import tc_codec
from telemetry.dictionary import MODES, TM_BY_NAME

# After a capture the run goes on this long so the ground sees the DOCKED mode settle.
POST_CAPTURE_S = 10.0
NS_PER_S = 1_000_000_000


class CommandScript:
    """Ground commands of the scenario, uplinked when mission time reaches them."""

    def __init__(self, commands, flight):
        self._pending = sorted(
            (int(round(c["time_s"] * NS_PER_S)), i, c["name"], dict(c.get("args", {})))
            for i, c in enumerate(commands))
        self._flight = flight
        self._seq = 0
        self.next_t_ns = self._pending[0][0] if self._pending else math.inf

    def __call__(self, t_ns: int) -> None:
        while self._pending and self._pending[0][0] <= t_ns:
            _, _, name, args = self._pending.pop(0)
            self._flight.uplink(tc_codec(name).pack(self._seq, **args))
            self._seq = (self._seq + 1) % (1 << 14)
        self.next_t_ns = self._pending[0][0] if self._pending else math.inf


def run_sil(scenario: str | Path, out_dir: str | Path, *, duration_s: float | None = None,
            seed: int | None = None, progress: bool = True) -> dict:
    """Fly ``scenario`` software-in-the-loop; return the summary also written to summary.json."""
    sc = load_scenario(scenario)
    seed = sc.seed if seed is None else seed
    duration_s = sc.duration_s if duration_s is None else duration_s
    if not duration_s > 0:
        raise ValueError(f"--duration must be > 0 s, got {duration_s}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("telemetry.ccsds", "events.log", "summary.json"):
        (out / stale).unlink(missing_ok=True)  # a run folder holds exactly one run

    truth = Truth(sc, seed=seed)
    hal = SimBackend(truth)
    clock = SimClock(sc.minor_frame_ns)
    archive = ArchiveWriter(out / "telemetry.ccsds")
    log_sink = make_log_sink(out / "events.log")
    script = None

    def pre_frame(t_ns: int) -> None:
        if t_ns >= script.next_t_ns:
            script(t_ns)

    def post_frame(t_ns: int) -> None:
        truth.step()

    # The ground uplinks the station's state vector at the start of the run.
    overrides = dict(sc.flight)
    overrides["station_rv_N"] = list(np.concatenate(station_initial_state(sc)))
    flight = build_flight(hal, clock, archive.write, overrides=overrides, event_sinks=[log_sink],
                          pre_frame=pre_frame, post_frame=post_frame)
    script = CommandScript(sc.commands, flight)

    frames_per_s = NS_PER_S // sc.minor_frame_ns
    total_s = int(math.ceil(duration_s))
    stop_reason = "duration"
    capture_end_s = None
    wall0 = time.perf_counter()
    bar = tqdm(total=total_s, unit="s", desc=f"qz sim {sc.name}", disable=not progress, mininterval=0.5)
    try:
        for second in range(total_s):
            flight.executive.run(n_frames=frames_per_s)
            bar.update(1)
            if truth.collided:
                stop_reason = "collision"
                break
            contact = truth.contact
            if contact is not None:
                if not contact.captured:
                    stop_reason = "failed docking contact"
                    break
                capture_end_s = capture_end_s or second + POST_CAPTURE_S
                if second >= capture_end_s:
                    stop_reason = "docked"
                    break
    finally:
        bar.close()
        archive.close()
    wall_s = time.perf_counter() - wall0
    summary = _summary(sc, seed, truth, flight, archive, clock, wall_s, stop_reason)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
    return summary


def _summary(sc, seed, truth, flight, archive, clock, wall_s, stop_reason) -> dict:
    mission_s = truth.t_ns / NS_PER_S
    ex = flight.executive.summary()
    by_apid = {f"{TM_BY_NAME[name].apid:#05x} {name}": n for name, n in sorted(flight.downlink.counts.items())}
    r, v = truth.relative_state()
    summary = {
        "scenario": sc.name,
        "seed": seed,
        "stop_reason": stop_reason,
        "mission_time_s": mission_s,
        "wall_time_s": wall_s,
        "speed_factor": mission_s / wall_s if wall_s > 0 else None,
        "final_mode": MODES[int(flight.modes.record["mode"])],
        "timing": ex,
        "commands": {
            "accepted": flight.commanding.accepted,
            "rejected": flight.commanding.rejected,
            "completed": flight.commanding.completed,
            "rejected_by_reason": dict(flight.commanding.rejected_by_reason),
        },
        "events": {"issued": flight.events.issued, "throttled": flight.events.throttled,
                   "by_severity": dict(flight.events.by_severity)},
        "packets_by_apid": by_apid,
        "final_relative_state": {"r_LVLH_m": [float(x) for x in r], "v_LVLH_mps": [float(x) for x in v]},
        "propellant_used_kg": float(truth.propellant_used_kg),
        "collided": bool(truth.collided),
    }
    contact = truth.contact
    summary["docking"] = contact.as_dict() if contact is not None else {"captured": False, "contact": False}
    return summary

"""Software-in-the-loop runner: truth simulation + HAL sim backend + the flight software.

``run_sil`` flies a scenario and writes a run folder a person can read:
``telemetry.ccsds`` (every packet, framed, append-only), ``events.log``, ``summary.json``.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import time
from pathlib import Path

from tqdm import tqdm

from fsw.executive.clock import SimClock, WallClock
from fsw.executive.events import make_log_sink
from fsw.executive.stats import histograms
from fsw.topology import build_flight, load_flight_config
from hal.sim import SimBackend
from sims.compile_progress import CompileProgress
from sims.deferred import DeferredSink
from sims.deferred import attach as attach_sinks
from sims.link import LinkOptions, finish_link, open_ground_link
from sims.scenario import ScenarioError, command_packet, flight_com_B_m, initial_orbit, load_scenario
from sims.truth import Truth, uplinked_station_state
from telemetry.archive import ArchiveWriter
from telemetry.dictionary import ABORT_TRIGGERS, MODES, TM_BY_NAME
from telemetry.units import NS_PER_S

log = logging.getLogger(__name__)
MODE_CODES = {name: code for code, name in MODES.items()}
RUN_FILES = ("telemetry.ccsds", "events.log", "summary.json")
WARM_UP_S = 2.0  # [s] of mission time flown by the throw-away warm-up run
# After a capture the run goes on this long so the ground sees the DOCKED mode settle.
POST_CAPTURE_S = 10.0
UNPACED_SERVICE_EVERY = 100   # ground-link cycles between services of its transport when the SIL flies unpaced


class CommandScript:
    """Ground commands of the scenario, uplinked when mission time reaches them."""

    def __init__(self, commands, flight):
        # (uplink time, order, command); a command with exec_time_s goes up time-tagged (sims.scenario.command_packet)
        self._pending = sorted((int(round(c["time_s"] * NS_PER_S)), i, c) for i, c in enumerate(commands))
        self._flight = flight
        self._seq = 0
        self.next_t_ns = self._pending[0][0] if self._pending else math.inf

    def __call__(self, t_ns: int) -> None:
        while self._pending and self._pending[0][0] <= t_ns:
            command = self._pending.pop(0)[2]
            self._flight.uplink(command_packet(command, self._seq))
            self._seq = (self._seq + (1 if command.get("exec_time_s") is None else 2)) % (1 << 14)
        self.next_t_ns = self._pending[0][0] if self._pending else math.inf

    def run_until(self, executive, end_ns: int) -> None:
        """Run frames up to ``end_ns``, uplinking each command just before the first frame at its time."""
        while True:
            frame_ns = (executive.clock.frame + 1) * executive.clock.minor_frame_ns  # next frame's start
            if frame_ns >= self.next_t_ns:
                self(frame_ns)
            stop = min(end_ns, self.next_t_ns)
            if frame_ns >= stop:
                return
            executive.run(until_ns=stop)


class TaskFaults:
    """The scenario's flight-side faults on scheduled tasks. ``task_overrun``: during its window the
    target task's call takes ``value`` microseconds of processor time longer (a busy wait, as a real
    overrun would use: the executive judges a SIL call on its CPU time).
    ``task_exception``: during its window the target task raises (a software fault) instead of
    running. Simulation knowledge stays here; the flight software sees only what its executive
    measures and catches."""

    def __init__(self, faults):
        self._windows = {}
        for f in faults:
            if f.kind in ("task_overrun", "task_exception"):
                extra_s = float(f.value or 0.0) * 1e-6 if f.kind == "task_overrun" else None
                span = (int(f.start_s * NS_PER_S), int((f.start_s + f.duration_s) * NS_PER_S), extra_s)
                self._windows.setdefault(f.target, []).append(span)

    def check(self, tasks) -> None:
        """Refuse a fault on a task the flight software does not schedule, naming it."""
        tasks = sorted(tasks)
        unknown = sorted(set(self._windows) - set(tasks))
        if unknown:
            raise ScenarioError(f"scenario faults: task_overrun/task_exception targets {unknown} are not scheduled "
                                f"tasks; tasks: {tasks}")

    def __bool__(self) -> bool:
        return bool(self._windows)

    def wrap(self, task: str, step):
        windows = self._windows.get(task)
        if not windows:
            return step

        def faulty(t_ns: int) -> None:
            for start, end, extra_s in windows:
                if extra_s is None and start <= t_ns < end:
                    raise RuntimeError(f"injected task_exception in {task}")
            step(t_ns)
            for start, end, extra_s in windows:
                if extra_s is not None and start <= t_ns < end:
                    until = time.thread_time() + extra_s  # processor time, as a real overrun uses
                    while time.thread_time() < until:
                        pass
        return faulty


class _Collector:
    """Python's garbage collector during a flight, kept out of the flight software's timed calls.

    Python collects when allocations pass a threshold, inside whichever call made them: on a slow host a
    young-generation collection took 100-700 us (median 120 us) and a full one ~200 us of the start-up's objects,
    counted as overruns of the task that tripped it (fdir, 200 us budget, and orbit_ref on every 10 s of
    `final_approach`), an artefact of the emulator, not of the flight: flight software has no garbage collector.
    So what start-up built (the flight, the truth, numba's dispatchers) is frozen out of every collection, and an
    unpaced run (``manual``) collects between mission seconds, outside the executive's calls: the young generations
    every ``YOUNG_EVERY_S``, everything every ``FULL_EVERY_S``. A paced run keeps Python's own collections (a
    collection between frames would be frame lateness instead). :meth:`close` puts everything back.
    """

    YOUNG_EVERY_S = 5
    FULL_EVERY_S = 600

    def __init__(self, manual: bool):
        gc.collect()
        gc.freeze()
        self.manual = manual and gc.isenabled()
        if self.manual:
            gc.disable()

    def between_seconds(self, second: int) -> None:
        if self.manual:
            if (second + 1) % self.FULL_EVERY_S == 0:
                gc.collect()
            elif (second + 1) % self.YOUNG_EVERY_S == 0:
                gc.collect(1)

    def close(self) -> None:
        if self.manual:
            gc.enable()
            self.manual = False
        gc.unfreeze()  # a campaign worker's next run may collect this run's start-up objects


class KeepOutWatch:
    """After a collision-avoidance manoeuvre, the truth's range: when it left the keep-out sphere
    and how close it came afterwards (sampled once per mission second)."""

    def __init__(self, keep_out_radius_m: float):
        self.radius = keep_out_radius_m
        self.cam_t_s = None
        self.exit_t_s = None
        self.min_after_exit_m = math.inf

    def update(self, t_s: float, in_cam: bool, range_m: float) -> None:
        if self.cam_t_s is None:
            if not in_cam:
                return
            self.cam_t_s = t_s
        if self.exit_t_s is None:
            if range_m >= self.radius:
                self.exit_t_s = t_s
                self.min_after_exit_m = range_m
        else:
            self.min_after_exit_m = min(self.min_after_exit_m, range_m)

    def as_dict(self) -> dict | None:
        if self.cam_t_s is None:
            return None
        exited = self.exit_t_s is not None
        return {"cam_time_s": self.cam_t_s, "keep_out_radius_m": self.radius,
                "exit_time_s": self.exit_t_s if exited else None,
                "min_range_after_exit_m": self.min_after_exit_m if exited else None,
                "reentered": bool(exited and self.min_after_exit_m < self.radius)}


def prepare_run_folder(out_dir: str | Path) -> Path:
    """Create the run folder; a previous run there is moved aside to ``<out>-N``, never overwritten."""
    out = Path(out_dir)
    if out.exists() and any((out / f).exists() for f in RUN_FILES):
        n = 1
        while out.with_name(f"{out.name}-{n}").exists():
            n += 1
        kept = out.with_name(f"{out.name}-{n}")
        out.rename(kept)
        log.info("previous run in %s moved to %s", out, kept)
    out.mkdir(parents=True, exist_ok=True)
    return out


def flight_overrides(sc, seed: int | None = None) -> dict:
    """The scenario's [flight] table plus what the ground uplinks at the start: the station state vector (off by
    the ``[station.ephemeris]`` error drawn from the run's ``seed``, the scenario's by default) and the vehicle's
    loaded mass from the loading manifest (off by the scenario's ``manifest_error_kg``) and the centre of mass
    computed from it (``sims.scenario.flight_com_B_m``: the cargo's placement error and the residual unknown)."""
    overrides = dict(sc.flight)
    overrides["station_rv_N"] = [float(x) for x in uplinked_station_state(sc, sc.seed if seed is None else seed)]
    m = sc.vehicle["mass"]
    overrides.setdefault("mass_kg", float(m["dry_kg"] + m["cargo_kg"] + m["propellant_kg"]
                                          + (m["manifest_error_kg"] if "manifest_error_kg" in m else 0.0)))
    overrides.setdefault("com_B_m", [float(x) for x in flight_com_B_m(sc)])
    return overrides


def far_range_summary(sc, far, guidance, truth) -> dict:
    """The far-range section: the insertion orbit, each burn (time, delta-v, duration, propellant), the delta-v
    against the budget and the propellant against the load, and the time to each hold point."""
    fr = far.summary()
    approach_dv = float(guidance.dv_total) if guidance else 0.0
    m = sc.vehicle["mass"]
    loaded = float(m["propellant_kg"])
    mass0 = float(m["dry_kg"] + m["cargo_kg"] + m["propellant_kg"])
    isp_g0 = float(sc.vehicle["propulsion"]["engine_isp_s"]) * 9.80665
    fr.update({
        "insertion_orbit": initial_orbit(sc.raw),
        "dv_far_range_mps": fr["dv_total_mps"],
        "dv_approach_mps": approach_dv,
        "dv_total_mps": fr["dv_total_mps"] + approach_dv,
        "dv_within_budget": fr["dv_total_mps"] <= fr["dv_budget_mps"],
        "propellant_loaded_kg": loaded,
        "dv_capability_mps": isp_g0 * math.log(mass0 / (mass0 - loaded)),
        "time_to_hold_s": {f"{d:g} m": guidance.hold_arrival_log.get(i) for i, d in enumerate(guidance.dist_m)}
        if guidance else {},
    })
    if truth is not None:
        fr["propellant_used_kg"] = float(truth.propellant_used_kg)
        fr["propellant_within_load"] = fr["propellant_used_kg"] <= loaded
    return fr


def _propellant_estimate(bus) -> float | None:
    """The flight's estimate of the propellant used [kg]: the thrusters' (PROPULSION) and the engines'
    (ENGINE_PERIOD); None in a flight without thruster control."""
    if "PROPULSION" not in bus:
        return None
    used = float(bus.get("PROPULSION", "runner")["prop_used_kg"])
    if "ENGINE_PERIOD" in bus:
        used += float(bus.get("ENGINE_PERIOD", "runner")["prop_used_kg"])
    return used


def write_summary(out: Path, summary: dict) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def _discard(packet: bytes) -> None:
    """Downlink sink of a run that keeps no archive."""


_warmed = False  # this process has flown a warm-up: numba's kernels are loaded for good


def warm_up(sc, seconds: float = WARM_UP_S, progress: bool = False) -> float:
    """Fly a throw-away copy of the run for a few seconds so numba loads (or compiles) its kernels.

    A flight build has no JIT; without this the first frames of a run would carry the load time
    (milliseconds per kernel) as overruns. Paths first taken later (docking camera updates, CAM
    selection) still show their one-off load as an overrun event. Once per process: kernels stay
    loaded, so the later runs of a process (Monte Carlo cases on a worker) skip it. With ``progress``,
    a first run that compiles says so and shows the kernels compiled (``sims.compile_progress``).
    Returns the wall time spent.
    """
    global _warmed
    if _warmed:
        return 0.0
    t0 = time.perf_counter()
    with CompileProgress(enabled=progress):
        truth = Truth(sc, seed=sc.seed)
        step_truth = truth.step
        flight = build_flight(SimBackend(truth), SimClock(sc.minor_frame_ns), lambda packet: None,
                              overrides=flight_overrides(sc, sc.seed), post_frame=lambda t_ns: step_truth(),
                              idle_frames=lambda t_ns, n: truth.run(n))
        flight.executive.run(until_ns=int(seconds * NS_PER_S))
    _warmed = True
    return time.perf_counter() - t0


def run_sil(scenario: str | Path, out_dir: str | Path, *, duration_s: float | None = None,
            seed: int | None = None, progress: bool = True, overrides: dict | None = None,
            timeline: int = 0, keep_telemetry: bool = True, pace: float | None = None,
            link: LinkOptions | None = None, observer=None) -> dict:
    """Fly ``scenario`` software-in-the-loop; return the summary also written to summary.json.

    ``overrides`` is merged into the scenario before validation (Monte Carlo dispersions);
    ``timeline`` > 0 keeps
    that many worst frames (start lateness, each task's start and duration) in ``timeline.json``.
    ``keep_telemetry=False`` encodes every packet as usual but writes no ``telemetry.ccsds`` (a Monte
    Carlo case keeps its summary row only; ``qz mc --rerun`` rebuilds any case with its archive).
    ``pace`` X flies at X times real time on the executive's wall clock (lateness and cycle slips as
    in real-time HIL); None flies as fast as it can. ``link`` serves the ground link while it flies
    (``summary["ground_link"]``). ``observer`` is a ground harness's probe (``qz nees``): ``observer.attach(flight,
    truth)`` is called before it flies, then, if it has one, ``observer.after_frame(t_ns)`` after each frame that
    ran tasks, outside the executive's timed calls and before the truth advances (the flight's records and the
    truth are both at the frame's time). An observer that must see inside a step may also have
    ``observer.wrap_step(wrap)``, returning the ``wrap_step`` the flight is built with (``wrap``, the scenario's
    task faults or None, to compose with); its work then runs inside the task's timed call and counts against the
    task's budget, so it is for short flights that check no timing.
    """
    # everything is checked, and the flight built, before the run folder is made or a previous one moved aside
    sc = load_scenario(scenario, overrides=overrides)
    seed = sc.seed if seed is None else seed
    duration_s = sc.duration_s if duration_s is None else duration_s
    if not (isinstance(duration_s, int | float) and 0 < duration_s < math.inf):
        raise ScenarioError(f"--duration must be a number of seconds > 0, got {duration_s!r}")
    if isinstance(timeline, bool) or not isinstance(timeline, int) or timeline < 0:
        raise ScenarioError(f"--timeline must be an integer >= 0, got {timeline!r}")
    check_pace(pace)
    TaskFaults(sc.faults).check(row["task"] for row in load_flight_config()["schedule"])
    # unpaced, ten mission seconds pass in a few milliseconds: the link is served once per 10 s, not per cycle
    setup = open_ground_link(link, service_every=1 if pace else UNPACED_SERVICE_EVERY) if link is not None else None
    try:
        return _fly_sil(sc, seed, duration_s, out_dir, progress, timeline, keep_telemetry, pace, setup, observer)
    finally:
        if setup is not None:
            setup.transport.close()


def check_pace(pace: float | None) -> None:
    """Refuse a pace that is not a finite number > 0 (one line)."""
    if pace is not None and not (isinstance(pace, int | float) and 0 < pace < math.inf):
        raise ValueError(f"--pace must be a number > 0 (1 = real time), got {pace!r}")


def _fly_sil(sc, seed, duration_s, out_dir, progress, timeline, keep_telemetry, pace, setup, observer=None) -> dict:
    warm_up_s = warm_up(sc, progress=progress)
    truth = Truth(sc, seed=seed)
    hal = SimBackend(truth)
    clock = SimClock(sc.minor_frame_ns) if pace is None else WallClock(sc.minor_frame_ns, pace=pace)
    archive = None
    step_truth = truth.step
    run_truth = truth.run

    after_frame = getattr(observer, "after_frame", None)

    def post_frame(t_ns: int) -> None:  # after a frame that ran tasks: its packets go to the OS, then physics
        flush_archive()
        step_truth()

    def observed_frame(t_ns: int) -> None:  # the same, with the observer's look before physics
        flush_archive()
        after_frame(t_ns)
        step_truth()

    def idle_frames(t_ns: int, n: int) -> None:
        run_truth(n)

    overruns = TaskFaults(sc.faults)
    packets, events = DeferredSink(), DeferredSink()
    wrap = overruns.wrap if overruns else None
    if hasattr(observer, "wrap_step"):
        wrap = observer.wrap_step(wrap)
    flight = build_flight(hal, clock, packets, overrides=flight_overrides(sc, seed), event_sinks=[events],
                          post_frame=post_frame if after_frame is None else observed_frame,
                          idle_frames=idle_frames, skipped_frames=idle_frames, wrap_step=wrap, link=setup)
    if observer is not None:
        observer.attach(flight, truth)
    script = CommandScript(sc.commands, flight)
    overruns.check(flight.executive.stats_by_task)
    if timeline:
        flight.executive.enable_timeline(timeline)
    out = prepare_run_folder(out_dir)
    archive = ArchiveWriter(out / "telemetry.ccsds", batched=True) if keep_telemetry else None
    flush_archive = archive.flush if archive else (lambda: None)
    log_sink = make_log_sink(out / "events.log")
    attach_sinks(flight, packets, archive.write if archive else _discard, events, log_sink)

    total_s = int(math.ceil(duration_s))
    stop_reason = "duration"
    capture_end_s = None
    watch = KeepOutWatch(sc.docking["keep_out_radius_m"])
    cam_code = MODE_CODES["CAM"]
    mode_rec = flight.modes.record
    wall0 = time.perf_counter()
    bar = tqdm(total=total_s, unit="s", desc=f"qz sim {sc.name}", disable=not progress, mininterval=0.5)
    interrupted = False
    collector = _Collector(manual=pace is None)
    try:
        for second in range(total_s):
            script.run_until(flight.executive, (second + 1) * NS_PER_S)
            collector.between_seconds(second)
            bar.update(1)
            watch.update(second + 1.0, int(mode_rec["mode"]) == cam_code, truth.range_m())
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
        if bar.n < bar.total:  # the run ended early: the bar ends at 100 % of what was flown
            bar.total = bar.n
            bar.refresh()
    except KeyboardInterrupt:  # Ctrl-C on a paced, live run: the run folder is still written, then it goes on up
        stop_reason = "interrupted"
        interrupted = True
    finally:
        collector.close()
        wall_s = time.perf_counter() - wall0
        bar.close()
        flight.events.flush_suppressed()  # throttled events not yet reported, with their counts
        finish_link(flight.apps["ground_link"], setup)
        if archive:
            archive.close()
        log_sink.close()
    summary = build_summary(sc, seed, flight, wall_s, stop_reason, truth=truth)
    summary["warm_up_wall_s"] = warm_up_s
    summary["pace"] = pace
    summary["docking"]["collision_avoidance"] = watch.as_dict()
    if timeline:
        flight.executive.write_timeline(out / "timeline.json")
    write_summary(out, summary)
    if interrupted:
        raise KeyboardInterrupt
    return summary


def build_summary(sc, seed, flight, wall_s: float, stop_reason: str, truth=None) -> dict:
    """What a person wants to know about a run; the truth sections only when a truth model flew."""
    mission_s = (flight.executive.clock.frame + 1) * sc.minor_frame_ns / NS_PER_S
    by_apid = {f"{TM_BY_NAME[name].apid:#05x} {name}": n for name, n in sorted(flight.downlink.counts.items())}
    guidance = flight.apps.get("guidance")
    summary = {
        "scenario": sc.name,
        "seed": seed,
        "stop_reason": stop_reason,
        "mission_time_s": mission_s,
        "wall_time_s": wall_s,
        "speed_factor": mission_s / wall_s if wall_s > 0 else None,
        "final_mode": MODES[int(flight.modes.record["mode"])],
        "timing": flight.executive.summary(),
        "timing_histograms": histograms(flight.executive),
        "commands": {
            "accepted": flight.commanding.accepted,
            "rejected": flight.commanding.rejected,
            "completed": flight.commanding.completed,
            "rejected_by_reason": dict(flight.commanding.rejected_by_reason),
        },
        "events": flight.events.counters(),
        "packets_by_apid": by_apid,
        "guidance": {
            "dv_commanded_mps": guidance.dv_total if guidance else None,
            "hold_time_s": {f"{d:g} m": round(guidance.hold_time_log.get(i, 0.0), 1)
                            for i, d in enumerate(guidance.dist_m)} if guidance else {},
            "cam_trigger": ABORT_TRIGGERS[guidance.cam_trigger] if guidance else None,
        },
        "thermal": flight.apps["thermal"].summary() if "thermal" in flight.apps else None,
        "fdir": flight.apps["fdir"].summary() if "fdir" in flight.apps else None,
        "ground_link": flight.apps["ground_link"].summary() if flight.apps["ground_link"].transport else None,
        "propellant_flight_estimate_kg": _propellant_estimate(flight.bus),
    }
    summary["initial_orbit"] = initial_orbit(sc.raw)
    far = flight.apps.get("far_range")
    if far is not None and far.enabled:
        summary["far_range"] = far_range_summary(sc, far, guidance, truth)
    if truth is not None:
        r, v = truth.relative_state()
        contact = truth.contact
        docking = {"captured": bool(contact is not None and contact.captured), "contact": contact is not None,
                   "collided": bool(truth.collided), "propellant_used_kg": float(truth.propellant_used_kg),
                   "hold_time_s": summary["guidance"]["hold_time_s"]}
        if contact is not None:
            docking.update(contact.as_dict())
        summary["docking"] = docking
        summary["final_relative_state"] = {"r_LVLH_m": [float(x) for x in r], "v_LVLH_mps": [float(x) for x in v]}
        dr, dv = truth.ephemeris_error_rtn
        summary["station_ephemeris_uplink_error"] = {"r_rtn_m": [float(x) for x in dr],
                                                     "v_rtn_mps": [float(x) for x in dv]}
    return summary

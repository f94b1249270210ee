"""Hardware-in-the-loop runner: the flight software against a serial port, and the bench device emulator.

``qz hil --port URL --scenario NAME [--lockstep]`` flies the unchanged flight software with the HAL
serial backend (``hal.serial_link``) and writes the run folder of ``qz sim`` (``telemetry.ccsds`` with
LINK_STATS packets at 1 Hz, ``events.log``, ``summary.json`` with a ``hil`` section of link statistics)
plus ``link.log`` (stale-mask changes). ``--pty`` instead creates a pseudo-terminal pair, starts
``qz bench-device`` on its master side as a second process and flies against the slave side.

``qz bench-device --port URL --scenario NAME [--lockstep] [faults]`` plays the devices (``sims.bench``)
and writes ``bench_truth.json`` (docking contact, truth stop reason, line counters) to ``--out``; when
that is the run folder, ``qz hil`` copies the truth's docking result into ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from fsw.executive.clock import SimClock, WallClock
from fsw.executive.events import make_log_sink
from fsw.topology import build_flight
from hal.serial_link import SerialBackend, load_bench_file, stale_devices
from sims.bench import PTY_SCHEME, RESULT_FILE
from sims.deferred import DeferredSink
from sims.deferred import attach as attach_sinks
from sims.link import LinkOptions, finish_link, open_ground_link
from sims.runner import CommandScript, build_summary, flight_overrides, prepare_run_folder, write_summary
from sims.scenario import load_scenario
from telemetry.archive import ArchiveWriter
from telemetry.dictionary import MODES
from telemetry.units import NS_PER_S

log = logging.getLogger(__name__)
POST_CAPTURE_S = 10.0         # [s] the run goes on after DOCKED (as sims.runner)
DOCKED = next(k for k, v in MODES.items() if v == "DOCKED")
BENCH_RESULT_WAIT_S = 10.0    # [s] wait for the emulator's result file after the run


def run_hil(port: str, scenario, out_dir, *, lockstep: bool = False, duration_s: float | None = None,
            seed: int | None = None, bench_file=None, connect_timeout_s: float = 60.0, progress: bool = True,
            handshake: bool = True, record_devices: bool = False, prepared: bool = False,
            link: LinkOptions | None = None) -> dict:
    """Fly ``scenario`` against ``port``; return the summary also written to ``summary.json``.

    ``seed`` only labels the run (the truth, and its seed, live in the bench device). ``link`` serves
    the ground link while it flies (``summary["ground_link"]``).
    """
    sc = load_scenario(scenario)
    seed = sc.seed if seed is None else seed
    duration_s = sc.duration_s if duration_s is None else duration_s
    if not duration_s > 0:
        raise ValueError(f"--duration must be > 0 s, got {duration_s}")
    links = load_bench_file(bench_file, url=port)
    rx_archive = None
    backend = SerialBackend(links, sc.minor_frame_ns, lockstep=lockstep,
                            record=(lambda pkt: rx_archive.write(pkt)) if record_devices else None)
    clock = SimClock(sc.minor_frame_ns) if lockstep else WallClock(sc.minor_frame_ns)
    # Nothing is written until the flight is built, the port open and the far end heard: a refusal leaves no
    # run folder behind (and moves no previous run aside). The handshake comes last, just before the first
    # frame, so a real-time bench device's clock starts with the flight's.
    packets, events = DeferredSink(), DeferredSink()
    script = None
    flight = None
    archive = log_sink = link_log = None
    last_mask = 0

    def pre_frame(t_ns: int) -> None:
        if t_ns >= script.next_t_ns:
            script(t_ns)

    def post_frame(t_ns: int) -> None:
        nonlocal last_mask
        mask = backend.stale_mask
        if mask != last_mask:
            link_log.write(f"{t_ns / NS_PER_S:10.2f} s stale: {' '.join(stale_devices(mask)) or '-'}\n")
            last_mask = mask
        if t_ns % NS_PER_S == 0:
            for rec in backend.update_link_stats():
                flight.downlink.send_record("LINK_STATS", t_ns, rec)

    t_run0 = time.time()
    stop_reason = "duration"
    wall0 = time.perf_counter()
    setup = None
    try:
        setup = open_ground_link(link) if link is not None else None
        flight = build_flight(backend, clock, packets, overrides=flight_overrides(sc, seed), event_sinks=[events],
                              pre_frame=pre_frame, post_frame=post_frame, link=setup)
        script = CommandScript(sc.commands, flight)
        if handshake:
            backend.connect(connect_timeout_s)
        else:
            for serial_link in backend.links:
                serial_link.open_now()
        out = Path(out_dir) if prepared else prepare_run_folder(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        rx_archive = ArchiveWriter(out / "device_rx.ccsds") if record_devices else None
        archive = ArchiveWriter(out / "telemetry.ccsds")
        log_sink = make_log_sink(out / "events.log")
        link_log = open(out / "link.log", "w")  # noqa: SIM115 - closed in the finally below
        attach_sinks(flight, packets, archive.write, events, log_sink)
        frames_per_s = NS_PER_S // sc.minor_frame_ns
        total_s = int(math.ceil(duration_s))
        capture_end_s = None
        mode = "lockstep" if lockstep else "real time"
        bar = tqdm(total=total_s, unit="s", desc=f"qz hil {sc.name} ({mode})", disable=not progress, mininterval=0.5)
        wall0 = time.perf_counter()
        stop = (lambda: backend.peer_ended)  # noqa: E731
        try:
            for second in range(total_s):
                flight.executive.run(n_frames=frames_per_s, stop=stop)
                bar.update(1)
                if backend.peer_ended:
                    stop_reason = "bench device ended the run"
                    break
                if not backend.device_packets_rx and time.perf_counter() - wall0 > connect_timeout_s:
                    stop_reason = f"no device packet within the {connect_timeout_s:g} s connect timeout"
                    break
                if int(flight.modes.record["mode"]) == DOCKED:
                    capture_end_s = capture_end_s or second + POST_CAPTURE_S
                    if second >= capture_end_s:
                        stop_reason = "docked"
                        break
        except KeyboardInterrupt:  # Ctrl-C: the run folder is still written, then it goes on up
            stop_reason = "interrupted"
        finally:
            bar.close()
    finally:
        wall_s = time.perf_counter() - wall0
        if flight is not None:
            flight.events.flush_suppressed()  # throttled events not yet reported, with their counts
            finish_link(flight.apps["ground_link"], setup)
        elif setup is not None:
            setup.transport.close()
        backend.close()
        for f in (archive, log_sink, link_log, rx_archive):
            if f is not None:
                f.close()
    summary = build_summary(sc, seed, flight, wall_s, stop_reason, truth=None)
    summary["hil"] = {"port": port, **backend.summary()}
    # a silent device wrote no result to wait for
    bench = _wait_for_bench_result(out / RESULT_FILE, t_run0, BENCH_RESULT_WAIT_S if backend.device_packets_rx else 0)
    if bench is not None:
        summary["docking"] = bench.get("docking")
        summary["final_relative_state"] = bench.get("final_relative_state")
        summary["bench"] = {k: v for k, v in bench.items() if k not in ("docking", "final_relative_state")}
    write_summary(out, summary)
    if stop_reason == "interrupted":
        raise KeyboardInterrupt
    return summary


def _wait_for_bench_result(path: Path, since: float, wait_s: float) -> dict | None:
    """The emulator's result file when it writes into the run folder (it finishes just after the flight)."""
    deadline = time.perf_counter() + wait_s
    while True:
        try:
            if path.stat().st_mtime >= since:
                bench = json.loads(path.read_text())
                if bench.get("stop_reason") != "running":
                    return bench
        except (OSError, ValueError):
            pass
        if time.perf_counter() > deadline:
            return None
        time.sleep(0.05)


def run_pty_pair(scenario, out_dir, *, lockstep: bool = True, duration_s: float | None = None,
                 seed: int | None = None, bench_args: list[str] = (), progress: bool = True,
                 record: bool = False, connect_timeout_s: float = 120.0, link: LinkOptions | None = None) -> dict:
    """Two processes over a new pseudo-terminal pair: ``qz bench-device`` (child) and the flight (this one)."""
    load_scenario(scenario)  # refused before the run folder or the bench process exists
    out = prepare_run_folder(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix="qz-hil-"))
    port = tmp / "port"
    cmd = [sys.executable, "-m", "ground.cli", "bench-device", "--port", f"{PTY_SCHEME}{port}", "--scenario",
           str(scenario), "--out", str(out), *(["--lockstep"] if lockstep else []),
           *(["--seed", str(seed)] if seed is not None else []),
           *(["--duration", str(duration_s)] if duration_s is not None else []),
           *(["--record"] if record else []), *bench_args]
    bench = subprocess.Popen(cmd)
    try:
        deadline = time.perf_counter() + connect_timeout_s
        while not port.is_symlink():
            if bench.poll() is not None:
                raise RuntimeError(f"qz bench-device exited with {bench.returncode} before opening {port}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"qz bench-device did not create {port} within {connect_timeout_s} s")
            time.sleep(0.05)
        summary = run_hil(str(port), scenario, out, lockstep=lockstep, duration_s=duration_s, seed=seed,
                          progress=progress, prepared=True, record_devices=record,
                          connect_timeout_s=connect_timeout_s, link=link)
        bench.wait(timeout=30)
    finally:
        if bench.poll() is None:
            bench.terminate()
            bench.wait(timeout=10)
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    summary["bench_exit_code"] = bench.returncode
    return summary

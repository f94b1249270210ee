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
from sims.link import LinkOptions, finish_link, open_ground_link
from sims.runner import CommandScript, build_summary, flight_overrides, prepare_run_folder, write_summary
from sims.scenario import load_scenario
from telemetry.archive import ArchiveWriter
from telemetry.dictionary import MODES

log = logging.getLogger(__name__)
NS_PER_S = 1_000_000_000
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
    setup = open_ground_link(link) if link is not None else None
    try:
        out = Path(out_dir) if prepared else prepare_run_folder(out_dir)
        out.mkdir(parents=True, exist_ok=True)
    except BaseException:
        if setup is not None:
            setup.transport.close()
        raise
    rx_archive = ArchiveWriter(out / "device_rx.ccsds") if record_devices else None
    backend = SerialBackend(links, sc.minor_frame_ns, lockstep=lockstep,
                            record=rx_archive.write if rx_archive else None)
    clock = SimClock(sc.minor_frame_ns) if lockstep else WallClock(sc.minor_frame_ns)
    archive = ArchiveWriter(out / "telemetry.ccsds")
    log_sink = make_log_sink(out / "events.log")
    link_log = open(out / "link.log", "w")  # noqa: SIM115 - closed in the finally below
    script = None
    flight = None
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
    try:
        flight = build_flight(backend, clock, archive.write, overrides=flight_overrides(sc), event_sinks=[log_sink],
                              pre_frame=pre_frame, post_frame=post_frame, link=setup)
        script = CommandScript(sc.commands, flight)
        if handshake:
            backend.connect(connect_timeout_s)
        else:
            for link in backend.links:
                link.open()
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
                if int(flight.modes.record["mode"]) == DOCKED:
                    capture_end_s = capture_end_s or second + POST_CAPTURE_S
                    if second >= capture_end_s:
                        stop_reason = "docked"
                        break
        finally:
            bar.close()
    finally:
        wall_s = time.perf_counter() - wall0
        if flight is not None:
            finish_link(flight.apps["ground_link"], setup)
        elif setup is not None:
            setup.transport.close()
        backend.close()
        archive.close()
        log_sink.close()
        link_log.close()
        if rx_archive is not None:
            rx_archive.close()
    summary = build_summary(sc, seed, flight, wall_s, stop_reason, truth=None)
    summary["hil"] = {"port": port, **backend.summary()}
    bench = _wait_for_bench_result(out / RESULT_FILE, t_run0, BENCH_RESULT_WAIT_S)
    if bench is not None:
        summary["docking"] = bench.get("docking")
        summary["final_relative_state"] = bench.get("final_relative_state")
        summary["bench"] = {k: v for k, v in bench.items() if k not in ("docking", "final_relative_state")}
    write_summary(out, summary)
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
    out = prepare_run_folder(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix="qz-hil-"))
    link = tmp / "port"
    cmd = [sys.executable, "-m", "ground.cli", "bench-device", "--port", f"{PTY_SCHEME}{link}", "--scenario",
           str(scenario), "--out", str(out), *(["--lockstep"] if lockstep else []),
           *(["--seed", str(seed)] if seed is not None else []),
           *(["--duration", str(duration_s)] if duration_s is not None else []),
           *(["--record"] if record else []), *bench_args]
    bench = subprocess.Popen(cmd)
    try:
        deadline = time.perf_counter() + connect_timeout_s
        while not link.is_symlink():
            if bench.poll() is not None:
                raise RuntimeError(f"qz bench-device exited with {bench.returncode} before opening {link}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"qz bench-device did not create {link} within {connect_timeout_s} s")
            time.sleep(0.05)
        summary = run_hil(str(link), scenario, out, lockstep=lockstep, duration_s=duration_s, seed=seed,
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

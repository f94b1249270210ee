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
from sims.bench import PTY_SCHEME, RESULT_FILE, LineFaults, run_bench_device
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
            handshake: bool = True, record_devices: bool = False, prepared: bool = False) -> dict:
    """Fly ``scenario`` against ``port``; return the summary also written to ``summary.json``.

    ``seed`` only labels the run (the truth, and its seed, live in the bench device).
    """
    sc = load_scenario(scenario)
    seed = sc.seed if seed is None else seed
    duration_s = sc.duration_s if duration_s is None else duration_s
    if not duration_s > 0:
        raise ValueError(f"--duration must be > 0 s, got {duration_s}")
    out = Path(out_dir) if prepared else prepare_run_folder(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    links = load_bench_file(bench_file, url=port)
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
                              pre_frame=pre_frame, post_frame=post_frame)
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
                 record: bool = False, connect_timeout_s: float = 120.0) -> dict:
    """Two processes over a new pseudo-terminal pair: ``qz bench-device`` (child) and the flight (this one)."""
    out = prepare_run_folder(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix="qz-hil-"))
    link = tmp / "port"
    cmd = [sys.executable, "-m", "sims.cli", "bench-device", "--port", f"{PTY_SCHEME}{link}", "--scenario",
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
                          connect_timeout_s=connect_timeout_s)
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


# ---------------------------------------------------------------------------------------------------
# command line


def _add_fault_args(p) -> None:
    g = p.add_argument_group("line emulation (bench device, seeded)")
    g.add_argument("--baud-pacing", type=int, default=0, metavar="BAUD", help="pace sent bytes at BAUD/10 B/s")
    g.add_argument("--bit-error-rate", type=float, default=0.0, metavar="P", help="probability a bit flips")
    g.add_argument("--drop-rate", type=float, default=0.0, metavar="P", help="probability a byte is lost")
    g.add_argument("--delay", type=float, default=0.0, metavar="S", help="[s] delay of every byte sent")
    g.add_argument("--disconnect", type=_at_for, default=None, metavar="AT:FOR",
                   help="[s] the line goes silent AT seconds after start FOR seconds")
    g.add_argument("--hangup", type=_at_for, default=None, metavar="AT:FOR",
                   help="[s] the port closes AT seconds after start and reappears FOR seconds later")
    g.add_argument("--fault-seed", type=int, default=0, help="seed of the line emulation")


def _at_for(text: str) -> tuple[float, float]:
    try:
        at, dur = (float(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"expected AT:FOR seconds, got {text!r}") from None
    return at, dur


def _faults(args) -> LineFaults | None:
    disc = args.disconnect or (-1.0, 0.0)
    hang = args.hangup or (-1.0, 0.0)
    f = LineFaults(baud=args.baud_pacing, bit_error_rate=args.bit_error_rate, drop_rate=args.drop_rate,
                   delay_s=args.delay, disconnect_at_s=disc[0], disconnect_s=disc[1], hangup_at_s=hang[0],
                   hangup_s=hang[1], seed=args.fault_seed)
    return None if f == LineFaults(seed=args.fault_seed) else f


def _fault_argv(args) -> list[str]:
    argv = []
    for flag, value, default in (("--baud-pacing", args.baud_pacing, 0), ("--bit-error-rate", args.bit_error_rate, 0.0),
                                 ("--drop-rate", args.drop_rate, 0.0), ("--delay", args.delay, 0.0),
                                 ("--fault-seed", args.fault_seed, 0)):
        if value != default:
            argv += [flag, str(value)]
    for flag, value in (("--disconnect", args.disconnect), ("--hangup", args.hangup)):
        if value is not None:
            argv += [flag, f"{value[0]}:{value[1]}"]
    return argv


def register(sub) -> None:
    p = sub.add_parser("hil", help="fly the flight software against a serial port (hardware-in-the-loop)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="pyserial URL or device: /dev/ttyUSB0, /dev/pts/N, socket://h:p, loop://")
    where.add_argument("--pty", action="store_true",
                       help="create a pseudo-terminal pair and start qz bench-device on it (two processes)")
    p.add_argument("--scenario", required=True, help="scenario name or TOML path")
    p.add_argument("--lockstep", action="store_true", help="SimClock, one BENCH_TICK per frame (else WallClock)")
    p.add_argument("--out", default=None, help="run folder (default runs/hil-<scenario>)")
    p.add_argument("--duration", type=float, default=None, help="mission seconds (default: the scenario's)")
    p.add_argument("--seed", type=int, default=None, help="truth seed (--pty) / label of the run")
    p.add_argument("--bench", default=None, help="bench file (default sims/scenarios/_bench.toml)")
    p.add_argument("--connect-timeout", type=float, default=60.0, help="[s] wait for the device's handshake")
    p.add_argument("--no-handshake", action="store_true", help="the far end does not play BENCH_TICK (real time)")
    p.add_argument("--record", action="store_true",
                   help="also archive every device packet accepted (device_rx.ccsds; --pty: bench_tx.ccsds)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_fault_args(p)
    p.set_defaults(func=_hil)

    b = sub.add_parser("bench-device", help="bench device emulator: truth simulation on the far end of a port")
    b.add_argument("--port", required=True, help=f"pyserial URL or device, or {PTY_SCHEME}PATH (new pty pair, "
                                                 "slave published as symlink PATH)")
    b.add_argument("--scenario", required=True, help="scenario name or TOML path")
    b.add_argument("--lockstep", action="store_true", help="advance one frame per BENCH_TICK (else real time)")
    b.add_argument("--seed", type=int, default=None, help="truth seed (default: the scenario's)")
    b.add_argument("--out", default=None, help=f"folder for {RESULT_FILE} (default: none written)")
    b.add_argument("--duration", type=float, default=None, help="mission seconds (default: the scenario's)")
    b.add_argument("--bench", default=None, help="bench file (default sims/scenarios/_bench.toml)")
    b.add_argument("--record", action="store_true", help="archive every sensor packet sent (bench_tx.ccsds)")
    b.add_argument("--idle-timeout", type=float, default=120.0, help="[s] end when the flight side is silent")
    _add_fault_args(b)
    b.set_defaults(func=_bench_device)


def _hil(args) -> int:
    from sims.scenario import ScenarioError

    out = Path(args.out) if args.out else Path("runs") / f"hil-{Path(args.scenario).stem}"
    try:
        if args.pty:
            s = run_pty_pair(args.scenario, out, lockstep=args.lockstep, duration_s=args.duration, seed=args.seed,
                             bench_args=_fault_argv(args), progress=not args.no_progress, record=args.record,
                             connect_timeout_s=args.connect_timeout)
        else:
            s = run_hil(args.port, args.scenario, out, lockstep=args.lockstep, duration_s=args.duration,
                        seed=args.seed, bench_file=args.bench, connect_timeout_s=args.connect_timeout,
                        progress=not args.no_progress, handshake=not args.no_handshake,
                        record_devices=args.record)
    except (ScenarioError, ValueError, TimeoutError, RuntimeError) as err:
        print(f"qz hil: {err}", file=sys.stderr)
        return 2
    _print_summary(s, out)
    dock = s.get("docking") or {}
    return 1 if dock.get("collided") or (dock.get("contact") and not dock.get("captured")) else 0


def _print_summary(s: dict, out: Path) -> None:
    t = s["timing"]
    lat = t["lateness"]
    print(f"{s['scenario']} (HIL, {'lockstep' if s['hil']['lockstep'] else 'real time'}): {s['mission_time_s']:.0f} s "
          f"mission in {s['wall_time_s']:.1f} s ({(s['speed_factor'] or 0):.1f}x), stop: {s['stop_reason']}, "
          f"final mode {s['final_mode']}")
    print(f"frame-start lateness p50 {lat.get('p50_us', 0):.1f} us, p99 {lat.get('p99_us', 0):.1f} us, "
          f"max {lat.get('max_us', 0):.1f} us; cycle slips {t['cycle_slips']}")
    for link in s["hil"]["links"]:
        print(f"link {link['name']}: frames rx {link['frames_rx']} tx {link['frames_tx']}, CRC errors "
              f"{link['crc_errors']}, gaps {link['gaps']}, resyncs {link['resyncs']}, reconnects {link['reconnects']}, "
              f"tick timeouts {link['tick_timeouts']}")
    dock = s.get("docking")
    if dock:
        print(f"docking (bench truth): {'captured' if dock.get('captured') else 'not captured'}"
              + (f" at {dock['time_s']:.1f} s" if "time_s" in dock else "")
              + f"; propellant {dock['propellant_used_kg']:.2f} kg; truth stop: {s['bench']['stop_reason']}")
    print(f"run folder {out}")


def _bench_device(args) -> int:
    from sims.scenario import ScenarioError

    try:
        s = run_bench_device(args.port, args.scenario, lockstep=args.lockstep, seed=args.seed, faults=_faults(args),
                             out=args.out, duration_s=args.duration, bench_file=args.bench, record=args.record,
                             idle_timeout_s=args.idle_timeout)
    except (ScenarioError, ValueError) as err:
        print(f"qz bench-device: {err}", file=sys.stderr)
        return 2
    dock = s["docking"]
    print(f"bench device {s['scenario']} seed {s['seed']} ({s['pacing']}): {s['frames']} frames, "
          f"{s['mission_time_s']:.0f} s mission, stop: {s['stop_reason']}; docking: "
          f"{'captured' if dock['captured'] else ('contact, not captured' if dock['contact'] else 'no contact')}")
    return 0

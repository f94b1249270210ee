"""The run commands: ``qz sim`` (software in the loop), ``qz hil`` and ``qz bench-device`` (hardware in the loop).

Every option is checked before anything touches the disk (argument types of ``ground.options``, the
scenario, the output folder, the port); a bad one is one line on stderr and exit 2 (``ground.cli``).
A run that completes prints its summary and, last, the report it wrote.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ground.options import (
    UsageError,
    check_out_dir,
    existing_file,
    nonneg_count,
    nonneg_seconds,
    number,
    positive_seconds,
    probability,
    seed,
)
from sims.bench import PTY_SCHEME, RESULT_FILE, LineFaults, run_bench_device
from sims.hil import run_hil, run_pty_pair
from telemetry.errors import InputError

pace = number(float, 0.0, lo_open=True)


def register(sub) -> None:
    p = sub.add_parser("sim", help="run a scenario software-in-the-loop and write a run folder",
                       description="Fly a scenario software-in-the-loop into a run folder (telemetry.ccsds, "
                                   "events.log, summary.json, report.html). Scenario format: docs/scenarios.md.")
    p.add_argument("--scenario", default=None,
                   help="a shipped scenario's name (qz sim --list) or the path of a TOML file")
    p.add_argument("--list", action="store_true", help="list the shipped scenarios with their descriptions")
    p.add_argument("--out", default=None, help="run folder (default runs/<scenario>; a previous run is moved aside)")
    p.add_argument("--duration", type=positive_seconds, default=None, help="mission seconds (default: the scenario's)")
    p.add_argument("--seed", type=seed, default=None, help="random seed (default: the scenario's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--timeline", type=nonneg_count, default=0, metavar="N",
                   help="keep the N worst frames (lateness, each task's start and duration) in timeline.json")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.add_argument("--pace", type=pace, default=None, metavar="X",
                   help="fly at X times real time on the wall clock (1 = real time; default: as fast as possible)")
    _add_link_args(p)
    p.set_defaults(func=_sim)
    _register_hil(sub)


def _add_link_args(p) -> None:
    g = p.add_argument_group("ground link (docs/ground-link.md)")
    g.add_argument("--link", default=None, metavar="URL",
                   help="serve the ground link: tcp://HOST:PORT, udp://HOST:PORT (with --tm-dest) or a pyserial URL")
    g.add_argument("--key-file", default=None, metavar="F",
                   help="'SPI hex-key' per line, readable by its owner only: telecommands must be authenticated")
    g.add_argument("--arsn-file", default=None, metavar="S",
                   help="last accepted ARSN per SPI, kept across restarts (default: KEY_FILE.flight-arsn)")
    g.add_argument("--tm-dest", default=None, metavar="HOST:PORT", help="udp:// links: where telemetry datagrams go")


def _link_options(args):
    from sims.link import LinkOptions

    for flag in ("key_file", "arsn_file", "tm_dest"):
        if getattr(args, flag) is not None and args.link is None:
            raise UsageError(f"--{flag.replace('_', '-')} needs --link")
    if args.link is None:
        return None
    return LinkOptions(args.link, args.key_file, args.arsn_file, args.tm_dest)


def _print_link(s: dict) -> None:
    gl = s.get("ground_link")
    if gl:
        rej = ", ".join(f"{k} {v}" for k, v in gl["rejected_by_reason"].items() if v) or "none"
        print(f"ground link {gl['url']}: {gl['clients_total']} client(s), packets out {gl['frames_out']}, "
              f"drops {gl['drops']}, telecommands accepted {gl['tc_accepted']}, rejected: {rej}")


def _stop_on_sigterm() -> None:
    """A batch system's stop ends the run as Ctrl-C does: summary written, archive kept."""
    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)


def _list_scenarios() -> int:
    from sims.scenario import describe_scenarios

    rows = describe_scenarios()
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0


def _report_line(out: Path, no_report: bool) -> None:
    """The last line of a run: the report to open (the run folder was named just before)."""
    if no_report:
        return
    from ground.report import write_report  # matplotlib only when asked

    print(f"report: {write_report(out)}")


def _sim(args) -> int:
    from sims.runner import run_sil

    if args.list:
        return _list_scenarios()
    if args.scenario is None:
        raise UsageError("--scenario is required (qz sim --list shows the shipped scenarios)")
    out = check_out_dir(args.out if args.out else Path("runs") / Path(args.scenario).stem)
    _stop_on_sigterm()
    try:
        s = run_sil(args.scenario, out, duration_s=args.duration, seed=args.seed,
                    progress=not args.no_progress, timeline=args.timeline, pace=args.pace,
                    link=_link_options(args))
    except InputError:
        raise
    except ValueError as err:  # the ground link's refusals (sims.link) are ValueErrors with one-line messages
        raise UsageError(str(err)) from None
    dock = s["docking"]
    print(f"{s['scenario']} seed {s['seed']}: {s['mission_time_s']:.0f} s mission in {s['wall_time_s']:.1f} s "
          f"({s['speed_factor']:.0f}x), stop: {s['stop_reason']}, final mode {s['final_mode']}")
    if s.get("pace"):
        lat = s["timing"]["lateness"]
        print(f"paced at {s['pace']:g}x: frame-start lateness p99 {lat.get('p99_us', 0):.1f} us, "
              f"max {lat.get('max_us', 0):.1f} us (mission time); cycle slips {s['timing']['cycle_slips']}")
    _print_link(s)
    print(f"docking: {'captured' if dock.get('captured') else 'not captured'}; "
          f"propellant {dock['propellant_used_kg']:.2f} kg; run folder {out}")
    _report_line(out, args.no_report)
    return 0 if s["stop_reason"] not in ("collision", "failed docking contact") else 1


def _add_fault_args(p) -> None:
    g = p.add_argument_group("line emulation (in the bench device, seeded; times are wall seconds after the "
                             "handshake, in lockstep too)")
    g.add_argument("--baud-pacing", type=nonneg_count, default=0, metavar="BAUD",
                   help="pace sent bytes at BAUD/10 B/s")
    g.add_argument("--bit-error-rate", type=probability, default=0.0, metavar="P", help="probability a bit flips")
    g.add_argument("--drop-rate", type=probability, default=0.0, metavar="P", help="probability a byte is lost")
    g.add_argument("--delay", type=nonneg_seconds, default=0.0, metavar="S", help="[s] delay of every byte sent")
    g.add_argument("--disconnect", type=_at_for, default=None, metavar="AT:FOR",
                   help="[s] the line goes silent AT seconds after the handshake FOR seconds")
    g.add_argument("--hangup", type=_at_for, default=None, metavar="AT:FOR",
                   help="[s] the port closes AT seconds after the handshake and reappears FOR seconds later")
    g.add_argument("--fault-seed", type=seed, default=0, help="seed of the line emulation")


def _at_for(text: str) -> tuple[float, float]:
    """AT:FOR, wall seconds: AT >= 0, FOR > 0, both finite."""
    try:
        at, dur = (nonneg_seconds(x) for x in text.split(":"))
        positive_seconds(str(dur))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected AT:FOR, two [s] values (AT >= 0, FOR > 0), got {text!r}") \
            from None
    return at, dur


FAULT_FLAGS = ("baud_pacing", "bit_error_rate", "drop_rate", "delay", "disconnect", "hangup")


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


def _register_hil(sub) -> None:
    p = sub.add_parser("hil", help="fly the flight software against a serial port (hardware-in-the-loop)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="pyserial URL or device: /dev/ttyUSB0, /dev/pts/N, socket://h:p, loop://")
    where.add_argument("--pty", action="store_true",
                       help="create a pseudo-terminal pair and start qz bench-device on it (two processes)")
    p.add_argument("--scenario", required=True, help="scenario name or TOML path")
    p.add_argument("--lockstep", action="store_true", help="SimClock, one BENCH_TICK per frame (else WallClock)")
    p.add_argument("--out", default=None, help="run folder (default runs/hil-<scenario>)")
    p.add_argument("--duration", type=positive_seconds, default=None, help="mission seconds (default: the scenario's)")
    p.add_argument("--seed", type=seed, default=None, help="truth seed (--pty) / label of the run")
    p.add_argument("--bench", type=existing_file, default=None, help="bench file (default hal/bench.toml)")
    p.add_argument("--connect-timeout", type=positive_seconds, default=60.0,
                   help="[s] wait for the device's handshake (--no-handshake: for its first packet)")
    p.add_argument("--no-handshake", action="store_true", help="the far end does not play BENCH_TICK (real time)")
    p.add_argument("--record", action="store_true",
                   help="also archive every device packet accepted (device_rx.ccsds; --pty: bench_tx.ccsds)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    _add_link_args(p)
    _add_fault_args(p)
    p.set_defaults(func=_hil)

    b = sub.add_parser("bench-device", help="bench device emulator: truth simulation on the far end of a port")
    b.add_argument("--port", required=True, help=f"pyserial URL or device, or {PTY_SCHEME}PATH (new pty pair, "
                                                 "slave published as symlink PATH)")
    b.add_argument("--scenario", required=True, help="scenario name or TOML path")
    b.add_argument("--lockstep", action="store_true", help="advance one frame per BENCH_TICK (else real time)")
    b.add_argument("--seed", type=seed, default=None, help="truth seed (default: the scenario's)")
    b.add_argument("--out", default=None, help=f"folder for {RESULT_FILE} (default: none written)")
    b.add_argument("--duration", type=positive_seconds, default=None, help="mission seconds (default: the scenario's)")
    b.add_argument("--bench", type=existing_file, default=None, help="bench file (default hal/bench.toml)")
    b.add_argument("--record", action="store_true", help="archive every sensor packet sent (bench_tx.ccsds)")
    b.add_argument("--idle-timeout", type=positive_seconds, default=120.0,
                   help="[s] end when the flight side is silent (no handshake in that time: exit 2)")
    _add_fault_args(b)
    b.set_defaults(func=_bench_device)


def _check_hil_options(args) -> None:
    given = [f"--{f.replace('_', '-')}" for f in FAULT_FLAGS if getattr(args, f) not in (None, 0, 0.0)]
    if given and not args.pty:
        raise UsageError(f"{given[0]}: line emulation runs in the bench device; with --port give it to qz "
                         f"bench-device on the far end (or fly --pty)")
    if args.no_handshake and (args.lockstep or args.pty):
        raise UsageError("--no-handshake: a far end without BENCH_TICK cannot run "
                         + ("in --lockstep" if args.lockstep else "with --pty (its bench device plays BENCH_TICK)"))
    if args.pty and args.bench is not None:
        raise UsageError("--bench: --pty flies the default bench file (its first link on the new pty)")


def _hil(args) -> int:
    from sims.scenario import load_scenario

    _check_hil_options(args)
    load_scenario(args.scenario)  # refused here, before the run folder or a bench process exists
    out = check_out_dir(args.out if args.out else Path("runs") / f"hil-{Path(args.scenario).stem}")
    _stop_on_sigterm()
    try:
        link = _link_options(args)
        if args.pty:
            s = run_pty_pair(args.scenario, out, lockstep=args.lockstep, duration_s=args.duration, seed=args.seed,
                             bench_args=_fault_argv(args), progress=not args.no_progress, record=args.record,
                             connect_timeout_s=args.connect_timeout, link=link)
        else:
            s = run_hil(args.port, args.scenario, out, lockstep=args.lockstep, duration_s=args.duration,
                        seed=args.seed, bench_file=args.bench, connect_timeout_s=args.connect_timeout,
                        progress=not args.no_progress, handshake=not args.no_handshake,
                        record_devices=args.record, link=link)
    except (TimeoutError, RuntimeError) as err:  # the pty pair's bench process did not come up
        raise UsageError(str(err)) from None
    except InputError:
        raise
    except ValueError as err:  # the ground link's refusals (sims.link) are ValueErrors with one-line messages
        raise UsageError(str(err)) from None
    _print_summary(s, out)
    _report_line(out, args.no_report)
    if not s["hil"].get("device_packets_rx"):
        print(f"qz hil: error: no device packet was received on {s['hil']['port']}: the run flew blind and is not "
              f"a success (is the far end sending?)", file=sys.stderr)
        return 1
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
    _print_link(s)
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
    if args.out is not None:
        check_out_dir(args.out)
    s = run_bench_device(args.port, args.scenario, lockstep=args.lockstep, seed=args.seed, faults=_faults(args),
                         out=args.out, duration_s=args.duration, bench_file=args.bench, record=args.record,
                         idle_timeout_s=args.idle_timeout)
    dock = s["docking"]
    print(f"bench device {s['scenario']} seed {s['seed']} ({s['pacing']}): {s['frames']} frames, "
          f"{s['mission_time_s']:.0f} s mission, stop: {s['stop_reason']}; docking: "
          f"{'captured' if dock['captured'] else ('contact, not captured' if dock['contact'] else 'no contact')}")
    if s["stop_reason"].startswith("idle"):
        print(f"qz bench-device: error: the flight side went silent ({s['stop_reason']}) after {s['frames']} frames",
              file=sys.stderr)
        return 1
    return 0

"""Every qz sub-command refuses bad input the same way: exit 2, one line on stderr naming the option, file or key
and the reason, no traceback, and nothing on disk changed.

Most rows call ``ground.cli.main`` in this process (a ``qz`` start costs 1-2 s of imports); a few run the console
script to show the installed entry point behaves the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ground.cli import main

QZ = shutil.which("qz", path=str(Path(sys.executable).parent)) or "qz"

BAD_BENCH = "[[link]]\nport = 'loop://'\nbaud = -1\ndevices = []\n"
BAD_COMMAND = 'base = "final_approach"\nname = "bad_command"\n\n[[commands]]\ntime_s = 5.0\nname = "SET_MODE"\n' \
              'args = { mode = 42 }\n'
BAD_INERTIA = 'base = "final_approach"\nname = "bad_inertia"\n\n[vehicle.mass]\ninertia_kg_m2 = [50000.0, 1.0, 1.0]\n'

# (id, argv with {tmp} and {tty} placeholders, text the error line must contain)
ROWS = [
    # top level
    ("qz-no-command", [], "the following arguments are required: COMMAND"),
    ("qz-unknown-command", ["fly"], "invalid choice: 'fly'"),
    # qz sim
    ("sim-no-scenario", ["sim"], "--scenario is required"),
    ("sim-unknown-name", ["sim", "--scenario", "no_such"], "'no_such': no shipped scenario"),
    ("sim-missing-file", ["sim", "--scenario", "nominal.toml"], "nominal.toml: no such scenario file"),
    ("sim-scenario-folder", ["sim", "--scenario", "{tmp}/empty"], "is a folder, expected a scenario file"),
    ("sim-scenario-not-toml", ["sim", "--scenario", "{tmp}/bad.toml"], "not valid TOML"),
    ("sim-scenario-binary", ["sim", "--scenario", "{tmp}/binary.toml"], "not a text file"),
    ("sim-bad-command", ["sim", "--scenario", "{tmp}/bad_command.toml"], "commands[0].args.mode"),
    ("sim-bad-inertia", ["sim", "--scenario", "{tmp}/bad_inertia.toml"], "triangle inequality"),
    ("sim-duration-negative", ["sim", "--scenario", "nominal", "--duration", "-1"], "argument --duration"),
    ("sim-duration-zero", ["sim", "--scenario", "nominal", "--duration", "0"], "expected a number > 0"),
    ("sim-duration-nan", ["sim", "--scenario", "nominal", "--duration", "nan"], "got 'nan'"),
    ("sim-duration-inf", ["sim", "--scenario", "nominal", "--duration", "inf"], "got 'inf'"),
    ("sim-duration-text", ["sim", "--scenario", "nominal", "--duration", "soon"], "got 'soon'"),
    ("sim-seed-negative", ["sim", "--scenario", "nominal", "--seed", "-3"], "argument --seed"),
    ("sim-seed-too-big", ["sim", "--scenario", "nominal", "--seed", str(2**40)], "argument --seed"),
    ("sim-timeline-negative", ["sim", "--scenario", "nominal", "--timeline", "-3"], "argument --timeline"),
    ("sim-pace-zero", ["sim", "--scenario", "nominal", "--pace", "0"], "argument --pace"),
    ("sim-pace-nan", ["sim", "--scenario", "nominal", "--pace", "nan"], "argument --pace"),
    ("sim-out-is-file", ["sim", "--scenario", "nominal", "--out", "{tmp}/afile"], "--out {tmp}/afile: is a file"),
    ("sim-out-under-file", ["sim", "--scenario", "nominal", "--out", "{tmp}/afile/run"], "no folder can be made"),
    ("sim-unknown-option", ["sim", "--scenario", "nominal", "--fast"], "unrecognized arguments: --fast"),
    ("sim-key-without-link", ["sim", "--scenario", "nominal", "--key-file", "k"], "--key-file needs --link"),
    ("sim-bad-link-url", ["sim", "--scenario", "nominal", "--link", "carrier-pigeon://x"], "carrier-pigeon"),
    ("sim-link-port-out-of-range", ["sim", "--scenario", "nominal", "--link", "tcp://127.0.0.1:99999"],
     "the port must be a number"),
    ("sim-link-open-without-keys", ["sim", "--scenario", "nominal", "--link", "tcp://0.0.0.0:5010"],
     "not a loopback address"),
    ("sim-link-key-file-missing", ["sim", "--scenario", "nominal", "--link", "tcp://127.0.0.1:5010", "--key-file",
                                   "{tmp}/none.keys"], "key file {tmp}/none.keys: no such file"),
    ("sim-link-key-file-open", ["sim", "--scenario", "nominal", "--link", "tcp://127.0.0.1:5010", "--key-file",
                                "{tmp}/open.keys"], "readable or writable by other users"),
    ("sim-link-bad-tm-dest", ["sim", "--scenario", "nominal", "--link", "udp://127.0.0.1:5010", "--tm-dest",
                              "nowhere"], "--tm-dest 'nowhere'"),
    # qz hil
    ("hil-no-port", ["hil", "--scenario", "final_approach"], "one of the arguments --port --pty is required"),
    ("hil-port-missing", ["hil", "--port", "{tmp}/no_tty", "--scenario", "final_approach"],
     "port {tmp}/no_tty: cannot open it"),
    ("hil-port-refused", ["hil", "--port", "socket://127.0.0.1:9", "--scenario", "final_approach"],
     "port socket://127.0.0.1:9: cannot open it"),
    ("hil-silent-peer", ["hil", "--port", "{tty}", "--scenario", "final_approach", "--connect-timeout", "0.5"],
     "no answer to the BENCH_TICK(0) handshake within the 0.5 s"),
    ("hil-unknown-scenario", ["hil", "--port", "loop://", "--scenario", "no_such"], "no shipped scenario"),
    ("hil-connect-timeout-zero", ["hil", "--port", "loop://", "--scenario", "final_approach", "--connect-timeout",
                                  "0"], "argument --connect-timeout"),
    ("hil-duration-nan", ["hil", "--pty", "--scenario", "final_approach", "--duration", "nan"], "argument --duration"),
    ("hil-faults-with-port", ["hil", "--port", "loop://", "--scenario", "final_approach", "--drop-rate", "0.1"],
     "--drop-rate: line emulation runs in the bench device"),
    ("hil-no-handshake-lockstep", ["hil", "--port", "loop://", "--scenario", "final_approach", "--lockstep",
                                   "--no-handshake"], "--no-handshake"),
    ("hil-bench-missing", ["hil", "--port", "loop://", "--scenario", "final_approach", "--bench", "{tmp}/none.toml"],
     "argument --bench: {tmp}/none.toml: no such file"),
    ("hil-bench-folder", ["hil", "--port", "loop://", "--scenario", "final_approach", "--bench", "{tmp}/empty"],
     "is a folder, expected a file"),
    ("hil-bench-bad", ["hil", "--port", "loop://", "--scenario", "final_approach", "--bench", "{tmp}/bench.toml"],
     "baud: expected an integer > 0"),
    ("hil-disconnect-malformed", ["hil", "--pty", "--scenario", "final_approach", "--disconnect", "4"],
     "argument --disconnect: expected AT:FOR"),
    ("hil-link-open-without-keys", ["hil", "--port", "loop://", "--scenario", "final_approach", "--link",
                                    "tcp://0.0.0.0:5010"], "not a loopback address"),
    ("hil-out-is-file", ["hil", "--port", "loop://", "--scenario", "final_approach", "--out", "{tmp}/afile"],
     "is a file"),
    # qz bench-device
    ("bench-port-missing", ["bench-device", "--port", "{tmp}/no_tty", "--scenario", "final_approach"],
     "port {tmp}/no_tty: cannot open it"),
    ("bench-silent-flight", ["bench-device", "--port", "{tty}", "--scenario", "final_approach", "--idle-timeout",
                             "0.5"], "no handshake from the flight side within the 0.5 s"),
    ("bench-idle-zero", ["bench-device", "--port", "loop://", "--scenario", "final_approach", "--idle-timeout", "0"],
     "argument --idle-timeout"),
    ("bench-ber-one", ["bench-device", "--port", "loop://", "--scenario", "final_approach", "--bit-error-rate", "1"],
     "argument --bit-error-rate: expected a number >= 0 and < 1"),
    ("bench-drop-negative", ["bench-device", "--port", "loop://", "--scenario", "final_approach", "--drop-rate",
                             "-0.1"], "argument --drop-rate"),
    ("bench-delay-inf", ["bench-device", "--port", "loop://", "--scenario", "final_approach", "--delay", "inf"],
     "argument --delay"),
    ("bench-baud-negative", ["bench-device", "--port", "loop://", "--scenario", "final_approach", "--baud-pacing",
                             "-9600"], "argument --baud-pacing"),
    ("bench-hangup-zero-length", ["bench-device", "--port", "loop://", "--scenario", "final_approach", "--hangup",
                                  "3:0"], "argument --hangup"),
    ("bench-fault-seed-negative", ["bench-device", "--port", "loop://", "--scenario", "final_approach",
                                   "--fault-seed", "-1"], "argument --fault-seed"),
    ("bench-out-is-file", ["bench-device", "--port", "loop://", "--scenario", "final_approach", "--out",
                           "{tmp}/afile"], "is a file"),
    ("bench-bad-scenario", ["bench-device", "--port", "loop://", "--scenario", "{tmp}/bad_command.toml"],
     "commands[0].args.mode"),
    # qz tlm
    ("tlm-no-subcommand", ["tlm"], "the following arguments are required: TLM_COMMAND"),
    ("tlm-decode-missing", ["tlm", "decode", "{tmp}/none.ccsds"], "{tmp}/none.ccsds: no such file"),
    ("tlm-decode-folder", ["tlm", "decode", "{tmp}/empty"], "not a regular file"),
    ("tlm-decode-unknown-apid", ["tlm", "decode", "{tmp}/afile", "--apid", "NO_SUCH"], "--apid 'NO_SUCH'"),
    ("tlm-decode-csv-without-apid", ["tlm", "decode", "{tmp}/afile", "--csv", "{tmp}/x.csv"], "--csv needs --apid"),
    ("tlm-dict-out-under-file", ["tlm", "dict", "--out", "{tmp}/afile/x.md"], "afile/x.md"),
    ("tlm-xtce-out-folder", ["tlm", "xtce", "--out", "{tmp}/empty"], "empty"),
    # qz timing, qz report
    ("timing-missing", ["timing", "{tmp}/none"], "no telemetry archive"),
    ("timing-empty-folder", ["timing", "{tmp}/empty"], "no telemetry archive"),
    ("report-missing", ["report", "{tmp}/none"], "{tmp}/none: no such run folder"),
    ("report-empty-folder", ["report", "{tmp}/empty"], "no telemetry archive"),
    # qz mc
    ("mc-no-runs", ["mc", "--out", "{tmp}/mc"], "--runs is required"),
    ("mc-runs-zero", ["mc", "--runs", "0"], "argument --runs: expected an integer >= 1"),
    ("mc-runs-text", ["mc", "--runs", "many"], "argument --runs"),
    ("mc-workers-zero", ["mc", "--runs", "2", "--workers", "0"], "argument --workers"),
    ("mc-workers-and-scheduler", ["mc", "--runs", "2", "--workers", "2", "--scheduler", "tcp://x:1"],
     "not allowed with argument"),
    ("mc-retries-negative", ["mc", "--runs", "2", "--retries", "-1"], "argument --retries"),
    ("mc-seed-negative", ["mc", "--runs", "2", "--seed", "-1"], "argument --seed"),
    ("mc-duration-inf", ["mc", "--runs", "2", "--duration", "inf"], "argument --duration"),
    ("mc-rerun-negative", ["mc", "--rerun", "-1"], "argument --rerun"),
    ("mc-connect-timeout-nan", ["mc", "--runs", "2", "--connect-timeout", "nan"], "argument --connect-timeout"),
    ("mc-out-is-file", ["mc", "--runs", "2", "--out", "{tmp}/afile"], "--out {tmp}/afile: is a file"),
    ("mc-out-holds-a-run", ["mc", "--runs", "2", "--out", "{tmp}/runs/nominal"], "holds files but no campaign"),
    ("mc-unknown-scenario", ["mc", "--runs", "2", "--scenario", "no_such", "--out", "{tmp}/mc"],
     "no shipped scenario"),
    ("mc-undispersed", ["mc", "--runs", "2", "--scenario", "thermal_hot", "--out", "{tmp}/mc"], "--undispersed"),
    ("mc-dead-scheduler", ["mc", "--runs", "2", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "0.5",
                           "--out", "{tmp}/mc"], "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered"),
    ("mc-bad-scheduler-address", ["mc", "--runs", "2", "--scheduler", "nonsense::", "--out", "{tmp}/mc"],
     "--scheduler nonsense::"),
    ("mc-rerun-without-campaign", ["mc", "--rerun", "0", "--out", "{tmp}/empty"], "no campaign there"),
    # qz mc-bench
    ("mc-compare-malformed", ["mc", "--runs", "2", "--compare", "guidance", "--out", "{tmp}/cmp"], "--compare"),
    ("mc-compare-unknown-impl", ["mc", "--runs", "2", "--compare", "guidance=closing_profile,nope", "--out",
                                 "{tmp}/cmp"], "no such implementation"),
    ("mc-compare-and-rerun", ["mc", "--runs", "2", "--compare", "guidance=closing_profile,glideslope", "--rerun",
                              "0", "--out", "{tmp}/cmp"], "--compare and --rerun"),
    ("new-app-bad-name", ["new-app", "Bad-Name", "--root", "{tmp}"], "NAME 'Bad-Name'"),
    ("new-app-no-root", ["new-app", "mylaw", "--root", "{tmp}/nowhere"], "--root {tmp}/nowhere: not a folder"),
    ("mc-bench-runs-zero", ["mc-bench", "--runs", "0"], "argument --runs"),
    ("mc-bench-speedup-zero", ["mc-bench", "--speedup-runs", "0"], "argument --speedup-runs"),
    ("mc-bench-seed-text", ["mc-bench", "--seed", "x"], "argument --seed"),
    ("mc-bench-undispersed", ["mc-bench", "--scenario", "thermal_hot", "--out", "{tmp}/bench"], "no [dispersions]"),
    ("mc-bench-out-is-file", ["mc-bench", "--out", "{tmp}/afile"], "is a file"),
    # qz nees
    ("nees-runs-zero", ["nees", "--runs", "0"], "argument --runs: expected an integer >= 1"),
    ("nees-seed-negative", ["nees", "--seed", "-1"], "argument --seed"),
    ("nees-gates-not-numbers", ["nees", "--gates", "400,twenty"], "argument --gates: gates must be ranges in metres"),
    ("nees-gates-same-name", ["nees", "--gates", "400,399.9999999"], "argument --gates: gates must differ in their "
                                                                    "first 6 digits"),
    ("nees-gates-increasing", ["nees", "--gates", "20,400"], "argument --gates: gates must be finite ranges > 0 m in "
                                                             "decreasing order, got [20.0, 400.0]"),
    ("nees-workers-and-scheduler", ["nees", "--workers", "2", "--scheduler", "tcp://x:1"], "not allowed with argument"),
    ("nees-unknown-scenario", ["nees", "no_such", "--out", "{tmp}/nees"], "no shipped scenario"),
    ("nees-undispersed", ["nees", "thermal_hot", "--out", "{tmp}/nees"], "--undispersed"),
    ("nees-out-is-file", ["nees", "--out", "{tmp}/afile"], "--out {tmp}/afile: is a file"),
    ("nees-out-holds-a-run", ["nees", "--out", "{tmp}/runs/nominal"], "holds files but no campaign"),
    # qz cmd, qz tlm listen (the live link)
    ("cmd-unknown-command", ["cmd", "--link", "tcp://127.0.0.1:9", "NO_SUCH"], "NO_SUCH"),
    ("cmd-bad-argument", ["cmd", "--link", "tcp://127.0.0.1:9", "SET_MODE", "mode=LUNCH"], "mode"),
    ("cmd-nothing-behind-link", ["cmd", "--link", "tcp://127.0.0.1:9", "NOOP", "--timeout", "0.5"],
     "127.0.0.1:9"),
    ("cmd-timeout-zero", ["cmd", "--link", "tcp://127.0.0.1:9", "NOOP", "--timeout", "0"], "--timeout"),
    ("cmd-at-negative", ["cmd", "--link", "tcp://127.0.0.1:9", "--at", "-5", "NOOP"], "--at -5.0"),
    ("cmd-raw-not-hex", ["cmd", "--link", "tcp://127.0.0.1:9", "--raw", "zz"], "--raw 'zz': not hexadecimal"),
    ("cmd-key-file-missing", ["cmd", "--link", "tcp://127.0.0.1:9", "--key-file", "{tmp}/none.keys", "NOOP"],
     "no such file"),
    ("cmd-spi-without-keys", ["cmd", "--link", "tcp://127.0.0.1:9", "--spi", "3", "NOOP"], "--spi needs --key-file"),
    ("listen-duration-zero", ["tlm", "listen", "--link", "tcp://127.0.0.1:9", "--duration", "0"], "--duration"),
    ("listen-csv-without-apid", ["tlm", "listen", "--link", "tcp://127.0.0.1:9", "--csv", "{tmp}/x.csv"],
     "--csv needs --apid"),
    ("listen-nothing-behind-link", ["tlm", "listen", "--link", "tcp://127.0.0.1:9"], "cannot connect"),
    ("listen-count-zero", ["tlm", "listen", "--link", "tcp://127.0.0.1:9", "--count", "0"], "--count"),
    ("listen-unknown-apid", ["tlm", "listen", "--link", "tcp://127.0.0.1:9", "--apid", "NO_SUCH"], "NO_SUCH"),
    # qz console (more rows: tests/ground/console/test_console_units.py)
    ("console-bad-link", ["console", "--link", "carrier-pigeon://x"], "unknown scheme 'carrier-pigeon'"),
    ("console-open-without-token", ["console", "--link", "tcp://127.0.0.1:9", "--http", "0.0.0.0:8080"],
     "not a loopback address"),
    ("console-key-file-open", ["console", "--link", "tcp://127.0.0.1:9", "--key-file", "{tmp}/open.keys"],
     "readable or writable by other users"),
]


def _tree(root: Path) -> list[tuple]:
    """What is on disk under ``root``: every path with its size and modification time."""
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working folder holding a previous run (which a refused command must not move) and bad input files."""
    (tmp_path / "afile").write_bytes(b"\x1a\xcf\xfc\x1d not an archive")
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.toml").write_text("name = \n")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00\x01")
    (tmp_path / "bad_command.toml").write_text(BAD_COMMAND)
    (tmp_path / "bad_inertia.toml").write_text(BAD_INERTIA)
    (tmp_path / "bench.toml").write_text(BAD_BENCH)
    (tmp_path / "open.keys").write_text("7 " + "ab" * 32 + "\n")
    (tmp_path / "open.keys").chmod(0o644)
    previous = tmp_path / "runs" / "nominal"
    previous.mkdir(parents=True)
    (previous / "summary.json").write_text('{"stop_reason": "docked"}\n')
    (previous / "telemetry.ccsds").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def silent_tty():
    """A serial port whose far end never answers: a pseudo-terminal nobody reads or writes."""
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(slave)
    os.close(master)


def _argv(template: list[str], tmp: Path, tty: str) -> list[str]:
    return [a.replace("{tmp}", str(tmp)).replace("{tty}", tty) for a in template]


def _check_one_line(err: str, expect: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert "Traceback" not in err
    assert lines[0].startswith("qz"), lines[0]
    assert expect in lines[0], f"{expect!r} not in {lines[0]!r}"
    return lines[0]


@pytest.mark.parametrize(("argv", "expect"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(workdir, silent_tty, capsys, argv, expect):
    before = _tree(workdir)
    rc = main(_argv(argv, workdir, silent_tty))
    err = capsys.readouterr().err
    assert rc == 2, err
    _check_one_line(err, expect.replace("{tmp}", str(workdir)))
    assert _tree(workdir) == before


SUBPROCESS_ROWS = [
    ("sim-duration-nan", ["sim", "--scenario", "nominal", "--duration", "nan"], "argument --duration"),
    ("hil-port-missing", ["hil", "--port", "{tmp}/no_tty", "--scenario", "final_approach"], "cannot open it"),
    ("mc-runs-zero", ["mc", "--runs", "0"], "argument --runs"),
    ("tlm-decode-missing", ["tlm", "decode", "{tmp}/none.ccsds"], "no such file"),
]


@pytest.mark.parametrize(("argv", "expect"), [r[1:] for r in SUBPROCESS_ROWS], ids=[r[0] for r in SUBPROCESS_ROWS])
def test_console_script_refuses_the_same_way(workdir, argv, expect):
    before = _tree(workdir)
    done = subprocess.run([QZ, *_argv(argv, workdir, "")], capture_output=True, text=True, timeout=120,
                          cwd=workdir)
    assert done.returncode == 2, done.stderr
    _check_one_line(done.stderr, expect)
    assert _tree(workdir) == before


def test_rows_cover_every_sub_command():
    from ground.cli import build_parser

    covered = {r[1][0] if r[1][0] != "tlm" or len(r[1]) < 2 else f"tlm {r[1][1]}" for r in ROWS if r[1]}
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = set(sub.choices) - {"tlm"}
    tlm = next(a for a in sub.choices["tlm"]._actions if a.dest == "tlm_command")
    names |= {f"tlm {n}" for n in tlm.choices}
    assert names <= covered, f"sub-commands without bad-input rows: {sorted(names - covered)}"


@pytest.mark.parametrize("argv", [["timing", "{tmp}/damaged", "--no-plots"], ["report", "{tmp}/damaged"]],
                         ids=["timing", "report"])
def test_damaged_run_folder_is_read_as_far_as_it_goes_without_a_traceback(workdir, capsys, argv):
    damaged = workdir / "damaged"
    damaged.mkdir()
    (damaged / "telemetry.ccsds").write_bytes(b"\x1a\xcf\xfc\x1d garbage")
    (damaged / "summary.json").write_text("{not json")
    rc = main(_argv(argv, workdir, ""))
    captured = capsys.readouterr()
    assert rc in (0, 1) and "Traceback" not in captured.err + captured.out

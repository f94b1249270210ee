"""Bad ground-link options: one line on stderr, exit code 2, no traceback, nothing flown."""

from __future__ import annotations

import os
import socket

import pytest

from ground.cli import main

KEY_HEX = bytes(range(32)).hex()


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"7 {KEY_HEX}\n")
    os.chmod(path, 0o600)
    return path


def _run(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err


def _sim(tmp_path, *link_args):
    return ["sim", "--scenario", "final_approach", "--duration", "1", "--out", str(tmp_path / "run"), "--no-report",
            "--no-progress", *link_args]


@pytest.mark.parametrize("args, says", [
    (["--link", "tcp://127.0.0.1"], "expected HOST:PORT"),
    (["--link", "tcp://127.0.0.1:99999"], "0..65535"),
    (["--link", "ftp://127.0.0.1:21"], "unknown scheme"),
    (["--link", "udp://127.0.0.1:0"], "--tm-dest"),
    (["--link", "tcp://0.0.0.0:0"], "not a loopback address"),
    (["--link", "/dev/does-not-exist"], "cannot open"),
    (["--key-file", "x"], "needs --link"),
    (["--pace", "0"], "pace"),
    (["--pace", "nan"], "pace"),
])
def test_bad_link_option_is_one_line_and_exit_2(capsys, tmp_path, args, says):
    rc, err = _run(capsys, _sim(tmp_path, *args))
    assert rc == 2 and says in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run" / "summary.json").exists()


def test_key_file_readable_by_others_is_refused(capsys, tmp_path, key_file):
    os.chmod(key_file, 0o644)
    rc, err = _run(capsys, _sim(tmp_path, "--link", "tcp://127.0.0.1:0", "--key-file", str(key_file)))
    assert rc == 2 and "other users" in err and "chmod 600" in err and err.count("\n") == 1


def test_port_in_use_is_refused(capsys, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        rc, err = _run(capsys, _sim(tmp_path, "--link", f"tcp://127.0.0.1:{port}"))
    assert rc == 2 and f"port {port} is in use" in err and err.count("\n") == 1


def test_non_loopback_address_is_served_with_keys(tmp_path, key_file):
    from sims.link import LinkOptions, open_ground_link

    setup = open_ground_link(LinkOptions("tcp://0.0.0.0:0", str(key_file)))
    try:
        assert setup.keys == {7: bytes(range(32))} and not setup.transport.loopback
    finally:
        setup.transport.close()


@pytest.mark.parametrize("args, says", [
    (["SET_MODE", "mode=42"], "argument mode: 42 is out of range: an integer in [0, 9] or one of STANDBY"),
    (["SET_MODE", "mode=WARP"], "argument mode: 'WARP' is not an integer in [0, 9] or one of STANDBY"),
    (["SET_MODE"], "argument mode missing"),
    (["SET_MODE", "mode=1", "speed=3"], "no argument 'speed'"),
    (["SET_HEATER_SETPOINT", "zone=1", "setpoint_C=99"], "setpoint_C: 99 is out of range: a number in [-20, 40]"),
    (["WARP"], "unknown command 'WARP'"),
    (["--raw", "zz"], "not hexadecimal"),
    ([], "give a command NAME"),
])
def test_qz_cmd_checks_arguments_before_sending(capsys, args, says):
    rc, err = _run(capsys, ["cmd", "--link", "tcp://127.0.0.1:9", *args])  # nothing listens: nothing is sent
    assert rc == 2 and says in err and err.count("\n") == 1


def test_qz_cmd_names_an_unreachable_link(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, err = _run(capsys, ["cmd", "--link", f"tcp://127.0.0.1:{port}", "NOOP"])
    assert rc == 2 and "cannot connect" in err


def test_qz_cmd_refuses_a_key_file_readable_by_others(capsys, key_file):
    os.chmod(key_file, 0o640)
    rc, err = _run(capsys, ["cmd", "--link", "tcp://127.0.0.1:9", "--key-file", str(key_file), "NOOP"])
    assert rc == 2 and "other users" in err

"""``qz cmd`` and ``qz tlm listen`` against a running paced ``qz sim --link``; ARSN across a flight restart; UDP."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest

from telemetry import sdls
from telemetry.archive import read_archive
from telemetry.codec import peek_apid, tc_codec, tm_codec
from telemetry.framing import Deframer, frame

PACE = "20"
TIMEOUT_S = 300  # [s] generous: a cold numba cache compiles at start-up, on a shared machine


def _free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _qz(*args, timeout=TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ground.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


class Flight:
    """A paced ``qz sim`` serving a link, stopped with Ctrl-C (its run folder is written)."""

    def __init__(self, out, link, *extra):
        self.out = out
        self.proc = subprocess.Popen([sys.executable, "-m", "ground.cli", "sim", "--scenario", "final_approach",
                                      "--pace", PACE, "--duration", "3000", "--link", link, "--out", str(out),
                                      "--no-report", "--no-progress", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return json.loads((self.out / "summary.json").read_text())


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"7 {secrets.token_hex(32)}\n")
    os.chmod(path, 0o600)
    return path


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def test_cmd_and_listen_over_tcp_with_keys(tmp_path, key_file):
    port = _free_port()
    link = f"tcp://127.0.0.1:{port}"
    flight = Flight(tmp_path / "run", link, "--key-file", str(key_file))
    try:
        _wait_listening(port)
        listened = open(tmp_path / "listen.out", "w+")  # noqa: SIM115 - a file, not a pipe that could fill
        listen = subprocess.Popen([sys.executable, "-m", "ground.cli", "tlm", "listen", "--link", link, "--record",
                                   str(tmp_path / "rec.ccsds"), "--duration", str(TIMEOUT_S)],
                                  stdout=listened, stderr=subprocess.STDOUT, text=True)
        keyed = ("--link", link, "--key-file", str(key_file))
        noop = _qz("cmd", *keyed, "NOOP")
        assert noop.returncode == 0 and noop.stdout.splitlines() == ["NOOP: ACCEPTED", "NOOP: COMPLETED"]
        assert _qz("cmd", *keyed, "NOOP").returncode == 0  # the client's ARSN state moved on
        assert sdls.load_arsn(str(key_file) + ".ground-arsn") == {7: 2}
        abort = _qz("cmd", *keyed, "ABORT")
        assert abort.stdout.splitlines()[:2] == ["ARM: ACCEPTED", "ARM: COMPLETED"]
        assert abort.stdout.splitlines()[-1] == "ABORT: COMPLETED" and abort.returncode == 0
        bad = bytearray(tc_codec("NOOP").pack(9))
        bad[7] ^= 0xFF
        raw = _qz("cmd", *keyed, "--raw", bad.hex())
        assert raw.returncode == 1 and raw.stdout.strip() == "NOOP: REJECTED BAD_CHECKSUM"
        tagged = _qz("cmd", *keyed, "--at", "5000", "NOOP")
        assert tagged.returncode == 0 and "TIME_TAG(NOOP at 5000 s): COMPLETED" in tagged.stdout
        plain = _qz("cmd", "--link", link, "--timeout", "30", "NOOP")
        assert plain.returncode == 1 and plain.stdout.strip() == "NOOP: REJECTED UNAUTHENTICATED"
        time.sleep(1.0)  # the last acknowledgement reaches the listener too
        listen.send_signal(signal.SIGINT)
        assert listen.wait(timeout=TIMEOUT_S) == 0
        listened.seek(0)
        out = listened.read()
        listened.close()
        lines = out.splitlines()
        assert any(" HK_STATUS " in line and "mode=CAM" in line for line in lines)  # enum values by name
        assert any(" CMD_ACK " in line and "reason=UNAUTHENTICATED" in line for line in lines)
    finally:
        summary = flight.stop()
    assert summary["ground_link"]["rejected_by_reason"]["UNAUTHENTICATED"] == 1
    # two NOOPs, ARM and ABORT, the raw NOOP (refused by the dispatcher, not the link), the TIME_TAG
    assert summary["ground_link"]["tc_accepted"] == 6
    recorded = read_archive(tmp_path / "rec.ccsds")
    assert len(recorded.packets) >= len(lines) > 100 and not recorded.damage  # the format of telemetry.ccsds


def test_accepted_arsn_survives_a_flight_restart(tmp_path, key_file):
    key = sdls.load_keys(key_file)[7]
    body = frame(sdls.wrap(tc_codec("NOOP").pack(3), 7, 41, key))
    results = []
    for n in range(2):
        port = _free_port()
        flight = Flight(tmp_path / f"run{n}", f"tcp://127.0.0.1:{port}", "--key-file", str(key_file))
        try:
            _wait_listening(port)
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(body)
                s.settimeout(1.0)
                deframer, acked = Deframer(), False
                deadline = time.monotonic() + TIMEOUT_S
                while not acked and time.monotonic() < deadline:  # the flight answers once it flies
                    try:
                        packets = deframer.feed(s.recv(65536)).packets
                    except TimeoutError:
                        continue
                    acked = any(peek_apid(p) == tm_codec("CMD_ACK").apid for p in packets)
                assert acked
        finally:
            results.append(flight.stop()["ground_link"])
    assert results[0]["tc_accepted"] == 1 and results[0]["last_arsn"] == {"7": 41}
    assert results[1]["tc_accepted"] == 0 and results[1]["rejected_by_reason"]["REPLAY"] == 1
    assert sdls.load_arsn(str(key_file) + ".flight-arsn") == {7: 41}


def test_udp_link_cfs_style_one_packet_per_datagram(tmp_path):
    tc_port, tm_port = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_DGRAM)
    flight = Flight(tmp_path / "run", f"udp://127.0.0.1:{tc_port}", "--tm-dest", f"127.0.0.1:{tm_port}")
    try:
        time.sleep(1.0)
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            noop = _qz("cmd", "--link", f"udp://127.0.0.1:{tc_port}", "--tm-listen", f"127.0.0.1:{tm_port}",
                       "--timeout", "5", "NOOP")
            if noop.returncode == 0 or time.monotonic() > deadline:
                break
        assert noop.returncode == 0, noop.stdout + noop.stderr
        assert noop.stdout.splitlines() == ["NOOP: ACCEPTED", "NOOP: COMPLETED"]
    finally:
        summary = flight.stop()
    assert summary["ground_link"]["tc_accepted"] >= 1

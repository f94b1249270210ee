"""Interop: a ground client written with the third-party ``spacepackets`` and the standard library only
(no project code: everything it knows comes from docs/ground-link.md) against a running
``qz sim --scenario final_approach --pace 50 --link tcp://127.0.0.1:PORT --key-file K``.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacket, SpacePacketHeader

ASM = bytes.fromhex("1ACFFC1D")
CMD_APID = 0x180
APID = {"HK_STATUS": 0x102, "CMD_ACK": 0x104, "NAV_STATE": 0x110, "GROUND_LINK": 0x131}
FC = {"NOOP": 0, "APPROACH_HOLD": 3}
ACCEPTED, REJECTED, COMPLETED = 1, 2, 3
UNAUTHENTICATED, REPLAY = 11, 14
MODE_HOLD = 6
SPI = 7
PACE = 50
WAIT_S = 300.0  # [s] wall: a cold numba cache compiles at start-up; once flying, a mission minute is 1.2 s


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)  # CRC-16/CCITT-FALSE


def telecommand(name: str, seq: int) -> bytes:
    """A cFS-style command without arguments: header, function code, checksum (0xFF XOR all bytes)."""
    header = SpacePacketHeader(packet_type=PacketType.TC, apid=CMD_APID, seq_count=seq, data_len=1,
                               sec_header_flag=True, seq_flags=SequenceFlags.UNSEGMENTED)
    raw = bytearray(SpacePacket(header, bytes([FC[name], 0]), None).pack())
    check = 0xFF
    for b in raw:
        check ^= b
    raw[7] = check
    return bytes(raw)


def wrap(packet: bytes, arsn: int, key: bytes) -> bytes:
    head = struct.pack(">HI", SPI, arsn)
    return head + packet + hmac.new(key, head + packet, hashlib.sha256).digest()[:16]


def framed(body: bytes) -> bytes:
    return ASM + body + struct.pack(">H", crc16(body))


class Client:
    """Reads framed packets from the stream with spacepackets' header parsing."""

    def __init__(self, port: int):
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.buf = b""

    def packets(self):
        while True:
            i = self.buf.find(ASM)
            if i >= 0 and len(self.buf) >= i + 4 + 6:
                header = SpacePacketHeader.unpack(self.buf[i + 4:i + 10])
                end = i + 4 + header.packet_len + 2
                if len(self.buf) >= end:
                    packet = self.buf[i + 4:end - 2]
                    ok = crc16(packet) == struct.unpack(">H", self.buf[end - 2:end])[0]
                    self.buf = self.buf[end if ok else i + 1:]
                    if ok:
                        yield header, packet
                    continue
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            self.buf += data

    def wait_for(self, apid: int, predicate=lambda h, p: True):
        deadline = time.monotonic() + WAIT_S
        for header, packet in self.packets():
            if header.apid == apid and predicate(header, packet):
                return packet
            assert time.monotonic() < deadline, f"nothing matching on APID {apid:#x} within {WAIT_S} s"
        raise AssertionError("the flight closed the link")

    def acks(self, seq: int, until: int):
        """Statuses and reasons of the CMD_ACKs of command ``seq`` up to the first ``until`` status."""
        out = []
        while True:
            packet = self.wait_for(APID["CMD_ACK"], lambda h, p: struct.unpack(">HBHBB", p[12:19])[2] == seq)
            status, reason = struct.unpack(">HBHBB", packet[12:19])[3:]
            out.append((status, reason))
            if status in until:
                return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def flight(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interop")
    key = secrets.token_bytes(32)
    key_file = tmp / "keys"
    key_file.write_text(f"{SPI} {key.hex()}\n")
    os.chmod(key_file, 0o600)
    port = _free_port()
    out = tmp / "run"
    proc = subprocess.Popen([sys.executable, "-m", "ground.cli", "sim", "--scenario", "final_approach",
                             "--pace", str(PACE), "--duration", "1500", "--link", f"tcp://127.0.0.1:{port}",
                             "--key-file", str(key_file), "--out", str(out), "--no-report", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = None
    try:
        client = Client(port)
        yield client, key, proc, out
    finally:
        if client is not None:
            client.sock.close()
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_spacepackets_client_reads_commands_and_is_refused_as_the_link_requires(flight):
    client, key, proc, out = flight
    nav = client.wait_for(APID["NAV_STATE"], lambda h, p: p[12 + 72] == 1)  # valid: after r, v, sigma_r, sigma_v
    r = struct.unpack(">3d", nav[12:36])
    assert 300.0 < (r[0] ** 2 + r[1] ** 2 + r[2] ** 2) ** 0.5 < 500.0  # final_approach starts at the 400 m hold

    client.sock.sendall(framed(telecommand("NOOP", 1)))
    assert client.acks(1, until=(REJECTED, COMPLETED)) == [(REJECTED, UNAUTHENTICATED)]

    frame = framed(wrap(telecommand("NOOP", 2), 1, key))
    client.sock.sendall(frame)
    assert client.acks(2, until=(REJECTED, COMPLETED)) == [(ACCEPTED, 0), (COMPLETED, 0)]

    client.sock.sendall(frame)
    assert client.acks(2, until=(REJECTED, COMPLETED)) == [(REJECTED, REPLAY)]

    client.sock.sendall(framed(wrap(telecommand("APPROACH_HOLD", 3), 2, key)))
    assert client.acks(3, until=(REJECTED, COMPLETED))[-1] == (COMPLETED, 0)
    hk = client.wait_for(APID["HK_STATUS"], lambda h, p: p[12] == MODE_HOLD)
    assert hk[12] == MODE_HOLD

    # the link's own telemetry counts the refusals by reason (GROUND_LINK, docs/ground-link.md)
    stats = client.wait_for(APID["GROUND_LINK"], lambda h, p: struct.unpack(">BIIIIIIIIIIIIIIII", p[12:])[11] >= 1)
    fields = struct.unpack(">BIIIIIIIIIIIIIIII", stats[12:])
    assert fields[11] == 1 and fields[14] == 1  # rej_unauthenticated, rej_replay
    assert fields[10] == 2                      # tc_accepted: the authenticated NOOP and APPROACH_HOLD

    proc.send_signal(signal.SIGINT)  # Ctrl-C: the run folder is written, exit 130
    assert proc.wait(timeout=60) == 130
    summary = json.loads((out / "summary.json").read_text())
    link = summary["ground_link"]
    assert link["rejected_by_reason"]["UNAUTHENTICATED"] == 1
    assert link["rejected_by_reason"]["REPLAY"] == 1
    assert link["tc_accepted"] == 2
    assert summary["final_mode"] == "HOLD"

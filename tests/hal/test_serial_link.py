"""SerialLink over every transport of conftest.py (loop://, a pty pair, a real port with --port)."""

from __future__ import annotations

import time

import pytest

from telemetry.codec import tm_codec
from telemetry.framing import frame

GYRO = tm_codec("DEV_GYRO")
LIDAR = tm_codec("DEV_LIDAR")


def _gyro(seq: int, w: float = 0.01) -> bytes:
    return GYRO.pack(seq, 1_000_000 * seq, (0.0, 0.0, 0.0, w, -w, 2 * w, 1))


def _collect(link, n: int, timeout_s: float = 2.0) -> list[bytes]:
    out: list[bytes] = []
    deadline = time.perf_counter() + timeout_s
    while len(out) < n and time.perf_counter() < deadline:
        out += link.receive(block_s=0.01)
    return out


def test_packets_arrive_in_order_and_intact(link_pair):
    sent = [_gyro(i, 0.001 * i) for i in range(50)]
    for p in sent:
        link_pair.tx.send(p)
    while link_pair.tx.drain():
        time.sleep(0.001)
    assert _collect(link_pair.rx, 50) == sent
    assert link_pair.rx.stats.frames_rx == 50
    assert link_pair.rx.stats.crc_errors == 0


def test_receive_does_not_block_on_an_idle_line(link_pair):
    t0 = time.perf_counter()
    for _ in range(100):
        assert link_pair.rx.receive() == []
    assert (time.perf_counter() - t0) / 100 < 1e-3


def test_corrupted_frame_is_rejected_counted_and_the_next_frame_kept(link_pair):
    bad = bytearray(frame(_gyro(0)))
    bad[12] ^= 0x10
    link_pair.raw_write(bytes(bad) + frame(_gyro(1)))
    got = _collect(link_pair.rx, 1)
    time.sleep(0.02)
    got += link_pair.rx.receive()
    assert got == [_gyro(1)]
    assert link_pair.rx.stats.crc_errors == 1
    assert link_pair.rx.stats.resyncs == 1


def test_garbage_between_frames_is_skipped_with_a_resync(link_pair):
    link_pair.raw_write(b"\x00\xff line noise \x1a\xcf" + frame(_gyro(3)))
    assert _collect(link_pair.rx, 1) == [_gyro(3)]
    assert link_pair.rx.stats.resyncs == 1
    assert link_pair.rx.stats.bytes_skipped > 0


def test_sequence_gap_per_apid_is_counted(link_pair):
    for seq in (0, 1, 4):          # 2 and 3 lost
        link_pair.raw_write(frame(_gyro(seq)))
    link_pair.raw_write(frame(LIDAR.pack(7, 0, (10.0, 0.0, 0.0, 1))))   # another APID: its own count
    got = _collect(link_pair.rx, 4)
    assert len(got) == 4
    for p in got:
        link_pair.rx.track(p)
    assert link_pair.rx.stats.gaps == 2


def test_sequence_count_wraps_at_14_bits_without_a_gap(link_pair):
    for seq in (16382, 16383, 0, 1):
        link_pair.raw_write(frame(_gyro(seq)))
    for p in _collect(link_pair.rx, 4):
        link_pair.rx.track(p)
    assert link_pair.rx.stats.gaps == 0


def test_next_seq_counts_per_apid(link_pair):
    tx = link_pair.tx
    assert [tx.next_seq(GYRO.apid) for _ in range(3)] == [0, 1, 2]
    assert tx.next_seq(LIDAR.apid) == 0


def test_statistics_count_bytes_both_ways(link_pair):
    link_pair.tx.send(_gyro(0))
    link_pair.tx.drain()
    _collect(link_pair.rx, 1)
    n = len(frame(_gyro(0)))
    assert link_pair.tx.stats.bytes_tx == n
    assert link_pair.rx.stats.bytes_rx == n


@pytest.mark.parametrize("link_pair", ["pty"], indirect=True)
def test_frames_sent_while_the_port_is_down_are_dropped_and_counted(link_pair):
    link_pair.rx.hang_up()
    link_pair.rx.send(_gyro(0))
    assert link_pair.rx.stats.tx_dropped == 1

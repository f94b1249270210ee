"""Uplink frames on byte streams: plain and authenticated telecommands through one deframer, and bad input."""

from __future__ import annotations

import random
import struct

from fsw.apps.ground_link import LAYOUTS
from telemetry import sdls
from telemetry.codec import tc_codec
from telemetry.framing import ASM, Deframer, crc16_ccitt_false, frame

KEY = bytes(range(32))
NOOP = tc_codec("NOOP").pack(1)
WRAPPED = sdls.wrap(NOOP, 7, 1, KEY)


def test_plain_and_wrapped_frames_are_told_apart():
    res = Deframer(layouts=LAYOUTS).feed(frame(NOOP) + frame(WRAPPED) + frame(NOOP))
    assert res.packets == [NOOP, WRAPPED, NOOP]
    assert res.layouts == [0, 1, 0]


def test_wrapped_frame_golden_bytes():
    crc = crc16_ccitt_false(WRAPPED)
    assert frame(WRAPPED) == ASM + WRAPPED + bytes([crc >> 8, crc & 0xFF])


def test_wrapped_frames_survive_any_chunking():
    stream = b"".join(frame(sdls.wrap(NOOP, 7, n, KEY)) for n in range(1, 30))
    d = Deframer(layouts=LAYOUTS)
    got = []
    for i in range(0, len(stream), 7):
        got += d.feed(stream[i:i + 7]).packets
    assert got == [sdls.wrap(NOOP, 7, n, KEY) for n in range(1, 30)]


def test_garbage_truncated_frames_and_absurd_lengths_are_skipped_and_what_follows_is_kept():
    rng = random.Random(3)
    absurd = ASM + struct.pack(">HHH", 0x1980, 0xC000, 0xFFFF) + bytes(40)          # length 65542
    absurd_wrapped = ASM + bytes(6) + struct.pack(">HHH", 0x1980, 0xC000, 0xFFF0) + bytes(40)
    truncated = frame(WRAPPED)[:-9]
    bad_crc = bytearray(frame(WRAPPED))
    bad_crc[-1] ^= 0xFF
    stream = rng.randbytes(500) + absurd + truncated + absurd_wrapped + bytes(bad_crc) + frame(WRAPPED)
    d = Deframer(layouts=LAYOUTS)
    res = d.feed(stream)
    assert res.packets == [WRAPPED]
    assert d.stats.crc_errors >= 1 and d.stats.bad_lengths >= 2 and d.stats.bytes_skipped > 500


def test_false_sync_search_runs_once_for_a_run_of_truncated_frames(monkeypatch):
    """Truncated long frames whose spans pass the end of the data: one search finds the valid frame for all."""
    long = sdls.wrap(tc_codec("TIME_TAG").pack(1, exec_time_s=1.0, packet_len=8, packet=(0,) * 64), 7, 1, KEY)
    stream = frame(long)[:20] * 5 + frame(WRAPPED)  # the last three markers claim bytes beyond the data
    d = Deframer(layouts=LAYOUTS)
    calls = []
    search = d._complete_frame_after
    monkeypatch.setattr(d, "_complete_frame_after", lambda i, n: calls.append(i) or search(i, n))
    assert d.feed(stream).packets == [WRAPPED]
    assert len(calls) == 1 and d.stats.false_syncs == 3 and d.stats.crc_errors == 2

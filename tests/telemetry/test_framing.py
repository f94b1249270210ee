"""Framing and the stream deframer: any chunking, resynchronisation, counters, never raising."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.codec import tc_codec, tm_codec
from telemetry.framing import ASM, Deframer, FeedResult, crc16_ccitt_false, frame

PACKETS = [tm_codec("DEV_GYRO").pack(i, i * 10_000_000, (0.0, 0.0, 0.0, 0.1 * i, -0.2, 0.3, 1)) for i in range(20)]
FRAMES = [frame(p) for p in PACKETS]
STREAM = b"".join(FRAMES)
FRAME_LEN = len(FRAMES[0])


def _feed_all(deframer: Deframer, chunks) -> FeedResult:
    total = FeedResult()
    for chunk in [*chunks, None]:
        res = deframer.flush() if chunk is None else deframer.feed(chunk)
        total.packets += res.packets
        total.skipped += res.skipped
        total.reasons += res.reasons
        total.offsets += res.offsets
        total.consumed += res.consumed
    return total


def test_crc_check_value_of_123456789():
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_frame_golden_bytes():
    packet = tc_codec("NOOP").pack(0)
    crc = crc16_ccitt_false(packet)
    assert frame(packet) == bytes([
        0x1A, 0xCF, 0xFC, 0x1D,  # attached sync marker
        *packet,                 # the space packet, unchanged
        crc >> 8, crc & 0xFF,    # CRC-16/CCITT-FALSE of the packet, big-endian
    ])


def test_whole_stream_in_one_chunk_gives_every_packet():
    assert Deframer().feed(STREAM).packets == PACKETS


def test_one_byte_chunks_give_every_packet():
    assert _feed_all(Deframer(), [STREAM[i:i + 1] for i in range(len(STREAM))]).packets == PACKETS


def test_offsets_are_absolute_across_chunks():
    res = _feed_all(Deframer(), [STREAM[:50], STREAM[50:]])
    assert res.offsets == [i * FRAME_LEN for i in range(len(PACKETS))]


def test_garbage_before_a_frame_is_reported_as_skipped_range():
    res = _feed_all(Deframer(), [b"\x00\x11\x22" * 5 + STREAM])
    assert (res.packets, res.skipped, res.reasons) == (PACKETS, [(0, 15)], ["no_sync"])


def test_bad_crc_frame_is_dropped_and_next_frame_kept():
    bad = bytearray(FRAMES[1])
    bad[10] ^= 0xFF
    d = Deframer()
    res = _feed_all(d, [FRAMES[0] + bytes(bad) + FRAMES[2]])
    assert res.packets == [PACKETS[0], PACKETS[2]]
    assert res.skipped == [(FRAME_LEN, 2 * FRAME_LEN)] and res.reasons == ["bad_crc"]
    assert (d.stats.crc_errors, d.stats.resyncs) == (1, 1)


def test_false_sync_marker_inside_garbage_does_not_hide_the_next_frame():
    # a marker followed by a plausible DEV_GYRO header, then the real frame starts inside its "data"
    fake = ASM + PACKETS[0][:6] + b"\x00" * 5
    res = _feed_all(Deframer(), [fake + STREAM])
    assert res.packets == PACKETS and res.skipped == [(0, len(fake))]


def test_sync_marker_bytes_inside_a_payload_are_not_a_frame():
    packet = tm_codec("BENCH_TICK").pack(0, 0, (0x1ACFFC1D,))
    assert Deframer().feed(frame(packet) + FRAMES[0]).packets == [packet, PACKETS[0]]


def test_impossible_length_for_a_known_apid_counts_bad_length():
    wrong = bytearray(FRAMES[0])
    wrong[9] += 1  # DEV_GYRO with one byte more than the dictionary says
    d = Deframer()
    res = _feed_all(d, [bytes(wrong) + FRAMES[1]])
    assert res.packets == [PACKETS[1]] and d.stats.bad_lengths == 1


def test_length_over_the_maximum_is_not_waited_for():
    huge = ASM + bytes([0x07, 0xFF, 0xC0, 0x00, 0xFF, 0xFF])  # unknown APID, 65542-byte packet
    d = Deframer()
    assert d.feed(huge + FRAMES[0]).packets == [PACKETS[0]]


def test_truncated_frame_followed_by_valid_frame_loses_nothing_after_it():
    res = _feed_all(Deframer(), [FRAMES[0][:-7] + FRAMES[1] + FRAMES[2]])
    assert res.packets == [PACKETS[1], PACKETS[2]]


def test_false_marker_claiming_a_long_frame_does_not_hold_back_a_complete_frame():
    # unknown APID announcing the largest packet the deframer allows: its end has not arrived yet
    d = Deframer()
    fake = ASM + bytes([0x07, 0xFE, 0xC0, 0x00]) + (d.max_packet - 7).to_bytes(2, "big")
    res = d.feed(fake + FRAMES[0])
    assert res.packets == [PACKETS[0]] and d.stats.false_syncs == 1


def test_truncated_tail_is_reported_on_flush():
    d = Deframer()
    d.feed(FRAMES[0] + FRAMES[1][:10])
    res = d.flush()
    assert (res.skipped, res.reasons) == ([(FRAME_LEN, FRAME_LEN + 10)], ["truncated"])


def test_unknown_apid_frame_is_delivered_and_counted():
    packet = bytes([0x0F, 0xFE, 0xC0, 0x00, 0x00, 0x03, 1, 2, 3, 4])  # APID 0x7FE, 10 bytes
    d = Deframer()
    assert d.feed(frame(packet)).packets == [packet] and d.stats.unknown_apids == 1


def test_consumed_plus_pending_accounts_for_every_byte():
    d = Deframer()
    fed = consumed = 0
    for chunk in (STREAM[:33], b"junk", STREAM[33:101]):
        consumed += d.feed(chunk).consumed
        fed += len(chunk)
    assert consumed + d.pending == fed


def test_skipped_bytes_counter_matches_reported_ranges():
    d = Deframer()
    res = _feed_all(d, [b"xx" + FRAMES[0] + b"yyy" + FRAMES[1] + b"z"])
    assert d.stats.bytes_skipped == sum(e - s for s, e in res.skipped) == 6


def test_frames_ok_counter():
    d = Deframer()
    d.feed(STREAM)
    assert d.stats.frames_ok == len(PACKETS)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, len(STREAM)), max_size=30), st.lists(st.binary(max_size=40), max_size=20))
def test_any_chunking_with_garbage_between_frames_keeps_every_frame(cuts, garbage):
    # garbage never contains a full valid frame, so exactly the real packets must come out
    pieces = [FRAMES[i] + (garbage[i] if i < len(garbage) else b"") for i in range(len(FRAMES))]
    stream = b"".join(pieces)
    bounds = sorted({0, len(stream), *[c % (len(stream) + 1) for c in cuts]})
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert _feed_all(Deframer(), chunks).packets == PACKETS


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 64))
def test_random_bytes_never_raise_and_ranges_stay_inside_the_stream(data, chunk):
    res = _feed_all(Deframer(), [data[i:i + chunk] for i in range(0, len(data), chunk)])
    assert all(0 <= s < e <= len(data) for s, e in res.skipped)


@pytest.mark.parametrize("seed", range(3))
def test_corrupted_stream_keeps_every_untouched_frame(seed):
    rng = random.Random(seed)
    frames = [bytearray(f) for f in FRAMES]
    hit = set(rng.sample(range(len(frames)), 5))
    for i in hit:
        frames[i][rng.randrange(len(frames[i]))] ^= 1 << rng.randrange(8)
    stream = b"".join(bytes(f) for f in frames)
    kept = Deframer().feed(stream).packets
    assert [PACKETS[i] for i in range(len(PACKETS)) if i not in hit] == kept

"""One header implementation: every fast path agrees with the construct declaration on random headers.

telemetry/headers.py declares the primary header once (PRIMARY_FIELDS); the construct BitStruct, the
struct codecs' header words, the routers' peeks, the deframer's plausibility check and the numba bulk
decoder are all made from it. These properties build random headers with construct and read them back
through each fast path (and the reverse).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry import kernels
from telemetry.codec import read_primary_header
from telemetry.dictionary import TELEMETRY
from telemetry.framing import frame
from telemetry.headers import (
    PRIMARY_HEADER_SIZE,
    PrimaryHeader,
    header_plausible,
    peek_apid,
    peek_function_code,
    peek_length,
    peek_seq_count,
    primary_words,
    tm_size,
)

headers = st.fixed_dictionaries({
    "type": st.integers(0, 1), "apid": st.integers(0, 0x7FF), "seq_count": st.integers(0, 0x3FFF),
    "data_length": st.integers(0, 0xFFFF),
})


def _build(h) -> bytes:
    return PrimaryHeader.build({"version": 0, "sec_hdr_flag": 1, "seq_flags": 3, **h})


@settings(max_examples=300, deadline=None)
@given(headers)
def test_the_struct_codec_reads_what_construct_builds(h):
    got = read_primary_header(_build(h))
    assert (got.version, got.packet_type, got.sec_hdr_flag, got.apid, got.seq_flags, got.seq_count,
            got.data_length) == (0, h["type"], 1, h["apid"], 3, h["seq_count"], h["data_length"])


@settings(max_examples=300, deadline=None)
@given(headers, st.integers(0, 0x7F))
def test_the_peeks_read_what_construct_builds(h, fc):
    raw = _build(h) + bytes([fc, 0])
    assert peek_apid(raw) == h["apid"] and peek_seq_count(raw) == h["seq_count"]
    assert peek_length(raw) == h["data_length"] + 7 and peek_function_code(raw) == fc


@settings(max_examples=300, deadline=None)
@given(headers)
def test_the_header_words_are_what_construct_builds(h):
    words = primary_words(h["type"], h["apid"], h["seq_count"], h["data_length"] + 7)
    assert b"".join(w.to_bytes(2, "big") for w in words) == _build(h)
    assert header_plausible(words[0], words[1])


def test_a_header_of_another_version_or_segmentation_is_not_plausible():
    w0, w1, _ = primary_words(0, 0x102, 5, 34)
    assert not header_plausible(w0 | 1 << 13, w1) and not header_plausible(w0, w1 & 0x3FFF)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([p for p in TELEMETRY]), st.integers(0, 0x3FFF))
def test_the_bulk_decoder_finds_the_apid_and_length_construct_builds(pkt, seq):
    size = tm_size(pkt.name)
    header = _build({"type": 0, "apid": pkt.apid, "seq_count": seq, "data_length": size - 7})
    packet = header + bytes(size - PRIMARY_HEADER_SIZE)
    data = np.frombuffer(frame(packet) * 2, np.uint8)
    allowed = np.zeros((0x800, size + 1), np.bool_)
    allowed[pkt.apid, size] = True
    starts, damage = np.zeros(8, np.int64), np.zeros((8, 3), np.int64)
    n_target, n_damage, n_frames = kernels.scan_frames(data, allowed, pkt.apid, kernels.crc16_tables(), starts, damage)
    assert (n_target, n_damage, n_frames) == (2, 0, 2)
    assert list(starts[:2]) == [0, len(data) // 2]

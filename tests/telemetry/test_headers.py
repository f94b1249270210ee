"""Golden bytes of the headers and a few packets, annotated byte by byte (docs/reference.md "Packets")."""

from __future__ import annotations

import pytest
from construct import ConstError

from telemetry.codec import construct_pack_tc, construct_pack_tm, tc_codec, tm_codec
from telemetry.headers import (
    PrimaryHeader,
    TcSecondaryHeader,
    TmSecondaryHeader,
    cfs_checksum,
    checksum_valid,
    primary_header,
    tc_struct,
    tm_struct,
)

HK_STATUS_VALUES = (4, 3, 10, 2, 9, 1, 255, 20, 0, 0)
HK_STATUS_GOLDEN = bytes([
    0x09,        # version 000, type 0 (TM), sec-hdr flag 1, APID bits 10..8 = 001
    0x02,        # APID bits 7..0: APID 0x102 HK_STATUS
    0xC0,        # sequence flags 11 (unsegmented), count bits 13..8 = 0
    0x05,        # sequence count 5
    0x00, 0x1B,  # data length 27 = 34 bytes - 7
    0x00, 0x00, 0x00, 0x02,  # CUC seconds 2
    0x80, 0x00,  # CUC subseconds 0x8000 = 0.5 s
    0x04,        # mode 4 FINAL_APPROACH
    0x03,        # prev_mode 3 CLOSING
    0x00, 0x0A,  # cmd_accepted 10
    0x00, 0x02,  # cmd_rejected 2
    0x00, 0x09,  # cmd_completed 9
    0x01,        # tt_queue_depth 1
    0xFF,        # armed_fc 255: none
    0x00, 0x00, 0x00, 0x14,  # event_count 20
    0x00, 0x00, 0x00, 0x00,  # events_throttled 0
    0x00, 0x00, 0x00, 0x00,  # apps_failed 0
])

SET_MODE_GOLDEN = bytes([
    0x19,        # version 000, type 1 (TC), sec-hdr flag 1, APID bits 10..8 = 001
    0x80,        # APID bits 7..0: APID 0x180 commands
    0xC0,        # sequence flags 11, count bits 13..8 = 0
    0x01,        # sequence count 1
    0x00, 0x02,  # data length 2 = 9 bytes - 7
    0x02,        # reserved bit 0, function code 2 SET_MODE
    0xA4,        # checksum: 0xFF ^ 0x19 ^ 0x80 ^ 0xC0 ^ 0x01 ^ 0x00 ^ 0x02 ^ 0x02 ^ 0x00 ^ 0x03
    0x03,        # mode 3 CLOSING
])

NOOP_GOLDEN = bytes([
    0x19, 0x80,  # TC, sec-hdr flag set, APID 0x180
    0xC3, 0xFF,  # sequence flags 11, sequence count 0x3FF
    0x00, 0x01,  # data length 1 = 8 bytes - 7
    0x00,        # function code 0 NOOP
    0x5B,        # checksum: 0xFF ^ 0x19 ^ 0x80 ^ 0xC3 ^ 0xFF ^ 0x00 ^ 0x01 ^ 0x00
])


def test_primary_header_golden_bytes_for_telemetry():
    data = PrimaryHeader.build(dict(type=0, apid=0x102, seq_count=5, data_length=27))
    assert data == bytes([0x09, 0x02, 0xC0, 0x05, 0x00, 0x1B])


def test_primary_header_golden_bytes_for_command_at_top_of_ranges():
    data = PrimaryHeader.build(dict(type=1, apid=0x7FF, seq_count=0x3FFF, data_length=0xFFFF))
    assert data == bytes([
        0x1F,        # version 000, TC, sec-hdr flag 1, APID bits 10..8 = 111
        0xFF,        # APID bits 7..0
        0xFF, 0xFF,  # sequence flags 11, sequence count 0x3FFF
        0xFF, 0xFF,  # data length 65535
    ])


def test_primary_header_refuses_apid_wider_than_11_bits():
    with pytest.raises(Exception, match="apid"):
        PrimaryHeader.build(dict(type=0, apid=0x800, seq_count=0, data_length=0))


def test_primary_header_parse_refuses_nonzero_version():
    with pytest.raises(ConstError):
        PrimaryHeader.parse(bytes([0x29, 0x02, 0xC0, 0x05, 0x00, 0x1B]))


def test_primary_header_of_one_packet_fixes_its_apid():
    with pytest.raises(ConstError):
        primary_header(apid=0x102).parse(bytes([0x09, 0x03, 0xC0, 0x05, 0x00, 0x1B]))


def test_tm_secondary_header_golden_bytes():
    assert TmSecondaryHeader.build(dict(seconds=0x01020304, subseconds=0x8001)) == bytes([
        0x01, 0x02, 0x03, 0x04,  # CUC seconds, big-endian
        0x80, 0x01,              # CUC subseconds, big-endian
    ])


def test_tc_secondary_header_golden_bytes():
    assert TcSecondaryHeader.build(dict(fc=dict(function_code=0x7F), checksum=0xA5)) == bytes([
        0x7F,  # reserved bit 0, function code 127
        0xA5,  # checksum byte as given
    ])


def test_hk_status_golden_bytes_from_construct():
    assert construct_pack_tm("HK_STATUS", 5, 2_500_000_000, HK_STATUS_VALUES) == HK_STATUS_GOLDEN


def test_hk_status_golden_bytes_from_fast_codec():
    assert tm_codec("HK_STATUS").pack(5, 2_500_000_000, HK_STATUS_VALUES) == HK_STATUS_GOLDEN


def test_set_mode_golden_bytes_from_construct():
    assert construct_pack_tc("SET_MODE", 1, mode=3) == SET_MODE_GOLDEN


def test_set_mode_golden_bytes_from_fast_codec():
    assert tc_codec("SET_MODE").pack(1, mode=3) == SET_MODE_GOLDEN


def test_noop_golden_bytes_from_fast_codec():
    assert tc_codec("NOOP").pack(0x3FF) == NOOP_GOLDEN


def test_golden_command_checksum_verifies_as_cfs_does():
    assert checksum_valid(SET_MODE_GOLDEN)


def test_checksum_recomputed_with_its_own_byte_taken_as_zero():
    assert cfs_checksum(SET_MODE_GOLDEN) == SET_MODE_GOLDEN[7]


def test_construct_command_parse_refuses_bad_checksum():
    corrupted = SET_MODE_GOLDEN[:7] + bytes([0xA5]) + SET_MODE_GOLDEN[8:]
    with pytest.raises(Exception, match="checksum"):
        tc_struct("SET_MODE").parse(corrupted)


def test_construct_declaration_parses_golden_telemetry():
    c = tm_struct("HK_STATUS").parse(HK_STATUS_GOLDEN)
    assert (c.primary.apid, c.primary.seq_count, c.secondary.subseconds, c.payload.armed_fc) == (0x102, 5, 0x8000, 255)

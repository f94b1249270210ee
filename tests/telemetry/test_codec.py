"""Fast telemetry codec behaviour: records, header validation, errors, header helpers, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from telemetry.codec import (
    PacketError,
    decode_tm,
    packet_dtype,
    peek_apid,
    read_primary_header,
    tm_codec,
    tm_codec_by_apid,
)
from telemetry.dictionary import REJECT_REASONS, TELEMETRY, record_dtype

NAV_VALUES = (1.0, 2.0, 3.0, 0.1, 0.2, 0.3, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 1, 2, 100, 7, 0.5, -0.25, 0.0, 1)
T_NS = 12_000_000_000


def _nav_packet(seq=42):
    return tm_codec("NAV_STATE").pack(seq, T_NS, NAV_VALUES)


def test_codec_reports_name_apid_and_size():
    codec = tm_codec("NAV_STATE")
    assert (codec.name, codec.apid, codec.size) == ("NAV_STATE", 0x110, 107)


def test_codec_is_cached_per_packet():
    assert tm_codec("NAV_STATE") is tm_codec("NAV_STATE")


def test_unknown_packet_name_raises_key_error():
    with pytest.raises(KeyError, match="NOT_A_PACKET"):
        tm_codec("NOT_A_PACKET")


def test_unpack_into_writes_time_and_fields():
    record = np.zeros((), record_dtype("NAV_STATE"))
    tm_codec("NAV_STATE").unpack_into(_nav_packet(), record)
    assert record["t_ns"] == T_NS
    assert record["r_LVLH_m"].tolist() == [1.0, 2.0, 3.0]
    assert record["sigma_v_mps"].tolist() == [0.25, 0.25, 0.25]
    assert (record["valid"], record["sensor"], record["accepted"], record["rejected"]) == (1, 2, 100, 7)


def test_unpack_into_increments_record_seq():
    record = np.zeros((), record_dtype("NAV_STATE"))
    record["seq"] = 9
    tm_codec("NAV_STATE").unpack_into(_nav_packet(), record)
    assert record["seq"] == 10


def test_unpack_into_returns_packet_sequence_count():
    record = np.zeros((), record_dtype("NAV_STATE"))
    assert tm_codec("NAV_STATE").unpack_into(_nav_packet(seq=1234), record) == 1234


def test_unpack_into_two_records_keeps_them_apart():
    a, b = np.zeros((), record_dtype("NAV_STATE")), np.zeros((), record_dtype("NAV_STATE"))
    codec = tm_codec("NAV_STATE")
    codec.unpack_into(_nav_packet(), a)
    codec.unpack_into(codec.pack(0, 5, (0.0,) * 12 + (0, 0, 0, 0) + (0.0,) * 3 + (0,)), b)
    assert (a["accepted"], b["accepted"]) == (100, 0)


def test_unpack_into_refuses_a_record_element_it_could_not_write_back():
    records = np.zeros(2, record_dtype("NAV_STATE"))
    with pytest.raises(TypeError, match="0-d array"):
        tm_codec("NAV_STATE").unpack_into(_nav_packet(), records[0])


def test_unpack_into_refuses_record_of_another_packet():
    with pytest.raises(TypeError, match="NAV_STATE"):
        tm_codec("NAV_STATE").unpack_into(_nav_packet(), np.zeros((), record_dtype("ATT_STATE")))


def test_pack_record_refuses_record_of_another_size():
    with pytest.raises(TypeError, match="NAV_STATE"):
        tm_codec("NAV_STATE").pack_record(0, 0, np.zeros((), record_dtype("DEV_GYRO")))


@pytest.mark.parametrize("name", [p.name for p in TELEMETRY])
def test_pack_record_equals_pack_of_the_same_values(name):
    codec = tm_codec(name)
    record = np.zeros((), record_dtype(name))
    rng = np.random.default_rng(3)
    raw = record.reshape(1).view(np.uint8)
    raw[12:] = rng.integers(0, 128, raw.size - 12)  # ASCII-safe bytes: char fields stay valid
    packet = codec.pack_record(7, T_NS, record)
    roundtrip = np.zeros((), record_dtype(name))
    codec.unpack_into(packet, roundtrip)
    assert roundtrip.tobytes()[12:] == record.tobytes()[12:]


def test_char_field_decodes_without_nul_padding():
    packet = tm_codec("EVENT").pack(0, 0, (1, 2, 3, 0.0, 0.0, b"hello"))
    assert tm_codec("EVENT").unpack(packet)[2][-1] == b"hello"


def test_char_field_accepts_str():
    codec = tm_codec("EVENT")
    assert codec.pack(0, 0, (1, 2, 3, 0.0, 0.0, "hi")) == codec.pack(0, 0, (1, 2, 3, 0.0, 0.0, b"hi"))


def test_char_field_refuses_non_ascii():
    with pytest.raises(PacketError, match="text"):
        tm_codec("EVENT").pack(0, 0, (1, 2, 3, 0.0, 0.0, "température"))


def test_pack_refuses_sequence_count_above_14_bits():
    with pytest.raises(PacketError) as err:
        tm_codec("NAV_STATE").pack(16384, T_NS, NAV_VALUES)
    assert (err.value.field, err.value.reason) == ("seq_count", "ARG_OUT_OF_RANGE")


def test_pack_refuses_negative_time():
    with pytest.raises(PacketError, match="t_ns"):
        tm_codec("NAV_STATE").pack(0, -1, NAV_VALUES)


def test_pack_refuses_time_beyond_32_bit_seconds():
    with pytest.raises(PacketError, match="t_ns"):
        tm_codec("NAV_STATE").pack(0, 2**32 * 1_000_000_000, NAV_VALUES)


def test_pack_refuses_wrong_number_of_values():
    with pytest.raises(PacketError) as err:
        tm_codec("NAV_STATE").pack(0, 0, NAV_VALUES[:-1])
    assert (err.value.field, err.value.reason) == ("values", "MALFORMED")


def test_pack_accepts_numpy_scalars():
    values = (tuple(np.float64(v) for v in NAV_VALUES[:12]) + tuple(np.uint32(v) for v in NAV_VALUES[12:16])
              + tuple(np.float32(v) for v in NAV_VALUES[16:19]) + (np.uint8(NAV_VALUES[19]),))
    assert tm_codec("NAV_STATE").pack(42, T_NS, values) == _nav_packet()


def test_unpack_refuses_short_buffer_as_bad_length():
    with pytest.raises(PacketError) as err:
        tm_codec("NAV_STATE").unpack(_nav_packet()[:-1])
    assert (err.value.packet, err.value.field, err.value.reason) == ("NAV_STATE", "length", "BAD_LENGTH")


def test_unpack_refuses_packet_of_another_apid():
    other = tm_codec("ATT_STATE").pack(0, 0, (0.0,) * 16 + (0,))
    padded = other + b"\0"  # same length as NAV_STATE so only the header differs
    with pytest.raises(PacketError) as err:
        tm_codec("NAV_STATE").unpack(padded)
    assert err.value.field == "apid"


def test_unpack_refuses_wrong_sequence_flags():
    packet = bytearray(_nav_packet())
    packet[2] &= 0x3F
    with pytest.raises(PacketError) as err:
        tm_codec("NAV_STATE").unpack(bytes(packet))
    assert (err.value.field, err.value.reason) == ("seq_flags", "MALFORMED")


def test_unpack_refuses_wrong_length_field():
    packet = bytearray(_nav_packet())
    packet[5] += 1
    with pytest.raises(PacketError) as err:
        tm_codec("NAV_STATE").unpack(bytes(packet))
    assert err.value.reason == "BAD_LENGTH"


def test_packet_error_carries_reason_code_and_names_everything():
    err = PacketError("NAV_STATE", "valid", "ARG_OUT_OF_RANGE", "300")
    assert REJECT_REASONS[err.reason_code] == "ARG_OUT_OF_RANGE"
    assert all(s in str(err) for s in ("NAV_STATE", "valid", "ARG_OUT_OF_RANGE"))


def test_packet_error_refuses_reason_outside_the_dictionary():
    with pytest.raises(ValueError):
        PacketError("X", "y", "NOT_A_REASON")


def test_peek_apid_reads_11_bits():
    assert peek_apid(_nav_packet()) == 0x110


def test_peek_apid_of_one_byte_is_minus_one():
    assert peek_apid(b"\x09") == -1


def test_read_primary_header_gives_every_field():
    h = read_primary_header(_nav_packet(seq=3))
    assert h == (0, 0, 1, 0x110, 3, 3, 100) and h.total_length == 107


def test_decode_tm_dispatches_on_apid():
    assert decode_tm(_nav_packet()) == ("NAV_STATE", 42, T_NS, NAV_VALUES)


def test_codec_by_unknown_apid_is_unknown_apid_error():
    with pytest.raises(PacketError) as err:
        tm_codec_by_apid(0x7FF)
    assert err.value.reason == "UNKNOWN_APID"


@pytest.mark.parametrize("name", [p.name for p in TELEMETRY if all(f.type != "char" for f in p.fields)])
def test_packet_dtype_decodes_what_the_codec_encodes(name):
    codec = tm_codec(name)
    values = tuple(range(1, codec.n_values + 1))
    rec = np.frombuffer(codec.pack(3, T_NS, values), packet_dtype(name))[0]
    flat = []
    for f in codec.fields:
        flat.extend(np.atleast_1d(rec[f.name]).tolist())
    assert tuple(flat) == values


def test_packet_dtype_decodes_event_text():
    packet = tm_codec("EVENT").pack(0, 0, (1, 2, 3, 0.5, 1.5, b"abc"))
    assert np.frombuffer(packet, packet_dtype("EVENT"))["text"][0] == b"abc"

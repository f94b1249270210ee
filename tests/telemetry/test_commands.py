"""Telecommand validation: every malformed command is a PacketError naming packet, field and reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.codec import PacketError, parse_command, tc_codec
from telemetry.dictionary import CMD_APID, REJECT_REASONS
from telemetry.headers import CHECKSUM_OFFSET, cfs_checksum


def _with_checksum(packet: bytes) -> bytes:
    """``packet`` with a correct cFS checksum, so only the other defect is tested."""
    data = bytearray(packet)
    data[CHECKSUM_OFFSET] = cfs_checksum(bytes(data))
    return bytes(data)


def _reject(packet) -> PacketError:
    with pytest.raises(PacketError) as err:
        parse_command(packet)
    return err.value


def test_parse_returns_command_seq_and_apid():
    parsed = parse_command(tc_codec("SELECT_HEATER").pack(77, zone=2, unit=1))
    assert (parsed.command.name, parsed.args, parsed.seq_count, parsed.apid) == (
        "SELECT_HEATER", {"zone": 2, "unit": 1}, 77, CMD_APID)


def test_time_tag_packet_argument_is_a_tuple_of_64_bytes():
    inner = tc_codec("NOOP").pack(1)
    args = parse_command(tc_codec("TIME_TAG").pack(0, exec_time_s=10.0, packet_len=len(inner),
                                                    packet=inner + bytes(64 - len(inner)))).args
    assert bytes(args["packet"][: args["packet_len"]]) == inner


def test_flipped_bit_is_bad_checksum():
    packet = bytearray(tc_codec("SET_MODE").pack(1, mode=3))
    packet[-1] ^= 0x01
    err = _reject(bytes(packet))
    assert (err.field, err.reason) == ("checksum", "BAD_CHECKSUM")


def test_truncated_command_is_bad_length():
    err = _reject(tc_codec("SET_HEATER_SETPOINT").pack(1, zone=1, setpoint_C=20.0)[:-1])
    assert (err.field, err.reason) == ("length", "BAD_LENGTH")


def test_fewer_than_eight_bytes_is_bad_length():
    assert _reject(b"\x19\x80\xc0").reason == "BAD_LENGTH"


def test_length_field_disagreeing_with_command_size_is_bad_length():
    # SET_MODE's function code on a NOOP-sized packet, consistent length field and checksum
    packet = _with_checksum(bytes([0x19, 0x80, 0xC0, 0x00, 0x00, 0x01, 0x02, 0x00]))
    err = _reject(packet)
    assert (err.packet, err.field, err.reason) == ("SET_MODE", "length", "BAD_LENGTH")


def test_unknown_function_code_is_rejected_as_such():
    packet = _with_checksum(bytes([0x19, 0x80, 0xC0, 0x00, 0x00, 0x01, 0x7E, 0x00]))
    err = _reject(packet)
    assert (err.field, err.reason) == ("function_code", "UNKNOWN_FUNCTION")


def test_command_to_an_apid_without_commands_is_unknown_apid():
    packet = _with_checksum(bytes([0x19, 0x81, 0xC0, 0x00, 0x00, 0x01, 0x00, 0x00]))
    err = _reject(packet)
    assert (err.field, err.reason) == ("apid", "UNKNOWN_APID")


def test_argument_out_of_range_names_the_argument():
    packet = bytearray(tc_codec("SET_MODE").pack(0, mode=3))
    packet[8] = 10  # modes are 0..9
    err = _reject(_with_checksum(bytes(packet)))
    assert (err.packet, err.field, err.reason) == ("SET_MODE", "mode", "ARG_OUT_OF_RANGE")


def test_float_argument_nan_is_out_of_range():
    packet = bytearray(tc_codec("SET_HEATER_SETPOINT").pack(0, zone=0, setpoint_C=20.0))
    packet[9:13] = b"\x7f\xc0\x00\x00"  # f32 NaN
    err = _reject(_with_checksum(bytes(packet)))
    assert (err.field, err.reason) == ("setpoint_C", "ARG_OUT_OF_RANGE")


def test_reserved_bit_set_is_malformed():
    packet = bytearray(tc_codec("NOOP").pack(0))
    packet[6] |= 0x80
    err = _reject(_with_checksum(bytes(packet)))
    assert (err.field, err.reason) == ("reserved", "MALFORMED")


def test_telemetry_packet_is_not_a_command():
    err = _reject(_with_checksum(bytes([0x09, 0x80, 0xC0, 0x00, 0x00, 0x01, 0x00, 0x00])))
    assert (err.field, err.reason) == ("type", "MALFORMED")


def test_non_bytes_input_is_malformed():
    assert _reject(None).reason == "MALFORMED"


def test_pack_refuses_unknown_argument():
    with pytest.raises(PacketError) as err:
        tc_codec("SET_MODE").pack(0, mode=1, speed=2)
    assert (err.value.field, err.value.reason) == ("speed", "MALFORMED")


def test_pack_refuses_missing_argument():
    with pytest.raises(PacketError) as err:
        tc_codec("SET_MODE").pack(0)
    assert (err.value.field, err.value.reason) == ("mode", "MALFORMED")


def test_pack_refuses_array_of_wrong_length():
    with pytest.raises(PacketError) as err:
        tc_codec("TIME_TAG").pack(0, exec_time_s=1.0, packet_len=8, packet=bytes(63))
    assert err.value.field == "packet"


def test_pack_refuses_float_for_integer_argument():
    with pytest.raises(PacketError, match="zone"):
        tc_codec("SELECT_HEATER").pack(0, zone=1.0, unit=0)


def test_unknown_command_name_is_key_error():
    with pytest.raises(KeyError, match="FLY"):
        tc_codec("FLY")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=96))
def test_random_bytes_are_rejected_with_a_known_reason_or_parsed(data):
    try:
        parsed = parse_command(data)
    except PacketError as err:
        assert err.reason in REJECT_REASONS.values()
    else:
        assert parsed.command.apid == parsed.apid


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=80))
def test_random_bytes_behind_a_valid_header_never_crash(body):
    # length field and checksum made consistent so the deeper checks are reached
    packet = bytearray(bytes([0x19, 0x80, 0xC0, 0x00]) + (len(body) + 6 - 7 + 2).to_bytes(2, "big") + body)
    try:
        parsed = parse_command(_with_checksum(bytes(packet)))
    except PacketError as err:
        assert err.reason in REJECT_REASONS.values()
    else:
        assert parsed.apid == CMD_APID

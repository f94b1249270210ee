"""The generated fast codecs agree with the construct declarations, byte for byte (property tests)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tlm_strategies import command_args, flat_values, out_of_range_int, seq_counts, times_ns

from telemetry.codec import (
    PacketError,
    construct_pack_tc,
    construct_pack_tm,
    construct_unpack_tm,
    parse_command,
    tc_codec,
    tm_codec,
)
from telemetry.dictionary import COMMANDS, TELEMETRY

TM_NAMES = [p.name for p in TELEMETRY]
CMD_NAMES = [c.name for c in COMMANDS]
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _int_fields(fields):
    return [f for f in fields if f.type in ("u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64")]


@pytest.mark.parametrize("name", TM_NAMES)
@PROPERTY
@given(data=st.data())
def test_fast_pack_equals_construct_build(name, data):
    fields = tm_codec(name).fields
    seq, t_ns, values = data.draw(seq_counts), data.draw(times_ns), data.draw(flat_values(fields, allow_nan=True))
    assert tm_codec(name).pack(seq, t_ns, values) == construct_pack_tm(name, seq, t_ns, values)


@pytest.mark.parametrize("name", TM_NAMES)
@PROPERTY
@given(data=st.data())
def test_fast_unpack_equals_construct_parse(name, data):
    codec = tm_codec(name)
    packet = codec.pack(data.draw(seq_counts), data.draw(times_ns), data.draw(flat_values(codec.fields)))
    assert codec.unpack(packet) == construct_unpack_tm(name, packet)


@pytest.mark.parametrize("name", TM_NAMES)
@PROPERTY
@given(data=st.data())
def test_fast_codec_round_trips_values(name, data):
    codec = tm_codec(name)
    seq, values = data.draw(seq_counts), data.draw(flat_values(codec.fields))
    t_ns = data.draw(st.integers(0, 2**32 - 1)) * 1_000_000_000  # whole seconds survive CUC exactly
    assert codec.unpack(codec.pack(seq, t_ns, values)) == (seq, t_ns, values)


@pytest.mark.parametrize("name", [n for n in TM_NAMES if _int_fields(tm_codec(n).fields)])
@PROPERTY
@given(data=st.data())
def test_both_paths_refuse_out_of_range_integer_naming_the_field(name, data):
    codec = tm_codec(name)
    values = list(data.draw(flat_values(codec.fields)))
    field = data.draw(st.sampled_from(_int_fields(codec.fields)))
    index = _flat_index(codec.fields, field)
    values[index] = data.draw(out_of_range_int(field.type))
    with pytest.raises(PacketError) as fast:
        codec.pack(0, 0, values)
    with pytest.raises(PacketError) as slow:
        construct_pack_tm(name, 0, 0, values)
    assert (fast.value.field, fast.value.reason) == (slow.value.field, slow.value.reason) == (
        field.name, "ARG_OUT_OF_RANGE")


def test_both_paths_refuse_300_in_a_u8():
    values = [300] + [0] * (tm_codec("HK_STATUS").n_values - 1)  # mode is the first field, u8
    with pytest.raises(PacketError, match="mode"):
        tm_codec("HK_STATUS").pack(0, 0, values)
    with pytest.raises(PacketError, match="mode"):
        construct_pack_tm("HK_STATUS", 0, 0, values)


def test_both_paths_refuse_float_too_large_for_f32():
    values = [0.0, 0.0, 1e39, 0]  # PROPULSION: three f32 then pulses u32
    with pytest.raises(PacketError, match="att_on_time_s"):
        tm_codec("PROPULSION").pack(0, 0, values)
    with pytest.raises(PacketError, match="att_on_time_s"):
        construct_pack_tm("PROPULSION", 0, 0, values)


def test_nan_float_encodes_identically_on_both_paths():
    values = [math.nan, 1.0, 2.0, 3]
    assert tm_codec("PROPULSION").pack(1, 2, values) == construct_pack_tm("PROPULSION", 1, 2, values)


def test_both_paths_refuse_char_field_longer_than_declared():
    values = [1, b"x" * 17, 0, 0.0, 0.0, 0.0, 0.0, 0, 0]
    with pytest.raises(PacketError, match="task_name"):
        tm_codec("EXEC_TASK_TIMING").pack(0, 0, values)
    with pytest.raises(PacketError, match="task_name"):
        construct_pack_tm("EXEC_TASK_TIMING", 0, 0, values)


@pytest.mark.parametrize("name", CMD_NAMES)
@PROPERTY
@given(data=st.data())
def test_fast_command_pack_equals_construct_build(name, data):
    seq, args = data.draw(seq_counts), data.draw(command_args(tc_codec(name).args))
    assert tc_codec(name).pack(seq, **args) == construct_pack_tc(name, seq, **args)


@pytest.mark.parametrize("name", CMD_NAMES)
@PROPERTY
@given(data=st.data())
def test_parse_command_returns_the_packed_arguments(name, data):
    seq, args = data.draw(seq_counts), data.draw(command_args(tc_codec(name).args))
    parsed = parse_command(tc_codec(name).pack(seq, **args))
    expected = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    expected = {k: (struct.unpack(">f", struct.pack(">f", v))[0] if _is_f32(name, k) else v)
                for k, v in expected.items()}
    assert (parsed.command.name, parsed.seq_count, parsed.args) == (name, seq, expected)


@pytest.mark.parametrize("name", [c.name for c in COMMANDS if any(a.lo is not None for a in c.args)])
@PROPERTY
@given(data=st.data())
def test_both_paths_refuse_command_argument_above_its_range(name, data):
    codec = tc_codec(name)
    args = data.draw(command_args(codec.args))
    field = data.draw(st.sampled_from([a for a in codec.args if a.hi is not None and a.count == 1]))
    args[field.name] = type(args[field.name])(field.hi + 1)
    with pytest.raises(PacketError) as fast:
        codec.pack(0, **args)
    with pytest.raises(PacketError) as slow:
        construct_pack_tc(name, 0, **args)
    assert (fast.value.field, fast.value.reason) == (slow.value.field, slow.value.reason) == (
        field.name, "ARG_OUT_OF_RANGE")


def _is_f32(command, arg):
    return next(a for a in tc_codec(command).args if a.name == arg).type == "f32"


def _flat_index(fields, target):
    i = 0
    for f in fields:
        if f is target:
            return i
        i += 1 if f.type == "char" else f.count
    raise KeyError(target.name)
